//! The compile loop's core: every tenant's resources, read from the caches, through the one
//! compile function. Resources belong to the Tenant whose `spec.namespace` holds them; every
//! namespace no Tenant claims belongs to the platform tenant `default`. Broken resources are
//! left out (`compile_tolerant`) and their problems kept for their controllers' status.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use oblivious_compile::{CompileError, Observed, ObservedMember, ResourceId, compile_tolerant};
use oblivious_crds::{Lane, Manifests, Sourced};

use super::Stores;
use crate::distribution::TenantSnapshots;

/// The platform tenant: every namespace no Tenant claims.
pub const PLATFORM_TENANT: &str = "default";

/// What one compile of one tenant produced, as the controllers need it for status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantCompile {
    /// The snapshot version published for the tenant.
    pub version: String,
    /// Each resource that went into the compile (accepted or not) and its `metadata.generation`.
    pub generations: BTreeMap<ResourceId, Option<i64>>,
    /// The problems of each left-out resource.
    pub rejected: BTreeMap<ResourceId, Vec<CompileError>>,
    /// The accepted ToolServers as published, which the ToolServer controller probes.
    pub tool_servers: CompiledToolServers,
}

impl TenantCompile {
    /// Whether this compile saw `generation` of the resource (else its result is stale).
    pub fn saw(&self, id: &ResourceId, generation: Option<i64>) -> bool {
        self.generations.get(id).is_some_and(|g| *g == generation)
    }

    /// The problems of a resource; empty if it was accepted.
    pub fn problems(&self, id: &ResourceId) -> &[CompileError] {
        self.rejected.get(id).map(Vec::as_slice).unwrap_or_default()
    }
}

/// Compiled ToolServers by `namespace/name`. Their headers hold Secret values, so `Debug`
/// prints the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CompiledToolServers(pub BTreeMap<String, Arc<oblivious_config::ToolServer>>);

impl std::fmt::Debug for CompiledToolServers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// The latest compile of every tenant, shared with the controllers.
#[derive(Debug, Default)]
pub struct CompiledState {
    tenants: RwLock<BTreeMap<String, Arc<TenantCompile>>>,
}

impl CompiledState {
    /// The latest compile of `tenant`, if there was one.
    pub fn tenant(&self, tenant: &str) -> Option<Arc<TenantCompile>> {
        self.tenants.read().unwrap_or_else(|p| p.into_inner()).get(tenant).cloned()
    }

    /// How many tenants have a compile.
    pub fn len(&self) -> usize {
        self.tenants.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no tenant has been compiled yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces every tenant's compile.
    pub fn replace(&self, tenants: BTreeMap<String, TenantCompile>) {
        let tenants = tenants.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
        *self.tenants.write().unwrap_or_else(|p| p.into_inner()) = tenants;
    }
}

/// The tenant owning `namespace`.
pub fn tenant_of_namespace(stores: &Stores, namespace: &str) -> String {
    stores
        .tenants
        .find(|t| t.spec.namespace == namespace)
        .map(|t| t.name_any())
        .unwrap_or_else(|| PLATFORM_TENANT.to_string())
}

/// Compiles every tenant from the caches.
pub fn compile_all(stores: &Stores) -> (TenantSnapshots, BTreeMap<String, TenantCompile>) {
    let claimed: BTreeMap<String, String> =
        stores.tenants.state().iter().map(|t| (t.spec.namespace.clone(), t.name_any())).collect();
    let tenant_of = |ns: &str| claimed.get(ns).cloned().unwrap_or_else(|| PLATFORM_TENANT.to_string());

    let mut inputs: BTreeMap<String, (Manifests, BTreeMap<ResourceId, Option<i64>>)> = BTreeMap::new();
    inputs.entry(PLATFORM_TENANT.into()).or_default();
    let mut tenants = stores.tenants.state();
    tenants.sort_by_key(|t| t.name_any());
    for tenant in tenants {
        let (manifests, generations) = inputs.entry(tenant.name_any()).or_default();
        generations.insert(("Tenant".into(), tenant.name_any()), tenant.metadata.generation);
        manifests.tenants.push(sourced(&tenant.metadata, tenant.spec.clone()));
    }
    // The caches iterate in hash order; compile must see one order so that, of two resources
    // in conflict, it is always the same one that is refused.
    macro_rules! bucket {
        ($store:expr, $kind:literal, $field:ident) => {
            let mut objects = $store.state();
            objects.sort_by_key(|o| (o.namespace(), o.name_any()));
            for object in objects {
                let ns = object.namespace().unwrap_or_default();
                let (manifests, generations) = inputs.entry(tenant_of(&ns)).or_default();
                generations.insert(($kind.into(), format!("{ns}/{}", object.name_any())), object.metadata.generation);
                manifests.$field.push(sourced(&object.metadata, object.spec.clone()));
            }
        };
    }
    bucket!(stores.channels, "Channel", channels);
    bucket!(stores.pricings, "ModelPricing", pricings);
    bucket!(stores.agents, "Agent", agents);
    bucket!(stores.tool_servers, "ToolServer", tool_servers);
    bucket!(stores.lanes, "Lane", lanes);
    for secret in stores.secrets.state() {
        let ns = secret.namespace().unwrap_or_default();
        if let Some((manifests, _)) = inputs.get_mut(&tenant_of(&ns)) {
            manifests.secrets.push(plain_secret(&secret));
        }
    }

    let lane_members = observe_lanes(stores);
    let mut snapshots = TenantSnapshots::new();
    let mut results = BTreeMap::new();
    for (tenant, (manifests, generations)) in inputs {
        let observed = Observed {
            tenant: (tenant != PLATFORM_TENANT).then(|| tenant.clone()),
            lane_members: lane_members.clone(),
        };
        let compiled = compile_tolerant(&manifests, &observed);
        let tool_servers = CompiledToolServers(
            compiled.snapshot.tool_servers.iter().map(|s| (s.name.clone(), Arc::new(s.clone()))).collect(),
        );
        results.insert(
            tenant.clone(),
            TenantCompile {
                version: compiled.snapshot.version.clone(),
                generations,
                rejected: compiled.rejected,
                tool_servers,
            },
        );
        snapshots.insert(tenant, Arc::new(compiled.snapshot));
    }
    (snapshots, results)
}

/// A cluster object as compile's input; its origin is `namespace/name`.
fn sourced<S>(meta: &kube::api::ObjectMeta, spec: S) -> Sourced<S> {
    let name = meta.name.clone().unwrap_or_default();
    let origin = match &meta.namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.clone(),
    };
    Sourced {
        file: PathBuf::from(origin),
        document: 0,
        metadata: oblivious_crds::ObjectMeta {
            name,
            namespace: meta.namespace.clone(),
            labels: meta.labels.clone().unwrap_or_default(),
            annotations: BTreeMap::new(),
        },
        spec,
    }
}

/// `data` (not valid UTF-8 values are skipped: a provider key is text) merged under
/// `stringData`, as the API server would.
fn plain_secret(secret: &Secret) -> Sourced<oblivious_crds::Secret> {
    let mut values = BTreeMap::new();
    for (key, bytes) in secret.data.iter().flatten() {
        if let Ok(text) = String::from_utf8(bytes.0.clone()) {
            values.insert(key.clone(), text);
        }
    }
    values.extend(secret.string_data.clone().unwrap_or_default());
    let sourced = sourced(&secret.metadata, ());
    Sourced {
        file: sourced.file,
        document: 0,
        metadata: sourced.metadata.clone(),
        spec: oblivious_crds::Secret { metadata: sourced.metadata, values },
    }
}

/// Selector members of every Lane: the Service the Lane controller made and whether an
/// EndpointSlice of it has a ready endpoint.
fn observe_lanes(stores: &Stores) -> BTreeMap<String, BTreeMap<String, ObservedMember>> {
    let mut out: BTreeMap<String, BTreeMap<String, ObservedMember>> = BTreeMap::new();
    for lane in stores.lanes.state() {
        let ns = lane.namespace().unwrap_or_default();
        for member in lane.spec.members.iter().filter(|m| m.selector.is_some()) {
            let service = lane_service_name(&lane, member.service);
            let ready = ready_endpoints(stores, &ns, &service) > 0;
            out.entry(format!("{ns}/{}", lane.name_any())).or_default().insert(
                member.service.as_str().into(),
                ObservedMember { endpoint: format!("http://{service}.{ns}.svc:{}", member.port), ready },
            );
        }
    }
    out
}

/// Ready endpoints of a Service, from its EndpointSlices.
pub fn ready_endpoints(stores: &Stores, namespace: &str, service: &str) -> u32 {
    let count = stores
        .lane_endpoints
        .state()
        .iter()
        .filter(|s| s.namespace().as_deref() == Some(namespace))
        .filter(|s| s.labels().get("kubernetes.io/service-name").map(String::as_str) == Some(service))
        .flat_map(|s| s.endpoints.iter())
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false))
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// The Service the Lane controller makes for a selector member: `<service>-lane-<tag>`, cut to
/// the 63 characters of a DNS label with a hash suffix when too long.
pub fn lane_service_name(lane: &Lane, service: oblivious_crds::DataPlaneService) -> String {
    let name = format!("{}-lane-{}", service.as_str(), lane.spec.tag);
    if name.len() <= 63 {
        return name;
    }
    use sha2::Digest;
    let hash = hex::encode(&sha2::Sha256::digest(name.as_bytes())[..4]);
    format!("{}-{hash}", name[..54].trim_end_matches('-'))
}
