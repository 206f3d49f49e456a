//! Fixtures for other crates' tests (feature `testing`): the real MCP reference server
//! (`@modelcontextprotocol/server-everything`, installed by `scripts/mcp-everything`), found
//! through `OBLIVIOUS_TEST_MCP_EVERYTHING` and started over Streamable HTTP on a free port.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

const PATH_VAR: &str = "OBLIVIOUS_TEST_MCP_EVERYTHING";
const REQUIRE_VAR: &str = "OBLIVIOUS_REQUIRE_MCP";
/// Node starts the server in about a second; this only bounds a broken install.
const STARTUP_DEADLINE: Duration = Duration::from_secs(30);

/// Path of the test server's `dist/index.js`, or `None` (with the reason printed) when it is not
/// configured. With `OBLIVIOUS_REQUIRE_MCP=1` a missing server fails the test instead.
pub fn everything_path() -> Option<PathBuf> {
    match std::env::var_os(PATH_VAR) {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(path.is_file(), "{PATH_VAR}={} is not a file", path.display());
            Some(path)
        }
        None if std::env::var(REQUIRE_VAR).as_deref() == Ok("1") => {
            panic!("{PATH_VAR} is not set but {REQUIRE_VAR}=1: run `export {PATH_VAR}=\"$(scripts/mcp-everything)\"`")
        }
        None => {
            eprintln!(
                "skipped: {PATH_VAR} is not set (export {PATH_VAR}=\"$(scripts/mcp-everything)\" to run the MCP tests)"
            );
            None
        }
    }
}

/// The test server in Streamable HTTP mode on a free local port; killed when dropped.
pub struct EverythingHttp {
    pub url: String,
    child: Child,
    stdout: JoinHandle<String>,
}

impl EverythingHttp {
    pub async fn start(path: &Path) -> Self {
        // The port is free when we look; another process may take it before node binds it, so
        // a start that reports the port in use is retried on a new one.
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new("node")
                .arg(path)
                .arg("streamableHttp")
                .env("PORT", port.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("node starts");
            let stderr = child.stderr.take().expect("piped stderr");
            let stdout = child.stdout.take().expect("piped stdout");
            // Drain stdout from the start: a full pipe would block the server.
            let stdout = tokio::spawn(async move {
                let mut log = String::new();
                let _ = BufReader::new(stdout).read_to_string(&mut log).await;
                log
            });
            match tokio::time::timeout(STARTUP_DEADLINE, wait_for_listening(stderr)).await {
                Ok(Startup::Listening) => {
                    return Self { url: format!("http://127.0.0.1:{port}/mcp"), child, stdout };
                }
                Ok(Startup::PortTaken) => continue,
                Ok(Startup::Exited(last)) => panic!("the MCP test server exited while starting: {last}"),
                Err(_) => panic!("the MCP test server did not report listening within {STARTUP_DEADLINE:?}"),
            }
        }
        panic!("no free port for the MCP test server after 3 tries");
    }

    /// Stops the server and returns everything it printed on stdout (its request log).
    pub async fn stop(mut self) -> String {
        let _ = self.child.kill().await;
        (&mut self.stdout).await.expect("stdout reader")
    }
}

enum Startup {
    Listening,
    PortTaken,
    Exited(String),
}

/// Reads the server's stderr until it says it is listening, then keeps draining it.
async fn wait_for_listening(stderr: tokio::process::ChildStderr) -> Startup {
    let mut lines = BufReader::new(stderr).lines();
    let mut last = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains("listening on port") {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Startup::Listening;
        }
        if line.contains("already in use") {
            return Startup::PortTaken;
        }
        last = line;
    }
    Startup::Exited(last)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}
