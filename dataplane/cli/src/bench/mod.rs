//! `oblivious bench …`: benchmarks are commands that print numbers, never timed tests.

mod chat;
mod deployment;
mod edge;
mod floor;
mod instructions;
mod load;
mod processes;
mod rag;
mod rag_ingest;
mod relay;
mod span_sink;

pub use chat::ChatBenchArgs;
pub use floor::PassThroughArgs;
pub use rag::RagBenchArgs;
pub use relay::RelayBenchArgs;

use crate::cli::{BenchArgs, BenchCommand};

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Relay(args) => relay::run(args).await,
        BenchCommand::Chat(args) => chat::run(args).await,
        BenchCommand::Rag(args) => rag::run(args).await,
        BenchCommand::PassThrough(args) => floor::serve_pass_through(args).await,
    }
}
