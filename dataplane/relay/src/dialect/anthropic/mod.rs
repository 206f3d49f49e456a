//! The Anthropic Messages API (`POST /v1/messages`), both as an ingress dialect and as a provider.
//!
//! - `request`: a client's request body -> [`ChatRequest`](crate::ir::ChatRequest).
//! - `response`: [`ChatResponse`](crate::ir::ChatResponse) -> a client's answer, and an upstream's
//!   answer -> `ChatResponse`.
//! - `stream_encode` / `stream_decode`: stream events <-> Anthropic's named SSE events.
//! - `upstream`: the HTTP request sent to an Anthropic upstream.
//! - `errors`: classification of an Anthropic upstream's errors for failover.
//!
//! Usage: the IR's `input_tokens` is the whole prompt; Anthropic's `input_tokens` excludes
//! `cache_read_input_tokens` and `cache_creation_input_tokens`. `usage_from_wire` and
//! `usage_to_wire` are the only places that convert.

mod errors;
mod request;
mod response;
mod stream_decode;
mod stream_encode;
mod upstream;

pub use errors::classify_failure;
pub use request::parse_request;
pub use response::{parse_upstream_response, render_response};
pub use stream_decode::AnthropicStreamDecoder;
pub use stream_encode::AnthropicStreamEncoder;
pub use upstream::build_upstream_request;

use serde_json::{Value, json};

use crate::ir::{FinishReason, Usage};

/// Anthropic's usage numbers as they are on the wire (`input_tokens` excludes the cache).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct WireUsage {
    input_tokens: u64,
    cache_read_input_tokens: u64,
    cache_creation_input_tokens: u64,
    output_tokens: u64,
}

impl WireUsage {
    /// Reads a wire `usage` object; absent numbers are zero.
    fn parse(usage: &Value) -> WireUsage {
        let n = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
        WireUsage {
            input_tokens: n("input_tokens"),
            cache_read_input_tokens: n("cache_read_input_tokens"),
            cache_creation_input_tokens: n("cache_creation_input_tokens"),
            output_tokens: n("output_tokens"),
        }
    }

    fn to_ir(self) -> Usage {
        usage_from_wire(self)
    }
}

/// Wire usage -> IR usage: the IR's input is the total prompt, cache reads and writes included.
fn usage_from_wire(wire: WireUsage) -> Usage {
    Usage {
        input_tokens: wire
            .input_tokens
            .saturating_add(wire.cache_read_input_tokens)
            .saturating_add(wire.cache_creation_input_tokens),
        cached_input_tokens: wire.cache_read_input_tokens,
        cache_write_tokens: wire.cache_creation_input_tokens,
        output_tokens: wire.output_tokens,
        reasoning_tokens: 0,
    }
}

/// IR usage -> wire usage: Anthropic's `input_tokens` counts only the uncached, unwritten part.
fn usage_to_wire(usage: &Usage) -> WireUsage {
    WireUsage {
        input_tokens: usage
            .input_tokens
            .saturating_sub(usage.cached_input_tokens.saturating_add(usage.cache_write_tokens)),
        cache_read_input_tokens: usage.cached_input_tokens,
        cache_creation_input_tokens: usage.cache_write_tokens,
        output_tokens: usage.output_tokens,
    }
}

/// The wire `usage` object Anthropic sends in a message and in `message_delta`.
fn usage_json(usage: &Usage) -> Value {
    let wire = usage_to_wire(usage);
    json!({
        "input_tokens": wire.input_tokens,
        "cache_creation_input_tokens": wire.cache_creation_input_tokens,
        "cache_read_input_tokens": wire.cache_read_input_tokens,
        "output_tokens": wire.output_tokens,
    })
}

fn stop_reason_to_wire(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::StopSequence => "stop_sequence",
        FinishReason::ContentFilter => "refusal",
    }
}

/// A wire `stop_reason` (not `null`) in the IR.
fn stop_reason_from_wire(reason: &str) -> FinishReason {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "stop_sequence" => FinishReason::StopSequence,
        "refusal" => FinishReason::ContentFilter,
        // end_turn, pause_turn and anything new.
        _ => FinishReason::Stop,
    }
}

/// Reads a thinking block's `signature`; an empty one is no signature.
fn signature_of(signature: Option<&Value>) -> Option<String> {
    signature.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_conversion_moves_cache_tokens_in_and_out_of_input() {
        let wire = WireUsage {
            input_tokens: 10,
            cache_read_input_tokens: 100,
            cache_creation_input_tokens: 50,
            output_tokens: 7,
        };
        let ir = wire.to_ir();
        assert_eq!(
            ir,
            Usage {
                input_tokens: 160,
                cached_input_tokens: 100,
                cache_write_tokens: 50,
                output_tokens: 7,
                reasoning_tokens: 0
            }
        );
        assert_eq!(usage_to_wire(&ir), wire);
        let json = usage_json(&ir);
        assert_eq!(json["input_tokens"], 10);
        assert_eq!(json["cache_read_input_tokens"], 100);
        assert_eq!(json["cache_creation_input_tokens"], 50);
    }

    #[test]
    fn inconsistent_ir_usage_never_underflows() {
        let ir = Usage { input_tokens: 5, cached_input_tokens: 10, ..Usage::default() };
        assert_eq!(usage_to_wire(&ir).input_tokens, 0);
    }
}
