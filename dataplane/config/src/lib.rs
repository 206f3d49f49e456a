//! The compiled configuration a data-plane pod runs on (DESIGN §4).
//!
//! These are plain serde types with no Kubernetes dependency: the operator (or `oblivious dev`)
//! compiles custom resources into a [`Snapshot`], and the data plane only ever sees this.
//! See NOTES.md: the types never deny unknown fields, so an older pod accepts a newer snapshot.

mod snapshot;

pub use snapshot::*;
