//! Forwarding a dyed request from a baseline pod to its service's lane version, so an Ingress
//! that knows nothing of lanes still sends lane traffic to the lane (DESIGN §5 "Lanes").
//!
//! The body was read whole before (it is small next to the answer, and keeping it lets a request
//! whose member refused the connection be served here instead). An answer of a declared length
//! (a JSON answer) is read whole too before it is passed on, so a member dying mid-answer yields a
//! clean 502 rather than a client connection left waiting on a half-forwarded body; a stream
//! (SSE) is passed on as it comes. Only a failure to *reach* the member is `Unreachable`: once
//! connected, whatever the member answers is the answer — it may have billed the request, so it is
//! never served a second time here.

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::HeaderValue;

use super::{Edge, FORWARDED_HEADER, HOP_TOKEN_HEADER};
use crate::Dialect;
use crate::error::{ApiError, ErrorKind};
use crate::telemetry::propagation::{self, TRACEPARENT};

/// Connection-level headers that describe one hop, not the request.
const HOP_BY_HOP: [&str; 8] =
    ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host"];

/// The member could not be reached (connection refused, reset before an answer, timeout).
pub struct Unreachable;

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .build()
        .unwrap_or_default()
}

pub async fn send(
    edge: &Edge,
    endpoint: &str,
    parts: &http::request::Parts,
    body: Bytes,
    dialect: Dialect,
) -> Result<Response, Unreachable> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = edge.forwarder.request(parts.method.clone(), format!("{endpoint}{path}")).body(body);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) && name != http::header::CONTENT_LENGTH && name != TRACEPARENT {
            request = request.header(name, value);
        }
    }
    // The member's span is a child of this edge's, not of the caller's.
    if let Some(trace) = propagation::outbound(parts.headers.get(TRACEPARENT)) {
        request = request.header(TRACEPARENT, trace);
    }
    if let Some(token) = edge.hops.token() {
        request = request.header(HOP_TOKEN_HEADER, token.clone());
    }
    request = request.header(FORWARDED_HEADER, HeaderValue::from_static("1"));
    let upstream = request.send().await.map_err(|error| {
        tracing::warn!(endpoint, error = %error, "lane member unreachable");
        Unreachable
    })?;
    let mut response = Response::builder().status(upstream.status());
    if let Some(headers) = response.headers_mut() {
        for (name, value) in upstream.headers() {
            if !HOP_BY_HOP.contains(&name.as_str()) && name != http::header::CONTENT_LENGTH {
                headers.append(name, value.clone());
            }
        }
    }
    let body = if upstream.content_length().is_some() {
        match upstream.bytes().await {
            Ok(bytes) => Body::from(bytes),
            Err(error) => {
                tracing::warn!(endpoint, error = %error, "lane member failed mid-answer");
                let failed = ApiError::new(ErrorKind::BadGateway, "The lane version failed while answering.")
                    .with_code("lane_member_failed");
                return Ok(failed.into_response_for(dialect));
            }
        }
    } else {
        Body::from_stream(upstream.bytes_stream())
    };
    response.body(body).map_err(|_| Unreachable)
}
