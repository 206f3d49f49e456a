//! The Gemini API (`v1beta`: `models/{model}:generateContent` and `:streamGenerateContent`), both
//! as an ingress dialect and as a provider.
//!
//! - `request`: a client's `GenerateContentRequest` -> [`ChatRequest`](crate::ir::ChatRequest).
//! - `parts`: Gemini `parts` <-> IR parts, where thought signatures and call ids are placed.
//! - `response`: [`ChatResponse`](crate::ir::ChatResponse) -> a client's `GenerateContentResponse`,
//!   and an upstream's answer -> `ChatResponse`.
//! - `stream_encode` / `json_array`: stream events -> `GenerateContentResponse` chunks, framed as
//!   SSE (`?alt=sse`) or as one streamed JSON array (`:streamGenerateContent` without `alt`).
//! - `stream_decode`: an upstream's SSE chunks -> stream events (the relay always asks for SSE).
//! - `upstream`: the HTTP request sent to a Gemini upstream.
//! - `errors`: classification of a Gemini upstream's errors for failover.
//!
//! Usage: both sides count the whole prompt as input (`promptTokenCount` already includes
//! `cachedContentTokenCount`), but the IR's `output_tokens` includes reasoning while Gemini's
//! `candidatesTokenCount` excludes `thoughtsTokenCount`. `usage_from_wire` and `usage_to_wire` are
//! the only places that convert.
//!
//! Tool calls: Gemini's `functionCall.id` is optional and usually absent. Ingress generates ids
//! from the call's position and links each `functionResponse` to the oldest unanswered call of
//! the same name; answers from an upstream get fresh unique ids. Ids are shown to Gemini clients
//! (the field exists) but never sent upstream, where calls and responses pair by order.

mod errors;
mod json_array;
mod parts;
mod request;
mod response;
mod stream_decode;
mod stream_encode;
mod upstream;

pub use errors::classify_failure;
pub use json_array::json_array_encoder;
pub use request::parse_request;
pub use response::{parse_upstream_response, render_response};
pub use stream_decode::GeminiStreamDecoder;
pub use stream_encode::GeminiStreamEncoder;
pub use upstream::build_upstream_request;

use serde_json::{Map, Value, json};

use crate::ir::{FinishReason, Usage};

/// Gemini's usage numbers as they are on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct WireUsage {
    /// The whole prompt, cached part included.
    prompt_token_count: u64,
    cached_content_token_count: u64,
    /// The answer without the thoughts.
    candidates_token_count: u64,
    thoughts_token_count: u64,
    /// Prompt tokens added by tools that ran upstream (search results, code output).
    tool_use_prompt_token_count: u64,
}

impl WireUsage {
    /// Reads a wire `usageMetadata` object; absent numbers are zero.
    fn parse(usage: &Value) -> WireUsage {
        let n = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
        WireUsage {
            prompt_token_count: n("promptTokenCount"),
            cached_content_token_count: n("cachedContentTokenCount"),
            candidates_token_count: n("candidatesTokenCount"),
            thoughts_token_count: n("thoughtsTokenCount"),
            tool_use_prompt_token_count: n("toolUsePromptTokenCount"),
        }
    }

    fn to_ir(self) -> Usage {
        usage_from_wire(self)
    }
}

/// Wire usage -> IR usage: thoughts join the output; tool-use prompt tokens are billed as input.
fn usage_from_wire(wire: WireUsage) -> Usage {
    Usage {
        input_tokens: wire.prompt_token_count.saturating_add(wire.tool_use_prompt_token_count),
        cached_input_tokens: wire.cached_content_token_count,
        cache_write_tokens: 0,
        output_tokens: wire.candidates_token_count.saturating_add(wire.thoughts_token_count),
        reasoning_tokens: wire.thoughts_token_count,
    }
}

/// IR usage -> wire usage: Gemini's candidate count leaves the thoughts out.
fn usage_to_wire(usage: &Usage) -> WireUsage {
    let thoughts = usage.reasoning_tokens.min(usage.output_tokens);
    WireUsage {
        prompt_token_count: usage.input_tokens,
        cached_content_token_count: usage.cached_input_tokens,
        candidates_token_count: usage.output_tokens - thoughts,
        thoughts_token_count: thoughts,
        tool_use_prompt_token_count: 0,
    }
}

/// The wire `usageMetadata` object. Optional counts are left out when zero, as Gemini does.
fn usage_json(usage: &Usage) -> Value {
    let wire = usage_to_wire(usage);
    let total = wire
        .prompt_token_count
        .saturating_add(wire.candidates_token_count)
        .saturating_add(wire.thoughts_token_count)
        .saturating_add(wire.tool_use_prompt_token_count);
    let mut out = Map::new();
    out.insert("promptTokenCount".into(), json!(wire.prompt_token_count));
    out.insert("candidatesTokenCount".into(), json!(wire.candidates_token_count));
    out.insert("totalTokenCount".into(), json!(total));
    if wire.cached_content_token_count > 0 {
        out.insert("cachedContentTokenCount".into(), json!(wire.cached_content_token_count));
    }
    if wire.thoughts_token_count > 0 {
        out.insert("thoughtsTokenCount".into(), json!(wire.thoughts_token_count));
    }
    Value::Object(out)
}

/// Gemini ends a turn that calls tools with `STOP`, so tool calls and stop sequences are `STOP` too.
fn finish_reason_to_wire(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::StopSequence | FinishReason::ToolCalls => "STOP",
        FinishReason::Length => "MAX_TOKENS",
        FinishReason::ContentFilter => "SAFETY",
    }
}

/// A wire `finishReason` in the IR. `called_tools`: the answer contains function calls, which
/// Gemini reports as a plain `STOP`.
fn finish_reason_from_wire(reason: &str, called_tools: bool) -> FinishReason {
    match reason {
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "LANGUAGE"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        // STOP, MALFORMED_FUNCTION_CALL, OTHER and anything new.
        _ if called_tools => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

/// A fresh id for a call an upstream made without one: unique, so a client that later sends the
/// conversation to another provider never has two calls with the same id.
fn fresh_call_id() -> String {
    format!("call_{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_conversion_moves_thoughts_in_and_out_of_the_output() {
        let wire = WireUsage {
            prompt_token_count: 1000,
            cached_content_token_count: 800,
            candidates_token_count: 20,
            thoughts_token_count: 120,
            tool_use_prompt_token_count: 0,
        };
        let ir = wire.to_ir();
        assert_eq!(
            ir,
            Usage {
                input_tokens: 1000,
                cached_input_tokens: 800,
                cache_write_tokens: 0,
                output_tokens: 140,
                reasoning_tokens: 120
            }
        );
        assert_eq!(usage_to_wire(&ir), wire);
        assert_eq!(
            usage_json(&ir),
            json!({
                "promptTokenCount": 1000,
                "cachedContentTokenCount": 800,
                "candidatesTokenCount": 20,
                "thoughtsTokenCount": 120,
                "totalTokenCount": 1140
            })
        );
    }

    #[test]
    fn tool_use_prompt_tokens_count_as_input_and_zero_counts_are_left_out() {
        let usage = WireUsage::parse(&json!({
            "promptTokenCount": 10, "toolUsePromptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 18
        }))
        .to_ir();
        assert_eq!(usage, Usage { input_tokens: 15, output_tokens: 3, ..Usage::default() });
        assert_eq!(
            usage_json(&usage),
            json!({"promptTokenCount": 15, "candidatesTokenCount": 3, "totalTokenCount": 18})
        );
    }

    #[test]
    fn inconsistent_ir_usage_never_underflows() {
        let ir = Usage { output_tokens: 5, reasoning_tokens: 10, ..Usage::default() };
        let wire = usage_to_wire(&ir);
        assert_eq!((wire.candidates_token_count, wire.thoughts_token_count), (0, 5));
    }

    #[test]
    fn finish_reasons_map_both_ways() {
        assert_eq!(finish_reason_to_wire(FinishReason::ToolCalls), "STOP");
        assert_eq!(finish_reason_to_wire(FinishReason::Length), "MAX_TOKENS");
        assert_eq!(finish_reason_to_wire(FinishReason::ContentFilter), "SAFETY");
        assert_eq!(finish_reason_from_wire("STOP", true), FinishReason::ToolCalls);
        assert_eq!(finish_reason_from_wire("STOP", false), FinishReason::Stop);
        assert_eq!(finish_reason_from_wire("MAX_TOKENS", true), FinishReason::Length);
        assert_eq!(finish_reason_from_wire("PROHIBITED_CONTENT", false), FinishReason::ContentFilter);
        assert_eq!(finish_reason_from_wire("SOMETHING_NEW", false), FinishReason::Stop);
    }

    #[test]
    fn fresh_call_ids_are_unique() {
        assert_ne!(fresh_call_id(), fresh_call_id());
        assert!(fresh_call_id().starts_with("call_"));
    }
}
