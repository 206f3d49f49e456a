//! `POST /v1/messages/count_tokens` (Anthropic): the prompt tokens of a Messages body. A model an
//! Anthropic channel serves is counted by Anthropic (the body as sent, model replaced, beta
//! headers passed on, through the one failover loop); any other model is counted locally with
//! the relay's tokenizer (`o200k_base`: exact for OpenAI models, close for others). Counting is
//! free: the request is recorded with no cost.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oblivious_config::Provider;
use oblivious_core::edge::{RequestId, read_limited};
use oblivious_core::lane::LaneContext;
use oblivious_core::{ApiError, Dialect, ErrorKind};
use oblivious_runtime::Principal;
use serde_json::{Map, Value, json};

use super::caller::KeyCaller;
use super::with_request_id;
use crate::dialect::{self, FailureAction, UpstreamFailure};
use crate::failover::{Attempt, candidates_for, exhausted, with_failover};
use crate::finalize::RecordGuard;
use crate::ir::{ChatRequest, OriginalRequest};
use crate::request_log::RequestRecord;
use crate::state::Relay;
use crate::upstream;
use crate::usage::count_prompt_tokens;

pub async fn count_tokens(
    State(relay): State<Arc<Relay>>,
    KeyCaller { principal, .. }: KeyCaller,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut guard = RecordGuard::new(relay.clone(), RequestRecord::with_id(request_id, "anthropic", "count_tokens"));
    let response = match run(&relay, principal, &mut guard, &headers, body).await {
        Ok(input_tokens) => {
            guard.finish(200, None);
            Json(json!({"input_tokens": input_tokens})).into_response()
        }
        Err(error) => guard.fail(error, Dialect::Anthropic),
    };
    with_request_id(response, request_id)
}

async fn run(
    relay: &Arc<Relay>,
    principal: Principal,
    guard: &mut RecordGuard,
    headers: &HeaderMap,
    body: Body,
) -> Result<u64, ApiError> {
    guard.record().note_caller(&principal);
    let lane = LaneContext::from_headers(headers);
    guard.record().note_lane(&lane);
    let bytes = read_limited(body, relay.config.max_body_bytes).await?;
    let request = parse(&bytes, headers)?;
    let model = request.model.clone();
    guard.record().model = model.clone();

    let active = relay.runtime.active();
    let anthropic: Vec<_> = candidates_for(&active, &principal, &model, &lane)?
        .into_iter()
        .filter(|c| active.snapshot.channels[c.channel].provider == Provider::Anthropic)
        .collect();
    if anthropic.is_empty() {
        return Ok(count_prompt_tokens(&request));
    }
    with_failover(relay, &active, &anthropic, guard, |target| attempt(relay, target, &request, &lane))
        .await
        .map_err(|last_failure| exhausted(&model, last_failure).0)
}

/// The body as a Messages request (a count has no `max_tokens`; the parser wants one), keeping
/// the body itself, untouched, for an Anthropic upstream.
fn parse(bytes: &[u8], headers: &HeaderMap) -> Result<ChatRequest, ApiError> {
    let body: Map<String, Value> = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid_request(format!("The request body is not a JSON object: {e}")))?;
    let mut with_max_tokens = body.clone();
    with_max_tokens.entry("max_tokens").or_insert(json!(1));
    let mut request = dialect::anthropic::parse_request(&serde_json::to_vec(&with_max_tokens).unwrap_or_default())?;
    let headers = dialect::forwarded_client_headers(Dialect::Anthropic, headers);
    request.original = Some(OriginalRequest { dialect: Dialect::Anthropic, body, headers });
    Ok(request)
}

/// One count at an Anthropic channel: the Messages request it would get, sent to the count
/// endpoint beside it.
async fn attempt(
    relay: &Relay,
    target: Attempt<'_>,
    request: &ChatRequest,
    lane: &LaneContext,
) -> Result<u64, UpstreamFailure> {
    let Attempt { channel, candidate, key, base_url } = target;
    let mut upstream_request =
        dialect::build_upstream_request(channel, &base_url, &key, request, &candidate.upstream_model);
    upstream_request.url.push_str("/count_tokens");
    let deadline = tokio::time::Instant::now() + Duration::from_millis(channel.timeouts.first_byte_ms);
    let response = upstream::send(&relay.client_for(channel), channel, upstream_request, lane, deadline).await?;
    let bytes = upstream::read_body(response, Duration::from_millis(channel.timeouts.stream_idle_ms)).await?;
    serde_json::from_slice::<Value>(&bytes).ok().and_then(|answer| answer.get("input_tokens")?.as_u64()).ok_or_else(
        || {
            upstream::failure(
                FailureAction::Retry,
                ErrorKind::BadGateway,
                502,
                "malformed_response",
                "The upstream's token count was malformed.",
            )
        },
    )
}
