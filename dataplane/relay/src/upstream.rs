//! One upstream attempt over HTTP: send, apply the channel's deadlines, and turn every way it can
//! fail (refused connection, timeout, error status, in-stream error) into an `UpstreamFailure`.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use oblivious_config::Channel;
use oblivious_core::ErrorKind;
use oblivious_core::lane::LaneContext;
use tokio::time::Instant;

use crate::dialect::{self, FailureAction, UpstreamFailure, UpstreamRequest};

/// Longest time spent reading an upstream's error body.
const ERROR_BODY_TIMEOUT: Duration = Duration::from_secs(5);
/// Error bodies beyond this are cut: they are only classified and summarized.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

pub fn failure(
    action: FailureAction,
    kind: ErrorKind,
    status: u16,
    class: &'static str,
    message: &str,
) -> UpstreamFailure {
    UpstreamFailure { action, kind, status, class, message: message.to_string(), code: None }
}

pub fn timeout_failure(what: &str) -> UpstreamFailure {
    failure(FailureAction::Retry, ErrorKind::Timeout, 504, "timeout", &format!("The upstream did not {what} in time."))
}

/// Sends the request and waits for response headers until `deadline`. A non-success status is
/// read, classified and returned as the failure.
pub async fn send(
    client: &reqwest::Client,
    channel: &Channel,
    request: UpstreamRequest,
    lane: &LaneContext,
    deadline: Instant,
) -> Result<reqwest::Response, UpstreamFailure> {
    let builder = client.post(&request.url).json(&request.body);
    send_built(builder, channel, &request.headers, lane, deadline).await
}

/// `send` for a request whose body is already on `builder` (a multipart upload): the same
/// headers, deadline and failure classification.
pub async fn send_built(
    mut builder: reqwest::RequestBuilder,
    channel: &Channel,
    headers: &[(String, String)],
    lane: &LaneContext,
    deadline: Instant,
) -> Result<reqwest::Response, UpstreamFailure> {
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    for (name, value) in lane.provider_headers(channel.propagate_trace) {
        builder = builder.header(name, value);
    }
    let response = match tokio::time::timeout_at(deadline, builder.send()).await {
        Err(_) => return Err(timeout_failure("answer")),
        Ok(Err(error)) => return Err(transport_failure(&error)),
        Ok(Ok(response)) => response,
    };
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let body = read_error_body(response).await;
    Err(dialect::classify_failure(channel.provider, status, &body))
}

/// Classifies a transport error without exposing the URL reqwest puts in its message.
pub fn transport_failure(error: &reqwest::Error) -> UpstreamFailure {
    if error.is_timeout() {
        return timeout_failure("answer");
    }
    if error.is_connect() {
        return failure(
            FailureAction::Retry,
            ErrorKind::BadGateway,
            502,
            "connect",
            "Could not connect to the upstream.",
        );
    }
    failure(FailureAction::Retry, ErrorKind::BadGateway, 502, "transport", "The connection to the upstream failed.")
}

async fn read_error_body(response: reqwest::Response) -> Bytes {
    let read = async {
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(Ok(chunk)) = stream.next().await {
            body.extend_from_slice(&chunk);
            if body.len() >= ERROR_BODY_LIMIT {
                body.truncate(ERROR_BODY_LIMIT);
                break;
            }
        }
        Bytes::from(body)
    };
    tokio::time::timeout(ERROR_BODY_TIMEOUT, read).await.unwrap_or_default()
}

/// Reads a whole successful body, allowing at most `idle` between chunks.
pub async fn read_body(response: reqwest::Response, idle: Duration) -> Result<Bytes, UpstreamFailure> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    loop {
        match tokio::time::timeout(idle, stream.next()).await {
            Err(_) => return Err(timeout_failure("finish its answer")),
            Ok(None) => return Ok(Bytes::from(body)),
            Ok(Some(Err(error))) => return Err(transport_failure(&error)),
            Ok(Some(Ok(chunk))) => body.extend_from_slice(&chunk),
        }
    }
}
