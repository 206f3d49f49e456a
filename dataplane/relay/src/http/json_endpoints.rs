//! The JSON endpoints the relay passes through to OpenAI-family channels (`openai`,
//! `azure-openai`, `openai-compatible`; other channels serving the model are skipped) with the
//! same routing, failover and billing as chat:
//!
//! - `POST /v1/embeddings`: OpenAI's shape.
//! - `POST /v1/rerank`: the Cohere/Jina shape (`query`, `documents`, `top_n`) that Jina, Cohere's
//!   compatibility API, vLLM, TEI and LiteLLM serve at `{base}/rerank`; knowledge-base retrieval
//!   uses it. Billed by input tokens: the upstream's `usage.total_tokens` (Jina, vLLM), else
//!   estimated from the text (Cohere reports search units only).
//!
//! Each request is checked for its endpoint's fields before any channel is tried, the model
//! swapped for the channel's, and the answer returned as the upstream wrote it (with the public
//! model name).

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

/// One pass-through endpoint.
struct Endpoint {
    /// The request log's endpoint and the upstream path (`{base}/{name}`).
    name: &'static str,
    /// Checks the endpoint's own fields; the bytes of text the request sends, for its estimate.
    input_bytes: fn(&Value) -> Result<usize, ApiError>,
    /// The input tokens the answer reports, if it does.
    reported_tokens: fn(&Value) -> Option<u64>,
}

const EMBEDDINGS: Endpoint = Endpoint {
    name: "embeddings",
    input_bytes: embeddings_input_bytes,
    reported_tokens: |answer| answer.pointer("/usage/prompt_tokens").and_then(Value::as_u64),
};

const RERANK: Endpoint = Endpoint {
    name: "rerank",
    input_bytes: rerank_input_bytes,
    reported_tokens: |answer| answer.pointer("/usage/total_tokens").and_then(Value::as_u64),
};

pub async fn embeddings(
    State(relay): State<Arc<Relay>>,
    caller: KeyCaller,
    request_id: RequestId,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(&EMBEDDINGS, relay, caller, request_id, headers, body).await
}

pub async fn rerank(
    State(relay): State<Arc<Relay>>,
    caller: KeyCaller,
    request_id: RequestId,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(&RERANK, relay, caller, request_id, headers, body).await
}

async fn serve(
    endpoint: &Endpoint,
    relay: Arc<Relay>,
    KeyCaller { principal, .. }: KeyCaller,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let record = RequestRecord::with_id(request_id, "openai", endpoint.name);
    let mut guard = RecordGuard::new(relay.clone(), record);
    let response = match run(endpoint, &relay, principal, &mut guard, &headers, body).await {
        Ok((response, usage, estimated)) => {
            guard.set_usage(usage, estimated);
            guard.finish(200, None);
            response
        }
        Err(error) => guard.fail(error, Dialect::OpenAi),
    };
    with_request_id(response, request_id)
}

/// The answer, its usage, and whether that usage is our estimate.
async fn run(
    endpoint: &Endpoint,
    relay: &Arc<Relay>,
    principal: Principal,
    guard: &mut RecordGuard,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Response, Usage, bool), ApiError> {
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
    let input_bytes = (endpoint.input_bytes)(&request)?;
    guard.record().model = model.clone();

    let active = relay.runtime.active();
    let candidates: Vec<_> = candidates_for(&active, &principal, &model, &lane)?
        .into_iter()
        .filter(|c| provider_dialect(active.snapshot.channels[c.channel].provider) == Dialect::OpenAi)
        .collect();
    if candidates.is_empty() {
        return Err(ApiError::model_not_found(&model));
    }
    let estimate = estimate_embeddings(input_bytes);
    let request_id = guard.record().id;
    let admission =
        relay.billing.admit(&principal, &model, estimate, &active.snapshot, request_id).await.inspect_err(|error| {
            relay.metrics.count_refusal(error);
        })?;
    let rate_limit_headers = admission.headers.clone();
    guard.attach_admission(admission);

    let answered =
        with_failover(relay, &active, &candidates, guard, |target| attempt(endpoint, relay, target, &request, &lane))
            .await;
    match answered {
        Ok(mut answer) => {
            answer["model"] = Value::String(model);
            let reported = (endpoint.reported_tokens)(&answer);
            let input_tokens = reported.unwrap_or(estimate.input_tokens);
            let usage = Usage { input_tokens, ..Usage::default() };
            let mut response = (StatusCode::OK, answer.to_string()).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response.headers_mut().extend(rate_limit_headers);
            Ok((response, usage, reported.is_none()))
        }
        Err(last_failure) => Err(exhausted(&model, last_failure).0),
    }
}

/// Bytes of text to embed (token arrays count as four bytes per token).
fn embeddings_input_bytes(request: &Value) -> Result<usize, ApiError> {
    match request.get("input") {
        Some(Value::String(text)) => Ok(text.len()),
        Some(Value::Array(items)) => Ok(items
            .iter()
            .map(|item| match item {
                Value::String(text) => text.len(),
                Value::Array(tokens) => tokens.len() * 4,
                Value::Number(_) => 4,
                _ => 0,
            })
            .sum()),
        _ => Err(ApiError::invalid_field("input", "is required: a string or an array")),
    }
}

/// Most documents one rerank request may carry (Cohere's limit).
const MAX_RERANK_DOCUMENTS: usize = 1_000;

/// Bytes of the query and every document (each scored against the query, so each is input).
fn rerank_input_bytes(request: &Value) -> Result<usize, ApiError> {
    let Some(query) = request.get("query").and_then(Value::as_str).filter(|q| !q.trim().is_empty()) else {
        return Err(ApiError::invalid_field("query", "is required: a non-empty string"));
    };
    let Some(documents) = request.get("documents").and_then(Value::as_array).filter(|d| !d.is_empty()) else {
        return Err(ApiError::invalid_field("documents", "is required: a non-empty array"));
    };
    if documents.len() > MAX_RERANK_DOCUMENTS {
        return Err(ApiError::invalid_field("documents", format!("at most {MAX_RERANK_DOCUMENTS} documents")));
    }
    let mut bytes = 0;
    for document in documents {
        // A string, or an object with `text` (Jina's and Cohere's structured form).
        let text = document.as_str().or_else(|| document.get("text").and_then(Value::as_str));
        let Some(text) = text else {
            return Err(ApiError::invalid_field("documents", "each must be a string or an object with `text`"));
        };
        bytes += query.len() + text.len();
    }
    if let Some(top_n) = request.get("top_n")
        && top_n.as_u64().is_none_or(|n| n == 0)
    {
        return Err(ApiError::invalid_field("top_n", "must be a positive integer"));
    }
    Ok(bytes)
}

/// One attempt: the request with the channel's model name, to its endpoint.
async fn attempt(
    endpoint: &Endpoint,
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
            let name = endpoint.name;
            let url = format!("{base}/openai/deployments/{upstream_model}/{name}?api-version={version}");
            (url, ("api-key".to_string(), key.expose().to_string()))
        }
        _ => (format!("{base}/{}", endpoint.name), ("authorization".to_string(), format!("Bearer {}", key.expose()))),
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
