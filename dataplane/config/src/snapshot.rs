use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Everything a relay needs to route and bill, for one tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Snapshot {
    /// Hash of the canonical content: equal content, equal version.
    pub version: String,
    /// Channels sorted by name.
    pub channels: Vec<Channel>,
    /// Every price of every public model, sorted by model name then `effective_from`; the
    /// active one is picked at request time (`Snapshot::price`), so a scheduled price change
    /// takes effect on time without a recompile.
    pub prices: Vec<ModelPrice>,
    /// Rate limits per user group, sorted by group then model.
    pub group_limits: Vec<GroupLimit>,
    /// The model a blank chat of a user group starts with (`ModelPricing.groupDefaultModels`).
    pub group_default_models: BTreeMap<String, String>,
    /// Published agents (the `Agent` resources), sorted by name.
    pub agents: Vec<Agent>,
    /// MCP servers agents may call (the `ToolServer` resources), sorted by name.
    pub tool_servers: Vec<ToolServer>,
    /// Enabled canary lanes, sorted by priority (highest first), then name.
    pub lanes: Vec<Lane>,
    /// Settings of the tenant this snapshot is for (absent outside a cluster).
    pub tenant: Option<TenantSettings>,
}

/// A canary lane the edge evaluates (`Lane` resource).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Lane {
    /// `namespace/name` of the Lane resource.
    pub name: String,
    /// The value of `x-oblivious-lane`.
    pub tag: String,
    pub priority: i32,
    /// How `rules` combine; with no rules only callers allowed to pick a lane reach it.
    pub operator: LaneOperator,
    pub rules: Vec<LaneRule>,
    /// Lane versions per service, sorted by service.
    pub members: Vec<LaneMember>,
    pub fallback: LaneFallback,
    /// Milliseconds since the epoch after which the lane dyes nothing.
    pub expires_at_ms: Option<i64>,
}

/// `And` / `Or`. `Unknown` is what an older pod reads for an operator's newer variant: such a
/// lane must not match (the edge treats it as disabled).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LaneOperator {
    And,
    #[default]
    Or,
    #[serde(other)]
    Unknown,
}

/// One dyeing rule; exactly one field is set. A rule with none set (a newer kind of rule, seen
/// by an older pod) never matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LaneRule {
    pub header: Option<ValueMatch>,
    pub cookie: Option<ValueMatch>,
    pub query: Option<ValueMatch>,
    /// Sorted.
    pub user_ids: Option<Vec<String>>,
    pub hash: Option<HashRule>,
    /// 0 to 100, random per request.
    pub percentage: Option<u32>,
}

/// A named request value; without `value`, presence matches. Header names are lowercase.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ValueMatch {
    pub name: String,
    pub value: Option<String>,
}

/// `hash(sticky key) % 100 < percent`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HashRule {
    /// `userId`, `header:<name>`, `cookie:<name>` or `query:<name>`.
    pub sticky_key: String,
    pub percent: u32,
}

/// A service's lane version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LaneMember {
    /// `gateway`, `chat`, `relay` or `rag`.
    pub service: String,
    /// Base URL of the lane version (empty while unknown).
    pub endpoint: String,
    /// Whether the lane version has a ready instance; hops use the baseline (or fail, for
    /// `Strict`) when it has none.
    pub ready: bool,
}

/// What a dyed request does when the next hop's member is not ready.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LaneFallback {
    #[default]
    Baseline,
    Strict,
    /// A newer variant: treated as `Baseline`, the safe choice for a request.
    #[serde(other)]
    Unknown,
}

/// Per-tenant settings (`Tenant` resource).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TenantSettings {
    /// The Tenant's name.
    pub name: String,
    /// Monthly spending limit, if any.
    pub budget: Option<Budget>,
}

/// A monthly spending limit in micro-units of `currency`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Budget {
    pub currency: String,
    pub monthly_limit_micros: u64,
}

/// A published assistant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Agent {
    /// `namespace/name` of the Agent resource.
    pub name: String,
    pub display_name: String,
    pub avatar: Option<String>,
    pub description: String,
    pub system_prompt: String,
    pub model: String,
    pub fallback_models: Vec<String>,
    /// Temperature in thousandths (`700` = 0.7).
    pub temperature_milli: Option<u32>,
    /// Top-p in thousandths.
    pub top_p_milli: Option<u32>,
    pub max_tokens: Option<u32>,
    pub opening_message: Option<String>,
    pub opening_questions: Vec<String>,
    /// What the agent may call: `namespace/server` (every tool the server allows) or
    /// `namespace/server/tool`, naming `ToolServer`s of the snapshot.
    pub tools: Vec<String>,
    pub knowledge_bases: Vec<String>,
    /// User groups that see the agent; empty means everyone.
    pub groups: Vec<String>,
    pub tags: Vec<String>,
}

/// An MCP server whose tools agents may call (`ToolServer` resource). `Debug` shows header
/// names and environment names only: their values may be secrets.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ToolServer {
    /// `namespace/name` of the ToolServer resource; the name agents refer to it by.
    pub name: String,
    /// Streamable HTTP endpoint (e.g. `https://tools.example.com/mcp`); empty for stdio.
    pub url: String,
    /// Program and arguments of a stdio server (only honoured by single-process roles such as
    /// `oblivious dev`); empty for HTTP.
    pub command: Vec<String>,
    /// Environment of a stdio server's process.
    pub env: BTreeMap<String, String>,
    /// Headers sent with every HTTP request (e.g. `authorization`), secrets already resolved.
    /// Never logged, never shown in status.
    pub headers: BTreeMap<String, String>,
    /// Tool names offered to models; empty means every tool the server lists.
    pub allowed_tools: Vec<String>,
    /// Tools whose calls wait for the user's approval before they run.
    pub approval_tools: Vec<String>,
    /// Longest a tool call may take, in milliseconds.
    pub call_timeout_ms: u64,
    /// User groups that may use the server; empty means every group.
    pub groups: Vec<String>,
}

impl fmt::Debug for ToolServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolServer")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("command", &self.command)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("allowed_tools", &self.allowed_tools)
            .field("approval_tools", &self.approval_tools)
            .field("call_timeout_ms", &self.call_timeout_ms)
            .field("groups", &self.groups)
            .finish()
    }
}

impl ToolServer {
    /// Whether models may be offered `tool` of this server.
    pub fn allows(&self, tool: &str) -> bool {
        self.allowed_tools.is_empty() || self.allowed_tools.iter().any(|t| t == tool)
    }

    /// Whether users of `group` may use this server.
    pub fn open_to(&self, group: &str) -> bool {
        self.groups.is_empty() || self.groups.iter().any(|g| g == group)
    }

    /// Whether a call of `tool` waits for the user's approval.
    pub fn needs_approval(&self, tool: &str) -> bool {
        self.approval_tools.iter().any(|t| t == tool)
    }
}

/// Upstream provider kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    Openai,
    AzureOpenai,
    OpenaiCompatible,
    Anthropic,
    Gemini,
    /// Google Vertex AI: the Gemini wire format behind a service account's OAuth token.
    VertexAi,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Openai => "openai",
            Provider::AzureOpenai => "azure-openai",
            Provider::OpenaiCompatible => "openai-compatible",
            Provider::Anthropic => "anthropic",
            Provider::Gemini => "gemini",
            Provider::VertexAi => "vertex-ai",
        }
    }
}

/// One upstream endpoint with its keys and the models it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Channel {
    /// `namespace/name` of the Channel resource; unique within a snapshot.
    pub name: String,
    pub provider: Provider,
    /// Base URL as written in the manifest, without a trailing slash.
    pub base_url: String,
    /// One or more keys; multi-key channels rotate between them.
    pub api_keys: Vec<ApiKey>,
    pub models: Vec<ModelRoute>,
    /// Higher tiers are tried first.
    pub priority: i32,
    /// Share of traffic inside a tier.
    pub weight: u32,
    /// User groups allowed to use this channel; empty means every group.
    pub groups: Vec<String>,
    pub timeouts: Timeouts,
    pub suspend: bool,
    pub quirks: Quirks,
    /// Extra headers sent upstream with every request.
    pub headers: BTreeMap<String, String>,
    /// Azure OpenAI `api-version` query parameter.
    pub api_version: Option<String>,
    /// The canary lane this channel serves exclusively; empty for a baseline channel.
    pub lane: String,
    /// Send the request's trace context and baggage upstream (a provider inside the platform's
    /// own tracing); external providers get neither by default.
    pub propagate_trace: bool,
    /// Project and region of a `vertex-ai` channel (whose key is a service-account JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vertex: Option<VertexTarget>,
}

/// Where a Vertex AI channel's models live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VertexTarget {
    pub project: String,
    /// Region (`us-central1`) or `global`.
    pub location: String,
}

impl Default for Channel {
    fn default() -> Self {
        Channel {
            name: String::new(),
            provider: Provider::Openai,
            base_url: String::new(),
            api_keys: Vec::new(),
            models: Vec::new(),
            priority: 0,
            weight: 100,
            groups: Vec::new(),
            timeouts: Timeouts::default(),
            suspend: false,
            quirks: Quirks::default(),
            headers: BTreeMap::new(),
            api_version: None,
            lane: String::new(),
            propagate_trace: false,
            vertex: None,
        }
    }
}

/// A public model name served by a channel, and what the upstream calls it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ModelRoute {
    pub name: String,
    /// Defaults to `name`.
    pub upstream_model: String,
}

/// Per-channel deadlines, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Timeouts {
    /// TCP + TLS connect.
    pub connect_ms: u64,
    /// From sending the request to the first useful byte of the answer.
    pub first_byte_ms: u64,
    /// Longest silence allowed between two chunks of a stream.
    pub stream_idle_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { connect_ms: 5_000, first_byte_ms: 60_000, stream_idle_ms: 120_000 }
    }
}

/// Known deviations of OpenAI-compatible servers from the OpenAI API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Quirks {
    /// The server fails on `stream_options` (older vLLM, some Ollama builds): never send it;
    /// usage then comes only if the server volunteers it, else it is counted locally.
    pub rejects_stream_options: bool,
    /// The server wants `max_tokens` rather than `max_completion_tokens`.
    pub legacy_max_tokens: bool,
    /// The server rejects the `system` role; system prompts are folded into the first user turn.
    pub no_system_role: bool,
}

/// A provider key. Its `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(pub String);

impl ApiKey {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Prices of one model, in micro-units of `currency` per one million tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ModelPrice {
    pub model: String,
    pub currency: String,
    pub input: u64,
    pub output: u64,
    /// Defaults to `input` when absent.
    pub cached_input: Option<u64>,
    /// Defaults to `input` when absent.
    pub cache_write: Option<u64>,
    /// Defaults to `output` when absent.
    pub reasoning: Option<u64>,
    /// Flat micro-units per request.
    pub per_request: u64,
    /// Micro-units per generated image (images endpoints), unless an `image_prices` entry
    /// matches the request's size and quality.
    pub per_image: u64,
    /// Per-image prices by size and/or quality (`ModelPrice::image_price`).
    pub image_prices: Vec<ImagePrice>,
    /// Micro-units per second of input audio (transcriptions, translations), charged by the
    /// millisecond.
    pub per_audio_second: u64,
    /// Micro-units per 1,000 characters of text turned into speech, charged by the character.
    pub per_thousand_characters: u64,
    /// Micro-units per search unit (rerank: one query over up to 100 documents).
    pub per_search: u64,
    /// Long-context tiers, sorted by threshold.
    pub tiers: Vec<PriceTier>,
    /// Multiplier per user group in parts per million (`1_000_000` = 1x); absent groups pay 1x.
    pub group_multipliers_ppm: BTreeMap<String, u64>,
    /// Milliseconds since the epoch from which this price applies (0: always).
    pub effective_from: i64,
    /// `namespace/name` of the ModelPricing resource this price came from.
    pub source: String,
}

/// The price of one image of a given size and/or quality; an absent field matches any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ImagePrice {
    /// `1024x1024`, `1536x1024`, ... as the request (or the answer) names it.
    pub size: Option<String>,
    /// `standard`, `hd`, `low`, `medium`, `high`, ...
    pub quality: Option<String>,
    pub per_image: u64,
}

/// Prices that replace the base ones when a request's input exceeds `above_input_tokens`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PriceTier {
    pub above_input_tokens: u64,
    pub input: u64,
    pub output: u64,
    pub cached_input: Option<u64>,
    pub cache_write: Option<u64>,
}

/// A rate limit for a user group: per user (no `model`) or for the whole group on one model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GroupLimit {
    pub group: String,
    pub model: Option<String>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
}

impl ModelPrice {
    /// The multiplier of `group` in parts per million.
    pub fn multiplier_ppm(&self, group: &str) -> u64 {
        self.group_multipliers_ppm.get(group).copied().unwrap_or(1_000_000)
    }

    /// The price of one image made at `size` and `quality`: the `image_prices` entry naming
    /// both, else one naming the one that matches (size before quality), else `per_image`.
    pub fn image_price(&self, size: Option<&str>, quality: Option<&str>) -> u64 {
        let matches = |want: &Option<String>, got: Option<&str>| want.as_deref().is_none_or(|w| Some(w) == got);
        self.image_prices
            .iter()
            .filter(|p| matches(&p.size, size) && matches(&p.quality, quality))
            .max_by_key(|p| (p.size.is_some() && p.quality.is_some(), p.size.is_some()))
            .map_or(self.per_image, |p| p.per_image)
    }
}

impl Snapshot {
    /// The price of a public model in effect at `now_ms`: the latest `effective_from` not after it.
    pub fn price(&self, model: &str, now_ms: i64) -> Option<&ModelPrice> {
        let start = self.prices.partition_point(|p| p.model.as_str() < model);
        self.prices[start..].iter().take_while(|p| p.model == model).filter(|p| p.effective_from <= now_ms).last()
    }

    /// The per-user limit of a group (all models), if any.
    pub fn user_limit(&self, group: &str) -> Option<&GroupLimit> {
        self.group_limits.iter().find(|l| l.group == group && l.model.is_none())
    }

    /// The whole group's limit on one model, if any.
    pub fn group_model_limit(&self, group: &str, model: &str) -> Option<&GroupLimit> {
        self.group_limits.iter().find(|l| l.group == group && l.model.as_deref() == Some(model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_from_a_newer_operator_with_unknown_fields_still_parse() {
        let json =
            r#"{"version":"v1","channels":[{"name":"a/b","provider":"openai","futureField":1}],"futureTop":true}"#;
        let snap: Snapshot = serde_json::from_str(json).unwrap_or_default();
        assert_eq!(snap.channels.len(), 1);
        assert_eq!(snap.channels[0].weight, 100);
    }

    #[test]
    fn the_price_in_effect_is_the_latest_one_not_in_the_future() {
        let price = |model: &str, from: i64, input: u64| ModelPrice {
            model: model.into(),
            input,
            effective_from: from,
            ..ModelPrice::default()
        };
        let snap = Snapshot {
            prices: vec![
                price("a", 0, 1),
                price("b", 0, 10),
                price("b", 100, 20),
                price("b", 200, 30),
                price("c", 50, 5),
            ],
            ..Snapshot::default()
        };
        assert_eq!(snap.price("b", 150).map(|p| p.input), Some(20));
        assert_eq!(snap.price("b", 99).map(|p| p.input), Some(10));
        assert_eq!(snap.price("b", 200).map(|p| p.input), Some(30));
        assert_eq!(snap.price("c", 10), None, "not yet effective");
        assert_eq!(snap.price("zzz", 10), None);
        assert_eq!(snap.price("a", 0).map(|p| p.multiplier_ppm("vip")), Some(1_000_000));
    }

    #[test]
    fn the_most_specific_image_price_wins_and_unmatched_images_pay_the_base_price() {
        let entry = |size: Option<&str>, quality: Option<&str>, per_image| ImagePrice {
            size: size.map(str::to_string),
            quality: quality.map(str::to_string),
            per_image,
        };
        let price = ModelPrice {
            per_image: 40_000,
            image_prices: vec![
                entry(None, Some("hd"), 80_000),
                entry(Some("1024x1792"), None, 80_000),
                entry(Some("1024x1792"), Some("hd"), 120_000),
            ],
            ..ModelPrice::default()
        };
        assert_eq!(price.image_price(Some("1024x1024"), Some("standard")), 40_000);
        assert_eq!(price.image_price(None, None), 40_000);
        assert_eq!(price.image_price(Some("1024x1024"), Some("hd")), 80_000);
        assert_eq!(price.image_price(Some("1024x1792"), None), 80_000);
        assert_eq!(price.image_price(Some("1024x1792"), Some("hd")), 120_000);
        let old: ModelPrice = serde_json::from_str(r#"{"model":"m","input":1}"#).unwrap_or_default();
        assert_eq!((old.per_image, old.image_prices.len(), old.per_audio_second), (0, 0, 0), "older snapshots parse");
    }

    #[test]
    fn lanes_with_variants_from_a_newer_operator_still_parse() {
        let json =
            r#"{"version":"v","lanes":[{"tag":"gray","operator":"Xor","fallback":"Mirror","rules":[{"geo":"eu"}]}]}"#;
        let snap: Snapshot = serde_json::from_str(json).unwrap_or_default();
        assert_eq!(snap.lanes.len(), 1, "an unknown variant must not fail the whole snapshot");
        assert_eq!(snap.lanes[0].operator, LaneOperator::Unknown);
        assert_eq!(snap.lanes[0].fallback, LaneFallback::Unknown);
        assert_eq!(snap.lanes[0].rules[0], LaneRule::default());
    }

    #[test]
    fn api_keys_never_show_in_debug_output() {
        let channel = Channel { api_keys: vec![ApiKey("sk-secret".into())], ..Channel::default() };
        assert!(!format!("{channel:?}").contains("sk-secret"));
    }
}
