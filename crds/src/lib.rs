//! Custom resource types of `oblivious.dev/v1alpha1` and loading them from YAML manifests.
//!
//! This crate only describes what people write (`spec`); turning resources into the data plane's
//! configuration is `oblivious-compile`'s job. Loading a manifest refuses unknown fields, so a
//! typo (`baseURL`) is an error naming the field instead of a silently ignored setting; the
//! types themselves accept them, so an operator reading a resource of a newer CRD version (a
//! rolling upgrade) does not fail on a field it does not know yet.
//!
//! With the `kube` feature (the operator's), every kind also derives `kube::CustomResource` and
//! `schemars::JsonSchema`, and [`crd`] renders the CustomResourceDefinitions with their bounds
//! and CEL rules. Without it the spec types are plain serde types, which is how the data plane
//! (which must never depend on kube, DESIGN rule 1) reads manifests.

// `#[kube(printcolumn(..), printcolumn(..))]` repeats keys on purpose; clippy reads it as a
// duplicated attribute.
#![allow(clippy::duplicated_attributes)]

mod agent;
mod channel;
#[cfg(feature = "kube")]
pub mod crd;
mod lane;
mod load;
mod meta;
mod pricing;
#[cfg(feature = "kube")]
pub mod schema;
mod secret;
pub mod status;
mod tenant;
mod toolserver;

pub use agent::*;
pub use channel::*;
pub use lane::*;
pub use load::{LoadError, Manifests, Sourced, load_dir, parse_documents};
pub use meta::ObjectMeta;
pub use pricing::*;
pub use secret::Secret;
pub use status::{Condition, SyncStatus};
pub use tenant::*;
pub use toolserver::*;

/// The API group and version of every Oblivious kind.
pub const API_VERSION: &str = "oblivious.dev/v1alpha1";
/// The API group of every Oblivious kind.
pub const GROUP: &str = "oblivious.dev";
