//! The active configuration: a snapshot and the tables derived from it, swapped atomically on
//! every change while in-flight requests keep the snapshot they started with.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use oblivious_config::Snapshot;
use oblivious_core::lane::rules::LaneTable;

use crate::routing::RoutingTable;

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

/// Holds the active configuration of a process. Every config source (`oblivious dev`'s
/// manifests, `serve-local`, the cluster's config stream) installs into one of these.
#[derive(Debug, Default)]
pub struct ConfigHolder {
    active: ArcSwap<ActiveConfig>,
    /// False until the first snapshot is installed (`/readyz`).
    loaded: AtomicBool,
}

impl ConfigHolder {
    /// The configuration for a new request. Holding the returned `Arc` keeps that snapshot alive
    /// for the request's whole life, even across a swap.
    pub fn active(&self) -> Arc<ActiveConfig> {
        self.active.load_full()
    }

    /// Installs a new snapshot atomically.
    pub fn install(&self, snapshot: Snapshot) {
        self.active.store(Arc::new(ActiveConfig::new(snapshot)));
        self.loaded.store(true, Ordering::Release);
    }

    /// The lanes of the active configuration, for the edge and outbound hops.
    pub fn lanes(&self) -> Arc<LaneTable> {
        self.active.load().lanes.clone()
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }
}
