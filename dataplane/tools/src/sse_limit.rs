//! Caps the size of one server-sent event *before* the SSE parser sees the bytes. The parser keeps
//! an unfinished line and an unfinished event in memory, so without this a server streaming one
//! endless `data:` line would grow it until the process runs out of memory.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use rmcp::transport::streamable_http_client::SseError;
use sse_stream::{Sse, SseStream};

use crate::http_client::{HttpError, OversizeFlag};

/// Why the byte stream under the SSE parser ended early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SseBodyError {
    #[error("an SSE event is larger than {limit_bytes} bytes")]
    EventTooLarge { limit_bytes: usize },
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// Parses `body` as SSE, failing (and tripping `oversize`) as soon as one event, or one line,
/// exceeds `limit_bytes`.
pub(crate) fn limited_sse_events(
    body: BoxStream<'static, Result<Bytes, HttpError>>,
    limit_bytes: usize,
    oversize: OversizeFlag,
) -> BoxStream<'static, Result<Sse, SseError>> {
    let limited = LimitedBody { body, counter: EventSizeCounter::new(limit_bytes), oversize, finished: false };
    SseStream::from_bytes_stream(limited).boxed()
}

struct LimitedBody {
    body: BoxStream<'static, Result<Bytes, HttpError>>,
    counter: EventSizeCounter,
    oversize: OversizeFlag,
    /// Set after an error: the rest of the body is never read.
    finished: bool,
}

impl Stream for LimitedBody {
    type Item = Result<Bytes, SseBodyError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        match this.body.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if this.counter.feed(&chunk).is_err() {
                    this.finished = true;
                    this.oversize.trip();
                    let limit_bytes = this.counter.limit;
                    return Poll::Ready(Some(Err(SseBodyError::EventTooLarge { limit_bytes })));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.finished = true;
                Poll::Ready(Some(Err(error.into())))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Counts the bytes of the current event (its non-comment lines) and of the current line; an
/// empty line ends an event. Line ends are `\n`, `\r\n` or `\r`, as in the SSE specification.
#[derive(Debug)]
pub(crate) struct EventSizeCounter {
    limit: usize,
    event_bytes: usize,
    line_bytes: usize,
    line_is_comment: bool,
    after_cr: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Oversized;

impl EventSizeCounter {
    pub(crate) fn new(limit: usize) -> Self {
        Self { limit, event_bytes: 0, line_bytes: 0, line_is_comment: false, after_cr: false }
    }

    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<(), Oversized> {
        for &byte in chunk {
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            match byte {
                b'\r' | b'\n' => {
                    self.end_line();
                    self.after_cr = byte == b'\r';
                }
                _ => {
                    if self.line_bytes == 0 {
                        self.line_is_comment = byte == b':';
                    }
                    self.line_bytes += 1;
                    // Comments are not kept in the event, but an unfinished comment line is.
                    let retained =
                        if self.line_is_comment { self.line_bytes } else { self.event_bytes + self.line_bytes };
                    if retained > self.limit {
                        return Err(Oversized);
                    }
                }
            }
        }
        Ok(())
    }

    fn end_line(&mut self) {
        if self.line_bytes == 0 {
            self.event_bytes = 0;
        } else if !self.line_is_comment {
            // The parser joins data lines with a newline.
            self.event_bytes += self.line_bytes + 1;
        }
        self.line_bytes = 0;
        self.line_is_comment = false;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn events_under_the_limit_pass_however_many_there_are() {
        let mut counter = EventSizeCounter::new(16);
        for _ in 0..1000 {
            assert_eq!(counter.feed(b"data: 0123456\n\n"), Ok(()));
        }
    }

    #[test]
    fn one_event_over_the_limit_fails_even_when_split_across_lines_and_chunks() {
        let mut counter = EventSizeCounter::new(20);
        assert_eq!(counter.feed(b"data: 0123"), Ok(()));
        assert_eq!(counter.feed(b"\r\ndata: 5"), Ok(()));
        assert_eq!(counter.feed(b"6789"), Err(Oversized));
    }

    #[test]
    fn crlf_cr_and_lf_all_end_lines_and_blank_lines_end_events() {
        let mut counter = EventSizeCounter::new(12);
        assert_eq!(counter.feed(b"data: abcd\r\n\r\ndata: abcd\r\rdata: abcd\n\n"), Ok(()));
        // `\r` then `\n` in separate chunks is one line end, not a blank line.
        let mut counter = EventSizeCounter::new(12);
        assert_eq!(counter.feed(b"data: abcd\r"), Ok(()));
        assert_eq!(counter.feed(b"\ndata: ab"), Err(Oversized));
    }

    #[test]
    fn an_endless_comment_line_is_cut_but_finished_comments_do_not_count() {
        let mut counter = EventSizeCounter::new(8);
        assert_eq!(counter.feed(b": ping\n: ping\n: ping\ndata: 12\n\n"), Ok(()));
        assert_eq!(counter.feed(b": 0123456789"), Err(Oversized));
    }

    #[tokio::test]
    async fn the_parser_stops_at_the_first_oversized_event_and_trips_the_flag() {
        let chunks: Vec<Result<Bytes, HttpError>> = vec![
            Ok(Bytes::from_static(b"data: small\n\n")),
            Ok(Bytes::from(format!("data: {}\n\n", "x".repeat(100)))),
            Ok(Bytes::from_static(b"data: never read\n\n")),
        ];
        let oversize = OversizeFlag::default();
        let mut events = limited_sse_events(futures_util::stream::iter(chunks).boxed(), 32, oversize.clone());
        let first = events.next().await.unwrap().unwrap();
        assert_eq!(first.data.as_deref(), Some("small"));
        assert!(!oversize.tripped());
        assert!(events.next().await.unwrap().is_err());
        assert!(oversize.tripped());
        assert!(events.next().await.is_none(), "nothing after the oversized event is parsed");
    }
}
