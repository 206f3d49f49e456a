//! The events of a generation stream (API.md "Streams"): what a job publishes, the bus buffers
//! and `GET /chat/streams/{id}` sends as SSE with `id:` and `event:` lines.

use bytes::Bytes;
use serde_json::Value;

/// What an event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Text,
    Reasoning,
    Sources,
    /// The model called a tool (the call's record, `status: running`).
    ToolCall,
    /// A tool call ended (its whole record).
    ToolResult,
    Usage,
    /// The reply ended (complete or stopped); the stream ends.
    Done,
    /// The reply failed; the stream ends.
    Error,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Text => "text",
            EventKind::Reasoning => "reasoning",
            EventKind::Sources => "sources",
            EventKind::ToolCall => "tool_call",
            EventKind::ToolResult => "tool_result",
            EventKind::Usage => "usage",
            EventKind::Done => "done",
            EventKind::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<EventKind> {
        Some(match text {
            "text" => EventKind::Text,
            "reasoning" => EventKind::Reasoning,
            "sources" => EventKind::Sources,
            "tool_call" => EventKind::ToolCall,
            "tool_result" => EventKind::ToolResult,
            "usage" => EventKind::Usage,
            "done" => EventKind::Done,
            "error" => EventKind::Error,
            _ => return None,
        })
    }

    /// Whether the stream ends with this event.
    pub fn is_terminal(self) -> bool {
        matches!(self, EventKind::Done | EventKind::Error)
    }
}

/// One event. Ids start at 1 and increase by one per stream, so `Last-Event-ID` is a position.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    pub id: u64,
    pub kind: EventKind,
    pub data: Value,
}

impl StreamEvent {
    /// The SSE frame: `id:`, `event:` and one `data:` line (JSON never contains a raw newline).
    pub fn to_sse(&self) -> Bytes {
        Bytes::from(format!("id: {}\nevent: {}\ndata: {}\n\n", self.id, self.kind.as_str(), self.data))
    }
}

/// The SSE comment sent while nothing happens, so proxies keep the connection open.
pub const PING: &[u8] = b": ping\n\n";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use oblivious_core::sse::SseParser;
    use serde_json::json;

    #[test]
    fn events_frame_as_sse_that_parses_back_with_id_and_type() {
        let event = StreamEvent { id: 7, kind: EventKind::Text, data: json!({"delta": "line one\nline two"}) };
        let mut parser = SseParser::new();
        let parsed = parser.push(&event.to_sse());
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].id.as_deref(), Some("7"));
        assert_eq!(parsed[0].event.as_deref(), Some("text"));
        let data: Value = serde_json::from_str(&parsed[0].data).unwrap();
        assert_eq!(data["delta"], "line one\nline two");
        assert!(parser.push(PING).is_empty(), "a ping is a comment, not an event");
    }

    #[test]
    fn only_done_and_error_end_a_stream_and_every_kind_round_trips() {
        for kind in [
            EventKind::Text,
            EventKind::Reasoning,
            EventKind::Sources,
            EventKind::ToolCall,
            EventKind::ToolResult,
            EventKind::Usage,
            EventKind::Done,
            EventKind::Error,
        ] {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.is_terminal(), matches!(kind, EventKind::Done | EventKind::Error));
        }
        assert_eq!(EventKind::parse("nope"), None);
    }
}
