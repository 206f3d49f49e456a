//! Tracing across hops (DESIGN §8), exported over OTLP/gRPC to an in-process collector: a chat
//! reply is one trace from the edge through the generation job and the relay to the upstream
//! attempt, with GenAI attributes and the lane; the trace context reaches a provider only when its
//! channel asks. Its own test binary: the exporter is process-global.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fake_opentelemetry_collector::{ExportedSpan, FakeCollectorServer};
use oblivious_core::telemetry::{self, Telemetry};
use serde_json::json;
use support::Api;

const TRACED_CHANNEL: &str = r#"
apiVersion: oblivious.dev/v1alpha1
kind: Channel
metadata: {name: in-house}
spec:
  provider: openai
  baseUrl: builtin://mock-upstream/v1
  apiKeySecretRef: {name: up, key: key}
  propagateTrace: true
  models: [{name: traced, upstreamModel: "u@words=2"}]
"#;

/// A client's own trace context: not trusted, so never joined.
const CLIENT_TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_is_one_trace_from_the_edge_through_the_relay_to_the_upstream() {
    let collector = FakeCollectorServer::start().await.unwrap();
    let telemetry = Arc::new(telemetry::init_exporting_to("info", "oblivious-test", &collector.endpoint()));
    let mut spans = Spans { collector, telemetry, seen: Vec::new() };
    let dir = tempfile::tempdir().unwrap();
    let store = oblivious_store::Store::open_sqlite(dir.path()).await.unwrap();
    store.migrate().await.unwrap();
    let api = Api::start(store).await;
    api.configure(TRACED_CHANNEL);

    // A chat reply in the `gray` lane (the test manifests dye requests with `x-canary`).
    let user = api.user_with_balance("alice", "5").await;
    let session = api.session(&user, json!({"model": "fast"})).await;
    let sent = api.send_with_headers(&user, &session, json!({"content": "Hello"}), &[("x-canary", "1")]).await;
    let reply = sent["stream_id"].as_str().unwrap();
    api.read_stream(&user, reply, None).await;
    api.wait_for_charge(&user, reply).await;

    let send = spans.wait_for("the send's request span", |s| route_is(s, "/api/v1/chat/sessions/{id}/messages")).await;
    let trace = send.trace_id.clone();
    assert_eq!(send.kind, "SPAN_KIND_SERVER");
    assert_eq!(attr(&send, "oblivious.lane").as_deref(), Some("gray"), "the lane is on the edge span");
    assert_eq!(attr(&send, "http.response.status_code").as_deref(), Some("201"));
    let generation = spans.wait_for("the generation job", |s| s.name == "chat.generation" && s.trace_id == trace).await;
    assert_eq!(generation.parent_span_id, send.span_id, "the job is a child of the request that started it");
    assert_eq!(attr(&generation, "oblivious.outcome").as_deref(), Some("complete"));
    let relay = spans
        .wait_for("the relay's request span", |s| route_is(s, "/v1/chat/completions") && s.trace_id == trace)
        .await;
    assert_eq!(relay.parent_span_id, generation.span_id, "the relay hop joins the job's trace");
    assert_eq!(attr(&relay, "oblivious.lane").as_deref(), Some("gray"), "the lane travels with the request");
    let route = spans.wait_for("the routing span", |s| s.name == "route" && s.parent_span_id == relay.span_id).await;
    assert_eq!(attr(&route, "oblivious.attempts").as_deref(), Some("1"));
    assert!(attr(&route, "oblivious.channel").is_some_and(|c| c.ends_with("main")), "{:?}", route.attributes);
    let upstream = spans.wait_for("the upstream attempt", |s| s.name == "chat u@words=5" && s.trace_id == trace).await;
    assert_eq!(upstream.parent_span_id, route.span_id);
    assert_eq!(upstream.kind, "SPAN_KIND_CLIENT");
    for (name, value) in [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", "openai"),
        ("gen_ai.request.model", "u@words=5"),
        ("gen_ai.usage.output_tokens", "5"),
        ("oblivious.attempt", "1"),
    ] {
        assert_eq!(attr(&upstream, name).as_deref(), Some(value), "{name}: {:?}", upstream.attributes);
    }
    assert!(attr(&upstream, "oblivious.time_to_first_token_ms").is_some());
    for child in ["authenticate", "billing.reserve"] {
        spans.wait_for(child, |s| s.name == child && s.parent_span_id == relay.span_id).await;
    }
    // Settled when the stream ends, wherever the stream's end is noticed: in the trace all the same.
    let settle = spans.wait_for("the settlement", |s| s.name == "billing.settle" && s.trace_id == trace).await;
    assert_eq!(attr(&settle, "oblivious.settlement").as_deref(), Some("written"), "it spans the ledger write");

    // The upstream of a channel that does not ask got the lane tag, but no trace context or baggage.
    let upstream_requests = api.upstream_requests().await;
    let chat_call = upstream_requests.iter().find(|r| r["body"]["model"] == "u@words=5").expect("the reply's call");
    assert_eq!(chat_call["headers"]["x-oblivious-lane"], "gray");
    assert_eq!(chat_call["headers"].get("traceparent"), None, "{chat_call}");
    assert_eq!(chat_call["headers"].get("baggage"), None, "{chat_call}");

    // A B-side call naming its own trace: not trusted, so a new trace starts here; its channel
    // asks for the context, which names the upstream attempt as the parent.
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", api.base()))
        .bearer_auth(support::BOOTSTRAP)
        .header("traceparent", CLIENT_TRACEPARENT)
        .json(&json!({"model": "traced", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let traced = spans.wait_for("the traced attempt", |s| s.name == "chat u@words=2").await;
    assert_ne!(traced.trace_id, "0af7651916cd43dd8448eb211c80319c", "an outside caller's trace is not joined");
    let upstream_requests = api.upstream_requests().await;
    let traced_call = upstream_requests.iter().find(|r| r["body"]["model"] == "u@words=2").expect("the traced call");
    let sent_context = traced_call["headers"]["traceparent"].as_str().expect("propagateTrace sends the context");
    assert_eq!(sent_context, format!("00-{}-{}-01", traced.trace_id, traced.span_id));

    // A file's ingestion runs later, apart from the request that queued it: its own trace, with
    // a link to that request's span.
    let (status, kb) =
        api.post(&user, "/api/v1/knowledge-bases", json!({"name": "Docs", "embedding_model": "embed"})).await;
    assert_eq!(status, 201, "{kb}");
    let file = api.upload(&user, "notes.md", b"# Notes\n\nThe ingestion of this file links to its request.\n").await;
    let kb_id = kb["id"].as_str().unwrap();
    let (status, _) =
        api.post(&user, &format!("/api/v1/knowledge-bases/{kb_id}/files"), json!({"file_id": file})).await;
    assert_eq!(status, 202);
    let outcome = api.ingestor.run_once(&api.lifecycle).await.unwrap();
    assert!(matches!(outcome, Some(oblivious_rag::Outcome::Indexed { .. })), "{outcome:?}");
    let queued = spans.wait_for("the queuing request", |s| route_is(s, "/api/v1/knowledge-bases/{id}/files")).await;
    let ingest = spans.wait_for("the ingestion job", |s| s.name == "rag.ingest").await;
    assert_eq!(ingest.parent_span_id, "", "a root span: {ingest:?}");
    assert_ne!(ingest.trace_id, queued.trace_id);
    assert!(
        ingest.links.iter().any(|l| l.trace_id == queued.trace_id && l.span_id == queued.span_id),
        "linked to the request that queued it: {:?}",
        ingest.links
    );
    let embedding = spans.wait_for("the ingestion's embeddings", |s| route_is(s, "/v1/embeddings")).await;
    assert_eq!(embedding.trace_id, ingest.trace_id, "the job's own calls are in its trace");
}

/// An edge's request span for `route` (named `POST /v1/chat/completions` by the conventions).
fn route_is(span: &ExportedSpan, route: &str) -> bool {
    span.kind == "SPAN_KIND_SERVER" && attr(span, "http.route").as_deref() == Some(route)
}

/// An attribute's value as text. The collector keeps each as the `Debug` of its protobuf value
/// (`Some(AnyValue { value: Some(StringValue("x")) })`).
fn attr(span: &ExportedSpan, name: &str) -> Option<String> {
    let debug = span.attributes.get(name)?;
    let inner = debug.split_once("Value(")?.1;
    let inner = inner.strip_suffix(")) })").unwrap_or(inner);
    Some(inner.trim_matches('"').to_string())
}

/// What the collector received so far, flushing the exporter until a span shows up.
struct Spans {
    collector: FakeCollectorServer,
    telemetry: Arc<Telemetry>,
    seen: Vec<ExportedSpan>,
}

impl Spans {
    async fn wait_for(&mut self, what: &str, matches: impl Fn(&ExportedSpan) -> bool) -> ExportedSpan {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(found) = self.seen.iter().find(|s| matches(s)) {
                return found.clone();
            }
            assert!(tokio::time::Instant::now() < deadline, "no span for {what}; got {:#?}", self.names());
            let telemetry = self.telemetry.clone();
            tokio::task::spawn_blocking(move || telemetry.flush()).await.unwrap();
            self.seen.extend(self.collector.exported_spans(1, Duration::from_millis(200)).await);
        }
    }

    fn names(&self) -> HashMap<String, usize> {
        let mut names = HashMap::new();
        for span in &self.seen {
            *names.entry(format!("{} {:?}", span.name, attr(span, "http.route"))).or_default() += 1;
        }
        names
    }
}
