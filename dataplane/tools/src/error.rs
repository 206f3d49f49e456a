//! The one error type of the crate. Its `Display` is shown to users (and to the model, as the
//! reason a tool call failed), so it never carries header values, URLs or raw transport errors:
//! every message is built here from our own words plus facts that are not secrets (HTTP status,
//! a byte limit, a tool name, a JSON-RPC message from the tool server itself).

use crate::address::AddressRefusal;

/// Why talking to a tool server failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The server could not be reached or dropped the connection (refused, DNS, TLS, HTTP 5xx,
    /// process exited). Retrying later may help.
    #[error("the tool server could not be reached ({reason})")]
    Unreachable { reason: String },
    /// Connecting or the request took longer than allowed.
    #[error("the tool server did not answer within {after_ms} ms")]
    Timeout { after_ms: u64 },
    /// The server answered something that is not MCP.
    #[error("the tool server's answer is not valid MCP ({reason})")]
    Protocol { reason: String },
    /// The server's answer was larger than the client accepts; it was refused, not buffered.
    #[error("the tool server's answer is larger than {limit_bytes} bytes")]
    TooLarge { limit_bytes: usize },
    /// The tool is not in the server's `allowedTools`.
    #[error("tool `{tool}` is not allowed on this tool server")]
    NotAllowed { tool: String },
    /// A user-added server's address is not allowed (see [`crate::address`]).
    #[error("the tool server's address is not allowed: {0}")]
    AddressRefused(#[from] AddressRefusal),
    /// A stdio server where stdio is not available: a user-added server, or a role that does not
    /// run local programs.
    #[error("stdio tool servers are not available here")]
    StdioUnavailable,
    /// The server's configuration cannot be used (no URL and no command, an unparsable URL, a
    /// header that is not a valid HTTP header).
    #[error("the tool server is misconfigured: {reason}")]
    Misconfigured { reason: String },
    /// The server answered the request with a JSON-RPC error (e.g. unknown tool, bad arguments).
    #[error("the tool server refused the request: {message}")]
    Rejected { code: i32, message: String },
}

impl ToolError {
    /// Stable snake_case code for logs, metrics and API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            ToolError::Unreachable { .. } => "unreachable",
            ToolError::Timeout { .. } => "timeout",
            ToolError::Protocol { .. } => "protocol",
            ToolError::TooLarge { .. } => "too_large",
            ToolError::NotAllowed { .. } => "not_allowed",
            ToolError::AddressRefused(_) => "address_refused",
            ToolError::StdioUnavailable => "stdio_unavailable",
            ToolError::Misconfigured { .. } => "misconfigured",
            ToolError::Rejected { .. } => "rejected",
        }
    }

    /// Whether the connection that produced this error can no longer be trusted and must be
    /// dropped: the next use reconnects. A timeout keeps the connection (the server is merely
    /// slow and the request was cancelled); a rejection is an ordinary answer.
    pub(crate) fn breaks_connection(&self) -> bool {
        matches!(self, ToolError::Unreachable { .. } | ToolError::Protocol { .. } | ToolError::TooLarge { .. })
    }

    pub(crate) fn unreachable(reason: impl Into<String>) -> Self {
        ToolError::Unreachable { reason: reason.into() }
    }

    pub(crate) fn protocol(reason: impl Into<String>) -> Self {
        ToolError::Protocol { reason: reason.into() }
    }

    pub(crate) fn misconfigured(reason: impl Into<String>) -> Self {
        ToolError::Misconfigured { reason: reason.into() }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_snake_case() {
        let cases = [
            (ToolError::unreachable("x"), "unreachable"),
            (ToolError::Timeout { after_ms: 1 }, "timeout"),
            (ToolError::protocol("x"), "protocol"),
            (ToolError::TooLarge { limit_bytes: 1 }, "too_large"),
            (ToolError::NotAllowed { tool: "t".into() }, "not_allowed"),
            (ToolError::AddressRefused(AddressRefusal::Scheme), "address_refused"),
            (ToolError::StdioUnavailable, "stdio_unavailable"),
            (ToolError::misconfigured("x"), "misconfigured"),
            (ToolError::Rejected { code: -32602, message: "m".into() }, "rejected"),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error}");
        }
    }

    #[test]
    fn only_transport_failures_break_the_connection() {
        assert!(ToolError::unreachable("x").breaks_connection());
        assert!(ToolError::protocol("x").breaks_connection());
        assert!(ToolError::TooLarge { limit_bytes: 1 }.breaks_connection());
        assert!(!ToolError::Timeout { after_ms: 1 }.breaks_connection());
        assert!(!ToolError::Rejected { code: 1, message: "m".into() }.breaks_connection());
        assert!(!ToolError::NotAllowed { tool: "t".into() }.breaks_connection());
    }
}
