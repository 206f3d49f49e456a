//! Answers of the pass-through endpoints: received inside the attempt (a whole body read whole,
//! a stream peeked to its first event or bytes, so failover stays possible), then given to the
//! client and measured.
//!
//! A relayed stream runs in its own task, like chat's (`stream.rs`): a client that goes away is
//! noticed, and the request is still recorded and billed by the policy in NOTES.md ("Billing"):
//! what the upstream produced — a completion's prompt and the text until then, a speech's whole
//! input once its audio started.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use oblivious_config::Channel;
use oblivious_core::sse::{SseEvent, SseParser, encode};
use oblivious_core::{ApiError, Dialect, ErrorKind};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{AnswerKind, Answered, Endpoint, Measured, Plan};
use crate::billing::charge_units;
use crate::dialect::openai::OpenAiStreamDecoder;
use crate::dialect::{DecodeError, FailureAction, StreamDecoder, UpstreamFailure};
use crate::finalize::{CLIENT_CLOSED, RecordGuard};
use crate::state::Relay;
use crate::upstream;

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// What an attempt brought back.
pub(super) enum Upstreamed {
    /// A body read whole; `json` when it is JSON.
    Whole { body: Bytes, json: Option<Value>, content_type: Option<HeaderValue> },
    /// A stream that has produced its first event (or bytes) and is ready to be relayed.
    Stream(Started),
}

/// A started stream.
pub(super) struct Started {
    bytes: ByteStream,
    kind: AnswerKind,
    /// The first bytes of a byte stream.
    first_bytes: Option<Bytes>,
    /// The events read so far of an event stream.
    first_events: Vec<SseEvent>,
    parser: SseParser,
    decoder: OpenAiStreamDecoder,
    content_type: Option<HeaderValue>,
    idle: Duration,
}

fn malformed(what: &str) -> UpstreamFailure {
    upstream::failure(FailureAction::Retry, ErrorKind::BadGateway, 502, "malformed_response", what)
}

fn empty_stream() -> UpstreamFailure {
    upstream::failure(
        FailureAction::Retry,
        ErrorKind::BadGateway,
        502,
        "empty_stream",
        "The upstream ended its answer before sending anything.",
    )
}

/// Reads a successful upstream answer as far as the attempt must: whole bodies whole, streams to
/// their first event or bytes before `deadline`.
pub(super) async fn receive(
    channel: &Channel,
    kind: AnswerKind,
    response: reqwest::Response,
    deadline: Instant,
) -> Result<Upstreamed, UpstreamFailure> {
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let idle = Duration::from_millis(channel.timeouts.stream_idle_ms);
    match kind {
        AnswerKind::Json | AnswerKind::Text => {
            let body = upstream::read_body(response, idle).await?;
            let json = serde_json::from_slice::<Value>(&body).ok();
            if kind == AnswerKind::Json && !json.as_ref().is_some_and(Value::is_object) {
                return Err(malformed("Malformed answer."));
            }
            Ok(Upstreamed::Whole { body, json, content_type })
        }
        AnswerKind::Events | AnswerKind::Bytes => {
            let mut started = Started {
                bytes: Box::pin(response.bytes_stream()),
                kind,
                first_bytes: None,
                first_events: Vec::new(),
                parser: SseParser::new(),
                decoder: OpenAiStreamDecoder::default(),
                content_type,
                idle,
            };
            peek(&mut started, deadline).await?;
            Ok(Upstreamed::Stream(started))
        }
    }
}

/// Reads until the first bytes (a byte stream) or the first event with data (an event stream; an
/// error event there is the attempt's failure).
async fn peek(started: &mut Started, deadline: Instant) -> Result<(), UpstreamFailure> {
    loop {
        let chunk = match tokio::time::timeout_at(deadline, started.bytes.next()).await {
            Err(_) => return Err(upstream::timeout_failure("start its answer")),
            Ok(None) => return Err(empty_stream()),
            Ok(Some(Err(error))) => return Err(upstream::transport_failure(&error)),
            Ok(Some(Ok(chunk))) => chunk,
        };
        if started.kind == AnswerKind::Bytes {
            if chunk.is_empty() {
                continue;
            }
            started.first_bytes = Some(chunk);
            return Ok(());
        }
        for event in started.parser.push(&chunk) {
            if event.data.trim().is_empty() {
                continue;
            }
            match started.decoder.decode(&event) {
                Ok(_) => started.first_events.push(event),
                Err(DecodeError::Upstream(failure)) => return Err(failure),
                Err(DecodeError::Malformed(_)) => return Err(malformed("The upstream returned a malformed stream.")),
            }
        }
        if !started.first_events.is_empty() {
            return Ok(());
        }
    }
}

/// Gives the answer to the client and settles the request (at once for a whole answer, when
/// the stream ends for a stream).
pub(super) fn respond(
    endpoint: &'static Endpoint,
    relay: &Arc<Relay>,
    mut guard: RecordGuard,
    plan: Plan,
    model: &str,
    upstreamed: Upstreamed,
) -> Response {
    match upstreamed {
        Upstreamed::Whole { body, json: Some(mut json), content_type } => {
            if json.get("model").is_some_and(Value::is_string) {
                json["model"] = Value::String(model.to_string());
            }
            settle(relay, &mut guard, (endpoint.measure)(&plan, Answered::Json(&json)));
            guard.finish(200, None);
            let body = if plan.answer == AnswerKind::Json { Bytes::from(json.to_string()) } else { body };
            let content_type = if plan.answer == AnswerKind::Json { None } else { content_type };
            whole(body, content_type.unwrap_or(HeaderValue::from_static("application/json")))
        }
        Upstreamed::Whole { body, json: None, content_type } => {
            let text = String::from_utf8_lossy(&body);
            settle(relay, &mut guard, (endpoint.measure)(&plan, Answered::Text(&text)));
            guard.finish(200, None);
            whole(body, content_type.unwrap_or(HeaderValue::from_static("text/plain; charset=utf-8")))
        }
        Upstreamed::Stream(started) => relay_stream(endpoint, relay.clone(), guard, plan, model, started),
    }
}

fn whole(body: Bytes, content_type: HeaderValue) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    response
}

/// Sets the record's usage and cost (tokens, then units) from what the answer used.
fn settle(relay: &Relay, guard: &mut RecordGuard, measured: Measured) {
    guard.set_usage(measured.usage, measured.estimated);
    let active = relay.runtime.active();
    charge_units(guard.record(), &measured.units, &active.snapshot);
}

/// Starts the pump and returns the client's streaming response.
fn relay_stream(
    endpoint: &'static Endpoint,
    relay: Arc<Relay>,
    mut guard: RecordGuard,
    plan: Plan,
    model: &str,
    started: Started,
) -> Response {
    let content_type = match started.kind {
        AnswerKind::Events => HeaderValue::from_static("text/event-stream"),
        _ => started.content_type.clone().unwrap_or(HeaderValue::from_static("application/octet-stream")),
    };
    let events = started.kind == AnswerKind::Events;
    let record = guard.record();
    record.ttft = Some(record.started.elapsed());
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let pump = Pump { endpoint, relay, guard, plan, model: model.to_string(), tx };
    tokio::spawn(pump.run(started));

    let body =
        Body::from_stream(futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
        ));
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    if events {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    }
    response
}

/// How a relayed stream ended.
enum End {
    Finished,
    /// The upstream broke after the first byte: closed with an error (an error event for an
    /// event stream, a cut connection for bytes), never retried.
    Broken {
        class: &'static str,
        message: String,
    },
    ClientGone,
}

/// The task that relays a started stream to the client and settles the request at its end.
struct Pump {
    endpoint: &'static Endpoint,
    relay: Arc<Relay>,
    guard: RecordGuard,
    plan: Plan,
    model: String,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

/// What the client has been sent of an event stream.
#[derive(Default)]
struct Seen {
    usage: Option<crate::ir::Usage>,
    output: String,
    finished: bool,
}

impl Pump {
    async fn run(mut self, mut started: Started) {
        let mut seen = Seen::default();
        let end = match started.kind {
            AnswerKind::Events => self.relay_events(&mut started, &mut seen).await,
            _ => self.relay_bytes(&mut started).await,
        };
        let answered = Answered::Stream { usage: seen.usage, output: &seen.output };
        let measured = (self.endpoint.measure)(&self.plan, answered);
        let usage = measured.usage;
        settle(&self.relay, &mut self.guard, measured);
        match end {
            End::Finished => {
                if started.kind == AnswerKind::Events {
                    // A client that asked for usage gets it, counted locally if the upstream was silent.
                    if self.plan.include_usage && seen.usage.is_none() {
                        let chunk = serde_json::json!({
                            "object": "text_completion", "model": self.model, "choices": [],
                            "usage": {
                                "prompt_tokens": usage.input_tokens,
                                "completion_tokens": usage.output_tokens,
                                "total_tokens": usage.input_tokens + usage.output_tokens,
                            },
                        });
                        let _ = self.tx.send(Ok(encode(None, &chunk.to_string()))).await;
                    }
                    let _ = self.tx.send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
                }
                self.guard.finish(200, None);
            }
            End::Broken { class, message } => {
                tracing::warn!(class, endpoint = self.endpoint.name, "upstream stream broke after the first byte");
                let item = if started.kind == AnswerKind::Events {
                    let error = ApiError::new(ErrorKind::BadGateway, message);
                    Ok(encode(None, &error.body(Dialect::OpenAi).to_string()))
                } else {
                    Err(std::io::Error::other(message))
                };
                let _ = self.tx.send(item).await;
                self.guard.finish(200, Some(class));
            }
            End::ClientGone => self.guard.finish(CLIENT_CLOSED, Some("client_closed")),
        }
    }

    async fn send(&self, bytes: Bytes) -> Result<(), End> {
        self.tx.send(Ok(bytes)).await.map_err(|_| End::ClientGone)
    }

    /// The next chunk, or how the stream ended.
    async fn next_chunk(started: &mut Started) -> Result<Option<Bytes>, End> {
        match tokio::time::timeout(started.idle, started.bytes.next()).await {
            Err(_) => Err(broken("stream_idle_timeout", "The upstream stopped sending data.")),
            Ok(None) => Ok(None),
            Ok(Some(Err(_))) => Err(broken("stream_broken", "The upstream connection broke mid-stream.")),
            Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
        }
    }

    async fn relay_bytes(&mut self, started: &mut Started) -> End {
        if let Some(first) = started.first_bytes.take()
            && let Err(end) = self.send(first).await
        {
            return end;
        }
        loop {
            match Self::next_chunk(started).await {
                Err(end) => return end,
                Ok(None) => return End::Finished,
                Ok(Some(chunk)) if chunk.is_empty() => {}
                Ok(Some(chunk)) => {
                    if let Err(end) = self.send(chunk).await {
                        return end;
                    }
                }
            }
        }
    }

    async fn relay_events(&mut self, started: &mut Started, seen: &mut Seen) -> End {
        let first = std::mem::take(&mut started.first_events);
        for event in first {
            // Already decoded once while peeking: only noted and passed on.
            if let Err(end) = self.pass_event(&event, seen).await {
                return end;
            }
        }
        loop {
            if started.decoder.done() {
                return End::Finished;
            }
            let chunk = match Self::next_chunk(started).await {
                Err(end) => return end,
                Ok(None) if seen.finished => return End::Finished,
                Ok(None) => return broken("stream_broken", "The upstream closed the stream before it was complete."),
                Ok(Some(chunk)) => chunk,
            };
            for event in started.parser.push(&chunk) {
                if event.data.trim().is_empty() || event.data.trim() == "[DONE]" {
                    let _ = started.decoder.decode(&event);
                    continue;
                }
                match started.decoder.decode(&event) {
                    Ok(_) => {}
                    Err(DecodeError::Upstream(failure)) => return broken(failure.class, &failure.message),
                    Err(DecodeError::Malformed(_)) => {
                        return broken("malformed_response", "The upstream sent a malformed event.");
                    }
                }
                if let Err(end) = self.pass_event(&event, seen).await {
                    return end;
                }
            }
        }
    }

    /// Notes an upstream event's usage, text and finish, and sends it on under the public model
    /// name — without usage unless the client asked for it (the upstream is always asked).
    async fn pass_event(&self, event: &SseEvent, seen: &mut Seen) -> Result<(), End> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(());
        }
        let Ok(mut chunk) = serde_json::from_str::<Value>(data) else {
            return Err(broken("malformed_response", "The upstream sent a malformed event."));
        };
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            seen.usage = Some(crate::dialect::openai::usage_from_json(usage));
        }
        let choices = chunk.get("choices").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for choice in choices {
            if let Some(text) = choice.get("text").and_then(Value::as_str) {
                seen.output.push_str(text);
            }
            if choice.get("finish_reason").is_some_and(Value::is_string) {
                seen.finished = true;
            }
        }
        let without_choices = choices.is_empty();
        if chunk.get("model").is_some_and(Value::is_string) {
            chunk["model"] = Value::String(self.model.clone());
        }
        if !self.plan.include_usage
            && let Some(object) = chunk.as_object_mut()
            && object.remove("usage").is_some()
            && without_choices
        {
            return Ok(()); // the usage-only chunk the client did not ask for
        }
        self.send(encode(event.event.as_deref(), &chunk.to_string())).await
    }
}

fn broken(class: &'static str, message: &str) -> End {
    End::Broken { class, message: message.to_string() }
}
