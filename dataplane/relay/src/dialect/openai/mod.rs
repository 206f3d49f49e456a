//! The OpenAI Chat Completions API (`POST /v1/chat/completions`), both as an ingress dialect and
//! as a provider (OpenAI, Azure OpenAI and OpenAI-compatible servers: DeepSeek, Qwen, vLLM,
//! Ollama, ...).
//!
//! - `request`: a client's body -> [`ChatRequest`](crate::ir::ChatRequest).
//! - `response`: a complete answer both ways (client rendering, upstream parsing).
//! - `stream_encode` / `stream_decode`: stream events <-> `chat.completion.chunk` frames.
//! - `upstream`: the HTTP request sent to an OpenAI-family upstream, with per-channel quirks.
//! - `errors`: classification of an OpenAI-family upstream's errors for failover.
//!
//! Usage needs no conversion: the IR follows OpenAI's convention (prompt includes cached
//! tokens, completion includes reasoning tokens). Reasoning travels as DeepSeek-style
//! `reasoning_content`, which most OpenAI-compatible servers and clients understand.

mod errors;
mod request;
mod response;
mod stream_decode;
mod stream_encode;
mod upstream;

pub use errors::classify_failure;
pub use request::parse_request;
pub use response::{parse_upstream_response, render_response};
pub use stream_decode::OpenAiStreamDecoder;
pub use stream_encode::OpenAiStreamEncoder;
pub use upstream::build_upstream_request;

use serde_json::{Value, json};

use crate::ir::{FinishReason, Usage};

/// The wire `usage` object.
fn usage_json(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    })
}

/// Reads a wire `usage` object (absent numbers are zero). Cache writes are not an OpenAI notion;
/// some compatible servers report `cache_creation_input_tokens`, which is kept.
fn usage_from_json(usage: &Value) -> Usage {
    let n = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("/prompt_tokens"),
        cached_input_tokens: n("/prompt_tokens_details/cached_tokens").max(n("/prompt_cache_hit_tokens")),
        cache_write_tokens: n("/cache_creation_input_tokens"),
        output_tokens: n("/completion_tokens"),
        reasoning_tokens: n("/completion_tokens_details/reasoning_tokens"),
    }
}

fn finish_reason_to_wire(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::StopSequence => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
    }
}

fn finish_reason_from_wire(reason: &str) -> FinishReason {
    match reason {
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
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
}
