//! The error responses each provider really sends, by kind or by status — wire-faithful enough
//! that the relay's classifiers (status *and* body) can be tested against them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::directives::ErrorKind;

/// Which provider's shape to answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    OpenAi,
    Anthropic,
    Gemini,
}

/// A status and a JSON body.
pub struct ProviderError {
    pub status: u16,
    pub body: Value,
}

impl IntoResponse for ProviderError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.body.to_string()).into_response();
        response.headers_mut().insert("content-type", axum::http::HeaderValue::from_static("application/json"));
        if self.status == 429 {
            response.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}

fn openai(status: u16, message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> ProviderError {
    ProviderError { status, body: json!({"error": {"message": message, "type": kind, "param": param, "code": code}}) }
}

fn anthropic(status: u16, kind: &str, message: &str) -> ProviderError {
    ProviderError { status, body: json!({"type": "error", "error": {"type": kind, "message": message}}) }
}

fn gemini(code: u16, status: &str, message: &str, reason: Option<&str>) -> ProviderError {
    let mut error = json!({"code": code, "message": message, "status": status});
    if let Some(reason) = reason {
        error["details"] = json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": reason,
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"}
        }]);
    }
    ProviderError { status: code, body: json!({ "error": error }) }
}

/// The provider's error for `kind`.
pub fn for_kind(provider: Provider, kind: ErrorKind) -> ProviderError {
    use ErrorKind::*;
    match provider {
        Provider::OpenAi => match kind {
            RateLimit => openai(
                429,
                "Rate limit reached for gpt-4o in organization org-mock on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
                "requests",
                None,
                Some("rate_limit_exceeded"),
            ),
            InsufficientQuota => openai(
                429,
                "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
                "insufficient_quota",
                None,
                Some("insufficient_quota"),
            ),
            InvalidKey => openai(
                401,
                "Incorrect API key provided: bad-****. You can find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                None,
                Some("invalid_api_key"),
            ),
            ContextLength => openai(
                400,
                "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens. Please reduce the length of the messages.",
                "invalid_request_error",
                Some("messages"),
                Some("context_length_exceeded"),
            ),
            ContentPolicy => openai(
                400,
                "Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.",
                "invalid_request_error",
                None,
                Some("content_policy_violation"),
            ),
            Overloaded => openai(503, "The server is overloaded or not ready yet.", "server_error", None, None),
            ServerError => openai(
                500,
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
                None,
            ),
        },
        Provider::Anthropic => match kind {
            RateLimit => anthropic(
                429,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit (https://docs.anthropic.com/en/api/rate-limits); see the response headers for current usage.",
            ),
            InsufficientQuota => anthropic(
                400,
                "invalid_request_error",
                "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
            ),
            InvalidKey => anthropic(401, "authentication_error", "invalid x-api-key"),
            ContextLength => {
                anthropic(400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum")
            }
            ContentPolicy => anthropic(400, "invalid_request_error", "Output blocked by content filtering policy"),
            Overloaded => anthropic(529, "overloaded_error", "Overloaded"),
            ServerError => anthropic(500, "api_error", "Internal server error"),
        },
        Provider::Gemini => match kind {
            RateLimit => gemini(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", None),
            InsufficientQuota => gemini(
                400,
                "FAILED_PRECONDITION",
                "Billing is not enabled for this project. Enable billing in Google AI Studio to continue.",
                None,
            ),
            InvalidKey => gemini(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                Some("API_KEY_INVALID"),
            ),
            ContextLength => gemini(
                400,
                "INVALID_ARGUMENT",
                "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
                None,
            ),
            ContentPolicy => {
                gemini(400, "INVALID_ARGUMENT", "The request was blocked because it violates the content policy.", None)
            }
            Overloaded => gemini(503, "UNAVAILABLE", "The model is overloaded. Please try again later.", None),
            ServerError => gemini(
                500,
                "INTERNAL",
                "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
                None,
            ),
        },
    }
}

/// The provider's error for a bare status (`status=N`).
pub fn for_status(provider: Provider, status: u16) -> ProviderError {
    match provider {
        Provider::OpenAi => {
            let (kind, message, code) = match status {
                400 => ("invalid_request_error", "Invalid request.", None),
                401 => ("invalid_request_error", "Incorrect API key provided.", Some("invalid_api_key")),
                403 => (
                    "invalid_request_error",
                    "Country, region, or territory not supported",
                    Some("unsupported_country_region_territory"),
                ),
                404 => (
                    "invalid_request_error",
                    "The model does not exist or you do not have access to it.",
                    Some("model_not_found"),
                ),
                429 => ("requests", "Rate limit reached.", Some("rate_limit_exceeded")),
                _ => ("server_error", "The server had an error while processing your request.", None),
            };
            openai(status, message, kind, None, code)
        }
        Provider::Anthropic => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                402 => "billing_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                504 => "timeout_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            anthropic(status, kind, &format!("mock {kind}"))
        }
        Provider::Gemini => {
            let grpc = match status {
                400 => "INVALID_ARGUMENT",
                401 => "UNAUTHENTICATED",
                403 => "PERMISSION_DENIED",
                404 => "NOT_FOUND",
                429 => "RESOURCE_EXHAUSTED",
                503 => "UNAVAILABLE",
                504 => "DEADLINE_EXCEEDED",
                _ => "INTERNAL",
            };
            gemini(status, grpc, &format!("mock {grpc}"), None)
        }
    }
}

/// A 400 for a malformed request, in the provider's shape.
pub fn bad_request(provider: Provider, message: &str) -> ProviderError {
    match provider {
        Provider::OpenAi => openai(400, message, "invalid_request_error", None, None),
        Provider::Anthropic => anthropic(400, "invalid_request_error", message),
        Provider::Gemini => gemini(400, "INVALID_ARGUMENT", message, None),
    }
}

/// The rejection of a missing key (`None`) or of a `bad-` key.
pub fn unauthenticated(provider: Provider, key: Option<&str>) -> ProviderError {
    match (provider, key) {
        (Provider::OpenAi, None) => openai(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth.",
            "invalid_request_error",
            None,
            None,
        ),
        (Provider::Anthropic, None) => anthropic(401, "authentication_error", "x-api-key header is required"),
        (Provider::Gemini, None) => gemini(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
            None,
        ),
        (provider, Some(_)) => for_kind(provider, ErrorKind::InvalidKey),
    }
}
