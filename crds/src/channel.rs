use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::status::{ChannelHealth, Condition, SyncStatus};

/// `spec` of a `Channel`: one upstream provider endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(kube::CustomResource, schemars::JsonSchema))]
#[cfg_attr(
    feature = "kube",
    kube(
        group = "oblivious.dev",
        version = "v1alpha1",
        kind = "Channel",
        namespaced,
        status = "ChannelStatus",
        derive = "PartialEq",
        shortname = "ch",
        category = "oblivious",
        doc = "One upstream provider endpoint (OpenAI, Azure OpenAI, Anthropic, Gemini or an OpenAI-compatible server) and the models it serves.",
        printcolumn(name = "Provider", type_ = "string", json_path = ".spec.provider"),
        printcolumn(name = "Models", type_ = "string", json_path = ".status.models"),
        printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
        printcolumn(
            name = "Reason",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
            priority = 1
        ),
        printcolumn(
            name = "Healthy",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Healthy\")].status"
        ),
        printcolumn(name = "Success", type_ = "string", json_path = ".status.health.successRate"),
        printcolumn(name = "P50 ms", type_ = "integer", json_path = ".status.health.latencyP50Ms", priority = 1),
        printcolumn(name = "P99 ms", type_ = "integer", json_path = ".status.health.latencyP99Ms"),
        printcolumn(name = "Synced", type_ = "integer", json_path = ".status.sync.ackedPods", priority = 1),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )
)]
#[cfg_attr(
    feature = "kube",
    schemars(extend("x-kubernetes-validations" = [
        {"rule": "self.provider != 'azure-openai' || has(self.apiVersion)", "message": "provider azure-openai needs apiVersion (the api-version query parameter)", "fieldPath": ".apiVersion", "reason": "FieldValueRequired"},
        {"rule": "!has(self.apiVersion) || self.provider == 'azure-openai'", "message": "apiVersion is only used by provider azure-openai", "fieldPath": ".apiVersion"},
        {"rule": "self.provider != 'vertex-ai' || has(self.vertex)", "message": "provider vertex-ai needs vertex (project and location)", "fieldPath": ".vertex", "reason": "FieldValueRequired"},
        {"rule": "!has(self.vertex) || self.provider == 'vertex-ai'", "message": "vertex is only used by provider vertex-ai", "fieldPath": ".vertex"},
        {"rule": "self.provider == 'vertex-ai' || has(self.baseUrl)", "message": "baseUrl is required (only vertex-ai has a default: its regional endpoint)", "fieldPath": ".baseUrl", "reason": "FieldValueRequired"}
    ]))
)]
#[serde(rename_all = "camelCase")]
pub struct ChannelSpec {
    /// Wire protocol of the upstream.
    pub provider: ProviderKind,
    /// `https://…`, `http://…`, or `builtin://mock-upstream` for the mock built into `oblivious dev`.
    /// Required except for `vertex-ai`, which defaults to `https://{location}-aiplatform.googleapis.com`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(
        feature = "kube",
        schemars(
            length(min = 1, max = 2048),
            extend("x-kubernetes-validations" = [
                {"rule": "self.matches('^(https?://[^/?#@]+|builtin://mock-upstream)([/][^?#]*)?$')", "message": "baseUrl must be an http(s) URL (or builtin://mock-upstream) without credentials, query or fragment"}
            ])
        )
    )]
    pub base_url: String,
    /// The Secret key holding the provider key(s), in the Channel's namespace. For `vertex-ai`,
    /// the whole value is one service-account JSON key (as `gcloud iam service-accounts keys
    /// create` writes it).
    pub api_key_secret_ref: SecretKeyRef,
    /// Public model names this channel serves.
    #[cfg_attr(
        feature = "kube",
        schemars(
            length(min = 1, max = 256),
            extend("x-kubernetes-validations" = [
                {"rule": "self.all(m, self.exists_one(n, n.name == m.name))", "message": "model names must be unique"}
            ])
        )
    )]
    pub models: Vec<ChannelModel>,
    /// Tier: higher priorities are tried first.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(range(min = -1000, max = 1000)))]
    pub priority: i32,
    /// Share of traffic inside a tier.
    #[serde(default = "default_weight")]
    #[cfg_attr(feature = "kube", schemars(range(min = 0, max = 1_000_000)))]
    pub weight: u32,
    /// User groups allowed to use the channel; empty means every group.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 64), inner(length(min = 1, max = 63))))]
    pub groups: Vec<String>,
    #[serde(default)]
    pub timeouts: ChannelTimeouts,
    /// Take the channel out of routing without deleting it.
    #[serde(default)]
    pub suspend: bool,
    #[serde(default)]
    pub quirks: ChannelQuirks,
    /// Extra headers sent upstream with every request.
    #[serde(default)]
    #[cfg_attr(
        feature = "kube",
        schemars(
            transform = crate::schema::bounded_string_map::<32, 256, 4096>,
            extend("x-kubernetes-validations" = [
                {"rule": "self.all(k, !(k.lowerAscii() in ['authorization', 'x-api-key', 'api-key', 'x-goog-api-key']))", "message": "provider keys come from apiKeySecretRef, not from headers"}
            ])
        )
    )]
    pub headers: BTreeMap<String, String>,
    /// Azure OpenAI `api-version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 64)))]
    pub api_version: Option<String>,
    /// A canary lane's channel: it serves only requests dyed with this lane tag, which prefer
    /// it over baseline channels for its models (and fall back to them unless the lane is
    /// `Strict`). Unset: a baseline channel, which lane requests use for models their lane has
    /// no channel for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DNS_LABEL_PATTERN), length(min = 1, max = 63)))]
    pub lane: Option<String>,
    /// Send the request's W3C trace context (`traceparent`) and `baggage` to this upstream, for
    /// a provider inside your own tracing (a self-hosted vLLM behind an instrumented proxy).
    /// Off by default: an external provider gets neither.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub propagate_trace: bool,
    /// Project and location of a `vertex-ai` channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertex: Option<VertexSpec>,
}

/// Where a Vertex AI channel's models live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct VertexSpec {
    /// Google Cloud project id.
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"), length(max = 30)))]
    pub project: String,
    /// Region such as `us-central1`, or `global`.
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^[a-z][a-z0-9-]{0,62}$"), length(max = 63)))]
    pub location: String,
}

fn default_weight() -> u32 {
    100
}

/// Upstream wire protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    Openai,
    AzureOpenai,
    OpenaiCompatible,
    Anthropic,
    Gemini,
    VertexAi,
}

impl ProviderKind {
    /// The name as written in a manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::AzureOpenai => "azure-openai",
            ProviderKind::OpenaiCompatible => "openai-compatible",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::VertexAi => "vertex-ai",
        }
    }
}

/// A key inside a Secret. The value may hold several provider keys, one per line (or comma
/// separated); the channel then rotates between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
pub struct SecretKeyRef {
    /// Secret name, in the referring resource's namespace.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 253)))]
    pub name: String,
    /// Key inside the Secret's data.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 253)))]
    pub key: String,
}

/// A public model and what the upstream calls it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChannelModel {
    /// Public model name clients ask for.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 256)))]
    pub name: String,
    /// Name the upstream knows the model by; defaults to `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 256)))]
    pub upstream_model: Option<String>,
}

/// Durations as Go-style strings: `500ms`, `5s`, `2m`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChannelTimeouts {
    /// TCP + TLS connect.
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DURATION_PATTERN), length(max = 32)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<String>,
    /// Request sent to first useful byte of the answer.
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DURATION_PATTERN), length(max = 32)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte: Option<String>,
    /// Longest silence between two chunks of a stream.
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DURATION_PATTERN), length(max = 32)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_idle: Option<String>,
}

/// Known deviations of OpenAI-compatible servers from the OpenAI API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChannelQuirks {
    /// Never send `stream_options` (older vLLM, some Ollama builds).
    #[serde(default)]
    pub rejects_stream_options: bool,
    /// Send `max_tokens` rather than `max_completion_tokens`.
    #[serde(default)]
    pub legacy_max_tokens: bool,
    /// Fold system prompts into the first user turn.
    #[serde(default)]
    pub no_system_role: bool,
}

/// What the operator observed about a Channel. Keys never appear here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChannelStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Accepted`, `ResolvedRefs`, `Programmed`, `Ready` and `Healthy`.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 16), transform = crate::schema::condition_list_map))]
    pub conditions: Vec<Condition>,
    /// The served model names, for `kubectl get` (`a, b (+3)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 256)))]
    pub models: Option<String>,
    /// How many provider keys the Secret holds (never the keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<u32>,
    /// The data plane's uptake of the config containing this channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncStatus>,
    /// Success rate, latency and ejections over the last minutes, from the relay pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<ChannelHealth>,
}
