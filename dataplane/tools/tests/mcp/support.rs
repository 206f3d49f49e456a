//! Shared fixtures: the real MCP test server (`@modelcontextprotocol/server-everything`, installed
//! by `scripts/mcp-everything`) over stdio or Streamable HTTP on a free port, and hub helpers.

use std::path::Path;

use oblivious_config::ToolServer;
pub use oblivious_tools::testing::{EverythingHttp, everything_path};
use oblivious_tools::{HubSettings, ToolHub};

/// A hub that may start stdio servers, as single-process roles do.
pub fn hub() -> ToolHub {
    ToolHub::new(HubSettings { allow_stdio: true, ..HubSettings::default() })
}

pub fn stdio_server(path: &Path) -> ToolServer {
    ToolServer {
        name: "test/everything-stdio".into(),
        command: vec!["node".into(), path.display().to_string(), "stdio".into()],
        ..ToolServer::default()
    }
}

pub fn http_server(url: &str) -> ToolServer {
    ToolServer { name: "test/everything-http".into(), url: url.to_owned(), ..ToolServer::default() }
}

/// Object arguments for a tool call.
pub fn args(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        other => panic!("tool arguments must be an object, got {other}"),
    }
}
