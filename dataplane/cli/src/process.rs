//! What every `oblivious` process is assembled from, whichever roles it serves: the shared
//! quota/limit state, the chat bus, the internal service token, the product API's settings, the
//! edge layer and the router of the served roles (`drain` serves it).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use oblivious_chat::Chat;
use oblivious_chat::bus::StreamBus;
use oblivious_core::edge::{Edge, EdgeConfig, Hop, Hops};
use oblivious_files::{FileLimits, Files, ObjectStorage, UrlSigner};
use oblivious_gateway::{Gateway, GatewayConfig, Registration, jwt_secret};
use oblivious_rag::{Embedder, IngestSettings, Ingestor, Rag};
use oblivious_relay::Relay;
use oblivious_runtime::money::parse_decimal_micros;
use oblivious_runtime::{Runtime, RuntimeConfig, WebhookSettings};
use oblivious_store::kv::{PRODUCTION_PREFIX, SharedState};
use oblivious_webhooks::{DeliverySettings, DeliveryWorker};

/// The services a process answers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Services {
    /// `/v1/...`, `/v1beta/...`: the B-side relay.
    pub relay: bool,
    /// `/api/v1/auth|user|keys|admin|openapi.json` and the web UI.
    pub gateway: bool,
    /// `/api/v1/chat/...`, `/api/v1/agents`, `/api/v1/models`.
    pub chat: bool,
    /// The knowledge bases' ingestion worker (the `rag` role), which serves no API.
    pub ingest: bool,
}

impl Services {
    pub const ALL: Services = Services { relay: true, gateway: true, chat: true, ingest: true };

    /// Whether the process reads users' files: to serve them, to answer from them, to index them.
    pub fn reads_files(self) -> bool {
        self.gateway || self.chat || self.ingest
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `OBLIVIOUS_BOOTSTRAP_KEY`: a string every role accepts as an admin API key.
pub fn bootstrap_key() -> Option<String> {
    env("OBLIVIOUS_BOOTSTRAP_KEY")
}

/// The mock upstream that `builtin://mock-upstream` channels point at, in this process.
pub async fn start_builtin_mock() -> anyhow::Result<oblivious_mock_upstream::MockServer> {
    let config = oblivious_mock_upstream::MockConfig { record_requests: false };
    oblivious_mock_upstream::spawn(config).await.context("cannot start the built-in mock upstream")
}

/// What every process's relay and run-time state are built from.
pub struct RelaySettings<'a> {
    pub max_body_bytes: usize,
    pub replicas: u64,
    pub redis_url: Option<&'a str>,
    pub mock: Option<&'a oblivious_mock_upstream::MockServer>,
    pub internal_token: String,
    /// `--lane`: the canary lane this process is a version of; empty for the baseline.
    pub lane: String,
}

/// The run-time state of a process (configuration, keys, quota state; the gateway and chat
/// read it) and its relay on that state. The relay is built whether or not the process serves
/// `/v1`: its probes, metrics and shutdown flush serve every role.
pub async fn relay(store: oblivious_store::Store, settings: RelaySettings<'_>) -> anyhow::Result<Arc<Relay>> {
    let runtime_config = RuntimeConfig {
        bootstrap_key: bootstrap_key(),
        internal_token: Some(settings.internal_token),
        lane: settings.lane,
        webhooks: webhook_settings()?,
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(runtime_config, store, shared_state(settings.redis_url).await?);
    let config = oblivious_relay::RelayConfig {
        max_body_bytes: settings.max_body_bytes,
        builtin_mock_base: settings.mock.map(|mock| mock.base_url()),
        billing: oblivious_relay::billing::BillingConfig {
            replicas: settings.replicas,
            ..oblivious_relay::billing::BillingConfig::default()
        },
        ..oblivious_relay::RelayConfig::default()
    };
    Ok(Relay::new(config, runtime))
}

/// Quota holds and rate limits: in this process, or in Redis when `REDIS_URL` is set (so several
/// processes share them, as replicas in a cluster do).
pub async fn shared_state(redis_url: Option<&str>) -> anyhow::Result<SharedState> {
    match redis_url.filter(|u| !u.is_empty()) {
        None => Ok(SharedState::local()),
        Some(url) => SharedState::redis(url, &redis_prefix()).await.context("cannot connect to Redis (REDIS_URL)"),
    }
}

/// What every Redis key of this process starts with: `OBLIVIOUS_REDIS_PREFIX` (a Tenant's fleet
/// gets `obl:t:<tenant>:` on the platform's Redis), else `obl:`.
fn redis_prefix() -> String {
    env("OBLIVIOUS_REDIS_PREFIX").unwrap_or_else(|| PRODUCTION_PREFIX.to_string())
}

/// Chat streams: in this process, or in Redis streams when `REDIS_URL` is set (so a reader on any
/// pod resumes any reply, and a stop reaches the job wherever it runs).
pub async fn chat_bus(redis_url: Option<&str>) -> anyhow::Result<StreamBus> {
    match redis_url.filter(|u| !u.is_empty()) {
        None => Ok(StreamBus::local()),
        Some(url) => StreamBus::redis(url, &redis_prefix())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("cannot connect to Redis (REDIS_URL) for chat streams"),
    }
}

/// `OBLIVIOUS_INTERNAL_TOKEN`, which the relay accepts from chat (and RAG) acting for a user.
/// Required when they run in different processes; a process serving both may make one up.
pub fn internal_token(services: Services) -> anyhow::Result<String> {
    if let Some(token) = env("OBLIVIOUS_INTERNAL_TOKEN") {
        return Ok(token);
    }
    if services.relay {
        let random: [u8; 24] = rand::random();
        return Ok(format!("int-{}", hex::encode(random)));
    }
    anyhow::bail!("OBLIVIOUS_INTERNAL_TOKEN must be set (the same value as on the relay pods)")
}

/// The product API's settings from the environment: `OBLIVIOUS_JWT_SECRET` (else a secret kept in
/// the data dir), `OBLIVIOUS_INITIAL_BALANCE`, `OBLIVIOUS_REGISTRATION=open|closed`,
/// `OBLIVIOUS_FIRST_USER_ADMIN=true|false`.
pub fn gateway_config(data_dir: &Path) -> anyhow::Result<GatewayConfig> {
    let secret =
        jwt_secret(env("OBLIVIOUS_JWT_SECRET").as_deref(), data_dir).context("cannot set up the JWT secret")?;
    let mut config = GatewayConfig::with_secret(secret);
    if let Some(balance) = env("OBLIVIOUS_INITIAL_BALANCE") {
        config.initial_balance_micros =
            parse_decimal_micros(&balance).map_err(|reason| anyhow::anyhow!("OBLIVIOUS_INITIAL_BALANCE: {reason}"))?;
    }
    config.registration = match env("OBLIVIOUS_REGISTRATION").as_deref() {
        None | Some("open") => Registration::Open,
        Some("closed") => Registration::Closed,
        Some(other) => anyhow::bail!("OBLIVIOUS_REGISTRATION must be open or closed, not `{other}`"),
    };
    config.first_user_admin = !matches!(env("OBLIVIOUS_FIRST_USER_ADMIN").as_deref(), Some("false" | "0"));
    Ok(config)
}

/// Settings of the chat service. `OBLIVIOUS_TITLES=false` turns generated topic titles off
/// (they are billed to the user like any request); `OBLIVIOUS_CHAT_MAX_TOOL_STEPS` bounds the
/// rounds of tool calls in one reply; `OBLIVIOUS_USER_TOOL_SERVERS=true` lets users add their own
/// MCP servers (`OBLIVIOUS_USER_TOOL_PRIVATE_ADDRESSES=true`: even on loopback and private
/// addresses, for development). `stdio_tools`: whether this process may start stdio
/// `ToolServer`s (only the single-process `oblivious dev`).
pub fn chat_config(
    relay_url: String,
    internal_token: String,
    stdio_tools: bool,
) -> anyhow::Result<oblivious_chat::ChatConfig> {
    let generate_titles = !matches!(env("OBLIVIOUS_TITLES").as_deref(), Some("false" | "0"));
    let max_tool_steps = match env("OBLIVIOUS_CHAT_MAX_TOOL_STEPS") {
        None => oblivious_chat::ChatConfig::DEFAULT_MAX_TOOL_STEPS,
        Some(text) => match text.parse::<usize>() {
            Ok(steps @ 1..=64) => steps,
            _ => anyhow::bail!("OBLIVIOUS_CHAT_MAX_TOOL_STEPS must be a number from 1 to 64, not `{text}`"),
        },
    };
    let user_tool_servers = matches!(env("OBLIVIOUS_USER_TOOL_SERVERS").as_deref(), Some("true" | "1"));
    let user_tool_private_addresses =
        matches!(env("OBLIVIOUS_USER_TOOL_PRIVATE_ADDRESSES").as_deref(), Some("true" | "1"));
    Ok(oblivious_chat::ChatConfig {
        relay_url,
        internal_token,
        generate_titles,
        max_tool_steps,
        stdio_tools,
        user_tool_servers,
        user_tool_private_addresses,
    })
}

/// The gateway (with the chat routes in its OpenAPI document when chat is served beside it).
pub fn gateway(runtime: Arc<Runtime>, config: GatewayConfig, services: Services, files: Option<Files>) -> Arc<Gateway> {
    let mut gateway = Gateway::new(runtime, config);
    if services.chat {
        gateway.extra_routes = oblivious_chat::route_docs();
    }
    if files.is_some() {
        gateway.extra_routes.extend(oblivious_rag::route_docs());
    }
    gateway.files = files;
    Arc::new(gateway)
}

/// Uploaded files: stored where `OBLIVIOUS_OBJECT_STORE` says (`s3://bucket/prefix` with the
/// standard AWS variables, `file:///path`, else `{data_dir}/files`), at most
/// `OBLIVIOUS_MAX_FILE_BYTES` each (default 20 MiB) and `OBLIVIOUS_USER_STORAGE_BYTES` per user
/// (default 1 GiB); download URLs are signed with a key derived from the JWT secret.
pub fn files(data_dir: &Path, runtime: &Runtime, config: &GatewayConfig) -> anyhow::Result<Files> {
    let objects = ObjectStorage::from_url(env("OBLIVIOUS_OBJECT_STORE").as_deref(), data_dir)?;
    let mut limits = FileLimits::default();
    let bytes = |name: &str, default: u64| -> anyhow::Result<u64> {
        match env(name) {
            Some(value) => value.trim().parse().with_context(|| format!("{name} must be a number of bytes")),
            None => Ok(default),
        }
    };
    limits.max_file_bytes = bytes("OBLIVIOUS_MAX_FILE_BYTES", limits.max_file_bytes)?;
    limits.user_quota_bytes = bytes("OBLIVIOUS_USER_STORAGE_BYTES", limits.user_quota_bytes)?;
    tracing::info!(storage = objects.describe, "file storage");
    Ok(Files::new(objects, runtime.store.clone(), limits, UrlSigner::derived_from(&config.jwt_secret)))
}

/// The edge layer of a process and the hops it calls other services through (both route by
/// the active configuration's lanes). `role` and `instance` name this process in
/// `x-oblivious-route`, with the process's lane; `tenant` is on every request's span.
pub fn edge(relay: &Arc<Relay>, gateway: &Arc<Gateway>, role: &str, instance: &str, tenant: &str) -> Arc<Edge> {
    let runtime = relay.runtime.clone();
    let hops = Hops::new(Arc::new(move || runtime.lanes()), relay.runtime.settings.internal_token.clone());
    let lane = relay.runtime.settings.lane.clone();
    let hop = Hop { role: role.into(), lane, instance: instance.into(), tenant: tenant.into() };
    Edge::new(EdgeConfig {
        hop,
        hops,
        callers: gateway.clone(),
        in_flight: relay.metrics.in_flight.clone(),
        max_body_bytes: relay.config.max_body_bytes,
    })
}

/// The RAG service of a process: retrieval (for the knowledge-base API and chat's sources) and,
/// when `worker` holds the gauge to report pending jobs on, the ingestion worker. Its embeddings
/// go to the relay like chat's requests.
pub fn rag(
    gateway: &Arc<Gateway>,
    relay_url: &str,
    internal_token: &str,
    edge: &Edge,
    worker: Option<prometheus_client::metrics::gauge::Gauge>,
) -> Option<Arc<Rag>> {
    let files = gateway.files.clone()?;
    let embedder = Embedder::new(relay_url, internal_token, edge.hops.clone());
    let webhooks = gateway.runtime.webhooks.clone();
    let ingestor =
        Ingestor::with_webhooks(gateway.store().clone(), files, embedder.clone(), IngestSettings::default(), webhooks);
    if let Some(pending) = worker {
        ingestor.spawn_worker(gateway.runtime.lifecycle.clone(), pending);
    }
    Some(Rag::new(gateway.clone(), ingestor, embedder))
}

/// The chat service of a process: its relay calls go through the process's hops, its jobs are
/// tracked by the process's lifecycle.
pub fn chat(
    gateway: &Arc<Gateway>,
    bus: StreamBus,
    config: oblivious_chat::ChatConfig,
    edge: &Edge,
    rag: Option<Arc<Rag>>,
) -> Arc<Chat> {
    Chat::new(gateway.clone(), bus, config, edge.hops.clone(), gateway.runtime.lifecycle.clone(), rag)
}

/// The router of the served roles behind the edge layer. The relay's probes and metrics are
/// always served.
pub fn router(
    services: Services,
    relay: Arc<Relay>,
    gateway: &Arc<Gateway>,
    chat: Option<Arc<Chat>>,
    rag: Option<Arc<Rag>>,
    edge: Arc<Edge>,
) -> Router {
    let mut app =
        if services.relay { oblivious_relay::app(relay) } else { oblivious_relay::http::probes_router(relay) };
    if services.gateway {
        app = app.merge(oblivious_gateway::router(gateway.clone()));
    }
    if let Some(chat) = chat {
        app = app.merge(oblivious_chat::router(chat));
    }
    // The knowledge-base API is part of the product API; elsewhere RAG only serves chat.
    if let Some(rag) = rag.filter(|_| services.gateway) {
        app = app.merge(oblivious_rag::router(rag));
    }
    if services.gateway {
        app = app.fallback(crate::web::serve);
    }
    app.route_layer(axum::middleware::from_fn(oblivious_core::edge::record_route))
        .layer(axum::middleware::from_fn_with_state(edge, oblivious_core::edge::layer))
}

/// Webhook events, from the environment: `OBLIVIOUS_BALANCE_LOW` (decimal in the price list's
/// currency, default 1.00: `balance.low` fires when a charge takes a balance below it) and
/// `OBLIVIOUS_WEBHOOK_PRIVATE_ADDRESSES=true` (users' webhooks may target loopback and private
/// addresses; development only).
pub fn webhook_settings() -> anyhow::Result<WebhookSettings> {
    let mut settings = WebhookSettings::default();
    if let Some(threshold) = env("OBLIVIOUS_BALANCE_LOW") {
        settings.balance_low_micros =
            parse_decimal_micros(&threshold).map_err(|reason| anyhow::anyhow!("OBLIVIOUS_BALANCE_LOW: {reason}"))?;
    }
    settings.allow_private_targets =
        matches!(env("OBLIVIOUS_WEBHOOK_PRIVATE_ADDRESSES").as_deref(), Some("true" | "1"));
    Ok(settings)
}

/// Delivers the webhook events every role queues; runs in the processes that hold the gateway,
/// on the process's lifecycle (it stops when the process drains).
pub fn webhook_worker(gateway: &Arc<Gateway>) -> anyhow::Result<()> {
    let webhooks = gateway.runtime.webhooks.clone();
    let worker = DeliveryWorker::new(webhooks, DeliverySettings::default())
        .context("cannot build the webhook delivery client")?;
    worker.spawn(gateway.runtime.lifecycle.clone());
    Ok(())
}
