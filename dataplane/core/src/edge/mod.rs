//! The edge layer: one middleware every role mounts in front of all its routes (DESIGN §5).
//!
//! For a request from outside (no valid hop token) it:
//! - strips the headers only trusted hops may set (`TRUSTED_HEADERS`), and a client-sent lane tag
//!   unless the caller may pick a lane (admin keys, `laneSelect`) and names a live lane;
//! - gives the request a fresh UUIDv7 `x-request-id`;
//! - dyes it from the snapshot's lanes (`lane::rules`), setting `x-oblivious-lane` and `baggage`.
//!
//! A request from another data-plane hop (carrying `x-oblivious-hop-token`) keeps its request id,
//! lane and identity headers: it was edged where it entered.
//!
//! Every request gets a span (`span`): the parent of everything this hop does for it, joined to
//! a trusted hop's trace context and open until the answer's body ends.
//!
//! For every request it then appends this hop to the request's `x-oblivious-route` (the path so
//! far, which the relay records), counts it in flight, refuses a declared body over the limit (413
//! in the caller's dialect), forwards a dyed request to this service's lane version when this pod
//! is not it (`forward`), and stamps the answer with `x-request-id` and this hop prepended to the
//! answer's `x-oblivious-route` (the path from here on).

mod forward;
mod hops;
mod in_flight;
mod span;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use oblivious_config::health::RequestCounters;
use prometheus_client::metrics::gauge::Gauge;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::Instrument;
use uuid::Uuid;

use crate::Dialect;
use crate::error::{ApiError, ErrorKind};
use crate::lane::route::NextHop;
use crate::lane::rules::{LaneInput, LaneTable};
use crate::lane::{BAGGAGE_HEADER, LANE_HEADER};
use crate::telemetry::propagation::{TRACEPARENT, TRACESTATE};

pub use hops::{HopError, Hops};
pub use in_flight::InFlight;
pub use span::record_route;

/// The request id of every request and answer.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The hops a request went through, outermost first: `role=lane@instance, …`.
pub const ROUTE_HEADER: &str = "x-oblivious-route";
/// Proof that a request comes from another data-plane hop: `OBLIVIOUS_INTERNAL_TOKEN`.
pub const HOP_TOKEN_HEADER: &str = "x-oblivious-hop-token";
/// Set on a request one edge forwarded to a lane version, so it is never forwarded again.
pub const FORWARDED_HEADER: &str = "x-oblivious-forwarded";
/// The user an internal service acts for (honoured by the relay with the internal token only).
pub const USER_HEADER: &str = "x-oblivious-user-id";

/// Headers a client may not set: the edge removes them from every request from outside.
const TRUSTED_HEADERS: [&str; 8] = [
    HOP_TOKEN_HEADER,
    FORWARDED_HEADER,
    USER_HEADER,
    REQUEST_ID_HEADER,
    ROUTE_HEADER,
    BAGGAGE_HEADER,
    TRACEPARENT,
    TRACESTATE,
];

/// The request id the edge assigned (or a trusted hop passed on), for handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(pub Uuid);

/// This process as a hop: `relay=gray@relay-gray-0`.
#[derive(Debug, Clone)]
pub struct Hop {
    /// `relay`, `gateway`, `chat` or `all`.
    pub role: String,
    /// This pod's lane tag; empty for the baseline.
    pub lane: String,
    /// The pod name.
    pub instance: String,
    /// The tenant whose fleet this pod is (`default` for the platform's own).
    pub tenant: String,
}

impl Hop {
    fn route_entry(&self) -> String {
        let lane = if self.lane.is_empty() { "baseline" } else { &self.lane };
        format!("{}={lane}@{}", self.role, self.instance)
    }
}

/// Who is calling, as far as lanes care.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Option<String>,
    /// Admin keys and keys or users with the `laneSelect` permission may name a lane themselves.
    pub may_pick_lane: bool,
}

/// Resolves the caller of a request from its credentials; asked only when a lane needs the user
/// or the client named a lane (`wants_permission`: only then does `may_pick_lane` matter, so a
/// lookup may skip the work of finding it otherwise). A failed authentication is
/// `Caller::default()`: the handler answers the 401 in its own dialect.
pub trait CallerLookup: Send + Sync + 'static {
    fn lookup<'a>(
        &'a self,
        parts: &'a http::request::Parts,
        wants_permission: bool,
    ) -> Pin<Box<dyn Future<Output = Caller> + Send + 'a>>;
}

/// The lanes of the active configuration (cheap: an `Arc` clone).
pub type LaneSource = Arc<dyn Fn() -> Arc<LaneTable> + Send + Sync>;

/// Everything the edge layer needs; one per process.
pub struct Edge {
    /// This pod's lane tag; empty for the baseline.
    lane: String,
    tenant: String,
    route_entry: String,
    hop_token_hash: Option<[u8; 32]>,
    /// Shared with the process's calls to other services (chat -> relay), so a dead lane member
    /// found by one is skipped by all.
    pub hops: Arc<Hops>,
    callers: Arc<dyn CallerLookup>,
    forwarder: reqwest::Client,
    in_flight: Gauge,
    max_body_bytes: usize,
    /// Requests served here, for the health reports (a Lane member's health in its status).
    served: Arc<RequestCounters>,
}

/// What an edge is built from.
pub struct EdgeConfig {
    pub hop: Hop,
    /// The process's outbound hops; their token (`OBLIVIOUS_INTERNAL_TOKEN`) is what makes a
    /// request trusted. Without one, no request is.
    pub hops: Arc<Hops>,
    pub callers: Arc<dyn CallerLookup>,
    pub in_flight: Gauge,
    pub max_body_bytes: usize,
}

impl Edge {
    pub fn new(config: EdgeConfig) -> Arc<Self> {
        let hop_token_hash = config.hops.token().map(|t| Sha256::digest(t.as_bytes()).into());
        Arc::new(Edge {
            route_entry: config.hop.route_entry(),
            lane: config.hop.lane,
            tenant: config.hop.tenant,
            hop_token_hash,
            hops: config.hops,
            callers: config.callers,
            forwarder: forward::client(),
            in_flight: config.in_flight,
            max_body_bytes: config.max_body_bytes,
            served: Arc::default(),
        })
    }

    /// Requests served through this edge so far (probes and metrics left out).
    pub fn served(&self) -> Arc<RequestCounters> {
        self.served.clone()
    }

    fn is_trusted(&self, headers: &HeaderMap) -> bool {
        let (Some(expected), Some(presented)) = (&self.hop_token_hash, headers.get(HOP_TOKEN_HEADER)) else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(expected.ct_eq(&presented))
    }
}

/// The middleware: `router.layer(axum::middleware::from_fn_with_state(edge, edge::layer))`.
pub async fn layer(State(edge): State<Arc<Edge>>, request: Request, next: Next) -> Response {
    let counted = InFlight::start(&edge.in_flight);
    let started = Instant::now();
    let (mut parts, body) = request.into_parts();
    let counts = service_of(parts.uri.path()).is_some();
    let trusted = edge.is_trusted(&parts.headers);
    let request_id = if trusted { trusted_request_id(&parts.headers) } else { None };
    let request_id = request_id.unwrap_or_else(Uuid::now_v7);
    let span = span::request_span(&parts, request_id, &edge.tenant);
    let asked_lane = if trusted { None } else { strip_untrusted(&mut parts.headers) };
    span::join_trace(&span, &mut parts.headers, request_id);
    let arrival = Arrival { parts, trusted, asked_lane, request_id };
    let response = serve(&edge, arrival, body, next).instrument(span.clone()).await;
    span::record_status(&span, response.status());
    if counts {
        count_served(&edge.served, response.status(), started.elapsed());
    }
    counted.until_body_ends(response, span)
}

/// A 5xx is a failure; a request the client gave up on (499) is neither.
fn count_served(served: &RequestCounters, status: StatusCode, latency: Duration) {
    match status.as_u16() {
        499 => {}
        500.. => served.failure(),
        _ => served.success(latency),
    }
}

/// A request as the edge took it in: headers only trusted hops may send are gone unless it came
/// from one; `asked_lane` is the lane an outside caller named, not yet granted.
struct Arrival {
    parts: http::request::Parts,
    trusted: bool,
    asked_lane: Option<HeaderValue>,
    request_id: Uuid,
}

/// Removes what only trusted hops may send; returns the lane the caller asked for.
fn strip_untrusted(headers: &mut HeaderMap) -> Option<HeaderValue> {
    let asked = headers.remove(LANE_HEADER);
    for name in TRUSTED_HEADERS {
        headers.remove(name);
    }
    asked
}

/// Everything the edge does inside the request's span: dye, stamp ids and the route, refuse an
/// oversized body, then serve here or forward to this service's lane version.
async fn serve(edge: &Edge, arrival: Arrival, body: Body, next: Next) -> Response {
    let Arrival { mut parts, trusted, asked_lane, request_id } = arrival;
    let now_ms = now_ms();
    let lanes = edge.hops.lanes();
    if !trusted && let Some(tag) = dye(edge, &lanes, &parts, asked_lane, now_ms).await {
        set_lane(&mut parts.headers, &tag);
    }
    if let Some(tag) = parts.headers.get(LANE_HEADER).and_then(|v| v.to_str().ok()) {
        tracing::Span::current().record("oblivious.lane", tag);
    }
    let request_id_value = HeaderValue::from_str(&request_id.to_string()).ok();
    if let Some(value) = &request_id_value {
        parts.headers.insert(REQUEST_ID_HEADER, value.clone());
    }
    parts.extensions.insert(RequestId(request_id));
    // The hops so far, this one last: a trusted caller's path (outside callers' was stripped).
    let path = match parts.headers.get(ROUTE_HEADER).and_then(|v| v.to_str().ok()) {
        Some(before) => format!("{before}, {}", edge.route_entry),
        None => edge.route_entry.clone(),
    };
    if let Ok(value) = HeaderValue::from_str(&path) {
        parts.headers.insert(ROUTE_HEADER, value);
    }

    let dialect = Dialect::of_request(parts.uri.path(), &parts.headers);
    let response = if declared_length(&parts.headers).is_some_and(|n| n > edge.max_body_bytes as u64) {
        too_large(edge.max_body_bytes).into_response_for(dialect)
    } else {
        route(edge, &lanes, parts, body, next, dialect, now_ms).await
    };
    stamp(edge, response, request_id_value)
}

/// Serves the request here, or forwards it to this service's lane version.
async fn route(
    edge: &Edge,
    lanes: &LaneTable,
    parts: http::request::Parts,
    body: Body,
    next: Next,
    dialect: Dialect,
    now_ms: i64,
) -> Response {
    let tag = parts.headers.get(LANE_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let service = service_of(parts.uri.path());
    let ours = tag.as_deref() == Some(edge.lane.as_str());
    let forwarded = parts.headers.contains_key(FORWARDED_HEADER);
    let (Some(tag), Some(service), false, false) = (tag, service, ours, forwarded) else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    match edge.hops.router.next_hop(lanes, Some(&tag), service, now_ms) {
        NextHop::Baseline => next.run(Request::from_parts(parts, body)).await,
        NextHop::Unavailable => lane_unavailable(&tag, service).into_response_for(dialect),
        NextHop::Member(endpoint) => {
            let bytes = match read_limited(body, edge.max_body_bytes).await {
                Ok(bytes) => bytes,
                Err(error) => return error.into_response_for(dialect),
            };
            match forward::send(edge, &endpoint, &parts, bytes.clone(), dialect).await {
                Ok(response) => response,
                Err(forward::Unreachable) => {
                    edge.hops.router.member_failed(&endpoint);
                    match edge.hops.router.next_hop(lanes, Some(&tag), service, now_ms) {
                        NextHop::Unavailable => lane_unavailable(&tag, service).into_response_for(dialect),
                        _ => next.run(Request::from_parts(parts, Body::from(bytes))).await,
                    }
                }
            }
        }
    }
}

/// The lane of a request from outside: the one it names, when the caller may pick a lane and
/// it is live; else the first lane whose rules match.
async fn dye(
    edge: &Edge,
    lanes: &LaneTable,
    parts: &http::request::Parts,
    asked: Option<HeaderValue>,
    now_ms: i64,
) -> Option<String> {
    let asked = asked.as_ref().and_then(|v| v.to_str().ok()).map(str::trim).filter(|t| !t.is_empty());
    if lanes.is_empty() {
        return None;
    }
    let caller = if asked.is_some() || lanes.needs_user() {
        edge.callers.lookup(parts, asked.is_some()).await
    } else {
        Caller::default()
    };
    if let Some(tag) = asked
        && caller.may_pick_lane
        && lanes.live(tag, now_ms).is_some()
    {
        return Some(tag.to_string());
    }
    let input = LaneInput {
        headers: &parts.headers,
        query: parts.uri.query(),
        user_id: caller.user_id.as_deref(),
        roll: rand::random_range(0..100),
    };
    lanes.dye(&input, now_ms).map(|lane| lane.tag.clone())
}

fn set_lane(headers: &mut HeaderMap, tag: &str) {
    if let (Ok(lane), Ok(baggage)) = (HeaderValue::from_str(tag), HeaderValue::from_str(&format!("lane={tag}"))) {
        headers.insert(LANE_HEADER, lane);
        headers.insert(BAGGAGE_HEADER, baggage);
    }
}

fn trusted_request_id(headers: &HeaderMap) -> Option<Uuid> {
    let value = headers.get(REQUEST_ID_HEADER)?.to_str().ok()?;
    Uuid::parse_str(value.trim()).ok()
}

/// Adds the request id (unless a handler set one) and prepends this hop to the route.
fn stamp(edge: &Edge, mut response: Response, request_id: Option<HeaderValue>) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(REQUEST_ID_HEADER)
        && let Some(value) = request_id
    {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    let route = match headers.get(ROUTE_HEADER).and_then(|v| v.to_str().ok()) {
        Some(inner) => format!("{}, {inner}", edge.route_entry),
        None => edge.route_entry.clone(),
    };
    if let Ok(value) = HeaderValue::from_str(&route) {
        headers.insert(HeaderName::from_static(ROUTE_HEADER), value);
    }
    response
}

/// The data-plane service a path belongs to (what a Lane's `members[].service` names); None for
/// probes and metrics, which are never forwarded.
pub fn service_of(path: &str) -> Option<&'static str> {
    if path.starts_with("/v1/") || path.starts_with("/v1beta/") {
        return Some("relay");
    }
    let chat = ["/api/v1/chat", "/api/v1/agents", "/api/v1/models"];
    if chat.iter().any(|prefix| path.starts_with(prefix)) {
        return Some("chat");
    }
    if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return None;
    }
    Some("gateway")
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(http::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(ErrorKind::PayloadTooLarge, format!("Request body is larger than the limit of {limit} bytes."))
        .with_code("request_too_large")
}

fn lane_unavailable(tag: &str, service: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Unavailable,
        format!("Lane `{tag}` has no ready version of the {service} service, and it does not fall back."),
    )
    .with_code("lane_unavailable")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Reads a request body under `limit` bytes, with a 413 in the caller's dialect (axum's own limit
/// answers in plain text, which no SDK can parse).
pub async fn read_limited(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    use http_body_util::BodyExt;
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large(limit)),
        Err(_) => Err(ApiError::invalid_request("The request body could not be read.")),
    }
}

/// Handlers take the edge's request id as an extractor; behind no edge (a handler driven
/// directly in a test), a fresh one.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<RequestId>().copied().unwrap_or_else(|| RequestId(Uuid::now_v7())))
    }
}
