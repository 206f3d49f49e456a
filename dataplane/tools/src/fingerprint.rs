//! Identifies the part of a server's configuration a live connection was made from, so the hub
//! can tell when to reconnect. Only what shapes the connection counts (address, command,
//! environment, headers, origin): a changed allow-list or timeout applies to the next call
//! without dropping the session.

use std::hash::{DefaultHasher, Hash, Hasher};

use oblivious_config::ToolServer;

use crate::ServerOrigin;

/// A hash kept in memory only; it covers secret headers and is never logged or sent anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint(u64);

impl Fingerprint {
    pub(crate) fn of(server: &ToolServer, origin: ServerOrigin) -> Self {
        let mut hasher = DefaultHasher::new();
        origin.hash(&mut hasher);
        server.url.hash(&mut hasher);
        server.command.hash(&mut hasher);
        server.env.hash(&mut hasher);
        server.headers.hash(&mut hasher);
        Self(hasher.finish())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn server() -> ToolServer {
        ToolServer { name: "ns/tools".into(), url: "http://tools/mcp".into(), ..Default::default() }
    }

    #[test]
    fn connection_settings_change_the_fingerprint() {
        let base = Fingerprint::of(&server(), ServerOrigin::Platform);
        let mut with_header = server();
        with_header.headers.insert("authorization".into(), "Bearer new".into());
        let mut with_env = server();
        with_env.env.insert("A".into(), "1".into());
        let mut with_url = server();
        with_url.url = "http://other/mcp".into();
        for changed in [with_header, with_env, with_url] {
            assert_ne!(Fingerprint::of(&changed, ServerOrigin::Platform), base);
        }
        assert_ne!(Fingerprint::of(&server(), ServerOrigin::User), base);
    }

    #[test]
    fn allow_lists_and_timeouts_do_not() {
        let mut changed = server();
        changed.allowed_tools = vec!["echo".into()];
        changed.call_timeout_ms = 5;
        changed.groups = vec!["staff".into()];
        assert_eq!(
            Fingerprint::of(&changed, ServerOrigin::Platform),
            Fingerprint::of(&server(), ServerOrigin::Platform)
        );
    }
}
