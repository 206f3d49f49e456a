//! Stream events -> `GenerateContentResponse` chunks, sent as SSE (`data: {…}\n\n`, what
//! `?alt=sse` returns). `json_array` frames the same chunks as one JSON array.
//!
//! Every chunk is a complete `GenerateContentResponse` with one candidate. Text and thoughts go
//! out as they arrive. A tool call goes out as one `functionCall` part with its whole `args`
//! object, so calls are buffered until the model moves on to something else (parallel calls then
//! share a chunk, as Gemini sends them). The last chunk carries any calls still buffered, the
//! `finishReason` and the final `usageMetadata`.
//!
//! A `ReasoningSignature` is held until the next part and sent on it — a call or text — which is
//! where Gemini puts signatures; with nothing after it, it goes out on an empty text part.

use bytes::Bytes;
use oblivious_core::sse;
use oblivious_core::{ApiError, Dialect};
use serde_json::{Value, json};

use super::response::candidate;
use super::usage_json;
use crate::dialect::{StreamEncoder, StreamMeta};
use crate::ir::{FinishReason, Part, StreamEvent, Usage};

/// Turns stream events into `GenerateContentResponse` chunks, whatever the framing.
pub(super) struct ChunkBuilder {
    meta: StreamMeta,
    /// `finish` or `abort` was called: nothing more is produced.
    closed: bool,
    /// A signature waiting for the part it belongs to.
    signature: Option<String>,
    /// Calls whose arguments may still grow, in the order they started.
    calls: Vec<BufferedCall>,
    /// IR indexes of every call started so far.
    started: Vec<u32>,
    finish: Option<FinishReason>,
}

struct BufferedCall {
    index: u32,
    signature: Option<String>,
    id: String,
    name: String,
    arguments: String,
}

impl ChunkBuilder {
    pub(super) fn new(meta: StreamMeta) -> Self {
        ChunkBuilder { meta, closed: false, signature: None, calls: Vec::new(), started: Vec::new(), finish: None }
    }

    /// The chunks one event produces (at most one).
    pub(super) fn encode(&mut self, event: &StreamEvent) -> Option<Value> {
        if self.closed {
            return None;
        }
        match event {
            StreamEvent::TextDelta(text) if !text.is_empty() => {
                let mut parts = self.take_calls();
                self.push_signature(&mut parts);
                parts.push(Part::Text(text.clone()));
                Some(self.chunk(&parts, None))
            }
            StreamEvent::ReasoningDelta { text } if !text.is_empty() => {
                let mut parts = self.take_calls();
                self.push_signature(&mut parts);
                parts.push(Part::Reasoning { text: text.clone(), signature: None });
                Some(self.chunk(&parts, None))
            }
            StreamEvent::ReasoningSignature(signature) => {
                // A second signature before any part: the first one goes out on its own.
                let previous = self.signature.replace(signature.clone())?;
                let mut parts = self.take_calls();
                parts.push(Part::Reasoning { text: String::new(), signature: Some(previous) });
                Some(self.chunk(&parts, None))
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                if !self.started.contains(index) {
                    self.started.push(*index);
                    self.calls.push(BufferedCall {
                        index: *index,
                        signature: self.signature.take(),
                        id: id.clone(),
                        name: name.clone(),
                        arguments: String::new(),
                    });
                }
                None
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                match self.calls.iter_mut().find(|c| c.index == *index) {
                    Some(call) => call.arguments.push_str(arguments),
                    None if arguments.is_empty() => {}
                    None => tracing::warn!(index, "tool call arguments arrived after the call was sent; dropped"),
                }
                None
            }
            StreamEvent::Finish { reason, .. } => {
                self.finish = Some(*reason);
                None
            }
            // Gemini has no redacted thinking; usage goes out once, in the last chunk.
            StreamEvent::TextDelta(_)
            | StreamEvent::ReasoningDelta { .. }
            | StreamEvent::RedactedReasoning(_)
            | StreamEvent::Usage(_) => None,
        }
    }

    /// The last chunk: buffered calls, the finish reason and the final usage.
    pub(super) fn finish(&mut self, usage: &Usage) -> Option<Value> {
        if self.closed {
            return None;
        }
        self.closed = true;
        let mut parts = self.take_calls();
        self.push_signature(&mut parts);
        let mut chunk = self.chunk(&parts, Some(self.finish.unwrap_or_default()));
        chunk["usageMetadata"] = usage_json(usage);
        Some(chunk)
    }

    /// The error object that ends a broken stream.
    pub(super) fn abort(&mut self, error: &ApiError) -> Option<Value> {
        if self.closed {
            return None;
        }
        self.closed = true;
        Some(error.body(Dialect::Gemini))
    }

    fn push_signature(&mut self, parts: &mut Vec<Part>) {
        if let Some(signature) = self.signature.take() {
            parts.push(Part::Reasoning { text: String::new(), signature: Some(signature) });
        }
    }

    /// The buffered calls as IR parts, each preceded by its signature.
    fn take_calls(&mut self) -> Vec<Part> {
        let mut parts = Vec::new();
        for call in std::mem::take(&mut self.calls) {
            if let Some(signature) = call.signature {
                parts.push(Part::Reasoning { text: String::new(), signature: Some(signature) });
            }
            parts.push(Part::ToolCall { id: call.id, name: call.name, arguments: call.arguments });
        }
        parts
    }

    fn chunk(&self, parts: &[Part], finish: Option<FinishReason>) -> Value {
        json!({
            "candidates": [candidate(parts, finish)],
            "modelVersion": self.meta.model,
            "responseId": self.meta.id,
        })
    }
}

/// SSE framing: each chunk is one `data:` event.
pub struct GeminiStreamEncoder {
    chunks: ChunkBuilder,
}

impl GeminiStreamEncoder {
    pub fn new(meta: StreamMeta) -> Self {
        GeminiStreamEncoder { chunks: ChunkBuilder::new(meta) }
    }
}

fn frame(chunk: Option<Value>) -> Vec<Bytes> {
    chunk.map(|c| sse::encode(None, &c.to_string())).into_iter().collect()
}

impl StreamEncoder for GeminiStreamEncoder {
    fn encode(&mut self, event: &StreamEvent) -> Vec<Bytes> {
        frame(self.chunks.encode(event))
    }

    fn finish(&mut self, usage: Usage) -> Vec<Bytes> {
        frame(self.chunks.finish(&usage))
    }

    fn abort(&mut self, error: &ApiError) -> Vec<Bytes> {
        frame(self.chunks.abort(error))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use oblivious_core::ErrorKind;
    use oblivious_core::sse::SseParser;

    fn meta() -> StreamMeta {
        StreamMeta {
            id: "resp_x".into(),
            model: "gemini-pub".into(),
            created: 0,
            include_usage: false,
            estimated_input_tokens: 42,
        }
    }

    fn chunks(frames: &[Bytes]) -> Vec<Value> {
        let mut parser = SseParser::new();
        let events: Vec<_> = frames.iter().flat_map(|f| parser.push(f)).collect();
        events.iter().map(|e| serde_json::from_str(&e.data).unwrap()).collect()
    }

    fn run(events: &[StreamEvent], usage: Usage) -> Vec<Value> {
        let mut encoder = GeminiStreamEncoder::new(meta());
        let mut frames: Vec<Bytes> = events.iter().flat_map(|e| encoder.encode(e)).collect();
        frames.extend(encoder.finish(usage));
        chunks(&frames)
    }

    fn parts(chunk: &Value) -> &Value {
        &chunk["candidates"][0]["content"]["parts"]
    }

    #[test]
    fn frames_are_sse_data_events_and_the_last_chunk_carries_finish_and_usage() {
        let mut encoder = GeminiStreamEncoder::new(meta());
        let frame = encoder.encode(&StreamEvent::TextDelta("Hi".into()));
        assert_eq!(frame.len(), 1);
        let text = std::str::from_utf8(&frame[0]).unwrap();
        assert!(text.starts_with("data: {") && text.ends_with("}\n\n"), "{text:?}");

        let usage = Usage { input_tokens: 9, output_tokens: 7, reasoning_tokens: 4, ..Usage::default() };
        let out = run(&[StreamEvent::TextDelta("Hi".into())], usage);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0],
            json!({
                "candidates": [{"content": {"parts": [{"text": "Hi"}], "role": "model"}, "index": 0}],
                "modelVersion": "gemini-pub",
                "responseId": "resp_x"
            })
        );
        assert_eq!(out[1]["candidates"][0]["finishReason"], "STOP");
        assert_eq!(parts(&out[1]), &json!([{"text": ""}]));
        assert_eq!(
            out[1]["usageMetadata"],
            json!({"promptTokenCount": 9, "candidatesTokenCount": 3, "thoughtsTokenCount": 4, "totalTokenCount": 16})
        );
    }

    #[test]
    fn tool_calls_are_sent_whole_with_their_signature_once_the_model_moves_on() {
        let start = |index: u32, id: &str| StreamEvent::ToolCallStart { index, id: id.into(), name: "f".into() };
        let delta = |index: u32, args: &str| StreamEvent::ToolCallDelta { index, arguments: args.into() };
        let out = run(
            &[
                StreamEvent::ReasoningDelta { text: "plan".into() },
                StreamEvent::ReasoningSignature("sig".into()),
                start(0, "a"),
                start(1, "b"),
                delta(0, "{\"x\":"),
                delta(1, "{\"y\":2}"),
                delta(0, "1}"),
                StreamEvent::TextDelta("and".into()),
                start(2, "c"),
                delta(2, "{}"),
                StreamEvent::Finish { reason: FinishReason::ToolCalls, stop_sequence: None },
            ],
            Usage { input_tokens: 1, output_tokens: 1, ..Usage::default() },
        );
        assert_eq!(out.len(), 3, "{out:#?}");
        assert_eq!(parts(&out[0]), &json!([{"text": "plan", "thought": true}]));
        assert_eq!(
            parts(&out[1]),
            &json!([
                {"functionCall": {"name": "f", "args": {"x": 1}, "id": "a"}, "thoughtSignature": "sig"},
                {"functionCall": {"name": "f", "args": {"y": 2}, "id": "b"}},
                {"text": "and"}
            ])
        );
        assert_eq!(parts(&out[2]), &json!([{"functionCall": {"name": "f", "args": {}, "id": "c"}}]));
        assert_eq!(out[2]["candidates"][0]["finishReason"], "STOP");
    }

    #[test]
    fn signatures_without_a_following_part_go_out_on_empty_text_parts() {
        let out = run(
            &[
                StreamEvent::ReasoningSignature("s1".into()),
                StreamEvent::ReasoningSignature("s2".into()),
                StreamEvent::ReasoningDelta { text: "t".into() },
                StreamEvent::RedactedReasoning("opaque".into()),
                StreamEvent::TextDelta(String::new()),
                StreamEvent::ReasoningSignature("s3".into()),
                StreamEvent::Finish { reason: FinishReason::Length, stop_sequence: None },
            ],
            Usage::default(),
        );
        let all: Vec<Value> = out.iter().flat_map(|c| parts(c).as_array().unwrap().clone()).collect();
        assert_eq!(
            all,
            vec![
                json!({"text": "", "thoughtSignature": "s1"}),
                json!({"text": "", "thoughtSignature": "s2"}),
                json!({"text": "t", "thought": true}),
                json!({"text": "", "thoughtSignature": "s3"}),
            ]
        );
        assert_eq!(out.last().unwrap()["candidates"][0]["finishReason"], "MAX_TOKENS");
    }

    #[test]
    fn abort_sends_only_an_error_object_and_nothing_after_it() {
        let mut encoder = GeminiStreamEncoder::new(meta());
        encoder.encode(&StreamEvent::ToolCallStart { index: 0, id: "a".into(), name: "f".into() });
        let aborted = chunks(&encoder.abort(&ApiError::new(ErrorKind::BadGateway, "broke")));
        assert_eq!(aborted, vec![json!({"error": {"code": 502, "message": "broke", "status": "INTERNAL"}})]);
        assert!(encoder.finish(Usage::default()).is_empty());
        assert!(encoder.encode(&StreamEvent::TextDelta("y".into())).is_empty());
        assert!(encoder.abort(&ApiError::new(ErrorKind::BadGateway, "again")).is_empty());
    }
}
