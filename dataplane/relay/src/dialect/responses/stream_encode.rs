//! Responses' typed SSE events for a client, two ways:
//!
//! - *Translated* (another provider answered): stream events become `response.created`, then per
//!   output item `response.output_item.added`, its deltas and `.done` events, and
//!   `response.output_item.done`, then `response.completed` (or `.incomplete`) with the whole
//!   response. Every event has its `type` and a `sequence_number`. Codex takes items only from
//!   `response.output_item.done` and needs `response.completed` with the response id.
//! - *Verbatim* (an OpenAI or Azure channel answered in Responses itself): the upstream's events
//!   go out as they came (`relay_raw`), except the terminal one, held back until the relay has
//!   settled and stored the response, so a client that continues right away finds it.

use bytes::Bytes;
use oblivious_core::ApiError;
use oblivious_core::sse::{SseEvent, encode};
use serde_json::{Map, Value, json};

use super::response::{ResponseShell, Status, echoed_fields, message_item, reasoning_item, status_of};
use super::{ToolKind, ToolKinds, item_id};
use crate::dialect::{StreamEncoder, StreamMeta};
use crate::ir::{ChatRequest, FinishReason, StreamEvent, Usage};

/// The events that end a Responses stream.
const TERMINAL_EVENTS: &[&str] = &["response.completed", "response.incomplete", "response.failed"];

pub struct ResponsesStreamEncoder {
    meta: StreamMeta,
    echoed: Map<String, Value>,
    kinds: ToolKinds,
    sequence: u64,
    started: bool,
    /// Finished output items, in order.
    output: Vec<Value>,
    open: Option<OpenItem>,
    finish: Option<FinishReason>,
    /// The final response object, once known.
    completed: Option<Value>,
    /// Verbatim mode: the upstream's terminal event, held back until `finish`.
    held: Vec<Bytes>,
    verbatim: bool,
    verbatim_id: Option<String>,
}

/// The output item being streamed.
enum OpenItem {
    Message { id: String, text: String },
    Reasoning { id: String, text: String, signature: Option<String> },
    Call { id: String, index: u32, call_id: String, name: String, arguments: String },
}

impl ResponsesStreamEncoder {
    pub fn new(meta: StreamMeta, request: &ChatRequest) -> Self {
        ResponsesStreamEncoder {
            meta,
            echoed: echoed_fields(request),
            kinds: ToolKinds::of_request(request),
            sequence: 0,
            started: false,
            output: Vec::new(),
            open: None,
            finish: None,
            completed: None,
            held: Vec::new(),
            verbatim: false,
            verbatim_id: None,
        }
    }

    fn shell(&self) -> ResponseShell<'_> {
        ResponseShell {
            id: &self.meta.id,
            model: &self.meta.model,
            created_at: self.meta.created,
            echoed: self.echoed.clone(),
        }
    }

    /// One typed event with the next sequence number.
    fn event(&mut self, kind: &str, mut data: Value) -> Bytes {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        encode(Some(kind), &data.to_string())
    }

    fn start(&mut self, out: &mut Vec<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = self.shell().object(Status::InProgress, Vec::new(), None);
        out.push(self.event("response.created", json!({"response": response})));
        out.push(self.event("response.in_progress", json!({"response": response})));
    }

    fn output_index(&self) -> usize {
        self.output.len()
    }

    /// Opens `item` (closing the one before), announcing it with `response.output_item.added`.
    fn open(&mut self, item: OpenItem, out: &mut Vec<Bytes>) {
        self.close(out, "completed");
        let output_index = self.output_index();
        let added = match &item {
            OpenItem::Message { id, .. } => json!({
                "id": id, "type": "message", "status": "in_progress", "role": "assistant", "content": []
            }),
            OpenItem::Reasoning { id, .. } => json!({"id": id, "type": "reasoning", "summary": []}),
            OpenItem::Call { id, call_id, name, .. } => self.kinds.call_item(id, call_id, name, "", "in_progress"),
        };
        out.push(self.event("response.output_item.added", json!({"output_index": output_index, "item": added})));
        match &item {
            OpenItem::Message { id, .. } => {
                let part = json!({"type": "output_text", "text": "", "annotations": [], "logprobs": []});
                let data = json!({"item_id": id, "output_index": output_index, "content_index": 0, "part": part});
                out.push(self.event("response.content_part.added", data));
            }
            OpenItem::Reasoning { id, .. } => {
                let part = json!({"type": "summary_text", "text": ""});
                let data = json!({"item_id": id, "output_index": output_index, "summary_index": 0, "part": part});
                out.push(self.event("response.reasoning_summary_part.added", data));
            }
            OpenItem::Call { .. } => {}
        }
        self.open = Some(item);
    }

    /// Closes the open item with its `.done` events and `response.output_item.done`; a message
    /// gets `status` (`incomplete` when the answer was cut short there).
    fn close(&mut self, out: &mut Vec<Bytes>, status: &str) {
        let Some(item) = self.open.take() else { return };
        let output_index = self.output_index();
        let done = match item {
            OpenItem::Message { id, text } => {
                let at = json!({"item_id": id, "output_index": output_index, "content_index": 0});
                out.push(self.event("response.output_text.done", merged(&at, json!({"text": text, "logprobs": []}))));
                let part = json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
                out.push(self.event("response.content_part.done", merged(&at, json!({"part": part}))));
                message_item(&id, &text, status)
            }
            OpenItem::Reasoning { id, text, signature } => {
                if !text.is_empty() {
                    let at = json!({"item_id": id, "output_index": output_index, "summary_index": 0});
                    out.push(self.event("response.reasoning_summary_text.done", merged(&at, json!({"text": text}))));
                    let part = json!({"type": "summary_text", "text": text});
                    out.push(self.event("response.reasoning_summary_part.done", merged(&at, json!({"part": part}))));
                }
                reasoning_item(&id, &text, signature.as_deref())
            }
            OpenItem::Call { id, call_id, name, arguments, .. } => {
                let item = self.kinds.call_item(&id, &call_id, &name, &arguments, "completed");
                let at = json!({"item_id": id, "output_index": output_index});
                if matches!(self.kinds.get(&name), Some(ToolKind::Custom)) {
                    // A custom call's input is known only once its JSON arguments are whole.
                    let input = item["input"].clone();
                    out.push(self.event("response.custom_tool_call_input.delta", merged(&at, json!({"delta": input}))));
                    out.push(self.event("response.custom_tool_call_input.done", merged(&at, json!({"input": input}))));
                } else {
                    let done = json!({"name": item["name"], "arguments": arguments});
                    out.push(self.event("response.function_call_arguments.done", merged(&at, done)));
                }
                item
            }
        };
        out.push(self.event("response.output_item.done", json!({"output_index": output_index, "item": done})));
        self.output.push(done);
    }
}

/// `base` with `extra`'s fields added.
fn merged(base: &Value, extra: Value) -> Value {
    let mut out = base.clone();
    if let (Some(out), Value::Object(extra)) = (out.as_object_mut(), extra) {
        out.extend(extra);
    }
    out
}

impl StreamEncoder for ResponsesStreamEncoder {
    fn encode(&mut self, event: &StreamEvent) -> Vec<Bytes> {
        let mut out = Vec::new();
        match event {
            StreamEvent::TextDelta(delta) => {
                self.start(&mut out);
                if !matches!(self.open, Some(OpenItem::Message { .. })) {
                    self.open(OpenItem::Message { id: item_id("msg"), text: String::new() }, &mut out);
                }
                let Some(OpenItem::Message { id, text }) = &mut self.open else { return out };
                text.push_str(delta);
                let data = json!({"item_id": id, "output_index": self.output.len(), "content_index": 0, "delta": delta, "logprobs": []});
                out.push(self.event("response.output_text.delta", data));
            }
            StreamEvent::ReasoningDelta { text: delta } => {
                self.start(&mut out);
                if !matches!(self.open, Some(OpenItem::Reasoning { .. })) {
                    let item = OpenItem::Reasoning { id: item_id("rs"), text: String::new(), signature: None };
                    self.open(item, &mut out);
                }
                let Some(OpenItem::Reasoning { id, text, .. }) = &mut self.open else { return out };
                text.push_str(delta);
                let data =
                    json!({"item_id": id, "output_index": self.output.len(), "summary_index": 0, "delta": delta});
                out.push(self.event("response.reasoning_summary_text.delta", data));
            }
            StreamEvent::ReasoningSignature(value) => {
                // A signature without visible reasoning (Gemini signs calls) gets an empty
                // reasoning item of its own, as in a complete answer.
                if !matches!(self.open, Some(OpenItem::Reasoning { .. })) {
                    self.start(&mut out);
                    let item = OpenItem::Reasoning { id: item_id("rs"), text: String::new(), signature: None };
                    self.open(item, &mut out);
                }
                if let Some(OpenItem::Reasoning { signature, .. }) = &mut self.open {
                    *signature = Some(value.clone());
                }
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                self.start(&mut out);
                let item_id = item_id(self.kinds.call_id_prefix(name));
                let call = OpenItem::Call {
                    id: item_id,
                    index: *index,
                    call_id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                };
                self.open(call, &mut out);
            }
            StreamEvent::ToolCallDelta { index, arguments: delta } => {
                let custom = matches!(&self.open, Some(OpenItem::Call { name, .. }) if matches!(self.kinds.get(name), Some(ToolKind::Custom)));
                let output_index = self.output.len();
                let Some(OpenItem::Call { id, index: open_index, arguments, .. }) = &mut self.open else { return out };
                if open_index != index {
                    return out;
                }
                arguments.push_str(delta);
                if !custom {
                    let data = json!({"item_id": id, "output_index": output_index, "delta": delta});
                    out.push(self.event("response.function_call_arguments.delta", data));
                }
            }
            StreamEvent::Finish { reason, .. } => self.finish = Some(*reason),
            // Redacted reasoning has no Responses form; usage is reported once, at the end.
            StreamEvent::RedactedReasoning(_) | StreamEvent::Usage(_) => {}
        }
        out
    }

    fn finish(&mut self, usage: Usage) -> Vec<Bytes> {
        if self.verbatim {
            return std::mem::take(&mut self.held);
        }
        let mut out = Vec::new();
        self.start(&mut out);
        let status = status_of(self.finish.unwrap_or_default());
        self.close(&mut out, status.item_status());
        let response = self.shell().object(status, self.output.clone(), Some(&usage));
        let kind = if status == Status::Completed { "response.completed" } else { "response.incomplete" };
        out.push(self.event(kind, json!({"response": response})));
        self.completed = Some(response);
        out
    }

    fn abort(&mut self, error: &ApiError) -> Vec<Bytes> {
        let mut out = Vec::new();
        let output = std::mem::take(&mut self.output);
        let mut response = self.shell().object(Status::Failed, output, None);
        if let Some(id) = &self.verbatim_id {
            response["id"] = json!(id);
        }
        response["error"] = json!({"code": "server_error", "message": error.message});
        out.push(self.event("response.failed", json!({"response": response})));
        out
    }

    fn relay_raw(&mut self, event: &SseEvent) -> Vec<Bytes> {
        let kind = event.event.as_deref().unwrap_or_default();
        let frame = encode(event.event.as_deref(), &event.data);
        if kind == "response.created" {
            let id = serde_json::from_str::<Value>(&event.data).ok().and_then(|v| v.pointer("/response/id").cloned());
            self.verbatim_id = Some(id.and_then(|id| id.as_str().map(str::to_string)).unwrap_or_default());
        }
        self.verbatim = true;
        // Upstream sequence numbers count events from 0; an `abort` continues after them.
        self.sequence += 1;
        if TERMINAL_EVENTS.contains(&kind) {
            self.completed = serde_json::from_str::<Value>(&event.data)
                .ok()
                .and_then(|mut v| v.get_mut("response").map(Value::take));
            self.held.push(frame);
            return Vec::new();
        }
        vec![frame]
    }

    fn completed_response(&self) -> Option<&Value> {
        self.completed.as_ref()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::ir::{Dialect, OriginalRequest};
    use oblivious_core::sse::SseParser;

    fn encoder() -> ResponsesStreamEncoder {
        let body = json!({"model": "m", "input": "hi", "tools": [{"type": "custom", "name": "apply_patch"}]});
        let request = ChatRequest {
            original: Some(OriginalRequest {
                dialect: Dialect::Responses,
                body: body.as_object().unwrap().clone(),
                headers: vec![],
            }),
            ..ChatRequest::default()
        };
        let meta = StreamMeta {
            id: "resp_1".into(),
            model: "m".into(),
            created: 1,
            include_usage: true,
            estimated_input_tokens: 1,
        };
        ResponsesStreamEncoder::new(meta, &request)
    }

    fn events(frames: &[Bytes]) -> Vec<(String, Value)> {
        let mut parser = SseParser::new();
        frames
            .iter()
            .flat_map(|f| parser.push(f))
            .map(|e| (e.event.unwrap(), serde_json::from_str(&e.data).unwrap()))
            .collect()
    }

    #[test]
    fn a_translated_stream_has_typed_numbered_events_and_a_complete_final_response() {
        let mut encoder = encoder();
        let mut frames: Vec<Bytes> = [
            StreamEvent::ReasoningDelta { text: "hmm".into() },
            StreamEvent::ReasoningSignature("sig".into()),
            StreamEvent::TextDelta("Hel".into()),
            StreamEvent::TextDelta("lo".into()),
            StreamEvent::ToolCallStart { index: 0, id: "call_1".into(), name: "apply_patch".into() },
            StreamEvent::ToolCallDelta { index: 0, arguments: r#"{"input":"#.into() },
            StreamEvent::ToolCallDelta { index: 0, arguments: r#""P"}"#.into() },
            StreamEvent::Finish { reason: FinishReason::ToolCalls, stop_sequence: None },
        ]
        .iter()
        .flat_map(|e| encoder.encode(e))
        .collect();
        frames.extend(encoder.finish(Usage { input_tokens: 4, output_tokens: 6, ..Usage::default() }));
        let events = events(&frames);
        let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(&kinds[..2], ["response.created", "response.in_progress"]);
        assert_eq!(kinds.last(), Some(&"response.completed"));
        assert!(events.iter().all(|(kind, data)| data["type"] == kind.as_str()));
        let sequence: Vec<u64> = events.iter().map(|(_, d)| d["sequence_number"].as_u64().unwrap()).collect();
        assert_eq!(sequence, (0..events.len() as u64).collect::<Vec<_>>());
        let done: Vec<&Value> =
            events.iter().filter(|(k, _)| k == "response.output_item.done").map(|(_, d)| &d["item"]).collect();
        assert_eq!(done.len(), 3);
        assert_eq!((done[0]["type"].as_str(), done[0]["encrypted_content"].as_str()), (Some("reasoning"), Some("sig")));
        assert_eq!(done[1]["content"][0]["text"], "Hello");
        assert_eq!((done[2]["type"].as_str(), done[2]["input"].as_str()), (Some("custom_tool_call"), Some("P")));
        assert!(kinds.contains(&"response.custom_tool_call_input.done"));
        let completed = &events.last().unwrap().1["response"];
        assert_eq!(completed["id"], "resp_1");
        assert_eq!(completed["output"].as_array().unwrap().len(), 3);
        assert_eq!(completed["usage"]["total_tokens"], 10);
        assert_eq!(encoder.completed_response(), Some(completed));
    }

    #[test]
    fn a_verbatim_stream_holds_back_its_terminal_event_until_finish() {
        let mut encoder = encoder();
        let raw = |kind: &str, data: Value| SseEvent { event: Some(kind.into()), data: data.to_string(), id: None };
        let created = encoder
            .relay_raw(&raw("response.created", json!({"type": "response.created", "response": {"id": "resp_up"}})));
        assert_eq!(created.len(), 1);
        let completed = json!({"type": "response.completed", "response": {"id": "resp_up", "output": []}});
        assert!(encoder.relay_raw(&raw("response.completed", completed.clone())).is_empty());
        assert_eq!(encoder.completed_response(), Some(&completed["response"]));
        let held = encoder.finish(Usage::default());
        assert_eq!(events(&held)[0].1, completed, "the upstream's own terminal event, unchanged");
    }

    #[test]
    fn an_aborted_stream_ends_with_response_failed() {
        let mut encoder = encoder();
        let mut frames = encoder.encode(&StreamEvent::TextDelta("Hi".into()));
        frames.extend(encoder.abort(&ApiError::new(oblivious_core::ErrorKind::BadGateway, "broken")));
        let (kind, data) = events(&frames).pop().unwrap();
        assert_eq!(kind, "response.failed");
        assert_eq!(
            (data["response"]["status"].as_str(), data["response"]["error"]["message"].as_str()),
            (Some("failed"), Some("broken"))
        );
    }
}
