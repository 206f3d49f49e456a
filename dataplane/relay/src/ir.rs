//! The relay's internal representation of a chat request, response and stream.
//!
//! Every ingress dialect (OpenAI, Anthropic, Gemini) parses into these types and every provider
//! renders from them, so N dialects need 2N translations instead of N². The types are a superset
//! of what the three wire formats can express: anything one dialect carries that another cannot
//! (Anthropic thinking `signature`, Gemini `thoughtSignature`, cache-write tokens) has a field here
//! so it survives a round trip through a provider of the same family.

use serde_json::{Map, Value};

pub use oblivious_core::Dialect;

/// A chat request, independent of dialect.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    /// Public model name as the client asked for it.
    pub model: String,
    /// System instructions, in order (OpenAI `system`/`developer` messages, Anthropic `system`,
    /// Gemini `systemInstruction`). Kept separate so providers without a system role can fold it.
    pub system: Vec<String>,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolDefinition>,
    pub tool_choice: Option<ToolChoice>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u32>,
    pub stop: Vec<String>,
    pub stream: bool,
    /// The client asked for usage in the stream (OpenAI `stream_options.include_usage`). Anthropic
    /// and Gemini clients always get usage, so their parsers set this to true.
    pub include_usage: bool,
    /// Reasoning / extended thinking request, if any.
    pub reasoning: Option<ReasoningConfig>,
    /// End-user identifier the client passed (OpenAI `user`, Anthropic `metadata.user_id`).
    pub user: Option<String>,
    /// Fields of the client's own dialect that have no IR equivalent (e.g. OpenAI
    /// `response_format`, `seed`, `logprobs`). Forwarded only to a provider of the same dialect.
    pub passthrough: Option<(Dialect, Map<String, Value>)>,
    /// The client's request as sent, for dialects whose same-family provider takes it whole
    /// (the fidelity principle, Anthropic today): that provider gets this body with only the
    /// model replaced, so fields and beta features the IR does not model still reach it.
    pub original: Option<OriginalRequest>,
}

/// A client's request body and the headers of it a provider of its family honours.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginalRequest {
    pub dialect: Dialect,
    pub body: Map<String, Value>,
    /// e.g. `anthropic-beta`, `anthropic-version`; filled in by the ingress from the request.
    pub headers: Vec<(String, String)>,
}

/// How much the model may think before answering.
#[derive(Debug, Clone, PartialEq)]
pub enum ReasoningConfig {
    /// OpenAI-style effort: "minimal" | "low" | "medium" | "high".
    Effort(String),
    /// Anthropic / Gemini style token budget.
    BudgetTokens(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    /// A message carrying tool results (OpenAI `tool` role; Anthropic puts these in a user
    /// message; Gemini in a `function` / user turn).
    Tool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Part>,
}

/// One piece of message content.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    Image(Image),
    /// A call the assistant made. `arguments` is the JSON text of the arguments object.
    ToolCall {
        id: String,
        name: String,
        arguments: String,
    },
    /// The result of a call, sent back by the client. `name` is known for OpenAI `tool`
    /// messages only through the matching call; parsers fill it in when they can (Gemini needs it).
    ToolResult {
        tool_call_id: String,
        name: Option<String>,
        content: String,
        is_error: bool,
    },
    /// Model reasoning. `signature` is Anthropic's `signature` or Gemini's `thoughtSignature`,
    /// which must be sent back verbatim on the next turn.
    Reasoning {
        text: String,
        signature: Option<String>,
    },
    /// Anthropic `redacted_thinking`: opaque data that must be returned unchanged.
    RedactedReasoning {
        data: String,
    },
}

/// An image, either by URL or inline base64 data.
#[derive(Debug, Clone, PartialEq)]
pub enum Image {
    Url(String),
    Base64 { media_type: String, data: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolDefinition {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the parameters object.
    pub parameters: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    Auto,
    None,
    /// The model must call some tool.
    Required,
    /// The model must call this tool.
    Tool(String),
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FinishReason {
    #[default]
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    /// Anthropic `stop_sequence` is reported as `Stop` plus this marker where a dialect can say it.
    StopSequence,
}

pub use oblivious_runtime::usage::Usage;

/// A complete (non-streaming) answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatResponse {
    pub id: String,
    pub model: String,
    /// Text, reasoning and tool calls in the order the model produced them.
    pub content: Vec<Part>,
    pub finish_reason: FinishReason,
    pub usage: Option<Usage>,
    /// The stop sequence that ended generation, when the provider says.
    pub stop_sequence: Option<String>,
}

/// One event of a streamed answer, produced by provider stream decoders and consumed by client
/// stream encoders. Decoders emit `ToolCallStart` before any `ToolCallDelta` of the same index.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    TextDelta(String),
    ReasoningDelta {
        text: String,
    },
    /// Signature of the reasoning block just streamed (Anthropic `signature_delta`, Gemini
    /// `thoughtSignature`).
    ReasoningSignature(String),
    RedactedReasoning(String),
    /// A new tool call. `index` counts tool calls within this answer from 0.
    ToolCallStart {
        index: u32,
        id: String,
        name: String,
    },
    ToolCallDelta {
        index: u32,
        arguments: String,
    },
    Finish {
        reason: FinishReason,
        stop_sequence: Option<String>,
    },
    /// Cumulative usage so far: the last one wins, never summed.
    Usage(Usage),
}
