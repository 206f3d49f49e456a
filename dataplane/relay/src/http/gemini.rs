//! `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent` (Gemini API).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use oblivious_core::edge::RequestId;
use oblivious_core::{ApiError, Dialect, ErrorKind};

use super::caller::KeyCaller;
use super::chat_entry::{ChatEntry, enter_chat};
use crate::dialect::IngressHints;
use crate::state::Relay;

pub async fn generate(
    State(relay): State<Arc<Relay>>,
    Path(model_action): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    caller: KeyCaller,
    request_id: RequestId,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some((model, action)) = model_action.rsplit_once(':') else {
        return unknown_method(&model_action);
    };
    let stream = match action {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => return unknown_method(&model_action),
    };
    let hints = IngressHints { model_from_path: Some(model), stream_from_path: stream };
    let sse = query.get("alt").is_some_and(|alt| alt == "sse");
    let entry = ChatEntry { dialect: Dialect::Gemini, hints, gemini_json_array: stream && !sse };
    enter_chat(relay, caller, entry, request_id, headers, body).await
}

fn unknown_method(path: &str) -> Response {
    ApiError::new(
        ErrorKind::NotFound,
        format!("Method `{path}` is not supported; use :generateContent or :streamGenerateContent."),
    )
    .into_response_for(Dialect::Gemini)
}
