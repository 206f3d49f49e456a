use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use oblivious_operator::cluster::{Stores, compile_all, insert};
use oblivious_operator::controllers::ToolProbe;
use oblivious_operator::controllers::toolserver::{self, ToolServerContext};
use serde_json::{Value, json};

use crate::fixtures::*;

const STATUS: &str = "PATCH /apis/oblivious.dev/v1alpha1/namespaces/team/toolservers/github/status";
const TOKEN: &str = "Bearer ghp-very-secret-token";

/// A probe that answers the same every time and counts its calls.
struct FakeProbe {
    answer: Result<Vec<(String, String)>, String>,
    calls: AtomicUsize,
}

impl FakeProbe {
    fn listing(tools: &[(&str, &str)]) -> Arc<FakeProbe> {
        let tools = tools.iter().map(|(n, d)| ((*n).to_string(), (*d).to_string())).collect();
        Arc::new(FakeProbe { answer: Ok(tools), calls: AtomicUsize::new(0) })
    }

    fn failing(message: &str) -> Arc<FakeProbe> {
        Arc::new(FakeProbe { answer: Err(message.into()), calls: AtomicUsize::new(0) })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[tonic::async_trait]
impl ToolProbe for FakeProbe {
    async fn list_tools(&self, _: &oblivious_config::ToolServer) -> Result<Vec<(String, String)>, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.answer.clone()
    }
}

fn github(spec: Value) -> oblivious_crds::ToolServer {
    object(json!({"apiVersion": "oblivious.dev/v1alpha1", "kind": "ToolServer",
        "metadata": {"name": "github", "namespace": "team"}, "spec": spec}))
}

fn http_spec() -> Value {
    json!({
        "url": "https://api.githubcopilot.com/mcp/",
        "headers": [{"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "gh", "key": "token"}}}],
        "allowedTools": ["search_issues", "create_issue"],
        "approvalRequired": ["create_issue"]
    })
}

/// Caches with `object` and the Secret holding its token.
fn caches(object: &oblivious_crds::ToolServer) -> Stores {
    stores(|w| {
        insert(&mut w.tool_servers, object.clone());
        insert(&mut w.secrets, secret("team", "gh", &[("token", TOKEN)]));
    })
}

fn tool_server_context(
    client: kube::Client,
    stores: Stores,
    leader: bool,
    probe: Option<Arc<FakeProbe>>,
) -> Arc<ToolServerContext> {
    let probe = probe.map(|p| p as Arc<dyn ToolProbe>);
    Arc::new(ToolServerContext::new(context(client, stores, leader, vec![]), probe))
}

/// Reconciles `object` once with `probe` and returns the status written and the request log.
async fn status_after_reconcile(object: oblivious_crds::ToolServer, probe: Option<Arc<FakeProbe>>) -> (Value, Log) {
    let (client, log) = fake_api(|_| None);
    let ctx = tool_server_context(client, caches(&object), true, probe);
    toolserver::reconcile(Arc::new(object), ctx).await.unwrap();
    settle().await;
    (log.only(STATUS).body["status"].clone(), log)
}

fn assert_token_never_sent(log: &Log) {
    for request in log.all() {
        assert!(
            !request.body.to_string().contains("ghp-very-secret-token"),
            "the token leaked into {}",
            request.route()
        );
    }
}

#[tokio::test]
async fn tool_server_whose_probe_lists_tools_is_connected_and_ready_with_its_tools_sorted() {
    let probe =
        FakeProbe::listing(&[("search_issues", "Search issues"), ("delete_repo", "Delete"), ("create_issue", "Open")]);
    let (status, log) = status_after_reconcile(github(http_spec()), Some(probe.clone())).await;

    assert_eq!(probe.calls(), 1);
    let connected = condition(&status, "Connected");
    assert_eq!((connected["status"].as_str(), connected["reason"].as_str()), (Some("True"), Some("Connected")));
    assert_eq!(connected["message"], "3 tool(s) listed, 2 offered to agents");
    assert_eq!(condition(&status, "Ready")["status"], "True");
    assert_eq!(condition(&status, "ResolvedRefs")["status"], "True");
    let names: Vec<&str> = status["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["create_issue", "delete_repo", "search_issues"]);
    assert_eq!(status["tools"][0]["description"], "Open");
    assert_eq!(status["toolCount"], 3);
    assert!(status["lastProbeTime"].as_str().unwrap().ends_with('Z'));
    assert!(status.get("sync").is_some(), "an accepted server reports data-plane sync");
    assert!(log.event_reasons().contains(&("Normal".into(), "Connected".into())), "{:?}", log.event_reasons());
    assert_token_never_sent(&log);
}

#[tokio::test]
async fn tool_server_whose_probe_fails_is_not_ready_with_the_probe_message_and_scrubs_the_token() {
    let probe = FakeProbe::failing(&format!("http_401: server refused `{TOKEN}`"));
    let (status, log) = status_after_reconcile(github(http_spec()), Some(probe)).await;

    let connected = condition(&status, "Connected");
    assert_eq!((connected["status"].as_str(), connected["reason"].as_str()), (Some("False"), Some("ProbeFailed")));
    assert!(connected["message"].as_str().unwrap().starts_with("http_401: server refused"), "{connected}");
    let ready = condition(&status, "Ready");
    assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("False"), Some("ProbeFailed")));
    assert!(status.get("tools").is_none() && status.get("toolCount").is_none());
    assert!(status.get("lastProbeTime").is_some());
    assert!(log.event_reasons().contains(&("Warning".into(), "ProbeFailed".into())), "{:?}", log.event_reasons());
    assert_token_never_sent(&log);
}

#[tokio::test]
async fn stdio_tool_server_is_not_probed_and_is_ready_with_connected_unknown() {
    let probe = FakeProbe::listing(&[]);
    let spec = json!({"stdio": {"command": "npx", "args": ["-y", "server-everything"]}});
    let (status, _) = status_after_reconcile(github(spec), Some(probe.clone())).await;

    assert_eq!(probe.calls(), 0);
    let connected = condition(&status, "Connected");
    assert_eq!((connected["status"].as_str(), connected["reason"].as_str()), (Some("Unknown"), Some("StdioNotProbed")));
    assert!(connected["message"].as_str().unwrap().contains("only inside `oblivious dev`"));
    assert_eq!(condition(&status, "Ready")["status"], "True", "Unknown does not block Ready");
}

#[tokio::test]
async fn tool_server_with_a_missing_secret_key_is_not_resolved_and_not_probed() {
    let probe = FakeProbe::listing(&[("search_issues", "")]);
    let mut spec = http_spec();
    spec["headers"][0]["valueFrom"]["secretKeyRef"]["key"] = json!("nope");
    let (status, log) = status_after_reconcile(github(spec), Some(probe.clone())).await;

    assert_eq!(probe.calls(), 0);
    let refs = condition(&status, "ResolvedRefs");
    assert_eq!((refs["status"].as_str(), refs["reason"].as_str()), (Some("False"), Some("SecretKeyNotFound")));
    assert!(refs["message"].as_str().unwrap().contains("spec.headers[0].valueFrom.secretKeyRef.key"), "{refs}");
    assert_eq!(condition(&status, "Accepted")["status"], "True");
    assert_eq!(condition(&status, "Ready")["reason"], "SecretKeyNotFound");
    assert_eq!(condition(&status, "Connected")["reason"], "NotProbed");
    assert!(status.get("sync").is_none(), "a left-out server reports no data-plane sync");
    assert_token_never_sent(&log);
}

#[tokio::test]
async fn tool_server_without_a_probe_configured_is_ready_with_connected_unknown() {
    let (status, _) = status_after_reconcile(github(http_spec()), None).await;
    assert_eq!(condition(&status, "Connected")["reason"], "ProbeNotConfigured");
    assert_eq!(condition(&status, "Ready")["status"], "True");
}

#[tokio::test]
async fn a_second_reconcile_reuses_a_fresh_probe_and_a_changed_spec_probes_again() {
    let probe = FakeProbe::listing(&[("search_issues", "")]);
    let object = github(http_spec());
    let (stores, mut writers) = Stores::new();
    insert(&mut writers.tool_servers, object.clone());
    insert(&mut writers.secrets, secret("team", "gh", &[("token", TOKEN)]));
    let (client, _) = fake_api(|_| None);
    let ctx = tool_server_context(client, stores, true, Some(probe.clone()));

    toolserver::reconcile(Arc::new(object.clone()), ctx.clone()).await.unwrap();
    toolserver::reconcile(Arc::new(object.clone()), ctx.clone()).await.unwrap();
    assert_eq!(probe.calls(), 1, "the resync tick does not call the server again");

    let mut changed = object;
    changed.spec.url = Some("https://api.githubcopilot.com/mcp/x/issues".into());
    changed.metadata.generation = Some(2);
    insert(&mut writers.tool_servers, changed.clone());
    ctx.ctx.compiled.replace(compile_all(&ctx.ctx.stores).1);
    toolserver::reconcile(Arc::new(changed), ctx).await.unwrap();
    assert_eq!(probe.calls(), 2, "a new URL is asked at once");
}

#[tokio::test]
async fn a_follower_neither_probes_nor_writes() {
    let probe = FakeProbe::listing(&[("search_issues", "")]);
    let object = github(http_spec());
    let (client, log) = fake_api(|_| None);
    let ctx = tool_server_context(client, caches(&object), false, Some(probe.clone()));
    toolserver::reconcile(Arc::new(object), ctx).await.unwrap();
    settle().await;
    assert_eq!(probe.calls(), 0);
    assert!(log.all().is_empty(), "{:?}", log.routes());
}
