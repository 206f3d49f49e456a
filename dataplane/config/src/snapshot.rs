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
    /// The active price of each public model, sorted by model name.
    pub prices: Vec<ModelPrice>,
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
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Openai => "openai",
            Provider::AzureOpenai => "azure-openai",
            Provider::OpenaiCompatible => "openai-compatible",
            Provider::Anthropic => "anthropic",
            Provider::Gemini => "gemini",
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
    /// `namespace/name` of the ModelPricing resource this price came from.
    pub source: String,
}

impl Snapshot {
    /// The active price of a public model, if any.
    pub fn price(&self, model: &str) -> Option<&ModelPrice> {
        self.prices.binary_search_by(|p| p.model.as_str().cmp(model)).ok().map(|i| &self.prices[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_from_a_newer_operator_with_unknown_fields_still_parse() {
        let json = r#"{"version":"v1","channels":[{"name":"a/b","provider":"openai","futureField":1}],"futureTop":true}"#;
        let snap: Snapshot = serde_json::from_str(json).unwrap_or_default();
        assert_eq!(snap.channels.len(), 1);
        assert_eq!(snap.channels[0].weight, 100);
    }

    #[test]
    fn api_keys_never_show_in_debug_output() {
        let channel = Channel { api_keys: vec![ApiKey("sk-secret".into())], ..Channel::default() };
        assert!(!format!("{channel:?}").contains("sk-secret"));
    }
}
