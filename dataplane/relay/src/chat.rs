//! A chat request from any dialect, end to end: pick a channel, try it, fail over on transient
//! errors *before the client has seen a byte*, and answer in the client's dialect.
//!
//! Failover is the relay's one loop (`failover::with_failover`, shared with embeddings); this file
//! supplies the attempt, which for a stream includes peeking its first events, so nothing is
//! retried once the first event has been sent.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use oblivious_core::lane::LaneContext;
use oblivious_core::{ApiError, Dialect, ErrorKind};

use crate::billing::estimate_chat;
use crate::dialect::{self, FailureAction, UpstreamFailure};
use crate::failover::{Attempt, candidates_for, exhausted, with_failover};
use crate::finalize::RecordGuard;
use crate::ir::{ChatRequest, ChatResponse, Part};
use crate::state::Relay;
use crate::stored_responses::ResponseKeeper;
use crate::stream::{self, StreamStart};
use crate::upstream;
use crate::usage::settle_usage;
use oblivious_runtime::ActiveConfig;
use oblivious_runtime::auth::Principal;
use oblivious_runtime::routing::Candidate;

/// One chat call as the ingress handler hands it over.
pub struct ChatCall {
    pub dialect: Dialect,
    pub principal: Principal,
    pub lane: LaneContext,
    pub request: ChatRequest,
    pub guard: RecordGuard,
    /// Gemini `:streamGenerateContent` without `alt=sse` streams a JSON array instead of SSE.
    pub gemini_json_array: bool,
    /// Stores the answer once complete (a Responses request with `store` not false).
    pub keeper: Option<ResponseKeeper>,
}

/// What a successful attempt produced.
enum Answer {
    /// A complete answer, rendered for the client from the IR.
    Complete(ChatResponse),
    /// A complete answer in the client's own dialect, sent as the upstream wrote it
    /// (`dialect::relays_verbatim`); parsed only for accounting.
    Verbatim {
        parsed: ChatResponse,
        body: Bytes,
    },
    Stream(StreamStart),
}

pub async fn serve_chat(relay: Arc<Relay>, mut call: ChatCall) -> Response {
    let active = relay.runtime.active();
    {
        let record = call.guard.record();
        record.model = call.request.model.clone();
        record.stream = call.request.stream;
    }
    let model = call.request.model.clone();
    let candidates = match candidates_for(&active, &call.principal, &model, &call.lane) {
        Ok(candidates) => candidates,
        Err(error) => return reject(call, error),
    };
    let estimate = estimate_chat(&call.request, relay.billing.config().default_output_estimate);
    let request_id = call.guard.record().id;
    let admission = match relay.billing.admit(&call.principal, &model, estimate, &active.snapshot, request_id).await {
        Ok(admission) => admission,
        Err(error) => {
            relay.metrics.count_refusal(&error);
            return reject(call, error);
        }
    };
    let rate_limit_headers = admission.headers.clone();
    call.guard.attach_admission(admission);
    let mut response = answer(&relay, &active, &candidates, call).await;
    response.headers_mut().extend(rate_limit_headers);
    response
}

/// Answers from the first candidate that does, failing over on transient errors before the
/// first byte (`failover::with_failover`).
async fn answer(relay: &Arc<Relay>, active: &ActiveConfig, candidates: &[&Candidate], mut call: ChatCall) -> Response {
    let (request, lane, client) = (&call.request, &call.lane, call.dialect);
    let answered = with_failover(relay, active, candidates, &mut call.guard, |target| {
        attempt(relay, target, request, lane, client)
    })
    .await;
    match answered {
        Ok(Answer::Complete(response)) => complete(call, response, None).await,
        Ok(Answer::Verbatim { parsed, body }) => complete(call, parsed, Some(body)).await,
        Ok(Answer::Stream(start)) => stream::respond(call, start),
        Err(last_failure) => {
            let (error, class) = exhausted(&call.request.model, last_failure);
            reject_as(call, error, &class)
        }
    }
}

/// Runs one attempt against one channel for a client speaking `client`.
async fn attempt(
    relay: &Relay,
    target: Attempt<'_>,
    request: &ChatRequest,
    lane: &LaneContext,
    client: Dialect,
) -> Result<Answer, UpstreamFailure> {
    let Attempt { channel, candidate, key, base_url } = target;
    let started = tokio::time::Instant::now();
    let upstream_request =
        dialect::build_upstream_request(channel, &base_url, &key, request, &candidate.upstream_model);
    let wire = upstream_request.dialect;
    let verbatim = dialect::relays_verbatim(client, wire);
    let deadline = started + Duration::from_millis(channel.timeouts.first_byte_ms);
    let http = relay.client_for(channel);
    let response = upstream::send(&http, channel, upstream_request, lane, deadline).await?;
    if request.stream {
        return Ok(Answer::Stream(stream::peek_first_events(channel, response, deadline, wire, verbatim).await?));
    }
    let idle = Duration::from_millis(channel.timeouts.stream_idle_ms);
    let body = upstream::read_body(response, idle).await?;
    let parsed = dialect::parse_upstream_response(wire, &body).map_err(|reason| {
        tracing::warn!(channel = channel.name, reason, "malformed upstream answer");
        upstream::failure(
            FailureAction::Retry,
            ErrorKind::BadGateway,
            502,
            "malformed_response",
            "The upstream returned a malformed answer.",
        )
    })?;
    Ok(if verbatim { Answer::Verbatim { parsed, body } } else { Answer::Complete(parsed) })
}

/// Answers with an error in the client's dialect and records it (class: its code or kind).
pub fn reject(call: ChatCall, error: ApiError) -> Response {
    let class = error.code.clone().unwrap_or_else(|| error.kind.as_str().to_string());
    reject_as(call, error, &class)
}

/// Answers with an error and records it under `class`.
fn reject_as(call: ChatCall, error: ApiError, class: &str) -> Response {
    let status = error.status().as_u16();
    let response = error.into_response_for(call.dialect);
    call.guard.finish(status, Some(class));
    response
}

/// Answers with a complete response: `verbatim` as the upstream wrote it, else rendered from
/// the IR. A kept (Responses) answer is stored before the client gets it, so a continuation
/// sent the moment it arrives finds it.
async fn complete(mut call: ChatCall, mut response: ChatResponse, verbatim: Option<Bytes>) -> Response {
    let output_text = output_text(&response.content);
    let (usage, estimated) = settle_usage(response.usage, &call.request, &output_text);
    call.guard.set_usage(usage, estimated);
    let body = match verbatim {
        Some(body) => body,
        None => {
            response.usage = Some(usage);
            response.model = call.request.model.clone();
            response.id = stream::response_id(call.dialect, call.guard.record().id);
            Bytes::from(dialect::render_response(call.dialect, &call.request, &response).to_string())
        }
    };
    if let Some(keeper) = &call.keeper
        && let Ok(stored) = serde_json::from_slice::<serde_json::Value>(&body)
    {
        keeper.keep(&stored).await;
    }
    call.guard.record().ttft = Some(call.guard.record().started.elapsed());
    call.guard.finish(200, None);
    let mut http = (StatusCode::OK, body).into_response();
    http.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    http
}

/// All text the model produced, for local token counting.
pub fn output_text(parts: &[Part]) -> String {
    let mut text = String::new();
    for part in parts {
        match part {
            Part::Text(t) | Part::Reasoning { text: t, .. } => text.push_str(t),
            Part::ToolCall { name, arguments, .. } => {
                text.push_str(name);
                text.push_str(arguments);
            }
            _ => {}
        }
    }
    text
}
