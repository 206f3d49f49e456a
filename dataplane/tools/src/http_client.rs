//! rmcp's Streamable HTTP transport driven by the workspace's `reqwest`.
//!
//! rmcp ships an HTTP client of its own, but it is built on reqwest 0.13 while the workspace uses
//! reqwest 0.12 everywhere (relay, files, rag, ...). Pulling a second reqwest (and a second hyper,
//! rustls and h2 stack) into every binary for one crate is not worth it, and moving the whole
//! workspace to 0.13 would drag every crate along at once. So this file implements rmcp's
//! `StreamableHttpClient` trait on the reqwest we already have, following the shape of rmcp's own
//! `transport/common/reqwest` client.
//!
//! It also owns the response byte limits: a JSON answer is counted while it streams in (and
//! refused by `Content-Length` before a byte is read), an SSE event is capped before the parser
//! buffers it, and every refusal trips an [`OversizeFlag`] so the hub can report
//! [`ToolError::TooLarge`](crate::ToolError::TooLarge) even when rmcp only says "stream closed".
//! Error bodies are never read: nothing here shows them to anyone.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use http::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderName, HeaderValue, StatusCode};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_client::{
    HttpStatusError, SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::Sse;

use crate::sse_limit::limited_sse_events;

const SESSION_ID: &str = "mcp-session-id";
const LAST_EVENT_ID: &str = "last-event-id";
const EVENT_STREAM: &str = "text/event-stream";
const JSON: &str = "application/json";

type HttpResult<T> = Result<T, StreamableHttpError<HttpError>>;

/// A reqwest error with its URL removed: the URL may carry credentials, and these errors reach
/// logs through rmcp.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct HttpError(reqwest::Error);

impl HttpError {
    fn new(error: reqwest::Error) -> Self {
        Self(error.without_url())
    }

    pub(crate) fn is_connect(&self) -> bool {
        self.0.is_connect()
    }

    pub(crate) fn is_timeout(&self) -> bool {
        self.0.is_timeout()
    }
}

fn client_error(error: reqwest::Error) -> StreamableHttpError<HttpError> {
    StreamableHttpError::Client(HttpError::new(error))
}

/// Shared by a connection's client and its hub entry: set once any answer was refused for size.
#[derive(Debug, Clone, Default)]
pub(crate) struct OversizeFlag(Arc<AtomicBool>);

impl OversizeFlag {
    pub(crate) fn trip(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub(crate) fn tripped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The workspace's reqwest client with a hard ceiling on what one answer may weigh.
#[derive(Clone)]
pub(crate) struct BoundedHttpClient {
    http: reqwest::Client,
    /// Ceiling applied on top of whatever limits rmcp passes in.
    max_bytes: usize,
    oversize: OversizeFlag,
}

impl BoundedHttpClient {
    pub(crate) fn new(http: reqwest::Client, max_bytes: usize, oversize: OversizeFlag) -> Self {
        Self { http, max_bytes, oversize }
    }

    fn too_large(&self, limit: usize) -> StreamableHttpError<HttpError> {
        self.oversize.trip();
        StreamableHttpError::ResponseBodyTooLarge { max_size: limit }
    }

    /// Reads a whole body, refusing it as soon as it is known to exceed `limit`.
    async fn read_bounded(&self, mut response: reqwest::Response, limit: usize) -> HttpResult<Vec<u8>> {
        if response.content_length().is_some_and(|length| length > limit as u64) {
            return Err(self.too_large(limit));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(client_error)? {
            if chunk.len() > limit - body.len() {
                return Err(self.too_large(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn sse_events(&self, response: reqwest::Response, limit: usize) -> BoxStream<'static, Result<Sse, SseError>> {
        let body = response.bytes_stream().map_err(HttpError::new).boxed();
        limited_sse_events(body, limit, self.oversize.clone())
    }
}

fn with_headers(
    mut request: reqwest::RequestBuilder,
    session_id: Option<&str>,
    auth_token: Option<String>,
    custom_headers: HashMap<HeaderName, HeaderValue>,
) -> reqwest::RequestBuilder {
    if let Some(token) = auth_token {
        request = request.bearer_auth(token);
    }
    // rmcp's per-request headers (protocol version, SEP-2243 `Mcp-*`); the server's configured
    // headers are the client's default headers.
    for (name, value) in custom_headers {
        request = request.header(name, value);
    }
    if let Some(session_id) = session_id {
        request = request.header(SESSION_ID, session_id);
    }
    request
}

/// Compares the media type of a `Content-Type` value, ignoring case and parameters.
fn media_type_is(content_type: Option<&HeaderValue>, expected: &str) -> bool {
    content_type
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(expected))
}

fn status_error(response: &reqwest::Response) -> StreamableHttpError<HttpError> {
    let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    HttpStatusError::new(response.status().as_u16(), retry_after).into()
}

impl StreamableHttpClient for BoundedHttpClient {
    type Error = HttpError;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<StreamableHttpPostResponse> {
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_token,
            custom_headers,
            StreamableHttpResponseLimits::default(),
        )
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> HttpResult<StreamableHttpPostResponse> {
        let mut limits = StreamableHttpResponseLimits::default();
        limits.max_sse_event_size = max_sse_event_size;
        self.post_message_with_response_limits(uri, message, session_id, auth_token, custom_headers, limits).await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> HttpResult<StreamableHttpPostResponse> {
        let json_limit = limits.max_json_response_size.min(self.max_bytes);
        let event_limit = limits.max_sse_event_size.min(self.max_bytes);
        let request = self.http.post(uri.as_ref()).header(ACCEPT, "application/json, text/event-stream");
        let request = with_headers(request, session_id.as_deref(), auth_token, custom_headers);
        let response = request.json(&message).send().await.map_err(client_error)?;

        let status = response.status();
        if matches!(status, StatusCode::ACCEPTED | StatusCode::NO_CONTENT) {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if status == StatusCode::NOT_FOUND && session_id.is_some() {
            return Err(StreamableHttpError::SessionExpired);
        }
        let content_type = response.headers().get(CONTENT_TYPE).cloned();
        let is_json = media_type_is(content_type.as_ref(), JSON);
        if !status.is_success() {
            // A JSON-RPC error (e.g. 400 "no valid session") is an MCP answer like any other;
            // anything else is reported by status alone.
            let error = status_error(&response);
            if is_json && !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                let body = self.read_bounded(response, json_limit).await?;
                if let Ok(message @ ServerJsonRpcMessage::Error(_)) =
                    serde_json::from_slice::<ServerJsonRpcMessage>(&body)
                {
                    return Ok(StreamableHttpPostResponse::Json(message, None));
                }
            }
            return Err(error);
        }

        let new_session_id = response.headers().get(SESSION_ID).and_then(|v| v.to_str().ok()).map(str::to_owned);
        // Notifications and replies expect no answer: whatever a 2xx carries is irrelevant.
        let awaits_no_answer = !matches!(message, ClientJsonRpcMessage::Request(_));
        if media_type_is(content_type.as_ref(), EVENT_STREAM) {
            return Ok(StreamableHttpPostResponse::Sse(self.sse_events(response, event_limit), new_session_id));
        }
        if awaits_no_answer {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if !is_json {
            let content_type = content_type.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            return Err(StreamableHttpError::UnexpectedContentType(content_type));
        }
        let body = self.read_bounded(response, json_limit).await?;
        match serde_json::from_slice(&body) {
            Ok(message) => Ok(StreamableHttpPostResponse::Json(message, new_session_id)),
            Err(_) => Err(StreamableHttpError::UnexpectedServerResponse("the body is not a JSON-RPC message".into())),
        }
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<()> {
        let request = with_headers(self.http.delete(uri.as_ref()), Some(&session_id), auth_token, custom_headers);
        let response = request.send().await.map_err(client_error)?;
        if response.status().is_success() || response.status() == StatusCode::METHOD_NOT_ALLOWED {
            return Ok(());
        }
        Err(status_error(&response))
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<BoxStream<'static, Result<Sse, SseError>>> {
        self.get_stream_with_max_sse_event_size(
            uri,
            session_id,
            last_event_id,
            auth_token,
            custom_headers,
            self.max_bytes,
        )
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> HttpResult<BoxStream<'static, Result<Sse, SseError>>> {
        // A resumed stream would replay the event that was just refused: once over the limit, a
        // connection is finished (the hub drops it).
        if self.oversize.tripped() {
            return Err(self.too_large(max_sse_event_size.min(self.max_bytes)));
        }
        let mut request = self.http.get(uri.as_ref()).header(ACCEPT, EVENT_STREAM);
        if let Some(last_event_id) = last_event_id {
            request = request.header(LAST_EVENT_ID, last_event_id);
        }
        let request = with_headers(request, session_id.as_deref(), auth_token, custom_headers);
        let response = request.send().await.map_err(client_error)?;
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            return Err(StreamableHttpError::ServerDoesNotSupportSse);
        }
        if !response.status().is_success() {
            return Err(status_error(&response));
        }
        let content_type = response.headers().get(CONTENT_TYPE);
        if !media_type_is(content_type, EVENT_STREAM) {
            let content_type = content_type.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            return Err(StreamableHttpError::UnexpectedContentType(content_type));
        }
        Ok(self.sse_events(response, max_sse_event_size.min(self.max_bytes)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn media_types_compare_without_case_or_parameters() {
        let value = |s: &'static str| Some(HeaderValue::from_static(s));
        assert!(media_type_is(value("application/json").as_ref(), JSON));
        assert!(media_type_is(value("Application/JSON; charset=utf-8").as_ref(), JSON));
        assert!(media_type_is(value("text/event-stream ;x=y").as_ref(), EVENT_STREAM));
        assert!(!media_type_is(value("application/jsonx").as_ref(), JSON));
        assert!(!media_type_is(None, JSON));
    }
}
