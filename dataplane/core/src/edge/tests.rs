#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use axum::Router;
use axum::routing::any;
use http_body_util::BodyExt;
use oblivious_config::{Lane, LaneFallback, LaneMember, LaneRule, ValueMatch};
use tower::ServiceExt;

use super::*;
use crate::lane::rules::LaneTable;
use crate::telemetry::propagation::TraceParent;

const TOKEN: &str = "hop-secret";

/// Callers: a key `sk-admin` may pick lanes; `sk-user-<id>` is user `<id>`.
struct Keys;

impl CallerLookup for Keys {
    fn lookup<'a>(
        &'a self,
        parts: &'a http::request::Parts,
        _: bool,
    ) -> Pin<Box<dyn Future<Output = Caller> + Send + 'a>> {
        let key = parts.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        Box::pin(async move {
            match key.strip_prefix("Bearer ") {
                Some("sk-admin") => Caller { user_id: None, may_pick_lane: true },
                Some(other) => {
                    Caller { user_id: other.strip_prefix("sk-user-").map(str::to_string), may_pick_lane: false }
                }
                None => Caller::default(),
            }
        })
    }
}

fn lane(rules: Vec<LaneRule>, members: Vec<LaneMember>, fallback: LaneFallback) -> Lane {
    Lane { name: "default/gray".into(), tag: "gray".into(), rules, members, fallback, ..Lane::default() }
}

fn header_rule(name: &str) -> LaneRule {
    LaneRule { header: Some(ValueMatch { name: name.into(), value: None }), ..LaneRule::default() }
}

fn edge_with(lanes: Vec<Lane>, hop_lane: &str) -> Arc<Edge> {
    let table = Arc::new(LaneTable::new(&lanes));
    let hops = Hops::new(Arc::new(move || table.clone()), Some(TOKEN.into()));
    let hop = Hop { role: "relay".into(), lane: hop_lane.into(), instance: "pod-0".into(), tenant: "default".into() };
    Edge::new(EdgeConfig { hop, hops, callers: Arc::new(Keys), in_flight: Gauge::default(), max_body_bytes: 64 })
}

/// An app that echoes the headers it saw (as JSON) behind the edge.
fn app(edge: Arc<Edge>) -> Router {
    Router::new()
        .route(
            "/{*path}",
            any(|request: Request| async move {
                let seen: std::collections::BTreeMap<String, String> = request
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                    .collect();
                axum::Json(seen)
            }),
        )
        .layer(axum::middleware::from_fn_with_state(edge, layer))
}

async fn call(app: &Router, request: http::Request<Body>) -> (Response, serde_json::Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (Response::from_parts(parts, Body::empty()), json)
}

fn get(path: &str, headers: &[(&str, &str)]) -> http::Request<Body> {
    let mut request = http::Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn a_clients_trusted_headers_are_stripped_and_it_gets_a_fresh_request_id() {
    let app = app(edge_with(Vec::new(), ""));
    let forged = [
        ("x-request-id", "0190d2c4-1111-7000-8000-000000000000"),
        (USER_HEADER, "someone-else"),
        (LANE_HEADER, "gray"),
        ("baggage", "lane=gray"),
        (HOP_TOKEN_HEADER, "guess"),
        (ROUTE_HEADER, "relay=gray@forged"),
    ];
    let (response, seen) = call(&app, get("/v1/models", &forged)).await;
    for name in [USER_HEADER, LANE_HEADER, "baggage", HOP_TOKEN_HEADER] {
        assert!(seen.get(name).is_none(), "{name} reached the handler: {seen}");
    }
    let id = seen[REQUEST_ID_HEADER].as_str().unwrap();
    assert_ne!(id, forged[0].1);
    assert_eq!(Uuid::parse_str(id).unwrap().get_version_num(), 7);
    assert_eq!(response.headers()[REQUEST_ID_HEADER], id);
    assert_eq!(response.headers()[ROUTE_HEADER], "relay=baseline@pod-0");
    assert_eq!(seen[ROUTE_HEADER], "relay=baseline@pod-0", "the path starts here");
}

#[tokio::test]
async fn a_trusted_hop_keeps_its_request_id_lane_and_user() {
    let app = app(edge_with(Vec::new(), ""));
    let id = "0190d2c4-1111-7000-8000-000000000000";
    let headers = [
        (HOP_TOKEN_HEADER, TOKEN),
        ("x-request-id", id),
        (USER_HEADER, "u1"),
        (LANE_HEADER, "gray"),
        (ROUTE_HEADER, "chat=gray@chat-0"),
    ];
    let (_, seen) = call(&app, get("/v1/models", &headers)).await;
    assert_eq!(seen[ROUTE_HEADER], "chat=gray@chat-0, relay=baseline@pod-0", "the path so far, this hop last");
    assert_eq!((seen["x-request-id"].as_str(), seen[USER_HEADER].as_str()), (Some(id), Some("u1")));
    assert_eq!(seen[LANE_HEADER], "gray");
}

#[tokio::test]
async fn matching_requests_are_dyed_and_only_callers_allowed_may_name_a_lane() {
    let app = app(edge_with(vec![lane(vec![header_rule("x-canary")], Vec::new(), LaneFallback::Baseline)], ""));
    let (_, seen) = call(&app, get("/v1/models", &[("x-canary", "1")])).await;
    assert_eq!((seen[LANE_HEADER].as_str(), seen["baggage"].as_str()), (Some("gray"), Some("lane=gray")));
    let (_, seen) =
        call(&app, get("/v1/models", &[("authorization", "Bearer sk-user-7"), (LANE_HEADER, "gray")])).await;
    assert!(seen.get(LANE_HEADER).is_none(), "a user without laneSelect: {seen}");
    let (_, seen) = call(&app, get("/v1/models", &[("authorization", "Bearer sk-admin"), (LANE_HEADER, "gray")])).await;
    assert_eq!(seen[LANE_HEADER], "gray");
    let (_, seen) = call(&app, get("/v1/models", &[("authorization", "Bearer sk-admin"), (LANE_HEADER, "blue")])).await;
    assert!(seen.get(LANE_HEADER).is_none(), "a lane that does not exist is not picked");
}

#[tokio::test]
async fn a_user_list_rule_asks_who_is_calling() {
    let rule = LaneRule { user_ids: Some(vec!["7".into()]), ..LaneRule::default() };
    let app = app(edge_with(vec![lane(vec![rule], Vec::new(), LaneFallback::Baseline)], ""));
    let (_, seen) = call(&app, get("/v1/models", &[("authorization", "Bearer sk-user-7")])).await;
    assert_eq!(seen[LANE_HEADER], "gray");
    let (_, seen) = call(&app, get("/v1/models", &[("authorization", "Bearer sk-user-8")])).await;
    assert!(seen.get(LANE_HEADER).is_none());
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_in_the_callers_dialect() {
    let app = app(edge_with(Vec::new(), ""));
    let request = http::Request::post("/v1/messages").header("content-length", "65").body(Body::from(vec![b'x'; 65]));
    let (response, _) = call(&app, request.unwrap()).await;
    assert_eq!(response.status(), 413);
    let request = http::Request::post("/v1/messages").header("content-length", "65").body(Body::from(vec![b'x'; 65]));
    let body = app.clone().oneshot(request.unwrap()).await.unwrap().into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["type"], "error", "Anthropic's shape: {body}");
}

/// A lane member on a port of its own that records the lane and route headers it saw.
async fn member() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = seen.clone();
    let member_edge = edge_with(Vec::new(), "gray");
    let app = Router::new()
        .route(
            "/{*path}",
            any(move |request: Request| {
                let recorder = recorder.clone();
                async move {
                    let lane = request.headers().get(LANE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("none");
                    recorder.lock().unwrap().push(lane.to_string());
                    "from the lane"
                }
            }),
        )
        .layer(axum::middleware::from_fn_with_state(member_edge, layer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (endpoint, seen)
}

#[tokio::test]
async fn a_dyed_request_at_a_baseline_pod_is_forwarded_to_the_ready_member_and_the_route_shows_both() {
    let (endpoint, seen) = member().await;
    let relay = LaneMember { service: "relay".into(), endpoint, ready: true };
    let app = app(edge_with(vec![lane(vec![header_rule("x-canary")], vec![relay], LaneFallback::Baseline)], ""));
    let request = http::Request::post("/v1/chat/completions").header("x-canary", "1").body(Body::from("{}")).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.headers()[ROUTE_HEADER], "relay=baseline@pod-0, relay=gray@pod-0");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"from the lane");
    assert_eq!(*seen.lock().unwrap(), ["gray"]);
    let (_, local) = call(&app, get("/v1/models", &[])).await;
    assert!(local.get(LANE_HEADER).is_none(), "undyed traffic stays here");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_unreachable_member_falls_back_here_or_refuses_for_a_strict_lane() {
    let dead = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let member = |endpoint: &str| vec![LaneMember { service: "relay".into(), endpoint: endpoint.into(), ready: true }];
    let baseline = app(edge_with(vec![lane(vec![header_rule("x-canary")], member(&dead), LaneFallback::Baseline)], ""));
    let (response, seen) = call(&baseline, get("/v1/models", &[("x-canary", "1")])).await;
    assert_eq!(response.status(), 200);
    assert_eq!(seen[LANE_HEADER], "gray", "served here, still tagged for later hops");

    let strict = app(edge_with(vec![lane(vec![header_rule("x-canary")], member(&dead), LaneFallback::Strict)], ""));
    let request = get("/v1/models", &[("x-canary", "1")]);
    let response = strict.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 503);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "lane_unavailable");
}

#[tokio::test]
async fn a_member_dying_mid_answer_is_a_clean_502_never_a_second_serving() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = tcp.read(&mut request).await.unwrap();
        // Headers promising 100 bytes, then 7 of them, then the process is gone.
        tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"part\"")
            .await
            .unwrap();
    });
    let relay = vec![LaneMember { service: "relay".into(), endpoint, ready: true }];
    let app = app(edge_with(vec![lane(vec![header_rule("x-canary")], relay, LaneFallback::Baseline)], ""));
    let request = http::Request::post("/v1/chat/completions").header("x-canary", "1").body(Body::from("{}")).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 502);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "lane_member_failed", "not served again here: {body}");
}

/// Without an exporter (unit tests install none), a request from outside gets a trace context
/// named by its request id, whatever it sent; a trusted hop's context is passed on untouched.
#[tokio::test]
async fn trace_context_is_taken_only_from_a_trusted_hop_and_otherwise_started_here() {
    let app = app(edge_with(Vec::new(), ""));
    let forged = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let (_, seen) = call(&app, get("/v1/models", &[("traceparent", forged), ("tracestate", "vendor=x")])).await;
    let started = TraceParent::parse(seen["traceparent"].as_str().unwrap()).unwrap();
    let request_id = Uuid::parse_str(seen[REQUEST_ID_HEADER].as_str().unwrap()).unwrap();
    assert_eq!(started.trace_id, request_id.as_u128(), "the trace is named by the request id");
    assert!(!started.sampled, "nothing here records it");
    assert!(seen.get("tracestate").is_none(), "an outside caller's trace state is dropped: {seen}");

    let (_, seen) = call(&app, get("/v1/models", &[(HOP_TOKEN_HEADER, TOKEN), ("traceparent", forged)])).await;
    assert_eq!(seen["traceparent"], forged, "a trusted hop's context goes on as it came");
}
