//! Turns rmcp's errors into [`ToolError`]s. rmcp's own messages are for logs (they may quote
//! what the server sent); the user sees only the reasons chosen here.

use rmcp::ErrorData;
use rmcp::service::{ClientInitializeError, ServiceError};
use rmcp::transport::streamable_http_client::StreamableHttpError;

use crate::ToolError;
use crate::http_client::{HttpError, OversizeFlag};

/// rmcp marks the JSON-RPC error it synthesizes when a response stream ends early with this key
/// in `data` (`ErrorData::transport_closed`, not public).
const TRANSPORT_CLOSED_MARKER: &str = "io.modelcontextprotocol/transportClosed";

/// Longest server-provided message carried into a [`ToolError::Rejected`].
const MAX_SERVER_MESSAGE_CHARS: usize = 300;

/// What is known about the connection an error came from.
pub(crate) struct ErrorContext<'a> {
    pub(crate) is_stdio: bool,
    /// Set when the HTTP client refused an answer for its size (HTTP connections only).
    pub(crate) oversize: Option<&'a OversizeFlag>,
    pub(crate) limit_bytes: usize,
}

impl ErrorContext<'_> {
    fn too_large(&self) -> Option<ToolError> {
        self.oversize.filter(|flag| flag.tripped()).map(|_| ToolError::TooLarge { limit_bytes: self.limit_bytes })
    }
}

pub(crate) fn from_init_error(error: &ClientInitializeError, context: &ErrorContext<'_>) -> ToolError {
    if let Some(too_large) = context.too_large() {
        return too_large;
    }
    match error {
        ClientInitializeError::TransportError { error, .. } => from_transport_error(error.error.as_ref(), context),
        ClientInitializeError::ConnectionClosed(_) if context.is_stdio => {
            ToolError::unreachable("the server process ended during the MCP handshake")
        }
        ClientInitializeError::ConnectionClosed(_) => {
            ToolError::protocol("the connection closed during the MCP handshake")
        }
        ClientInitializeError::JsonRpcError(data) => rejected(data),
        ClientInitializeError::Cancelled => ToolError::unreachable("the connection was cancelled"),
        _ => ToolError::protocol("the MCP handshake failed"),
    }
}

pub(crate) fn from_service_error(error: &ServiceError, context: &ErrorContext<'_>) -> ToolError {
    if let Some(too_large) = context.too_large() {
        return too_large;
    }
    match error {
        ServiceError::McpError(data) if is_transport_closed(data) => {
            ToolError::unreachable("the answer stream closed before the result")
        }
        ServiceError::McpError(data) => rejected(data),
        ServiceError::TransportSend(error) => from_transport_error(error.error.as_ref(), context),
        ServiceError::TransportClosed => ToolError::unreachable("the connection closed"),
        ServiceError::Timeout { timeout } => {
            ToolError::Timeout { after_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX) }
        }
        ServiceError::Cancelled { .. } => ToolError::unreachable("the request was cancelled"),
        _ => ToolError::protocol("unexpected answer"),
    }
}

fn from_transport_error(error: &(dyn std::error::Error + 'static), context: &ErrorContext<'_>) -> ToolError {
    let mut source = Some(error);
    while let Some(current) = source {
        if let Some(http) = current.downcast_ref::<StreamableHttpError<HttpError>>() {
            return from_http_error(http, context);
        }
        if current.is::<std::io::Error>() {
            return ToolError::unreachable(if context.is_stdio {
                "the server process's pipes failed"
            } else {
                "input/output error"
            });
        }
        source = current.source();
    }
    ToolError::unreachable("transport error")
}

fn from_http_error(error: &StreamableHttpError<HttpError>, context: &ErrorContext<'_>) -> ToolError {
    match error {
        StreamableHttpError::ResponseBodyTooLarge { max_size } => ToolError::TooLarge { limit_bytes: *max_size },
        StreamableHttpError::Client(http) if http.is_connect() => ToolError::unreachable("connection failed"),
        StreamableHttpError::Client(http) if http.is_timeout() => ToolError::unreachable("connection timed out"),
        StreamableHttpError::Client(_) => ToolError::unreachable("the HTTP exchange failed"),
        StreamableHttpError::HttpStatus(status) => from_status(status.status),
        StreamableHttpError::AuthRequired(_) | StreamableHttpError::InsufficientScope(_) => {
            ToolError::unreachable("the server refused our credentials")
        }
        StreamableHttpError::UnexpectedContentType(content_type) => ToolError::protocol(format!(
            "unexpected content type {}",
            content_type
                .as_deref()
                .map(|ct| ct.chars().take(64).collect::<String>())
                .unwrap_or_else(|| "(none)".into())
        )),
        StreamableHttpError::SessionExpired
        | StreamableHttpError::SessionRecoveryTimeout
        | StreamableHttpError::ReinitializationFailed(_) => ToolError::unreachable("the server lost the MCP session"),
        StreamableHttpError::TransportChannelClosed => ToolError::unreachable("the connection closed"),
        StreamableHttpError::Io(_) => ToolError::unreachable("input/output error"),
        _ if context.too_large().is_some() => ToolError::TooLarge { limit_bytes: context.limit_bytes },
        _ => ToolError::protocol("the answer is not a JSON-RPC message"),
    }
}

fn from_status(status: u16) -> ToolError {
    match status {
        401 | 403 => ToolError::unreachable(format!("HTTP {status}: the server refused our credentials")),
        404 | 405 => ToolError::protocol(format!("HTTP {status}: no MCP endpoint at this address")),
        _ => ToolError::unreachable(format!("HTTP {status}")),
    }
}

fn is_transport_closed(data: &ErrorData) -> bool {
    data.data.as_ref().and_then(|d| d.get(TRANSPORT_CLOSED_MARKER)).is_some()
}

fn rejected(data: &ErrorData) -> ToolError {
    ToolError::Rejected { code: data.code.0, message: data.message.chars().take(MAX_SERVER_MESSAGE_CHARS).collect() }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::Duration;

    use rmcp::model::ErrorCode;
    use serde_json::json;

    use super::*;

    const HTTP: ErrorContext<'static> = ErrorContext { is_stdio: false, oversize: None, limit_bytes: 10 };

    #[test]
    fn json_rpc_errors_become_rejections_with_a_bounded_message() {
        let data = ErrorData::new(ErrorCode(-32602), "x".repeat(1000), None);
        let ToolError::Rejected { code, message } = from_service_error(&ServiceError::McpError(data), &HTTP) else {
            panic!("not a rejection");
        };
        assert_eq!(code, -32602);
        assert_eq!(message.len(), MAX_SERVER_MESSAGE_CHARS);
    }

    #[test]
    fn rmcps_stream_closed_marker_means_unreachable() {
        let data = ErrorData::new(ErrorCode(-32603), "closed", Some(json!({ TRANSPORT_CLOSED_MARKER: 7 })));
        let error = from_service_error(&ServiceError::McpError(data), &HTTP);
        assert_eq!(error.code(), "unreachable");
    }

    #[test]
    fn a_tripped_oversize_flag_wins_over_whatever_rmcp_reports() {
        let flag = OversizeFlag::default();
        flag.trip();
        let context = ErrorContext { is_stdio: false, oversize: Some(&flag), limit_bytes: 1234 };
        assert_eq!(
            from_service_error(&ServiceError::TransportClosed, &context),
            ToolError::TooLarge { limit_bytes: 1234 }
        );
    }

    #[test]
    fn statuses_are_classified_without_the_body() {
        assert_eq!(from_status(503), ToolError::unreachable("HTTP 503"));
        assert_eq!(from_status(404).code(), "protocol");
        assert_eq!(from_status(401).code(), "unreachable");
    }

    #[test]
    fn rmcp_timeouts_keep_their_duration() {
        let error = from_service_error(&ServiceError::Timeout { timeout: Duration::from_millis(1500) }, &HTTP);
        assert_eq!(error, ToolError::Timeout { after_ms: 1500 });
    }
}
