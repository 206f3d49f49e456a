//! The one compile function (DESIGN rule 2): custom resources + Secrets in, a per-tenant
//! [`Snapshot`] out. Pure and deterministic — the same resources always give the same snapshot
//! and the same `version` — so the operator, `oblivious dev` and
//! `oblivious-operator compile` (a GitOps pre-merge check) all agree on what a change means.

mod agent;
mod agent_tools;
mod channel;
mod decimal;
mod duration;
mod error;
mod lane;
mod pricing;
mod tenant;
mod tolerant;
mod toolserver;

use std::collections::BTreeMap;

use oblivious_config::Snapshot;
use oblivious_crds::Manifests;
use sha2::{Digest, Sha256};

pub use decimal::parse_price_micros;
pub use duration::parse_duration_ms;
pub use error::CompileError;
pub(crate) use pricing::parse_rfc3339_ms;
pub use tolerant::{Compiled, ResourceId, compile_tolerant};

/// What the operator observed in a cluster that is not in the resources themselves. Outside a
/// cluster it is empty: fixed lane endpoints count as ready, selector members as not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// The Tenant (by name) the snapshot is for: its settings go into the snapshot.
    pub tenant: Option<String>,
    /// Lane `namespace/name` -> service (`relay`, ...) -> the member's Service and readiness.
    pub lane_members: BTreeMap<String, BTreeMap<String, ObservedMember>>,
}

/// A selector member of a lane as the operator resolved it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedMember {
    /// Base URL of the Service the operator made for the member.
    pub endpoint: String,
    /// At least one ready endpoint behind it.
    pub ready: bool,
}

/// Compiles loaded manifests into a snapshot, or every problem found.
pub fn compile(manifests: &Manifests) -> Result<Snapshot, Vec<CompileError>> {
    compile_with(manifests, &Observed::default())
}

/// [`compile`] with what the operator observed in the cluster.
pub fn compile_with(manifests: &Manifests, observed: &Observed) -> Result<Snapshot, Vec<CompileError>> {
    let mut errors = Vec::new();
    let channels = channel::compile_channels(&manifests.channels, &manifests.secrets, &mut errors);
    let pricing = pricing::compile_prices(&manifests.pricings, &mut errors);
    let tool_servers = toolserver::compile_tool_servers(&manifests.tool_servers, &manifests.secrets, &mut errors);
    // After the tool servers: an Agent may only name tools of accepted ones.
    let agents = agent::compile_agents(&manifests.agents, &channels, &tool_servers, &mut errors);
    let lanes = lane::compile_lanes(&manifests.lanes, observed, &mut errors);
    let tenant = tenant::compile_tenant(&manifests.tenants, observed.tenant.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut snapshot = Snapshot {
        version: String::new(),
        channels,
        prices: pricing.prices,
        group_limits: pricing.group_limits,
        group_default_models: pricing.group_default_models,
        agents,
        tool_servers,
        lanes,
        tenant,
    };
    snapshot.version = content_version(&snapshot);
    Ok(snapshot)
}

/// Hash of the canonical JSON of the snapshot without its version. Field order is fixed by the
/// struct definitions and every list is sorted by compile, so equal content hashes equally.
fn content_version(snapshot: &Snapshot) -> String {
    let canonical = serde_json::to_vec(snapshot).unwrap_or_default();
    let digest = Sha256::digest(&canonical);
    hex::encode(&digest[..8])
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
