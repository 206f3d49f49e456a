//! `oblivious-operator`: `main` only parses arguments and dispatches.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "oblivious-operator",
    version,
    about = "Reconciles oblivious.dev resources and streams config to the data plane"
)]
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
    /// Run the operator in a cluster: controllers (Lease holder only) and the config stream.
    Run {
        /// Address of the config stream, /healthz, /readyz and /metrics.
        #[arg(long, default_value = "0.0.0.0:8081")]
        listen: String,
    },
    /// Serve the config stream from a watched manifests directory (tenant `default`), outside a cluster.
    ServeLocal {
        #[arg(long)]
        manifests: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: String,
    },
    /// Write the CRDs to crds/manifests/ and charts/oblivious-crds/templates/ (or print them).
    Crdgen {
        /// Repository root.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Print the CRDs as one YAML stream instead of writing files.
        #[arg(long)]
        stdout: bool,
    },
    /// Print compile time (100 / 1k / 10k channels) and config convergence for in-process subscribers.
    Bench {
        /// Subscribers in the convergence run.
        #[arg(long, default_value_t = 1_000)]
        subscribers: usize,
        /// Channels in the snapshot the subscribers receive.
        #[arg(long, default_value_t = 100)]
        channels: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    oblivious_core::telemetry::init_logging("info");
    match cli.command {
        Command::Compile { manifests } => oblivious_operator::compile_cli::run(&manifests),
        Command::Run { listen } => {
            block_on(oblivious_operator::cluster::run(oblivious_operator::cluster::RunOptions { listen }))
        }
        Command::ServeLocal { manifests, listen } => {
            block_on(oblivious_operator::distribution::local::run(manifests, listen))
        }
        Command::Crdgen { root, stdout } => match oblivious_operator::crdgen::run(&root, stdout) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
        Command::Bench { subscribers, channels } => {
            let options = oblivious_operator::distribution::bench::BenchOptions {
                subscribers,
                convergence_channels: channels,
                ..Default::default()
            };
            block_on(oblivious_operator::distribution::bench::run(options))
        }
    }
}

/// Runs an async subcommand on a multi-threaded runtime.
fn block_on(command: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(command));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
