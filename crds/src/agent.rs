use serde::Deserialize;

/// `spec` of an `Agent`: a published assistant in the chat catalog. Users also create private
/// agents in the chat UI (stored in the database); these are the curated ones.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentSpec {
    pub display_name: String,
    /// An emoji or an image URL.
    #[serde(default)]
    pub avatar: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub system_prompt: String,
    /// Public model name; must be served by some Channel.
    pub model: String,
    /// Tried in order when `model` has no available channel.
    #[serde(default)]
    pub fallback_models: Vec<String>,
    #[serde(default)]
    pub parameters: AgentParameters,
    /// The assistant's first message in a new topic.
    #[serde(default)]
    pub opening_message: Option<String>,
    /// Suggested first questions shown to the user.
    #[serde(default)]
    pub opening_questions: Vec<String>,
    /// Tool names the agent may call.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Knowledge bases searched for every question (RAG).
    #[serde(default)]
    pub knowledge_bases: Vec<String>,
    /// User groups that see the agent; empty means everyone.
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Sampling parameters as decimal strings (no floats in a spec).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentParameters {
    /// `0` to `2`, e.g. `"0.7"`.
    #[serde(default)]
    pub temperature: Option<String>,
    /// `0` to `1`.
    #[serde(default)]
    pub top_p: Option<String>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
}
