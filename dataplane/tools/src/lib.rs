//! The MCP (Model Context Protocol) client the chat service calls tools with (DESIGN §3
//! `ToolServer`, §5 Tools). [`ToolHub`] keeps one live client per configured server, over
//! Streamable HTTP or (platform servers in single-process roles) a stdio child process, lists
//! the tools a server allows ([`ToolSpec`]) and calls them ([`ToolOutput`]), with a timeout on
//! every request, a byte limit on every answer, and errors ([`ToolError`]) fit to show a user.
//! Servers users add themselves pass the [`address`] policy first. Built on the official `rmcp`
//! SDK, driven by the workspace's reqwest (`src/http_client.rs` says why). Invariants: NOTES.md.

pub mod address;
mod classify;
mod connection;
mod error;
mod fingerprint;
mod http_client;
mod hub;
mod output;
mod spec;
mod sse_limit;
#[cfg(feature = "testing")]
pub mod testing;

pub use address::{AddressRefusal, BlockedRange, CheckedUrl, check_user_url};
pub use error::ToolError;
pub use hub::{HubSettings, ServerOrigin, ToolHub};
pub use output::{MAX_OUTPUT_BYTES, ToolOutput};
pub use spec::ToolSpec;
