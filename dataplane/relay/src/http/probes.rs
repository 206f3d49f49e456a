//! Liveness, readiness and metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::Relay;

/// Alive: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready: not shutting down, a configuration is installed (naming this pod's lane, for a lane
/// version) and the store answers.
pub async fn readyz(State(relay): State<Arc<Relay>>) -> Response {
    if relay.runtime.lifecycle.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    if !relay.runtime.is_loaded() {
        return (StatusCode::SERVICE_UNAVAILABLE, "no configuration loaded").into_response();
    }
    if !relay.runtime.lane_is_live() {
        return (StatusCode::SERVICE_UNAVAILABLE, "this pod's lane is not in the configuration").into_response();
    }
    if let Err(error) = relay.runtime.store.ping().await {
        tracing::warn!(%error, "readiness: store unreachable");
        return (StatusCode::SERVICE_UNAVAILABLE, "store unreachable").into_response();
    }
    if let Err(error) = relay.billing.shared().ping().await {
        tracing::warn!(%error, "readiness: redis unreachable");
        return (StatusCode::SERVICE_UNAVAILABLE, "redis unreachable").into_response();
    }
    "ready".into_response()
}

pub async fn metrics(State(relay): State<Arc<Relay>>) -> Response {
    relay.metrics.logs_dropped.set(i64::try_from(relay.logs.dropped()).unwrap_or(i64::MAX));
    relay.metrics.billing_pending_charges.set(i64::try_from(relay.billing.settler.pending()).unwrap_or(i64::MAX));
    let mut response = relay.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
