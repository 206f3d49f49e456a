//! `oblivious relay`: the relay role, configured by the operator's config stream (DESIGN §2, §4).
//!
//! The process is assembled like `oblivious dev` (store, shared limits, the built-in mock for
//! `builtin://mock-upstream` channels) except for where configuration comes from: a subscriber
//! to `--config-server` that installs each validated snapshot into the relay before ACKing it,
//! keeps the last-known-good copy in `--state-dir`, and boots from that copy when the server is
//! down. `/readyz` answers 503 until a snapshot is installed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use oblivious_config::subscriber::{NodeIdentity, Subscriber, SubscriberConfig};
use oblivious_relay::billing::BillingConfig;
use oblivious_relay::{Relay, RelayConfig};
use oblivious_store::kv::SharedState;

use crate::cli::StoreArgs;

/// How long in-flight requests may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Args)]
pub struct RelayArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The operator's config stream (or `oblivious-operator serve-local`), e.g. `http://127.0.0.1:8081`.
    #[arg(long, env = "OBLIVIOUS_CONFIG_SERVER")]
    pub config_server: String,
    /// Where the last-known-good snapshot is kept (default: `<data-dir>/config`). It holds
    /// provider keys and is written readable by the owner only.
    #[arg(long, env = "OBLIVIOUS_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// The tenant whose configuration this pod runs.
    #[arg(long, env = "OBLIVIOUS_TENANT", default_value = "default")]
    pub tenant: String,
    /// This pod's name as reported to the operator (default: host name and process id).
    #[arg(long, env = "OBLIVIOUS_POD_NAME")]
    pub pod_name: Option<String>,
    /// Canary lane tag of this pod; empty for the baseline.
    #[arg(long, env = "OBLIVIOUS_LANE", default_value = "")]
    pub lane: String,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Largest accepted request body, in bytes.
    #[arg(long, default_value_t = 32 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Redis URL; when set, quota holds and rate limits are shared through it.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Processes sharing the limits: while Redis is unreachable each enforces limit / replicas.
    #[arg(long, env = "OBLIVIOUS_REPLICAS", default_value_t = 1)]
    pub replicas: u64,
    /// Run the built-in mock upstream so `builtin://mock-upstream` channels work (tests, demos).
    #[arg(long, env = "OBLIVIOUS_BUILTIN_MOCK", default_value_t = true, action = clap::ArgAction::Set)]
    pub builtin_mock: bool,
}

pub async fn run(args: RelayArgs) -> anyhow::Result<()> {
    let store = args.store.connect().await?;
    store.migrate().await.context("migrations failed")?;
    let bootstrap_key = std::env::var("OBLIVIOUS_BOOTSTRAP_KEY").ok().filter(|k| !k.is_empty());

    let mock = if args.builtin_mock {
        let config = oblivious_mock_upstream::MockConfig { record_requests: false };
        Some(oblivious_mock_upstream::spawn(config).await.context("cannot start the built-in mock upstream")?)
    } else {
        None
    };
    let config = RelayConfig {
        max_body_bytes: args.max_body_bytes,
        builtin_mock_base: mock.as_ref().map(|mock| mock.base_url()),
        bootstrap_key,
        billing: BillingConfig { replicas: args.replicas, ..BillingConfig::default() },
        ..RelayConfig::default()
    };
    let shared = shared_state(args.redis_url.as_deref()).await?;
    let relay = Relay::with_shared_state(config, store, shared);

    let state_dir = args.state_dir.clone().unwrap_or_else(|| args.store.data_dir.join("config"));
    let node = NodeIdentity {
        pod: args.pod_name.clone().unwrap_or_else(default_pod_name),
        role: "relay".into(),
        tenant: args.tenant.clone(),
        lane: args.lane.clone(),
    };
    let mut subscription = SubscriberConfig::new(args.config_server.clone(), node.clone());
    subscription.state_dir = Some(state_dir.clone());
    let validating = relay.clone();
    let installing = relay.clone();
    let _subscriber = Subscriber::new(subscription)
        .validator(move |snapshot| {
            // A channel this process cannot reach is a configuration error worth a NACK.
            match snapshot.channels.iter().find(|channel| validating.resolve_base_url(channel).is_none()) {
                Some(channel) => Err(format!(
                    "channel {} points at {}, but this relay runs no built-in mock upstream",
                    channel.name, channel.base_url
                )),
                None => Ok(()),
            }
        })
        .on_apply(move |snapshot| installing.install(Arc::unwrap_or_clone(snapshot)))
        .spawn()
        .context("cannot start the config subscriber")?;
    eprintln!(
        "config: stream from {} as pod {:?} of tenant {:?} (last-known-good in {})",
        args.config_server,
        node.pod,
        node.tenant,
        state_dir.display()
    );

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!("oblivious relay listening on http://{} (ready once a configuration is held)", listener.local_addr()?);

    let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        oblivious_core::shutdown::signal().await;
        let _ = drained_tx.send(());
    };
    let server = axum::serve(oblivious_core::serve::without_nagle(listener), oblivious_relay::app(relay.clone()))
        .with_graceful_shutdown(shutdown);
    let server = tokio::spawn(async move { server.await });
    let _ = drained_rx.await;
    if tokio::time::timeout(DRAIN_TIMEOUT, server).await.is_err() {
        eprintln!("in-flight requests did not finish within {DRAIN_TIMEOUT:?}; stopping anyway");
    }
    relay.logs.flush().await;
    if let Some(mock) = mock {
        mock.shutdown();
    }
    Ok(())
}

/// Quota holds and rate limits: in this process, or in Redis when `REDIS_URL` is set.
async fn shared_state(redis_url: Option<&str>) -> anyhow::Result<SharedState> {
    match redis_url.filter(|u| !u.is_empty()) {
        None => Ok(SharedState::local()),
        Some(url) => SharedState::redis(url, oblivious_store::kv::PRODUCTION_PREFIX)
            .await
            .context("cannot connect to Redis (REDIS_URL)"),
    }
}

/// `<host>-<pid>`, lowercased into a DNS label (the operator refuses other names). In a cluster
/// set `OBLIVIOUS_POD_NAME` from the downward API instead.
fn default_pod_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "relay".into());
    let name: String = format!("{host}-{}", std::process::id())
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' })
        .collect();
    name
}
