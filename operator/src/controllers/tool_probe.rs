//! Asking a ToolServer which tools it has. The MCP client itself is injected ([`ToolProbe`]),
//! so the operator builds and is tested without one; [`ProbeLedger`] keeps the last answer per
//! server so that the reconciles every resync tick causes do not call the server each time:
//! a server is asked again when its compiled form changed (spec, or a rotated Secret), and
//! otherwise every [`PROBE_EVERY`] (every [`RETRY_FAILED`] while it fails).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oblivious_config::ToolServer;

use super::{now_rfc3339, truncate};

/// How often a reachable server is asked again.
pub const PROBE_EVERY: Duration = Duration::from_secs(300);
/// How soon a failing server is asked again (someone is probably fixing it).
pub const RETRY_FAILED: Duration = Duration::from_secs(60);
/// Longest one probe may take, whatever the probe's own timeouts.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// A ledger entry older than this belongs to a deleted server (live ones are re-probed sooner).
const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// Error messages are cut to this many bytes.
const MAX_MESSAGE: usize = 1024;

/// Lists the tools of an MCP server, the way the data plane's client would connect to it.
#[tonic::async_trait]
pub trait ToolProbe: Send + Sync + 'static {
    /// The tools `server` lists, as `(name, description)`; or why not, as a short error code and
    /// message (`connect: connection refused`). The message is shown in status and events: it
    /// must never contain a header value.
    async fn list_tools(&self, server: &ToolServer) -> Result<Vec<(String, String)>, String>;
}

/// One probe of one server.
#[derive(Clone)]
pub struct Probe {
    /// The compiled server that was asked.
    pub target: Arc<ToolServer>,
    /// When (monotonic, for throttling).
    pub at: Instant,
    /// When (RFC 3339, for status).
    pub at_rfc3339: String,
    /// The tools, or why the server could not be asked.
    pub outcome: Result<Vec<(String, String)>, String>,
}

impl Probe {
    /// How long until this probe is stale.
    pub fn due_in(&self) -> Duration {
        let every = if self.outcome.is_ok() { PROBE_EVERY } else { RETRY_FAILED };
        every.saturating_sub(self.at.elapsed())
    }
}

/// The last probe of each ToolServer (`namespace/name`).
#[derive(Default)]
pub struct ProbeLedger {
    last: Mutex<HashMap<String, Probe>>,
}

impl ProbeLedger {
    /// The last probe of `key` if it asked `target` as it is now and is not yet stale.
    pub fn fresh(&self, key: &str, target: &ToolServer) -> Option<Probe> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.get(key).filter(|p| *p.target == *target && !p.due_in().is_zero()).cloned()
    }

    /// Asks `target` through `probe` and remembers the answer.
    pub async fn probe(&self, key: &str, target: Arc<ToolServer>, probe: &dyn ToolProbe) -> Probe {
        let outcome = match tokio::time::timeout(PROBE_TIMEOUT, probe.list_tools(&target)).await {
            Ok(Ok(tools)) => Ok(tools),
            Ok(Err(message)) => Err(truncate(scrub(message, &target), MAX_MESSAGE)),
            Err(_) => Err(format!("timeout: no answer within {}s", PROBE_TIMEOUT.as_secs())),
        };
        let probe = Probe { target, at: Instant::now(), at_rfc3339: now_rfc3339(), outcome };
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.retain(|_, p| p.at.elapsed() < FORGET_AFTER);
        last.insert(key.to_string(), probe.clone());
        probe
    }
}

/// Replaces any header value (and any long word of one, such as the token after `Bearer`) in a
/// probe's message: a careless client might echo a request, and status must never show a key.
fn scrub(mut message: String, target: &ToolServer) -> String {
    let mut secrets: Vec<&str> = Vec::new();
    for value in target.headers.values() {
        secrets.push(value.as_str());
        secrets.extend(value.split_whitespace());
    }
    // Longest first, so a whole value is replaced before the token inside it.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets.into_iter().filter(|s| s.len() >= 8) {
        message = message.replace(secret, "[redacted]");
    }
    message
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    struct Echo;

    #[tonic::async_trait]
    impl ToolProbe for Echo {
        async fn list_tools(&self, server: &ToolServer) -> Result<Vec<(String, String)>, String> {
            Err(format!("http_401: sent {:?}", server.headers))
        }
    }

    fn server() -> ToolServer {
        ToolServer {
            name: "team/github".into(),
            url: "https://mcp.example.com".into(),
            headers: [("authorization".to_string(), "Bearer ghp-0123456789".to_string())].into(),
            ..ToolServer::default()
        }
    }

    #[tokio::test]
    async fn a_probe_message_that_echoes_a_header_value_is_scrubbed() {
        let ledger = ProbeLedger::default();
        let probe = ledger.probe("team/github", Arc::new(server()), &Echo).await;
        let message = probe.outcome.unwrap_err();
        assert!(message.starts_with("http_401:"), "{message}");
        assert!(!message.contains("ghp-0123456789"), "{message}");
    }

    #[tokio::test]
    async fn a_recorded_probe_is_fresh_until_the_target_changes() {
        let ledger = ProbeLedger::default();
        ledger.probe("team/github", Arc::new(server()), &Echo).await;
        assert!(ledger.fresh("team/github", &server()).is_some());
        assert!(ledger.fresh("team/other", &server()).is_none());
        let rotated = ToolServer {
            headers: [("authorization".to_string(), "Bearer ghp-rotated".to_string())].into(),
            ..server()
        };
        assert!(ledger.fresh("team/github", &rotated).is_none(), "a rotated Secret is asked again");
    }
}
