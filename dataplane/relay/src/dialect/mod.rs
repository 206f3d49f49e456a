//! Wire-format translation: one module per dialect, each with both directions.
//!
//! - *Ingress* (a client speaking the dialect): parse its request into [`ChatRequest`], render a
//!   [`ChatResponse`] back, and encode [`StreamEvent`]s as the dialect's SSE frames.
//! - *Provider* (an upstream speaking the dialect): build the upstream HTTP request from a
//!   [`ChatRequest`], parse its answer, decode its SSE stream into [`StreamEvent`]s, and classify
//!   its errors for failover.
//!
//! This file only dispatches; the dialect modules own every detail of their format.

pub mod anthropic;
mod content;
mod fields;
pub mod gemini;
pub mod openai;
pub mod responses;
pub mod vertex;

use bytes::Bytes;
use oblivious_config::{ApiKey, Channel, Provider};
use oblivious_core::sse::SseEvent;
use oblivious_core::{ApiError, Dialect, ErrorKind};

use crate::ir::{ChatRequest, ChatResponse, StreamEvent, Usage};

/// What the ingress side knows about the request, for parsing.
#[derive(Debug, Clone, Copy, Default)]
pub struct IngressHints<'a> {
    /// Model taken from the URL (Gemini `/v1beta/models/{model}:generateContent`).
    pub model_from_path: Option<&'a str>,
    /// Streaming chosen by the URL (Gemini `:streamGenerateContent`).
    pub stream_from_path: bool,
}

/// Parses a client's request body. Errors are 400s naming the offending field.
pub fn parse_request(dialect: Dialect, body: &[u8], hints: IngressHints<'_>) -> Result<ChatRequest, ApiError> {
    match dialect {
        Dialect::OpenAi => openai::parse_request(body),
        Dialect::Responses => match serde_json::from_slice(body) {
            Ok(serde_json::Value::Object(root)) => responses::parse_request(root),
            Ok(_) => Err(ApiError::invalid_request("The request body must be a JSON object.")),
            Err(e) => Err(ApiError::invalid_request(format!("We could not parse the JSON body of your request: {e}"))),
        },
        Dialect::Anthropic => anthropic::parse_request(body),
        Dialect::Gemini => gemini::parse_request(body, hints),
    }
}

/// The client headers a provider of the client's own family honours and gets with the original
/// body: Anthropic's beta flags and API version (Claude Code needs its betas upstream, e.g.
/// `mid-conversation-system` for its system-role messages). Repeated headers are joined by commas.
pub fn forwarded_client_headers(dialect: Dialect, headers: &axum::http::HeaderMap) -> Vec<(String, String)> {
    let names: &[&str] = match dialect {
        Dialect::Anthropic => &["anthropic-beta", "anthropic-version"],
        Dialect::OpenAi | Dialect::Responses | Dialect::Gemini => &[],
    };
    names
        .iter()
        .filter_map(|name| {
            let values: Vec<&str> = headers.get_all(*name).iter().filter_map(|v| v.to_str().ok()).collect();
            (!values.is_empty()).then(|| (name.to_string(), values.join(",")))
        })
        .collect()
}

/// Renders a complete answer in the client's dialect. `response.id` and `response.model` are
/// already the values the client must see; `request` is what the client asked (Responses
/// echoes it).
pub fn render_response(dialect: Dialect, request: &ChatRequest, response: &ChatResponse) -> serde_json::Value {
    match dialect {
        Dialect::OpenAi => openai::render_response(response),
        Dialect::Responses => responses::render_response(request, response),
        Dialect::Anthropic => anthropic::render_response(response),
        Dialect::Gemini => gemini::render_response(response),
    }
}

/// Identity of a stream as the client sees it: one id and one model for the whole stream.
#[derive(Debug, Clone)]
pub struct StreamMeta {
    pub id: String,
    /// The public model name the client asked for.
    pub model: String,
    /// Unix seconds, for OpenAI `created`.
    pub created: u64,
    /// The client asked for a usage chunk (OpenAI `stream_options.include_usage`).
    pub include_usage: bool,
    /// Local estimate of the prompt size, for dialects that announce input tokens up front
    /// (Anthropic `message_start`) before the upstream has reported any usage.
    pub estimated_input_tokens: u64,
}

/// Turns stream events into the client's SSE frames.
///
/// Call order: `encode` for every event in order, then exactly one of `finish` (normal end) or
/// `abort` (the upstream broke mid-stream). Encoders emit their opening frame lazily with the
/// first event, so nothing is sent before the upstream has produced something.
pub trait StreamEncoder: Send {
    fn encode(&mut self, event: &StreamEvent) -> Vec<Bytes>;
    /// Closing frames. `usage` is the final usage (reported by upstream or estimated locally);
    /// the encoder shows it only where its dialect and the client's request call for it.
    fn finish(&mut self, usage: Usage) -> Vec<Bytes>;
    /// Frames that tell the client the stream failed after it started.
    fn abort(&mut self, error: &ApiError) -> Vec<Bytes>;
    /// A verbatim stream (the upstream speaks the client's dialect, see [`relays_verbatim`]):
    /// the frames to send for one upstream event, which `encode` then does not see. `finish`
    /// still follows, with whatever the encoder held back.
    fn relay_raw(&mut self, event: &SseEvent) -> Vec<Bytes> {
        vec![oblivious_core::sse::encode(event.event.as_deref(), &event.data)]
    }
    /// The complete answer as the client received it, after `finish`, for dialects whose
    /// answers the relay stores (Responses).
    fn completed_response(&self) -> Option<&serde_json::Value> {
        None
    }
}

/// Whether an upstream answer in `upstream` goes to a `client` as the upstream sent it (only
/// for Responses today; the other dialects' answers are rebuilt from the IR).
pub fn relays_verbatim(client: Dialect, upstream: Dialect) -> bool {
    client == upstream && client == Dialect::Responses
}

pub fn stream_encoder(dialect: Dialect, meta: StreamMeta, request: &ChatRequest) -> Box<dyn StreamEncoder> {
    match dialect {
        Dialect::OpenAi => Box::new(openai::OpenAiStreamEncoder::new(meta)),
        Dialect::Responses => Box::new(responses::ResponsesStreamEncoder::new(meta, request)),
        Dialect::Anthropic => Box::new(anthropic::AnthropicStreamEncoder::new(meta)),
        Dialect::Gemini => Box::new(gemini::GeminiStreamEncoder::new(meta)),
    }
}

/// `Content-Type` of a streamed answer in SSE form (every dialect; Gemini's JSON-array stream,
/// `:streamGenerateContent` without `alt=sse`, is `application/json` instead).
pub const SSE_CONTENT_TYPE: &str = "text/event-stream";

/// An HTTP request to send upstream, fully built.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    pub url: String,
    /// Headers including authentication. Never log these.
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
    /// The wire format of the request and so of its answer (Responses for a pass-through to
    /// OpenAI or Azure, else the provider's dialect).
    pub dialect: Dialect,
}

/// The dialect a provider speaks.
pub fn provider_dialect(provider: Provider) -> Dialect {
    match provider {
        Provider::Openai | Provider::AzureOpenai | Provider::OpenaiCompatible => Dialect::OpenAi,
        Provider::Anthropic => Dialect::Anthropic,
        Provider::Gemini | Provider::VertexAi => Dialect::Gemini,
    }
}

/// Builds the upstream request for a chat call. The built-in channel base URL is already
/// resolved; `key` is a Vertex AI channel's access token, not its service account. The request always asks for usage (streamed or not) unless a quirk forbids it.
/// A Responses client's body goes as sent to a channel that serves Responses.
pub fn build_upstream_request(
    channel: &Channel,
    base_url: &str,
    key: &ApiKey,
    request: &ChatRequest,
    upstream_model: &str,
) -> UpstreamRequest {
    let responses_body = request.original.as_ref().filter(|o| o.dialect == Dialect::Responses).map(|o| &o.body);
    if let Some(body) = responses_body
        && let Some(upstream) = responses::build_upstream_request(channel, base_url, key, body, upstream_model)
    {
        return upstream;
    }
    match channel.provider {
        Provider::Openai | Provider::AzureOpenai | Provider::OpenaiCompatible => {
            openai::build_upstream_request(channel, base_url, key, request, upstream_model)
        }
        Provider::Anthropic => anthropic::build_upstream_request(channel, base_url, key, request, upstream_model),
        Provider::Gemini => gemini::build_upstream_request(channel, base_url, key, request, upstream_model),
        Provider::VertexAi => vertex::build_upstream_request(channel, base_url, key, request, upstream_model),
    }
}

/// Parses a successful non-streaming upstream answer in the wire format `dialect` (the
/// request's, [`UpstreamRequest::dialect`]). The error string says what was malformed.
pub fn parse_upstream_response(dialect: Dialect, body: &[u8]) -> Result<ChatResponse, String> {
    match dialect {
        Dialect::OpenAi => openai::parse_upstream_response(body),
        Dialect::Responses => responses::parse_upstream_response(body),
        Dialect::Anthropic => anthropic::parse_upstream_response(body),
        Dialect::Gemini => gemini::parse_upstream_response(body),
    }
}

/// What a provider's stream can tell the decoder besides events.
#[derive(Debug, Clone, PartialEq)]
pub enum DecodeError {
    /// The provider sent an in-stream error (Anthropic `event: error`, an OpenAI `{"error":…}`
    /// chunk). Classified like an HTTP error with this status.
    Upstream(UpstreamFailure),
    /// The data could not be parsed.
    Malformed(String),
}

/// Turns one provider's SSE events into stream events.
pub trait StreamDecoder: Send {
    /// Events carried by one SSE event (possibly none). `Ok` with `done() == true` afterwards
    /// means the provider signalled the normal end of the stream.
    fn decode(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, DecodeError>;
    /// The provider signalled the end of the stream (`[DONE]`, `message_stop`, final Gemini chunk
    /// with `finishReason`).
    fn done(&self) -> bool;
}

/// The decoder of an upstream stream in the wire format `dialect` (the request's).
pub fn stream_decoder(dialect: Dialect) -> Box<dyn StreamDecoder> {
    match dialect {
        Dialect::OpenAi => Box::new(openai::OpenAiStreamDecoder::default()),
        Dialect::Responses => Box::new(responses::ResponsesStreamDecoder::default()),
        Dialect::Anthropic => Box::new(anthropic::AnthropicStreamDecoder::default()),
        Dialect::Gemini => Box::new(gemini::GeminiStreamDecoder::default()),
    }
}

/// What the relay should do about a failed upstream attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureAction {
    /// Transient (429 rate limit, 5xx, 529 overloaded, timeouts): try another channel.
    Retry,
    /// The credential is bad or out of money (invalid key, `insufficient_quota`, billing): do not
    /// retry, disable the key and mark the channel unhealthy.
    DisableKey,
    /// The request itself is at fault (context length, content policy, invalid argument):
    /// return the error to the client unchanged in meaning, do not retry.
    ReturnToClient,
}

/// A classified upstream failure. `message` is the provider's own message, already free of URLs
/// and keys; `kind` and `status` are what the client should see.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamFailure {
    pub action: FailureAction,
    pub kind: ErrorKind,
    /// Upstream HTTP status (or the status an in-stream error implies).
    pub status: u16,
    /// Short stable label for logs and metrics: `rate_limit`, `overloaded`, `server_error`,
    /// `invalid_key`, `insufficient_quota`, `context_length`, `content_policy`, `invalid_request`, ...
    pub class: &'static str,
    pub message: String,
    /// OpenAI-style `code` to show the client where one applies (`context_length_exceeded`).
    pub code: Option<String>,
}

/// Classifies an upstream error response by status *and* body, per provider.
pub fn classify_failure(provider: Provider, status: u16, body: &[u8]) -> UpstreamFailure {
    match provider_dialect(provider) {
        Dialect::OpenAi | Dialect::Responses => openai::classify_failure(status, body),
        Dialect::Anthropic => anthropic::classify_failure(status, body),
        Dialect::Gemini => gemini::classify_failure(status, body),
    }
}

/// Removes anything that looks like a URL or a key from an upstream message before a client sees it.
pub fn sanitize_upstream_message(message: &str) -> String {
    message
        .split_whitespace()
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            let looks_like_url = lower.contains("://") || lower.starts_with("www.");
            let looks_like_key =
                (lower.starts_with("sk-") || lower.starts_with("aiza") || lower.starts_with("key-")) && word.len() > 12;
            if looks_like_url {
                "[url]"
            } else if looks_like_key {
                "[redacted]"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizing_removes_urls_and_keys_but_keeps_the_message() {
        let text = "Incorrect API key provided: sk-abcdefghijklmnop. See https://platform.example/keys for help";
        let clean = sanitize_upstream_message(text);
        assert!(!clean.contains("sk-abcdefghijklmnop"));
        assert!(!clean.contains("https://"));
        assert!(clean.starts_with("Incorrect API key provided:"));
    }
}
