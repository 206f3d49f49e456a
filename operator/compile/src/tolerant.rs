//! Compile for a live cluster: one broken resource must not hold back every other change of
//! its tenant. [`compile_tolerant`] leaves out each resource with a problem (and whatever then
//! breaks because it is gone, such as an Agent whose only Channel, or a ToolServer it names, was
//! rejected) and compiles the rest; the operator reports each left-out resource's problems in
//! its status. `compile` stays all-or-nothing, which is what a pre-merge check and
//! `oblivious dev` want.

use std::collections::BTreeMap;

use oblivious_config::Snapshot;
use oblivious_crds::Manifests;

use crate::{CompileError, Observed, compile_with};

/// `(kind, namespace/name)` of a resource, e.g. `("Channel", "team-a/openai")`. Tenants are
/// cluster-scoped: their key is the name alone.
pub type ResourceId = (String, String);

/// A snapshot of everything that compiled, and why the rest did not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compiled {
    pub snapshot: Snapshot,
    /// The problems of each left-out resource.
    pub rejected: BTreeMap<ResourceId, Vec<CompileError>>,
}

/// Compiles, leaving out resources with problems until the rest compiles.
pub fn compile_tolerant(manifests: &Manifests, observed: &Observed) -> Compiled {
    let mut input = manifests.clone();
    let mut rejected: BTreeMap<ResourceId, Vec<CompileError>> = BTreeMap::new();
    // Every round removes at least one resource, so this ends; usually after one or two rounds.
    loop {
        let errors = match compile_with(&input, observed) {
            Ok(snapshot) => return Compiled { snapshot, rejected },
            Err(errors) => errors,
        };
        let before = count(&input);
        for error in errors {
            let id = resource_id(&error);
            remove(&mut input, &id);
            rejected.entry(id).or_default().push(error);
        }
        if count(&input) == before {
            // An error naming no resource we hold (impossible today): give up on the rest
            // rather than loop. The caller keeps publishing the previous snapshot.
            return Compiled { snapshot: Snapshot::default(), rejected };
        }
    }
}

fn resource_id(error: &CompileError) -> ResourceId {
    let (kind, key) = error.resource.split_once(' ').unwrap_or((error.resource.as_str(), ""));
    (kind.to_string(), key.to_string())
}

fn count(m: &Manifests) -> usize {
    m.channels.len() + m.pricings.len() + m.agents.len() + m.tool_servers.len() + m.lanes.len() + m.tenants.len()
}

fn remove(m: &mut Manifests, (kind, key): &ResourceId) {
    match kind.as_str() {
        "Channel" => m.channels.retain(|r| &r.metadata.key() != key),
        "ModelPricing" => m.pricings.retain(|r| &r.metadata.key() != key),
        "Agent" => m.agents.retain(|r| &r.metadata.key() != key),
        "ToolServer" => m.tool_servers.retain(|r| &r.metadata.key() != key),
        "Lane" => m.lanes.retain(|r| &r.metadata.key() != key),
        "Tenant" => m.tenants.retain(|r| &r.metadata.name != key),
        _ => {}
    }
}
