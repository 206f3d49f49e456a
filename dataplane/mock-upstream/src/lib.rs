//! A scriptable, wire-faithful fake of the OpenAI, Anthropic and Gemini HTTP APIs, for the
//! relay's tests, for `oblivious dev` (so the product answers offline) and as the "direct"
//! baseline of `oblivious bench relay`.
//!
//! Every model name gets a deterministic answer; directives on the model name
//! (`gpt-4o@words=5,ttfb=200`) or in an `x-mock` header select behaviour — latency, pacing,
//! provider errors, broken streams, missing usage, reasoning, tool calls (see [`HELP`]).

mod answer;
mod anthropic;
mod audio;
mod completions;
mod directives;
mod embeddings;
mod errors;
mod gemini;
mod images;
mod moderations;
mod openai;
mod record;
mod rerank;
mod responses;
mod streaming;
pub mod vertex;

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use audio::wav;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use directives::Directives;
pub use directives::HELP;
use errors::Provider;
use record::Recorder;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Settings of a mock server.
#[derive(Debug, Clone, Copy, Default)]
pub struct MockConfig {
    /// Keep every received request for `GET /_mock/requests` (off in benchmarks).
    pub record_requests: bool,
}

/// A mock running in the background of this process.
pub struct MockServer {
    base_url: String,
    stop: Option<oneshot::Sender<()>>,
}

impl MockServer {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Stops serving.
    pub fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a mock on `127.0.0.1:0` on the current runtime.
pub async fn spawn(config: MockConfig) -> std::io::Result<MockServer> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(error) = serve(listener, config, shutdown).await {
            tracing::warn!(%error, "mock upstream stopped");
        }
    });
    Ok(MockServer { base_url, stop: Some(stop) })
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    config: MockConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(oblivious_core::serve::without_nagle(listener), app(config)).with_graceful_shutdown(shutdown).await
}

/// The mock's routes.
pub fn app(config: MockConfig) -> Router {
    let recorder = Recorder::new(config.record_requests);
    Router::new()
        .route("/v1/chat/completions", post(openai_chat))
        .route("/v1/responses", post(openai_responses))
        .route("/v1/embeddings", post(openai_embeddings))
        .route("/v1/rerank", post(openai_rerank))
        .route("/v1/completions", post(openai_completions))
        .route("/v1/images/generations", post(openai_images))
        .route("/v1/audio/speech", post(openai_speech))
        .route("/v1/audio/transcriptions", post(openai_transcriptions).layer(DefaultBodyLimit::disable()))
        .route("/v1/audio/translations", post(openai_translations).layer(DefaultBodyLimit::disable()))
        .route("/v1/moderations", post(openai_moderations))
        .route("/_mock/images/{name}", get(images::image))
        .route("/v1/models", get(|| async { axum::Json(openai::models()) }))
        .route("/openai/deployments/{deployment}/chat/completions", post(azure_chat))
        .route("/openai/deployments/{deployment}/embeddings", post(azure_embeddings))
        .route("/openai/deployments/{deployment}/completions", post(azure_completions))
        .route("/openai/deployments/{deployment}/images/generations", post(azure_images))
        .route("/openai/deployments/{deployment}/audio/speech", post(azure_speech))
        .route(
            "/openai/deployments/{deployment}/audio/transcriptions",
            post(openai_transcriptions).layer(DefaultBodyLimit::disable()),
        )
        .route("/openai/v1/responses", post(openai_responses))
        .route("/openai/responses", post(openai_responses))
        .route("/v1/messages", post(anthropic_messages))
        .route("/v1/messages/count_tokens", post(anthropic_count_tokens))
        .route("/v1beta/models/{model_action}", post(gemini_generate))
        .route("/token", post(vertex_token))
        .route(
            "/v1/projects/{project}/locations/{location}/publishers/google/models/{model_action}",
            post(vertex_generate),
        )
        .route("/_mock/requests", get(list_requests).delete(clear_requests))
        .with_state(recorder)
}

async fn list_requests(State(recorder): State<Recorder>) -> impl IntoResponse {
    axum::Json(recorder.all())
}

async fn clear_requests(State(recorder): State<Recorder>) -> impl IntoResponse {
    recorder.clear();
    axum::http::StatusCode::NO_CONTENT
}

fn record(recorder: &Recorder, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) {
    recorder.record(method.as_str(), uri.path(), uri.query(), headers, body);
}

/// The handlers of the endpoints that take no deployment: record, then answer.
macro_rules! handlers {
    ($($handler:ident => $answer:path;)*) => {$(
        async fn $handler(State(r): State<Recorder>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
            record(&r, &method, &uri, &headers, &body);
            $answer(&headers, &body).await
        }
    )*};
}

handlers! {
    // Also Azure's `/openai/v1/responses` and `/openai/responses?api-version=…`, which name the
    // deployment as the body's `model`.
    openai_responses => responses::responses;
    openai_rerank => rerank::rerank;
    openai_moderations => moderations::moderations;
    anthropic_messages => anthropic::messages;
    anthropic_count_tokens => anthropic::count_tokens;
}

/// The handlers of the JSON endpoints that take an optional Azure deployment: record, then answer.
macro_rules! json_handlers {
    ($($openai:ident, $azure:ident => $answer:path;)*) => {$(
        async fn $openai(State(r): State<Recorder>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
            record(&r, &method, &uri, &headers, &body);
            $answer(&headers, &body, None).await
        }

        async fn $azure(
            State(r): State<Recorder>,
            Path(deployment): Path<String>,
            method: Method,
            uri: Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> Response {
            record(&r, &method, &uri, &headers, &body);
            $answer(&headers, &body, Some(&deployment)).await
        }
    )*};
}

json_handlers! {
    openai_chat, azure_chat => openai::chat;
    openai_embeddings, azure_embeddings => embeddings::embeddings;
    openai_completions, azure_completions => completions::completions;
    openai_images, azure_images => images::generations;
    openai_speech, azure_speech => audio::speech;
}

/// Recorded with the form summarized as JSON (the file by name, type and size).
async fn openai_transcriptions(State(r): State<Recorder>, uri: Uri, headers: HeaderMap, form: Multipart) -> Response {
    audio::transcription(&r, uri.path(), &headers, form, false).await
}

async fn openai_translations(State(r): State<Recorder>, uri: Uri, headers: HeaderMap, form: Multipart) -> Response {
    audio::transcription(&r, uri.path(), &headers, form, true).await
}

/// The model and method of a Gemini or Vertex `models/{model}:{method}` path, and whether the
/// answer is asked for as SSE (`alt=sse`); `None` for a path without a method.
fn gemini_call<'a>(model_action: &'a str, query: &HashMap<String, String>) -> Option<(&'a str, &'a str, bool)> {
    let (model, action) = model_action.rsplit_once(':')?;
    Some((model, action, query.get("alt").is_some_and(|alt| alt == "sse")))
}

fn no_method() -> Response {
    errors::bad_request(Provider::Gemini, "Expected models/{model}:{method}").into_response()
}

async fn gemini_generate(
    State(r): State<Recorder>,
    Path(model_action): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&r, &method, &uri, &headers, &body);
    let Some((model, action, sse)) = gemini_call(&model_action, &query) else { return no_method() };
    gemini::generate(&headers, &body, model, action, query.get("key").map(String::as_str), sse).await
}

async fn vertex_token(
    State(r): State<Recorder>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The form body is not JSON: record it as a string so tests can read the assertion.
    r.record(method.as_str(), uri.path(), Some(&String::from_utf8_lossy(&body)), &headers, b"");
    vertex::token(&body)
}

async fn vertex_generate(
    State(r): State<Recorder>,
    Path((_project, _location, model_action)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&r, &method, &uri, &headers, &body);
    let Some((model, action, sse)) = gemini_call(&model_action, &query) else { return no_method() };
    vertex::generate(&headers, &body, model, action, sse).await
}

/// What every call does first: check the key, read the directives, wait `ttfb`, and answer a
/// scripted error when one was asked for. `Ok` carries the directives for the answer itself.
pub(crate) async fn prelude(
    provider: Provider,
    key: Option<&str>,
    model: &str,
    headers: &HeaderMap,
) -> Result<Directives, Response> {
    let key = key.map(str::trim).filter(|k| !k.is_empty());
    if key.is_none_or(|k| k.starts_with("bad-")) {
        return Err(errors::unauthenticated(provider, key).into_response());
    }
    let header = headers.get("x-mock").and_then(|v| v.to_str().ok());
    let directives =
        Directives::parse(model, header).map_err(|reason| errors::bad_request(provider, &reason).into_response())?;
    if directives.ttfb_ms > 0 {
        tokio::time::sleep(Duration::from_millis(directives.ttfb_ms)).await;
    }
    if let Some(kind) = directives.error {
        return Err(errors::for_kind(provider, kind).into_response());
    }
    if let Some(status) = directives.status {
        return Err(errors::for_status(provider, status).into_response());
    }
    Ok(directives)
}

/// Unix seconds, for OpenAI's `created`.
pub(crate) fn created_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
