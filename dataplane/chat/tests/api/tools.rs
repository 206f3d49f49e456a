//! Tool calls in replies, against the real MCP reference server (npm
//! `@modelcontextprotocol/server-everything`, over stdio and Streamable HTTP): the mock model asks
//! for a tool, the job runs it, streams the call and its result, gives the result back to the
//! model (which quotes it) and stores the calls on the reply; every model call is billed.
//!
//! The server's entry point comes from `OBLIVIOUS_TEST_MCP_EVERYTHING` (`scripts/mcp-everything`
//! prints it; `scripts/test` sets it). Without it these tests pass vacuously, unless
//! `OBLIVIOUS_REQUIRE_MCP=1`.

use oblivious_tools::testing::{EverythingHttp, everything_path};
use serde_json::{Value, json};

use crate::support::{Api, Event, User};

/// The reference server's entry point, or `None` (printed) when the tests cannot run here.
fn everything() -> Option<String> {
    everything_path().map(|path| path.display().to_string())
}

/// A channel whose model asks for `tool` (then answers from its result), priced so both model
/// calls of a reply are billed; a ToolServer with `transport` (YAML lines); an agent using it.
fn manifests(tool: &str, transport: &str, server_extra: &str, agent_tools: &str) -> String {
    format!(
        r#"
apiVersion: oblivious.dev/v1alpha1
kind: Channel
metadata: {{name: tooling}}
spec:
  provider: openai
  baseUrl: builtin://mock-upstream/v1
  apiKeySecretRef: {{name: up, key: key}}
  models: [{{name: tool-model, upstreamModel: "u@tool={tool},words=6"}}]
---
apiVersion: oblivious.dev/v1alpha1
kind: ModelPricing
metadata: {{name: tooling}}
spec:
  currency: EUR
  models: [{{name: tool-model, input: "1", output: "2"}}]
---
apiVersion: oblivious.dev/v1alpha1
kind: ToolServer
metadata: {{name: everything}}
spec:
{transport}
  allowedTools: [echo, get-sum, trigger-long-running-operation]
{server_extra}
---
apiVersion: oblivious.dev/v1alpha1
kind: Agent
metadata: {{name: toolsmith}}
spec:
  displayName: Toolsmith
  model: tool-model
  tools: {agent_tools}
"#
    )
}

fn stdio(entry: &str) -> String {
    format!("  stdio: {{command: node, args: [{entry:?}, stdio]}}")
}

/// A session of the Toolsmith agent.
async fn toolsmith_session(api: &Api, user: &User) -> String {
    let (_, catalog) = api.get(user, "/api/v1/agents?source=catalog").await;
    let agent = catalog["agents"].as_array().unwrap().iter().find(|a| a["name"] == "Toolsmith").unwrap().clone();
    let (_, session) = api.post(user, "/api/v1/chat/sessions", json!({"agent_id": agent["id"]})).await;
    session["id"].as_str().unwrap().to_string()
}

fn events_named(events: &[Event], name: &str) -> Vec<Value> {
    events.iter().filter(|e| e.event == name).map(|e| e.data.clone()).collect()
}

/// Sends `question`, reads the stream to its end and returns (events, the stored reply).
async fn ask(api: &Api, user: &User, session: &str, question: &str) -> (Vec<Event>, Value) {
    let sent = api.send(user, session, json!({"content": question})).await;
    let stream = sent["stream_id"].as_str().unwrap();
    let events = api.read_stream(user, stream, None).await;
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("done"), "{events:?}");
    (events, api.wait_for_reply(user, session, stream).await)
}

pub async fn an_agents_tool_runs_over_stdio_and_the_model_answers_from_its_result(api: Api) {
    let Some(entry) = everything() else { return };
    api.configure(&manifests("echo", &stdio(&entry), "", "[everything]"));
    let user = api.user_with_balance("alice", "5").await;
    let session = toolsmith_session(&api, &user).await;
    let (events, reply) = ask(&api, &user, &session, "say something").await;

    let started = events_named(&events, "tool_call");
    let ended = events_named(&events, "tool_result");
    assert_eq!(started.len(), 1, "{events:?}");
    assert_eq!((started[0]["tool"].as_str(), started[0]["status"].as_str()), (Some("echo"), Some("running")));
    assert_eq!(started[0]["server"], "default/everything");
    assert_eq!(started[0]["arguments"], json!({"message": "mock"}));
    assert_eq!(ended[0]["status"], "ok", "{:?}", ended[0]);
    assert_eq!(ended[0]["output"], "Echo: mock");
    let first_text = events.iter().position(|e| e.event == "text").unwrap();
    let result_at = events.iter().position(|e| e.event == "tool_result").unwrap();
    assert!(result_at < first_text, "the answer follows the tool's result");

    assert_eq!(reply["status"], "complete", "{reply}");
    assert!(reply["content"].as_str().unwrap().starts_with("Mock result Echo: mock"), "{reply}");
    assert_eq!(reply["tool_calls"].as_array().unwrap().len(), 1);
    assert_eq!(reply["tool_calls"][0]["output"], "Echo: mock");
    assert!(reply["tool_calls"][0]["duration_ms"].as_u64().is_some());

    // The model got the call and its result back, in the order it must see them.
    let upstream = api.upstream_requests().await;
    let second = upstream
        .iter()
        .find(|r| r["body"]["messages"].as_array().is_some_and(|m| m.iter().any(|m| m["role"] == "tool")))
        .expect("a request carrying the tool result");
    let messages = second["body"]["messages"].as_array().unwrap();
    let n = messages.len();
    assert_eq!(messages[n - 2]["tool_calls"][0]["function"]["name"], "echo");
    assert_eq!(messages[n - 1]["content"], "Echo: mock");
    assert_eq!(messages[n - 1]["tool_call_id"], messages[n - 2]["tool_calls"][0]["id"]);
    assert_eq!(second["body"]["tools"][0]["function"]["name"], "echo");

    // Both model calls were billed: the first under the reply's id, the second under its own;
    // the reply shows what they cost together.
    let shown = oblivious_runtime::money::parse_decimal_micros(reply["cost"].as_str().unwrap()).unwrap();
    let first = api.wait_for_charge(&user, reply["id"].as_str().unwrap()).await;
    let reply_id = reply["id"].clone();
    api.wait_until("the second call's charge", || async {
        let (_, ledger) = api.get(&user, "/api/v1/user/ledger").await;
        ledger["data"].as_array()?.iter().filter(|e| e["request_id"] != reply_id).find_map(|e| {
            let amount = oblivious_runtime::money::parse_decimal_micros(e["amount"].as_str()?).ok()?;
            (first + amount == -shown).then_some(())
        })
    })
    .await;
}

pub async fn a_slow_or_failing_tool_is_an_error_the_model_is_told_and_the_reply_goes_on(api: Api) {
    let Some(entry) = everything() else { return };
    let server = EverythingHttp::start(std::path::Path::new(&entry)).await;
    let transport = format!("  url: {}", server.url);
    api.configure(&manifests(
        "trigger-long-running-operation",
        &transport,
        "  timeouts: {call: 500ms}",
        "[everything]",
    ));
    let user = api.user_with_balance("alice", "5").await;
    let session = toolsmith_session(&api, &user).await;
    let started = std::time::Instant::now();
    let (events, reply) = ask(&api, &user, &session, "take your time").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(8), "the 10 s operation was cut at its timeout");
    let ended = events_named(&events, "tool_result");
    assert_eq!(ended[0]["status"], "error", "{:?}", ended[0]);
    assert_eq!(ended[0]["error"]["code"], "timeout");
    assert_eq!(reply["status"], "complete", "the model answers anyway: {reply}");
    assert!(reply["content"].as_str().unwrap().starts_with("Mock result Error (timeout)"), "{reply}");

    // The same server answers the next call: the timeout did not break the connection.
    api.configure(&manifests("echo", &transport, "  timeouts: {call: 5s}", "[everything/echo]"));
    let (events, _) = ask(&api, &user, &session, "again").await;
    assert_eq!(events_named(&events, "tool_result")[0]["output"], "Echo: mock");
}

pub async fn tools_of_a_server_closed_to_the_users_group_or_unreachable_are_not_offered(api: Api) {
    let Some(entry) = everything() else { return };
    api.configure(&manifests("echo", &stdio(&entry), "  groups: [vip]", "[everything]"));
    let user = api.user_with_balance("alice", "5").await;
    let session = toolsmith_session(&api, &user).await;
    let (events, reply) = ask(&api, &user, &session, "anything?").await;
    assert!(events_named(&events, "tool_call").is_empty(), "{events:?}");
    assert!(reply["content"].as_str().unwrap().starts_with("Mock answer"), "{reply}");

    // A server that is not there: the reply is answered without tools.
    api.configure(&manifests("echo", "  url: http://127.0.0.1:9/mcp", "", "[everything]"));
    let (events, reply) = ask(&api, &user, &session, "still there?").await;
    assert!(events_named(&events, "tool_call").is_empty(), "{events:?}");
    assert_eq!(reply["status"], "complete");
    assert_eq!(reply["tool_calls"], json!([]));
}

/// Reads the reply's events until its tool call waits for approval; returns that call's id.
async fn until_awaiting_approval(reader: &mut crate::support::Reader) -> String {
    loop {
        let event = reader.next().await.expect("the stream ended before asking for approval");
        if event.event == "tool_call" && event.data["status"] == "awaiting_approval" {
            return event.data["id"].as_str().unwrap().to_string();
        }
    }
}

pub async fn a_tool_that_needs_approval_waits_for_the_user_and_runs_only_if_approved(api: Api) {
    let Some(entry) = everything() else { return };
    api.configure(&manifests("echo", &stdio(&entry), "  approvalRequired: [echo]", "[everything]"));
    let user = api.user_with_balance("alice", "5").await;
    let mallory = api.user_with_balance("mallory", "5").await;
    let session = toolsmith_session(&api, &user).await;

    let sent = api.send(&user, &session, json!({"content": "may I?"})).await;
    let reply = sent["stream_id"].as_str().unwrap().to_string();
    let mut reader = api.open_stream(&user, &reply, None).await;
    let call = until_awaiting_approval(&mut reader).await;
    let approval = format!("/api/v1/chat/messages/{reply}/tool-calls/{call}/approval");
    // Nobody else can decide, and a decision must say what it is.
    let (status, _) = api.post(&mallory, &approval, json!({"approve": true})).await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
    let (status, body) = api.post(&user, &approval, json!({"approve": "yes"})).await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
    // A reader that comes (back) while the call waits sees it waiting: a reload keeps the card.
    let mut reloaded = api.open_stream(&user, &reply, None).await;
    assert_eq!(until_awaiting_approval(&mut reloaded).await, call);
    let (status, decided) = api.post(&user, &approval, json!({"approve": true})).await;
    assert_eq!((status, decided["status"].as_str()), (reqwest::StatusCode::ACCEPTED, Some("approved")));
    let events = reader.rest().await;
    let ended = events_named(&events, "tool_result");
    assert_eq!((ended[0]["status"].as_str(), ended[0]["output"].as_str()), (Some("ok"), Some("Echo: mock")));
    let stored = api.wait_for_reply(&user, &session, &reply).await;
    assert!(stored["content"].as_str().unwrap().starts_with("Mock result Echo: mock"), "{stored}");
    // The reply is over: there is nothing left to decide.
    let (status, _) = api.post(&user, &approval, json!({"approve": true})).await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);

    // Rejected: the tool does not run and the model is told so.
    let sent = api.send(&user, &session, json!({"content": "and now?"})).await;
    let reply = sent["stream_id"].as_str().unwrap().to_string();
    let mut reader = api.open_stream(&user, &reply, None).await;
    let call = until_awaiting_approval(&mut reader).await;
    let path = format!("/api/v1/chat/messages/{reply}/tool-calls/{call}/approval");
    let (status, _) = api.post(&user, &path, json!({"approve": false})).await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED);
    let events = reader.rest().await;
    let ended = events_named(&events, "tool_result");
    assert_eq!((ended[0]["status"].as_str(), ended[0]["error"]["code"].as_str()), (Some("rejected"), Some("rejected")));
    let stored = api.wait_for_reply(&user, &session, &reply).await;
    assert!(stored["content"].as_str().unwrap().starts_with("Mock result Error (rejected)"), "{stored}");
    assert_eq!(stored["tool_calls"][0]["status"], "rejected");
}

pub async fn a_user_adds_an_mcp_server_turns_it_on_for_a_session_and_its_tools_answer(api: Api) {
    let Some(entry) = everything() else { return };
    let server = EverythingHttp::start(std::path::Path::new(&entry)).await;
    api.configure(&manifests("echo", &stdio(&entry), "  groups: [vip]", "[]"));
    let user = api.user_with_balance("alice", "5").await;
    let mallory = api.user_with_balance("mallory", "5").await;

    // Link-local (where cloud metadata lives) is refused whatever the settings; so is stdio.
    let refused = json!({"name": "Metadata", "url": "http://169.254.169.254/mcp"});
    let (status, body) = api.post(&user, "/api/v1/chat/tool-servers", refused).await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("url:"), "{body}");
    let (status, _) = api.post(&user, "/api/v1/chat/tool-servers", json!({"name": "x", "command": "sh"})).await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "no stdio for users");

    let mine = json!({"name": "My tools", "url": server.url, "headers": {"authorization": "Bearer s3cret"}});
    let (status, created) = api.post(&user, "/api/v1/chat/tool-servers", mine).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{created}");
    assert_eq!(created["header_names"], json!(["authorization"]));
    assert!(!created.to_string().contains("s3cret"), "a header value is never shown: {created}");
    let reference = created["ref"].as_str().unwrap().to_string();
    let (_, listed) = api.get(&user, "/api/v1/chat/tool-servers").await;
    assert_eq!(listed["user"][0]["ref"], reference.as_str());
    assert_eq!(listed["platform"], json!([]), "the platform's server is for vip only: {listed}");

    let session = api.session(&user, json!({"model": "tool-model"})).await;
    let path = format!("/api/v1/chat/sessions/{session}");
    // Not someone else's server, not a platform server closed to the user's group.
    let (status, _) = api.patch(&user, &path, json!({"tools": ["default/everything"]})).await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST);
    let mallorys = api.session(&mallory, json!({"model": "tool-model"})).await;
    let (status, _) =
        api.patch(&mallory, &format!("/api/v1/chat/sessions/{mallorys}"), json!({"tools": [reference]})).await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST);
    let (status, patched) = api.patch(&user, &path, json!({"tools": [reference]})).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{patched}");
    assert_eq!(patched["tools"], json!([reference]));

    let (events, reply) = ask(&api, &user, &session, "use my tools").await;
    let ended = events_named(&events, "tool_result");
    assert_eq!(
        (ended[0]["server"].as_str(), ended[0]["output"].as_str()),
        (Some(reference.as_str()), Some("Echo: mock"))
    );
    assert_eq!(ended[0]["server_name"], "My tools", "the card names the server as its user does");
    assert!(reply["content"].as_str().unwrap().starts_with("Mock result Echo: mock"), "{reply}");

    // Gone: the session's replies simply lose its tools.
    let id = created["id"].as_str().unwrap();
    let (status, _) = api.delete(&mallory, &format!("/api/v1/chat/tool-servers/{id}")).await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
    let (status, _) = api.delete(&user, &format!("/api/v1/chat/tool-servers/{id}")).await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT);
    let (events, _) = ask(&api, &user, &session, "and now?").await;
    assert!(events_named(&events, "tool_call").is_empty(), "{events:?}");
}

pub async fn a_model_that_keeps_calling_tools_must_answer_after_the_last_allowed_round(api: Api) {
    let Some(entry) = everything() else { return };
    // `tool_loop`: the mock calls `echo` again after every result, until told `tool_choice: none`.
    api.configure(&manifests("echo,tool_loop", &stdio(&entry), "", "[everything]"));
    let user = api.user_with_balance("alice", "5").await;
    let session = toolsmith_session(&api, &user).await;
    let (events, reply) = ask(&api, &user, &session, "loop forever").await;
    // The test chat allows 3 rounds (`max_tool_steps`), then the model must answer in words.
    assert_eq!(events_named(&events, "tool_result").len(), 3, "{events:?}");
    assert_eq!(reply["status"], "complete", "{reply}");
    assert_eq!(reply["tool_calls"].as_array().unwrap().len(), 3);
    let upstream = api.upstream_requests().await;
    let last = upstream.iter().rev().find(|r| r["body"]["stream"] == true).unwrap();
    assert_eq!(last["body"]["tool_choice"], "none", "{last}");
}
