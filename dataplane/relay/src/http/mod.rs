//! The relay's HTTP surface: one router for the OpenAI (Chat Completions and Responses, and the
//! pass-through endpoints of `endpoints`: embeddings, rerank, legacy completions, images, audio,
//! moderations), Anthropic and Gemini endpoints, health and metrics (the product API, admin
//! included, is the gateway's). `app` is separate from serving so tests can drive it directly.

mod anthropic;
mod caller;
mod chat_entry;
mod count_tokens;
mod endpoints;
mod gemini;
mod models;
mod openai;
mod probes;
mod responses;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::{get, post};

use crate::state::Relay;

pub use openai::not_found;

/// All routes of a relay.
pub fn app(relay: Arc<Relay>) -> Router {
    probe_routes()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/completions", post(endpoints::completions))
        .route("/v1/embeddings", post(endpoints::embeddings))
        .route("/v1/rerank", post(endpoints::rerank))
        .route("/v1/images/generations", post(endpoints::image_generations))
        .route("/v1/audio/speech", post(endpoints::speech))
        .route("/v1/audio/transcriptions", post(endpoints::transcriptions))
        .route("/v1/audio/translations", post(endpoints::translations))
        .route("/v1/moderations", post(endpoints::moderations))
        .route("/v1/models", get(models::list_models))
        .route("/v1/models/{model}", get(models::get_model))
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(count_tokens::count_tokens))
        .route("/v1/responses", post(responses::create))
        .route("/v1/responses/{id}", get(responses::get).delete(responses::delete))
        .route("/v1/responses/{id}/input_items", get(responses::input_items))
        .route("/v1beta/models", get(models::list_gemini_models))
        .route("/v1beta/models/{model_action}", post(gemini::generate).get(models::get_gemini_model))
        .fallback(openai::not_found)
        .with_state(relay)
}

/// Only the probes and metrics: for processes that serve other roles (gateway, chat) but hold
/// the same configuration and store.
pub fn probes_router(relay: Arc<Relay>) -> Router {
    probe_routes().with_state(relay)
}

fn probe_routes() -> Router<Arc<Relay>> {
    Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(probes::metrics))
}

/// Adds the request id header every relay answer carries.
pub(crate) fn with_request_id(mut response: Response, request_id: uuid::Uuid) -> Response {
    if let Ok(value) = HeaderValue::from_str(&request_id.to_string()) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
