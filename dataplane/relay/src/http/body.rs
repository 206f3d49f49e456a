//! Reading a request body under the configured size limit, with a 413 in the caller's dialect
//! (axum's own limit answers in plain text, which no SDK can parse).

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use oblivious_core::{ApiError, ErrorKind};

pub async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            ErrorKind::PayloadTooLarge,
            format!("Request body is larger than the limit of {limit} bytes."),
        )
        .with_code("request_too_large")),
        Err(_) => Err(ApiError::invalid_request("The request body could not be read.")),
    }
}
