//! Decisions the hub makes before talking to any server: origins, stdio, configuration.

use oblivious_config::ToolServer;
use oblivious_tools::{AddressRefusal, BlockedRange, HubSettings, ServerOrigin, ToolError, ToolHub};

use crate::support::hub;

fn stdio(command: &[&str]) -> ToolServer {
    ToolServer {
        name: "test/stdio".into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn stdio_is_never_started_for_user_servers() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("started");
    let server = stdio(&["sh", "-c", &format!("touch {}", marker.display())]);
    let error = hub().list_tools(&server, ServerOrigin::User).await.unwrap_err();
    assert_eq!(error, ToolError::StdioUnavailable);
    assert!(!marker.exists(), "the program ran");
}

#[tokio::test]
async fn a_hub_without_stdio_refuses_platform_stdio_servers() {
    let hub = ToolHub::new(HubSettings::default());
    let error = hub.list_tools(&stdio(&["node", "server.js"]), ServerOrigin::Platform).await.unwrap_err();
    assert_eq!(error, ToolError::StdioUnavailable);
}

#[tokio::test]
async fn a_program_that_cannot_start_is_unreachable() {
    let error = hub().list_tools(&stdio(&["/nonexistent/mcp-server"]), ServerOrigin::Platform).await.unwrap_err();
    assert_eq!(error.code(), "unreachable", "{error}");
}

#[tokio::test]
async fn a_program_that_exits_before_the_handshake_is_unreachable() {
    let error = hub().list_tools(&stdio(&["sh", "-c", "exit 3"]), ServerOrigin::Platform).await.unwrap_err();
    assert_eq!(error.code(), "unreachable", "{error}");
}

#[tokio::test]
async fn a_program_that_prints_garbage_never_completes_the_handshake_and_is_stopped() {
    // rmcp skips stdout lines that are not JSON-RPC (servers print logs there), so garbage
    // means no handshake: the connect timeout ends the wait, and the child must not outlive it.
    // The child holds the write end of a FIFO; the FIFO reaches end-of-file once it is dead.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("alive");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let reader = tokio::task::spawn_blocking({
        let fifo = fifo.clone();
        move || std::fs::read_to_string(fifo)
    });
    let script =
        format!(r#"exec 3>"{}"; echo started >&3; echo 'this is not json-rpc'; exec sleep 600"#, fifo.display());
    let hub = ToolHub::new(HubSettings {
        allow_stdio: true,
        connect_timeout: std::time::Duration::from_millis(700),
        ..Default::default()
    });
    let error = hub.list_tools(&stdio(&["sh", "-c", &script]), ServerOrigin::Platform).await.unwrap_err();
    assert_eq!(error, ToolError::Timeout { after_ms: 700 });

    match tokio::time::timeout(std::time::Duration::from_secs(5), reader).await {
        Ok(seen) => assert_eq!(seen.unwrap().unwrap(), "started\n"),
        Err(_) => {
            // Release the blocked reader so the test can end, then fail.
            drop(std::fs::OpenOptions::new().write(true).open(&fifo));
            panic!("the stdio child still runs after the connect timeout");
        }
    }
}

#[tokio::test]
async fn user_servers_in_blocked_ranges_are_refused_before_any_connection() {
    let cases = [
        ("http://10.255.255.1/mcp", BlockedRange::Private),
        ("http://169.254.169.254/mcp", BlockedRange::LinkLocal),
        ("http://[::ffff:127.0.0.1]:9/mcp", BlockedRange::Loopback),
    ];
    for (url, range) in cases {
        let server = ToolServer { name: "user/x".into(), url: url.into(), ..Default::default() };
        let error = hub().list_tools(&server, ServerOrigin::User).await.unwrap_err();
        assert_eq!(error, ToolError::AddressRefused(AddressRefusal::Blocked(range)), "{url}");
        assert_eq!(error.code(), "address_refused");
    }
    let ftp = ToolServer { name: "user/x".into(), url: "ftp://93.184.216.34/".into(), ..Default::default() };
    assert_eq!(
        hub().list_tools(&ftp, ServerOrigin::User).await,
        Err(ToolError::AddressRefused(AddressRefusal::Scheme))
    );
}

#[tokio::test]
async fn unusable_configurations_are_misconfigured_without_echoing_secrets() {
    let neither = ToolServer { name: "test/empty".into(), ..Default::default() };
    let both = ToolServer { url: "http://127.0.0.1:9/mcp".into(), ..stdio(&["node"]) };
    let mut bad_header =
        ToolServer { name: "test/h".into(), url: "http://127.0.0.1:9/mcp".into(), ..Default::default() };
    bad_header.headers.insert("authorization".into(), "Bearer secret\nvalue".into());
    let bad_url = ToolServer { name: "test/u".into(), url: "file:///etc/passwd".into(), ..Default::default() };
    for server in [neither, both, bad_header, bad_url] {
        let error = hub().list_tools(&server, ServerOrigin::Platform).await.unwrap_err();
        assert_eq!(error.code(), "misconfigured", "{error}");
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}
