//! Paced streaming bodies: a list of frames, some of them *content* (one word each), sent with
//! the requested words-per-second pacing, and optionally cut after N content frames — the body
//! then yields an error, so hyper aborts the chunked response without its terminating chunk,
//! exactly what a client sees when an upstream connection breaks.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream;

/// One frame of a streamed answer.
pub struct Frame {
    pub bytes: Bytes,
    /// Counts for pacing and for `break_after`.
    pub content: bool,
}

impl Frame {
    pub fn meta(bytes: impl Into<Bytes>) -> Frame {
        Frame { bytes: bytes.into(), content: false }
    }

    pub fn content(bytes: impl Into<Bytes>) -> Frame {
        Frame { bytes: bytes.into(), content: true }
    }
}

/// How the frames are delivered.
#[derive(Debug, Clone, Copy, Default)]
pub struct Delivery {
    /// Time between two content frames.
    pub pace: Option<Duration>,
    /// Cut the connection after this many content frames.
    pub break_after: Option<usize>,
}

impl Delivery {
    pub fn from_tps(tps: Option<u32>, break_after: Option<usize>) -> Delivery {
        Delivery { pace: tps.map(|t| Duration::from_micros(1_000_000 / u64::from(t.max(1)))), break_after }
    }
}

/// A 200 response streaming `frames` with `content_type`.
pub fn streamed(frames: Vec<Frame>, delivery: Delivery, content_type: &'static str) -> Response {
    struct State {
        frames: std::vec::IntoIter<Frame>,
        sent_content: usize,
        delivery: Delivery,
        done: bool,
    }
    let state = State { frames: frames.into_iter(), sent_content: 0, delivery, done: false };
    let body = stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        if state.delivery.break_after.is_some_and(|n| state.sent_content >= n) {
            state.done = true;
            // Let hyper flush what was sent (it writes while the body is pending), so the client
            // receives the first chunks before the cut, as it would from a real upstream.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let cut = std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "mock: stream broken on purpose");
            return Some((Err(cut), state));
        }
        let frame = state.frames.next()?;
        if frame.content {
            if let Some(pace) = state.delivery.pace
                && state.sent_content > 0
            {
                tokio::time::sleep(pace).await;
            }
            state.sent_content += 1;
        }
        Some((Ok::<Bytes, std::io::Error>(frame.bytes), state))
    });
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `data: <json>\n\n`
pub fn sse_data(json: &serde_json::Value) -> Bytes {
    Bytes::from(format!("data: {json}\n\n"))
}

/// `event: <name>\ndata: <json>\n\n`
pub fn sse_event(name: &str, json: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {json}\n\n"))
}

/// Sleeps for a non-streamed answer paced at `tps` words per second.
pub async fn pace_whole(tps: Option<u32>, words: usize) {
    if let Some(tps) = tps {
        tokio::time::sleep(Duration::from_micros(1_000_000 * words as u64 / u64::from(tps.max(1)))).await;
    }
}
