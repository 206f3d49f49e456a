//! One pod's `ConfigDiscovery.Stream`: admit the node, send its tenant's complete snapshot, then
//! every newer one, and account for each ACK and NACK.
//!
//! A response is answered by the request echoing its nonce. Answers to an older nonce are stale
//! (a newer snapshot was sent meanwhile) and ignored, as in xDS. A NACK changes nothing on the
//! server: the pod keeps its previous snapshot, and the next version is sent as usual.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use oblivious_config::health::WindowReport;
use oblivious_config::proto::config_discovery_server::ConfigDiscovery;
use oblivious_config::proto::{DiscoveryRequest, DiscoveryResponse, HealthReport, Node, ReportReceipt};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::Shared;
use super::admission::Subscription;
use super::metrics::TenantLabels;
use super::report::{StreamIdentity, SyncOutcome};

/// A pod must announce itself this quickly after opening the stream.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest pod or tenant name accepted (a DNS subdomain).
const MAX_NAME_LEN: usize = 253;

/// The gRPC service; clone-cheap handle on the shared distribution state.
#[derive(Clone)]
pub struct ConfigStreamService {
    pub(super) shared: Arc<Shared>,
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<DiscoveryResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl ConfigDiscovery for ConfigStreamService {
    type StreamStream = ResponseStream;

    async fn stream(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamStream>, Status> {
        let peer = request.remote_addr();
        let metadata = request.metadata().clone();
        let mut inbound = request.into_inner();
        let hello = match tokio::time::timeout(HELLO_TIMEOUT, inbound.message()).await {
            Ok(Ok(Some(hello))) => hello,
            Ok(Ok(None)) => return Err(Status::cancelled("the stream closed before the node announced itself")),
            Ok(Err(status)) => return Err(status),
            Err(_) => return Err(Status::deadline_exceeded("no node announced within 10 s")),
        };
        let node = self.admit(hello.node, peer, &metadata).await?;
        let (responses, outbound) = mpsc::channel(2);
        tokio::spawn(serve_pod(self.shared.clone(), node, hello.version_info, inbound, responses));
        Ok(Response::new(Box::pin(ReceiverStream::new(outbound))))
    }

    /// Keeps each report as the pod's latest until the pod closes the stream. The pod must be
    /// admitted for its tenant as for the config stream: a report names the tenant's channels.
    async fn report(&self, request: Request<Streaming<HealthReport>>) -> Result<Response<ReportReceipt>, Status> {
        let peer = request.remote_addr();
        let metadata = request.metadata().clone();
        let mut inbound = request.into_inner();
        let first = match tokio::time::timeout(HELLO_TIMEOUT, inbound.message()).await {
            Ok(Ok(Some(first))) => first,
            Ok(Ok(None)) => return Ok(Response::new(ReportReceipt {})),
            Ok(Err(status)) => return Err(status),
            Err(_) => return Err(Status::deadline_exceeded("no node announced within 10 s")),
        };
        let node = self.admit(first.node.clone(), peer, &metadata).await?;
        let ledger = &self.shared.health;
        ledger.record(&node, &WindowReport::from_proto(&first), std::time::SystemTime::now());
        // Like config streams, report streams never end on their own: a shutdown ends them.
        let mut closing = self.shared.closing.subscribe();
        loop {
            tokio::select! {
                message = inbound.message() => match message? {
                    Some(report) => ledger.record(&node, &WindowReport::from_proto(&report), std::time::SystemTime::now()),
                    None => break,
                },
                _ = closing.wait_for(|closing| *closing) => break,
            }
        }
        Ok(Response::new(ReportReceipt {}))
    }
}

impl ConfigStreamService {
    /// The node a stream's first message announces, if valid and admitted for its tenant.
    async fn admit(
        &self,
        node: Option<Node>,
        peer: Option<std::net::SocketAddr>,
        metadata: &tonic::metadata::MetadataMap,
    ) -> Result<Node, Status> {
        let node = node.ok_or_else(|| Status::invalid_argument("the first request must carry `node`"))?;
        check_name("node.tenant", &node.tenant)?;
        check_name("node.pod", &node.pod)?;
        let subscription = Subscription { node: &node, peer, metadata };
        if let Err(reason) = self.shared.admission.admit(&subscription).await {
            tracing::warn!(pod = node.pod, tenant = node.tenant, ?peer, reason, "config stream refused");
            return Err(Status::permission_denied(reason));
        }
        Ok(node)
    }
}

fn check_name(field: &str, value: &str) -> Result<(), Status> {
    let valid = !value.is_empty()
        && value.len() <= MAX_NAME_LEN
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if valid {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!("{field} must be a lowercase DNS name, got {value:?}")))
    }
}

/// The last response sent on a stream, awaiting its answer.
struct Sent {
    nonce: String,
    version: String,
}

async fn serve_pod(
    shared: Arc<Shared>,
    node: Node,
    announced_version: String,
    mut inbound: Streaming<DiscoveryRequest>,
    responses: mpsc::Sender<Result<DiscoveryResponse, Status>>,
) {
    let id = shared.next_stream_id();
    let identity = StreamIdentity { id, pod: &node.pod, role: &node.role, tenant: &node.tenant, lane: &node.lane };
    let labels = TenantLabels { tenant: node.tenant.clone() };
    tracing::info!(
        pod = node.pod,
        role = node.role,
        tenant = node.tenant,
        lane = node.lane,
        running = announced_version,
        build = node.build_version,
        "config stream opened"
    );
    shared.metrics.streams.inc();
    shared.convergence.connected(&node.tenant, id);
    shared.reporter.connected(&identity, &announced_version);
    let mut feed = shared.feeds.subscribe(&node.tenant);
    // The complete snapshot first on every subscription, whatever the pod says it runs.
    feed.mark_changed();
    let mut closing = shared.closing.subscribe();
    let closed = async move {
        let _ = closing.wait_for(|closing| *closing).await;
    };
    tokio::pin!(closed);
    let mut running_version = announced_version;
    let mut sent: Option<Sent> = None;
    let reason = loop {
        tokio::select! {
            changed = feed.changed() => {
                if changed.is_err() {
                    break "the feed closed".to_string();
                }
                let Some(published) = feed.borrow_and_update().clone() else { continue };
                if sent.as_ref().is_some_and(|sent| sent.version == published.version) {
                    continue;
                }
                let nonce = shared.next_nonce();
                let response = DiscoveryResponse {
                    version_info: published.version.clone(),
                    nonce: nonce.clone(),
                    schema: published.schema,
                    content_type: published.content_type.to_string(),
                    content_encoding: published.content_encoding.to_string(),
                    snapshot: published.bytes.clone(),
                    tenant: published.tenant.clone(),
                };
                if responses.send(Ok(response)).await.is_err() {
                    break "the pod stopped reading".to_string();
                }
                sent = Some(Sent { nonce, version: published.version.clone() });
            }
            message = inbound.message() => match message {
                Ok(Some(request)) => {
                    if let Some(version) = answer(&shared, &identity, &labels, sent.as_ref(), request) {
                        running_version = version;
                    }
                }
                Ok(None) => break "the pod closed the stream".to_string(),
                Err(status) => break format!("{} ({:?})", status.message(), status.code()),
            },
            () = &mut closed => {
                break "the operator is shutting down".to_string();
            }
        }
    };
    shared.metrics.streams.dec();
    if let Some(converged) = shared.convergence.disconnected(&node.tenant, id) {
        shared.metrics.convergence.get_or_create(&labels).observe(converged.as_secs_f64());
    }
    shared.reporter.report(&shared.metrics, &identity, &running_version, &running_version, SyncOutcome::Disconnected);
    tracing::info!(pod = node.pod, tenant = node.tenant, reason, "config stream closed");
}

/// Accounts for an ACK or NACK; returns the version the pod now runs when the answer is current.
fn answer(
    shared: &Shared,
    identity: &StreamIdentity<'_>,
    labels: &TenantLabels,
    sent: Option<&Sent>,
    request: DiscoveryRequest,
) -> Option<String> {
    let sent = sent?;
    if request.response_nonce != sent.nonce {
        tracing::debug!(pod = identity.pod, nonce = request.response_nonce, "stale or unsolicited answer ignored");
        return None;
    }
    if request.error_message.is_empty() {
        shared.metrics.acks.get_or_create(labels).inc();
        if let Some(converged) = shared.convergence.acked(identity.tenant, identity.id, &sent.version) {
            shared.metrics.convergence.get_or_create(labels).observe(converged.as_secs_f64());
            tracing::info!(tenant = identity.tenant, version = sent.version, ?converged, "config converged");
        }
        shared.reporter.report(&shared.metrics, identity, &sent.version, &sent.version, SyncOutcome::Acked);
        Some(sent.version.clone())
    } else {
        shared.metrics.nacks.get_or_create(labels).inc();
        shared.convergence.nacked(identity.tenant, &sent.version);
        tracing::warn!(
            pod = identity.pod,
            tenant = identity.tenant,
            refused = sent.version,
            kept = request.version_info,
            message = request.error_message,
            "config snapshot NACKed"
        );
        shared.reporter.report(
            &shared.metrics,
            identity,
            &sent.version,
            &request.version_info,
            SyncOutcome::Nacked { message: request.error_message },
        );
        Some(request.version_info)
    }
}
