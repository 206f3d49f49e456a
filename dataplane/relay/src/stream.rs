//! Streaming answers: peek the upstream stream until its first real event (still inside the
//! attempt, so failover remains possible), then hand the stream to a pump task that translates
//! it into the client's dialect.
//!
//! The pump runs in its own task so that a client disconnect is noticed (the send fails) and the
//! request is still recorded with whatever the upstream produced. Usage policy at the end:
//! the last cumulative usage the upstream reported, completed by a local count when it reported
//! nothing (or only half); estimated usage is marked as such.

use std::convert::Infallible;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use oblivious_config::Channel;
use oblivious_core::sse::{SseEvent, SseParser};
use oblivious_core::{ApiError, Dialect, ErrorKind};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use crate::chat::ChatCall;
use crate::dialect::{self, DecodeError, FailureAction, StreamDecoder, StreamEncoder, StreamMeta, UpstreamFailure};
use crate::finalize::CLIENT_CLOSED;
use crate::ir::{StreamEvent, Usage};
use crate::upstream;
use crate::usage::{quick_prompt_estimate, settle_usage};

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// An upstream stream that has produced its first events and is ready to be relayed.
pub struct StreamStart {
    bytes: ByteStream,
    parser: SseParser,
    decoder: Box<dyn StreamDecoder>,
    first_events: Vec<StreamEvent>,
    /// The stream goes to the client as the upstream sent it (`dialect::relays_verbatim`); the
    /// decoded events then serve accounting only.
    verbatim: bool,
    /// The upstream events read so far, kept for a verbatim stream.
    first_raw: Vec<SseEvent>,
    idle: Duration,
}

/// The id the client sees, in its dialect's style.
pub fn response_id(dialect: Dialect, request_id: Uuid) -> String {
    match dialect {
        Dialect::OpenAi => format!("chatcmpl-{}", request_id.simple()),
        Dialect::Responses => format!("resp_{}", request_id.simple()),
        Dialect::Anthropic => format!("msg_{}", request_id.simple()),
        Dialect::Gemini => request_id.simple().to_string(),
    }
}

fn is_content(event: &StreamEvent) -> bool {
    !matches!(event, StreamEvent::Usage(_))
}

/// Reads until the first content event or the end of the stream, before `deadline`. `wire` is
/// the stream's format (the upstream request's dialect).
pub async fn peek_first_events(
    channel: &Channel,
    response: reqwest::Response,
    deadline: Instant,
    wire: Dialect,
    verbatim: bool,
) -> Result<StreamStart, UpstreamFailure> {
    let mut start = StreamStart {
        bytes: Box::pin(response.bytes_stream()),
        parser: SseParser::new(),
        decoder: dialect::stream_decoder(wire),
        first_events: Vec::new(),
        verbatim,
        first_raw: Vec::new(),
        idle: Duration::from_millis(channel.timeouts.stream_idle_ms),
    };
    loop {
        if start.first_events.iter().any(is_content) || start.decoder.done() {
            return Ok(start);
        }
        let chunk = match tokio::time::timeout_at(deadline, start.bytes.next()).await {
            Err(_) => return Err(upstream::timeout_failure("start its answer")),
            Ok(None) => {
                return Err(upstream::failure(
                    FailureAction::Retry,
                    ErrorKind::BadGateway,
                    502,
                    "empty_stream",
                    "The upstream ended the stream before answering.",
                ));
            }
            Ok(Some(Err(error))) => return Err(upstream::transport_failure(&error)),
            Ok(Some(Ok(chunk))) => chunk,
        };
        for event in start.parser.push(&chunk) {
            match start.decoder.decode(&event) {
                Ok(events) => {
                    start.first_events.extend(events);
                    if start.verbatim {
                        start.first_raw.push(event);
                    }
                }
                Err(DecodeError::Upstream(failure)) => return Err(failure),
                Err(DecodeError::Malformed(reason)) => {
                    tracing::warn!(channel = channel.name, reason, "malformed upstream stream");
                    return Err(upstream::failure(
                        FailureAction::Retry,
                        ErrorKind::BadGateway,
                        502,
                        "malformed_response",
                        "The upstream returned a malformed stream.",
                    ));
                }
            }
        }
    }
}

/// Starts relaying and returns the client's streaming response.
pub fn respond(call: ChatCall, start: StreamStart) -> Response {
    let created = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut call = call;
    let meta = StreamMeta {
        id: response_id(call.dialect, call.guard.record().id),
        model: call.request.model.clone(),
        created,
        include_usage: call.request.include_usage,
        estimated_input_tokens: quick_prompt_estimate(&call.request),
    };
    let json_array = call.dialect == Dialect::Gemini && call.gemini_json_array;
    let encoder = if json_array {
        dialect::gemini::json_array_encoder(meta)
    } else {
        dialect::stream_encoder(call.dialect, meta, &call.request)
    };
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    call.guard.record().ttft = Some(call.guard.record().started.elapsed());
    tokio::spawn(pump(call, start, encoder, tx));

    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|bytes| (Ok::<_, Infallible>(bytes), rx))
    }));
    let content_type = if json_array { "application/json" } else { dialect::SSE_CONTENT_TYPE };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// How the relayed stream ended.
enum End {
    Finished,
    Broken { class: &'static str, error: ApiError },
    ClientGone,
}

/// The client-facing side of a relayed stream and what it has seen so far.
struct Relayed {
    encoder: Box<dyn StreamEncoder>,
    /// Last cumulative usage the upstream reported.
    reported: Option<Usage>,
    /// Everything the model produced, for a local count if usage never comes.
    output: String,
    saw_finish: bool,
}

impl Relayed {
    /// Takes note of one event: usage, output for a local count, the finish.
    fn note(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::Usage(usage) => self.reported = Some(*usage),
            StreamEvent::TextDelta(text) | StreamEvent::ReasoningDelta { text } => self.output.push_str(text),
            StreamEvent::ToolCallStart { name, .. } => self.output.push_str(name),
            StreamEvent::ToolCallDelta { arguments, .. } => self.output.push_str(arguments),
            StreamEvent::Finish { .. } => self.saw_finish = true,
            _ => {}
        }
    }

    /// The client's frames for one upstream event and the stream events decoded from it.
    fn deliver(&mut self, raw: &SseEvent, events: Vec<StreamEvent>, verbatim: bool) -> Vec<Bytes> {
        events.iter().for_each(|event| self.note(event));
        if verbatim {
            return self.encoder.relay_raw(raw);
        }
        events.iter().flat_map(|event| self.encoder.encode(event)).collect()
    }
}

async fn pump(mut call: ChatCall, mut start: StreamStart, encoder: Box<dyn StreamEncoder>, tx: mpsc::Sender<Bytes>) {
    let mut relayed = Relayed { encoder, reported: None, output: String::new(), saw_finish: false };
    let first = std::mem::take(&mut start.first_events);
    first.iter().for_each(|event| relayed.note(event));
    let first_frames = if start.verbatim {
        start.first_raw.drain(..).flat_map(|raw| relayed.encoder.relay_raw(&raw)).collect()
    } else {
        first.iter().flat_map(|event| relayed.encoder.encode(event)).collect::<Vec<_>>()
    };
    let mut end = match send_all(&tx, first_frames).await {
        Err(gone) => gone,
        Ok(()) if start.decoder.done() => End::Finished,
        Ok(()) => relay_rest(&mut start, &mut relayed, &tx).await,
    };
    if matches!(end, End::Finished) && !relayed.saw_finish && !start.decoder.done() {
        end = broken("stream_broken", "The upstream closed the stream before it was complete.");
    }

    let (usage, estimated) = settle_usage(relayed.reported, &call.request, &relayed.output);
    call.guard.set_usage(usage, estimated);
    match end {
        End::Finished => {
            let frames = relayed.encoder.finish(usage);
            // Stored before the client sees the end, so a continuation sent at once finds it.
            if let (Some(keeper), Some(response)) = (&call.keeper, relayed.encoder.completed_response()) {
                keeper.keep(response).await;
            }
            let _ = send_all(&tx, frames).await;
            call.guard.finish(200, None);
        }
        End::Broken { class, error } => {
            tracing::warn!(class, "upstream stream broke after the first byte; not retried");
            let _ = send_all(&tx, relayed.encoder.abort(&error)).await;
            call.guard.finish(200, Some(class));
        }
        End::ClientGone => call.guard.finish(CLIENT_CLOSED, Some("client_closed")),
    }
}

/// Relays everything after the first events until the stream ends one way or another.
async fn relay_rest(start: &mut StreamStart, relayed: &mut Relayed, tx: &mpsc::Sender<Bytes>) -> End {
    loop {
        let chunk = match tokio::time::timeout(start.idle, start.bytes.next()).await {
            Err(_) => return broken("stream_idle_timeout", "The upstream stopped sending data."),
            Ok(None) => return End::Finished, // complete only if a finish was seen; checked by the caller
            Ok(Some(Err(_))) => return broken("stream_broken", "The upstream connection broke mid-stream."),
            Ok(Some(Ok(chunk))) => chunk,
        };
        let mut frames = Vec::new();
        let mut failed = None;
        for event in start.parser.push(&chunk) {
            match start.decoder.decode(&event) {
                Ok(events) => frames.extend(relayed.deliver(&event, events, start.verbatim)),
                Err(DecodeError::Upstream(failure)) => {
                    failed = Some(broken(failure.class, &failure.message));
                    break;
                }
                Err(DecodeError::Malformed(_)) => {
                    failed = Some(broken("malformed_response", "The upstream sent a malformed event."));
                    break;
                }
            }
        }
        if let Err(gone) = send_all(tx, frames).await {
            return gone;
        }
        if let Some(failed) = failed {
            return failed;
        }
        if start.decoder.done() {
            return End::Finished;
        }
    }
}

fn broken(class: &'static str, message: &str) -> End {
    End::Broken { class, error: ApiError::new(ErrorKind::BadGateway, message) }
}

async fn send_all(tx: &mpsc::Sender<Bytes>, frames: Vec<Bytes>) -> Result<(), End> {
    for frame in frames {
        if tx.send(frame).await.is_err() {
            return Err(End::ClientGone);
        }
    }
    Ok(())
}
