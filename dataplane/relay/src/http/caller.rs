//! The caller of a `/v1` route: its API key authenticated through an extractor, so a handler
//! cannot run without one. A refused credential is answered in the route's dialect and still
//! leaves a request record (a stream of 401s in the log is how key scanning shows up).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Query};
use axum::http::Method;
use axum::http::request::Parts;
use axum::response::Response;
use oblivious_core::Dialect;
use oblivious_core::edge::RequestId;
use oblivious_core::lane::LaneContext;
use oblivious_runtime::Principal;
use tracing::Instrument;

use super::with_request_id;
use crate::finalize::RecordGuard;
use crate::request_log::RequestRecord;
use crate::state::Relay;

/// An authenticated `/v1` caller and the dialect its answers are given in.
pub struct KeyCaller {
    pub principal: Principal,
    pub dialect: Dialect,
}

impl FromRequestParts<Arc<Relay>> for KeyCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, relay: &Arc<Relay>) -> Result<Self, Response> {
        let dialect = Dialect::of_request(parts.uri.path(), &parts.headers);
        // Gemini clients may put the key in the query (`?key=`), and only they.
        let query: Option<Query<HashMap<String, String>>> =
            (dialect == Dialect::Gemini).then(|| Query::try_from_uri(&parts.uri).ok()).flatten();
        let query_key = query.as_ref().and_then(|q| q.get("key")).map(String::as_str);
        let authenticating = tracing::info_span!("authenticate", oblivious.credential = "api_key");
        match relay.runtime.keys.authenticate(&parts.headers, query_key).instrument(authenticating).await {
            Ok(principal) => Ok(KeyCaller { principal, dialect }),
            Err(error) => {
                let RequestId(request_id) =
                    RequestId::from_request_parts(parts, relay).await.unwrap_or_else(|e| match e {});
                let mut record = RequestRecord::with_id(request_id, dialect.as_str(), endpoint_of(parts));
                record.note_lane(&LaneContext::from_headers(&parts.headers));
                Err(with_request_id(RecordGuard::new(relay.clone(), record).fail(error, dialect), request_id))
            }
        }
    }
}

/// The request-log endpoint name of a `/v1` route.
fn endpoint_of(parts: &Parts) -> &'static str {
    let path = parts.uri.path();
    if let Some(endpoint) = super::endpoints::endpoint_name(path) {
        endpoint
    } else if path.starts_with("/v1/messages/count_tokens") {
        "count_tokens"
    } else if path.starts_with("/v1/responses") && parts.method != Method::POST {
        "responses"
    } else if parts.method == Method::GET {
        "models"
    } else {
        "chat"
    }
}
