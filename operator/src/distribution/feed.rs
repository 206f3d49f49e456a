//! From "the compiled snapshots changed" to "this tenant's streams have something new to send".
//!
//! The publisher watches the map of per-tenant snapshots, waits for a burst of changes to end
//! (`debounce`, but never longer than `max_hold` after the first change, so a flapping source
//! cannot starve the data plane), then encodes each tenant whose version changed — once, however
//! many pods will receive it — and publishes it on that tenant's own feed. A stream subscribes to
//! exactly one tenant's feed, which is what keeps one tenant's keys away from another's pods.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use oblivious_config::Snapshot;
use oblivious_config::payload;
use tokio::sync::watch;

use super::Shared;
use super::metrics::TenantLabels;

/// What the rest of the operator feeds the config stream: every tenant's current snapshot.
pub type TenantSnapshots = BTreeMap<String, Arc<Snapshot>>;

/// Debounce settings (DESIGN §4: ~100 ms, never held more than 10 s).
#[derive(Debug, Clone, Copy)]
pub struct DistributionConfig {
    /// Publish once the source has been quiet this long.
    pub debounce: Duration,
    /// Publish at the latest this long after the first unpublished change.
    pub max_hold: Duration,
}

impl Default for DistributionConfig {
    fn default() -> Self {
        DistributionConfig { debounce: Duration::from_millis(100), max_hold: Duration::from_secs(10) }
    }
}

/// One tenant's snapshot, encoded for the wire.
#[derive(Debug)]
pub(super) struct Published {
    pub(super) tenant: String,
    pub(super) version: String,
    pub(super) schema: u32,
    pub(super) content_type: &'static str,
    pub(super) content_encoding: &'static str,
    /// Shared by every stream: sending clones a reference, not the bytes.
    pub(super) bytes: Bytes,
}

/// Each tenant's latest published snapshot.
#[derive(Debug, Default)]
pub(super) struct Feeds {
    tenants: RwLock<HashMap<String, watch::Sender<Option<Arc<Published>>>>>,
}

impl Feeds {
    /// The feed of `tenant`, created empty when the tenant has no snapshot (yet): its pods wait.
    pub(super) fn subscribe(&self, tenant: &str) -> watch::Receiver<Option<Arc<Published>>> {
        if let Some(sender) = self.read().get(tenant) {
            return sender.subscribe();
        }
        self.write().entry(tenant.to_string()).or_insert_with(|| watch::channel(None).0).subscribe()
    }

    fn version(&self, tenant: &str) -> Option<String> {
        self.read().get(tenant).and_then(|sender| sender.borrow().as_ref().map(|p| p.version.clone()))
    }

    fn publish(&self, published: Arc<Published>) {
        let mut tenants = self.write();
        let sender = tenants.entry(published.tenant.clone()).or_insert_with(|| watch::channel(None).0);
        sender.send_replace(Some(published));
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, watch::Sender<Option<Arc<Published>>>>> {
        self.tenants.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, watch::Sender<Option<Arc<Published>>>>> {
        self.tenants.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Publishes the current snapshots, then every debounced change, until the source closes.
pub(super) async fn run_publisher(
    mut source: watch::Receiver<TenantSnapshots>,
    shared: Arc<Shared>,
    config: DistributionConfig,
) {
    let initial = source.borrow_and_update().clone();
    publish_changed(&shared, initial, Instant::now()).await;
    loop {
        if source.changed().await.is_err() {
            tracing::info!("snapshot source closed; streams keep the last published snapshots");
            return;
        }
        // `built_at` is the first change of the burst: convergence includes the debounce.
        let built_at = Instant::now();
        let hold_until = tokio::time::Instant::from_std(built_at + config.max_hold);
        loop {
            let quiet_at = (tokio::time::Instant::now() + config.debounce).min(hold_until);
            match tokio::time::timeout_at(quiet_at, source.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) => break,
            }
        }
        let snapshots = source.borrow_and_update().clone();
        publish_changed(&shared, snapshots, built_at).await;
    }
}

async fn publish_changed(shared: &Arc<Shared>, snapshots: TenantSnapshots, built_at: Instant) {
    for (tenant, snapshot) in snapshots {
        if shared.feeds.version(&tenant).as_deref() == Some(snapshot.version.as_str()) {
            continue;
        }
        // Serialising and compressing a large snapshot takes milliseconds: off the async threads.
        let encoded = match tokio::task::spawn_blocking(move || payload::encode(&snapshot)).await {
            Ok(Ok(encoded)) => encoded,
            Ok(Err(error)) => {
                tracing::error!(tenant, %error, "cannot encode the snapshot; the previous one stays published");
                continue;
            }
            Err(error) => {
                tracing::error!(tenant, %error, "encoding the snapshot panicked; the previous one stays published");
                continue;
            }
        };
        tracing::info!(
            tenant,
            version = encoded.version,
            json_bytes = encoded.json_len,
            wire_bytes = encoded.bytes.len(),
            "publishing config snapshot"
        );
        // Register who owes an ACK before any stream can send it.
        shared.convergence.published(&tenant, &encoded.version, built_at);
        shared.metrics.published.get_or_create(&TenantLabels { tenant: tenant.clone() }).inc();
        shared.feeds.publish(Arc::new(Published {
            tenant,
            version: encoded.version,
            schema: encoded.schema,
            content_type: encoded.content_type,
            content_encoding: encoded.content_encoding,
            bytes: Bytes::from(encoded.bytes),
        }));
    }
}
