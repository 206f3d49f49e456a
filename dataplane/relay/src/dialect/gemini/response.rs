//! Complete (non-streaming) answers: rendering one for a Gemini client, and parsing one from a
//! Gemini upstream.

use serde_json::{Value, json};

use super::parts::{Audience, parse_model_parts, render_model_parts};
use super::{WireUsage, finish_reason_from_wire, finish_reason_to_wire, fresh_call_id, usage_json};
use crate::ir::{ChatResponse, FinishReason, Part};

/// Renders a complete answer as a `GenerateContentResponse`.
pub fn render_response(r: &ChatResponse) -> Value {
    json!({
        "candidates": [candidate(&r.content, Some(r.finish_reason))],
        "usageMetadata": usage_json(&r.usage.unwrap_or_default()),
        "modelVersion": r.model,
        "responseId": r.id,
    })
}

/// One candidate holding `parts`. An empty answer still has one empty text part, which is what
/// Gemini sends and what clients reading `parts[0].text` expect.
pub(super) fn candidate(parts: &[Part], finish: Option<FinishReason>) -> Value {
    candidate_of(render_model_parts(parts, Audience::Client), finish)
}

pub(super) fn candidate_of(mut parts: Vec<Value>, finish: Option<FinishReason>) -> Value {
    if parts.is_empty() {
        parts.push(json!({"text": ""}));
    }
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    if let Some(reason) = finish {
        candidate["finishReason"] = json!(finish_reason_to_wire(reason));
    }
    candidate
}

/// The first candidate of a `GenerateContentResponse` (the relay never asks for more than one).
pub(super) fn first_candidate(answer: &Value) -> Option<&Value> {
    let candidates = answer.get("candidates")?.as_array()?;
    candidates.iter().find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0).or_else(|| candidates.first())
}

/// The parts of a candidate; a candidate cut short (safety, token limit) may have none.
pub(super) fn candidate_parts(candidate: &Value) -> &[Value] {
    candidate
        .get("content")
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Why Gemini refused the prompt itself (`promptFeedback.blockReason`), if it did.
pub(super) fn prompt_block_reason(answer: &Value) -> Option<&str> {
    answer.get("promptFeedback").and_then(|f| f.get("blockReason")).and_then(Value::as_str)
}

/// Parses a Gemini upstream's successful `GenerateContentResponse`. A blocked prompt is an empty
/// answer finished by the content filter: a non-streaming answer cannot carry a failure, and
/// another channel would block the same prompt.
pub fn parse_upstream_response(body: &[u8]) -> Result<ChatResponse, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let answer = value.as_object().ok_or("the answer is not a JSON object")?;
    if answer.contains_key("error") {
        return Err("the answer is an error object".to_string());
    }
    let (content, finish_reason) = match first_candidate(&value) {
        Some(candidate) => {
            let content = parse_model_parts(candidate_parts(candidate), &mut fresh_call_id)?;
            let called_tools = content.iter().any(|p| matches!(p, Part::ToolCall { .. }));
            let finish = match candidate.get("finishReason").and_then(Value::as_str) {
                Some(reason) => finish_reason_from_wire(reason, called_tools),
                None => finish_reason_from_wire("STOP", called_tools),
            };
            (content, finish)
        }
        None if prompt_block_reason(&value).is_some() => (Vec::new(), FinishReason::ContentFilter),
        None => return Err("the answer has no candidates".to_string()),
    };
    let usage = value.get("usageMetadata").filter(|u| u.is_object()).map(|u| WireUsage::parse(u).to_ir());
    let text_of = |name: &str| value.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    Ok(ChatResponse {
        id: text_of("responseId"),
        model: text_of("modelVersion"),
        content,
        finish_reason,
        usage,
        stop_sequence: None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::ir::Usage;

    fn sample() -> ChatResponse {
        ChatResponse {
            id: "resp_1".into(),
            model: "gemini-2.5-pro".into(),
            content: vec![
                Part::Reasoning { text: "think".into(), signature: None },
                Part::Text("hello".into()),
                Part::Reasoning { text: String::new(), signature: Some("sig".into()) },
                Part::ToolCall { id: "call_1".into(), name: "f".into(), arguments: r#"{"a":1}"#.into() },
            ],
            finish_reason: FinishReason::ToolCalls,
            usage: Some(Usage {
                input_tokens: 1000,
                cached_input_tokens: 800,
                cache_write_tokens: 0,
                output_tokens: 150,
                reasoning_tokens: 120,
            }),
            stop_sequence: None,
        }
    }

    #[test]
    fn rendering_separates_thoughts_from_candidates_and_parsing_joins_them_back() {
        let rendered = render_response(&sample());
        assert_eq!(
            rendered,
            json!({
                "candidates": [{
                    "content": {"role": "model", "parts": [
                        {"text": "think", "thought": true},
                        {"text": "hello"},
                        {"functionCall": {"name": "f", "args": {"a": 1}, "id": "call_1"}, "thoughtSignature": "sig"}
                    ]},
                    "finishReason": "STOP",
                    "index": 0
                }],
                "usageMetadata": {
                    "promptTokenCount": 1000,
                    "cachedContentTokenCount": 800,
                    "candidatesTokenCount": 30,
                    "thoughtsTokenCount": 120,
                    "totalTokenCount": 1150
                },
                "modelVersion": "gemini-2.5-pro",
                "responseId": "resp_1"
            })
        );
        let back = parse_upstream_response(rendered.to_string().as_bytes()).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn an_empty_answer_has_one_empty_text_part_and_limits_and_filters_have_their_reasons() {
        let r = ChatResponse { finish_reason: FinishReason::Length, ..ChatResponse::default() };
        let rendered = render_response(&r);
        assert_eq!(rendered["candidates"][0]["content"]["parts"], json!([{"text": ""}]));
        assert_eq!(rendered["candidates"][0]["finishReason"], "MAX_TOKENS");
        assert_eq!(rendered["usageMetadata"]["totalTokenCount"], 0);
        let filtered = ChatResponse { finish_reason: FinishReason::ContentFilter, ..ChatResponse::default() };
        assert_eq!(render_response(&filtered)["candidates"][0]["finishReason"], "SAFETY");
    }

    #[test]
    fn a_recorded_upstream_answer_parses() {
        let body = json!({
            "candidates": [{
                "content": {"parts": [
                    {"text": "**Checking the weather**\n\nI need the tool.", "thought": true},
                    {"functionCall": {"name": "get_weather", "args": {"location": "Boston, MA"}}, "thoughtSignature": "CiQB0e2Kb2x"}
                ], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
                "finishMessage": "Model generated function call(s)."
            }],
            "usageMetadata": {
                "promptTokenCount": 74, "candidatesTokenCount": 18, "totalTokenCount": 158,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 74}], "thoughtsTokenCount": 66
            },
            "modelVersion": "gemini-2.5-flash",
            "responseId": "mBTdaNnGJNGkz7IPxKvC-QQ"
        });
        let r = parse_upstream_response(body.to_string().as_bytes()).unwrap();
        assert_eq!((r.id.as_str(), r.model.as_str()), ("mBTdaNnGJNGkz7IPxKvC-QQ", "gemini-2.5-flash"));
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
        assert_eq!(
            r.usage,
            Some(Usage { input_tokens: 74, output_tokens: 84, reasoning_tokens: 66, ..Usage::default() })
        );
        assert_eq!(r.content.len(), 3);
        assert_eq!(r.content[1], Part::Reasoning { text: String::new(), signature: Some("CiQB0e2Kb2x".into()) });
        match &r.content[2] {
            Part::ToolCall { id, name, arguments } => {
                assert!(id.starts_with("call_"), "{id}");
                assert_eq!((name.as_str(), arguments.as_str()), ("get_weather", r#"{"location":"Boston, MA"}"#));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_blocked_prompt_is_an_empty_filtered_answer_and_errors_are_not_answers() {
        let blocked = json!({
            "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
            "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
            "modelVersion": "gemini-2.5-flash"
        });
        let r = parse_upstream_response(blocked.to_string().as_bytes()).unwrap();
        assert_eq!((r.content.len(), r.finish_reason), (0, FinishReason::ContentFilter));
        assert_eq!(r.usage.unwrap().input_tokens, 9);
        let cut = json!({"candidates": [{"finishReason": "MAX_TOKENS", "index": 0}]});
        let r = parse_upstream_response(cut.to_string().as_bytes()).unwrap();
        assert_eq!((r.content.len(), r.finish_reason, r.usage), (0, FinishReason::Length, None));
        assert!(parse_upstream_response(br#"{"error":{"code":500}}"#).is_err());
        assert!(parse_upstream_response(b"{}").is_err());
        assert!(parse_upstream_response(b"not json").is_err());
    }
}
