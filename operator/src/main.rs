//! `oblivious-operator`: `main` only parses arguments and dispatches.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "oblivious-operator", version, about = "Reconciles oblivious.dev resources and streams config to the data plane")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a manifests directory and print the snapshot (keys redacted), or every problem.
    Compile {
        #[arg(long)]
        manifests: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    oblivious_core::telemetry::init_logging("info");
    match cli.command {
        Command::Compile { manifests } => oblivious_operator::compile_cli::run(&manifests),
    }
}
