//! Client-facing errors, rendered in the shape of the dialect the client speaks (DESIGN §7).
//!
//! An `ApiError` never carries an upstream URL or key: upstream failures are mapped to a kind
//! and a sanitized message before they get here.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::Dialect;

/// What went wrong, independent of dialect. Each kind maps to one status code and to the
/// error `type` each dialect uses for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: malformed or semantically invalid request.
    InvalidRequest,
    /// 401: missing, unknown, expired or revoked key.
    Authentication,
    /// 403: the key may not do this.
    PermissionDenied,
    /// 404: unknown model or route.
    NotFound,
    /// 413: body over the configured limit.
    PayloadTooLarge,
    /// 429: rate limited.
    RateLimited,
    /// 402/429: out of quota. OpenAI uses 429 `insufficient_quota`.
    InsufficientQuota,
    /// 500: our own bug or an unexpected state.
    Internal,
    /// 502: the upstream answered with something unusable or failed.
    BadGateway,
    /// 503: no upstream could take the request (all ejected, overloaded, or suspended).
    Unavailable,
    /// 504: the upstream did not answer in time.
    Timeout,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Authentication => StatusCode::UNAUTHORIZED,
            ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RateLimited | ErrorKind::InsufficientQuota => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::BadGateway => StatusCode::BAD_GATEWAY,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// Stable snake_case label for logs, metrics and request records.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Authentication => "authentication",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::InsufficientQuota => "insufficient_quota",
            ErrorKind::Internal => "internal",
            ErrorKind::BadGateway => "bad_gateway",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
        }
    }

    fn openai_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::NotFound | ErrorKind::PayloadTooLarge => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::PermissionDenied => "permission_error",
            ErrorKind::RateLimited => "requests",
            ErrorKind::InsufficientQuota => "insufficient_quota",
            ErrorKind::Internal | ErrorKind::BadGateway | ErrorKind::Timeout => "server_error",
            ErrorKind::Unavailable => "service_unavailable",
        }
    }

    fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::PermissionDenied => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::PayloadTooLarge => "request_too_large",
            ErrorKind::RateLimited | ErrorKind::InsufficientQuota => "rate_limit_error",
            ErrorKind::Internal | ErrorKind::BadGateway => "api_error",
            ErrorKind::Unavailable => "overloaded_error",
            ErrorKind::Timeout => "timeout_error",
        }
    }

    fn gemini_status(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::PayloadTooLarge => "INVALID_ARGUMENT",
            ErrorKind::Authentication => "UNAUTHENTICATED",
            ErrorKind::PermissionDenied => "PERMISSION_DENIED",
            ErrorKind::NotFound => "NOT_FOUND",
            ErrorKind::RateLimited | ErrorKind::InsufficientQuota => "RESOURCE_EXHAUSTED",
            ErrorKind::Internal | ErrorKind::BadGateway => "INTERNAL",
            ErrorKind::Unavailable => "UNAVAILABLE",
            ErrorKind::Timeout => "DEADLINE_EXCEEDED",
        }
    }
}

/// An error to show a client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub kind: ErrorKind,
    /// Overrides the kind's default status (e.g. an upstream 400 passed through as 400).
    pub status: Option<StatusCode>,
    pub message: String,
    /// OpenAI `param`: the request field at fault, as a path (`messages[2].content`).
    pub param: Option<String>,
    /// OpenAI `code`: a stable machine-readable code such as `model_not_found`.
    pub code: Option<String>,
    /// Seconds the client should wait, sent as `Retry-After`.
    pub retry_after: Option<u64>,
    /// Extra response headers (e.g. `x-ratelimit-*` on a 429).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            status: None,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
            headers: Vec::new(),
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    /// A 400 naming the field at fault, e.g. `invalid_field("messages[0].role", "unknown role")`.
    pub fn invalid_field(param: impl Into<String>, message: impl Into<String>) -> Self {
        let param = param.into();
        let message = message.into();
        let text = if param.is_empty() { message } else { format!("{param}: {message}") };
        ApiError { param: Some(param), ..Self::new(ErrorKind::InvalidRequest, text) }
    }

    pub fn model_not_found(model: &str) -> Self {
        ApiError {
            param: Some("model".into()),
            code: Some("model_not_found".into()),
            ..Self::new(
                ErrorKind::NotFound,
                format!("The model `{model}` does not exist or you do not have access to it."),
            )
        }
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| self.kind.status())
    }

    /// The JSON body in `dialect`'s error shape.
    pub fn body(&self, dialect: Dialect) -> serde_json::Value {
        match dialect {
            Dialect::OpenAi | Dialect::Responses => json!({
                "error": {
                    "message": self.message,
                    "type": self.kind.openai_type(),
                    "param": self.param,
                    "code": self.code,
                }
            }),
            Dialect::Anthropic => json!({
                "type": "error",
                "error": { "type": self.kind.anthropic_type(), "message": self.message }
            }),
            Dialect::Gemini => json!({
                "error": {
                    "code": self.status().as_u16(),
                    "message": self.message,
                    "status": self.kind.gemini_status(),
                }
            }),
        }
    }

    /// A complete HTTP response in `dialect`'s shape.
    pub fn into_response_for(self, dialect: Dialect) -> Response {
        let body = self.body(dialect).to_string();
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_model_renders_in_each_dialect_with_its_own_shape() {
        let err = ApiError::model_not_found("gpt-x");
        let openai = err.body(Dialect::OpenAi);
        assert_eq!(openai["error"]["code"], "model_not_found");
        assert_eq!(openai["error"]["type"], "invalid_request_error");
        let anthropic = err.body(Dialect::Anthropic);
        assert_eq!(anthropic["type"], "error");
        assert_eq!(anthropic["error"]["type"], "not_found_error");
        let gemini = err.body(Dialect::Gemini);
        assert_eq!(gemini["error"]["code"], 404);
        assert_eq!(gemini["error"]["status"], "NOT_FOUND");
    }

    #[test]
    fn field_errors_name_the_field_in_message_and_param() {
        let err = ApiError::invalid_field("messages[1].role", "unknown variant `robot`");
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(err.body(Dialect::OpenAi)["error"]["param"], "messages[1].role");
        assert!(err.message.starts_with("messages[1].role: "));
    }
}
