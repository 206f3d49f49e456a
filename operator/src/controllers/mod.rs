//! Controllers: one file per kind, each a `reconcile` that turns the object, the caches and the
//! latest compile into status (and, for Lane and Tenant, child objects; for ToolServer, what an
//! injected probe saw), plus the `run` that wires it into a kube-rs `Controller`.
//!
//! Shared rules (operator/NOTES.md): only the Lease holder writes; every write is server-side
//! apply with [`FIELD_MANAGER`]; status goes through the status subresource and is skipped
//! when unchanged; an event is published when a condition changes status or reason; a failed
//! reconcile is retried with per-object exponential backoff.

pub mod agent;
pub mod budget;
pub mod channel;
mod conditions;
mod error;
pub mod health;
pub mod lane;
mod mcp_probe;
mod metrics;
pub mod pricing;
pub mod tenant;
pub mod tool_probe;
pub mod toolserver;

use std::sync::Arc;
use std::time::Instant;

use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client, Resource, ResourceExt};
use oblivious_crds::Condition;
use oblivious_crds::status::SyncStatus;
use serde::Serialize;
use tokio::sync::watch;

pub use conditions::{Conditions, changed, now_rfc3339, rfc3339, truncate};
pub use error::{Error, ErrorBackoff};
pub use health::HealthSource;
pub use mcp_probe::McpProbe;
pub use metrics::ReconcileMetrics;
pub use tool_probe::ToolProbe;

use crate::cluster::{CompiledState, Stores};

/// The field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "oblivious-operator";

/// One connected data-plane pod, as the sync fold needs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodView {
    pub tenant: String,
    pub pod: String,
    pub running_version: String,
    /// The version it last refused and why.
    pub last_nack: Option<(String, String)>,
}

/// Where the connected pods come from (the distribution ledger; a fixed list in tests).
pub type PodSource = Arc<dyn Fn() -> Vec<PodView> + Send + Sync>;

/// Operator-wide settings from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The operator's namespace (its Lease, the platform database Secret).
    pub namespace: String,
    /// This replica's name (events' reporting instance, Lease identity).
    pub pod_name: String,
    /// The data-plane image the fleet runs unless a Tenant overrides it.
    pub data_plane_image: String,
    /// The config stream address data-plane pods connect to.
    pub config_server: String,
    /// The platform Secret (in `namespace`) whose `DATABASE_URL` shared and schema tenants use.
    pub platform_secret: String,
    /// Where Tenant fleets export traces; `None`: nowhere.
    pub fleet_tracing: Option<crate::fleet::FleetTracing>,
}

/// Everything a reconcile needs.
pub struct Context {
    /// API client (a mocked service in tests).
    pub client: Client,
    /// Publishes Kubernetes events about reconciled objects.
    pub recorder: Recorder,
    /// Reconcile counters and timings.
    pub metrics: Arc<ReconcileMetrics>,
    /// Per-object retry delays after failures.
    pub backoff: ErrorBackoff,
    /// Whether this replica holds the leader Lease: only the leader writes.
    pub leader: watch::Receiver<bool>,
    /// The informer caches.
    pub stores: Stores,
    /// The latest compile of every tenant.
    pub compiled: Arc<CompiledState>,
    /// The data-plane pods connected to this replica.
    pub pods: PodSource,
    /// The data-plane pods' health reports (every replica's).
    pub health: HealthSource,
    /// Operator-wide settings.
    pub settings: Settings,
}

impl Context {
    /// A context on `client` (production wiring and tests share this).
    pub fn new(
        client: Client,
        leader: watch::Receiver<bool>,
        stores: Stores,
        compiled: Arc<CompiledState>,
        pods: PodSource,
        health: HealthSource,
        settings: Settings,
    ) -> Self {
        let reporter = Reporter { controller: FIELD_MANAGER.into(), instance: Some(settings.pod_name.clone()) };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics: Arc::new(ReconcileMetrics::default()),
            backoff: ErrorBackoff::default(),
            leader,
            stores,
            compiled,
            pods,
            health,
            settings,
        }
    }

    /// Whether this replica may write.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// The data plane's uptake of `tenant`'s `desired` version.
    pub fn sync_status(&self, tenant: &str, desired: &str) -> SyncStatus {
        fold_sync(&(self.pods)(), tenant, desired)
    }
}

/// Folds the connected pods of `tenant` into a [`SyncStatus`] for version `desired`.
pub fn fold_sync(pods: &[PodView], tenant: &str, desired: &str) -> SyncStatus {
    let mut status = SyncStatus { desired_version: desired.into(), ..SyncStatus::default() };
    for pod in pods.iter().filter(|p| p.tenant == tenant) {
        if !desired.is_empty() && pod.running_version == desired {
            status.acked_pods += 1;
        }
        if let Some((version, message)) = &pod.last_nack
            && version == desired
        {
            status.nacked_pods += 1;
            status.last_nack_message = Some(truncate(message.clone(), 1024));
        }
    }
    status
}

/// Writes `status` through the status subresource with server-side apply, unless it equals
/// the current one. Returns whether it wrote. The answer is read as a `DynamicObject`: only
/// success matters, and the full object would be parsed for nothing.
pub async fn apply_status<K, S>(client: &Client, object: &K, current: Option<&S>, status: &S) -> Result<bool, Error>
where
    K: Resource<DynamicType = ()>,
    S: Serialize + PartialEq,
{
    if current == Some(status) {
        return Ok(false);
    }
    let name = object.meta().name.as_deref().ok_or(Error::MissingField("metadata.name"))?;
    let resource = ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> = match object.meta().namespace.as_deref() {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch)).await?;
    Ok(true)
}

/// Publishes one event per condition that changed status or reason. Events are best effort:
/// a failure is logged, never fails the reconcile.
pub async fn publish_condition_events<K>(ctx: &Context, object: &K, previous: &[Condition], next: &[Condition])
where
    K: Resource<DynamicType = ()>,
{
    let reference = object.object_ref(&());
    for condition in changed(previous, next) {
        let ok = condition.is_true();
        // `Ready` (and kstatus's `Stalled`/`Reconciling`) repeat the reason of the condition that
        // blocks it; one event for that is enough.
        if (condition.type_ == "Ready" && !ok) || condition.type_ == "Stalled" || condition.type_ == "Reconciling" {
            continue;
        }
        let event = Event {
            type_: if ok { EventType::Normal } else { EventType::Warning },
            reason: condition.reason.clone(),
            note: Some(truncate(condition.message.clone(), 1000)),
            action: condition.type_.clone(),
            secondary: None,
        };
        if let Err(error) = ctx.recorder.publish(&event, &reference).await {
            tracing::warn!(%error, reason = condition.reason, "cannot publish event");
        }
    }
}

/// Times `reconcile`, counts it, and resets the object's backoff after a success.
pub async fn instrumented<K, F>(
    controller: &'static str,
    object: &K,
    ctx: &Context,
    reconcile: F,
) -> Result<Action, Error>
where
    K: Resource,
    F: std::future::Future<Output = Result<Action, Error>>,
{
    let started = Instant::now();
    let result = reconcile.await;
    ctx.metrics.observe(controller, started.elapsed());
    match &result {
        Ok(_) => ctx.backoff.succeeded(&object_key(object)),
        Err(error) => ctx.metrics.failed(controller, error),
    }
    result
}

/// The shared `error_policy`: log, count and retry with per-object exponential backoff.
pub fn error_policy<K: Resource>(controller: &'static str, object: &K, error: &Error, ctx: &Context) -> Action {
    let delay = ctx.backoff.failed(&object_key(object));
    tracing::warn!(controller, object = object_key(object), %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// `namespace/name` (or `name` for cluster-scoped objects).
pub fn object_key<K: Resource>(object: &K) -> String {
    match object.meta().namespace.as_deref() {
        Some(ns) => format!("{ns}/{}", object.meta().name.as_deref().unwrap_or_default()),
        None => object.meta().name.clone().unwrap_or_default(),
    }
}

/// The ids compile uses for a namespaced resource of `kind`.
pub fn resource_id<K: Resource>(kind: &str, object: &K) -> (String, String) {
    (kind.to_string(), object_key(object))
}

/// A compile problem in words a person can act on: `field: reason`.
pub fn describe_problems(problems: &[&oblivious_compile::CompileError]) -> String {
    problems.iter().map(|p| format!("{}: {}", p.path, p.reason)).collect::<Vec<_>>().join("; ")
}

/// Namespace of a namespaced object, or an error.
pub fn namespace_of<K: Resource>(object: &K) -> Result<String, Error> {
    object.namespace().ok_or(Error::MissingField("metadata.namespace"))
}
