//! `:streamGenerateContent` without `alt=sse`: the same chunks as the SSE encoder, streamed as
//! the elements of one JSON array (`[{…}\n,{…}]`), which is what Google returns there.
//!
//! The body must parse as JSON whatever happens, so every ending closes the array: `finish`
//! after the last chunk, `abort` after an error object (`[…,{"error":{…}}]`, Google's own shape
//! for an error inside an array).

use bytes::Bytes;
use oblivious_core::ApiError;
use serde_json::Value;

use super::stream_encode::ChunkBuilder;
use crate::dialect::{StreamEncoder, StreamMeta};
use crate::ir::{StreamEvent, Usage};

/// The encoder for `:streamGenerateContent` without `alt=sse` (content type `application/json`).
pub fn json_array_encoder(meta: StreamMeta) -> Box<dyn StreamEncoder> {
    Box::new(JsonArrayEncoder { chunks: ChunkBuilder::new(meta), opened: false, closed: false })
}

struct JsonArrayEncoder {
    chunks: ChunkBuilder,
    /// The `[` has been sent (lazily, with the first element).
    opened: bool,
    /// The `]` has been sent.
    closed: bool,
}

impl JsonArrayEncoder {
    /// One array element, preceded by `[` or the separator.
    fn element(&mut self, value: &Value) -> Bytes {
        let prefix = if self.opened { "\n," } else { "[" };
        self.opened = true;
        Bytes::from(format!("{prefix}{value}"))
    }

    /// The last element and the closing bracket.
    fn last(&mut self, value: Option<Value>) -> Vec<Bytes> {
        if self.closed {
            return Vec::new();
        }
        self.closed = true;
        let mut out: Vec<Bytes> = value.iter().map(|v| self.element(v)).collect();
        if !self.opened {
            out.push(Bytes::from_static(b"["));
        }
        out.push(Bytes::from_static(b"]"));
        out
    }
}

impl StreamEncoder for JsonArrayEncoder {
    fn encode(&mut self, event: &StreamEvent) -> Vec<Bytes> {
        match self.chunks.encode(event) {
            Some(chunk) if !self.closed => vec![self.element(&chunk)],
            _ => Vec::new(),
        }
    }

    fn finish(&mut self, usage: Usage) -> Vec<Bytes> {
        let chunk = self.chunks.finish(&usage);
        self.last(chunk)
    }

    fn abort(&mut self, error: &ApiError) -> Vec<Bytes> {
        let error = self.chunks.abort(error);
        self.last(error)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::ir::FinishReason;
    use oblivious_core::ErrorKind;
    use serde_json::json;

    fn meta() -> StreamMeta {
        StreamMeta { id: "r".into(), model: "m".into(), created: 0, include_usage: true, estimated_input_tokens: 0 }
    }

    fn body(frames: &[Bytes]) -> Vec<Value> {
        let bytes: Vec<u8> = frames.concat();
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)))
    }

    #[test]
    fn a_finished_stream_is_one_json_array_of_chunks() {
        let mut encoder = json_array_encoder(meta());
        let mut frames = encoder.encode(&StreamEvent::TextDelta("Hel".into()));
        assert_eq!(frames[0][0], b'[');
        frames.extend(encoder.encode(&StreamEvent::TextDelta("lo".into())));
        frames.extend(encoder.encode(&StreamEvent::Finish { reason: FinishReason::Stop, stop_sequence: None }));
        frames.extend(encoder.finish(Usage { input_tokens: 3, output_tokens: 2, ..Usage::default() }));
        let items = body(&frames);
        assert_eq!(items.len(), 3);
        let text: String =
            items.iter().filter_map(|c| c["candidates"][0]["content"]["parts"][0]["text"].as_str()).collect();
        assert_eq!(text, "Hello");
        assert_eq!(items[2]["usageMetadata"]["totalTokenCount"], 5);
        assert!(encoder.finish(Usage::default()).is_empty());
        assert!(encoder.encode(&StreamEvent::TextDelta("late".into())).is_empty());
    }

    #[test]
    fn an_aborted_stream_is_still_valid_json_ending_in_an_error_object() {
        let mut encoder = json_array_encoder(meta());
        let mut frames = encoder.encode(&StreamEvent::TextDelta("partial".into()));
        frames.extend(encoder.abort(&ApiError::new(ErrorKind::BadGateway, "upstream broke")));
        let items = body(&frames);
        assert_eq!(items.len(), 2);
        assert_eq!(items[1], json!({"error": {"code": 502, "message": "upstream broke", "status": "INTERNAL"}}));
        assert!(encoder.finish(Usage::default()).is_empty());
        assert!(encoder.abort(&ApiError::new(ErrorKind::BadGateway, "again")).is_empty());
    }

    #[test]
    fn an_abort_before_any_chunk_is_an_array_holding_only_the_error() {
        let mut encoder = json_array_encoder(meta());
        let items = body(&encoder.abort(&ApiError::new(ErrorKind::Timeout, "slow")));
        assert_eq!(items, vec![json!({"error": {"code": 504, "message": "slow", "status": "DEADLINE_EXCEEDED"}})]);
    }
}
