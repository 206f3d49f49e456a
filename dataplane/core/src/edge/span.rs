//! The span of one request at this hop: the parent of everything the hop does for it, joined to a
//! trusted caller's trace. Its fields follow the OpenTelemetry HTTP server conventions; every log
//! line written inside it carries its `request_id` and `trace_id`.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use tracing::Span;
use tracing::field::Empty;
use uuid::Uuid;

use crate::telemetry::propagation::{self, TRACEPARENT, TRACESTATE, TraceParent};

pub(super) fn request_span(parts: &http::request::Parts, request_id: Uuid, tenant: &str) -> Span {
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        trace_id = Empty,
        oblivious.lane = Empty,
        otel.name = Empty,
        otel.kind = Empty,
        otel.status_code = Empty,
        http.request.method = Empty,
        url.path = Empty,
        http.route = Empty,
        http.response.status_code = Empty,
        oblivious.tenant = Empty,
    );
    // Attributes only a trace has a use for are left empty otherwise: log lines need the ids,
    // and every recorded field is formatted into each request's log context.
    if crate::telemetry::exporting() {
        span.record("otel.name", parts.method.as_str());
        span.record("otel.kind", "server");
        span.record("http.request.method", parts.method.as_str());
        span.record("url.path", parts.uri.path());
        span.record("oblivious.tenant", tenant);
    }
    span
}

/// Joins `span` to the trace context in `headers` (present only when a trusted hop sent it) and
/// records the trace id. A request without one gets, in a process that exports nothing, a
/// context named by its request id, so the next hop logs the same trace id.
pub(super) fn join_trace(span: &Span, headers: &mut HeaderMap, request_id: Uuid) {
    let parent = TraceParent::from_headers(headers);
    let state = headers.get(TRACESTATE).and_then(|v| v.to_str().ok());
    span.record("trace_id", propagation::adopt(span, parent, state, request_id));
    if parent.is_none() {
        headers.remove(TRACEPARENT);
        headers.remove(TRACESTATE);
        if !crate::telemetry::exporting() {
            headers.insert(TRACEPARENT, TraceParent::started_for(request_id).header_value());
        }
    }
}

pub(super) fn record_status(span: &Span, status: StatusCode) {
    if !crate::telemetry::exporting() {
        return;
    }
    span.record("http.response.status_code", status.as_u16());
    // A server span is an error only for 5xx: a 4xx is the client's mistake, answered correctly.
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
}

/// Names the request's span by its route template (`POST /api/v1/chat/sessions/{id}`), which the
/// edge cannot know: mount it with `Router::route_layer` over every role's routes.
pub async fn record_route(request: Request, next: Next) -> Response {
    if crate::telemetry::exporting()
        && let Some(route) = request.extensions().get::<MatchedPath>()
    {
        let span = Span::current();
        span.record("http.route", route.as_str());
        span.record("otel.name", format!("{} {}", request.method(), route.as_str()));
    }
    next.run(request).await
}
