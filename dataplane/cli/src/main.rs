//! `oblivious`: the data-plane binary. `main` only parses arguments and dispatches.

mod bench;
mod cli;
mod dev;
mod drain;
mod keys;
mod manifests;
mod process;
mod roles;
mod web;

use clap::Parser;

/// mimalloc: the relay's hot path allocates many small, short-lived buffers across threads, where
/// glibc's allocator showed up at ~12 % of the relay's CPU in `oblivious bench relay` profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Inside the runtime: the trace exporter's channel runs on it.
    let telemetry = {
        let _entered = runtime.enter();
        oblivious_core::telemetry::init("info,sqlx=warn", cli.command.service_name())
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Dev(args) => dev::run(args).await,
            Command::Relay(args) => roles::run(roles::Role::Relay, args).await,
            Command::Gateway(args) => roles::run(roles::Role::Gateway, args).await,
            Command::Chat(args) => roles::run(roles::Role::Chat, args).await,
            Command::Rag(args) => roles::run(roles::Role::Rag, args).await,
            Command::All(args) => roles::run(roles::Role::All, args).await,
            Command::Keys(args) => keys::run(args).await,
            Command::Migrate(args) => migrate(args).await,
            Command::MockUpstream(args) => mock_upstream(args).await,
            Command::Bench(args) => bench::run(args).await,
        }
    });
    // While the runtime still runs: the last spans are exported over it.
    telemetry.shutdown();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn migrate(args: cli::StoreArgs) -> anyhow::Result<()> {
    let store = args.connect().await?;
    store.migrate().await?;
    eprintln!("migrations applied ({:?} store)", store.kind());
    Ok(())
}

async fn mock_upstream(args: cli::MockArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    eprintln!("mock upstream listening on http://{}", listener.local_addr()?);
    let config = oblivious_mock_upstream::MockConfig { record_requests: !args.no_record };
    oblivious_mock_upstream::serve(listener, config, oblivious_core::shutdown::signal()).await?;
    Ok(())
}
