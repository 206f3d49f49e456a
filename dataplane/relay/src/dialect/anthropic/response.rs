//! Complete (non-streaming) answers: rendering one for an Anthropic client, and parsing one from
//! an Anthropic upstream.

use serde_json::{Value, json};

use super::{WireUsage, signature_of, stop_reason_from_wire, stop_reason_to_wire, usage_json};
use crate::dialect::content::arguments_object;
use crate::ir::{ChatResponse, Part, Usage};

/// Renders a complete answer as an Anthropic `message`.
pub fn render_response(r: &ChatResponse) -> Value {
    let content: Vec<Value> = r.content.iter().filter_map(render_block).collect();
    json!({
        "id": r.id,
        "type": "message",
        "role": "assistant",
        "model": r.model,
        "content": content,
        "stop_reason": stop_reason_to_wire(r.finish_reason),
        "stop_sequence": r.stop_sequence,
        "usage": usage_json(&r.usage.unwrap_or_default()),
    })
}

/// One answer part as an Anthropic content block; parts an answer cannot carry are skipped.
pub(super) fn render_block(part: &Part) -> Option<Value> {
    match part {
        Part::Text(text) => Some(json!({"type": "text", "text": text})),
        Part::Reasoning { text, signature } => Some(json!({
            "type": "thinking",
            "thinking": text,
            "signature": signature.as_deref().unwrap_or_default(),
        })),
        Part::RedactedReasoning { data } => Some(json!({"type": "redacted_thinking", "data": data})),
        Part::ToolCall { id, name, arguments } => {
            Some(json!({"type": "tool_use", "id": id, "name": name, "input": arguments_object(arguments)}))
        }
        Part::Image(_) | Part::ToolResult { .. } => None,
    }
}

/// Parses an Anthropic upstream's successful `message`.
pub fn parse_upstream_response(body: &[u8]) -> Result<ChatResponse, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let message = value.as_object().ok_or("the answer is not a JSON object")?;
    match message.get("type").and_then(Value::as_str) {
        Some("message") | None => {}
        Some("error") => return Err("the answer is an error object".to_string()),
        Some(other) => return Err(format!("unexpected answer type `{other}`")),
    }
    let blocks = message.get("content").and_then(Value::as_array).ok_or("`content` is missing or not an array")?;
    let mut content = Vec::with_capacity(blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        let text_of = |name: &str| {
            block
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("content[{i}].{name} is missing"))
        };
        match block.get("type").and_then(Value::as_str) {
            Some("text") => content.push(Part::Text(text_of("text")?)),
            Some("thinking") => content
                .push(Part::Reasoning { text: text_of("thinking")?, signature: signature_of(block.get("signature")) }),
            Some("redacted_thinking") => content.push(Part::RedactedReasoning { data: text_of("data")? }),
            Some("tool_use") => {
                let arguments = match block.get("input") {
                    None | Some(Value::Null) => "{}".to_string(),
                    Some(input) => input.to_string(),
                };
                content.push(Part::ToolCall { id: text_of("id")?, name: text_of("name")?, arguments });
            }
            // Server tools (web search, code execution) ran upstream; their blocks have no IR form.
            Some(_) => {}
            None => return Err(format!("content[{i}].type is missing")),
        }
    }
    let finish_reason =
        message.get("stop_reason").and_then(Value::as_str).map(stop_reason_from_wire).unwrap_or_default();
    let usage: Option<Usage> = message.get("usage").filter(|u| u.is_object()).map(|u| WireUsage::parse(u).to_ir());
    Ok(ChatResponse {
        id: message.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
        model: message.get("model").and_then(Value::as_str).unwrap_or_default().to_string(),
        content,
        finish_reason,
        usage,
        stop_sequence: message.get("stop_sequence").and_then(Value::as_str).map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::ir::FinishReason;

    fn sample() -> ChatResponse {
        ChatResponse {
            id: "msg_01".into(),
            model: "claude".into(),
            content: vec![
                Part::Reasoning { text: "think".into(), signature: Some("sig".into()) },
                Part::RedactedReasoning { data: "opaque".into() },
                Part::Text("hello".into()),
                Part::ToolCall { id: "toolu_1".into(), name: "f".into(), arguments: r#"{"a":1}"#.into() },
            ],
            finish_reason: FinishReason::ToolCalls,
            usage: Some(Usage {
                input_tokens: 1000,
                cached_input_tokens: 800,
                cache_write_tokens: 150,
                output_tokens: 20,
                reasoning_tokens: 0,
            }),
            stop_sequence: None,
        }
    }

    #[test]
    fn rendering_excludes_cache_tokens_from_input_and_parsing_adds_them_back() {
        let rendered = render_response(&sample());
        assert_eq!(rendered["type"], "message");
        assert_eq!(rendered["role"], "assistant");
        assert_eq!(rendered["stop_reason"], "tool_use");
        assert_eq!(rendered["stop_sequence"], Value::Null);
        assert_eq!(
            rendered["usage"],
            json!({"input_tokens": 50, "output_tokens": 20, "cache_creation_input_tokens": 150, "cache_read_input_tokens": 800})
        );
        let kinds: Vec<&str> =
            rendered["content"].as_array().unwrap().iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["thinking", "redacted_thinking", "text", "tool_use"]);
        assert_eq!(rendered["content"][0]["signature"], "sig");
        assert_eq!(rendered["content"][3]["input"], json!({"a": 1}));

        let back = parse_upstream_response(rendered.to_string().as_bytes()).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn invalid_tool_arguments_render_as_an_empty_object_and_refusals_as_refusal() {
        let r = ChatResponse {
            content: vec![Part::ToolCall { id: "t".into(), name: "f".into(), arguments: "{\"a\":".into() }],
            finish_reason: FinishReason::ContentFilter,
            ..ChatResponse::default()
        };
        let rendered = render_response(&r);
        assert_eq!(rendered["content"][0]["input"], json!({}));
        assert_eq!(rendered["stop_reason"], "refusal");
        assert_eq!(rendered["usage"]["input_tokens"], 0);
    }

    #[test]
    fn a_recorded_upstream_answer_parses() {
        let body = json!({
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-20250514",
            "content": [
                {"type": "text", "text": "Hi!", "citations": null},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}}
            ],
            "stop_reason": "stop_sequence",
            "stop_sequence": "END",
            "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 30, "output_tokens": 6, "service_tier": "standard"}
        });
        let r = parse_upstream_response(body.to_string().as_bytes()).unwrap();
        assert_eq!(r.content, vec![Part::Text("Hi!".into())]);
        assert_eq!(r.finish_reason, FinishReason::StopSequence);
        assert_eq!(r.stop_sequence.as_deref(), Some("END"));
        assert_eq!(
            r.usage,
            Some(Usage {
                input_tokens: 42,
                cached_input_tokens: 30,
                cache_write_tokens: 0,
                output_tokens: 6,
                reasoning_tokens: 0
            })
        );
        assert!(parse_upstream_response(b"{\"type\":\"error\",\"error\":{}}").is_err());
        assert!(parse_upstream_response(b"not json").is_err());
        assert!(parse_upstream_response(b"{\"type\":\"message\"}").is_err());
    }
}
