use std::collections::BTreeMap;

use serde::Deserialize;

/// `spec` of a `Channel`: one upstream provider endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelSpec {
    pub provider: ProviderKind,
    pub base_url: String,
    pub api_key_secret_ref: SecretKeyRef,
    pub models: Vec<ChannelModel>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default = "default_weight")]
    pub weight: u32,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub timeouts: ChannelTimeouts,
    #[serde(default)]
    pub suspend: bool,
    #[serde(default)]
    pub quirks: ChannelQuirks,
    /// Extra headers sent upstream with every request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Azure OpenAI `api-version`.
    #[serde(default)]
    pub api_version: Option<String>,
}

fn default_weight() -> u32 {
    100
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    Openai,
    AzureOpenai,
    OpenaiCompatible,
    Anthropic,
    Gemini,
}

/// A key inside a Secret. The value may hold several provider keys, one per line (or comma
/// separated); the channel then rotates between them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyRef {
    pub name: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelModel {
    /// Public model name clients ask for.
    pub name: String,
    /// Name the upstream knows the model by; defaults to `name`.
    #[serde(default)]
    pub upstream_model: Option<String>,
}

/// Durations as Go-style strings: `500ms`, `5s`, `2m`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelTimeouts {
    pub connect: Option<String>,
    pub first_byte: Option<String>,
    pub stream_idle: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelQuirks {
    #[serde(default)]
    pub rejects_stream_options: bool,
    #[serde(default)]
    pub legacy_max_tokens: bool,
    #[serde(default)]
    pub no_system_role: bool,
}
