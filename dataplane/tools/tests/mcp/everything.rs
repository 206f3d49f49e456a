//! Against the real MCP test server, over both transports: every scenario below runs once over
//! Streamable HTTP and once over stdio (`http::*` and `stdio::*`).

use std::time::{Duration, Instant};

use oblivious_config::ToolServer;
use oblivious_tools::{ServerOrigin, ToolError, ToolHub};
use serde_json::json;

use crate::support::{EverythingHttp, args, everything_path, http_server, hub, stdio_server};

/// A running test server (HTTP mode keeps its process here) and its configuration.
pub struct Target {
    pub server: ToolServer,
    http: Option<EverythingHttp>,
}

impl Target {
    async fn http() -> Option<Self> {
        let path = everything_path()?;
        let http = EverythingHttp::start(&path).await;
        Some(Self { server: http_server(&http.url), http: Some(http) })
    }

    async fn stdio() -> Option<Self> {
        let path = everything_path()?;
        Some(Self { server: stdio_server(&path), http: None })
    }

    async fn finish(self, hub: ToolHub) {
        hub.shutdown().await;
        if let Some(http) = self.http {
            http.stop().await;
        }
    }
}

macro_rules! over_both_transports {
    ($($scenario:ident),* $(,)?) => {
        mod http {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let Some(target) = super::Target::http().await else { return };
                    super::$scenario(target).await;
                }
            )*
        }
        mod stdio {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let Some(target) = super::Target::stdio().await else { return };
                    super::$scenario(target).await;
                }
            )*
        }
    };
}

over_both_transports!(
    lists_its_tools_and_the_allow_list_filters_them,
    echo_returns_the_message,
    get_sum_adds_the_numbers,
    wrong_argument_types_come_back_as_an_error_result_the_model_can_read,
    a_tool_outside_the_allow_list_is_refused_without_asking_the_server,
    an_image_becomes_a_placeholder,
    a_slow_tool_times_out_and_the_next_call_still_works,
);

async fn lists_its_tools_and_the_allow_list_filters_them(mut target: Target) {
    let hub = hub();
    let tools = hub.list_tools(&target.server, ServerOrigin::Platform).await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains(&"echo") && names.contains(&"get-sum"), "{names:?}");
    let echo = tools.iter().find(|t| t.name == "echo").unwrap();
    assert_eq!(echo.description, "Echoes back the input string");
    assert_eq!(echo.input_schema["properties"]["message"]["type"], "string");

    target.server.allowed_tools = vec!["get-sum".into(), "no-such-tool".into()];
    let allowed = hub.list_tools(&target.server, ServerOrigin::Platform).await.unwrap();
    assert_eq!(allowed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["get-sum"]);
    target.finish(hub).await;
}

async fn echo_returns_the_message(target: Target) {
    let hub = hub();
    let output = hub
        .call_tool(&target.server, ServerOrigin::Platform, "echo", args(json!({"message": "hello, tools"})))
        .await
        .unwrap();
    assert_eq!(output.text, "Echo: hello, tools");
    assert!(!output.is_error);
    target.finish(hub).await;
}

async fn get_sum_adds_the_numbers(target: Target) {
    let hub = hub();
    let output =
        hub.call_tool(&target.server, ServerOrigin::Platform, "get-sum", args(json!({"a": 2, "b": 40}))).await.unwrap();
    assert_eq!(output.text, "The sum of 2 and 40 is 42.");
    assert!(!output.is_error);
    target.finish(hub).await;
}

async fn wrong_argument_types_come_back_as_an_error_result_the_model_can_read(target: Target) {
    // The server validates arguments itself and answers with `isError: true` (not a JSON-RPC
    // error), so the model sees what was wrong and can retry.
    let hub = hub();
    let output = hub
        .call_tool(&target.server, ServerOrigin::Platform, "get-sum", args(json!({"a": "two", "b": []})))
        .await
        .unwrap();
    assert!(output.is_error);
    assert!(output.text.contains("Input validation error"), "{}", output.text);
    assert!(output.text.contains("expected number"), "{}", output.text);

    let unknown = hub.call_tool(&target.server, ServerOrigin::Platform, "no-such-tool", args(json!({}))).await.unwrap();
    assert!(unknown.is_error);
    assert!(unknown.text.contains("no-such-tool not found"), "{}", unknown.text);
    target.finish(hub).await;
}

async fn a_tool_outside_the_allow_list_is_refused_without_asking_the_server(mut target: Target) {
    let hub = hub();
    target.server.allowed_tools = vec!["echo".into()];
    let refused = hub.call_tool(&target.server, ServerOrigin::Platform, "get-sum", args(json!({"a": 1, "b": 2}))).await;
    assert_eq!(refused, Err(ToolError::NotAllowed { tool: "get-sum".into() }));
    let allowed =
        hub.call_tool(&target.server, ServerOrigin::Platform, "echo", args(json!({"message": "ok"}))).await.unwrap();
    assert_eq!(allowed.text, "Echo: ok");
    target.finish(hub).await;
}

async fn an_image_becomes_a_placeholder(target: Target) {
    let hub = hub();
    let output =
        hub.call_tool(&target.server, ServerOrigin::Platform, "get-tiny-image", args(json!({}))).await.unwrap();
    assert!(output.text.contains("[image: image/png]"), "{}", output.text);
    assert!(!output.text.contains("iVBORw0KGgo"), "the base64 image data must not reach the model");
    target.finish(hub).await;
}

async fn a_slow_tool_times_out_and_the_next_call_still_works(mut target: Target) {
    let hub = hub();
    // Connect first, so the 500 ms measure only the call.
    hub.list_tools(&target.server, ServerOrigin::Platform).await.unwrap();
    target.server.call_timeout_ms = 500;
    let started = Instant::now();
    let slow = hub
        .call_tool(
            &target.server,
            ServerOrigin::Platform,
            "trigger-long-running-operation",
            args(json!({"duration": 30, "steps": 3})),
        )
        .await;
    assert_eq!(slow, Err(ToolError::Timeout { after_ms: 500 }));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());

    let next =
        hub.call_tool(&target.server, ServerOrigin::Platform, "echo", args(json!({"message": "still here"}))).await;
    assert_eq!(next.map(|o| o.text), Ok("Echo: still here".to_owned()));
    target.finish(hub).await;
}

#[tokio::test]
async fn http_a_changed_header_opens_a_new_session_and_closes_the_old_one() {
    let Some(target) = Target::http().await else { return };
    let hub = hub();
    let mut server = target.server.clone();
    server.headers.insert("authorization".into(), "Bearer first".into());
    for _ in 0..3 {
        hub.call_tool(&server, ServerOrigin::Platform, "echo", args(json!({"message": "a"}))).await.unwrap();
    }
    // A changed timeout or allow-list keeps the session; a changed secret does not.
    server.call_timeout_ms = 10_000;
    server.allowed_tools = vec!["echo".into()];
    hub.call_tool(&server, ServerOrigin::Platform, "echo", args(json!({"message": "b"}))).await.unwrap();
    server.headers.insert("authorization".into(), "Bearer rotated".into());
    hub.call_tool(&server, ServerOrigin::Platform, "echo", args(json!({"message": "c"}))).await.unwrap();

    hub.shutdown().await;
    let log = target.http.unwrap().stop().await;
    assert_eq!(log.matches("Session initialized with ID").count(), 2, "{log}");
    assert_eq!(log.matches("Received session termination request").count(), 2, "{log}");
}

#[tokio::test]
async fn stdio_a_changed_environment_starts_a_new_process_that_sees_it() {
    let Some(target) = Target::stdio().await else { return };
    let hub = hub();
    let mut server = target.server.clone();
    server.env.insert("OBLIVIOUS_TOOLS_MARKER".into(), "first".into());
    let env =
        |output: oblivious_tools::ToolOutput| -> serde_json::Value { serde_json::from_str(&output.text).unwrap() };

    let first = env(hub.call_tool(&server, ServerOrigin::Platform, "get-env", args(json!({}))).await.unwrap());
    assert_eq!(first["OBLIVIOUS_TOOLS_MARKER"], "first");
    server.env.insert("OBLIVIOUS_TOOLS_MARKER".into(), "second".into());
    let second = env(hub.call_tool(&server, ServerOrigin::Platform, "get-env", args(json!({}))).await.unwrap());
    assert_eq!(second["OBLIVIOUS_TOOLS_MARKER"], "second");
    target.finish(hub).await;
}

#[tokio::test]
async fn stdio_a_server_sees_only_its_configured_environment() {
    let Some(target) = Target::stdio().await else { return };
    // Cargo sets this for the test process; a tool server must not inherit our environment.
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
    let hub = hub();
    let output = hub.call_tool(&target.server, ServerOrigin::Platform, "get-env", args(json!({}))).await.unwrap();
    let env: serde_json::Value = serde_json::from_str(&output.text).unwrap();
    assert!(env.get("CARGO_MANIFEST_DIR").is_none(), "{env}");
    assert!(env.get("PATH").is_some(), "{env}");
    target.finish(hub).await;
}

#[tokio::test]
async fn stdio_a_killed_server_is_replaced_on_next_use() {
    let Some(path) = everything_path() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = stdio_server_recording_pid(&path, &dir.path().join("pid"));
    let hub = hub();
    hub.call_tool(&server, ServerOrigin::Platform, "echo", args(json!({"message": "1"}))).await.unwrap();
    let first_pid = read_pid(&dir.path().join("pid"));
    let status = std::process::Command::new("kill").args(["-9", &first_pid.to_string()]).status().unwrap();
    assert!(status.success());

    // The hub may learn of the death from this call (reported, connection dropped) or before it
    // (reconnects at once); either way it never hangs and the call after it works.
    let racing = hub.call_tool(&server, ServerOrigin::Platform, "echo", args(json!({"message": "2"}))).await;
    assert!(
        matches!(&racing, Ok(o) if o.text == "Echo: 2") || matches!(racing, Err(ToolError::Unreachable { .. })),
        "{racing:?}"
    );
    let after = hub.call_tool(&server, ServerOrigin::Platform, "echo", args(json!({"message": "3"}))).await.unwrap();
    assert_eq!(after.text, "Echo: 3");
    assert_ne!(read_pid(&dir.path().join("pid")), first_pid, "a new process serves the server");
    hub.shutdown().await;
}

#[tokio::test]
async fn stdio_shutdown_stops_the_server_process() {
    let Some(path) = everything_path() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = stdio_server_recording_pid(&path, &dir.path().join("pid"));
    let hub = hub();
    hub.list_tools(&server, ServerOrigin::Platform).await.unwrap();
    let pid = read_pid(&dir.path().join("pid"));
    let proc_entry = std::path::PathBuf::from(format!("/proc/{pid}"));
    assert!(proc_entry.exists());
    hub.shutdown().await;
    assert!(!proc_entry.exists(), "process {pid} is still there after shutdown");
}

#[tokio::test]
async fn http_a_user_server_on_localhost_needs_private_addresses_allowed() {
    let Some(target) = Target::http().await else { return };
    // `localhost`, not 127.0.0.1: the name is resolved, checked and pinned.
    let url = target.http.as_ref().unwrap().url.replace("127.0.0.1", "localhost");
    let server = ToolServer { name: "user/local".into(), url, ..ToolServer::default() };

    let strict = hub();
    let refused = strict.list_tools(&server, ServerOrigin::User).await;
    assert_eq!(refused.map_err(|e| e.code()), Err("address_refused"));

    let relaxed =
        ToolHub::new(oblivious_tools::HubSettings { allow_private_user_addresses: true, ..Default::default() });
    let tools = relaxed.list_tools(&server, ServerOrigin::User).await.unwrap();
    assert!(tools.iter().any(|t| t.name == "echo"));
    relaxed.shutdown().await;
    target.finish(strict).await;
}

#[tokio::test]
async fn stdio_retain_drops_only_the_servers_no_longer_configured() {
    let Some(path) = everything_path() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (kept_pid, dropped_pid) = (dir.path().join("kept"), dir.path().join("dropped"));
    let kept = ToolServer { name: "test/kept".into(), ..stdio_server_recording_pid(&path, &kept_pid) };
    let dropped = ToolServer { name: "test/dropped".into(), ..stdio_server_recording_pid(&path, &dropped_pid) };
    let hub = hub();
    for server in [&kept, &dropped] {
        hub.list_tools(server, ServerOrigin::Platform).await.unwrap();
    }
    let (kept_first, dropped_first) = (read_pid(&kept_pid), read_pid(&dropped_pid));

    hub.retain(&["test/kept"]);
    // Asking again reaches the kept server's running process and starts the dropped one anew.
    let echo = |server| hub.call_tool(server, ServerOrigin::Platform, "echo", args(json!({"message": "x"})));
    echo(&kept).await.unwrap();
    echo(&dropped).await.unwrap();
    assert_eq!(read_pid(&kept_pid), kept_first);
    assert_ne!(read_pid(&dropped_pid), dropped_first);
    hub.shutdown().await;
}

/// The test server started through `sh`, which records its pid in `pid_file` and then becomes
/// the server (`exec`), so the pid is the server's own.
fn stdio_server_recording_pid(path: &std::path::Path, pid_file: &std::path::Path) -> ToolServer {
    ToolServer {
        name: "test/everything-pid".into(),
        command: vec![
            "sh".into(),
            "-c".into(),
            r#"echo $$ > "$0"; exec node "$1" stdio"#.into(),
            pid_file.display().to_string(),
            path.display().to_string(),
        ],
        ..ToolServer::default()
    }
}

fn read_pid(pid_file: &std::path::Path) -> u32 {
    std::fs::read_to_string(pid_file).unwrap().trim().parse().unwrap()
}

#[tokio::test]
async fn http_a_timed_out_call_is_cancelled_on_the_server() {
    let Some(target) = Target::http().await else { return };
    let hub = hub();
    let mut server = target.server.clone();
    hub.list_tools(&server, ServerOrigin::Platform).await.unwrap();
    server.call_timeout_ms = 300;
    let slow = hub
        .call_tool(
            &server,
            ServerOrigin::Platform,
            "trigger-long-running-operation",
            args(json!({"duration": 30, "steps": 3})),
        )
        .await;
    assert_eq!(slow, Err(ToolError::Timeout { after_ms: 300 }));
    hub.call_tool(&server, ServerOrigin::Platform, "echo", args(json!({"message": "after"}))).await.unwrap();
    hub.shutdown().await;

    // The server logs one line per POST: initialize, initialized, tools/list, the slow
    // tools/call, its `notifications/cancelled`, and the echo.
    let log = target.http.unwrap().stop().await;
    assert_eq!(log.matches("Received MCP POST request").count(), 6, "{log}");
}
