//! Classification of a Gemini upstream's errors, by status and by the body
//! `{"error":{"code":400,"message":"…","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID",…}]}}`.
//!
//! Gemini's status names (gRPC codes) say more than HTTP statuses, and the body says more still:
//! an invalid key is a **400** `INVALID_ARGUMENT` whose `details[].reason` is `API_KEY_INVALID`,
//! and an account without billing (or a relay in an unsupported region) is a 400
//! `FAILED_PRECONDITION`. Both are the relay's credentials at fault, not the request.

use oblivious_core::ErrorKind;
use serde_json::Value;

use crate::dialect::{FailureAction, UpstreamFailure, sanitize_upstream_message};

/// Gemini's ways of saying the prompt does not fit the model's context window.
const CONTEXT_PHRASES: &[&str] = &[
    "input token count",
    "maximum number of tokens",
    "exceeds the context window",
    "context length",
    "context window",
    "prompt is too long",
];
/// Gemini's ways of saying the key itself is bad, for bodies without `details`.
const INVALID_KEY_PHRASES: &[&str] = &["api key not valid", "api key expired", "api key not found", "api_key_invalid"];
const BILLING_PHRASES: &[&str] = &["billing", "free tier"];
const LOCATION_PHRASES: &[&str] = &["location is not supported", "user location"];

/// The HTTP status a gRPC status name stands for, for errors that arrive without a code.
fn http_status_of(grpc_status: &str) -> Option<u16> {
    Some(match grpc_status {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "ALREADY_EXISTS" | "ABORTED" => 409,
        "RESOURCE_EXHAUSTED" => 429,
        "CANCELLED" => 499,
        "INTERNAL" | "UNKNOWN" | "DATA_LOSS" => 500,
        "UNIMPLEMENTED" => 501,
        "UNAVAILABLE" => 503,
        "DEADLINE_EXCEEDED" => 504,
        _ => return None,
    })
}

/// The HTTP status of an error object inside a stream: its `code`, else what its `status` implies.
pub(super) fn status_code_of(error: &Value) -> Option<u16> {
    error
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|code| u16::try_from(code).ok())
        .filter(|code| (400..=599).contains(code))
        .or_else(|| error.get("status").and_then(Value::as_str).and_then(http_status_of))
}

/// The failure for a prompt Gemini refused to answer (`promptFeedback.blockReason`).
pub(super) fn prompt_blocked(reason: &str) -> UpstreamFailure {
    UpstreamFailure {
        action: FailureAction::ReturnToClient,
        kind: ErrorKind::InvalidRequest,
        status: 400,
        class: "content_policy",
        message: format!(
            "The upstream blocked the prompt under its content policy ({}).",
            sanitize_upstream_message(reason)
        ),
        code: None,
    }
}

/// What the error body says: gRPC status name, sanitized message, whether the key is invalid.
struct ErrorBody {
    grpc_status: String,
    message: Option<String>,
    invalid_key: bool,
}

fn read_body(body: &[u8]) -> ErrorBody {
    let value = serde_json::from_slice::<Value>(body).ok();
    // `:streamGenerateContent` without `alt=sse` wraps errors in an array.
    let error = value.as_ref().map(|v| v.as_array().and_then(|a| a.first()).unwrap_or(v)).and_then(|v| v.get("error"));
    let Some(error) = error else {
        return ErrorBody { grpc_status: String::new(), message: None, invalid_key: false };
    };
    let raw_message = error.get("message").and_then(Value::as_str).unwrap_or_default();
    let lower = raw_message.to_ascii_lowercase();
    let mut reasons =
        error.get("details").and_then(Value::as_array).into_iter().flatten().filter_map(|d| d.get("reason"));
    let invalid_key = reasons.any(|r| r == "API_KEY_INVALID" || r == "API_KEY_EXPIRED")
        || INVALID_KEY_PHRASES.iter().any(|p| lower.contains(p));
    ErrorBody {
        grpc_status: error.get("status").and_then(Value::as_str).unwrap_or_default().to_string(),
        message: Some(sanitize_upstream_message(raw_message)).filter(|m| !m.is_empty()),
        invalid_key,
    }
}

pub fn classify_failure(status: u16, body: &[u8]) -> UpstreamFailure {
    let ErrorBody { grpc_status, message: upstream_message, invalid_key } = read_body(body);
    let lower = upstream_message.as_deref().unwrap_or_default().to_ascii_lowercase();
    let mentions = |phrases: &[&str]| phrases.iter().any(|p| lower.contains(p));
    let is_bad_request = matches!(grpc_status.as_str(), "INVALID_ARGUMENT" | "OUT_OF_RANGE")
        || (grpc_status.is_empty() && status == 400);

    use ErrorKind::*;
    use FailureAction::*;
    let (action, kind, class, generic) = match (grpc_status.as_str(), status) {
        _ if invalid_key => (DisableKey, BadGateway, "invalid_key", "The upstream rejected the channel credentials."),
        ("UNAUTHENTICATED" | "PERMISSION_DENIED", _) | ("", 401 | 403) => {
            (DisableKey, BadGateway, "invalid_key", "The upstream rejected the channel credentials.")
        }
        ("FAILED_PRECONDITION", _) if mentions(LOCATION_PHRASES) => (
            DisableKey,
            BadGateway,
            "unsupported_location",
            "The upstream does not serve the region this relay runs in.",
        ),
        ("FAILED_PRECONDITION", _) if mentions(BILLING_PHRASES) || upstream_message.is_none() => (
            DisableKey,
            BadGateway,
            "insufficient_quota",
            "The upstream account behind this channel needs billing enabled.",
        ),
        ("FAILED_PRECONDITION", _) => (
            DisableKey,
            BadGateway,
            "failed_precondition",
            "The upstream account behind this channel cannot serve requests.",
        ),
        ("RESOURCE_EXHAUSTED", _) | ("", 429) => {
            (Retry, RateLimited, "rate_limit", "The upstream is rate limiting requests.")
        }
        ("NOT_FOUND", _) | ("", 404) => {
            (Retry, BadGateway, "not_found", "The upstream does not know this model or route.")
        }
        _ if is_bad_request && mentions(CONTEXT_PHRASES) => {
            (ReturnToClient, InvalidRequest, "context_length", "The prompt is too long for the model's context window.")
        }
        ("", 413) => {
            (ReturnToClient, PayloadTooLarge, "request_too_large", "The request is too large for the upstream.")
        }
        ("DEADLINE_EXCEEDED", _) | ("", 504 | 408) => {
            (Retry, Timeout, "timeout", "The upstream did not answer in time.")
        }
        ("UNAVAILABLE", _) | ("", 503) => (Retry, Unavailable, "overloaded", "The upstream is overloaded."),
        _ if is_bad_request => {
            (ReturnToClient, InvalidRequest, "invalid_request", "The upstream rejected the request as invalid.")
        }
        ("", 400..=499) => {
            (ReturnToClient, InvalidRequest, "invalid_request", "The upstream rejected the request as invalid.")
        }
        // INTERNAL, UNKNOWN, other 5xx, unknown statuses.
        _ => (Retry, BadGateway, "server_error", "The upstream failed to answer."),
    };
    let message = match (action, upstream_message) {
        // Keep the provider's wording, but say plainly that the fault is the relay's credentials.
        (DisableKey, Some(detail)) => format!("{generic} Upstream said: {detail}"),
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

    fn body(code: u16, status: &str, message: &str) -> Vec<u8> {
        json!({"error": {"code": code, "message": message, "status": status}}).to_string().into_bytes()
    }

    #[test]
    fn the_classification_table() {
        let invalid_key = json!({"error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"}
            }]
        }})
        .to_string()
        .into_bytes();
        let details_only = json!({"error": {"code": 400, "message": "Bad key.", "status": "INVALID_ARGUMENT",
            "details": [{"reason": "API_KEY_INVALID"}]}})
        .to_string()
        .into_bytes();
        let cases: Vec<(u16, Vec<u8>, FailureAction, ErrorKind, &str)> = vec![
            (400, invalid_key, FailureAction::DisableKey, ErrorKind::BadGateway, "invalid_key"),
            (400, details_only, FailureAction::DisableKey, ErrorKind::BadGateway, "invalid_key"),
            (
                400,
                body(400, "INVALID_ARGUMENT", "API key expired. Please renew the API key."),
                FailureAction::DisableKey,
                ErrorKind::BadGateway,
                "invalid_key",
            ),
            (
                401,
                body(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
                FailureAction::DisableKey,
                ErrorKind::BadGateway,
                "invalid_key",
            ),
            (
                403,
                body(403, "PERMISSION_DENIED", "Your API key was reported as leaked. Please use another API key."),
                FailureAction::DisableKey,
                ErrorKind::BadGateway,
                "invalid_key",
            ),
            (
                400,
                body(
                    400,
                    "FAILED_PRECONDITION",
                    "Gemini API free tier is not available in your country. Please enable billing on your project in Google AI Studio.",
                ),
                FailureAction::DisableKey,
                ErrorKind::BadGateway,
                "insufficient_quota",
            ),
            (
                400,
                body(400, "FAILED_PRECONDITION", "User location is not supported for the API use."),
                FailureAction::DisableKey,
                ErrorKind::BadGateway,
                "unsupported_location",
            ),
            (
                429,
                body(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "You exceeded your current quota, please check your plan and billing details.",
                ),
                FailureAction::Retry,
                ErrorKind::RateLimited,
                "rate_limit",
            ),
            (
                400,
                body(
                    400,
                    "INVALID_ARGUMENT",
                    "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
                ),
                FailureAction::ReturnToClient,
                ErrorKind::InvalidRequest,
                "context_length",
            ),
            (
                400,
                body(
                    400,
                    "INVALID_ARGUMENT",
                    "Invalid JSON payload received. Unknown name \"foo\": Cannot find field.",
                ),
                FailureAction::ReturnToClient,
                ErrorKind::InvalidRequest,
                "invalid_request",
            ),
            (
                404,
                body(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta."),
                FailureAction::Retry,
                ErrorKind::BadGateway,
                "not_found",
            ),
            (
                500,
                body(500, "INTERNAL", "An internal error has occurred."),
                FailureAction::Retry,
                ErrorKind::BadGateway,
                "server_error",
            ),
            (502, b"<html>Bad Gateway</html>".to_vec(), FailureAction::Retry, ErrorKind::BadGateway, "server_error"),
            (
                503,
                body(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
                FailureAction::Retry,
                ErrorKind::Unavailable,
                "overloaded",
            ),
            (
                504,
                body(504, "DEADLINE_EXCEEDED", "Deadline expired."),
                FailureAction::Retry,
                ErrorKind::Timeout,
                "timeout",
            ),
            (401, b"".to_vec(), FailureAction::DisableKey, ErrorKind::BadGateway, "invalid_key"),
            (429, b"Too Many Requests".to_vec(), FailureAction::Retry, ErrorKind::RateLimited, "rate_limit"),
            (400, b"bad".to_vec(), FailureAction::ReturnToClient, ErrorKind::InvalidRequest, "invalid_request"),
        ];
        for (status, body, action, kind, class) in cases {
            let failure = classify_failure(status, &body);
            assert_eq!(
                (failure.action, failure.kind, failure.class),
                (action, kind, class),
                "{status} {}",
                String::from_utf8_lossy(&body)
            );
            assert_eq!(failure.status, status);
            if class == "invalid_request" {
                assert_eq!(failure.kind.status().as_u16(), 400);
            }
        }
    }

    #[test]
    fn messages_are_sanitized_and_non_json_bodies_get_a_generic_one() {
        let failure = classify_failure(
            400,
            &body(
                400,
                "INVALID_ARGUMENT",
                "API key not valid: AIzaSyA1234567890abcdefghij see https://ai.google.dev/keys",
            ),
        );
        assert!(failure.message.starts_with("The upstream rejected the channel credentials."), "{}", failure.message);
        assert!(!failure.message.contains("AIzaSy") && !failure.message.contains("https://"), "{}", failure.message);

        let failure = classify_failure(502, b"<html><body>Bad gateway at https://internal.example</body></html>");
        assert_eq!(failure.message, "The upstream failed to answer.");

        let failure = classify_failure(
            400,
            &body(
                400,
                "INVALID_ARGUMENT",
                "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            ),
        );
        assert_eq!(failure.code.as_deref(), Some("context_length_exceeded"));
        assert!(failure.message.starts_with("The input token count"));
        assert_eq!(classify_failure(400, b"").code, None);
    }

    #[test]
    fn errors_wrapped_in_an_array_and_errors_without_a_code_are_read() {
        let array =
            json!([{"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}}]).to_string();
        let failure = classify_failure(429, array.as_bytes());
        assert_eq!((failure.class, failure.message.as_str()), ("rate_limit", "slow down"));
        assert_eq!(status_code_of(&json!({"status": "UNAVAILABLE"})), Some(503));
        assert_eq!(status_code_of(&json!({"code": 400, "status": "UNAVAILABLE"})), Some(400));
        assert_eq!(status_code_of(&json!({"code": 0})), None);
    }

    #[test]
    fn a_blocked_prompt_goes_back_to_the_client_as_a_content_policy_failure() {
        let failure = prompt_blocked("SAFETY");
        assert_eq!(
            (failure.action, failure.kind, failure.status),
            (FailureAction::ReturnToClient, ErrorKind::InvalidRequest, 400)
        );
        assert_eq!(failure.class, "content_policy");
    }
}
