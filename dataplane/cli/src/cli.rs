//! Command-line definitions.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use oblivious_store::Store;

#[derive(Parser)]
#[command(name = "oblivious", version, about = "Oblivious: a self-hostable AI platform (relay, chat, RAG)")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run every role in one process with embedded defaults (SQLite, in-process caches, the
    /// built-in mock upstream, manifests from a watched directory).
    Dev(DevArgs),
    /// Run the relay role (`/v1/...`), configured by the operator's config stream.
    Relay(crate::roles::RoleArgs),
    /// Run the gateway role: product API, chat API and web UI, configured by the config stream.
    Gateway(crate::roles::RoleArgs),
    /// Run the chat API alone, configured by the config stream.
    Chat(crate::roles::RoleArgs),
    /// Run the knowledge bases' ingestion worker, configured by the config stream.
    Rag(crate::roles::RoleArgs),
    /// Run every data-plane role in one process, configured by the config stream.
    All(crate::roles::RoleArgs),
    /// Create, list and revoke API keys.
    Keys(KeysArgs),
    /// Apply database migrations.
    Migrate(StoreArgs),
    /// Run the fake OpenAI / Anthropic / Gemini upstream for tests and benchmarks.
    #[command(after_help = oblivious_mock_upstream::HELP)]
    MockUpstream(MockArgs),
    /// Benchmarks that print numbers.
    Bench(BenchArgs),
}

impl Command {
    /// The service name traces are exported under unless `OTEL_SERVICE_NAME` says otherwise.
    pub fn service_name(&self) -> &'static str {
        match self {
            Command::Dev(_) | Command::All(_) => "oblivious",
            Command::Relay(_) => "oblivious-relay",
            Command::Gateway(_) => "oblivious-gateway",
            Command::Chat(_) => "oblivious-chat",
            Command::Rag(_) => "oblivious-rag",
            Command::MockUpstream(_) => "oblivious-mock-upstream",
            Command::Keys(_) | Command::Migrate(_) | Command::Bench(_) => "oblivious-cli",
        }
    }
}

/// Where the relational store lives.
#[derive(Args, Clone)]
pub struct StoreArgs {
    /// Data directory for the embedded SQLite store.
    #[arg(long, env = "OBLIVIOUS_DATA_DIR", default_value = ".oblivious", global = true)]
    pub data_dir: PathBuf,
    /// PostgreSQL URL; when set, used instead of the embedded store.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
}

impl StoreArgs {
    pub async fn connect(&self) -> anyhow::Result<Store> {
        let url = self.database_url.as_deref().filter(|u| !u.is_empty());
        Store::connect(url, &self.data_dir).await.context("cannot open the store")
    }
}

#[derive(Args)]
pub struct DevArgs {
    /// Directory of manifests (Channel, ModelPricing, Secret), watched for changes. Defaults to
    /// `crds/examples` when it exists, else the examples built into the binary.
    #[arg(long)]
    pub manifests: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Largest accepted request body, in bytes.
    #[arg(long, default_value_t = 32 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Redis URL; when set, quota holds and rate limits are shared through it instead of kept
    /// in this process.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Processes sharing the limits: while Redis is unreachable each enforces limit / replicas.
    #[arg(long, env = "OBLIVIOUS_REPLICAS", default_value_t = 1)]
    pub replicas: u64,
}

#[derive(Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once (only its hash is stored).
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated public model names the key may use (default: all).
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        /// Lifetime such as `30d`, `12h` or `90s`.
        #[arg(long)]
        expires: Option<String>,
        /// Make it an admin key.
        #[arg(long)]
        admin: bool,
        /// Let it name a canary lane itself with `x-oblivious-lane` (admin keys always may).
        #[arg(long)]
        lane_select: bool,
        /// Print one JSON object instead of the bare key.
        #[arg(long)]
        json: bool,
    },
    /// List keys (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id or prefix.
    Revoke { id_or_prefix: String },
}

#[derive(Args)]
pub struct MockArgs {
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: String,
    /// Do not keep received requests for `GET /_mock/requests` (for benchmarks).
    #[arg(long)]
    pub no_record: bool,
}

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Relay overhead: direct-to-mock vs through-relay latency, throughput, TTFT and RSS.
    Relay(crate::bench::RelayBenchArgs),
    /// Chat: message-page latency on a 1M-message PostgreSQL database, and send-to-first-event
    /// against the relay's own time to first token.
    Chat(crate::bench::ChatBenchArgs),
    /// Knowledge-base search: p50/p99 and recall@10 against exact search at 1M pgvector chunks,
    /// unfiltered and filtered to 1% of the rows; the SQLite exact scan at 100k.
    Rag(crate::bench::RagBenchArgs),
    /// The floor `bench relay` starts when nginx is not installed: a bare hyper pass-through hop.
    #[command(hide = true)]
    PassThrough(crate::bench::PassThroughArgs),
}
