//! `POST /v1/messages` (Anthropic Messages API).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use oblivious_core::Dialect;
use oblivious_core::edge::RequestId;

use super::caller::KeyCaller;
use super::chat_entry::{ChatEntry, enter_chat};
use crate::state::Relay;

pub async fn messages(
    State(relay): State<Arc<Relay>>,
    caller: KeyCaller,
    request_id: RequestId,
    headers: HeaderMap,
    body: Body,
) -> Response {
    enter_chat(relay, caller, ChatEntry::body_only(Dialect::Anthropic), request_id, headers, body).await
}
