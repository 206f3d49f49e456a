//! `oblivious bench …`: benchmarks are commands that print numbers, never timed tests.

mod load;
mod processes;
mod relay;

pub use relay::RelayBenchArgs;

use crate::cli::{BenchArgs, BenchCommand};

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Relay(args) => relay::run(args).await,
    }
}
