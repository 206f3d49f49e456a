//! The data-plane workloads a Tenant owns, as pure builders: per role a Deployment, a Service,
//! a HorizontalPodAutoscaler on the in-flight-requests Pods metric, and a PodDisruptionBudget.
//! The Tenant controller applies them (server-side apply) with the Tenant as owner. The
//! runtime contract — container args, env, ports, probes — is the one the Helm chart's default
//! fleet uses (charts/NOTES.md), so a tenant's pods behave like the platform's.

pub mod isolation;
mod scaling;
mod workload;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::ObjectMeta;
use oblivious_crds::{DataPlaneService, ObjectStoreSpec};

pub use scaling::{autoscaler, disruption_budget};
pub use workload::{deployment, service};

use crate::controllers::FIELD_MANAGER;

/// Files waiting for or in ingestion, across the tenant's knowledge bases: what a `rag`
/// Deployment scales on (the chart's `dataPlane.rag.autoscaling.pendingJobsMetric`).
pub const PENDING_JOBS_METRIC: &str = "oblivious_rag_jobs_pending";

/// Whether `role` reads users' files: the gateway stores uploads, rag indexes them, chat answers
/// from them. Never the relay.
pub fn reads_files(role: DataPlaneService) -> bool {
    role != DataPlaneService::Relay
}

/// The port every data-plane role listens on (HTTP API, probes, metrics).
pub const HTTP_PORT: i32 = 8080;
/// The Pods metric the HPA scales on (the chart's `dataPlane.inFlightMetric` default); each
/// role exports it as a gauge of requests in flight.
pub const IN_FLIGHT_METRIC: &str = "oblivious_inflight_requests";
/// The tenant's Secret (in its namespace), like the chart's `<release>-secrets`: `DATABASE_URL`
/// (shared and schema isolation), the tenant's own `OBLIVIOUS_JWT_SECRET` and
/// `OBLIVIOUS_INTERNAL_TOKEN`.
pub const TENANT_SECRET: &str = "oblivious-secrets";
/// The key of the connection string.
pub const DATABASE_URL_KEY: &str = "DATABASE_URL";
/// The platform Secret's (and the tenant Secret's) key of the shared Redis.
pub const REDIS_URL_KEY: &str = "REDIS_URL";

/// Every Redis key of a tenant's pods starts with this, so tenants sharing the platform's Redis
/// never see each other's limits, quota holds or chat streams.
pub fn redis_prefix(tenant: &str) -> String {
    format!("obl:t:{tenant}:")
}
/// The key of the gateway's token signing secret: per tenant, so one tenant's tokens mean
/// nothing to another's gateway.
pub const JWT_SECRET_KEY: &str = "OBLIVIOUS_JWT_SECRET";
/// The key of the token the relay accepts from chat acting for a user: the same on every pod of
/// the tenant (a relay without it makes one up, and gateway and chat refuse to start), and per
/// tenant, so one tenant's chat cannot act for its users on another tenant's relay.
pub const INTERNAL_TOKEN_KEY: &str = "OBLIVIOUS_INTERNAL_TOKEN";
/// Label naming the Tenant on everything made for it (the Tenant controller watches on it).
pub const TENANT_LABEL: &str = "oblivious.dev/tenant";

/// What one role of one tenant's fleet is built from.
#[derive(Debug, Clone)]
pub struct FleetMember {
    pub tenant: String,
    pub namespace: String,
    pub role: DataPlaneService,
    pub image: String,
    pub config_server: String,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub target_in_flight_per_pod: u32,
    /// For `rag`: the pending files per pod its HPA aims for.
    pub pending_jobs_per_pod: u32,
    pub requests: BTreeMap<String, String>,
    pub limits: BTreeMap<String, String>,
    /// The Secret and key holding `DATABASE_URL` (absent: the pods use their embedded store).
    pub database: Option<(String, String)>,
    /// The tenant Secret holds `REDIS_URL` (absent: each pod keeps limits and streams alone).
    pub redis: bool,
    /// Where users' files are kept (gateway, chat and rag only); `None`: each pod's emptyDir.
    pub object_store: Option<ObjectStoreSpec>,
    /// Where the pods export traces; `None`: they export none.
    pub tracing: Option<FleetTracing>,
    pub owner: OwnerReference,
}

/// Trace export for Tenant fleets: the platform's collector and sampling (the chart's
/// `dataPlane.tracing`, given to the operator as `OBLIVIOUS_FLEET_OTLP_ENDPOINT`,
/// `OBLIVIOUS_FLEET_TRACES_SAMPLER` and `OBLIVIOUS_FLEET_TRACES_SAMPLER_ARG`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetTracing {
    pub endpoint: String,
    pub sampler: String,
    pub sampler_arg: String,
}

/// `oblivious-<role>`, the name of a role's Deployment, Service, HPA and PDB in a tenant's
/// namespace (the chart's names for the default release).
pub fn role_name(role: DataPlaneService) -> String {
    format!("oblivious-{}", role.as_str())
}

/// Where a tenant's gateway, chat and RAG pods call the relay (`OBLIVIOUS_RELAY_URL`): the
/// tenant's own relay Service.
pub fn relay_url(namespace: &str) -> String {
    format!("http://{}.{namespace}.svc:{HTTP_PORT}", role_name(DataPlaneService::Relay))
}

impl FleetMember {
    /// `oblivious-<role>`, the same names the chart gives the platform's fleet.
    pub fn name(&self) -> String {
        role_name(self.role)
    }

    /// Labels selecting the role's pods (stable: a Deployment's selector is immutable).
    pub fn selector_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".into(), "oblivious".into()),
            ("app.kubernetes.io/component".into(), self.role.as_str().into()),
            ("app.kubernetes.io/instance".into(), self.tenant.clone()),
        ])
    }

    /// Labels on every object of the role.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.selector_labels();
        labels.insert("app.kubernetes.io/managed-by".into(), FIELD_MANAGER.into());
        // The stream admission finds data-plane pods through Services with this label.
        labels.insert("app.kubernetes.io/part-of".into(), "oblivious".into());
        labels.insert(TENANT_LABEL.into(), self.tenant.clone());
        labels
    }

    /// Metadata of an object of this role, owned by the Tenant.
    pub fn metadata(&self) -> ObjectMeta {
        ObjectMeta {
            name: Some(self.name()),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels()),
            owner_references: Some(vec![self.owner.clone()]),
            ..ObjectMeta::default()
        }
    }
}
