//! Stream events -> Anthropic's named SSE events, in the order Anthropic sends them:
//!
//! ```text
//! message_start, ping,
//! (content_block_start, content_block_delta*, content_block_stop)*,
//! message_delta, message_stop
//! ```
//!
//! Anthropic streams one content block at a time, so a change of block kind closes the open
//! block. Parallel tool calls are serialized: a call started while another tool block is open is
//! queued, and becomes the open block when its first argument delta arrives (the upstream has
//! moved on: OpenAI and Gemini stream calls one after another) or as a whole block when the open
//! one closes. Only an upstream that goes back to an earlier call after streaming a later one
//! loses data, since a closed Anthropic block cannot be reopened; that is logged.

use bytes::Bytes;
use oblivious_core::sse;
use oblivious_core::{ApiError, Dialect};
use serde_json::{Value, json};

use super::{stop_reason_to_wire, usage_json};
use crate::dialect::{StreamEncoder, StreamMeta};
use crate::ir::{FinishReason, StreamEvent, Usage};

pub struct AnthropicStreamEncoder {
    meta: StreamMeta,
    started: bool,
    /// `finish` or `abort` was called: nothing more is sent.
    closed: bool,
    /// Wire index of the next content block.
    next_block: u32,
    open: Option<OpenBlock>,
    /// Tool calls started while another tool block was open, in order.
    queued: Vec<QueuedTool>,
    /// IR indexes of every tool call started so far.
    tools_seen: Vec<u32>,
    finish: Option<(FinishReason, Option<String>)>,
    /// Latest usage seen before `message_start` went out.
    usage: Option<Usage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking { signed: bool },
    Tool { ir_index: u32 },
    Redacted,
}

#[derive(Debug, Clone, Copy)]
struct OpenBlock {
    index: u32,
    kind: Kind,
}

struct QueuedTool {
    ir_index: u32,
    id: String,
    name: String,
    arguments: String,
}

impl AnthropicStreamEncoder {
    pub fn new(meta: StreamMeta) -> Self {
        AnthropicStreamEncoder {
            meta,
            started: false,
            closed: false,
            next_block: 0,
            open: None,
            queued: Vec::new(),
            tools_seen: Vec::new(),
            finish: None,
            usage: None,
        }
    }

    fn frame(name: &str, data: &Value) -> Bytes {
        sse::encode(Some(name), &data.to_string())
    }

    /// `message_start` and `ping`, once, with the best input count known so far.
    fn start(&mut self, out: &mut Vec<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        let usage = match &self.usage {
            Some(usage) => {
                let mut json = usage_json(usage);
                json["output_tokens"] = json!(usage.output_tokens.max(1));
                json
            }
            None => json!({
                "input_tokens": self.meta.estimated_input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 1,
            }),
        };
        let message = json!({
            "type": "message_start",
            "message": {
                "id": self.meta.id,
                "type": "message",
                "role": "assistant",
                "model": self.meta.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": usage,
            }
        });
        out.push(Self::frame("message_start", &message));
        out.push(Self::frame("ping", &json!({"type": "ping"})));
    }

    /// Opens a new block after closing the open one.
    fn open_block(&mut self, out: &mut Vec<Bytes>, kind: Kind, content_block: Value) {
        self.close_block(out);
        let index = self.next_block;
        self.next_block += 1;
        out.push(Self::frame(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": content_block}),
        ));
        self.open = Some(OpenBlock { index, kind });
    }

    /// Closes the open block; closing a tool block also emits the tool calls queued behind it.
    fn close_block(&mut self, out: &mut Vec<Bytes>) {
        let Some(open) = self.open.take() else { return };
        out.push(Self::stop_frame(open.index));
        if matches!(open.kind, Kind::Tool { .. }) {
            for tool in std::mem::take(&mut self.queued) {
                let index = self.open_tool(out, &tool);
                out.push(Self::stop_frame(index));
                self.open = None;
            }
        }
    }

    /// Opens a tool block (nothing may be open) with the arguments buffered so far.
    fn open_tool(&mut self, out: &mut Vec<Bytes>, tool: &QueuedTool) -> u32 {
        let index = self.next_block;
        self.next_block += 1;
        out.push(Self::frame("content_block_start", &tool_start(index, &tool.id, &tool.name)));
        if !tool.arguments.is_empty() {
            out.push(Self::delta(index, json!({"type": "input_json_delta", "partial_json": tool.arguments})));
        }
        self.open = Some(OpenBlock { index, kind: Kind::Tool { ir_index: tool.ir_index } });
        index
    }

    fn stop_frame(index: u32) -> Bytes {
        Self::frame("content_block_stop", &json!({"type": "content_block_stop", "index": index}))
    }

    fn delta(index: u32, delta: Value) -> Bytes {
        Self::frame("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": delta}))
    }

    fn open_kind(&self) -> Option<Kind> {
        self.open.map(|o| o.kind)
    }

    /// The wire index of the open block, opening a new one of `kind` first if needed.
    fn ensure(&mut self, out: &mut Vec<Bytes>, kind: Kind, content_block: impl FnOnce() -> Value) -> u32 {
        if let Some(open) = self.open
            && open.kind == kind
        {
            return open.index;
        }
        self.open_block(out, kind, content_block());
        self.next_block - 1
    }
}

fn thinking_block() -> Value {
    json!({"type": "thinking", "thinking": "", "signature": ""})
}

fn tool_start(index: u32, id: &str, name: &str) -> Value {
    json!({
        "type": "content_block_start",
        "index": index,
        "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}},
    })
}

impl StreamEncoder for AnthropicStreamEncoder {
    fn encode(&mut self, event: &StreamEvent) -> Vec<Bytes> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        if let StreamEvent::Usage(usage) = event {
            // Announced in `message_start` if it comes first; the final numbers go in `finish`.
            self.usage = Some(*usage);
            return out;
        }
        self.start(&mut out);
        match event {
            StreamEvent::TextDelta(text) => {
                if !text.is_empty() {
                    let index = self.ensure(&mut out, Kind::Text, || json!({"type": "text", "text": ""}));
                    out.push(Self::delta(index, json!({"type": "text_delta", "text": text})));
                }
            }
            StreamEvent::ReasoningDelta { text } => {
                if !text.is_empty() {
                    let index = self.ensure(&mut out, Kind::Thinking { signed: false }, thinking_block);
                    out.push(Self::delta(index, json!({"type": "thinking_delta", "thinking": text})));
                }
            }
            StreamEvent::ReasoningSignature(signature) => {
                // Belongs to the thinking block just streamed; a signature with no unsigned
                // thinking block open (Gemini signs text and calls too) gets an empty one.
                let index = self.ensure(&mut out, Kind::Thinking { signed: false }, thinking_block);
                out.push(Self::delta(index, json!({"type": "signature_delta", "signature": signature})));
                if let Some(open) = self.open.as_mut() {
                    open.kind = Kind::Thinking { signed: true };
                }
            }
            StreamEvent::RedactedReasoning(data) => {
                self.open_block(&mut out, Kind::Redacted, json!({"type": "redacted_thinking", "data": data}));
                self.close_block(&mut out);
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                if self.tools_seen.contains(index) {
                    return out;
                }
                self.tools_seen.push(*index);
                let tool =
                    QueuedTool { ir_index: *index, id: id.clone(), name: name.clone(), arguments: String::new() };
                if matches!(self.open_kind(), Some(Kind::Tool { .. })) {
                    self.queued.push(tool);
                } else {
                    self.close_block(&mut out);
                    self.open_tool(&mut out, &tool);
                }
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                if arguments.is_empty() {
                    return out;
                }
                let delta = json!({"type": "input_json_delta", "partial_json": arguments});
                match self.open {
                    Some(OpenBlock { index: wire, kind: Kind::Tool { ir_index } }) if ir_index == *index => {
                        out.push(Self::delta(wire, delta));
                    }
                    _ => match self.queued.iter().position(|t| t.ir_index == *index) {
                        // The head of the queue is talking: the open call is complete.
                        Some(0) => {
                            let tool = self.queued.remove(0);
                            if let Some(open) = self.open.take() {
                                out.push(Self::stop_frame(open.index));
                            }
                            let wire = self.open_tool(&mut out, &tool);
                            out.push(Self::delta(wire, delta));
                        }
                        Some(position) => self.queued[position].arguments.push_str(arguments),
                        None => tracing::warn!(index, "tool call arguments arrived after their block closed; dropped"),
                    },
                }
            }
            StreamEvent::Finish { reason, stop_sequence } => self.finish = Some((*reason, stop_sequence.clone())),
            StreamEvent::Usage(_) => {}
        }
        out
    }

    fn finish(&mut self, usage: Usage) -> Vec<Bytes> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        self.start(&mut out);
        self.close_block(&mut out);
        self.closed = true;
        let (reason, stop_sequence) = self.finish.take().unwrap_or_else(|| {
            let reason = if self.tools_seen.is_empty() { FinishReason::Stop } else { FinishReason::ToolCalls };
            (reason, None)
        });
        // Newer API versions repeat the input numbers here; older SDKs read only output_tokens.
        out.push(Self::frame(
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason_to_wire(reason), "stop_sequence": stop_sequence},
                "usage": usage_json(&usage),
            }),
        ));
        out.push(Self::frame("message_stop", &json!({"type": "message_stop"})));
        out
    }

    fn abort(&mut self, error: &ApiError) -> Vec<Bytes> {
        if self.closed {
            return Vec::new();
        }
        self.closed = true;
        vec![Self::frame("error", &error.body(Dialect::Anthropic))]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use oblivious_core::ErrorKind;
    use oblivious_core::sse::{SseEvent, SseParser};

    fn meta() -> StreamMeta {
        StreamMeta {
            id: "msg_x".into(),
            model: "claude".into(),
            created: 0,
            include_usage: true,
            estimated_input_tokens: 42,
        }
    }

    fn parse(frames: &[Bytes]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        frames.iter().flat_map(|f| parser.push(f)).collect()
    }

    fn run(events: &[StreamEvent], usage: Usage) -> Vec<SseEvent> {
        let mut encoder = AnthropicStreamEncoder::new(meta());
        let mut frames: Vec<Bytes> = events.iter().flat_map(|e| encoder.encode(e)).collect();
        frames.extend(encoder.finish(usage));
        parse(&frames)
    }

    fn names(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.event.as_deref().unwrap_or("")).collect()
    }

    fn data(event: &SseEvent) -> Value {
        serde_json::from_str(&event.data).unwrap()
    }

    #[test]
    fn an_empty_answer_still_has_the_full_envelope_with_the_estimate() {
        let events = run(&[], Usage { input_tokens: 9, output_tokens: 3, ..Usage::default() });
        assert_eq!(names(&events), ["message_start", "ping", "message_delta", "message_stop"]);
        let start = data(&events[0]);
        assert_eq!(start["message"]["id"], "msg_x");
        assert_eq!(start["message"]["usage"]["input_tokens"], 42);
        let delta = data(&events[2]);
        assert_eq!(delta["delta"]["stop_reason"], "end_turn");
        assert_eq!(delta["usage"]["output_tokens"], 3);
        assert_eq!(delta["usage"]["input_tokens"], 9);
    }

    #[test]
    fn message_start_announces_upstream_usage_seen_before_content_excluding_cache() {
        let usage = Usage {
            input_tokens: 100,
            cached_input_tokens: 60,
            cache_write_tokens: 30,
            output_tokens: 1,
            reasoning_tokens: 0,
        };
        let events = run(&[StreamEvent::Usage(usage), StreamEvent::TextDelta("hi".into())], usage);
        let start = data(&events[0]);
        assert_eq!(start["message"]["usage"]["input_tokens"], 10);
        assert_eq!(start["message"]["usage"]["cache_read_input_tokens"], 60);
        assert_eq!(start["message"]["usage"]["cache_creation_input_tokens"], 30);
        let delta = data(&events[events.len() - 2]);
        assert_eq!(delta["usage"]["input_tokens"], 10);
    }

    fn tool_blocks(events: &[SseEvent]) -> Vec<(u64, String, String)> {
        let mut blocks: Vec<(u64, String, String)> = Vec::new();
        for event in events.iter().map(data) {
            match event["type"].as_str().unwrap() {
                "content_block_start" => blocks.push((
                    event["index"].as_u64().unwrap(),
                    event["content_block"]["id"].as_str().unwrap().to_string(),
                    String::new(),
                )),
                "content_block_delta" => {
                    let block = blocks.last_mut().unwrap();
                    assert_eq!(block.0, event["index"].as_u64().unwrap(), "deltas go to the open block");
                    block.2.push_str(event["delta"]["partial_json"].as_str().unwrap());
                }
                _ => {}
            }
        }
        blocks
    }

    #[test]
    fn parallel_tool_calls_are_serialized_without_losing_arguments() {
        let start = |index: u32, id: &str| StreamEvent::ToolCallStart { index, id: id.into(), name: "f".into() };
        let delta = |index: u32, args: &str| StreamEvent::ToolCallDelta { index, arguments: args.into() };
        let events = run(
            &[
                start(0, "a"),
                start(1, "b"),
                start(2, "c"),
                delta(0, "{\"x\":"),
                delta(2, "{\"z\":3}"),
                delta(0, "1}"),
                delta(1, "{\"y\":"),
                delta(1, "2}"),
                StreamEvent::Finish { reason: FinishReason::ToolCalls, stop_sequence: None },
            ],
            Usage::default(),
        );
        assert_eq!(
            tool_blocks(&events),
            [
                (0, "a".to_string(), "{\"x\":1}".to_string()),
                (1, "b".to_string(), "{\"y\":2}".to_string()),
                (2, "c".to_string(), "{\"z\":3}".to_string()),
            ]
        );
        let starts = events.iter().filter(|e| e.event.as_deref() == Some("content_block_start")).count();
        let stops = events.iter().filter(|e| e.event.as_deref() == Some("content_block_stop")).count();
        assert_eq!((starts, stops), (3, 3));
        assert_eq!(data(&events[events.len() - 2])["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn sequential_tool_calls_stream_live() {
        let mut encoder = AnthropicStreamEncoder::new(meta());
        encoder.encode(&StreamEvent::ToolCallStart { index: 0, id: "a".into(), name: "f".into() });
        encoder.encode(&StreamEvent::ToolCallDelta { index: 0, arguments: "{}".into() });
        assert!(encoder.encode(&StreamEvent::ToolCallStart { index: 1, id: "b".into(), name: "g".into() }).is_empty());
        let frames = parse(&encoder.encode(&StreamEvent::ToolCallDelta { index: 1, arguments: "{\"q\"".into() }));
        assert_eq!(names(&frames), ["content_block_stop", "content_block_start", "content_block_delta"]);
        assert_eq!(data(&frames[1])["content_block"]["id"], "b");
        // A call revisited after a later one streamed cannot be reopened: dropped, never misplaced.
        assert!(encoder.encode(&StreamEvent::ToolCallDelta { index: 0, arguments: "x".into() }).is_empty());
    }

    #[test]
    fn a_lone_signature_gets_a_thinking_block_and_redacted_reasoning_its_own() {
        let events = run(
            &[
                StreamEvent::TextDelta("a".into()),
                StreamEvent::ReasoningSignature("sig".into()),
                StreamEvent::RedactedReasoning("opaque".into()),
            ],
            Usage::default(),
        );
        let blocks: Vec<Value> = events.iter().map(data).filter(|d| d["type"] == "content_block_start").collect();
        assert_eq!(blocks[1]["content_block"]["type"], "thinking");
        assert_eq!(blocks[2]["content_block"], json!({"type": "redacted_thinking", "data": "opaque"}));
        let indexes: Vec<u64> = blocks.iter().map(|b| b["index"].as_u64().unwrap()).collect();
        assert_eq!(indexes, [0, 1, 2]);
    }

    #[test]
    fn abort_sends_only_an_error_event_and_nothing_after_it() {
        let mut encoder = AnthropicStreamEncoder::new(meta());
        let first = encoder.encode(&StreamEvent::TextDelta("x".into()));
        assert_eq!(names(&parse(&first)), ["message_start", "ping", "content_block_start", "content_block_delta"]);
        let aborted = parse(&encoder.abort(&ApiError::new(ErrorKind::BadGateway, "broke")));
        assert_eq!(names(&aborted), ["error"]);
        assert_eq!(data(&aborted[0]), json!({"type": "error", "error": {"type": "api_error", "message": "broke"}}));
        assert!(encoder.finish(Usage::default()).is_empty());
        assert!(encoder.encode(&StreamEvent::TextDelta("y".into())).is_empty());
    }
}
