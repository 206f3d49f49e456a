//! The shared front half of every chat endpoint: read the authenticated caller's body under the
//! limit, parse it in the endpoint's dialect, then hand over to `chat::serve_chat`. Every early
//! rejection is recorded too, so the request log sees bad requests as well.

use std::sync::Arc;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::Response;
use oblivious_core::Dialect;
use oblivious_core::edge::{RequestId, read_limited};
use oblivious_core::lane::LaneContext;

use super::caller::KeyCaller;
use super::with_request_id;
use crate::chat::{ChatCall, serve_chat};
use crate::dialect::{self, IngressHints};
use crate::finalize::RecordGuard;
use crate::request_log::RequestRecord;
use crate::state::Relay;

/// Which endpoint a chat request came in through.
pub struct ChatEntry<'a> {
    pub dialect: Dialect,
    pub hints: IngressHints<'a>,
    pub gemini_json_array: bool,
}

impl ChatEntry<'static> {
    /// An endpoint whose request says everything in its body (model, streaming): OpenAI's and
    /// Anthropic's.
    pub fn body_only(dialect: Dialect) -> Self {
        ChatEntry { dialect, hints: IngressHints::default(), gemini_json_array: false }
    }
}

/// `request_id` is the edge's: a fresh one for a client, the caller's for a trusted hop (chat
/// names its reply's id, so the reply and its charge share it).
pub async fn enter_chat(
    relay: Arc<Relay>,
    KeyCaller { principal, .. }: KeyCaller,
    entry: ChatEntry<'_>,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let record = RequestRecord::with_id(request_id, entry.dialect.as_str(), "chat");
    let mut guard = RecordGuard::new(relay.clone(), record);
    let lane = LaneContext::from_headers(&headers);
    guard.record().note_lane(&lane);
    if let Some(model) = entry.hints.model_from_path {
        guard.record().model = model.to_string();
    }

    guard.record().note_caller(&principal);
    let early_error = |guard: RecordGuard, error| with_request_id(guard.fail(error, entry.dialect), request_id);
    let bytes = match read_limited(body, relay.config.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => return early_error(guard, error),
    };
    let parsed = match entry.dialect {
        Dialect::Responses => super::responses::parse(&relay, &principal, &bytes).await,
        _ => dialect::parse_request(entry.dialect, &bytes, entry.hints).map(|request| (request, None)),
    };
    let (mut request, keeper) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return early_error(guard, error),
    };
    if let Some(original) = request.original.as_mut() {
        original.headers = dialect::forwarded_client_headers(entry.dialect, &headers);
    }
    let call = ChatCall {
        dialect: entry.dialect,
        principal,
        lane,
        request,
        guard,
        gemini_json_array: entry.gemini_json_array,
        keeper,
    };
    with_request_id(serve_chat(relay, call).await, request_id)
}
