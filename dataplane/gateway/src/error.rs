//! The product API's one error shape, `{"error": {"code", "message"}}` with a stable `code`
//! (DESIGN §7), and the JSON body extractor that reports malformed input in that shape, naming
//! the field at fault — axum's own rejections are plain text no client can parse.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

/// An error answered by the product API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductError {
    pub status: StatusCode,
    /// Stable, machine-readable (`invalid_request`, `unauthenticated`, `not_found`, ...).
    pub code: &'static str,
    pub message: String,
    /// Seconds to wait, sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

impl ProductError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ProductError { status, code, message: message.into(), retry_after: None }
    }

    /// A 400 naming the field at fault.
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", format!("{field}: {reason}"))
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// A 404 that says nothing about whether the thing exists for someone else.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// The store failed; the detail goes to the log, not to the client.
    pub fn store(error: oblivious_store::StoreError) -> Self {
        match error {
            oblivious_store::StoreError::Conflict(field) => Self::conflict(format!("{field} is already taken")),
            oblivious_store::StoreError::NotFound(what) => Self::not_found(what),
            oblivious_store::StoreError::Invalid(reason) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_request", reason)
            }
            other => {
                tracing::error!(error = %other, "store error in the product API");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "The database is unavailable. Retry shortly.",
                )
            }
        }
    }
}

impl From<oblivious_store::StoreError> for ProductError {
    fn from(error: oblivious_store::StoreError) -> Self {
        Self::store(error)
    }
}

impl IntoResponse for ProductError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A JSON body whose problems come back as `ProductError`s naming the field path.
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ProductError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(request, state).await.map_err(|_| {
            ProductError::new(StatusCode::BAD_REQUEST, "invalid_request", "The request body could not be read.")
        })?;
        parse_body(&bytes).map(Body)
    }
}

/// Parses JSON, naming the field of the first problem.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ProductError> {
    if bytes.is_empty() {
        return Err(ProductError::new(StatusCode::BAD_REQUEST, "invalid_request", "A JSON body is required."));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ProductError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("The body is not valid JSON: {inner}"),
            );
        }
        let field = if path == "." { "body".to_string() } else { path };
        ProductError::invalid(&field, inner)
    })
}

pub type ApiResult<T> = Result<T, ProductError>;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Login {
        username: String,
        nested: Option<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    #[test]
    fn body_errors_name_the_field_and_malformed_json_says_so() {
        let missing = parse_body::<Login>(br#"{"nested": null}"#).unwrap_err();
        assert!(missing.message.contains("username"), "{}", missing.message);
        let wrong = parse_body::<Login>(br#"{"username": "a", "nested": {"count": "x"}}"#).unwrap_err();
        assert!(wrong.message.starts_with("nested.count"), "{}", wrong.message);
        let broken = parse_body::<Login>(b"{not json").unwrap_err();
        assert_eq!(broken.code, "invalid_request");
        assert!(broken.message.contains("not valid JSON"));
    }
}
