use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::status::Condition;

/// `spec` of a `Tenant` (cluster-scoped): an isolated deployment in a namespace of its own, with
/// its own data-plane fleet, database isolation and budget. Everything the operator creates for
/// it carries an owner reference, so deleting the Tenant deletes it all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(kube::CustomResource, schemars::JsonSchema))]
#[cfg_attr(
    feature = "kube",
    kube(
        group = "oblivious.dev",
        version = "v1alpha1",
        kind = "Tenant",
        status = "TenantStatus",
        derive = "PartialEq",
        shortname = "tn",
        category = "oblivious",
        doc = "An isolated deployment: a namespace with owners, quota, default-deny network policy, a data-plane fleet and database isolation.",
        printcolumn(name = "Namespace", type_ = "string", json_path = ".spec.namespace"),
        printcolumn(name = "Database", type_ = "string", json_path = ".spec.database.isolation"),
        printcolumn(name = "Replicas", type_ = "string", json_path = ".status.replicas"),
        printcolumn(name = "Budget Used", type_ = "string", json_path = ".status.budget.used"),
        printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
        printcolumn(
            name = "Reason",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
            priority = 1
        ),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )
)]
#[cfg_attr(
    feature = "kube",
    schemars(extend("x-kubernetes-validations" = [
        {"rule": "self.database.isolation != 'Database' || has(self.database.connectionSecretRef)", "message": "database isolation Database needs database.connectionSecretRef", "fieldPath": ".database.connectionSecretRef", "reason": "FieldValueRequired"}
    ]))
)]
#[serde(rename_all = "camelCase")]
pub struct TenantSpec {
    /// The tenant's namespace, created and owned by the operator. Immutable.
    #[cfg_attr(
        feature = "kube",
        schemars(
            regex(pattern = crate::schema::DNS_LABEL_PATTERN),
            length(min = 1, max = 63),
            extend("x-kubernetes-validations" = [
                {"rule": "self == oldSelf", "message": "namespace is immutable"},
                {"rule": "!(self in ['default', 'kube-system', 'kube-public', 'kube-node-lease'])", "message": "a tenant needs a namespace of its own"}
            ])
        )
    )]
    pub namespace: String,
    /// Who administers the tenant: each gets a RoleBinding in its namespace.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 32)))]
    pub owners: Vec<TenantOwner>,
    /// The namespace's ResourceQuota `hard` limits (`requests.cpu: "8"`, `pods: "50"`).
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(transform = crate::schema::bounded_string_map::<32, 253, 64>))]
    pub quota: BTreeMap<String, String>,
    /// Default container requests and limits (a LimitRange).
    #[serde(default)]
    pub limits: ContainerDefaults,
    #[serde(default)]
    pub network: TenantNetwork,
    #[serde(default)]
    pub fleet: FleetSpec,
    #[serde(default)]
    pub database: DatabaseSpec,
    /// Where the tenant's gateway, chat and rag pods keep users' uploaded files. Without it each
    /// pod keeps them in its own emptyDir: a file is seen only by the pod it was uploaded to
    /// (rag never indexes it) and is gone with that pod (condition `FilesShared` says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_store: Option<ObjectStoreSpec>,
    /// Spending limits enforced by the tenant's relays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSpec>,
    /// While true the operator keeps a finalizer on the Tenant, so `kubectl delete` leaves it
    /// (and its namespace, data and fleet) in place until this is set to false.
    #[serde(default)]
    pub prevent_deletion: bool,
}

/// A user, group or ServiceAccount given a ClusterRole in the tenant's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "kube",
    schemars(extend("x-kubernetes-validations" = [
        {"rule": "self.kind == 'ServiceAccount' || !has(self.namespace)", "message": "namespace is only for ServiceAccount owners"}
    ]))
)]
#[serde(rename_all = "camelCase")]
pub struct TenantOwner {
    pub kind: OwnerKind,
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 253)))]
    pub name: String,
    /// For a ServiceAccount; defaults to the tenant's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DNS_LABEL_PATTERN), length(max = 63)))]
    pub namespace: Option<String>,
    /// The ClusterRole bound: `admin` (default), `edit` or `view`.
    #[serde(default)]
    pub role: OwnerRole,
}

/// RBAC subject kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
pub enum OwnerKind {
    User,
    Group,
    ServiceAccount,
}

/// The built-in ClusterRoles an owner may get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum OwnerRole {
    #[default]
    Admin,
    Edit,
    View,
}

impl OwnerRole {
    /// The ClusterRole name.
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerRole::Admin => "admin",
            OwnerRole::Edit => "edit",
            OwnerRole::View => "view",
        }
    }
}

/// Container defaults as Kubernetes quantities.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContainerDefaults {
    /// `cpu` / `memory` requests of containers that set none.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(transform = crate::schema::bounded_string_map::<8, 63, 64>))]
    pub default_request: BTreeMap<String, String>,
    /// `cpu` / `memory` limits of containers that set none.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(transform = crate::schema::bounded_string_map::<8, 63, 64>))]
    pub default_limit: BTreeMap<String, String>,
}

/// Egress of the tenant's pods. Ingress is denied except from the platform namespace and
/// between the tenant's own pods; egress is denied except DNS, the operator's config stream,
/// the database and these provider destinations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TenantNetwork {
    /// CIDRs the relays may call providers at. Defaults to the public internet (every
    /// address outside the private ranges), since provider IPs change.
    #[serde(default = "public_internet")]
    #[cfg_attr(feature = "kube", schemars(length(max = 64), inner(length(max = 43))))]
    pub provider_cidrs: Vec<String>,
    /// Ports providers listen on.
    #[serde(default = "https_port")]
    #[cfg_attr(feature = "kube", schemars(length(max = 16)))]
    pub provider_ports: Vec<u16>,
    /// Extra egress CIDRs (a self-hosted model server, an external database), all ports.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 64), inner(length(max = 43))))]
    pub extra_egress_cidrs: Vec<String>,
}

impl Default for TenantNetwork {
    fn default() -> Self {
        TenantNetwork {
            provider_cidrs: public_internet(),
            provider_ports: https_port(),
            extra_egress_cidrs: Vec::new(),
        }
    }
}

fn public_internet() -> Vec<String> {
    vec!["0.0.0.0/0".into()]
}

fn https_port() -> Vec<u16> {
    vec![443]
}

/// The tenant's data-plane pods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "kube",
    schemars(extend("x-kubernetes-validations" = [
        {"rule": "self.maxReplicas >= self.minReplicas", "message": "maxReplicas must be at least minReplicas"}
    ]))
)]
#[serde(rename_all = "camelCase")]
pub struct FleetSpec {
    /// Roles to run, each as its own Deployment (`relay`, `gateway`, `chat`, `rag`).
    #[serde(default = "default_roles")]
    #[cfg_attr(
        feature = "kube",
        schemars(
            length(min = 1, max = 4),
            extend("x-kubernetes-validations" = [
                {"rule": "self.all(r, self.exists_one(s, s == r))", "message": "each role appears once"}
            ])
        )
    )]
    pub roles: Vec<crate::DataPlaneService>,
    /// Replicas per role when idle (the HPA's minimum).
    #[serde(default = "default_min_replicas")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 1000)))]
    pub min_replicas: u32,
    /// The HPA's maximum per role.
    #[serde(default = "default_max_replicas")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 1000)))]
    pub max_replicas: u32,
    /// In-flight requests (streams) per pod the HPA aims for.
    #[serde(default = "default_target_in_flight")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 100_000)))]
    pub target_in_flight_per_pod: u32,
    /// Files waiting for or in ingestion per `rag` pod the HPA aims for (the External metric
    /// `oblivious_rag_jobs_pending`, which the metrics adapter must serve as one series).
    #[serde(default = "default_pending_jobs")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 100_000)))]
    pub pending_jobs_per_pod: u32,
    /// Overrides the platform's data-plane image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 512)))]
    pub image: Option<String>,
    /// Container resources (`requests`/`limits` of `cpu`/`memory`) per pod.
    #[serde(default)]
    pub resources: FleetResources,
}

impl Default for FleetSpec {
    fn default() -> Self {
        FleetSpec {
            roles: default_roles(),
            min_replicas: default_min_replicas(),
            max_replicas: default_max_replicas(),
            target_in_flight_per_pod: default_target_in_flight(),
            pending_jobs_per_pod: default_pending_jobs(),
            image: None,
            resources: FleetResources::default(),
        }
    }
}

fn default_roles() -> Vec<crate::DataPlaneService> {
    vec![crate::DataPlaneService::Relay]
}

fn default_pending_jobs() -> u32 {
    10
}

fn default_min_replicas() -> u32 {
    2
}

fn default_max_replicas() -> u32 {
    10
}

fn default_target_in_flight() -> u32 {
    64
}

/// Requests and limits as Kubernetes quantities.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FleetResources {
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(transform = crate::schema::bounded_string_map::<8, 63, 64>))]
    pub requests: BTreeMap<String, String>,
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(transform = crate::schema::bounded_string_map::<8, 63, 64>))]
    pub limits: BTreeMap<String, String>,
}

/// An S3 or S3-compatible store (MinIO, RustFS) for the tenant's files, as the chart's
/// `objectStore` values: the same variables on the same roles. A store outside the public
/// internet's port 443 (an in-cluster MinIO) also needs its CIDR in `network.extraEgressCidrs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "kube",
    schemars(extend("x-kubernetes-validations" = [
        {"rule": "!has(self.endpoint) || !self.endpoint.startsWith('http://') || self.allowHttp", "message": "a plain-http endpoint needs allowHttp: true"}
    ]))
)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStoreSpec {
    /// `s3://bucket/prefix` (`OBLIVIOUS_OBJECT_STORE`).
    #[cfg_attr(
        feature = "kube",
        schemars(regex(pattern = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$"), length(max = 512))
    )]
    pub url: String,
    /// A Secret in the tenant's namespace with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`
    /// (each optional; without them the S3 client uses the pods' identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 253)))]
    pub credentials_secret: Option<String>,
    /// The bucket's region (`AWS_REGION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 64)))]
    pub region: Option<String>,
    /// The S3 API endpoint of a store other than AWS (`AWS_ENDPOINT_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 512)))]
    pub endpoint: Option<String>,
    /// Allow a plain-http `endpoint` (`AWS_ALLOW_HTTP`).
    #[serde(default)]
    pub allow_http: bool,
}

/// How the tenant's rows are kept apart from other tenants'.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSpec {
    #[serde(default)]
    pub isolation: DatabaseIsolation,
    /// For `Database`: a Secret in the tenant's namespace whose `DATABASE_URL` key points at the
    /// tenant's own database (provisioned outside the cluster, e.g. by External Secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_secret_ref: Option<crate::SecretKeyRef>,
}

/// Database isolation levels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
pub enum DatabaseIsolation {
    /// The platform database; rows carry the tenant.
    #[default]
    Shared,
    /// The platform database server, a schema of the tenant's own (`search_path`).
    Schema,
    /// A database of the tenant's own.
    Database,
}

/// A monthly spending limit in the price lists' currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BudgetSpec {
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^[A-Z]{3}$"), length(max = 3)))]
    pub currency: String,
    /// Decimal string, e.g. `"5000"`.
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub monthly_limit: String,
}

/// What the operator built for the tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `NamespaceReady`, `FleetReady`, `DeletionProtected`, `WithinBudget` and `Ready`.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 16), transform = crate::schema::condition_list_map))]
    pub conditions: Vec<Condition>,
    /// `ready/desired` data-plane pods over every role, for `kubectl get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 32)))]
    pub replicas: Option<String>,
    /// The tenant's compiled snapshot version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 64)))]
    pub config_version: Option<String>,
    /// This month's spending against `spec.budget`, as the tenant's relays last read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetStatus>,
}

/// A tenant's spending in the current calendar month (UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BudgetStatus {
    /// `YYYY-MM`.
    #[cfg_attr(feature = "kube", schemars(length(max = 7)))]
    pub month: String,
    #[cfg_attr(feature = "kube", schemars(length(max = 3)))]
    pub currency: String,
    /// `spec.budget.monthlyLimit`.
    #[cfg_attr(feature = "kube", schemars(length(max = 24)))]
    pub monthly_limit: String,
    /// Spent so far this month (decimal); absent until a relay of the tenant reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 24)))]
    pub spent: Option<String>,
    /// Share of the limit spent, e.g. `42.1%`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 8)))]
    pub used: Option<String>,
}
