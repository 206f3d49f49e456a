//! The compile loop: when the caches change, compile every tenant (off the async threads),
//! publish the snapshots to the config stream and the results to the controllers, and tell
//! the controllers to re-derive status — only when something they report on changed, so a
//! status write (which changes the caches too) does not start an endless loop.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{CompiledState, Stores, compile_all};
use crate::distribution::TenantSnapshots;

/// Caches settle in bursts (an `kubectl apply -f dir` is dozens of events): compile once the
/// burst is over. The config stream debounces again before sending.
const SETTLE: Duration = Duration::from_millis(50);

/// Counters the controllers' `reconcile_all_on` streams follow.
#[derive(Clone)]
pub struct Ticks {
    /// Bumped when compile results, pod sync or leadership changed.
    pub resync: watch::Sender<u64>,
}

impl Ticks {
    /// A fresh counter.
    pub fn new() -> Self {
        Ticks { resync: watch::channel(0).0 }
    }

    /// Asks every controller to reconcile all its objects.
    pub fn bump(&self) {
        self.resync.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A stream of `()` per bump, for `Controller::reconcile_all_on`.
    pub fn stream(&self) -> impl futures_util::Stream<Item = ()> + Send + 'static {
        use futures_util::StreamExt;
        tokio_stream::wrappers::WatchStream::from_changes(self.resync.subscribe()).map(|_| ())
    }
}

impl Default for Ticks {
    fn default() -> Self {
        Ticks::new()
    }
}

/// The loop's inputs and outputs.
pub struct CompileLoop {
    pub stores: Stores,
    pub dirty: watch::Receiver<u64>,
    pub snapshots: watch::Sender<TenantSnapshots>,
    pub compiled: Arc<CompiledState>,
    pub ticks: Ticks,
}

impl CompileLoop {
    /// Compiles now and after every settled burst of changes, until the caches' writers go away.
    pub async fn run(mut self) {
        loop {
            self.compile_once().await;
            if self.dirty.changed().await.is_err() {
                return;
            }
            tokio::time::sleep(SETTLE).await;
            self.dirty.borrow_and_update();
        }
    }

    /// One compile of every tenant.
    pub async fn compile_once(&self) {
        let stores = self.stores.clone();
        let (snapshots, results) = match tokio::task::spawn_blocking(move || compile_all(&stores)).await {
            Ok(compiled) => compiled,
            Err(error) => {
                tracing::error!(%error, "compile panicked; the previous snapshots stay published");
                return;
            }
        };
        for (tenant, result) in &results {
            if !result.rejected.is_empty() {
                tracing::debug!(tenant, rejected = result.rejected.len(), "resources left out of the config");
            }
        }
        let changed = results.len() != self.compiled.len()
            || results.iter().any(|(tenant, result)| self.compiled.tenant(tenant).as_deref() != Some(result));
        self.snapshots.send_replace(snapshots);
        if changed {
            self.compiled.replace(results);
            self.ticks.bump();
        }
    }
}
