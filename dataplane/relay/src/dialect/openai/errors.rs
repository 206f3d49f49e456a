//! Classification of an OpenAI-family upstream's errors by status *and* body, for failover
//! (NOTES.md "Failover"): a bad or unfunded key is not retried and disables the key; rate limits
//! and server errors fail over; request errors go back to the client.

use oblivious_core::ErrorKind;
use serde_json::Value;

use crate::dialect::{FailureAction, UpstreamFailure, sanitize_upstream_message};

/// Classifies an error answer.
pub fn classify_failure(status: u16, body: &[u8]) -> UpstreamFailure {
    let value = serde_json::from_slice::<Value>(body).ok();
    let error = value.as_ref().map(|v| v.as_array().and_then(|a| a.first()).unwrap_or(v)).and_then(|v| v.get("error"));
    let field = |name: &str| error.and_then(|e| e.get(name)).and_then(Value::as_str).unwrap_or_default().to_string();
    let (kind_text, code, raw_message) = (field("type"), field("code"), field("message"));
    let message = Some(sanitize_upstream_message(&raw_message)).filter(|m| !m.is_empty());
    let lower = raw_message.to_ascii_lowercase();
    let is = |text: &str| code == text || kind_text == text;

    use ErrorKind::*;
    use FailureAction::*;
    let (action, kind, class, generic, client_code) = match status {
        _ if is("insufficient_quota")
            || is("billing_hard_limit_reached")
            || lower.contains("exceeded your current quota") =>
        {
            (
                DisableKey,
                BadGateway,
                "insufficient_quota",
                "The upstream account of this channel is out of quota.",
                None,
            )
        }
        401 => (DisableKey, BadGateway, "invalid_key", "The upstream rejected the channel credentials.", None),
        _ if is("invalid_api_key") => {
            (DisableKey, BadGateway, "invalid_key", "The upstream rejected the channel credentials.", None)
        }
        403 => (DisableKey, BadGateway, "permission", "The upstream refused this channel's credentials.", None),
        429 => (Retry, RateLimited, "rate_limit", "The upstream is rate limiting requests.", None),
        400 | 422 if is("context_length_exceeded") || lower.contains("maximum context length") => (
            ReturnToClient,
            InvalidRequest,
            "context_length",
            "The request exceeds the model's context window.",
            Some("context_length_exceeded"),
        ),
        400 | 422 if is("content_policy_violation") || is("content_filter") || lower.contains("safety system") => (
            ReturnToClient,
            InvalidRequest,
            "content_policy",
            "The upstream refused the request under its content policy.",
            Some("content_policy_violation"),
        ),
        400 | 413 | 422 => {
            (ReturnToClient, InvalidRequest, "invalid_request", "The upstream rejected the request.", None)
        }
        404 => (Retry, BadGateway, "model_not_found", "The upstream does not serve this model.", None),
        408 | 409 => (Retry, BadGateway, "server_error", "The upstream could not answer.", None),
        504 => (Retry, Timeout, "timeout", "The upstream timed out.", None),
        503 | 529 => (Retry, Unavailable, "overloaded", "The upstream is overloaded.", None),
        _ => (Retry, BadGateway, "server_error", "The upstream failed.", None),
    };
    UpstreamFailure {
        action,
        kind,
        status,
        class,
        message: message.unwrap_or_else(|| generic.to_string()),
        code: client_code.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    fn body(kind: &str, code: Option<&str>, message: &str) -> Vec<u8> {
        json!({"error": {"message": message, "type": kind, "param": null, "code": code}}).to_string().into_bytes()
    }

    #[test]
    fn the_classification_table() {
        let cases: &[(u16, Vec<u8>, FailureAction, &str)] = &[
            (
                401,
                body("invalid_request_error", Some("invalid_api_key"), "Incorrect API key provided: sk-abc...xyz"),
                FailureAction::DisableKey,
                "invalid_key",
            ),
            (
                429,
                body("insufficient_quota", Some("insufficient_quota"), "You exceeded your current quota"),
                FailureAction::DisableKey,
                "insufficient_quota",
            ),
            (
                429,
                body("requests", Some("rate_limit_exceeded"), "Rate limit reached"),
                FailureAction::Retry,
                "rate_limit",
            ),
            (
                400,
                body("invalid_request_error", Some("context_length_exceeded"), "maximum context length is 128000"),
                FailureAction::ReturnToClient,
                "context_length",
            ),
            (
                400,
                body("invalid_request_error", Some("content_policy_violation"), "safety system"),
                FailureAction::ReturnToClient,
                "content_policy",
            ),
            (
                400,
                body("invalid_request_error", None, "Invalid value for 'temperature'"),
                FailureAction::ReturnToClient,
                "invalid_request",
            ),
            (
                403,
                body("invalid_request_error", Some("unsupported_country_region_territory"), "Country not supported"),
                FailureAction::DisableKey,
                "permission",
            ),
            (
                404,
                body("invalid_request_error", Some("model_not_found"), "The model does not exist"),
                FailureAction::Retry,
                "model_not_found",
            ),
            (500, body("server_error", None, "The server had an error"), FailureAction::Retry, "server_error"),
            (503, b"<html>Service Unavailable</html>".to_vec(), FailureAction::Retry, "overloaded"),
            (502, Vec::new(), FailureAction::Retry, "server_error"),
        ];
        for (status, body, action, class) in cases {
            let failure = classify_failure(*status, body);
            assert_eq!((failure.action, failure.class), (*action, *class), "status {status}");
        }
        let context = classify_failure(400, &cases[3].1);
        assert_eq!(
            (context.kind, context.code.as_deref()),
            (ErrorKind::InvalidRequest, Some("context_length_exceeded"))
        );
    }

    #[test]
    fn messages_are_sanitized_and_non_json_bodies_get_a_generic_one() {
        let failure = classify_failure(
            401,
            &body(
                "x",
                Some("invalid_api_key"),
                "Incorrect API key provided: sk-proj-abcdefghijklmnop. See https://platform.openai.com",
            ),
        );
        assert!(!failure.message.contains("sk-proj-abcdefghijklmnop") && !failure.message.contains("https://"));
        assert_eq!(classify_failure(500, b"oops").message, "The upstream failed.");
    }
}
