//! Classification of an Anthropic upstream's errors, by status and by the body
//! `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`.
//!
//! The error `type` is trusted over the status where both are known, since in-stream errors carry
//! only a type (their status is implied, see `stream_decode`).

use oblivious_core::ErrorKind;
use serde_json::Value;

use crate::dialect::{FailureAction, UpstreamFailure, sanitize_upstream_message};

/// Anthropic's way of saying the account has no money left (a 400, not a 402).
const CREDIT_PHRASES: &[&str] = &["credit balance"];
/// Anthropic's ways of saying the prompt does not fit the context window.
const CONTEXT_PHRASES: &[&str] =
    &["prompt is too long", "exceed context limit", "context window", "context length", "maximum context"];
const POLICY_PHRASES: &[&str] = &["content filtering", "usage policy", "usage policies"];

pub fn classify_failure(status: u16, body: &[u8]) -> UpstreamFailure {
    let (error_type, upstream_message) = match serde_json::from_slice::<Value>(body) {
        Ok(value) => {
            let error = value.get("error");
            let error_type = error.and_then(|e| e.get("type")).and_then(Value::as_str).unwrap_or_default().to_string();
            let message = error
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .map(sanitize_upstream_message)
                .filter(|m| !m.is_empty());
            (error_type, message)
        }
        Err(_) => (String::new(), None),
    };
    let lower = upstream_message.as_deref().unwrap_or_default().to_ascii_lowercase();
    let mentions = |phrases: &[&str]| phrases.iter().any(|p| lower.contains(p));
    let is_bad_request = error_type == "invalid_request_error" || (error_type.is_empty() && status == 400);

    use ErrorKind::*;
    use FailureAction::*;
    let (action, kind, class, generic) = match (error_type.as_str(), status) {
        ("authentication_error", _) | ("", 401) => {
            (DisableKey, BadGateway, "invalid_key", "The upstream rejected the channel credentials.")
        }
        ("permission_error", _) | ("", 403) => (
            DisableKey,
            BadGateway,
            "permission",
            "The upstream denied the channel credentials permission for this request.",
        ),
        ("billing_error", _) | ("", 402) => {
            (DisableKey, BadGateway, "insufficient_quota", "The upstream account behind this channel is out of credit.")
        }
        _ if is_bad_request && mentions(CREDIT_PHRASES) => {
            (DisableKey, BadGateway, "insufficient_quota", "The upstream account behind this channel is out of credit.")
        }
        ("rate_limit_error", _) | ("", 429) => {
            (Retry, RateLimited, "rate_limit", "The upstream is rate limiting requests.")
        }
        ("overloaded_error", _) | ("", 529) => (Retry, Unavailable, "overloaded", "The upstream is overloaded."),
        ("timeout_error", _) | ("", 504 | 408) => (Retry, Timeout, "timeout", "The upstream did not answer in time."),
        ("request_too_large", _) | ("", 413) => {
            (ReturnToClient, PayloadTooLarge, "request_too_large", "The request is too large for the upstream.")
        }
        ("not_found_error", _) | ("", 404) => {
            (ReturnToClient, NotFound, "not_found", "The upstream does not know this model or route.")
        }
        _ if is_bad_request && mentions(CONTEXT_PHRASES) => {
            (ReturnToClient, InvalidRequest, "context_length", "The prompt is too long for the model's context window.")
        }
        _ if is_bad_request && mentions(POLICY_PHRASES) => (
            ReturnToClient,
            InvalidRequest,
            "content_policy",
            "The upstream refused the request under its content policy.",
        ),
        ("invalid_request_error", _) | ("", 400..=499) => {
            (ReturnToClient, InvalidRequest, "invalid_request", "The upstream rejected the request as invalid.")
        }
        // api_error, other 5xx, unknown types and odd statuses.
        _ => (Retry, BadGateway, "server_error", "The upstream failed to answer."),
    };
    let message = match (action, upstream_message) {
        // Keep the provider's wording, but say plainly that the fault is the relay's credentials.
        (DisableKey, Some(detail)) => format!("{} Upstream said: {detail}", generic),
        (_, Some(detail)) => detail,
        (_, None) => generic.to_string(),
    };
    let code = (class == "context_length").then(|| "context_length_exceeded".to_string());
    UpstreamFailure { action, kind, status, class, message, code }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    fn body(error_type: &str, message: &str) -> Vec<u8> {
        json!({"type": "error", "error": {"type": error_type, "message": message}}).to_string().into_bytes()
    }

    #[test]
    fn the_classification_table() {
        let cases: &[(u16, &str, &str, FailureAction, ErrorKind, &str)] = &[
            (
                401,
                "authentication_error",
                "invalid x-api-key",
                FailureAction::DisableKey,
                ErrorKind::BadGateway,
                "invalid_key",
            ),
            (
                403,
                "permission_error",
                "Your API key does not have permission",
                FailureAction::DisableKey,
                ErrorKind::BadGateway,
                "permission",
            ),
            (
                400,
                "invalid_request_error",
                "Your credit balance is too low to access the Anthropic API.",
                FailureAction::DisableKey,
                ErrorKind::BadGateway,
                "insufficient_quota",
            ),
            (
                402,
                "billing_error",
                "payment required",
                FailureAction::DisableKey,
                ErrorKind::BadGateway,
                "insufficient_quota",
            ),
            (
                429,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
                FailureAction::Retry,
                ErrorKind::RateLimited,
                "rate_limit",
            ),
            (529, "overloaded_error", "Overloaded", FailureAction::Retry, ErrorKind::Unavailable, "overloaded"),
            (500, "api_error", "Internal server error", FailureAction::Retry, ErrorKind::BadGateway, "server_error"),
            (503, "", "", FailureAction::Retry, ErrorKind::BadGateway, "server_error"),
            (504, "timeout_error", "Request timed out", FailureAction::Retry, ErrorKind::Timeout, "timeout"),
            (
                413,
                "request_too_large",
                "Request exceeds the maximum allowed number of bytes.",
                FailureAction::ReturnToClient,
                ErrorKind::PayloadTooLarge,
                "request_too_large",
            ),
            (
                400,
                "invalid_request_error",
                "prompt is too long: 210000 tokens > 200000 maximum",
                FailureAction::ReturnToClient,
                ErrorKind::InvalidRequest,
                "context_length",
            ),
            (
                400,
                "invalid_request_error",
                "input length and `max_tokens` exceed context limit: 198000 + 8192 > 200000",
                FailureAction::ReturnToClient,
                ErrorKind::InvalidRequest,
                "context_length",
            ),
            (
                400,
                "invalid_request_error",
                "Output blocked by content filtering policy",
                FailureAction::ReturnToClient,
                ErrorKind::InvalidRequest,
                "content_policy",
            ),
            (
                400,
                "invalid_request_error",
                "messages.1.content.0.type: Expected `text`",
                FailureAction::ReturnToClient,
                ErrorKind::InvalidRequest,
                "invalid_request",
            ),
            (
                404,
                "not_found_error",
                "model: claude-9",
                FailureAction::ReturnToClient,
                ErrorKind::NotFound,
                "not_found",
            ),
            // In-stream errors arrive with the status their type implies; the type decides.
            (500, "overloaded_error", "Overloaded", FailureAction::Retry, ErrorKind::Unavailable, "overloaded"),
        ];
        for (status, error_type, message, action, kind, class) in cases {
            let body = if error_type.is_empty() {
                b"<html>Service Unavailable</html>".to_vec()
            } else {
                body(error_type, message)
            };
            let failure = classify_failure(*status, &body);
            assert_eq!(
                (failure.action, failure.kind, failure.class),
                (*action, *kind, *class),
                "{status} {error_type} {message}"
            );
            assert_eq!(failure.status, *status);
        }
    }

    #[test]
    fn messages_are_sanitized_and_non_json_bodies_get_a_generic_one() {
        let failure = classify_failure(
            401,
            &body(
                "authentication_error",
                "invalid x-api-key sk-ant-api03-abcdefghijkl see https://console.anthropic.com",
            ),
        );
        assert!(failure.message.starts_with("The upstream rejected the channel credentials."), "{}", failure.message);
        assert!(
            !failure.message.contains("sk-ant-api03") && !failure.message.contains("https://"),
            "{}",
            failure.message
        );

        let failure = classify_failure(502, b"<html><body>Bad gateway at https://internal.example</body></html>");
        assert_eq!(failure.message, "The upstream failed to answer.");
        assert_eq!(failure.action, FailureAction::Retry);

        let failure =
            classify_failure(400, &body("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"));
        assert_eq!(failure.code.as_deref(), Some("context_length_exceeded"));
        assert_eq!(failure.message, "prompt is too long: 210000 tokens > 200000 maximum");
        assert_eq!(classify_failure(400, b"").code, None);
    }
}
