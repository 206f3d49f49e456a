//! `oblivious relay | gateway | chat | all`: the data-plane roles in a cluster (DESIGN §2, §4).
//!
//! Each is assembled like `oblivious dev` (store, shared limits, the built-in mock for
//! `builtin://mock-upstream` channels) except for where configuration comes from: a subscriber
//! to `--config-server` that installs each validated snapshot before ACKing it, keeps the
//! last-known-good copy in `--state-dir`, and boots from that copy when the server is down.
//! `/readyz` answers 503 until a snapshot is installed.
//!
//! - `relay`: the B-side API (`/v1/...`).
//! - `gateway`: the product API (accounts, keys, admin), the chat API and the web UI.
//! - `chat`: the chat API alone, for a separately scaled chat tier.
//! - `rag`: the knowledge bases' ingestion worker (parse, chunk, embed), scaled on pending jobs;
//!   it serves only probes and metrics.
//! - `all`: everything in one process.
//!
//! Chat calls the relay at `--relay-url` (its own address in `all`) with
//! `OBLIVIOUS_INTERNAL_TOKEN`, which must be the same on every pod.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use oblivious_config::health::HealthTotals;
use oblivious_config::subscriber::{HealthSource, NodeIdentity, Subscriber, SubscriberConfig, SubscriberHandle};
use oblivious_core::edge::Edge;
use oblivious_relay::Relay;

use crate::cli::StoreArgs;
use crate::drain;
use crate::process::{self, Services};

/// A data-plane role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Relay,
    Gateway,
    Chat,
    Rag,
    All,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Relay => "relay",
            Role::Gateway => "gateway",
            Role::Chat => "chat",
            Role::Rag => "rag",
            Role::All => "all",
        }
    }

    fn services(self) -> Services {
        match self {
            Role::Relay => Services { relay: true, gateway: false, chat: false, ingest: false },
            Role::Gateway => Services { relay: false, gateway: true, chat: true, ingest: false },
            Role::Chat => Services { relay: false, gateway: false, chat: true, ingest: false },
            Role::Rag => Services { relay: false, gateway: false, chat: false, ingest: true },
            Role::All => Services::ALL,
        }
    }
}

#[derive(Args)]
pub struct RoleArgs {
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
    /// The relay chat calls (gateway and chat roles), e.g. `http://oblivious-relay:8080`.
    #[arg(long, env = "OBLIVIOUS_RELAY_URL")]
    pub relay_url: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Largest accepted request body, in bytes.
    #[arg(long, default_value_t = 32 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Redis URL; when set, quota holds, rate limits and chat streams are shared through it.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Processes sharing the limits: while Redis is unreachable each enforces limit / replicas.
    #[arg(long, env = "OBLIVIOUS_REPLICAS", default_value_t = 1)]
    pub replicas: u64,
    /// Seconds between the health reports sent to the operator (channel and lane health in status).
    #[arg(long, env = "OBLIVIOUS_HEALTH_REPORT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub health_report_secs: u64,
    /// Run the built-in mock upstream so `builtin://mock-upstream` channels work (tests, demos).
    #[arg(long, env = "OBLIVIOUS_BUILTIN_MOCK", default_value_t = true, action = clap::ArgAction::Set)]
    pub builtin_mock: bool,
}

pub async fn run(role: Role, args: RoleArgs) -> anyhow::Result<()> {
    let services = role.services();
    let drain = drain::DrainSettings::from_env()?;
    let store = args.store.connect().await?;
    store.migrate().await.context("migrations failed")?;
    let internal_token = process::internal_token(services)?;

    let mock = if args.builtin_mock && services.relay { Some(process::start_builtin_mock().await?) } else { None };
    let settings = process::RelaySettings {
        max_body_bytes: args.max_body_bytes,
        replicas: args.replicas,
        redis_url: args.redis_url.as_deref(),
        mock: mock.as_ref(),
        internal_token: internal_token.clone(),
        lane: args.lane.clone(),
    };
    let relay = process::relay(store.clone(), settings).await?;
    let pod = args.pod_name.clone().unwrap_or_else(|| default_pod_name(role));

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let gateway_config = process::gateway_config(&args.store.data_dir)?;
    // The product API serves files; chat and the ingestion worker read them.
    let files = match services.reads_files() {
        true => Some(process::files(&args.store.data_dir, &relay.runtime, &gateway_config)?),
        false => None,
    };
    let gateway = process::gateway(relay.runtime.clone(), gateway_config, services, files);
    // Webhook events are queued by every role and delivered where the gateway runs.
    if services.gateway {
        process::webhook_worker(&gateway)?;
    }
    let edge = process::edge(&relay, &gateway, role.name(), &pod, &args.tenant);
    let _subscriber = subscribe(role, &args, &pod, relay.clone(), health_source(&relay, &edge))?;
    // Chat and RAG call the relay like any client.
    let relay_url = match (&args.relay_url, services.relay) {
        (Some(url), _) => Some(url.clone()),
        (None, true) => Some(format!("http://{addr}")),
        (None, false) => None,
    };
    let needs_relay = || anyhow::anyhow!("the {} role needs --relay-url (OBLIVIOUS_RELAY_URL)", role.name());
    let rag = match services.reads_files() {
        true => {
            let relay_url = relay_url.as_deref().ok_or_else(needs_relay)?;
            let worker = services.ingest.then(|| relay.metrics.rag_jobs_pending.clone());
            process::rag(&gateway, relay_url, &internal_token, &edge, worker)
        }
        false => None,
    };
    let chat = if services.chat {
        let relay_url = relay_url.clone().ok_or_else(needs_relay)?;
        let bus = process::chat_bus(args.redis_url.as_deref()).await?;
        // A cluster pod starts no programs: stdio tool servers are for `oblivious dev`.
        let chat_config = process::chat_config(relay_url, internal_token, false)?;
        let chat = process::chat(&gateway, bus, chat_config, &edge, rag.clone());
        chat.spawn_reaper(false);
        Some(chat)
    } else {
        None
    };
    eprintln!("oblivious {} listening on http://{addr} (ready once a configuration is held)", role.name());

    drain::serve(listener, process::router(services, relay.clone(), &gateway, chat.clone(), rag, edge), &relay, drain)
        .await;
    if let Some(chat) = chat {
        chat.close_tools().await;
    }
    if let Some(mock) = mock {
        mock.shutdown();
    }
    Ok(())
}

/// Subscribes to the config stream; each valid snapshot is installed into the relay state
/// (which the gateway and chat read too) before it is ACKed.
fn subscribe(
    role: Role,
    args: &RoleArgs,
    pod: &str,
    relay: Arc<Relay>,
    health: HealthSource,
) -> anyhow::Result<SubscriberHandle> {
    let state_dir = args.state_dir.clone().unwrap_or_else(|| args.store.data_dir.join("config"));
    let node = NodeIdentity {
        pod: pod.to_string(),
        role: role.name().into(),
        tenant: args.tenant.clone(),
        lane: args.lane.clone(),
    };
    let mut subscription = SubscriberConfig::new(args.config_server.clone(), node.clone());
    subscription.state_dir = Some(state_dir.clone());
    subscription.report_every = std::time::Duration::from_secs(args.health_report_secs);
    let validating = relay.clone();
    let checks_upstreams = role.services().relay;
    let subscriber = Subscriber::new(subscription)
        .validator(move |snapshot| {
            // A channel this process cannot reach is a configuration error worth a NACK.
            let unreachable = snapshot.channels.iter().find(|channel| validating.resolve_base_url(channel).is_none());
            match unreachable.filter(|_| checks_upstreams) {
                Some(channel) => Err(format!(
                    "channel {} points at {}, but this relay runs no built-in mock upstream",
                    channel.name, channel.base_url
                )),
                None => Ok(()),
            }
        })
        .on_apply(move |snapshot| relay.install(Arc::unwrap_or_clone(snapshot)))
        .health(health)
        .spawn()
        .context("cannot start the config subscriber")?;
    eprintln!(
        "config: stream from {} as pod {:?} of tenant {:?} (last-known-good in {})",
        args.config_server,
        node.pod,
        node.tenant,
        state_dir.display()
    );
    Ok(subscriber)
}

/// What the pod reports to the operator: the requests its edge served and, in a relay, each
/// channel's attempts (both counted since the start; the reporter windows them) and the tenant's
/// budget spend as last read.
fn health_source(relay: &Arc<Relay>, edge: &Edge) -> HealthSource {
    let (relay, served) = (relay.clone(), edge.served());
    Arc::new(move || HealthTotals {
        served: served.totals(),
        channels: relay.runtime.health.totals(std::time::Instant::now()),
        budget: relay.billing.budget_seen.latest(),
    })
}

/// `<host>-<pid>`, lowercased into a DNS label (the operator refuses other names). In a cluster
/// set `OBLIVIOUS_POD_NAME` from the downward API instead.
fn default_pod_name(role: Role) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| role.name().into());
    format!("{host}-{}", std::process::id())
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' })
        .collect()
}
