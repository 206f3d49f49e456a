//! `multipart/form-data` uploads (audio transcriptions and translations): read under caps, so
//! the relay learns the `model` field without holding unbounded bytes, and rebuilt for each
//! attempt with the channel's model.
//!
//! Caps: the whole body is limited to the relay's `max_body_bytes`, the file to
//! [`MAX_FILE_BYTES`] (OpenAI's 25 MB), every other field to [`MAX_FIELD_BYTES`] and the form to
//! [`MAX_FIELDS`] fields, each refused with a 413 naming the field before any channel is tried.
//! The file is held in memory (at most the cap): the form's fields may come in any order, so the
//! model may follow the file.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart};
use axum::http::header;
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use oblivious_core::{ApiError, ErrorKind};
use tower::{Layer, ServiceExt};

/// Largest uploaded file (OpenAI's limit for audio files: 25 MB).
pub const MAX_FILE_BYTES: usize = 25 * 1024 * 1024;
/// Largest value of any other field (a prompt, a language, ...).
pub const MAX_FIELD_BYTES: usize = 64 * 1024;
/// Most fields one form may have.
pub const MAX_FIELDS: usize = 64;

/// One field of a form.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Bytes,
}

/// A form as received, fields in their order.
#[derive(Debug, Clone, Default)]
pub struct Form {
    pub parts: Vec<Part>,
}

impl Form {
    /// The text of the first field called `name`.
    pub fn text(&self, name: &str) -> Option<&str> {
        let part = self.parts.iter().find(|p| p.name == name && p.file_name.is_none())?;
        std::str::from_utf8(&part.data).ok()
    }

    /// The first field called `name` that carries a file.
    pub fn file(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name && p.file_name.is_some())
    }

    /// The form as a `multipart/form-data` body with `boundary`, with `model`'s value replaced.
    pub fn encode(&self, boundary: &str, model: &str) -> Bytes {
        let size: usize = self.parts.iter().map(|p| p.data.len() + 256).sum::<usize>() + 64;
        let mut body = BytesMut::with_capacity(size);
        for part in &self.parts {
            body.put_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"", quoted(&part.name)).as_bytes(),
            );
            if let Some(file_name) = &part.file_name {
                body.put_slice(format!("; filename=\"{}\"", quoted(file_name)).as_bytes());
            }
            body.put_slice(b"\r\n");
            if let Some(content_type) = &part.content_type {
                body.put_slice(format!("Content-Type: {}\r\n", single_line(content_type)).as_bytes());
            }
            body.put_slice(b"\r\n");
            if part.name == "model" && part.file_name.is_none() {
                body.put_slice(model.as_bytes());
            } else {
                body.put_slice(&part.data);
            }
            body.put_slice(b"\r\n");
        }
        body.put_slice(format!("--{boundary}--\r\n").as_bytes());
        body.freeze()
    }
}

/// A header parameter value: quotes escaped as browsers do (`%22`), line breaks dropped.
fn quoted(text: &str) -> String {
    single_line(text).replace('"', "%22")
}

fn single_line(text: &str) -> String {
    text.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

/// Reads a form from a request whose body is limited to `max_body_bytes`.
pub async fn read(request: axum::extract::Request, max_body_bytes: usize) -> Result<Form, ApiError> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_form {
        return Err(ApiError::invalid_request(
            "This endpoint takes a multipart/form-data body (a `file` and a `model` field).",
        ));
    }
    let over_limit = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| count_limited(body, max_body_bytes, over_limit.clone()));
    // The body is limited here, so axum's own default limit (2 MB) must not apply too.
    let extract = tower::service_fn(|request: axum::extract::Request| async move {
        Ok::<_, Infallible>(Multipart::from_request(request, &()).await)
    });
    let extracted = DefaultBodyLimit::disable().layer(extract).oneshot(request).await;
    let Ok(Ok(mut multipart)) = extracted else {
        return Err(ApiError::invalid_request("The multipart/form-data body has no valid boundary."));
    };
    let failed = |over_limit: &AtomicBool| {
        if over_limit.load(Ordering::Relaxed) {
            too_large("", format!("Request body is larger than the limit of {max_body_bytes} bytes."))
        } else {
            ApiError::invalid_request("The multipart/form-data body is malformed.")
        }
    };
    let mut form = Form::default();
    while let Some(mut field) = multipart.next_field().await.map_err(|_| failed(&over_limit))? {
        if form.parts.len() >= MAX_FIELDS {
            return Err(too_large("", format!("A form may have at most {MAX_FIELDS} fields.")));
        }
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        let cap = if file_name.is_some() { MAX_FILE_BYTES } else { MAX_FIELD_BYTES };
        let mut data = BytesMut::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| failed(&over_limit))? {
            if data.len() + chunk.len() > cap {
                let what = if file_name.is_some() { "The file" } else { "The field" };
                return Err(too_large(&name, format!("{what} is larger than the limit of {cap} bytes.")));
            }
            data.put_slice(&chunk);
        }
        form.parts.push(Part { name, file_name, content_type, data: data.freeze() });
    }
    Ok(form)
}

/// `body`, failing once more than `limit` bytes went through (and saying so in `over_limit`, so
/// the error is told apart from a malformed form whatever the parser makes of it).
fn count_limited(body: Body, limit: usize, over_limit: Arc<AtomicBool>) -> Body {
    let mut seen = 0usize;
    Body::from_stream(body.into_data_stream().map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len();
        if seen > limit {
            over_limit.store(true, Ordering::Relaxed);
            return Err(axum::Error::new(std::io::Error::other("request body over the limit")));
        }
        Ok(chunk)
    }))
}

fn too_large(param: &str, message: String) -> ApiError {
    let mut error = ApiError::new(ErrorKind::PayloadTooLarge, message).with_code("request_too_large");
    if !param.is_empty() {
        error.param = Some(param.to_string());
    }
    error
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn request(body: &'static [u8]) -> axum::extract::Request {
        axum::http::Request::builder()
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XX")
            .body(Body::from(body))
            .unwrap()
    }

    #[tokio::test]
    async fn a_form_is_read_and_rebuilt_with_another_model() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF....\r\n--XX\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--XX--\r\n";
        let form = read(request(body), 1 << 20).await.unwrap();
        assert_eq!(form.text("model"), Some("whisper-1"));
        let file = form.file("file").unwrap();
        assert_eq!((&file.data[..], file.content_type.as_deref()), (&b"RIFF...."[..], Some("audio/wav")));

        let rebuilt = form.encode("BOUND", "whisper-large@ttfb=1");
        let again = axum::http::Request::builder()
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=BOUND")
            .body(Body::from(rebuilt))
            .unwrap();
        let form = read(again, 1 << 20).await.unwrap();
        assert_eq!(form.text("model"), Some("whisper-large@ttfb=1"));
        assert_eq!(&form.file("file").unwrap().data[..], b"RIFF....");
    }

    #[tokio::test]
    async fn oversized_fields_and_bodies_are_413_and_other_bodies_400() {
        let long = format!(
            "--XX\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\n{}\r\n--XX--\r\n",
            "a".repeat(MAX_FIELD_BYTES + 1)
        );
        let request = axum::http::Request::builder()
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XX")
            .body(Body::from(long))
            .unwrap();
        let error = read(request, 1 << 20).await.unwrap_err();
        assert_eq!((error.status(), error.param.as_deref()), (StatusCode::PAYLOAD_TOO_LARGE, Some("prompt")));

        let body = b"--XX\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--XX--\r\n";
        assert_eq!(read(request_of(body), 10).await.unwrap_err().status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            read(request_of(b"--XX\r\nnot a header"), 1 << 20).await.unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
        let json = axum::http::Request::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        assert_eq!(read(json, 1 << 20).await.unwrap_err().status(), StatusCode::BAD_REQUEST);
    }

    fn request_of(body: &'static [u8]) -> axum::extract::Request {
        request(body)
    }
}
