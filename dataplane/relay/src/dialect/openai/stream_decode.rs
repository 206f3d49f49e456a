//! `chat.completion.chunk` frames from an OpenAI-family upstream -> stream events. Tool calls are
//! announced (`ToolCallStart`) the first time their index appears, whether the server sends the
//! call in pieces (OpenAI) or whole in one chunk (several compatible servers).

use std::collections::BTreeSet;

use oblivious_core::sse::SseEvent;
use serde_json::Value;

use super::{arguments_text, classify_failure, finish_reason_from_wire, first_choice, fresh_call_id, usage_from_json};
use crate::dialect::{DecodeError, StreamDecoder};
use crate::ir::StreamEvent;

#[derive(Default)]
pub struct OpenAiStreamDecoder {
    done: bool,
    /// Tool-call indexes already announced.
    started_calls: BTreeSet<u32>,
}

impl StreamDecoder for OpenAiStreamDecoder {
    fn decode(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, DecodeError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(Vec::new());
        }
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let chunk: Value =
            serde_json::from_str(data).map_err(|e| DecodeError::Malformed(format!("invalid chunk: {e}")))?;
        if let Some(error) = chunk.get("error") {
            // An in-stream error has no HTTP status of its own: use the one its body implies.
            let status = error
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| *c >= 400)
                .unwrap_or_else(|| match error.get("type").and_then(Value::as_str) {
                    Some("invalid_request_error") => 400,
                    Some("insufficient_quota" | "requests" | "tokens") => 429,
                    _ => 500,
                });
            return Err(DecodeError::Upstream(classify_failure(status, chunk.to_string().as_bytes())));
        }
        let mut events = Vec::new();
        let choices = chunk.get("choices").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        if let Some(choice) = first_choice(choices) {
            if let Some(delta) = choice.get("delta") {
                self.decode_delta(delta, &mut events)?;
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                let (reason, stop_sequence) = finish_reason_from_wire(reason, choice.get("stop_reason"));
                events.push(StreamEvent::Finish { reason, stop_sequence });
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            events.push(StreamEvent::Usage(usage_from_json(usage)));
        }
        Ok(events)
    }

    fn done(&self) -> bool {
        self.done
    }
}

impl OpenAiStreamDecoder {
    fn decode_delta(&mut self, delta: &Value, events: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        let reasoning = delta.get("reasoning_content").or_else(|| delta.get("reasoning")).and_then(Value::as_str);
        if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
            events.push(StreamEvent::ReasoningDelta { text: text.to_string() });
        }
        if let Some(text) = delta.get("content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            events.push(StreamEvent::TextDelta(text.to_string()));
        }
        for (position, call) in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let index = call.get("index").and_then(Value::as_u64).map_or(position as u32, |i| i as u32);
            let function = call.get("function");
            if !self.started_calls.contains(&index) {
                let name = function.and_then(|f| f.get("name")).and_then(Value::as_str);
                let Some(name) = name else {
                    return Err(DecodeError::Malformed(format!("tool call {index} starts without a name")));
                };
                let id = call.get("id").and_then(Value::as_str).filter(|id| !id.is_empty());
                let id = id.map_or_else(fresh_call_id, str::to_string);
                self.started_calls.insert(index);
                events.push(StreamEvent::ToolCallStart { index, id, name: name.to_string() });
            }
            let arguments = arguments_text(function.and_then(|f| f.get("arguments")));
            if !arguments.is_empty() {
                events.push(StreamEvent::ToolCallDelta { index, arguments });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::dialect::openai::OpenAiStreamEncoder;
    use crate::dialect::{FailureAction, StreamEncoder, StreamMeta};
    use crate::ir::{FinishReason, Usage};
    use oblivious_core::sse::SseParser;

    const RECORDED: &str = concat!(
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hmm\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\":1}\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13,\"prompt_tokens_details\":{\"cached_tokens\":2},\"completion_tokens_details\":{\"reasoning_tokens\":1}}}\n\n",
        "data: [DONE]\n\n",
    );

    fn decode_in_chunks(bytes: &[u8], size: usize) -> (Vec<StreamEvent>, bool) {
        let mut parser = SseParser::new();
        let mut decoder = OpenAiStreamDecoder::default();
        let mut events = Vec::new();
        for piece in bytes.chunks(size) {
            for event in parser.push(piece) {
                events.extend(decoder.decode(&event).unwrap());
            }
        }
        (events, decoder.done())
    }

    fn expected() -> Vec<StreamEvent> {
        vec![
            StreamEvent::ReasoningDelta { text: "hmm".into() },
            StreamEvent::TextDelta("Hel".into()),
            StreamEvent::TextDelta("lo".into()),
            StreamEvent::ToolCallStart { index: 0, id: "call_1".into(), name: "f".into() },
            StreamEvent::ToolCallDelta { index: 0, arguments: "{\"a\":1}".into() },
            StreamEvent::Finish { reason: FinishReason::ToolCalls, stop_sequence: None },
            StreamEvent::Usage(Usage {
                input_tokens: 9,
                cached_input_tokens: 2,
                cache_write_tokens: 0,
                output_tokens: 4,
                reasoning_tokens: 1,
            }),
        ]
    }

    #[test]
    fn a_recorded_stream_decodes_the_same_wherever_it_is_split() {
        for size in 1..=RECORDED.len() {
            let (events, done) = decode_in_chunks(RECORDED.as_bytes(), size);
            assert_eq!(events, expected(), "split every {size} bytes");
            assert!(done);
        }
    }

    #[test]
    fn decoded_events_encode_back_and_decode_again_identically() {
        let meta = StreamMeta {
            id: "x".into(),
            model: "m".into(),
            created: 1,
            include_usage: true,
            estimated_input_tokens: 0,
        };
        let mut encoder = OpenAiStreamEncoder::new(meta);
        let events = expected();
        let mut bytes = Vec::new();
        for event in &events {
            for frame in encoder.encode(event) {
                bytes.extend_from_slice(&frame);
            }
        }
        let usage = match events.last() {
            Some(StreamEvent::Usage(u)) => *u,
            _ => Usage::default(),
        };
        for frame in encoder.finish(usage) {
            bytes.extend_from_slice(&frame);
        }
        let (again, done) = decode_in_chunks(&bytes, 7);
        assert!(done);
        // Reasoning and text survive; the usage event comes last, after the finish.
        assert_eq!(again, expected());
    }

    #[test]
    fn whole_tool_calls_in_one_chunk_and_in_stream_errors_are_understood() {
        let mut decoder = OpenAiStreamDecoder::default();
        let whole = SseEvent {
            data: "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"x\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]}}]}".into(),
            ..SseEvent::default()
        };
        let events = decoder.decode(&whole).unwrap();
        assert_eq!(events.len(), 2);
        let error = SseEvent {
            data: "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}".into(),
            ..SseEvent::default()
        };
        match decoder.decode(&error) {
            Err(DecodeError::Upstream(failure)) => assert_eq!(failure.action, FailureAction::Retry),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decoder.decode(&SseEvent { data: "{broken".into(), ..SseEvent::default() }),
            Err(DecodeError::Malformed(_))
        ));
    }
}
