//! `oblivious-operator run`: the operator in a cluster. Every replica watches the resources
//! into shared caches, compiles every tenant from them and serves the config stream; the
//! replica holding the leader Lease also runs the controllers' writes (status, child objects).
//!
//! ```text
//! reflectors ─▶ Stores ─▶ compile loop ─▶ watch<TenantSnapshots> ─▶ Distribution ─▶ pods
//!                  │            └─▶ CompiledState ─┐          ACK/NACK ledger ─┐
//!                  └────────────▶ controllers ◀────┴──────────────────────────┘ (leader writes)
//! ```

mod admission;
mod compiler;
mod leader;
mod namespaces;
mod publish;
mod run;
mod stores;
pub mod sync_reports;
mod watch;

pub use admission::{DATA_PLANE_LABEL, PodAddressAdmission};
pub use compiler::{
    CompiledState, CompiledToolServers, PLATFORM_TENANT, TenantCompile, compile_all, lane_service_name,
    ready_endpoints, tenant_of_namespace,
};
pub use leader::LeaderElection;
pub use publish::{CompileLoop, Ticks};
pub use run::{RunOptions, run};
pub use stores::{Stores, Writers, insert};
pub use watch::spawn_reflectors;
