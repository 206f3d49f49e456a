//! Complete (non-streaming) answers: a `chat.completion` for an OpenAI client, and parsing one
//! from an OpenAI-family upstream.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{
    arguments_text, finish_reason_from_wire, finish_reason_to_wire, first_choice, fresh_call_id, usage_from_json,
    usage_json,
};
use crate::ir::{ChatResponse, Part};

/// Renders a complete answer as a `chat.completion`.
pub fn render_response(r: &ChatResponse) -> Value {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for part in &r.content {
        match part {
            Part::Text(t) => text.push_str(t),
            Part::Reasoning { text: t, .. } => reasoning.push_str(t),
            Part::ToolCall { id, name, arguments } => tool_calls.push(json!({
                "id": id, "type": "function", "function": {"name": name, "arguments": arguments}
            })),
            _ => {}
        }
    }
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { Value::String(text) },
        "refusal": null,
    });
    if !reasoning.is_empty() {
        message["reasoning_content"] = Value::String(reasoning);
    }
    let called_tools = !tool_calls.is_empty();
    if called_tools {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    let created = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut body = json!({
        "id": r.id,
        "object": "chat.completion",
        "created": created,
        "model": r.model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason_to_wire(r.finish_reason, called_tools)}],
    });
    if let Some(usage) = &r.usage {
        body["usage"] = usage_json(usage);
    }
    body
}

/// Parses an upstream's successful `chat.completion`.
pub fn parse_upstream_response(body: &[u8]) -> Result<ChatResponse, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let choices = value.get("choices").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let choice = first_choice(choices).ok_or("the answer has no choices")?;
    let message = choice.get("message").ok_or("the first choice has no message")?;
    let mut content = Vec::new();
    let reasoning = message.get("reasoning_content").or_else(|| message.get("reasoning")).and_then(Value::as_str);
    if let Some(reasoning) = reasoning.filter(|r| !r.is_empty()) {
        content.push(Part::Reasoning { text: reasoning.to_string(), signature: None });
    }
    if let Some(text) = message.get("content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
        content.push(Part::Text(text.to_string()));
    }
    for call in message.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
        let function = call.get("function").ok_or("a tool call has no function")?;
        content.push(Part::ToolCall {
            id: call
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .map_or_else(fresh_call_id, str::to_string),
            name: function.get("name").and_then(Value::as_str).ok_or("a tool call has no name")?.to_string(),
            arguments: Some(arguments_text(function.get("arguments")))
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| "{}".to_string()),
        });
    }
    let (finish, stop_sequence) = match choice.get("finish_reason").and_then(Value::as_str) {
        Some(reason) => finish_reason_from_wire(reason, choice.get("stop_reason")),
        None => Default::default(),
    };
    Ok(ChatResponse {
        id: value.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
        model: value.get("model").and_then(Value::as_str).unwrap_or_default().to_string(),
        content,
        finish_reason: finish,
        usage: value.get("usage").filter(|u| u.is_object()).map(usage_from_json),
        stop_sequence,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::ir::{FinishReason, Usage};

    #[test]
    fn a_tool_calling_answer_renders_with_null_content_and_parses_back() {
        let response = ChatResponse {
            id: "chatcmpl-1".into(),
            model: "m".into(),
            content: vec![
                Part::Reasoning { text: "think".into(), signature: Some("sig".into()) },
                Part::ToolCall { id: "c1".into(), name: "f".into(), arguments: "{\"a\":1}".into() },
            ],
            finish_reason: FinishReason::ToolCalls,
            usage: Some(Usage { input_tokens: 5, output_tokens: 3, ..Usage::default() }),
            stop_sequence: None,
        };
        let rendered = render_response(&response);
        assert_eq!(rendered["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(rendered["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(rendered["usage"]["total_tokens"], 8);
        let back = parse_upstream_response(rendered.to_string().as_bytes()).unwrap();
        assert_eq!(back.finish_reason, FinishReason::ToolCalls);
        assert_eq!(back.content[1], response.content[1]);
        assert_eq!(back.usage, response.usage);
    }

    #[test]
    fn malformed_answers_are_refused_with_a_reason() {
        assert!(parse_upstream_response(b"{}").unwrap_err().contains("choices"));
        assert!(parse_upstream_response(b"nope").is_err());
    }
}
