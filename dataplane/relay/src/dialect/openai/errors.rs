//! Classification of an OpenAI-family upstream's errors, by status *and* body (NOTES.md
//! "Failover"): a bad or unfunded key is not retried and disables the key, rate limits and
//! server errors fail over, request errors go back to the client.
//!
//! OpenAI's body is `{"error":{"message","type","param","code"}}`. Compatible servers vary, so
//! the reader also accepts vLLM's flat `{"object":"error","message",...}`, Ollama's
//! `{"error":"text"}`, Google's `[{"error":{"code","message","status","details"}}]` (Gemini's
//! OpenAI endpoint) and FastAPI's `{"detail":"text"}`.
//!
//! The client never learns that *our* key failed as if it were theirs: credential and quota
//! failures of the channel reach the client as 502s (DESIGN §7: upstream failures are 5xx).

use oblivious_core::ErrorKind;
use serde_json::Value;

use crate::dialect::{FailureAction, UpstreamFailure, sanitize_upstream_message};

/// What an error body says, lowercased where it is matched on.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct WireError {
    /// `error.type` (OpenAI) or `error.status` (Google), lowercased.
    pub kind: String,
    /// `error.code` when it is a string, else Google's `details[].reason`, lowercased.
    pub code: String,
    /// `error.code` when it is a number (vLLM, Google): an HTTP status.
    pub status: Option<u16>,
    /// The provider's message, unsanitized.
    pub message: String,
}

/// Reads the error out of a body, or `None` when the body holds no recognizable error.
pub(super) fn read_error(body: &Value) -> Option<WireError> {
    let body = match body {
        Value::Array(items) => items.first()?,
        other => other,
    };
    let error = match body.get("error") {
        Some(error @ Value::Object(_)) => error,
        Some(Value::String(message)) => return Some(WireError { message: message.clone(), ..WireError::default() }),
        _ if body.get("object").and_then(Value::as_str) == Some("error") => body,
        _ => {
            let detail = body.get("detail").and_then(Value::as_str)?;
            return Some(WireError { message: detail.to_string(), ..WireError::default() });
        }
    };
    let text = |name: &str| error.get(name).and_then(Value::as_str).map(str::to_ascii_lowercase);
    let reason = || {
        let details = error.get("details").and_then(Value::as_array)?;
        details.iter().find_map(|d| d.get("reason").and_then(Value::as_str)).map(str::to_ascii_lowercase)
    };
    Some(WireError {
        kind: text("type").or_else(|| text("status")).unwrap_or_default(),
        code: text("code").or_else(reason).unwrap_or_default(),
        status: error.get("code").and_then(Value::as_u64).and_then(|c| u16::try_from(c).ok()),
        message: error.get("message").and_then(Value::as_str).unwrap_or_default().to_string(),
    })
}

/// Codes and types that mean the account behind the key cannot pay.
const QUOTA_CODES: &[&str] =
    &["insufficient_quota", "billing_hard_limit_reached", "billing_not_active", "insufficient_balance"];
const QUOTA_PHRASES: &[&str] =
    &["exceeded your current quota", "insufficient balance", "insufficient credits", "insufficient_quota"];
/// Codes and types that mean the key itself is bad (Google's OpenAI endpoint says so with a 400).
const KEY_CODES: &[&str] = &["invalid_api_key", "authentication_error", "api_key_invalid", "unauthenticated"];
const KEY_PHRASES: &[&str] = &["incorrect api key", "api key not valid", "invalid api key"];
const PERMISSION_CODES: &[&str] = &["unsupported_country_region_territory", "permission_denied", "permission_error"];
const NOT_FOUND_CODES: &[&str] = &["model_not_found", "deploymentnotfound"];
const CONTEXT_CODES: &[&str] = &["context_length_exceeded"];
/// OpenAI's, DeepSeek's and vLLM's ways of saying the prompt does not fit.
const CONTEXT_PHRASES: &[&str] =
    &["maximum context length", "context length", "context window", "prompt is too long", "input tokens exceed"];
/// OpenAI's and Azure's content filters.
const POLICY_CODES: &[&str] = &["content_policy_violation", "content_filter", "responsibleaipolicyviolation"];
const POLICY_PHRASES: &[&str] = &["safety system", "content management policy", "content filtering"];

/// Classifies an error answer (or an in-stream error, with the status it implies).
pub fn classify_failure(status: u16, body: &[u8]) -> UpstreamFailure {
    let error = serde_json::from_slice::<Value>(body).ok().and_then(|v| read_error(&v)).unwrap_or_default();
    let lower = error.message.to_ascii_lowercase();
    let is = |codes: &[&str]| codes.contains(&error.code.as_str()) || codes.contains(&error.kind.as_str());
    let mentions = |phrases: &[&str]| phrases.iter().any(|p| lower.contains(p));
    let is_request_error = matches!(status, 400 | 413 | 422);

    use ErrorKind::*;
    use FailureAction::*;
    let (action, kind, class, generic) = if status == 402 || is(QUOTA_CODES) || mentions(QUOTA_PHRASES) {
        (DisableKey, BadGateway, "insufficient_quota", "The upstream account behind this channel is out of quota.")
    } else if status == 401 || is(KEY_CODES) || mentions(KEY_PHRASES) {
        (DisableKey, BadGateway, "invalid_key", "The upstream rejected the channel credentials.")
    } else if status == 403 || is(PERMISSION_CODES) {
        (DisableKey, BadGateway, "permission", "The upstream denied the channel credentials access.")
    } else if status == 404 || is(NOT_FOUND_CODES) {
        // Another channel may well serve the model.
        (Retry, BadGateway, "model_not_found", "The upstream does not serve this model.")
    } else if status == 429 {
        (Retry, RateLimited, "rate_limit", "The upstream is rate limiting requests.")
    } else if is_request_error && (is(CONTEXT_CODES) || mentions(CONTEXT_PHRASES)) {
        (ReturnToClient, InvalidRequest, "context_length", "The prompt is too long for the model's context window.")
    } else if is_request_error && (is(POLICY_CODES) || mentions(POLICY_PHRASES)) {
        (ReturnToClient, InvalidRequest, "content_policy", "The upstream refused the request under its content policy.")
    } else if status == 413 {
        (ReturnToClient, PayloadTooLarge, "request_too_large", "The request is too large for the upstream.")
    } else if is_request_error {
        (ReturnToClient, InvalidRequest, "invalid_request", "The upstream rejected the request as invalid.")
    } else if status == 408 || status == 504 {
        (Retry, Timeout, "timeout", "The upstream did not answer in time.")
    } else if status == 503 || status == 529 {
        (Retry, Unavailable, "overloaded", "The upstream is overloaded.")
    } else if (400..500).contains(&status) {
        // 405, 409, 415, ...: most often a channel pointing at the wrong URL; another may work.
        (Retry, BadGateway, "unexpected_status", "The upstream refused the request.")
    } else {
        (Retry, BadGateway, "server_error", "The upstream failed to answer.")
    };

    let detail = Some(sanitize_upstream_message(&error.message)).filter(|m| !m.is_empty());
    let message = match (action, detail) {
        // Keep the provider's wording, but say plainly that the fault is the relay's credentials.
        (DisableKey, Some(detail)) => format!("{generic} Upstream said: {detail}"),
        (_, Some(detail)) => detail,
        (_, None) => generic.to_string(),
    };
    let code = match class {
        "context_length" => Some("context_length_exceeded".to_string()),
        "content_policy" if !error.code.is_empty() => Some(error.code),
        "content_policy" => Some("content_policy_violation".to_string()),
        // A request error keeps the upstream's own code (`invalid_value`, `unsupported_parameter`).
        "invalid_request" | "request_too_large" if !error.code.is_empty() => Some(error.code),
        _ => None,
    };
    UpstreamFailure { action, kind, status, class, message, code }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    fn openai(kind: &str, code: Option<&str>, message: &str) -> Vec<u8> {
        json!({"error": {"message": message, "type": kind, "param": null, "code": code}}).to_string().into_bytes()
    }

    #[test]
    fn the_classification_table() {
        use ErrorKind::*;
        use FailureAction::*;
        let google_bad_key = json!([{"error": {
            "code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]
        }}])
        .to_string()
        .into_bytes();
        let vllm_context = json!({
            "object": "error", "type": "BadRequestError", "param": null, "code": 400,
            "message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens."
        })
        .to_string()
        .into_bytes();
        let azure_filter = json!({"error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
            "type": null, "param": "prompt", "code": "content_filter", "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation"}
        }})
        .to_string()
        .into_bytes();
        let cases: Vec<(u16, Vec<u8>, FailureAction, ErrorKind, &str)> = vec![
            (
                401,
                openai("invalid_request_error", Some("invalid_api_key"), "Incorrect API key provided: sk-abc...xyz."),
                DisableKey,
                BadGateway,
                "invalid_key",
            ),
            (400, google_bad_key, DisableKey, BadGateway, "invalid_key"),
            (
                429,
                openai("insufficient_quota", Some("insufficient_quota"), "You exceeded your current quota"),
                DisableKey,
                BadGateway,
                "insufficient_quota",
            ),
            (
                400,
                openai(
                    "invalid_request_error",
                    Some("billing_hard_limit_reached"),
                    "Billing hard limit has been reached",
                ),
                DisableKey,
                BadGateway,
                "insufficient_quota",
            ),
            (
                402,
                json!({"error": {"message": "Insufficient Balance"}}).to_string().into_bytes(),
                DisableKey,
                BadGateway,
                "insufficient_quota",
            ),
            (
                429,
                openai(
                    "requests",
                    Some("rate_limit_exceeded"),
                    "Rate limit reached for gpt-4o. Please try again in 20s.",
                ),
                Retry,
                RateLimited,
                "rate_limit",
            ),
            (429, b"Too Many Requests".to_vec(), Retry, RateLimited, "rate_limit"),
            (
                400,
                openai(
                    "invalid_request_error",
                    Some("context_length_exceeded"),
                    "This model's maximum context length is 128000 tokens.",
                ),
                ReturnToClient,
                InvalidRequest,
                "context_length",
            ),
            (400, vllm_context, ReturnToClient, InvalidRequest, "context_length"),
            (
                400,
                openai(
                    "invalid_request_error",
                    Some("content_policy_violation"),
                    "Your request was rejected as a result of our safety system.",
                ),
                ReturnToClient,
                InvalidRequest,
                "content_policy",
            ),
            (400, azure_filter, ReturnToClient, InvalidRequest, "content_policy"),
            (
                400,
                openai("invalid_request_error", Some("invalid_value"), "Invalid value for 'temperature'"),
                ReturnToClient,
                InvalidRequest,
                "invalid_request",
            ),
            (
                422,
                json!({"detail": "Extra inputs are not permitted"}).to_string().into_bytes(),
                ReturnToClient,
                InvalidRequest,
                "invalid_request",
            ),
            (
                413,
                b"<html>413 Request Entity Too Large</html>".to_vec(),
                ReturnToClient,
                PayloadTooLarge,
                "request_too_large",
            ),
            (
                403,
                openai(
                    "request_forbidden",
                    Some("unsupported_country_region_territory"),
                    "Country, region, or territory not supported",
                ),
                DisableKey,
                BadGateway,
                "permission",
            ),
            (
                404,
                openai(
                    "invalid_request_error",
                    Some("model_not_found"),
                    "The model `gpt-9` does not exist or you do not have access to it.",
                ),
                Retry,
                BadGateway,
                "model_not_found",
            ),
            (
                404,
                json!({"error": "model 'llama9' not found"}).to_string().into_bytes(),
                Retry,
                BadGateway,
                "model_not_found",
            ),
            (408, Vec::new(), Retry, Timeout, "timeout"),
            (409, Vec::new(), Retry, BadGateway, "unexpected_status"),
            (405, b"Method Not Allowed".to_vec(), Retry, BadGateway, "unexpected_status"),
            (
                500,
                openai("server_error", None, "The server had an error while processing your request."),
                Retry,
                BadGateway,
                "server_error",
            ),
            (502, Vec::new(), Retry, BadGateway, "server_error"),
            (503, b"<html>Service Unavailable</html>".to_vec(), Retry, Unavailable, "overloaded"),
            (504, Vec::new(), Retry, Timeout, "timeout"),
        ];
        for (status, body, action, kind, class) in &cases {
            let failure = classify_failure(*status, body);
            assert_eq!(
                (failure.action, failure.kind, failure.class),
                (*action, *kind, *class),
                "{status} {}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(failure.status, *status);
        }
    }

    #[test]
    fn request_errors_carry_a_code_the_client_can_act_on() {
        let context = classify_failure(
            400,
            &openai("invalid_request_error", Some("context_length_exceeded"), "maximum context length is 8192 tokens"),
        );
        assert_eq!((context.status, context.code.as_deref()), (400, Some("context_length_exceeded")));
        let phrased = classify_failure(
            400,
            &openai("invalid_request_error", None, "This model's maximum context length is 65536 tokens"),
        );
        assert_eq!(phrased.code.as_deref(), Some("context_length_exceeded"));
        let policy =
            classify_failure(400, &openai("invalid_request_error", None, "rejected as a result of our safety system"));
        assert_eq!(policy.code.as_deref(), Some("content_policy_violation"));
        let invalid = classify_failure(400, &openai("invalid_request_error", Some("unsupported_parameter"), "no"));
        assert_eq!(invalid.code.as_deref(), Some("unsupported_parameter"));
        assert_eq!(classify_failure(500, &openai("server_error", Some("oops"), "x")).code, None);
    }

    #[test]
    fn messages_are_sanitized_and_non_json_bodies_get_a_generic_one() {
        let failure = classify_failure(
            401,
            &openai(
                "invalid_request_error",
                Some("invalid_api_key"),
                "Incorrect API key provided: sk-proj-abcdefghijklmnop. You can find your API key at https://platform.openai.com/account/api-keys.",
            ),
        );
        assert!(
            failure
                .message
                .starts_with("The upstream rejected the channel credentials. Upstream said: Incorrect API key"),
            "{}",
            failure.message
        );
        assert!(
            !failure.message.contains("sk-proj-abcdefghijklmnop") && !failure.message.contains("https://"),
            "{}",
            failure.message
        );

        let failure = classify_failure(502, b"<html><body>Bad gateway at https://internal.example</body></html>");
        assert_eq!(failure.message, "The upstream failed to answer.");
        let failure = classify_failure(400, &openai("invalid_request_error", None, ""));
        assert_eq!(failure.message, "The upstream rejected the request as invalid.");
    }
}
