use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::status::{Condition, SyncStatus, TrafficHealth};

/// `spec` of a `Lane`: a canary lane. The edge dyes matching requests with the lane's tag
/// (`x-oblivious-lane`), and every hop sends a dyed request to the lane's version of the next
/// service when that version has a ready member, else to the baseline (or fails, for `Strict`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(kube::CustomResource, schemars::JsonSchema))]
#[cfg_attr(
    feature = "kube",
    kube(
        group = "oblivious.dev",
        version = "v1alpha1",
        kind = "Lane",
        namespaced,
        status = "LaneStatus",
        derive = "PartialEq",
        shortname = "ln",
        category = "oblivious",
        doc = "A canary lane: which requests are dyed with its tag, which services have a lane version, and what happens when that version is not ready.",
        printcolumn(name = "Tag", type_ = "string", json_path = ".spec.tag"),
        printcolumn(name = "Enabled", type_ = "boolean", json_path = ".spec.enabled"),
        printcolumn(name = "Members Ready", type_ = "string", json_path = ".status.membersReady"),
        printcolumn(name = "Falling Back", type_ = "boolean", json_path = ".status.fallingBack"),
        printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )
)]
#[serde(rename_all = "camelCase")]
pub struct LaneSpec {
    /// The value of `x-oblivious-lane`. Immutable: pods and clients key on it.
    #[cfg_attr(
        feature = "kube",
        schemars(
            regex(pattern = crate::schema::DNS_LABEL_PATTERN),
            length(min = 1, max = 63),
            extend("x-kubernetes-validations" = [
                {"rule": "self == oldSelf", "message": "tag is immutable; create a new Lane instead"},
                {"rule": "self != 'baseline'", "message": "`baseline` names the traffic outside every lane"}
            ])
        )
    )]
    pub tag: String,
    /// A disabled lane dyes nothing; requests already carrying its tag go to the baseline.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// When several lanes match a request, the highest priority wins (then the name).
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(range(min = -1000, max = 1000)))]
    pub priority: i32,
    /// Which requests are dyed. Without rules only callers allowed to pick a lane reach it.
    #[serde(default)]
    pub conditions: LaneConditions,
    /// The services that have a lane version.
    #[cfg_attr(
        feature = "kube",
        schemars(
            length(min = 1, max = 4),
            extend("x-kubernetes-validations" = [
                {"rule": "self.all(m, self.exists_one(n, n.service == m.service))", "message": "each service appears once"}
            ])
        )
    )]
    pub members: Vec<LaneMember>,
    #[serde(default)]
    pub fallback: LaneFallback,
    /// After this instant (RFC 3339) the lane dyes nothing, as if disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::TIMESTAMP_PATTERN), length(max = 40)))]
    pub expires_at: Option<String>,
}

fn enabled_by_default() -> bool {
    true
}

/// `And`: every rule must match; `Or`: any rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
pub enum LaneOperator {
    And,
    #[default]
    Or,
}

/// The dyeing rules of a lane.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LaneConditions {
    #[serde(default)]
    pub operator: LaneOperator,
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 16)))]
    pub rules: Vec<LaneRule>,
}

/// One dyeing rule: exactly one of its fields is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "kube",
    schemars(extend("x-kubernetes-validations" = [
        {"rule": "[has(self.header), has(self.cookie), has(self.query), has(self.userIds), has(self.hash), has(self.percentage)].filter(x, x).size() == 1", "message": "set exactly one of header, cookie, query, userIds, hash, percentage"}
    ]))
)]
#[serde(rename_all = "camelCase")]
pub struct LaneRule {
    /// A request header is present (or has this value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<ValueMatch>,
    /// A cookie is present (or has this value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<ValueMatch>,
    /// A query parameter is present (or has this value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<ValueMatch>,
    /// The authenticated user is one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 1024), inner(length(min = 1, max = 128))))]
    pub user_ids: Option<Vec<String>>,
    /// `hash(stickyKey) % 100 < percent`: the same caller always lands in the same lane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<HashRule>,
    /// A random share of requests (not sticky), 0 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(range(min = 0, max = 100)))]
    pub percentage: Option<u32>,
}

/// A named value in a request; without `value` its presence matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ValueMatch {
    #[cfg_attr(
        feature = "kube",
        schemars(regex(pattern = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"), length(min = 1, max = 256))
    )]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 4096)))]
    pub value: Option<String>,
}

/// Sticky percentage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HashRule {
    /// `userId`, `header:<name>`, `cookie:<name>` or `query:<name>`.
    #[cfg_attr(
        feature = "kube",
        schemars(regex(pattern = r"^(userId|(header|cookie|query):[A-Za-z0-9!#$%&'*+.^_`|~-]+)$"), length(max = 263))
    )]
    pub sticky_key: String,
    /// Share of callers, 0 to 100.
    #[cfg_attr(feature = "kube", schemars(range(min = 0, max = 100)))]
    pub percent: u32,
}

/// Data-plane services a lane can have a version of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum DataPlaneService {
    Gateway,
    Chat,
    Relay,
    Rag,
}

impl DataPlaneService {
    /// The role name (`gateway`, `chat`, `relay`, `rag`).
    pub fn as_str(self) -> &'static str {
        match self {
            DataPlaneService::Gateway => "gateway",
            DataPlaneService::Chat => "chat",
            DataPlaneService::Relay => "relay",
            DataPlaneService::Rag => "rag",
        }
    }
}

/// One service's lane version: pods chosen by `selector` (in a cluster; the operator gives
/// them a Service) or a fixed `endpoint` (outside one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "kube",
    schemars(extend("x-kubernetes-validations" = [
        {"rule": "has(self.selector) != has(self.endpoint)", "message": "set exactly one of selector and endpoint"}
    ]))
)]
#[serde(rename_all = "camelCase")]
pub struct LaneMember {
    pub service: DataPlaneService,
    /// Labels of the lane version's pods, in the Lane's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(transform = crate::schema::label_map))]
    pub selector: Option<BTreeMap<String, String>>,
    /// The pods' port (with `selector`).
    #[serde(default = "default_port")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 65535)))]
    pub port: u16,
    /// A fixed base URL of the lane version, e.g. `http://10.0.0.7:8080`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "kube",
        schemars(
            length(max = 2048),
            extend("x-kubernetes-validations" = [
                {"rule": "self.matches('^https?://[^/?#@]+$')", "message": "endpoint is a base URL such as http://10.0.0.7:8080"}
            ])
        )
    )]
    pub endpoint: Option<String>,
}

fn default_port() -> u16 {
    8080
}

/// What a dyed request does when the lane has no ready member for the next hop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
pub enum LaneFallback {
    /// Use the baseline version; the tag stays so a later hop can re-enter the lane.
    #[default]
    Baseline,
    /// Fail the request (503) rather than leave the lane.
    Strict,
}

/// Readiness of one member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LaneMemberStatus {
    #[cfg_attr(feature = "kube", schemars(length(max = 16)))]
    pub service: String,
    /// Base URL hops use for the lane version.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 2048)))]
    pub endpoint: String,
    pub ready: bool,
    /// Ready endpoints behind `endpoint` (1 for a fixed endpoint).
    #[serde(default)]
    pub ready_endpoints: u32,
    /// Requests the lane version's pods served (pods reporting this lane's tag and the
    /// member's service), from their health reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<TrafficHealth>,
    /// The same for the service's baseline pods, to compare the canary against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_health: Option<TrafficHealth>,
}

/// Member readiness and fallback state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LaneStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Accepted`, `MembersReady`, `Expired` and `Ready`.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 16), transform = crate::schema::condition_list_map))]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 4)))]
    pub members: Vec<LaneMemberStatus>,
    /// `ready/total`, for `kubectl get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 16)))]
    pub members_ready: Option<String>,
    /// Some member is not ready and dyed requests use the baseline for it.
    #[serde(default)]
    pub falling_back: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncStatus>,
}
