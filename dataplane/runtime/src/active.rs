//! The active configuration: a snapshot and the tables derived from it, swapped atomically on
//! every change while in-flight requests keep the snapshot they started with.

use std::sync::Arc;

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
