//! An upstream's Responses SSE -> stream events. The relay passes a Responses stream to a
//! Responses client verbatim; these events serve its accounting (output for a local count, usage,
//! the finish) and the first-event peek that keeps failover possible before the first byte.

use std::collections::HashMap;

use oblivious_core::sse::SseEvent;
use serde_json::{Value, json};

use super::flat_name;
use super::response::finish_of;
use crate::dialect::openai::classify_failure;
use crate::dialect::{DecodeError, StreamDecoder};
use crate::ir::StreamEvent;

#[derive(Default)]
pub struct ResponsesStreamDecoder {
    done: bool,
    /// Call items by item id: their index among the answer's calls.
    calls: HashMap<String, u32>,
}

impl StreamDecoder for ResponsesStreamDecoder {
    fn decode(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, DecodeError> {
        let data = event.data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(Vec::new());
        }
        let value: Value =
            serde_json::from_str(data).map_err(|e| DecodeError::Malformed(format!("invalid event: {e}")))?;
        let kind = value.get("type").and_then(Value::as_str).or(event.event.as_deref()).unwrap_or_default();
        let text = |field: &str| value.get(field).and_then(Value::as_str).unwrap_or_default().to_string();
        let mut events = Vec::new();
        match kind {
            "response.output_text.delta" => events.push(StreamEvent::TextDelta(text("delta"))),
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                events.push(StreamEvent::ReasoningDelta { text: text("delta") });
            }
            "response.output_item.added" => {
                if let Some(item) = value.get("item") {
                    self.start_call(item, &mut events);
                }
            }
            "response.function_call_arguments.delta" => {
                if let Some(index) = self.calls.get(&text("item_id")) {
                    events.push(StreamEvent::ToolCallDelta { index: *index, arguments: text("delta") });
                }
            }
            "response.output_item.done" => {
                let item = value.get("item").unwrap_or(&Value::Null);
                match item.get("type").and_then(Value::as_str) {
                    // A custom call's input is a JSON string argument in the IR: whole, at the end.
                    Some("custom_tool_call") => {
                        let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
                        if let Some(index) = self.calls.get(id) {
                            let input = item.get("input").and_then(Value::as_str).unwrap_or_default();
                            let arguments = json!({"input": input}).to_string();
                            events.push(StreamEvent::ToolCallDelta { index: *index, arguments });
                        }
                    }
                    Some("reasoning") => {
                        if let Some(signature) = item.get("encrypted_content").and_then(Value::as_str) {
                            events.push(StreamEvent::ReasoningSignature(signature.to_string()));
                        }
                    }
                    _ => {}
                }
            }
            "response.completed" | "response.incomplete" => {
                let response = value.get("response").unwrap_or(&Value::Null);
                if let Some(usage) = response.get("usage").filter(|u| u.is_object()) {
                    events.push(StreamEvent::Usage(super::usage_from_json(usage)));
                }
                let reason = finish_of(response, !self.calls.is_empty());
                events.push(StreamEvent::Finish { reason, stop_sequence: None });
                self.done = true;
            }
            "response.failed" | "error" => {
                let error = value.pointer("/response/error").or_else(|| value.get("error")).unwrap_or(&value);
                let code = error.get("code").and_then(Value::as_str).unwrap_or_default();
                let status = match code {
                    "rate_limit_exceeded" => 429,
                    "server_error" | "" => 500,
                    _ => 400,
                };
                let body = json!({"error": {"message": error.get("message"), "type": code, "code": code}});
                return Err(DecodeError::Upstream(classify_failure(status, body.to_string().as_bytes())));
            }
            _ => {}
        }
        Ok(events)
    }

    fn done(&self) -> bool {
        self.done
    }
}

impl ResponsesStreamDecoder {
    fn start_call(&mut self, item: &Value, events: &mut Vec<StreamEvent>) {
        let field = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or_default();
        if !matches!(field("type"), "function_call" | "custom_tool_call") {
            return;
        }
        let index = self.calls.len() as u32;
        self.calls.insert(field("id").to_string(), index);
        let name = match item.get("namespace").and_then(Value::as_str) {
            Some(namespace) => flat_name(namespace, field("name")),
            None => field("name").to_string(),
        };
        events.push(StreamEvent::ToolCallStart { index, id: field("call_id").to_string(), name });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::dialect::FailureAction;
    use crate::ir::{FinishReason, Usage};
    use oblivious_core::sse::SseParser;

    fn decode_all(sse: &str) -> (Vec<StreamEvent>, bool) {
        let mut decoder = ResponsesStreamDecoder::default();
        let mut parser = SseParser::new();
        let events = parser.push(sse.as_bytes()).iter().flat_map(|e| decoder.decode(e).unwrap()).collect();
        (events, decoder.done())
    }

    #[test]
    fn a_recorded_codex_stream_decodes_to_reasoning_a_custom_call_and_usage() {
        let sse = include_str!(
            "../../../../../e2e/clients/fixtures/codex/responses/reasoning_then_custom_tool_call_stream.sse"
        );
        let (events, done) = decode_all(sse);
        assert!(done);
        assert!(matches!(&events[0], StreamEvent::ReasoningDelta { text } if text == "**Thinking** about it."));
        assert!(events.iter().any(|e| matches!(e, StreamEvent::ReasoningSignature(s) if s.starts_with("gAAAAB"))));
        let start = events.iter().find(|e| matches!(e, StreamEvent::ToolCallStart { .. })).unwrap();
        assert!(matches!(start, StreamEvent::ToolCallStart { index: 0, name, .. } if name == "apply_patch"));
        let delta = events.iter().find_map(|e| match e {
            StreamEvent::ToolCallDelta { arguments, .. } => Some(arguments.clone()),
            _ => None,
        });
        assert_eq!(
            serde_json::from_str::<Value>(&delta.unwrap()).unwrap()["input"].as_str().unwrap().lines().next(),
            Some("*** Begin Patch")
        );
        assert!(matches!(events.last(), Some(StreamEvent::Finish { reason: FinishReason::ToolCalls, .. })));
        assert!(
            events.iter().any(|e| matches!(e, StreamEvent::Usage(Usage { output_tokens, .. }) if *output_tokens > 0))
        );
    }

    #[test]
    fn a_failed_response_is_an_upstream_failure() {
        let mut decoder = ResponsesStreamDecoder::default();
        let event = SseEvent {
            event: Some("response.failed".into()),
            data: r#"{"type":"response.failed","response":{"error":{"code":"rate_limit_exceeded","message":"slow down"}}}"#.into(),
            id: None,
        };
        let Err(DecodeError::Upstream(failure)) = decoder.decode(&event) else { panic!("expected a failure") };
        assert_eq!((failure.status, failure.action), (429, FailureAction::Retry));
    }
}
