//! Stream events -> `chat.completion.chunk` frames for an OpenAI client: one stable id, model
//! and `created` for the whole stream, the role in the first chunk, a usage chunk (empty
//! `choices`) only when the client asked for it, then `[DONE]`. A stream that breaks ends with
//! an error frame and no `[DONE]`, so no client mistakes it for a complete answer.

use bytes::Bytes;
use oblivious_core::ApiError;
use oblivious_core::Dialect;
use oblivious_core::sse::encode;
use serde_json::{Value, json};

use super::{finish_reason_to_wire, usage_json};
use crate::dialect::{StreamEncoder, StreamMeta};
use crate::ir::{FinishReason, StreamEvent, Usage};

pub struct OpenAiStreamEncoder {
    meta: StreamMeta,
    started: bool,
    finish: Option<FinishReason>,
    /// Whether a tool call went out, which makes the finish `tool_calls` whatever the provider said.
    called_tools: bool,
}

impl OpenAiStreamEncoder {
    pub fn new(meta: StreamMeta) -> Self {
        OpenAiStreamEncoder { meta, started: false, finish: None, called_tools: false }
    }

    fn chunk(&self, delta: Value, finish: Option<FinishReason>) -> Bytes {
        let mut chunk = json!({
            "id": self.meta.id,
            "object": "chat.completion.chunk",
            "created": self.meta.created,
            "model": self.meta.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish.map(|f| finish_reason_to_wire(f, self.called_tools))}],
        });
        if self.meta.include_usage {
            chunk["usage"] = Value::Null;
        }
        encode(None, &chunk.to_string())
    }

    /// The opening chunk carrying the role, sent with the first event.
    fn start(&mut self, out: &mut Vec<Bytes>) {
        if !self.started {
            self.started = true;
            out.push(self.chunk(json!({"role": "assistant", "content": ""}), None));
        }
    }
}

impl StreamEncoder for OpenAiStreamEncoder {
    fn encode(&mut self, event: &StreamEvent) -> Vec<Bytes> {
        let mut out = Vec::new();
        let delta = match event {
            StreamEvent::TextDelta(text) => json!({"content": text}),
            StreamEvent::ReasoningDelta { text } => json!({"reasoning_content": text}),
            StreamEvent::ToolCallStart { index, id, name } => {
                self.called_tools = true;
                json!({"tool_calls": [{
                    "index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}
                }]})
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                json!({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]})
            }
            StreamEvent::Finish { reason, .. } => {
                // Sent at `finish`, after everything else, so a late usage event still precedes it.
                self.finish = Some(*reason);
                return out;
            }
            // No OpenAI equivalent: signatures and redacted thinking are dropped; usage is
            // reported once, at the end.
            StreamEvent::ReasoningSignature(_) | StreamEvent::RedactedReasoning(_) | StreamEvent::Usage(_) => {
                return out;
            }
        };
        self.start(&mut out);
        out.push(self.chunk(delta, None));
        out
    }

    fn finish(&mut self, usage: Usage) -> Vec<Bytes> {
        let mut out = Vec::new();
        self.start(&mut out);
        out.push(self.chunk(json!({}), Some(self.finish.unwrap_or_default())));
        if self.meta.include_usage {
            let chunk = json!({
                "id": self.meta.id,
                "object": "chat.completion.chunk",
                "created": self.meta.created,
                "model": self.meta.model,
                "choices": [],
                "usage": usage_json(&usage),
            });
            out.push(encode(None, &chunk.to_string()));
        }
        out.push(encode(None, "[DONE]"));
        out
    }

    fn abort(&mut self, error: &ApiError) -> Vec<Bytes> {
        vec![encode(None, &error.body(Dialect::OpenAi).to_string())]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use oblivious_core::sse::SseParser;

    fn meta(include_usage: bool) -> StreamMeta {
        StreamMeta { id: "chatcmpl-x".into(), model: "m".into(), created: 1, include_usage, estimated_input_tokens: 3 }
    }

    fn datas(frames: &[Bytes]) -> Vec<String> {
        let mut parser = SseParser::new();
        frames.iter().flat_map(|f| parser.push(f)).map(|e| e.data).collect()
    }

    fn run(include_usage: bool, events: &[StreamEvent]) -> Vec<String> {
        let mut encoder = OpenAiStreamEncoder::new(meta(include_usage));
        let mut frames: Vec<Bytes> = events.iter().flat_map(|e| encoder.encode(e)).collect();
        frames.extend(encoder.finish(Usage { input_tokens: 3, output_tokens: 2, ..Usage::default() }));
        datas(&frames)
    }

    #[test]
    fn usage_is_a_final_chunk_only_when_the_client_asked() {
        let events = [
            StreamEvent::TextDelta("Hi".into()),
            StreamEvent::Finish { reason: FinishReason::Stop, stop_sequence: None },
        ];
        let with = run(true, &events);
        assert_eq!(with.last().unwrap(), "[DONE]");
        let usage: Value = serde_json::from_str(&with[with.len() - 2]).unwrap();
        assert_eq!((usage["choices"].clone(), usage["usage"]["total_tokens"].clone()), (json!([]), json!(5)));
        let without = run(false, &events);
        assert!(without.iter().all(|d| !d.contains("total_tokens")));
        let first: Value = serde_json::from_str(&without[0]).unwrap();
        assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
        assert!(
            without.iter().filter(|d| *d != "[DONE]").all(|d| d.contains("\"id\":\"chatcmpl-x\"")),
            "one id for the stream"
        );
    }

    #[test]
    fn tool_calls_stream_with_their_index_and_abort_has_no_done() {
        let events = [
            StreamEvent::ToolCallStart { index: 0, id: "c1".into(), name: "f".into() },
            StreamEvent::ToolCallDelta { index: 0, arguments: "{\"a\":".into() },
            StreamEvent::ToolCallDelta { index: 0, arguments: "1}".into() },
            StreamEvent::Finish { reason: FinishReason::ToolCalls, stop_sequence: None },
        ];
        let out = run(false, &events);
        let start: Value = serde_json::from_str(&out[1]).unwrap();
        assert_eq!(start["choices"][0]["delta"]["tool_calls"][0]["id"], "c1");
        let finish: Value = serde_json::from_str(&out[out.len() - 2]).unwrap();
        assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
        let mut encoder = OpenAiStreamEncoder::new(meta(false));
        let aborted = datas(&encoder.abort(&ApiError::new(oblivious_core::ErrorKind::BadGateway, "broken")));
        assert_eq!(aborted.len(), 1);
        assert!(aborted[0].contains("\"error\""));
    }
}
