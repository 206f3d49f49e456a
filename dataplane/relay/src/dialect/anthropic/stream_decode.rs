//! An Anthropic upstream's SSE stream -> stream events.
//!
//! Usage arrives in two halves: `message_start` carries the input numbers (and a token or so of
//! output), `message_delta` the cumulative output count — and, on newer API versions and on some
//! compatible servers, the input numbers too, which then win. Every `Usage` event emitted is the
//! complete cumulative picture, since the last one wins.

use std::collections::HashMap;

use oblivious_core::sse::SseEvent;
use serde_json::Value;

use super::{WireUsage, classify_failure, stop_reason_from_wire};
use crate::dialect::{DecodeError, StreamDecoder};
use crate::ir::StreamEvent;

#[derive(Default)]
pub struct AnthropicStreamDecoder {
    done: bool,
    /// Kind of every content block started, by wire index.
    blocks: HashMap<u64, Block>,
    /// IR index of the next tool call.
    next_tool: u32,
    /// Usage so far, in wire terms.
    usage: WireUsage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
    Tool {
        ir_index: u32,
    },
    /// Redacted thinking, server tool use and their results: nothing to stream.
    Other,
}

/// The HTTP status Anthropic uses for an error `type`, for errors that arrive inside a stream.
fn implied_status(error_type: &str) -> u16 {
    match error_type {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        // api_error and anything new.
        _ => 500,
    }
}

fn malformed(what: impl Into<String>) -> DecodeError {
    DecodeError::Malformed(what.into())
}

fn str_field<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

impl AnthropicStreamDecoder {
    fn content_block_start(&mut self, data: &Value) -> Result<Vec<StreamEvent>, DecodeError> {
        let index =
            data.get("index").and_then(Value::as_u64).ok_or_else(|| malformed("content_block_start without index"))?;
        let block = data.get("content_block").ok_or_else(|| malformed("content_block_start without content_block"))?;
        let mut events = Vec::new();
        let kind = match str_field(block, "type") {
            Some("text") => {
                if let Some(text) = str_field(block, "text").filter(|t| !t.is_empty()) {
                    events.push(StreamEvent::TextDelta(text.to_string()));
                }
                Block::Text
            }
            Some("thinking") => {
                if let Some(text) = str_field(block, "thinking").filter(|t| !t.is_empty()) {
                    events.push(StreamEvent::ReasoningDelta { text: text.to_string() });
                }
                if let Some(signature) = str_field(block, "signature").filter(|s| !s.is_empty()) {
                    events.push(StreamEvent::ReasoningSignature(signature.to_string()));
                }
                Block::Thinking
            }
            Some("redacted_thinking") => {
                let data = str_field(block, "data").ok_or_else(|| malformed("redacted_thinking without data"))?;
                events.push(StreamEvent::RedactedReasoning(data.to_string()));
                Block::Other
            }
            Some("tool_use") => {
                let ir_index = self.next_tool;
                self.next_tool += 1;
                let id = str_field(block, "id").ok_or_else(|| malformed("tool_use without id"))?;
                let name = str_field(block, "name").ok_or_else(|| malformed("tool_use without name"))?;
                events.push(StreamEvent::ToolCallStart { index: ir_index, id: id.to_string(), name: name.to_string() });
                // Anthropic starts with `input: {}` and streams the arguments; a server that sends
                // them whole up front is taken at its word.
                if let Some(input) = block.get("input").filter(|i| i.as_object().is_some_and(|o| !o.is_empty())) {
                    events.push(StreamEvent::ToolCallDelta { index: ir_index, arguments: input.to_string() });
                }
                Block::Tool { ir_index }
            }
            _ => Block::Other,
        };
        self.blocks.insert(index, kind);
        Ok(events)
    }

    fn content_block_delta(&mut self, data: &Value) -> Result<Vec<StreamEvent>, DecodeError> {
        let index =
            data.get("index").and_then(Value::as_u64).ok_or_else(|| malformed("content_block_delta without index"))?;
        let delta = data.get("delta").ok_or_else(|| malformed("content_block_delta without delta"))?;
        let text = |name: &str| {
            str_field(delta, name)
                .map(str::to_string)
                .ok_or_else(|| malformed(format!("content_block_delta without {name}")))
        };
        let event = match str_field(delta, "type") {
            Some("text_delta") => StreamEvent::TextDelta(text("text")?),
            Some("thinking_delta") => StreamEvent::ReasoningDelta { text: text("thinking")? },
            Some("signature_delta") => StreamEvent::ReasoningSignature(text("signature")?),
            Some("input_json_delta") => match self.blocks.get(&index) {
                Some(Block::Tool { ir_index }) => {
                    StreamEvent::ToolCallDelta { index: *ir_index, arguments: text("partial_json")? }
                }
                Some(_) => return Ok(Vec::new()), // a server tool's input
                None => return Err(malformed(format!("input_json_delta for unknown block {index}"))),
            },
            // citations_delta and anything new.
            _ => return Ok(Vec::new()),
        };
        let empty = match &event {
            StreamEvent::TextDelta(t)
            | StreamEvent::ReasoningDelta { text: t }
            | StreamEvent::ReasoningSignature(t) => t.is_empty(),
            StreamEvent::ToolCallDelta { arguments, .. } => arguments.is_empty(),
            _ => false,
        };
        Ok(if empty { Vec::new() } else { vec![event] })
    }

    fn message_delta(&mut self, data: &Value) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        let delta = data.get("delta");
        if let Some(reason) = delta.and_then(|d| str_field(d, "stop_reason")) {
            let stop_sequence = delta.and_then(|d| str_field(d, "stop_sequence")).map(str::to_string);
            events.push(StreamEvent::Finish { reason: stop_reason_from_wire(reason), stop_sequence });
        }
        if let Some(usage) = data.get("usage").filter(|u| u.is_object()) {
            let later = WireUsage::parse(usage);
            // Output is cumulative. Input numbers here, when a server sends them, are final.
            self.usage.output_tokens = later.output_tokens;
            if later.input_tokens > 0 {
                self.usage.input_tokens = later.input_tokens;
            }
            if later.cache_read_input_tokens > 0 {
                self.usage.cache_read_input_tokens = later.cache_read_input_tokens;
            }
            if later.cache_creation_input_tokens > 0 {
                self.usage.cache_creation_input_tokens = later.cache_creation_input_tokens;
            }
            events.push(StreamEvent::Usage(self.usage.to_ir()));
        }
        events
    }
}

impl StreamDecoder for AnthropicStreamDecoder {
    fn decode(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, DecodeError> {
        if event.data.trim().is_empty() {
            return Ok(Vec::new());
        }
        let data: Value =
            serde_json::from_str(&event.data).map_err(|e| malformed(format!("event data is not JSON: {e}")))?;
        // The data's own `type` is authoritative; the SSE event name is a fallback.
        let kind = str_field(&data, "type").or(event.event.as_deref()).unwrap_or_default();
        match kind {
            "message_start" => {
                let usage = data.get("message").and_then(|m| m.get("usage")).filter(|u| u.is_object());
                Ok(match usage {
                    Some(usage) => {
                        self.usage = WireUsage::parse(usage);
                        vec![StreamEvent::Usage(self.usage.to_ir())]
                    }
                    None => Vec::new(),
                })
            }
            "content_block_start" => self.content_block_start(&data),
            "content_block_delta" => self.content_block_delta(&data),
            "message_delta" => Ok(self.message_delta(&data)),
            "message_stop" => {
                self.done = true;
                Ok(Vec::new())
            }
            "error" => {
                let error_type = data.get("error").and_then(|e| str_field(e, "type")).unwrap_or("api_error");
                let status = implied_status(error_type);
                Err(DecodeError::Upstream(classify_failure(status, event.data.as_bytes())))
            }
            // content_block_stop, ping and event types added later.
            _ => Ok(Vec::new()),
        }
    }

    fn done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::dialect::anthropic::AnthropicStreamEncoder;
    use crate::dialect::{FailureAction, StreamEncoder, StreamMeta};
    use crate::ir::{FinishReason, Usage};
    use bytes::Bytes;
    use oblivious_core::ErrorKind;
    use oblivious_core::sse::SseParser;

    /// A thinking + text + tool call answer as Anthropic streams it (prompt caching on).
    const RECORDED: &str = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_01Aq9w938a90dw8q","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":1024,"cache_read_input_tokens":2048,"output_tokens":4,"service_tier":"standard"}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"The user wants the weather."}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":" I'll call get_weather."}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds=="}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Let me check"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":" the weather."}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":" \"San Francisco, CA\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}

"#;

    /// Decodes a byte stream fed in `chunk`-sized pieces; also says whether the decoder saw the end.
    fn decode_bytes(bytes: &[u8], chunk: usize) -> (Vec<StreamEvent>, bool) {
        let mut parser = SseParser::new();
        let mut decoder = AnthropicStreamDecoder::default();
        let mut events = Vec::new();
        for piece in bytes.chunks(chunk.max(1)) {
            for sse in parser.push(piece) {
                events.extend(decoder.decode(&sse).unwrap());
            }
        }
        (events, decoder.done())
    }

    fn meta() -> StreamMeta {
        StreamMeta {
            id: "msg_relay".into(),
            model: "claude".into(),
            created: 0,
            include_usage: true,
            estimated_input_tokens: 42,
        }
    }

    fn encode_all(events: &[StreamEvent], usage: Usage) -> Vec<u8> {
        let mut encoder = AnthropicStreamEncoder::new(meta());
        let mut frames: Vec<Bytes> = events.iter().flat_map(|e| encoder.encode(e)).collect();
        frames.extend(encoder.finish(usage));
        frames.concat()
    }

    fn sse_names(bytes: &[u8]) -> Vec<String> {
        SseParser::new().push(bytes).into_iter().map(|e| e.event.unwrap_or_default()).collect()
    }

    fn recorded_events() -> Vec<StreamEvent> {
        let start = Usage {
            input_tokens: 472 + 1024 + 2048,
            cached_input_tokens: 2048,
            cache_write_tokens: 1024,
            output_tokens: 4,
            reasoning_tokens: 0,
        };
        vec![
            StreamEvent::Usage(start),
            StreamEvent::ReasoningDelta { text: "The user wants the weather.".into() },
            StreamEvent::ReasoningDelta { text: " I'll call get_weather.".into() },
            StreamEvent::ReasoningSignature("EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds==".into()),
            StreamEvent::TextDelta("Let me check".into()),
            StreamEvent::TextDelta(" the weather.".into()),
            StreamEvent::ToolCallStart {
                index: 0,
                id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6".into(),
                name: "get_weather".into(),
            },
            StreamEvent::ToolCallDelta { index: 0, arguments: "{\"location\":".into() },
            StreamEvent::ToolCallDelta { index: 0, arguments: " \"San Francisco, CA\"}".into() },
            StreamEvent::Finish { reason: FinishReason::ToolCalls, stop_sequence: None },
            StreamEvent::Usage(Usage { output_tokens: 89, ..start }),
        ]
    }

    #[test]
    fn a_recorded_stream_decodes_event_by_event_whatever_the_chunking() {
        for chunk in [1, 7, 64, RECORDED.len()] {
            let (events, done) = decode_bytes(RECORDED.as_bytes(), chunk);
            assert_eq!(events, recorded_events(), "chunk size {chunk}");
            assert!(done);
        }
    }

    #[test]
    fn the_decoded_events_encode_back_to_the_same_event_sequence_and_decode_again_identically() {
        let events = recorded_events();
        let final_usage = match events.last() {
            Some(StreamEvent::Usage(u)) => *u,
            _ => unreachable!(),
        };
        let bytes = encode_all(&events, final_usage);
        assert_eq!(
            sse_names(&bytes),
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        let datas: Vec<Value> =
            SseParser::new().push(&bytes).iter().map(|e| serde_json::from_str(&e.data).unwrap()).collect();
        assert_eq!(datas[0]["message"]["usage"]["input_tokens"], 472, "message_start input excludes the cache");
        assert_eq!(datas[0]["message"]["usage"]["cache_read_input_tokens"], 2048);
        assert_eq!(datas[15]["usage"]["input_tokens"], 472, "message_delta input excludes the cache");
        assert_eq!(datas[15]["usage"]["output_tokens"], 89);
        assert_eq!(datas[15]["delta"]["stop_reason"], "tool_use");
        for chunk in [3, bytes.len()] {
            let (again, done) = decode_bytes(&bytes, chunk);
            assert_eq!(again, events);
            assert!(done);
        }
    }

    fn decode_one(event: Option<&str>, data: &str) -> Result<Vec<StreamEvent>, DecodeError> {
        AnthropicStreamDecoder::default().decode(&SseEvent {
            event: event.map(str::to_string),
            data: data.into(),
            id: None,
        })
    }

    #[test]
    fn in_stream_errors_are_classified_by_their_type() {
        let overloaded =
            decode_one(Some("error"), r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#);
        match overloaded {
            Err(DecodeError::Upstream(f)) => {
                assert_eq!(
                    (f.action, f.kind, f.status, f.class),
                    (FailureAction::Retry, ErrorKind::Unavailable, 529, "overloaded")
                );
            }
            other => panic!("{other:?}"),
        }
        let limited =
            decode_one(Some("error"), r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#);
        assert!(matches!(limited, Err(DecodeError::Upstream(f)) if f.status == 429 && f.class == "rate_limit"));
        let api = decode_one(None, r#"{"type":"error","error":{"type":"api_error","message":"oops"}}"#);
        assert!(matches!(api, Err(DecodeError::Upstream(f)) if f.status == 500 && f.class == "server_error"));
        assert!(matches!(decode_one(Some("message_start"), "{not json"), Err(DecodeError::Malformed(_))));
        let orphan =
            r#"{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{"}}"#;
        assert!(matches!(decode_one(None, orphan), Err(DecodeError::Malformed(_))));
        assert_eq!(decode_one(Some("ping"), r#"{"type":"ping"}"#), Ok(Vec::new()));
        assert_eq!(decode_one(Some("some_future_event"), r#"{"type":"some_future_event"}"#), Ok(Vec::new()));
    }

    #[test]
    fn message_delta_input_numbers_win_when_a_server_sends_them() {
        let mut decoder = AnthropicStreamDecoder::default();
        let event = |data: &str| SseEvent { event: None, data: data.into(), id: None };
        decoder
            .decode(&event(r#"{"type":"message_start","message":{"usage":{"input_tokens":0,"output_tokens":0}}}"#))
            .unwrap();
        let out = decoder
            .decode(&event(
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":30,"cache_read_input_tokens":70,"output_tokens":12}}"#,
            ))
            .unwrap();
        assert_eq!(
            out,
            vec![
                StreamEvent::Finish { reason: FinishReason::Stop, stop_sequence: None },
                StreamEvent::Usage(Usage {
                    input_tokens: 100,
                    cached_input_tokens: 70,
                    cache_write_tokens: 0,
                    output_tokens: 12,
                    reasoning_tokens: 0
                }),
            ]
        );
        assert!(!decoder.done());
        decoder.decode(&event(r#"{"type":"message_stop"}"#)).unwrap();
        assert!(decoder.done());
    }

    #[test]
    fn redacted_thinking_and_initial_text_in_block_starts_are_events() {
        let redacted = r#"{"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"EmwKAhgB"}}"#;
        assert_eq!(decode_one(None, redacted), Ok(vec![StreamEvent::RedactedReasoning("EmwKAhgB".into())]));
        let text = r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"Hi"}}"#;
        assert_eq!(decode_one(None, text), Ok(vec![StreamEvent::TextDelta("Hi".into())]));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Op {
            Text(String),
            Reasoning(String),
            Signature(String),
            Redacted(String),
            Tool(String, Vec<String>),
        }

        fn piece() -> impl Strategy<Value = String> {
            proptest::string::string_regex("(.|\n|\r|\"|\\\\){1,12}").unwrap()
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                3 => piece().prop_map(Op::Text),
                1 => piece().prop_map(Op::Reasoning),
                1 => "[A-Za-z0-9+/=]{1,16}".prop_map(Op::Signature),
                1 => "[A-Za-z0-9+/=]{1,16}".prop_map(Op::Redacted),
                2 => ("[a-z_]{1,10}", proptest::collection::vec(piece(), 0..4)).prop_map(|(n, a)| Op::Tool(n, a)),
            ]
        }

        fn reason() -> impl Strategy<Value = FinishReason> {
            prop_oneof![
                Just(FinishReason::Stop),
                Just(FinishReason::Length),
                Just(FinishReason::ToolCalls),
                Just(FinishReason::ContentFilter),
                Just(FinishReason::StopSequence),
            ]
        }

        fn events_of(ops: &[Op], reason: FinishReason, stop: Option<String>) -> Vec<StreamEvent> {
            let mut events = Vec::new();
            let mut tools = 0;
            for op in ops {
                match op {
                    Op::Text(t) => events.push(StreamEvent::TextDelta(t.clone())),
                    Op::Reasoning(t) => events.push(StreamEvent::ReasoningDelta { text: t.clone() }),
                    Op::Signature(s) => events.push(StreamEvent::ReasoningSignature(s.clone())),
                    Op::Redacted(d) => events.push(StreamEvent::RedactedReasoning(d.clone())),
                    Op::Tool(name, args) => {
                        events.push(StreamEvent::ToolCallStart {
                            index: tools,
                            id: format!("toolu_{tools}"),
                            name: name.clone(),
                        });
                        for a in args {
                            events.push(StreamEvent::ToolCallDelta { index: tools, arguments: a.clone() });
                        }
                        tools += 1;
                    }
                }
            }
            let stop_sequence = if reason == FinishReason::StopSequence { stop } else { None };
            events.push(StreamEvent::Finish { reason, stop_sequence });
            events
        }

        /// Joins consecutive argument deltas of one call: a call started while another is open
        /// has its arguments buffered until it can be streamed, which may join them.
        fn merge_tool_deltas(events: Vec<StreamEvent>) -> Vec<StreamEvent> {
            let mut out: Vec<StreamEvent> = Vec::new();
            for event in events {
                if let (
                    Some(StreamEvent::ToolCallDelta { index: last, arguments: joined }),
                    StreamEvent::ToolCallDelta { index, arguments },
                ) = (out.last_mut(), &event)
                    && last == index
                {
                    joined.push_str(arguments);
                    continue;
                }
                out.push(event);
            }
            out
        }

        proptest! {
            #[test]
            fn any_event_sequence_survives_encode_sse_and_decode(
                ops in proptest::collection::vec(op(), 0..12),
                reason in reason(),
                stop in proptest::option::of("[A-Z]{1,5}"),
                // A prompt is never empty: a zero in `message_delta` does not override `message_start`.
                (cached, written, fresh, output) in (0u64..5000, 0u64..5000, 1u64..5000, 0u64..5000),
                cuts in proptest::collection::vec(0usize..4000, 0..4),
            ) {
                let events = events_of(&ops, reason, stop);
                let usage = Usage { input_tokens: cached + written + fresh, cached_input_tokens: cached, cache_write_tokens: written, output_tokens: output, reasoning_tokens: 0 };
                let bytes = encode_all(&events, usage);

                let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
                cuts.push(bytes.len());
                cuts.sort_unstable();
                let mut parser = SseParser::new();
                let mut decoder = AnthropicStreamDecoder::default();
                let mut decoded = Vec::new();
                let mut from = 0;
                for cut in cuts {
                    for sse in parser.push(&bytes[from..cut]) {
                        decoded.extend(decoder.decode(&sse).unwrap());
                    }
                    from = cut;
                }
                prop_assert!(decoder.done());
                let usages: Vec<Usage> = decoded.iter().filter_map(|e| match e { StreamEvent::Usage(u) => Some(*u), _ => None }).collect();
                prop_assert_eq!(usages.first().map(|u| u.input_tokens), Some(42), "message_start announces the estimate");
                prop_assert_eq!(usages.last(), Some(&usage));
                let content: Vec<StreamEvent> = decoded.into_iter().filter(|e| !matches!(e, StreamEvent::Usage(_))).collect();
                prop_assert_eq!(merge_tool_deltas(content), merge_tool_deltas(events));
            }
        }
    }
}
