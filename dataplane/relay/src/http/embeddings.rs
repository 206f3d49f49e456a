//! `POST /v1/embeddings`: OpenAI-dialect embeddings, relayed to OpenAI-family channels with the
//! same routing and failover as chat (non-OpenAI channels serving the model are skipped).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oblivious_config::Provider;
use oblivious_core::edge::{RequestId, read_limited};
use oblivious_core::lane::LaneContext;
use oblivious_core::{ApiError, Dialect, ErrorKind};
use serde_json::Value;

use super::caller::KeyCaller;
use super::with_request_id;
use crate::billing::estimate_embeddings;
use crate::dialect::{FailureAction, UpstreamFailure, UpstreamRequest, provider_dialect};
use crate::failover::{Attempt, candidates_for, exhausted, with_failover};
use crate::finalize::RecordGuard;
use crate::ir::Usage;
use crate::request_log::RequestRecord;
use crate::state::Relay;
use crate::upstream;
use oblivious_runtime::Principal;

pub async fn embeddings(
    State(relay): State<Arc<Relay>>,
    KeyCaller { principal, .. }: KeyCaller,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let record = RequestRecord::with_id(request_id, "openai", "embeddings");
    let mut guard = RecordGuard::new(relay.clone(), record);
    let response = match run(&relay, principal, &mut guard, &headers, body).await {
        Ok((response, usage)) => {
            guard.set_usage(usage, false);
            guard.finish(200, None);
            response
        }
        Err(error) => guard.fail(error, Dialect::OpenAi),
    };
    with_request_id(response, request_id)
}

async fn run(
    relay: &Arc<Relay>,
    principal: Principal,
    guard: &mut RecordGuard,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Response, Usage), ApiError> {
    guard.record().note_caller(&principal);
    let lane = LaneContext::from_headers(headers);
    guard.record().note_lane(&lane);
    let bytes = read_limited(body, relay.config.max_body_bytes).await?;
    let request: Value = serde_json::from_slice(&bytes)
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

    let active = relay.runtime.active();
    let candidates: Vec<_> = candidates_for(&active, &principal, &model, &lane)?
        .into_iter()
        .filter(|c| provider_dialect(active.snapshot.channels[c.channel].provider) == Dialect::OpenAi)
        .collect();
    if candidates.is_empty() {
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

    let answered =
        with_failover(relay, &active, &candidates, guard, |target| attempt(relay, target, &request, &lane)).await;
    match answered {
        Ok(mut answer) => {
            answer["model"] = Value::String(model);
            let prompt_tokens = answer.pointer("/usage/prompt_tokens").and_then(Value::as_u64).unwrap_or(0);
            let usage = Usage { input_tokens: prompt_tokens, ..Usage::default() };
            let mut response = (StatusCode::OK, answer.to_string()).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response.headers_mut().extend(rate_limit_headers);
            Ok((response, usage))
        }
        Err(last_failure) => Err(exhausted(&model, last_failure).0),
    }
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

/// One attempt: the request with the channel's model name, to its embeddings endpoint.
async fn attempt(
    relay: &Relay,
    target: Attempt<'_>,
    request: &Value,
    lane: &LaneContext,
) -> Result<Value, UpstreamFailure> {
    let Attempt { channel, candidate, key, base_url: base } = target;
    let upstream_model = candidate.upstream_model.as_str();
    let mut body = request.clone();
    body["model"] = Value::String(upstream_model.to_string());
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
    let request = UpstreamRequest { url, headers, body, dialect: Dialect::OpenAi };
    let deadline = tokio::time::Instant::now() + Duration::from_millis(channel.timeouts.first_byte_ms);
    let client = relay.client_for(channel);
    let response = upstream::send(&client, channel, request, lane, deadline).await?;
    let bytes = upstream::read_body(response, Duration::from_millis(channel.timeouts.stream_idle_ms)).await?;
    serde_json::from_slice(&bytes).map_err(|_| {
        upstream::failure(FailureAction::Retry, ErrorKind::BadGateway, 502, "malformed_response", "Malformed answer.")
    })
}
