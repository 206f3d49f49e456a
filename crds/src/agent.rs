use serde::{Deserialize, Serialize};

use crate::status::{Condition, SyncStatus};

/// `spec` of an `Agent`: a published assistant in the chat catalog. Users also create private
/// agents in the chat UI (stored in the database); these are the curated ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(kube::CustomResource, schemars::JsonSchema))]
#[cfg_attr(
    feature = "kube",
    kube(
        group = "oblivious.dev",
        version = "v1alpha1",
        kind = "Agent",
        namespaced,
        status = "AgentStatus",
        derive = "PartialEq",
        shortname = "ag",
        category = "oblivious",
        doc = "A published assistant of the chat catalog: prompt, model and fallbacks, parameters, tools and knowledge bases.",
        printcolumn(name = "Display Name", type_ = "string", json_path = ".spec.displayName"),
        printcolumn(name = "Model", type_ = "string", json_path = ".spec.model"),
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
        {"rule": "!(self.model in self.fallbackModels)", "message": "fallbackModels must not repeat model", "fieldPath": ".fallbackModels"}
    ]))
)]
#[serde(rename_all = "camelCase")]
pub struct AgentSpec {
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 128)))]
    pub display_name: String,
    /// An emoji or an image URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 2048)))]
    pub avatar: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 4096)))]
    pub description: String,
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 65536)))]
    pub system_prompt: String,
    /// Public model name; must be served by some Channel.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 256)))]
    pub model: String,
    /// Tried in order when `model` has no available channel.
    #[serde(default)]
    #[cfg_attr(
        feature = "kube",
        schemars(
            length(max = 8),
            inner(length(min = 1, max = 256)),
            extend("x-kubernetes-validations" = [
                {"rule": "self.all(m, self.exists_one(n, n == m))", "message": "fallback models must be unique"}
            ])
        )
    )]
    pub fallback_models: Vec<String>,
    #[serde(default)]
    pub parameters: AgentParameters,
    /// The assistant's first message in a new topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 4096)))]
    pub opening_message: Option<String>,
    /// Suggested first questions shown to the user.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 8), inner(length(max = 512))))]
    pub opening_questions: Vec<String>,
    /// MCP tools the agent may call, from `ToolServer`s of its tenant. The number of `/`s
    /// decides what an entry means, never which resources exist: `server` (every tool that
    /// ToolServer of the Agent's namespace allows), `server/tool` (one tool of it) or
    /// `namespace/server/tool` (one tool of a ToolServer in another namespace). The tool `*`
    /// means every tool, so `namespace/server/*` names a whole server elsewhere. Each entry must
    /// name an existing ToolServer and a tool its `allowedTools` allows.
    #[serde(default)]
    #[cfg_attr(
        feature = "kube",
        schemars(
            length(max = 64),
            inner(regex(pattern = r"^[^/\s]+(/[^/\s]+){0,2}$"), length(min = 1, max = 512)),
            extend("x-kubernetes-validations" = [
                {"rule": "self.all(m, self.exists_one(n, n == m))", "message": "tools must be unique"}
            ])
        )
    )]
    pub tools: Vec<String>,
    /// Ids of knowledge bases an administrator made in the web UI (shown on the base's page),
    /// searched for every question asked in the agent's sessions, by any user who may see the
    /// agent. A base that is gone or not an administrator's is skipped (and logged).
    #[serde(default)]
    #[cfg_attr(
        feature = "kube",
        schemars(length(max = 10), inner(regex(pattern = crate::schema::UUID_PATTERN), length(max = 36)))
    )]
    pub knowledge_bases: Vec<String>,
    /// User groups that see the agent; empty means everyone.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 64), inner(length(max = 63))))]
    pub groups: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 32), inner(length(max = 63))))]
    pub tags: Vec<String>,
}

/// Sampling parameters as decimal strings (no floats in a spec).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentParameters {
    /// `0` to `2`, e.g. `"0.7"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^(2(\.0{1,3})?|[01](\.[0-9]{1,3})?)$"), length(max = 5)))]
    pub temperature: Option<String>,
    /// `0` to `1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^(1(\.0{1,3})?|0(\.[0-9]{1,3})?)$"), length(max = 5)))]
    pub top_p: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 10_000_000)))]
    pub max_tokens: Option<u32>,
}

/// Whether the agent can answer: its models are served.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Accepted`, `ResolvedRefs` and `Ready`.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 16), transform = crate::schema::condition_list_map))]
    pub conditions: Vec<Condition>,
    /// The data plane's uptake of the config containing this agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncStatus>,
}
