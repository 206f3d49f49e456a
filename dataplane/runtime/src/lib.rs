//! What every data-plane role holds at run time, whichever of relay, gateway and chat a process
//! serves: the active configuration, API-key authentication, quota and limit state, channel
//! health, and money (usage, cost, decimal amounts). Kube-free, and free of any one role's HTTP
//! surface: the relay, the gateway and chat all build on it, and none of them on each other's
//! state.

pub mod active;
pub mod auth;
pub mod health;
pub mod money;
pub mod routing;
pub mod usage;
pub mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use oblivious_config::Snapshot;
use oblivious_core::lane::rules::LaneTable;
use oblivious_core::shutdown::Lifecycle;
use oblivious_store::Store;
use oblivious_store::kv::SharedState;

pub use active::ActiveConfig;
pub use auth::{KeyAuthenticator, Principal};
pub use usage::Usage;
pub use webhooks::{EventType, WebhookSettings, Webhooks};

/// Settings of the shared run-time state.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// `OBLIVIOUS_BOOTSTRAP_KEY`: a string accepted as an admin API key.
    pub bootstrap_key: Option<String>,
    /// `OBLIVIOUS_INTERNAL_TOKEN`: the token internal services (chat, RAG) present, with the
    /// user they act for in `x-oblivious-user-id`.
    pub internal_token: Option<String>,
    /// How long a looked-up API key is trusted before the store is asked again; bounds how long
    /// a revoked key keeps working.
    pub key_cache_ttl: Duration,
    /// The canary lane this process is a version of (`--lane`); empty for the baseline. A lane
    /// process is ready only while its lane is in the configuration.
    pub lane: String,
    /// Webhook events: the low-balance threshold, private targets, attempts.
    pub webhooks: WebhookSettings,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            bootstrap_key: None,
            internal_token: None,
            key_cache_ttl: Duration::from_secs(5),
            lane: String::new(),
            webhooks: WebhookSettings::default(),
        }
    }
}

/// The state one process shares between the roles it serves.
pub struct Runtime {
    pub settings: RuntimeConfig,
    /// Swapped whole on every change; every config source (`oblivious dev`'s manifests,
    /// `serve-local`, the cluster's config stream) installs here.
    active: Arc<ArcSwap<ActiveConfig>>,
    /// False until the first snapshot is installed (`/readyz`).
    loaded: AtomicBool,
    pub store: Store,
    pub keys: KeyAuthenticator,
    /// Quota holds and rate limits: in this process, or in Redis shared by replicas.
    pub shared: SharedState,
    /// Passive health of channels, as this process's relay sees them.
    pub health: health::HealthBook,
    /// The process's shutdown state (`/readyz` answers 503 while draining).
    pub lifecycle: Arc<Lifecycle>,
    /// Queues webhook events (every role emits; the gateway roles deliver).
    pub webhooks: Webhooks,
}

impl Runtime {
    pub fn new(settings: RuntimeConfig, store: Store, shared: SharedState) -> Arc<Self> {
        let keys = KeyAuthenticator::new(
            store.clone(),
            settings.bootstrap_key.clone(),
            settings.internal_token.clone(),
            settings.key_cache_ttl,
        );
        let active: Arc<ArcSwap<ActiveConfig>> = Arc::default();
        let webhooks = Webhooks::new(store.clone(), settings.webhooks.clone(), active.clone());
        Arc::new(Runtime {
            settings,
            active,
            loaded: AtomicBool::new(false),
            store,
            keys,
            shared,
            health: health::HealthBook::default(),
            lifecycle: Lifecycle::new(),
            webhooks,
        })
    }

    /// State kept in this process only (`oblivious dev`, tests).
    pub fn local(settings: RuntimeConfig, store: Store) -> Arc<Self> {
        Self::new(settings, store, SharedState::local())
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
        self.loaded.store(true, Ordering::Release);
        tracing::info!(version, "configuration installed");
    }

    /// Whether a configuration has been installed yet.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// The lanes of the active configuration, for the edge and outbound hops.
    pub fn lanes(&self) -> Arc<LaneTable> {
        self.active.load().lanes.clone()
    }

    /// Whether this process's lane (if it is a lane version) is live in the configuration: a
    /// lane pod whose lane was disabled, deleted or has expired takes no traffic.
    pub fn lane_is_live(&self) -> bool {
        self.settings.lane.is_empty() || self.lanes().live(&self.settings.lane, oblivious_store::now_ms()).is_some()
    }
}
