//! The OpenAI Chat Completions API (`POST /v1/chat/completions`), both as an ingress dialect and
//! as a provider: OpenAI itself, Azure OpenAI, and OpenAI-compatible servers (DeepSeek, Qwen,
//! vLLM, Ollama, ...).
//!
//! - `request`: a client's request body -> [`ChatRequest`](crate::ir::ChatRequest).
//! - `response`: [`ChatResponse`](crate::ir::ChatResponse) -> a `chat.completion` for a client,
//!   and an upstream's `chat.completion` -> `ChatResponse`.
//! - `stream_encode` / `stream_decode`: stream events <-> `chat.completion.chunk` frames.
//! - `upstream`: the HTTP request sent to an OpenAI-family upstream, with per-channel quirks.
//! - `errors`: classification of an OpenAI-family upstream's errors for failover.
//!
//! Usage needs no conversion: the IR follows OpenAI's convention (the prompt count includes
//! cached tokens, the completion count includes reasoning tokens). Reasoning travels as
//! DeepSeek-style `reasoning_content`, which most compatible servers and clients understand;
//! OpenAI has no place for reasoning signatures or redacted reasoning, so those are dropped.
//!
//! The relay returns exactly one choice: a client's `n` greater than 1 is refused up front, and
//! an upstream's choices other than index 0 are ignored.

mod errors;
mod request;
mod response;
mod stream_decode;
mod stream_encode;
mod upstream;

pub use errors::classify_failure;
pub use request::parse_request;
pub(crate) use request::tool_choice_mode;
pub use response::{parse_upstream_response, render_response};
pub use stream_decode::OpenAiStreamDecoder;
pub use stream_encode::OpenAiStreamEncoder;
pub use upstream::build_upstream_request;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::ir::{FinishReason, Usage};

/// The wire `usage` object of a `chat.completion` and of the final stream chunk.
fn usage_json(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens.saturating_add(usage.output_tokens),
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    })
}

/// Reads a wire `usage` object; absent numbers are zero. DeepSeek reports cache hits as
/// `prompt_cache_hit_tokens` (its `prompt_tokens` includes them, as OpenAI's does). Cache writes
/// are not an OpenAI notion; the Anthropic-style count some compatible servers add is kept.
pub(crate) fn usage_from_json(usage: &Value) -> Usage {
    let n = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("/prompt_tokens"),
        cached_input_tokens: n("/prompt_tokens_details/cached_tokens").max(n("/prompt_cache_hit_tokens")),
        cache_write_tokens: n("/cache_creation_input_tokens"),
        output_tokens: n("/completion_tokens"),
        reasoning_tokens: n("/completion_tokens_details/reasoning_tokens"),
    }
}

/// The wire `finish_reason`. OpenAI clients loop on `tool_calls`, so an answer that called tools
/// says so even when its provider reported a plain stop (Gemini does).
fn finish_reason_to_wire(reason: FinishReason, called_tools: bool) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::StopSequence if called_tools => "tool_calls",
        FinishReason::Stop | FinishReason::StopSequence => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
    }
}

/// A wire `finish_reason` (not `null`) in the IR. vLLM names the stop string that matched in
/// `stop_reason` (a token id or `null` otherwise), which makes the stop a `StopSequence`.
fn finish_reason_from_wire(reason: &str, stop_reason: Option<&Value>) -> (FinishReason, Option<String>) {
    match reason {
        "length" => (FinishReason::Length, None),
        "tool_calls" | "function_call" => (FinishReason::ToolCalls, None),
        "content_filter" => (FinishReason::ContentFilter, None),
        // stop, eos, DeepSeek's insufficient_system_resource and anything new.
        _ => match stop_reason.and_then(Value::as_str) {
            Some(sequence) => (FinishReason::StopSequence, Some(sequence.to_string())),
            None => (FinishReason::Stop, None),
        },
    }
}

/// The choice a single-choice relay reads: index 0, else the first one.
fn first_choice(choices: &[Value]) -> Option<&Value> {
    choices.iter().find(|c| c.get("index").and_then(Value::as_u64) == Some(0)).or_else(|| choices.first())
}

/// A tool-call id for a server that sent none (some compatible servers, legacy `function_call`
/// answers). Unique, so it can never collide with an id of an earlier turn.
fn fresh_call_id() -> String {
    format!("call_{}", Uuid::now_v7().simple())
}

/// A call's `arguments` as JSON text: OpenAI sends a string; some servers send the object itself.
fn arguments_text(arguments: Option<&Value>) -> String {
    match arguments {
        Some(Value::String(text)) => text.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_round_trips_through_the_wire_shape() {
        let usage = Usage {
            input_tokens: 100,
            cached_input_tokens: 40,
            cache_write_tokens: 0,
            output_tokens: 30,
            reasoning_tokens: 10,
        };
        assert_eq!(usage_from_json(&usage_json(&usage)), usage);
        assert_eq!(usage_json(&usage)["total_tokens"], 130);
    }

    #[test]
    fn deepseek_cache_hits_count_as_cached_input() {
        let usage = usage_from_json(&json!({
            "prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55,
            "prompt_cache_hit_tokens": 32, "prompt_cache_miss_tokens": 18
        }));
        assert_eq!((usage.input_tokens, usage.cached_input_tokens), (50, 32));
    }

    #[test]
    fn finish_reasons_map_both_ways() {
        assert_eq!(finish_reason_to_wire(FinishReason::StopSequence, false), "stop");
        assert_eq!(finish_reason_to_wire(FinishReason::Stop, true), "tool_calls");
        assert_eq!(finish_reason_to_wire(FinishReason::Length, true), "length");
        assert_eq!(finish_reason_to_wire(FinishReason::ContentFilter, false), "content_filter");
        assert_eq!(finish_reason_from_wire("function_call", None), (FinishReason::ToolCalls, None));
        assert_eq!(finish_reason_from_wire("stop", Some(&json!(128001))), (FinishReason::Stop, None));
        assert_eq!(
            finish_reason_from_wire("stop", Some(&json!("END"))),
            (FinishReason::StopSequence, Some("END".to_string()))
        );
        assert_eq!(finish_reason_from_wire("insufficient_system_resource", None), (FinishReason::Stop, None));
    }
}
