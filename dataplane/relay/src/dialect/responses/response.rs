//! Complete answers: a `response` object for a Responses client (translated from the IR), and
//! an upstream's `response` object read into the IR (for a pass-through answer's accounting).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::{ToolKinds, flat_name, item_id, usage_from_json, usage_json};
use crate::ir::{ChatRequest, ChatResponse, FinishReason, Part, Usage};

/// Renders a complete translated answer as a `response` object.
pub fn render_response(request: &ChatRequest, response: &ChatResponse) -> Value {
    let kinds = ToolKinds::of_request(request);
    let status = status_of(response.finish_reason);
    let output = output_items(&response.content, &kinds, status);
    let created_at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let shell = ResponseShell { id: &response.id, model: &response.model, created_at, echoed: echoed_fields(request) };
    shell.object(status, output, response.usage.as_ref())
}

/// The lifecycle state of a response and, when incomplete, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    InProgress,
    Completed,
    /// Stopped by `max_output_tokens` (or a content filter, `content_filter`).
    Incomplete(&'static str),
    Failed,
}

impl Status {
    /// The status of the item that was open when the answer ended.
    pub(super) fn item_status(self) -> &'static str {
        match self {
            Status::Incomplete(_) => "incomplete",
            _ => "completed",
        }
    }
}

pub(super) fn status_of(reason: FinishReason) -> Status {
    match reason {
        FinishReason::Length => Status::Incomplete("max_output_tokens"),
        FinishReason::ContentFilter => Status::Incomplete("content_filter"),
        _ => Status::Completed,
    }
}

/// What every `response` object of one answer shares: its id, model, creation time and the
/// request fields it echoes.
pub(super) struct ResponseShell<'a> {
    pub id: &'a str,
    pub model: &'a str,
    pub created_at: u64,
    pub echoed: Map<String, Value>,
}

/// The request's fields a `response` object echoes (its original body without the input, which
/// may be large and is not echoed).
pub(super) fn echoed_fields(request: &ChatRequest) -> Map<String, Value> {
    let mut fields = Map::new();
    if let Some(original) = &request.original {
        for (name, value) in &original.body {
            if name != "input" {
                fields.insert(name.clone(), value.clone());
            }
        }
    }
    fields
}

impl ResponseShell<'_> {
    /// The `response` object in `status` with `output` and `usage`. Request fields are echoed as
    /// OpenAI does, with its defaults where the client left them out.
    pub fn object(&self, status: Status, output: Vec<Value>, usage: Option<&Usage>) -> Value {
        let echo = |name: &str, default: Value| self.echoed.get(name).cloned().unwrap_or(default);
        let (status_text, incomplete_details) = match status {
            Status::InProgress => ("in_progress", Value::Null),
            Status::Completed => ("completed", Value::Null),
            Status::Incomplete(reason) => ("incomplete", json!({"reason": reason})),
            Status::Failed => ("failed", Value::Null),
        };
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status_text,
            "error": null,
            "incomplete_details": incomplete_details,
            "instructions": echo("instructions", Value::Null),
            "max_output_tokens": echo("max_output_tokens", Value::Null),
            "model": self.model,
            "output": output,
            "parallel_tool_calls": echo("parallel_tool_calls", json!(true)),
            "previous_response_id": echo("previous_response_id", Value::Null),
            "reasoning": echo("reasoning", json!({"effort": null, "summary": null})),
            "store": echo("store", json!(true)),
            "temperature": echo("temperature", json!(1.0)),
            "text": echo("text", json!({"format": {"type": "text"}})),
            "tool_choice": echo("tool_choice", json!("auto")),
            "tools": echo("tools", json!([])),
            "top_p": echo("top_p", json!(1.0)),
            "truncation": echo("truncation", json!("disabled")),
            "usage": usage.map(usage_json),
            "user": echo("user", Value::Null),
            "metadata": echo("metadata", json!({})),
        })
    }
}

/// The output items of a complete answer: reasoning items, one message per run of text, and an
/// item per call, in the order the model produced them. The last message of an answer cut short
/// is itself `incomplete`, as OpenAI marks it.
fn output_items(content: &[Part], kinds: &ToolKinds, status: Status) -> Vec<Value> {
    let mut items: Vec<Value> = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, items: &mut Vec<Value>, status: &str| {
        if !text.is_empty() {
            items.push(message_item(&item_id("msg"), &std::mem::take(text), status));
        }
    };
    for part in content {
        match part {
            Part::Text(t) => text.push_str(t),
            Part::Reasoning { text: reasoning, signature } => {
                flush(&mut text, &mut items, "completed");
                items.push(reasoning_item(&item_id("rs"), reasoning, signature.as_deref()));
            }
            Part::ToolCall { id, name, arguments } => {
                flush(&mut text, &mut items, "completed");
                let item = item_id(kinds.call_id_prefix(name));
                items.push(kinds.call_item(&item, id, name, arguments, "completed"));
            }
            _ => {}
        }
    }
    flush(&mut text, &mut items, status.item_status());
    items
}

pub(super) fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "id": id, "type": "message", "status": status, "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    })
}

/// A reasoning item. The model's thinking is its summary; a signature (Anthropic's, Gemini's)
/// travels as `encrypted_content`, which clients send back verbatim.
pub(super) fn reasoning_item(id: &str, text: &str, signature: Option<&str>) -> Value {
    let summary = if text.is_empty() { json!([]) } else { json!([{"type": "summary_text", "text": text}]) };
    let mut item = json!({"id": id, "type": "reasoning", "summary": summary});
    if let Some(signature) = signature {
        item["encrypted_content"] = json!(signature);
    }
    item
}

/// Parses an upstream's `response` object.
pub fn parse_upstream_response(body: &[u8]) -> Result<ChatResponse, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let output = value.get("output").and_then(Value::as_array).ok_or("the response has no output")?;
    let content = output.iter().flat_map(item_parts).collect::<Vec<_>>();
    let called = content.iter().any(|p| matches!(p, Part::ToolCall { .. }));
    Ok(ChatResponse {
        id: value.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
        model: value.get("model").and_then(Value::as_str).unwrap_or_default().to_string(),
        finish_reason: finish_of(&value, called),
        content,
        usage: value.get("usage").filter(|u| u.is_object()).map(usage_from_json),
        stop_sequence: None,
    })
}

/// Why a finished `response` object stopped.
pub(super) fn finish_of(response: &Value, called_tools: bool) -> FinishReason {
    let reason = response.pointer("/incomplete_details/reason").and_then(Value::as_str);
    match (response.get("status").and_then(Value::as_str), reason) {
        (Some("incomplete"), Some("content_filter")) => FinishReason::ContentFilter,
        (Some("incomplete"), _) => FinishReason::Length,
        _ if called_tools => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

/// The IR parts of one output item (none for hosted tools' items).
pub(super) fn item_parts(item: &Value) -> Vec<Part> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    match item.get("type").and_then(Value::as_str) {
        Some("message") => item
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|part| part.get("text").or_else(|| part.get("refusal")).and_then(Value::as_str))
            .map(|t| Part::Text(t.to_string()))
            .collect(),
        Some("reasoning") => {
            let summary: Vec<&str> = item
                .get("summary")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| s.get("text").and_then(Value::as_str))
                .collect();
            let signature = item.get("encrypted_content").and_then(Value::as_str).map(str::to_string);
            vec![Part::Reasoning { text: summary.join("\n\n"), signature }]
        }
        Some("function_call") => {
            let name = text(item, "name");
            let name = match item.get("namespace").and_then(Value::as_str) {
                Some(namespace) => flat_name(namespace, &name),
                None => name,
            };
            vec![Part::ToolCall { id: text(item, "call_id"), name, arguments: text(item, "arguments") }]
        }
        Some("custom_tool_call") => vec![Part::ToolCall {
            id: text(item, "call_id"),
            name: text(item, "name"),
            arguments: json!({"input": text(item, "input")}).to_string(),
        }],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::ir::{Dialect, OriginalRequest};

    fn request(body: Value) -> ChatRequest {
        let body = body.as_object().unwrap().clone();
        ChatRequest {
            original: Some(OriginalRequest { dialect: Dialect::Responses, body, headers: vec![] }),
            ..ChatRequest::default()
        }
    }

    #[test]
    fn a_translated_answer_renders_items_in_order_and_parses_back() {
        let request =
            request(json!({"instructions": "Be brief.", "tools": [{"type": "custom", "name": "apply_patch"}]}));
        let response = ChatResponse {
            id: "resp_1".into(),
            model: "m".into(),
            content: vec![
                Part::Reasoning { text: "think".into(), signature: Some("sig".into()) },
                Part::Text("Hel".into()),
                Part::Text("lo".into()),
                Part::ToolCall {
                    id: "call_1".into(),
                    name: "apply_patch".into(),
                    arguments: r#"{"input":"P"}"#.into(),
                },
            ],
            finish_reason: FinishReason::ToolCalls,
            usage: Some(Usage { input_tokens: 5, output_tokens: 3, ..Usage::default() }),
            stop_sequence: None,
        };
        let rendered = render_response(&request, &response);
        assert_eq!(rendered["status"], "completed");
        assert_eq!(rendered["instructions"], "Be brief.");
        let types: Vec<&str> =
            rendered["output"].as_array().unwrap().iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["reasoning", "message", "custom_tool_call"]);
        assert_eq!(rendered["output"][1]["content"][0]["text"], "Hello");
        assert_eq!(rendered["output"][0]["encrypted_content"], "sig");
        assert_eq!(rendered["usage"]["total_tokens"], 8);

        let back = parse_upstream_response(rendered.to_string().as_bytes()).unwrap();
        assert_eq!(back.content[0], response.content[0]);
        assert_eq!(back.content[1], Part::Text("Hello".into()));
        assert_eq!(back.content[2], response.content[3]);
        assert_eq!((back.finish_reason, back.usage), (FinishReason::ToolCalls, response.usage));
    }

    #[test]
    fn a_length_stop_is_an_incomplete_response() {
        let response = ChatResponse { finish_reason: FinishReason::Length, ..ChatResponse::default() };
        let rendered = render_response(&request(json!({})), &response);
        assert_eq!(
            (rendered["status"].as_str(), rendered["incomplete_details"]["reason"].as_str()),
            (Some("incomplete"), Some("max_output_tokens"))
        );
        assert_eq!(finish_of(&rendered, false), FinishReason::Length);
        assert!(parse_upstream_response(b"{}").unwrap_err().contains("output"));
    }
}
