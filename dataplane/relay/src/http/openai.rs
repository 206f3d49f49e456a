//! `POST /v1/chat/completions` and the OpenAI-shaped 404 for unknown routes.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oblivious_core::edge::RequestId;
use oblivious_core::{ApiError, Dialect, ErrorKind};

use super::caller::KeyCaller;
use super::chat_entry::{ChatEntry, enter_chat};
use crate::state::Relay;

pub async fn chat_completions(
    State(relay): State<Arc<Relay>>,
    caller: KeyCaller,
    request_id: RequestId,
    headers: HeaderMap,
    body: Body,
) -> Response {
    enter_chat(relay, caller, ChatEntry::body_only(Dialect::OpenAi), request_id, headers, body).await
}

pub async fn not_found() -> Response {
    ApiError::new(ErrorKind::NotFound, "Unknown endpoint.")
        .with_code("unknown_url")
        .into_response_for(Dialect::OpenAi)
        .into_response()
}
