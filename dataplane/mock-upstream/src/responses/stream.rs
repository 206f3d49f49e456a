//! The Responses event stream: `event: <type>` / `data: <json>` frames, each event carrying its
//! `type` and a `sequence_number` counted from 0. `response.created` and `response.in_progress`,
//! then per output item `response.output_item.added`, its parts and deltas, and
//! `response.output_item.done` with the whole item; last `response.completed` (or
//! `response.incomplete`) with the whole response and its usage. A failure after the start is an
//! `error` event followed by `response.failed`, as OpenAI sends it.

use axum::response::Response;
use serde_json::{Value, json};

use super::output::{Envelope, ItemBody, OutputItem, Status, final_status, output_text, summary_part, usage};
use crate::answer::Answer;
use crate::directives::Directives;
use crate::errors::{self, Provider};
use crate::streaming::{Delivery, Frame, sse_event, streamed};

const EVENT_STREAM: &str = "text/event-stream; charset=utf-8";

/// The whole stream of one answer.
pub fn stream_answer(envelope: &Envelope, items: &[OutputItem], answer: &Answer, directives: &Directives) -> Response {
    let mut events = Events::default();
    let started = || json!({"response": envelope.response(&Status::InProgress, Vec::new(), Value::Null)});
    events.meta("response.created", started());
    events.meta("response.in_progress", started());
    if let Some(kind) = directives.error_in_stream {
        let body = errors::for_kind(Provider::OpenAi, kind).body;
        let error = &body["error"];
        let code = if error["code"].is_null() { error["type"].clone() } else { error["code"].clone() };
        let message = error["message"].clone();
        events.meta("error", json!({"code": code, "message": message, "param": null}));
        let failed = Status::Failed(json!({"code": code, "message": message}));
        events.meta("response.failed", json!({"response": envelope.response(&failed, Vec::new(), Value::Null)}));
        return streamed(events.frames, Delivery::default(), EVENT_STREAM);
    }
    for (index, item) in items.iter().enumerate() {
        events.meta("response.output_item.added", json!({"output_index": index, "item": item.started()}));
        let at = |fields: Value| {
            let mut event = json!({"item_id": item.id, "output_index": index});
            merge(&mut event, fields);
            event
        };
        match &item.body {
            ItemBody::Reasoning { summary, .. } if !summary.is_empty() => {
                let text = summary.concat();
                events.meta(
                    "response.reasoning_summary_part.added",
                    at(json!({"summary_index": 0, "part": summary_part("")})),
                );
                for piece in summary {
                    events.content(
                        "response.reasoning_summary_text.delta",
                        at(json!({"summary_index": 0, "delta": piece})),
                    );
                }
                events.meta("response.reasoning_summary_text.done", at(json!({"summary_index": 0, "text": text})));
                events.meta(
                    "response.reasoning_summary_part.done",
                    at(json!({"summary_index": 0, "part": summary_part(&text)})),
                );
            }
            ItemBody::Reasoning { .. } => {}
            ItemBody::Message { pieces, .. } => {
                let text = pieces.concat();
                events.meta("response.content_part.added", at(json!({"content_index": 0, "part": output_text("")})));
                for piece in pieces {
                    events.content(
                        "response.output_text.delta",
                        at(json!({"content_index": 0, "delta": piece, "logprobs": []})),
                    );
                }
                events.meta("response.output_text.done", at(json!({"content_index": 0, "text": text, "logprobs": []})));
                events.meta("response.content_part.done", at(json!({"content_index": 0, "part": output_text(&text)})));
            }
            ItemBody::FunctionCall { arguments, .. } => {
                let (first, second) = arguments.split_at(middle(arguments));
                for part in [first, second] {
                    events.content("response.function_call_arguments.delta", at(json!({"delta": part})));
                }
                events.meta("response.function_call_arguments.done", at(json!({"arguments": arguments})));
            }
            ItemBody::CustomToolCall { input, .. } => {
                events.content("response.custom_tool_call_input.delta", at(json!({"delta": input})));
                events.meta("response.custom_tool_call_input.done", at(json!({"input": input})));
            }
        }
        events.meta("response.output_item.done", json!({"output_index": index, "item": item.done()}));
    }
    let status = final_status(answer);
    let name = if matches!(status, Status::Incomplete) { "response.incomplete" } else { "response.completed" };
    let output = items.iter().map(OutputItem::done).collect();
    events.meta(name, json!({"response": envelope.response(&status, output, usage(answer, directives))}));
    streamed(events.frames, Delivery::from_tps(directives.tps, directives.break_after), EVENT_STREAM)
}

/// The frames so far and the next sequence number.
#[derive(Default)]
struct Events {
    frames: Vec<Frame>,
    next: u64,
}

impl Events {
    fn meta(&mut self, kind: &str, fields: Value) {
        let frame = Frame::meta(self.event(kind, fields));
        self.frames.push(frame);
    }

    /// A delta: paced by `tps` and counted by `break_after`.
    fn content(&mut self, kind: &str, fields: Value) {
        let frame = Frame::content(self.event(kind, fields));
        self.frames.push(frame);
    }

    fn event(&mut self, kind: &str, fields: Value) -> bytes::Bytes {
        let mut event = json!({"type": kind, "sequence_number": self.next});
        self.next += 1;
        merge(&mut event, fields);
        sse_event(kind, &event)
    }
}

fn merge(into: &mut Value, fields: Value) {
    if let (Some(into), Value::Object(fields)) = (into.as_object_mut(), fields) {
        into.extend(fields);
    }
}

/// A char boundary near the middle, where the arguments are split into two deltas.
fn middle(text: &str) -> usize {
    (0..=text.len() / 2).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0)
}
