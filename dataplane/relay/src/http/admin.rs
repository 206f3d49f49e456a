//! `GET /api/v1/admin/logs`: request records, newest first, for admin keys only. Product API
//! errors use one shape: `{"error": {"code", "message"}}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oblivious_store::RequestLogFilter;
use serde_json::json;

use crate::state::Relay;

fn product_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

pub async fn list_logs(
    State(relay): State<Arc<Relay>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let principal = match relay.keys.authenticate(&headers, None).await {
        Ok(p) => p,
        Err(e) => return product_error(e.status(), "unauthenticated", &e.message),
    };
    if !principal.is_admin {
        return product_error(StatusCode::FORBIDDEN, "forbidden", "This endpoint needs an admin key.");
    }
    let parse_i64 = |name: &str| query.get(name).and_then(|v| v.parse::<i64>().ok());
    let filter = RequestLogFilter {
        limit: query.get("limit").and_then(|v| v.parse().ok()).unwrap_or(100),
        key_id: query.get("key_id").and_then(|v| v.parse().ok()),
        model: query.get("model").cloned(),
        before: parse_i64("before"),
        user_id: query.get("user_id").and_then(|v| v.parse().ok()),
    };
    match relay.store.list_request_logs(&filter).await {
        Ok(rows) => Json(json!({ "data": rows })).into_response(),
        Err(error) => {
            tracing::error!(%error, "listing request logs failed");
            product_error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", "The log store is unavailable.")
        }
    }
}
