//! The compiled configuration a data-plane pod runs on (DESIGN §4).
//!
//! These are plain serde types with no Kubernetes dependency: the operator (or `oblivious dev`)
//! compiles custom resources into a [`Snapshot`], and the data plane only ever sees this.
//! See NOTES.md: the types never deny unknown fields, so an older pod accepts a newer snapshot.
//!
//! - [`payload`]: the snapshot's wire and disk format, schema (version skew) checks, invariants.
//! - [`health`]: the counters a pod keeps about its own health and reports to the operator.
//! - [`last_known_good`]: the pod's atomic on-disk copy.
//! - `proto` and `subscriber` (feature `grpc`): the config stream's messages and the pod's
//!   client, which ACKs/NACKs, reconnects and falls back to the on-disk copy.

pub mod health;
pub mod last_known_good;
pub mod payload;
#[cfg(feature = "grpc")]
pub mod proto;
mod snapshot;
#[cfg(feature = "grpc")]
pub mod subscriber;

pub use snapshot::*;
