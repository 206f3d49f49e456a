//! Server-sent events framing (the WHATWG `text/event-stream` format), incremental in both
//! directions. Upstream bytes arrive split at arbitrary points, so the parser buffers partial
//! lines and emits an event only at its terminating blank line.

use bytes::{Bytes, BytesMut};

/// One parsed event. `data` joins multiple `data:` lines with `\n`, as the spec says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
    pub id: Option<String>,
}

/// Incremental SSE parser: feed it chunks, take out complete events.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: BytesMut,
    current: SseEvent,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and returns every event completed by them.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(line_end) = find_line_end(&self.buffer) {
            let (line_len, terminator_len) = line_end;
            let line = self.buffer.split_to(line_len + terminator_len);
            let line = &line[..line_len];
            self.take_line(line, &mut events);
        }
        events
    }

    /// Flushes an event left unterminated when the stream ended. Per the spec such an event is
    /// discarded, but providers that forget the final blank line exist, so a caller may opt in.
    pub fn finish(&mut self) -> Option<SseEvent> {
        if !self.buffer.is_empty() {
            let rest = self.buffer.split();
            let mut events = Vec::new();
            self.take_line(&rest, &mut events);
        }
        if self.has_data {
            self.has_data = false;
            Some(std::mem::take(&mut self.current))
        } else {
            None
        }
    }

    fn take_line(&mut self, line: &[u8], events: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if self.has_data {
                events.push(std::mem::take(&mut self.current));
            } else {
                self.current = SseEvent::default();
            }
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return; // comment / keep-alive
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                let value = value.strip_prefix(b" ").unwrap_or(value);
                (&line[..colon], value)
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => self.current.event = Some(value.into_owned()),
            b"id" => self.current.id = Some(value.into_owned()),
            _ => {}
        }
    }
}

/// Finds the first line terminator (`\n`, `\r\n` or a lone `\r`), returning the line length and
/// the terminator length. A trailing `\r` is left in the buffer: it may be half of a `\r\n`.
fn find_line_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let pos = memchr::memchr2(b'\n', b'\r', buffer)?;
    if buffer[pos] == b'\n' {
        return Some((pos, 1));
    }
    match buffer.get(pos + 1) {
        Some(b'\n') => Some((pos, 2)),
        Some(_) => Some((pos, 1)),
        None => None,
    }
}

/// Encodes one event. Multi-line data becomes several `data:` lines.
pub fn encode(event: Option<&str>, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 32);
    if let Some(event) = event {
        out.push_str("event: ");
        out.push_str(event);
        out.push('\n');
    }
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        chunks.iter().flat_map(|c| parser.push(c)).collect()
    }

    #[test]
    fn events_split_across_chunks_are_reassembled() {
        let events = parse_all(&[b"event: message_start\nda", b"ta: {\"a\":1}\n", b"\ndata: [DONE]\n\n"]);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].event.as_deref(), Some("message_start"));
        assert_eq!(events[0].data, "{\"a\":1}");
        assert_eq!(events[1].data, "[DONE]");
    }

    #[test]
    fn crlf_split_between_chunks_is_one_terminator() {
        let events = parse_all(&[b"data: x\r", b"\n\r\n"]);
        assert_eq!(events, vec![SseEvent { data: "x".into(), ..Default::default() }]);
    }

    #[test]
    fn comments_and_unknown_fields_are_ignored_and_multiline_data_joined() {
        let events = parse_all(&[b": ping\n\nretry: 10\ndata: a\ndata: b\n\n"]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "a\nb");
    }

    #[test]
    fn encode_then_parse_round_trips_multiline_data() {
        let bytes = encode(Some("delta"), "line1\nline2");
        let events = parse_all(&[&bytes]);
        assert_eq!(events[0].event.as_deref(), Some("delta"));
        assert_eq!(events[0].data, "line1\nline2");
    }

    #[test]
    fn unterminated_final_event_is_returned_by_finish() {
        let mut parser = SseParser::new();
        assert!(parser.push(b"data: tail").is_empty());
        assert_eq!(parser.finish().map(|e| e.data), Some("tail".to_string()));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_split_of_an_encoded_stream_parses_to_the_same_events(
                datas in proptest::collection::vec("[a-z0-9 {}:\"]{0,20}", 1..6),
                cut in 0usize..200,
            ) {
                let stream: Vec<u8> = datas.iter().flat_map(|d| encode(None, d).to_vec()).collect();
                let cut = cut.min(stream.len());
                let events = parse_all(&[&stream[..cut], &stream[cut..]]);
                let got: Vec<String> = events.into_iter().map(|e| e.data).collect();
                prop_assert_eq!(got, datas);
            }
        }
    }
}
