//! One live MCP client session: connecting (Streamable HTTP or a stdio child process), the
//! requests the hub makes on it, and closing it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation, PaginatedRequestParams,
    Tool,
};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::common::client_side_sse::ExponentialBackoff;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{Peer, ServiceExt};
use tokio::io::AsyncReadExt;
use url::Url;

use crate::ToolError;
use crate::classify::{ErrorContext, from_init_error, from_service_error};
use crate::http_client::{BoundedHttpClient, OversizeFlag};

/// A server that sends more pages than this is treated as broken, not followed forever.
const MAX_TOOL_LIST_PAGES: usize = 32;
/// How long closing may take before the session is abandoned (stdio: stdin closed, then SIGTERM
/// after 3 s, then SIGKILL after 3 s more; HTTP: the session DELETE).
const CLOSE_GRACE: Duration = Duration::from_secs(8);
/// Environment a stdio server inherits from us; everything else it gets from its own `env`. The
/// platform's environment holds database URLs and provider keys a third-party tool must not see.
const INHERITED_ENV: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"];
/// Longest stderr line of a stdio server copied into our logs.
const MAX_STDERR_LINE: usize = 2048;

/// Where and how to reach a server, with the policy decisions already made by the hub.
pub(crate) enum Endpoint {
    Http {
        url: Url,
        /// Configured headers (secrets), sent with every request; marked sensitive.
        headers: HeaderMap,
        /// For user servers: the checked addresses the host must resolve to (DNS rebinding).
        pinned: Option<(String, Vec<SocketAddr>)>,
        /// User servers bypass any proxy: a proxy would resolve the host itself.
        direct: bool,
    },
    Stdio {
        program: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
    },
}

pub(crate) struct Connection {
    /// The server's name, for logs.
    server: String,
    peer: Peer<RoleClient>,
    /// Taken when the connection is closed.
    service: tokio::sync::Mutex<Option<RunningService<RoleClient, ClientConfig>>>,
    is_stdio: bool,
    oversize: Option<OversizeFlag>,
    limit_bytes: usize,
}

impl Connection {
    pub(crate) async fn open(server: &str, endpoint: Endpoint, max_response_bytes: usize) -> Result<Self, ToolError> {
        match endpoint {
            Endpoint::Http { url, headers, pinned, direct } => {
                open_http(server, url, headers, pinned, direct, max_response_bytes).await
            }
            Endpoint::Stdio { program, args, env } => {
                open_stdio(server, &program, &args, &env, max_response_bytes).await
            }
        }
    }

    /// False once the session's task has ended (process exited, fatal transport error, closed).
    pub(crate) fn is_alive(&self) -> bool {
        !self.peer.is_transport_closed()
    }

    pub(crate) async fn list_tools(&self) -> Result<Vec<Tool>, ToolError> {
        let mut tools = Vec::new();
        let mut cursor = None;
        for _ in 0..MAX_TOOL_LIST_PAGES {
            let params = cursor.map(|cursor| PaginatedRequestParams::default().with_cursor(Some(cursor)));
            let page = self.peer.list_tools(params).await.map_err(|e| self.service_error(&e))?;
            tools.extend(page.tools);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(tools),
            }
        }
        Err(ToolError::protocol(format!("the tool list has more than {MAX_TOOL_LIST_PAGES} pages")))
    }

    /// Calls a tool. Dropping the future (the hub's timeout) makes rmcp send
    /// `notifications/cancelled` for the request.
    pub(crate) async fn call_tool(
        &self,
        tool: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
    ) -> Result<CallToolResult, ToolError> {
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        self.peer.call_tool(params).await.map_err(|e| self.service_error(&e))
    }

    /// Ends the session: HTTP deletes it, stdio closes the child's stdin and then terminates it.
    pub(crate) async fn close(&self) {
        let Some(mut service) = self.service.lock().await.take() else {
            return;
        };
        match service.close_with_timeout(CLOSE_GRACE).await {
            Ok(Some(_)) => tracing::debug!(server = %self.server, "tool server connection closed"),
            Ok(None) => tracing::warn!(server = %self.server, "tool server connection did not close in time"),
            Err(error) => tracing::warn!(server = %self.server, %error, "tool server connection task failed"),
        }
    }

    fn service_error(&self, error: &ServiceError) -> ToolError {
        let mapped = from_service_error(error, &self.error_context());
        tracing::debug!(server = %self.server, code = mapped.code(), %error, "tool server request failed");
        mapped
    }

    fn error_context(&self) -> ErrorContext<'_> {
        ErrorContext { is_stdio: self.is_stdio, oversize: self.oversize.as_ref(), limit_bytes: self.limit_bytes }
    }
}

fn client_config() -> ClientConfig {
    ClientConfig::new(ClientCapabilities::default(), Implementation::new("oblivious", env!("CARGO_PKG_VERSION")))
}

async fn open_http(
    server: &str,
    url: Url,
    headers: HeaderMap,
    pinned: Option<(String, Vec<SocketAddr>)>,
    direct: bool,
    max_response_bytes: usize,
) -> Result<Connection, ToolError> {
    // No redirects: one could lead a checked user URL anywhere, and MCP endpoints do not move.
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .default_headers(headers);
    if let Some((domain, addrs)) = &pinned {
        builder = builder.resolve_to_addrs(domain, addrs);
    }
    if direct {
        builder = builder.no_proxy();
    }
    let http = builder.build().map_err(|_| ToolError::misconfigured("the HTTP client cannot be built"))?;
    let oversize = OversizeFlag::default();
    let client = BoundedHttpClient::new(http, max_response_bytes, oversize.clone());

    let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
        .max_json_response_size(max_response_bytes)
        .max_sse_event_size(max_response_bytes)
        .max_error_response_size(0);
    // A few quick resumptions of a broken answer stream; the call's own timeout bounds the rest.
    let mut backoff = ExponentialBackoff::default();
    backoff.max_times = Some(3);
    backoff.base_duration = Duration::from_millis(200);
    backoff.max_delay = Some(Duration::from_secs(2));
    config.retry_config = Arc::new(backoff);

    let transport = StreamableHttpClientTransport::with_client(client, config);
    let context = ErrorContext { is_stdio: false, oversize: Some(&oversize), limit_bytes: max_response_bytes };
    let service = client_config().serve(transport).await.map_err(|error| {
        let mapped = from_init_error(&error, &context);
        tracing::debug!(%server, code = mapped.code(), %error, "connecting to a tool server failed");
        mapped
    })?;
    Ok(Connection {
        server: server.to_owned(),
        peer: service.peer().clone(),
        service: tokio::sync::Mutex::new(Some(service)),
        is_stdio: false,
        oversize: Some(oversize),
        limit_bytes: max_response_bytes,
    })
}

async fn open_stdio(
    server: &str,
    program: &str,
    args: &[String],
    env: &BTreeMap<String, String>,
    max_response_bytes: usize,
) -> Result<Connection, ToolError> {
    let mut command = tokio::process::Command::new(program);
    command.args(args).env_clear().kill_on_drop(true);
    for name in INHERITED_ENV {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command.envs(env);
    let (process, stderr) = TokioChildProcess::builder(command).stderr(Stdio::piped()).spawn().map_err(|error| {
        tracing::warn!(%server, %program, %error, "starting a stdio tool server failed");
        ToolError::unreachable("the server program could not be started")
    })?;
    if let Some(stderr) = stderr {
        tokio::spawn(forward_stderr(server.to_owned(), stderr));
    }
    let context = ErrorContext { is_stdio: true, oversize: None, limit_bytes: max_response_bytes };
    let service = client_config().serve(process).await.map_err(|error| {
        let mapped = from_init_error(&error, &context);
        tracing::debug!(%server, code = mapped.code(), %error, "connecting to a stdio tool server failed");
        mapped
    })?;
    Ok(Connection {
        server: server.to_owned(),
        peer: service.peer().clone(),
        service: tokio::sync::Mutex::new(Some(service)),
        is_stdio: true,
        oversize: None,
        limit_bytes: max_response_bytes,
    })
}

/// Copies a stdio server's stderr into our logs line by line, each line cut to
/// [`MAX_STDERR_LINE`] bytes so a runaway child cannot grow our memory.
async fn forward_stderr(server: String, mut stderr: tokio::process::ChildStderr) {
    let mut line = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = match stderr.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        for &byte in &buffer[..read] {
            if byte == b'\n' {
                tracing::debug!(%server, line = %String::from_utf8_lossy(&line), "tool server stderr");
                line.clear();
            } else if line.len() < MAX_STDERR_LINE {
                line.push(byte);
            }
        }
    }
    if !line.is_empty() {
        tracing::debug!(%server, line = %String::from_utf8_lossy(&line), "tool server stderr");
    }
}

/// Builds the configured headers, marked sensitive so they never show in `Debug` output.
pub(crate) fn header_map(headers: &BTreeMap<String, String>) -> Result<HeaderMap, ToolError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let invalid = || ToolError::misconfigured(format!("header `{name}` is not a valid HTTP header"));
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let mut header_value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        header_value.set_sensitive(true);
        map.insert(header_name, header_value);
    }
    Ok(map)
}
