//! The shared front half of every chat endpoint: authenticate, read the body under the limit,
//! parse it in the endpoint's dialect, then hand over to `chat::serve_chat`. Every early
//! rejection is recorded too, so the request log sees bad requests as well.

use std::sync::Arc;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::Response;
use oblivious_core::Dialect;
use oblivious_core::lane::LaneContext;

use super::body::read_limited;
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
    /// Gemini's `?key=`.
    pub query_key: Option<&'a str>,
    pub gemini_json_array: bool,
}

pub async fn enter_chat(relay: Arc<Relay>, entry: ChatEntry<'_>, headers: HeaderMap, body: Body) -> Response {
    let record = RequestRecord::new(entry.dialect.as_str(), "chat");
    let mut guard = RecordGuard::new(relay.clone(), record);
    let lane = LaneContext::from_headers(&headers);
    guard.record().lane = lane.tag().map(str::to_string);
    if let Some(model) = entry.hints.model_from_path {
        guard.record().model = model.to_string();
    }

    let early_error = |mut guard: RecordGuard, error: oblivious_core::ApiError| {
        let request_id = guard.record().id;
        let status = error.status().as_u16();
        let class = error.code.clone().unwrap_or_else(|| error.kind.as_str().to_string());
        let response = error.into_response_for(entry.dialect);
        guard.finish(status, Some(&class));
        with_request_id(response, request_id)
    };

    let principal = match relay.keys.authenticate(&headers, entry.query_key).await {
        Ok(principal) => principal,
        Err(error) => return early_error(guard, error),
    };
    if let Some(chosen) = internal_request_id(&principal, &headers) {
        guard.record().id = chosen;
    }
    guard.record().key_id = principal.key_id;
    guard.record().key_prefix = principal.key_prefix.clone();
    let bytes = match read_limited(body, relay.config.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => return early_error(guard, error),
    };
    let request = match dialect::parse_request(entry.dialect, &bytes, entry.hints) {
        Ok(request) => request,
        Err(error) => return early_error(guard, error),
    };
    let request_id = guard.record().id;
    let call = ChatCall {
        dialect: entry.dialect,
        principal,
        lane,
        request,
        guard,
        gemini_json_array: entry.gemini_json_array,
    };
    with_request_id(serve_chat(relay, call).await, request_id)
}

/// The request id an internal service chose (`REQUEST_ID_HEADER`), for it only.
fn internal_request_id(principal: &crate::auth::Principal, headers: &HeaderMap) -> Option<uuid::Uuid> {
    if !principal.internal {
        return None;
    }
    let value = headers.get(crate::auth::REQUEST_ID_HEADER)?.to_str().ok()?;
    uuid::Uuid::parse_str(value.trim()).ok()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;
    use crate::auth::{Principal, REQUEST_ID_HEADER};

    #[test]
    fn only_internal_services_choose_their_request_id() {
        let id = uuid::Uuid::now_v7();
        let mut headers = HeaderMap::new();
        headers
            .insert(REQUEST_ID_HEADER, HeaderValue::from_str(&id.to_string()).unwrap_or(HeaderValue::from_static("")));
        let client = Principal::bootstrap("sk");
        assert_eq!(internal_request_id(&client, &headers), None, "a client cannot pick ledger keys");
        let service = Principal { internal: true, ..Principal::bootstrap("internal") };
        assert_eq!(internal_request_id(&service, &headers), Some(id));
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_static("not-an-id"));
        assert_eq!(internal_request_id(&service, &headers), None);
    }
}
