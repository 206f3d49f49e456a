//! Custom resource types of `oblivious.dev/v1alpha1` and loading them from YAML manifests.
//!
//! This crate only describes what people write (`spec`); turning resources into the data plane's
//! configuration is `oblivious-compile`'s job. Specs deny unknown fields so a typo in a manifest
//! (`baseURL`) is an error naming the field instead of a silently ignored setting.

mod agent;
mod channel;
mod load;
mod meta;
mod pricing;
mod secret;

pub use agent::*;
pub use channel::*;
pub use load::{LoadError, Manifests, Sourced, load_dir, parse_documents};
pub use meta::ObjectMeta;
pub use pricing::*;
pub use secret::Secret;

/// The API group and version of every Oblivious kind.
pub const API_VERSION: &str = "oblivious.dev/v1alpha1";
