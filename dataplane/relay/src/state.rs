//! The relay's shared state: the active configuration (swapped atomically on every change,
//! while in-flight requests keep the snapshot they started with), health, stores and clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use oblivious_config::{Channel, Snapshot};
use oblivious_core::lane::rules::LaneTable;
use oblivious_core::shutdown::Lifecycle;
use oblivious_store::Store;

use oblivious_store::kv::SharedState;

use crate::auth::KeyAuthenticator;
use crate::billing::{Billing, BillingConfig};
use crate::health::HealthBook;
use crate::metrics::Metrics;
use crate::request_log::RequestLogSink;
use crate::routing::RoutingTable;

/// Settings of a relay process.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
    /// Where `builtin://mock-upstream` points in this process, if a mock runs here (`oblivious dev`).
    pub builtin_mock_base: Option<String>,
    /// `OBLIVIOUS_BOOTSTRAP_KEY`: a string accepted as an admin API key.
    pub bootstrap_key: Option<String>,
    /// `OBLIVIOUS_INTERNAL_TOKEN`: the token internal services (chat, RAG) present, with the
    /// user they act for in `x-oblivious-user-id`.
    pub internal_token: Option<String>,
    /// How long a looked-up API key is trusted before the store is asked again; bounds how long
    /// a revoked key keeps working.
    pub key_cache_ttl: Duration,
    /// Most upstream attempts for one request.
    pub max_attempts: usize,
    /// The canary lane this process is a version of (`--lane`); empty for the baseline. A lane
    /// process is ready only while its lane is in the configuration.
    pub lane: String,
    pub billing: BillingConfig,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            max_body_bytes: 32 * 1024 * 1024,
            builtin_mock_base: None,
            bootstrap_key: None,
            internal_token: None,
            key_cache_ttl: Duration::from_secs(5),
            max_attempts: 4,
            lane: String::new(),
            billing: BillingConfig::default(),
        }
    }
}

/// A snapshot and the tables derived from it; swapped as one.
#[derive(Debug, Default)]
pub struct ActiveConfig {
    pub snapshot: Snapshot,
    pub routes: RoutingTable,
    /// The lanes, ready for the edge to evaluate.
    pub lanes: Arc<LaneTable>,
}

impl ActiveConfig {
    pub fn new(snapshot: Snapshot) -> Self {
        let routes = RoutingTable::build(&snapshot);
        let lanes = Arc::new(LaneTable::new(&snapshot.lanes));
        ActiveConfig { snapshot, routes, lanes }
    }
}

/// Everything a request handler needs.
pub struct Relay {
    pub config: RelayConfig,
    active: ArcSwap<ActiveConfig>,
    /// False until the first snapshot is installed (`/readyz`).
    loaded: std::sync::atomic::AtomicBool,
    pub health: HealthBook,
    pub store: Store,
    pub keys: KeyAuthenticator,
    pub logs: RequestLogSink,
    pub billing: Billing,
    pub metrics: Metrics,
    /// The process's shutdown state (`/readyz` answers 503 while draining).
    pub lifecycle: Arc<Lifecycle>,
    clients: Mutex<HashMap<u64, reqwest::Client>>,
}

impl Relay {
    /// A relay with in-process quota and limits (`oblivious dev`, tests).
    pub fn new(config: RelayConfig, store: Store) -> Arc<Self> {
        Self::with_shared_state(config, store, SharedState::local())
    }

    /// A relay whose quota and limits live in `shared` (Redis in production). Starts the
    /// request-log writer and the settlement task on the current runtime.
    pub fn with_shared_state(config: RelayConfig, store: Store, shared: SharedState) -> Arc<Self> {
        let keys = KeyAuthenticator::new(
            store.clone(),
            config.bootstrap_key.clone(),
            config.internal_token.clone(),
            config.key_cache_ttl,
        );
        let logs = RequestLogSink::spawn(store.clone());
        let billing = Billing::new(shared, store.clone(), config.billing.clone());
        Arc::new(Relay {
            config,
            active: ArcSwap::from_pointee(ActiveConfig::default()),
            loaded: std::sync::atomic::AtomicBool::new(false),
            health: HealthBook::default(),
            store,
            keys,
            logs,
            billing,
            metrics: Metrics::default(),
            lifecycle: Lifecycle::new(),
            clients: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration for a new request. Holding the returned `Arc` keeps that snapshot alive
    /// for the request's whole life, even across a swap.
    pub fn active(&self) -> Arc<ActiveConfig> {
        self.active.load_full()
    }

    /// Installs a new snapshot atomically.
    pub fn install(&self, snapshot: Snapshot) {
        let version = snapshot.version.clone();
        self.active.store(Arc::new(ActiveConfig::new(snapshot)));
        self.loaded.store(true, std::sync::atomic::Ordering::Release);
        self.metrics.set_config_version(&version);
        tracing::info!(version, "configuration installed");
    }

    /// The lanes of the active configuration, for the edge and outbound hops.
    pub fn lanes(&self) -> Arc<LaneTable> {
        self.active.load().lanes.clone()
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether this process's lane (if it is a lane version) is live in the configuration: a
    /// lane pod whose lane was disabled, deleted or has expired takes no traffic.
    pub fn lane_is_live(&self) -> bool {
        self.config.lane.is_empty() || self.lanes().live(&self.config.lane, oblivious_store::now_ms()).is_some()
    }

    /// The last step of a shutdown, after every request has ended: charges into the ledger
    /// (retried until `deadline` if the database is down), then the request log. In this order,
    /// so a record never describes a charge the ledger lacks.
    pub async fn flush_for_shutdown(&self, deadline: tokio::time::Instant) {
        let unwritten = self.billing.settler.drain(deadline).await;
        self.logs.flush().await;
        tracing::info!(unwritten_charges = unwritten, "billing and request log flushed");
    }

    /// The HTTP client for a channel. Clients differ only by connect timeout (a client-level
    /// setting in reqwest), so channels with equal timeouts share one connection pool.
    pub fn client_for(&self, channel: &Channel) -> reqwest::Client {
        let connect_ms = channel.timeouts.connect_ms;
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(connect_ms)
            .or_insert_with(|| {
                reqwest::Client::builder()
                    .connect_timeout(Duration::from_millis(connect_ms))
                    .pool_idle_timeout(Duration::from_secs(90))
                    .pool_max_idle_per_host(256)
                    .tcp_nodelay(true)
                    .build()
                    .unwrap_or_default()
            })
            .clone()
    }

    /// The real base URL of a channel: `builtin://mock-upstream[/path]` resolves to this
    /// process's mock upstream. None when the channel needs a built-in mock that is not running.
    pub fn resolve_base_url(&self, channel: &Channel) -> Option<String> {
        match channel.base_url.strip_prefix("builtin://mock-upstream") {
            None => Some(channel.base_url.clone()),
            Some(path) => self.config.builtin_mock_base.as_ref().map(|base| format!("{base}{path}")),
        }
    }
}
