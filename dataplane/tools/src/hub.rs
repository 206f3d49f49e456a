//! `ToolHub`: the live MCP clients of a process, one per configured server, connected on first
//! use, replaced when the server's configuration changes, dropped when they break.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use oblivious_config::ToolServer;
use serde_json::{Map, Value};
use tokio::task::JoinSet;
use url::Url;

use crate::address::check_user_url;
use crate::connection::{Connection, Endpoint, header_map};
use crate::fingerprint::Fingerprint;
use crate::{ToolError, ToolOutput, ToolSpec};

/// Where a server's configuration came from; decides which safety rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerOrigin {
    /// A `ToolServer` resource from the config snapshot: trusted (any address; stdio when the
    /// hub allows it).
    Platform,
    /// A server a user added: the address policy applies ([`crate::address`]) and stdio is
    /// never started.
    User,
}

/// Limits and switches of a [`ToolHub`].
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Timeout of a request when the server sets none (`callTimeoutMs: 0`).
    pub default_call_timeout: Duration,
    /// Longest connecting may take: address check, TCP/TLS or process start, MCP handshake.
    pub connect_timeout: Duration,
    /// How long a server's tool list is reused before it is listed again.
    pub tool_list_ttl: Duration,
    /// Largest answer accepted from an HTTP server (one JSON body or one SSE event), in bytes.
    pub max_response_bytes: usize,
    /// Whether platform stdio servers may be started: only single-process roles such as
    /// `oblivious dev` run local programs.
    pub allow_stdio: bool,
    /// Whether user servers may resolve to loopback and private ranges (development only).
    pub allow_private_user_addresses: bool,
}

impl Default for HubSettings {
    fn default() -> Self {
        Self {
            default_call_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(15),
            tool_list_ttl: Duration::from_secs(60),
            max_response_bytes: 8 * 1024 * 1024,
            allow_stdio: false,
            allow_private_user_addresses: false,
        }
    }
}

/// Keeps one live MCP client per tool server. Cheap to clone: clones share the clients.
///
/// Servers are keyed by name (names must be unique across origins, e.g. user servers under their
/// own prefix) and by a fingerprint of their connection settings: a changed URL, command,
/// environment or header reconnects on next use.
#[derive(Clone, Default)]
pub struct ToolHub {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    settings: HubSettings,
    servers: Mutex<HashMap<String, Arc<ServerSlot>>>,
    /// Connections being closed in the background; `shutdown` waits for them.
    closing: Mutex<JoinSet<()>>,
}

struct ServerSlot {
    fingerprint: Fingerprint,
    /// Held across connecting, so concurrent first uses share one connection.
    connection: tokio::sync::Mutex<Option<Arc<Connection>>>,
    /// Every tool the server listed (unfiltered: the allow-list may change without a reconnect).
    tools: Mutex<Option<(Instant, Arc<[ToolSpec]>)>>,
}

impl ToolHub {
    pub fn new(settings: HubSettings) -> Self {
        Self { inner: Arc::new(Inner { settings, ..Inner::default() }) }
    }

    pub fn settings(&self) -> &HubSettings {
        &self.inner.settings
    }

    /// The server's tools that it allows (`allowedTools`), listed at most once per
    /// [`HubSettings::tool_list_ttl`].
    pub async fn list_tools(&self, server: &ToolServer, origin: ServerOrigin) -> Result<Vec<ToolSpec>, ToolError> {
        let slot = self.slot(server, origin);
        let cached = slot.fresh_tools(self.inner.settings.tool_list_ttl);
        let tools = match cached {
            Some(tools) => tools,
            None => {
                let listed = self.request(&slot, server, origin, |c| async move { c.list_tools().await }).await?;
                let tools: Arc<[ToolSpec]> = listed.into_iter().map(ToolSpec::from_tool).collect();
                *lock(&slot.tools) = Some((Instant::now(), tools.clone()));
                tools
            }
        };
        Ok(tools.iter().filter(|tool| server.allows(&tool.name)).cloned().collect())
    }

    /// Calls `tool` with `arguments`, within the server's `callTimeoutMs` (on timeout the server
    /// is sent an MCP cancellation and the connection is kept).
    pub async fn call_tool(
        &self,
        server: &ToolServer,
        origin: ServerOrigin,
        tool: &str,
        arguments: Map<String, Value>,
    ) -> Result<ToolOutput, ToolError> {
        if !server.allows(tool) {
            return Err(ToolError::NotAllowed { tool: tool.to_owned() });
        }
        let slot = self.slot(server, origin);
        let result = self.request(&slot, server, origin, |c| async move { c.call_tool(tool, arguments).await }).await?;
        Ok(ToolOutput::from_result(result))
    }

    /// Drops (and closes) the clients of servers whose names are not in `names`: call it with
    /// the configured servers whenever the configuration changes.
    pub fn retain<S: AsRef<str>>(&self, names: &[S]) {
        let removed: Vec<Arc<ServerSlot>> = {
            let mut servers = lock(&self.inner.servers);
            let gone: Vec<String> = servers
                .keys()
                .filter(|name| !names.iter().any(|keep| keep.as_ref() == name.as_str()))
                .cloned()
                .collect();
            gone.iter().filter_map(|name| servers.remove(name)).collect()
        };
        for slot in removed {
            self.retire(slot);
        }
    }

    /// Closes every client (stdio children are stopped) and waits for that to finish. The hub
    /// stays usable: a later request connects again.
    pub async fn shutdown(&self) {
        let slots: Vec<Arc<ServerSlot>> = lock(&self.inner.servers).drain().map(|(_, slot)| slot).collect();
        for slot in slots {
            self.retire(slot);
        }
        let closing = std::mem::take(&mut *lock(&self.inner.closing));
        closing.join_all().await;
    }

    /// Runs one request on the server's connection (connecting if needed) within its timeout;
    /// a failure that leaves the connection unusable drops it so the next use reconnects.
    async fn request<T, F, Fut>(
        &self,
        slot: &ServerSlot,
        server: &ToolServer,
        origin: ServerOrigin,
        request: F,
    ) -> Result<T, ToolError>
    where
        F: FnOnce(Arc<Connection>) -> Fut,
        Fut: Future<Output = Result<T, ToolError>>,
    {
        let connection = self.connection(slot, server, origin).await?;
        let timeout = match server.call_timeout_ms {
            0 => self.inner.settings.default_call_timeout,
            ms => Duration::from_millis(ms),
        };
        let result = match tokio::time::timeout(timeout, request(connection.clone())).await {
            Ok(result) => result,
            Err(_) => Err(ToolError::Timeout { after_ms: millis(timeout) }),
        };
        if let Err(error) = &result {
            tracing::info!(server = %server.name, code = error.code(), %error, "tool server request failed");
            if error.breaks_connection() || !connection.is_alive() {
                self.discard(slot, &connection).await;
            }
        }
        result
    }

    /// The server's live connection, connecting when there is none or the last one died. Waiting
    /// for another caller's connect counts against the same connect timeout.
    async fn connection(
        &self,
        slot: &ServerSlot,
        server: &ToolServer,
        origin: ServerOrigin,
    ) -> Result<Arc<Connection>, ToolError> {
        let connect_timeout = self.inner.settings.connect_timeout;
        match tokio::time::timeout(connect_timeout, self.reuse_or_connect(slot, server, origin)).await {
            Ok(connection) => connection.inspect_err(|error| {
                tracing::info!(server = %server.name, code = error.code(), %error, "connecting to a tool server failed");
            }),
            Err(_) => Err(ToolError::Timeout { after_ms: millis(connect_timeout) }),
        }
    }

    async fn reuse_or_connect(
        &self,
        slot: &ServerSlot,
        server: &ToolServer,
        origin: ServerOrigin,
    ) -> Result<Arc<Connection>, ToolError> {
        let mut current = slot.connection.lock().await;
        if let Some(connection) = current.as_ref().filter(|c| c.is_alive()) {
            return Ok(connection.clone());
        }
        if let Some(dead) = current.take() {
            self.close_in_background(dead);
        }
        let endpoint = self.endpoint(server, origin).await?;
        let connection =
            Arc::new(Connection::open(&server.name, endpoint, self.inner.settings.max_response_bytes).await?);
        *current = Some(connection.clone());
        Ok(connection)
    }

    /// Decides how to reach the server, applying the policy of its origin.
    async fn endpoint(&self, server: &ToolServer, origin: ServerOrigin) -> Result<Endpoint, ToolError> {
        match (server.url.is_empty(), server.command.split_first()) {
            (false, Some(_)) => Err(ToolError::misconfigured("both a url and a command are set")),
            (true, None) => Err(ToolError::misconfigured("neither a url nor a command is set")),
            (true, Some((program, args))) => {
                if origin == ServerOrigin::User || !self.inner.settings.allow_stdio {
                    return Err(ToolError::StdioUnavailable);
                }
                Ok(Endpoint::Stdio { program: program.clone(), args: args.to_vec(), env: server.env.clone() })
            }
            (false, None) => {
                let headers = header_map(&server.headers)?;
                match origin {
                    ServerOrigin::Platform => {
                        let url = Url::parse(&server.url)
                            .ok()
                            .filter(|url| matches!(url.scheme(), "http" | "https"))
                            .ok_or_else(|| ToolError::misconfigured("the url is not an http or https URL"))?;
                        Ok(Endpoint::Http { url, headers, pinned: None, direct: false })
                    }
                    ServerOrigin::User => {
                        let allow_private = self.inner.settings.allow_private_user_addresses;
                        let checked = check_user_url(&server.url, allow_private).await?;
                        let pinned = checked.domain.map(|domain| (domain, checked.addrs));
                        Ok(Endpoint::Http { url: checked.url, headers, pinned, direct: true })
                    }
                }
            }
        }
    }

    /// The server's slot, replacing (and closing) the previous one if its configuration changed.
    fn slot(&self, server: &ToolServer, origin: ServerOrigin) -> Arc<ServerSlot> {
        let fingerprint = Fingerprint::of(server, origin);
        let (slot, replaced) = {
            let mut servers = lock(&self.inner.servers);
            if let Some(slot) = servers.get(&server.name).filter(|slot| slot.fingerprint == fingerprint) {
                return slot.clone();
            }
            let slot = Arc::new(ServerSlot {
                fingerprint,
                connection: tokio::sync::Mutex::new(None),
                tools: Mutex::new(None),
            });
            let replaced = servers.insert(server.name.clone(), slot.clone());
            (slot, replaced)
        };
        if let Some(old) = replaced {
            tracing::info!(server = %server.name, "tool server configuration changed; reconnecting");
            self.retire(old);
        }
        slot
    }

    async fn discard(&self, slot: &ServerSlot, connection: &Arc<Connection>) {
        let mut current = slot.connection.lock().await;
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, connection)) {
            current.take();
        }
        drop(current);
        self.close_in_background(connection.clone());
    }

    /// Closes a slot's connection once requests still holding the slot are done with it.
    fn retire(&self, slot: Arc<ServerSlot>) {
        self.track(async move {
            let connection = slot.connection.lock().await.take();
            if let Some(connection) = connection {
                connection.close().await;
            }
        });
    }

    fn close_in_background(&self, connection: Arc<Connection>) {
        self.track(async move { connection.close().await });
    }

    fn track(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut closing = lock(&self.inner.closing);
        while closing.try_join_next().is_some() {}
        closing.spawn(task);
    }
}

impl ServerSlot {
    fn fresh_tools(&self, ttl: Duration) -> Option<Arc<[ToolSpec]>> {
        lock(&self.tools).as_ref().filter(|(fetched, _)| fetched.elapsed() < ttl).map(|(_, tools)| tools.clone())
    }
}

/// A poisoned lock only means another request panicked mid-update of a plain map; the data is
/// still consistent enough to keep serving.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
