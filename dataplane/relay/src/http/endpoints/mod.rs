//! The endpoints the relay passes through to OpenAI-family channels (`openai`, `azure-openai`,
//! `openai-compatible`; other channels serving the model are skipped), with the routing,
//! failover (`failover::with_failover`), billing and request log chat has. One mechanism serves
//! them all; an [`Endpoint`] says only how its request arrives (JSON or a multipart upload), what
//! its fields must be and what it may cost (`check`), and how its usage is measured (`measure`):
//!
//! | route                                       | module        | billed by                                        |
//! |---------------------------------------------|---------------|--------------------------------------------------|
//! | `/v1/embeddings`                            | `embeddings`  | input tokens                                     |
//! | `/v1/rerank`                                | `rerank`      | input tokens, search units                       |
//! | `/v1/completions` (legacy, streams too)     | `completions` | input and output tokens, like chat               |
//! | `/v1/images/generations`                    | `images`      | images by size/quality, plus tokens if reported  |
//! | `/v1/audio/speech`                          | `audio`       | characters of input                              |
//! | `/v1/audio/transcriptions`, `/translations` | `audio`       | seconds of audio, plus tokens if reported        |
//! | `/v1/moderations`                           | `moderations` | input tokens counted locally (OpenAI's are free) |
//!
//! Each request is checked before any channel is tried (400/404/413 in OpenAI's error shape,
//! naming the field), the model swapped for the channel's, and the answer given back as the
//! upstream wrote it (`answer`): a whole body (JSON with the public model name, or a transcript's
//! text), an SSE stream, or bytes (speech audio) — streams are peeked inside the attempt, so a
//! failing channel fails over before the client sees a byte.

mod answer;
mod audio;
mod completions;
mod embeddings;
mod images;
mod moderations;
mod multipart;
mod rerank;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::Response;
use oblivious_config::Provider;
use oblivious_core::edge::{RequestId, read_limited};
use oblivious_core::lane::LaneContext;
use oblivious_core::{ApiError, Dialect};
use oblivious_runtime::routing::Candidate;
use oblivious_runtime::{ActiveConfig, Principal};
use serde_json::Value;

use self::answer::Upstreamed;
use self::multipart::Form;
use super::caller::KeyCaller;
use super::with_request_id;
use crate::billing::{Estimate, Units};
use crate::dialect::{UpstreamFailure, provider_dialect};
use crate::failover::{Attempt, candidates_for, exhausted, with_failover};
use crate::finalize::RecordGuard;
use crate::ir::Usage;
use crate::request_log::RequestRecord;
use crate::state::Relay;
use crate::upstream;

/// How an endpoint's request body arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    /// `multipart/form-data` with a file (`multipart.rs` for its caps).
    Multipart,
}

/// A request as received.
enum Request {
    /// A JSON object.
    Json(serde_json::Map<String, Value>),
    Form(Form),
}

impl Request {
    fn json(&self) -> Option<&serde_json::Map<String, Value>> {
        match self {
            Request::Json(json) => Some(json),
            Request::Form(_) => None,
        }
    }

    fn form(&self) -> Option<&Form> {
        match self {
            Request::Form(form) => Some(form),
            Request::Json(_) => None,
        }
    }

    /// The `model` the request names: None when it names none, a 400 when it is not a string.
    fn model(&self) -> Result<Option<String>, ApiError> {
        let model = match self {
            Request::Json(json) => match json.get("model") {
                None | Some(Value::Null) => None,
                Some(Value::String(model)) => Some(model.clone()),
                Some(_) => return Err(ApiError::invalid_field("model", "must be a string")),
            },
            Request::Form(form) => form.text("model").map(str::to_string),
        };
        match model.map(|m| m.trim().to_string()) {
            Some(model) if model.is_empty() => Err(ApiError::invalid_field("model", "must not be empty")),
            model => Ok(model),
        }
    }
}

/// How an answer comes back to the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum AnswerKind {
    /// One JSON body, read whole; the `model` it names becomes the public one. A body that is
    /// not JSON is a malformed answer (the next channel is tried).
    #[default]
    Json,
    /// One body read whole and given back as the upstream wrote it, with its content type (a
    /// transcript as text, SRT or VTT); measured as JSON when it is JSON.
    Text,
    /// An SSE stream (`stream: true`), relayed event by event.
    Events,
    /// A byte stream (speech audio), relayed as it comes with the upstream's content type.
    Bytes,
}

/// What checking a request found: its worst case and what measuring its answer needs.
#[derive(Debug, Clone, Default)]
struct Plan {
    /// The most the request may use, for its quota hold.
    estimate: Estimate,
    answer: AnswerKind,
    /// What the request says it uses of what is billed by the unit (speech characters, the
    /// size and quality of images asked for, a rerank's searches).
    units: Units,
    /// Text whose tokens are counted locally when the upstream reports none.
    prompt: String,
    /// Tokens of the prompt given as token ids (a legacy completion's), counted exactly.
    prompt_token_ids: u64,
    /// The client asked for a stream's usage chunk (`stream_options.include_usage`).
    include_usage: bool,
}

/// What an answer used, and whether any of it is our estimate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Measured {
    usage: Usage,
    units: Units,
    estimated: bool,
}

/// An answer as measured.
enum Answered<'a> {
    /// A whole answer that is JSON.
    Json(&'a Value),
    /// A whole answer that is not JSON (a transcript as text, SRT or VTT).
    Text(&'a str),
    /// A relayed stream: the last usage it reported and the text it carried.
    Stream { usage: Option<Usage>, output: &'a str },
}

/// One pass-through endpoint.
struct Endpoint {
    /// The request log's endpoint.
    name: &'static str,
    /// The upstream path below the channel's base URL.
    path: &'static str,
    body: BodyKind,
    /// The model OpenAI documents for requests that name none (moderations, images).
    default_model: Option<&'static str>,
    /// Checks the endpoint's own fields (400 naming the field) and plans the request.
    check: fn(&Request) -> Result<Plan, ApiError>,
    /// What an answer used.
    measure: fn(&Plan, Answered<'_>) -> Measured,
}

macro_rules! handlers {
    ($($handler:ident => $endpoint:expr),* $(,)?) => {$(
        pub async fn $handler(
            State(relay): State<Arc<Relay>>,
            caller: KeyCaller,
            request_id: RequestId,
            request: axum::extract::Request,
        ) -> Response {
            serve(&$endpoint, relay, caller, request_id, request).await
        }
    )*};
}

handlers! {
    embeddings => embeddings::EMBEDDINGS,
    rerank => rerank::RERANK,
    completions => completions::COMPLETIONS,
    image_generations => images::GENERATIONS,
    speech => audio::SPEECH,
    transcriptions => audio::TRANSCRIPTIONS,
    translations => audio::TRANSLATIONS,
    moderations => moderations::MODERATIONS,
}

/// The request-log endpoint name of a path this module serves.
pub(super) fn endpoint_name(path: &str) -> Option<&'static str> {
    let endpoints = [
        (&embeddings::EMBEDDINGS, "/v1/embeddings"),
        (&rerank::RERANK, "/v1/rerank"),
        (&completions::COMPLETIONS, "/v1/completions"),
        (&images::GENERATIONS, "/v1/images/generations"),
        (&audio::SPEECH, "/v1/audio/speech"),
        (&audio::TRANSCRIPTIONS, "/v1/audio/transcriptions"),
        (&audio::TRANSLATIONS, "/v1/audio/translations"),
        (&moderations::MODERATIONS, "/v1/moderations"),
    ];
    endpoints.iter().find(|(_, route)| path.starts_with(route)).map(|(endpoint, _)| endpoint.name)
}

async fn serve(
    endpoint: &'static Endpoint,
    relay: Arc<Relay>,
    KeyCaller { principal, .. }: KeyCaller,
    RequestId(request_id): RequestId,
    request: axum::extract::Request,
) -> Response {
    let record = RequestRecord::with_id(request_id, "openai", endpoint.name);
    let mut guard = RecordGuard::new(relay.clone(), record);
    guard.record().note_caller(&principal);
    let lane = LaneContext::from_headers(request.headers());
    guard.record().note_lane(&lane);
    let response = match read_request(endpoint, &relay, request).await {
        Ok(checked) => {
            let record = guard.record();
            record.model = checked.model.clone();
            record.stream = checked.plan.answer == AnswerKind::Events;
            forward(endpoint, &relay, &principal, checked, guard, &lane).await
        }
        Err(error) => guard.fail(error, Dialect::OpenAi),
    };
    with_request_id(response, request_id)
}

/// A request that passed its endpoint's checks.
struct Checked {
    request: Request,
    model: String,
    plan: Plan,
}

/// Reads the body under its limits and checks it, before any channel is tried.
async fn read_request(
    endpoint: &Endpoint,
    relay: &Relay,
    request: axum::extract::Request,
) -> Result<Checked, ApiError> {
    let request = match endpoint.body {
        BodyKind::Json => {
            let bytes = read_limited(request.into_body(), relay.config.max_body_bytes).await?;
            match serde_json::from_slice(&bytes) {
                Ok(Value::Object(json)) => Request::Json(json),
                Ok(_) => return Err(ApiError::invalid_request("The request body must be a JSON object.")),
                Err(e) => return Err(ApiError::invalid_request(format!("Request body is not valid JSON: {e}"))),
            }
        }
        BodyKind::Multipart => Request::Form(multipart::read(request, relay.config.max_body_bytes).await?),
    };
    let model = match (request.model()?, endpoint.default_model) {
        (Some(model), _) => model,
        (None, Some(default)) => default.to_string(),
        (None, None) => return Err(ApiError::invalid_field("model", "is required and must be a string")),
    };
    let plan = (endpoint.check)(&request)?;
    Ok(Checked { request, model, plan })
}

/// Routes, admits and answers a checked request; every way it ends is recorded by `guard`.
async fn forward(
    endpoint: &'static Endpoint,
    relay: &Arc<Relay>,
    principal: &Principal,
    checked: Checked,
    mut guard: RecordGuard,
    lane: &LaneContext,
) -> Response {
    let Checked { request, model, plan } = checked;
    let active = relay.runtime.active();
    let candidates = match openai_family_candidates(&active, principal, &model, lane) {
        Ok(candidates) => candidates,
        Err(error) => return guard.fail(error, Dialect::OpenAi),
    };
    let request_id = guard.record().id;
    let admitted = relay.billing.admit(principal, &model, plan.estimate.clone(), &active.snapshot, request_id).await;
    let admission = match admitted {
        Ok(admission) => admission,
        Err(error) => {
            relay.metrics.count_refusal(&error);
            return guard.fail(error, Dialect::OpenAi);
        }
    };
    let rate_limit_headers = admission.headers.clone();
    guard.attach_admission(admission);

    let answered = with_failover(relay, &active, &candidates, &mut guard, |target| {
        attempt(endpoint, relay, target, &request, &plan, lane)
    })
    .await;
    let mut response = match answered {
        Ok(upstreamed) => answer::respond(endpoint, relay, guard, plan, &model, upstreamed),
        Err(last_failure) => {
            let (error, class) = exhausted(&model, last_failure);
            let status = error.status().as_u16();
            let response = error.into_response_for(Dialect::OpenAi);
            guard.finish(status, Some(&class));
            response
        }
    };
    response.headers_mut().extend(rate_limit_headers);
    response
}

/// The channels that may serve `model` and speak OpenAI's protocol, or the 404.
fn openai_family_candidates<'a>(
    active: &'a ActiveConfig,
    principal: &Principal,
    model: &str,
    lane: &LaneContext,
) -> Result<Vec<&'a Candidate>, ApiError> {
    let candidates: Vec<_> = candidates_for(active, principal, model, lane)?
        .into_iter()
        .filter(|c| provider_dialect(active.snapshot.channels[c.channel].provider) == Dialect::OpenAi)
        .collect();
    if candidates.is_empty() {
        return Err(ApiError::model_not_found(model));
    }
    Ok(candidates)
}

/// One attempt: the request with the channel's model name, to the endpoint's path, answered up
/// to its first byte (whole answers are read whole).
async fn attempt(
    endpoint: &Endpoint,
    relay: &Relay,
    target: Attempt<'_>,
    request: &Request,
    plan: &Plan,
    lane: &LaneContext,
) -> Result<Upstreamed, UpstreamFailure> {
    let Attempt { channel, candidate, key, base_url: base } = target;
    let upstream_model = candidate.upstream_model.as_str();
    let (url, auth) = match channel.provider {
        Provider::AzureOpenai => {
            let version = channel.api_version.as_deref().unwrap_or("2024-10-21");
            let path = endpoint.path;
            let url = format!("{base}/openai/deployments/{upstream_model}/{path}?api-version={version}");
            (url, ("api-key".to_string(), key.expose().to_string()))
        }
        _ => (format!("{base}/{}", endpoint.path), ("authorization".to_string(), format!("Bearer {}", key.expose()))),
    };
    let mut headers = vec![auth];
    headers.extend(channel.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
    let client = relay.client_for(channel);
    let builder = match request {
        Request::Json(json) => {
            let mut body = json.clone();
            body.insert("model".into(), Value::String(upstream_model.to_string()));
            // Streams always ask for usage (chat's rule); the client sees it only if it asked.
            if plan.answer == AnswerKind::Events {
                if channel.quirks.rejects_stream_options {
                    body.remove("stream_options");
                } else {
                    body.insert("stream_options".into(), serde_json::json!({"include_usage": true}));
                }
            }
            client.post(&url).json(&body)
        }
        Request::Form(form) => {
            let boundary = format!("oblivious-{}", uuid::Uuid::now_v7().simple());
            client
                .post(&url)
                .header(header::CONTENT_TYPE.as_str(), format!("multipart/form-data; boundary={boundary}"))
                .body(form.encode(&boundary, upstream_model))
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_millis(channel.timeouts.first_byte_ms);
    let response = upstream::send_built(builder, channel, &headers, lane, deadline).await?;
    answer::receive(channel, plan.answer, response, deadline).await
}
