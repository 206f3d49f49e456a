//! The data plane's side of the config stream (DESIGN §4): keeps one `ConfigDiscovery.Stream`
//! open to the operator, applies each validated snapshot, ACKs or NACKs it, and keeps the
//! last-known-good one — in memory when the stream drops, on disk for the next start.
//!
//! ```text
//! spawn ─▶ connect ─▶ hello(node, version) ─▶ ┌ response ─▶ check ─ ok ─▶ apply ─▶ persist ─▶ ACK
//!    ▲                                        └──────────────────── refused ─▶ keep ─▶ NACK(reason)
//!    └── jittered backoff ◀── stream ends / cannot connect (first failure: boot from disk)
//! ```
//!
//! A pod is ready ([`SubscriberHandle::is_ready`]) once it holds a valid snapshot, from either
//! source. See NOTES.md for the guarantees.

mod backoff;
mod holder;
mod report;
mod session;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Endpoint;

pub use backoff::Backoff;
pub use holder::{Active, ApplyHook, Source, Validator};
pub use report::HealthSource;
pub use session::MAX_MESSAGE_BYTES;

use crate::Snapshot;
use crate::last_known_good::LastKnownGood;
use crate::proto::Node;
use holder::Holder;

/// Who this pod is, as announced to the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeIdentity {
    /// Pod name (in a cluster, the downward API's `metadata.name`).
    pub pod: String,
    /// relay, gateway, chat or rag.
    pub role: String,
    /// The tenant whose configuration this pod runs.
    pub tenant: String,
    /// Canary lane tag; empty for the baseline.
    pub lane: String,
}

/// Where and how to subscribe.
#[derive(Debug, Clone)]
pub struct SubscriberConfig {
    /// The operator's config stream, e.g. `http://oblivious-operator:8081`.
    pub server: String,
    pub node: NodeIdentity,
    /// Where the last-known-good snapshot is kept; `None` keeps it in memory only.
    pub state_dir: Option<PathBuf>,
    pub backoff: Backoff,
    /// With a server that accepts the connection but sends nothing, boot from disk after this.
    /// An unreachable server triggers the disk copy at once.
    pub disk_fallback_after: Duration,
    /// Gives up connecting after this (then the backoff applies).
    pub connect_timeout: Duration,
    /// How often health is reported (with [`Subscriber::health`]).
    pub report_every: Duration,
}

impl SubscriberConfig {
    pub fn new(server: impl Into<String>, node: NodeIdentity) -> Self {
        SubscriberConfig {
            server: server.into(),
            node,
            state_dir: None,
            backoff: Backoff::default(),
            disk_fallback_after: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(2),
            report_every: Duration::from_secs(10),
        }
    }
}

/// The subscriber cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SubscriberError {
    #[error("invalid config server address {address:?}: {reason}")]
    InvalidServer { address: String, reason: String },
    #[error("the node identity needs a tenant and a pod name")]
    IncompleteNode,
}

/// Builds and starts a subscription.
pub struct Subscriber {
    config: SubscriberConfig,
    validator: Option<Validator>,
    on_apply: Option<ApplyHook>,
    health: Option<HealthSource>,
}

impl Subscriber {
    pub fn new(config: SubscriberConfig) -> Self {
        Subscriber { config, validator: None, on_apply: None, health: None }
    }

    /// Reports the pod's health from `source` to the operator every `report_every`.
    pub fn health(mut self, source: HealthSource) -> Self {
        self.health = Some(source);
        self
    }

    /// Adds an application-level check; an `Err` NACKs the snapshot with that message.
    pub fn validator(mut self, validate: impl Fn(&Snapshot) -> Result<(), String> + Send + Sync + 'static) -> Self {
        self.validator = Some(Arc::new(validate));
        self
    }

    /// Called with each snapshot that becomes active, before it is ACKed.
    pub fn on_apply(mut self, apply: impl Fn(Arc<Snapshot>) + Send + Sync + 'static) -> Self {
        self.on_apply = Some(Arc::new(apply));
        self
    }

    /// Starts the subscription on the current runtime.
    pub fn spawn(self) -> Result<SubscriberHandle, SubscriberError> {
        let SubscriberConfig { server, node, state_dir, backoff, disk_fallback_after, connect_timeout, report_every } =
            self.config;
        if node.tenant.is_empty() || node.pod.is_empty() {
            return Err(SubscriberError::IncompleteNode);
        }
        let endpoint = Endpoint::from_shared(server.clone())
            .map_err(|error| SubscriberError::InvalidServer { address: server, reason: error.to_string() })?
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            // Notice a silently dead operator (a partition, a frozen node) and reconnect.
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5))
            .keep_alive_while_idle(true);
        let holder = Arc::new(Holder::new(
            node.tenant.clone(),
            self.validator,
            self.on_apply,
            state_dir.map(LastKnownGood::in_dir),
        ));
        let current = holder.subscribe();
        let node = Node {
            pod: node.pod,
            role: node.role,
            tenant: node.tenant,
            lane: node.lane,
            build_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let reporter = self.health.map(|source| {
            tokio::spawn(report::report_forever(endpoint.clone(), node.clone(), source, report_every, backoff))
        });
        let task = tokio::spawn(subscribe_forever(holder, endpoint, node, backoff, disk_fallback_after));
        Ok(SubscriberHandle { current, task, reporter })
    }
}

/// A running subscription; dropping it stops the subscription (the active snapshot stays
/// with whoever holds it).
pub struct SubscriberHandle {
    current: watch::Receiver<Option<Active>>,
    task: JoinHandle<()>,
    reporter: Option<JoinHandle<()>>,
}

impl SubscriberHandle {
    /// The active snapshot, if any.
    pub fn current(&self) -> Option<Active> {
        self.current.borrow().clone()
    }

    /// True once a valid snapshot is held (readiness).
    pub fn is_ready(&self) -> bool {
        self.current.borrow().is_some()
    }

    /// Changes of the active snapshot.
    pub fn watch(&self) -> watch::Receiver<Option<Active>> {
        self.current.clone()
    }
}

impl Drop for SubscriberHandle {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(reporter) = &self.reporter {
            reporter.abort();
        }
    }
}

async fn subscribe_forever(
    holder: Arc<Holder>,
    endpoint: Endpoint,
    node: Node,
    backoff: Backoff,
    disk_fallback_after: Duration,
) {
    let disk_deadline = tokio::time::Instant::now() + disk_fallback_after;
    let mut disk_tried = false;
    let mut attempt = 0u32;
    loop {
        let session = session::run(&holder, &endpoint, &node);
        tokio::pin!(session);
        let outcome = loop {
            tokio::select! {
                outcome = &mut session => break outcome,
                () = tokio::time::sleep_until(disk_deadline), if !disk_tried => {
                    disk_tried = true;
                    holder.boot_from_disk_if_empty().await;
                }
            }
        };
        if !disk_tried {
            disk_tried = true;
            holder.boot_from_disk_if_empty().await;
        }
        if outcome.accepted > 0 {
            attempt = 0;
        }
        let delay = backoff.delay(attempt);
        attempt = attempt.saturating_add(1);
        if outcome.streamed {
            tracing::warn!(reason = outcome.reason, retry_in = ?delay, "config stream ended; keeping the active snapshot");
        } else {
            tracing::warn!(reason = outcome.reason, retry_in = ?delay, "config server unreachable; keeping the active snapshot");
        }
        tokio::time::sleep(delay).await;
    }
}
