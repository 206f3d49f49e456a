//! A Gemini upstream's SSE stream (`?alt=sse`) -> stream events.
//!
//! Each event's data is a whole `GenerateContentResponse`. Parts become events in order (a call's
//! complete `args` as a single argument delta), then `finishReason` ends the answer. Gemini's
//! `usageMetadata` is cumulative and comes on most chunks: each one is emitted as a `Usage` event
//! and the last one wins downstream.

use oblivious_core::sse::SseEvent;
use serde_json::Value;

use super::errors::{classify_failure, prompt_blocked, status_code_of};
use super::parts::parse_model_parts;
use super::response::{candidate_parts, first_candidate, prompt_block_reason};
use super::{WireUsage, finish_reason_from_wire, fresh_call_id};
use crate::dialect::{DecodeError, StreamDecoder};
use crate::ir::{Part, StreamEvent};

#[derive(Default)]
pub struct GeminiStreamDecoder {
    done: bool,
    /// IR index of the next tool call.
    next_tool: u32,
}

impl GeminiStreamDecoder {
    /// The events of one candidate's parts and finish reason.
    fn candidate_events(&mut self, candidate: &Value) -> Result<Vec<StreamEvent>, DecodeError> {
        let parts =
            parse_model_parts(candidate_parts(candidate), &mut fresh_call_id).map_err(DecodeError::Malformed)?;
        let mut events = Vec::with_capacity(parts.len() + 1);
        for part in parts {
            match part {
                Part::Text(text) => events.push(StreamEvent::TextDelta(text)),
                Part::Reasoning { text, signature } => {
                    if !text.is_empty() {
                        events.push(StreamEvent::ReasoningDelta { text });
                    }
                    if let Some(signature) = signature {
                        events.push(StreamEvent::ReasoningSignature(signature));
                    }
                }
                Part::ToolCall { id, name, arguments } => {
                    let index = self.next_tool;
                    self.next_tool += 1;
                    events.push(StreamEvent::ToolCallStart { index, id, name });
                    events.push(StreamEvent::ToolCallDelta { index, arguments });
                }
                // Generated images and the like have no stream event.
                Part::Image(_) | Part::ToolResult { .. } | Part::RedactedReasoning { .. } => {}
            }
        }
        if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
            events.push(StreamEvent::Finish {
                reason: finish_reason_from_wire(reason, self.next_tool > 0),
                stop_sequence: None,
            });
            self.done = true;
        }
        Ok(events)
    }
}

impl StreamDecoder for GeminiStreamDecoder {
    fn decode(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, DecodeError> {
        if event.data.trim().is_empty() {
            return Ok(Vec::new());
        }
        let data: Value = serde_json::from_str(&event.data)
            .map_err(|e| DecodeError::Malformed(format!("event data is not JSON: {e}")))?;
        if let Some(error) = data.get("error").filter(|e| !e.is_null()) {
            let status = status_code_of(error).unwrap_or(500);
            return Err(DecodeError::Upstream(classify_failure(status, event.data.as_bytes())));
        }
        let mut events = match first_candidate(&data) {
            Some(candidate) => self.candidate_events(candidate)?,
            None => match prompt_block_reason(&data) {
                Some(reason) => return Err(DecodeError::Upstream(prompt_blocked(reason))),
                None => Vec::new(),
            },
        };
        if let Some(usage) = data.get("usageMetadata").filter(|u| u.is_object()) {
            events.push(StreamEvent::Usage(WireUsage::parse(usage).to_ir()));
        }
        Ok(events)
    }

    fn done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::dialect::gemini::{GeminiStreamEncoder, json_array_encoder};
    use crate::dialect::{FailureAction, StreamEncoder, StreamMeta};
    use crate::ir::{FinishReason, Usage};
    use bytes::Bytes;
    use oblivious_core::ErrorKind;
    use oblivious_core::sse::SseParser;

    /// A thinking + text + function call answer as Gemini 2.5 streams it with `alt=sse`
    /// (`\r\n` line ends, usage on every chunk, the signature on the call).
    const RECORDED: &str = concat!(
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"**Planning the lookup**\\n\\nThe user wants the weather.\",\"thought\": true}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 2100,\"totalTokenCount\": 2164,\"cachedContentTokenCount\": 2048,\"promptTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": 2100}],\"thoughtsTokenCount\": 64},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"mBTdaNnGJNGkz7IPxKvC-QQ\"}\r\n\r\n",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Let me check\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 2100,\"candidatesTokenCount\": 3,\"totalTokenCount\": 2167,\"cachedContentTokenCount\": 2048,\"thoughtsTokenCount\": 64},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"mBTdaNnGJNGkz7IPxKvC-QQ\"}\r\n\r\n",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" the weather.\"},{\"functionCall\": {\"name\": \"get_weather\",\"args\": {\"location\": \"San Francisco, CA\"}},\"thoughtSignature\": \"CiQB0e2Kb7Bv0Xy4+aQ==\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 2100,\"candidatesTokenCount\": 25,\"totalTokenCount\": 2189,\"cachedContentTokenCount\": 2048,\"thoughtsTokenCount\": 64},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"mBTdaNnGJNGkz7IPxKvC-QQ\"}\r\n\r\n",
    );

    fn usage(candidates: u64) -> Usage {
        Usage {
            input_tokens: 2100,
            cached_input_tokens: 2048,
            cache_write_tokens: 0,
            output_tokens: candidates + 64,
            reasoning_tokens: 64,
        }
    }

    /// The recorded stream's events, with `CALL_ID` for the generated call id.
    fn recorded_events(call_id: &str) -> Vec<StreamEvent> {
        vec![
            StreamEvent::ReasoningDelta { text: "**Planning the lookup**\n\nThe user wants the weather.".into() },
            StreamEvent::Usage(usage(0)),
            StreamEvent::TextDelta("Let me check".into()),
            StreamEvent::Usage(usage(3)),
            StreamEvent::TextDelta(" the weather.".into()),
            StreamEvent::ReasoningSignature("CiQB0e2Kb7Bv0Xy4+aQ==".into()),
            StreamEvent::ToolCallStart { index: 0, id: call_id.into(), name: "get_weather".into() },
            StreamEvent::ToolCallDelta { index: 0, arguments: r#"{"location":"San Francisco, CA"}"#.into() },
            StreamEvent::Finish { reason: FinishReason::ToolCalls, stop_sequence: None },
            StreamEvent::Usage(usage(25)),
        ]
    }

    /// Decodes `bytes` cut at `cuts`; also says whether the decoder saw the end.
    fn decode_cut(bytes: &[u8], cuts: &[usize]) -> (Vec<StreamEvent>, bool) {
        let mut parser = SseParser::new();
        let mut decoder = GeminiStreamDecoder::default();
        let mut events = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().chain([bytes.len()].iter()) {
            for sse in parser.push(&bytes[from..cut]) {
                events.extend(decoder.decode(&sse).unwrap());
            }
            from = cut;
        }
        (events, decoder.done())
    }

    fn call_id_of(events: &[StreamEvent]) -> String {
        events
            .iter()
            .find_map(|e| match e {
                StreamEvent::ToolCallStart { id, .. } => Some(id.clone()),
                _ => None,
            })
            .unwrap()
    }

    #[test]
    fn a_recorded_stream_decodes_the_same_wherever_it_is_split() {
        let bytes = RECORDED.as_bytes();
        for cut in 0..=bytes.len() {
            let (events, done) = decode_cut(bytes, &[cut]);
            let id = call_id_of(&events);
            assert!(id.starts_with("call_"), "{id}");
            assert_eq!(events, recorded_events(&id), "split at {cut}");
            assert!(done);
        }
        let (events, _) = decode_cut(bytes, &(1..bytes.len()).collect::<Vec<_>>());
        assert_eq!(events, recorded_events(&call_id_of(&events)), "split at every byte");
    }

    fn meta() -> StreamMeta {
        StreamMeta {
            id: "relay_id".into(),
            model: "gemini-pub".into(),
            created: 0,
            include_usage: true,
            estimated_input_tokens: 0,
        }
    }

    fn encode_all(mut encoder: Box<dyn StreamEncoder>, events: &[StreamEvent], usage: Usage) -> Vec<u8> {
        let mut frames: Vec<Bytes> = events.iter().flat_map(|e| encoder.encode(e)).collect();
        frames.extend(encoder.finish(usage));
        frames.concat()
    }

    #[test]
    fn decoded_events_encode_back_and_decode_again_identically() {
        let (events, _) = decode_cut(RECORDED.as_bytes(), &[]);
        let id = call_id_of(&events);
        let bytes = encode_all(Box::new(GeminiStreamEncoder::new(meta())), &events, usage(25));
        let (again, done) = decode_cut(&bytes, &[]);
        assert!(done);
        // Usage goes out once, in the last chunk; the call keeps its id.
        let content = |events: &[StreamEvent]| -> Vec<StreamEvent> {
            events.iter().filter(|e| !matches!(e, StreamEvent::Usage(_))).cloned().collect()
        };
        assert_eq!(content(&again), content(&recorded_events(&id)));
        assert_eq!(again.last(), Some(&StreamEvent::Usage(usage(25))));

        // The JSON-array framing carries the same chunks.
        let array = encode_all(json_array_encoder(meta()), &events, usage(25));
        let chunks: Vec<Value> = serde_json::from_slice(&array).unwrap();
        let sse: Vec<Value> =
            SseParser::new().push(&bytes).iter().map(|e| serde_json::from_str(&e.data).unwrap()).collect();
        assert_eq!(chunks, sse);
    }

    fn decode_one(data: &str) -> Result<Vec<StreamEvent>, DecodeError> {
        GeminiStreamDecoder::default().decode(&SseEvent { event: None, data: data.into(), id: None })
    }

    #[test]
    fn in_stream_errors_and_blocked_prompts_are_upstream_failures() {
        let overloaded = decode_one(
            r#"{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}"#,
        );
        match overloaded {
            Err(DecodeError::Upstream(f)) => {
                assert_eq!((f.action, f.kind, f.status), (FailureAction::Retry, ErrorKind::Unavailable, 503));
            }
            other => panic!("{other:?}"),
        }
        let limited =
            decode_one(r#"{"error":{"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}"#);
        assert!(matches!(limited, Err(DecodeError::Upstream(f)) if f.status == 429 && f.class == "rate_limit"));
        let blocked = decode_one(
            r#"{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":7,"totalTokenCount":7}}"#,
        );
        match blocked {
            Err(DecodeError::Upstream(f)) => {
                assert_eq!((f.action, f.class, f.status), (FailureAction::ReturnToClient, "content_policy", 400));
                assert!(f.message.contains("PROHIBITED_CONTENT"), "{}", f.message);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(decode_one("{not json"), Err(DecodeError::Malformed(_))));
        assert!(matches!(
            decode_one(r#"{"candidates":[{"content":{"parts":[{"functionCall":{}}]}}]}"#),
            Err(DecodeError::Malformed(_))
        ));
        assert_eq!(decode_one(""), Ok(Vec::new()));
    }

    #[test]
    fn a_safety_stop_without_content_finishes_the_stream_as_filtered() {
        let mut decoder = GeminiStreamDecoder::default();
        let event = SseEvent {
            event: None,
            data: r#"{"candidates":[{"finishReason":"SAFETY","index":0,"safetyRatings":[]}],"usageMetadata":{"promptTokenCount":5,"totalTokenCount":5}}"#.into(),
            id: None,
        };
        let events = decoder.decode(&event).unwrap();
        assert_eq!(
            events,
            vec![
                StreamEvent::Finish { reason: FinishReason::ContentFilter, stop_sequence: None },
                StreamEvent::Usage(Usage { input_tokens: 5, ..Usage::default() }),
            ]
        );
        assert!(decoder.done());
    }

    #[test]
    fn parallel_calls_get_consecutive_indexes_and_their_own_ids() {
        let events = decode_one(
            r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"a","args":{"x":1}},"thoughtSignature":"s"},{"functionCall":{"name":"b","id":"given"}}],"role":"model"},"finishReason":"STOP"}]}"#,
        )
        .unwrap();
        let starts: Vec<(u32, String, String)> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ToolCallStart { index, id, name } => Some((*index, id.clone(), name.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(starts.len(), 2);
        assert_eq!((starts[0].0, starts[1].0), (0, 1));
        assert_ne!(starts[0].1, starts[1].1);
        assert_eq!(starts[1].1, "given");
        assert_eq!(events[0], StreamEvent::ReasoningSignature("s".into()));
        assert_eq!(events[4], StreamEvent::ToolCallDelta { index: 1, arguments: "{}".into() });
        assert_eq!(events[5], StreamEvent::Finish { reason: FinishReason::ToolCalls, stop_sequence: None });
    }
}
