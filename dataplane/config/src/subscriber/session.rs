//! One connection to the config server: announce the node, then for every response validate,
//! apply, persist and ACK — or NACK and keep what is active. Returns when the stream ends.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Endpoint;

use super::holder::Holder;
use crate::payload::SUPPORTED_SCHEMAS;
use crate::proto::config_discovery_client::ConfigDiscoveryClient;
use crate::proto::{DiscoveryRequest, DiscoveryResponse, Node};

/// Largest response accepted; snapshots above 64 KiB travel gzipped, so this is generous.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// NACK messages end up in a CR's status: keep them short.
const MAX_NACK_MESSAGE_CHARS: usize = 1024;

/// How a session ended.
#[derive(Debug)]
pub(super) struct SessionOutcome {
    /// A stream was established (the server answered the call).
    pub(super) streamed: bool,
    /// Responses accepted during the session.
    pub(super) accepted: usize,
    /// Why it ended.
    pub(super) reason: String,
}

pub(super) async fn run(holder: &Arc<Holder>, endpoint: &Endpoint, node: &Node) -> SessionOutcome {
    let mut outcome = SessionOutcome { streamed: false, accepted: 0, reason: String::new() };
    let channel = match endpoint.connect().await {
        Ok(channel) => channel,
        Err(error) => {
            outcome.reason = format!("cannot connect: {}", error_chain(&error));
            return outcome;
        }
    };
    let mut client = ConfigDiscoveryClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES);
    let (requests, outbound) = mpsc::channel(8);
    let hello = DiscoveryRequest {
        node: Some(node.clone()),
        version_info: holder.version(),
        supported_schemas: SUPPORTED_SCHEMAS.to_vec(),
        ..DiscoveryRequest::default()
    };
    // The receiver is alive until `client.stream` drops it; this cannot fail.
    let _ = requests.send(hello).await;
    let mut inbound = match client.stream(ReceiverStream::new(outbound)).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            outcome.reason = format!("stream refused: {}", status.message());
            return outcome;
        }
    };
    outcome.streamed = true;
    loop {
        match inbound.message().await {
            Ok(Some(response)) => {
                let answer = answer(holder, response).await;
                if answer.error_message.is_empty() {
                    outcome.accepted += 1;
                }
                if requests.send(answer).await.is_err() {
                    outcome.reason = "the request stream closed".into();
                    return outcome;
                }
            }
            Ok(None) => {
                outcome.reason = "the server ended the stream".into();
                return outcome;
            }
            Err(status) => {
                outcome.reason = format!("stream broken: {} ({:?})", status.message(), status.code());
                return outcome;
            }
        }
    }
}

/// Validates and applies one response, returning the ACK or NACK to send.
async fn answer(holder: &Arc<Holder>, response: DiscoveryResponse) -> DiscoveryRequest {
    match holder.check(&response) {
        Ok(decoded) => {
            let version = decoded.snapshot.version.clone();
            if holder.install_from_stream(decoded.snapshot) {
                // Before the ACK: an ACKed version is one the pod can restart on.
                holder.persist(version.clone(), decoded.json).await;
            }
            DiscoveryRequest { version_info: version, response_nonce: response.nonce, ..DiscoveryRequest::default() }
        }
        Err(refusal) => {
            let kept = holder.version();
            tracing::warn!(
                refused = response.version_info,
                kept,
                %refusal,
                "config snapshot refused (NACK); keeping the active one"
            );
            let mut message = refusal.to_string();
            if message.chars().count() > MAX_NACK_MESSAGE_CHARS {
                message = message.chars().take(MAX_NACK_MESSAGE_CHARS).collect::<String>() + "…";
            }
            DiscoveryRequest {
                version_info: kept,
                response_nonce: response.nonce,
                error_message: message,
                ..DiscoveryRequest::default()
            }
        }
    }
}

/// Transport errors hide the useful part ("connection refused") in their sources.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
