//! Status shapes shared by every kind: conditions as a list-map keyed by `type` (the shape
//! `kubectl wait --for=condition=Ready`, Flux kstatus and Argo CD health checks read), the
//! generation the operator last acted on, and how far the data plane got with the config.

use serde::{Deserialize, Serialize};

/// `True`, `False` or `Unknown`, as in every Kubernetes condition.
pub const TRUE: &str = "True";
/// A condition that does not hold.
pub const FALSE: &str = "False";
/// Not (yet) known, e.g. while a dependency is being resolved.
pub const UNKNOWN: &str = "Unknown";

/// One aspect of a resource's state (`metav1.Condition`, without a k8s-openapi dependency).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready`, `Accepted`, `ResolvedRefs`, `Programmed`, ... (CamelCase).
    #[serde(rename = "type")]
    #[cfg_attr(feature = "kube", schemars(length(max = 316)))]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^(True|False|Unknown)$")))]
    pub status: String,
    /// A CamelCase word a program can switch on.
    #[cfg_attr(feature = "kube", schemars(length(max = 1024)))]
    pub reason: String,
    /// What a person needs to know to fix the problem.
    #[cfg_attr(feature = "kube", schemars(length(max = 32768)))]
    #[serde(default)]
    pub message: String,
    /// When `status` last changed (RFC 3339).
    #[cfg_attr(feature = "kube", schemars(length(max = 64)))]
    pub last_transition_time: String,
    /// The `metadata.generation` this condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl Condition {
    /// Whether the condition holds.
    pub fn is_true(&self) -> bool {
        self.status == TRUE
    }
}

/// The condition of `type_` in `conditions`, if present.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// How the data-plane pods of the resource's tenant took the config that contains it,
/// folded from their ACKs and NACKs on the config stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// The snapshot version the operator wants every pod of the tenant to run.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 64)))]
    pub desired_version: String,
    /// Pods running `desiredVersion`.
    #[serde(default)]
    pub acked_pods: u32,
    /// Pods that refused `desiredVersion` (they keep serving their previous config).
    #[serde(default)]
    pub nacked_pods: u32,
    /// Why a pod refused `desiredVersion`, as the pod reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 1024)))]
    pub last_nack_message: Option<String>,
}

/// Traffic through a set of data-plane pods over their trailing window, added up from the
/// health reports they send the operator every ten seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TrafficHealth {
    /// Pods whose report counted.
    pub reporting_pods: u32,
    /// Seconds the counts cover (the longest of the pods' windows; five minutes once warm).
    pub window_seconds: u32,
    /// Requests (for a Channel: attempts sent upstream) in the window.
    pub requests: u64,
    /// Of which failed: a 5xx served, or an upstream attempt the relay moved on from.
    pub failures: u64,
    /// Share that succeeded, e.g. `99.5%`; absent without requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 8)))]
    pub success_rate: Option<String>,
    /// Median latency of the successful ones, in milliseconds (for a Channel: to the
    /// upstream's first answer; for a Lane member: to the response headers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p50_ms: Option<u64>,
    /// 99th percentile of the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p99_ms: Option<u64>,
    /// When these numbers were added up (RFC 3339). They are rewritten at most once a minute
    /// unless the verdict changes.
    #[cfg_attr(feature = "kube", schemars(length(max = 64)))]
    pub observed_at: String,
}

/// A Channel's health as the relay pods of its tenant see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChannelHealth {
    #[serde(flatten)]
    pub traffic: TrafficHealth,
    /// Relay pods on which the channel is ejected now (passive outlier ejection).
    #[serde(default)]
    pub ejected_pods: u32,
    /// Ejections that began in the window, over all pods.
    #[serde(default)]
    pub ejections: u64,
    /// The class of the latest failure (`server_error`, `rate_limit`, `invalid_key`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 64)))]
    pub last_error_class: Option<String>,
    /// When it happened (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 64)))]
    pub last_error_time: Option<String>,
}
