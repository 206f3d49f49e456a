//! `POST /v1/embeddings`: OpenAI-dialect embeddings, relayed to OpenAI-family channels with the
//! same routing and failover as chat (non-OpenAI channels serving the model are skipped).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oblivious_config::{Channel, Provider};
use oblivious_core::edge::{RequestId, read_limited};
use oblivious_core::lane::LaneContext;
use oblivious_core::{ApiError, Dialect, ErrorKind};
use serde_json::Value;

use super::with_request_id;
use crate::billing::estimate_embeddings;
use crate::dialect::{FailureAction, UpstreamFailure, UpstreamRequest, provider_dialect};
use crate::failover::{availability, client_error, note_attempt, record_failure};
use crate::finalize::RecordGuard;
use crate::ir::Usage;
use crate::request_log::RequestRecord;
use crate::routing::select;
use crate::state::Relay;
use crate::upstream;

pub async fn embeddings(
    State(relay): State<Arc<Relay>>,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let record = RequestRecord::with_id(request_id, "openai", "embeddings");
    let mut guard = RecordGuard::new(relay.clone(), record);
    let response = match run(&relay, &mut guard, &headers, body).await {
        Ok((response, usage)) => {
            guard.set_usage(usage, false);
            guard.finish(200, None);
            response
        }
        Err(error) => {
            let status = error.status().as_u16();
            let class = error.code.clone().unwrap_or_else(|| error.kind.as_str().to_string());
            guard.finish(status, Some(&class));
            error.into_response_for(Dialect::OpenAi)
        }
    };
    with_request_id(response, request_id)
}

async fn run(
    relay: &Arc<Relay>,
    guard: &mut RecordGuard,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Response, Usage), ApiError> {
    let principal = relay.keys.authenticate(headers, None).await?;
    guard.record().key_id = principal.key_id;
    guard.record().key_prefix = principal.key_prefix.clone();
    guard.record().user_id = principal.user_id;
    guard.record().group = principal.group.clone();
    let lane = LaneContext::from_headers(headers);
    guard.record().lane = lane.tag().map(str::to_string);
    let bytes = read_limited(body, relay.config.max_body_bytes).await?;
    let mut request: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid_request(format!("Request body is not valid JSON: {e}")))?;
    let model = request.get("model").and_then(Value::as_str).map(str::to_string);
    let Some(model) = model else {
        return Err(ApiError::invalid_field("model", "is required and must be a string"));
    };
    match request.get("input") {
        Some(Value::String(_)) | Some(Value::Array(_)) => {}
        _ => return Err(ApiError::invalid_field("input", "is required: a string or an array")),
    }
    guard.record().model = model.clone();

    let active = relay.active();
    let candidates: Vec<_> = active
        .routes
        .candidates(&active.snapshot, &model, &principal.group, crate::chat::live_lane(&active, &lane))
        .into_iter()
        .filter(|c| provider_dialect(active.snapshot.channels[c.channel].provider) == Dialect::OpenAi)
        .collect();
    if candidates.is_empty() || !principal.may_use_model(&model) {
        return Err(ApiError::model_not_found(&model));
    }
    let estimate = estimate_embeddings(input_bytes(&request));
    let request_id = guard.record().id;
    let admission =
        relay.billing.admit(&principal, &model, estimate, &active.snapshot, request_id).await.inspect_err(|error| {
            relay.metrics.count_refusal(error);
        })?;
    let rate_limit_headers = admission.headers.clone();
    guard.attach_admission(admission);

    let mut tried = Vec::new();
    let mut last_failure: Option<UpstreamFailure> = None;
    while tried.len() < relay.config.max_attempts {
        let now = Instant::now();
        let Some(candidate) = select(&candidates, |c| availability(relay, &active, c, &tried, now), &mut rand::rng())
        else {
            break;
        };
        tried.push(candidate.channel);
        let channel = &active.snapshot.channels[candidate.channel];
        note_attempt(guard, channel, candidate);
        request["model"] = Value::String(candidate.upstream_model.clone());
        match attempt(relay, channel, &candidate.upstream_model, &request, &lane).await {
            Ok(mut answer) => {
                relay.health.record_success(&channel.name);
                relay.metrics.count_attempt(&channel.name, "success");
                answer["model"] = Value::String(model);
                let prompt_tokens = answer.pointer("/usage/prompt_tokens").and_then(Value::as_u64).unwrap_or(0);
                let usage = Usage { input_tokens: prompt_tokens, ..Usage::default() };
                let mut response = (StatusCode::OK, answer.to_string()).into_response();
                response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response.headers_mut().extend(rate_limit_headers);
                return Ok((response, usage));
            }
            Err((failure, key_index)) => {
                record_failure(relay, channel, key_index, &failure);
                let action = failure.action;
                last_failure = Some(failure);
                if action != FailureAction::Retry {
                    break;
                }
            }
        }
    }
    Err(match last_failure {
        Some(failure) => client_error(&failure),
        None => {
            ApiError::new(ErrorKind::Unavailable, format!("No channel is currently available for model `{model}`."))
        }
    })
}

/// Bytes of text to embed (token arrays count as four bytes per token).
fn input_bytes(request: &Value) -> usize {
    match request.get("input") {
        Some(Value::String(text)) => text.len(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => text.len(),
                Value::Array(tokens) => tokens.len() * 4,
                Value::Number(_) => 4,
                _ => 0,
            })
            .sum(),
        _ => 0,
    }
}

async fn attempt(
    relay: &Relay,
    channel: &Channel,
    upstream_model: &str,
    body: &Value,
    lane: &LaneContext,
) -> Result<Value, (UpstreamFailure, Option<usize>)> {
    let Some(key) = relay.health.next_key(channel, Instant::now()) else {
        return Err((
            upstream::failure(FailureAction::Retry, ErrorKind::Unavailable, 503, "no_key", "No usable key."),
            None,
        ));
    };
    let key_index = channel.api_keys.iter().position(|k| std::ptr::eq(k, key));
    let fail = |f: UpstreamFailure| (f, key_index);
    let base = relay.resolve_base_url(channel).ok_or_else(|| {
        fail(upstream::failure(
            FailureAction::Retry,
            ErrorKind::BadGateway,
            502,
            "builtin_unavailable",
            "No built-in mock.",
        ))
    })?;
    let (url, auth) = match channel.provider {
        Provider::AzureOpenai => {
            let version = channel.api_version.as_deref().unwrap_or("2024-10-21");
            let url = format!("{base}/openai/deployments/{upstream_model}/embeddings?api-version={version}");
            (url, ("api-key".to_string(), key.expose().to_string()))
        }
        _ => (format!("{base}/embeddings"), ("authorization".to_string(), format!("Bearer {}", key.expose()))),
    };
    let mut headers = vec![auth];
    headers.extend(channel.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
    let request = UpstreamRequest { url, headers, body: body.clone() };
    let deadline = tokio::time::Instant::now() + Duration::from_millis(channel.timeouts.first_byte_ms);
    let client = relay.client_for(channel);
    let response = upstream::send(&client, channel, request, lane, deadline).await.map_err(fail)?;
    let bytes =
        upstream::read_body(response, Duration::from_millis(channel.timeouts.stream_idle_ms)).await.map_err(fail)?;
    serde_json::from_slice(&bytes).map_err(|_| {
        fail(upstream::failure(
            FailureAction::Retry,
            ErrorKind::BadGateway,
            502,
            "malformed_response",
            "Malformed answer.",
        ))
    })
}
