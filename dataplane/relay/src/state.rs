//! The relay's state: the process's shared run-time state (configuration, keys, health; see
//! `oblivious_runtime`) plus what only the relay has: billing admission and settlement, the
//! request log, metrics and the upstream HTTP clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oblivious_config::Channel;
use oblivious_runtime::Runtime;

use crate::billing::{Billing, BillingConfig};
use crate::dialect::vertex::auth::TokenCache;
use crate::metrics::Metrics;
use crate::request_log::RequestLogSink;

/// Settings of a relay process.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
    /// Where `builtin://mock-upstream` points in this process, if a mock runs here (`oblivious dev`).
    pub builtin_mock_base: Option<String>,
    /// Most upstream attempts for one request.
    pub max_attempts: usize,
    pub billing: BillingConfig,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            max_body_bytes: 32 * 1024 * 1024,
            builtin_mock_base: None,
            max_attempts: 4,
            billing: BillingConfig::default(),
        }
    }
}

/// Everything a request handler needs.
pub struct Relay {
    pub config: RelayConfig,
    /// Configuration, keys, quota state, health and lifecycle, shared with the gateway and chat
    /// served by the same process.
    pub runtime: Arc<Runtime>,
    pub logs: RequestLogSink,
    pub billing: Billing,
    pub metrics: Metrics,
    /// Vertex AI access tokens, per channel and service account.
    pub vertex_tokens: TokenCache,
    clients: Mutex<HashMap<u64, reqwest::Client>>,
}

impl Relay {
    /// A relay on `runtime`'s state. Starts the request-log writer and the settlement task on
    /// the current runtime.
    pub fn new(config: RelayConfig, runtime: Arc<Runtime>) -> Arc<Self> {
        let logs = RequestLogSink::spawn(runtime.store.clone());
        let metrics = Metrics::default();
        let fallbacks = metrics.quota_store_fallbacks.clone();
        let billing = Billing::new(
            runtime.shared.clone(),
            runtime.store.clone(),
            config.billing.clone(),
            fallbacks,
            runtime.webhooks.clone(),
        );
        Arc::new(Relay {
            config,
            runtime,
            logs,
            billing,
            metrics,
            vertex_tokens: TokenCache::default(),
            clients: Mutex::new(HashMap::new()),
        })
    }

    /// Installs a new snapshot atomically (into the shared runtime) and reports its version.
    pub fn install(&self, snapshot: oblivious_config::Snapshot) {
        self.metrics.set_config_version(&snapshot.version);
        self.runtime.install(snapshot);
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
