//! The config stream server (DESIGN §4): every data-plane pod holds one
//! `ConfigDiscovery.Stream` (see `dataplane/config/proto`) and receives its tenant's complete
//! snapshot first, then each new one, ACKing or NACKing every response.
//!
//! ```text
//! watch<TenantSnapshots> ─▶ feed (debounce, encode once) ─▶ per-tenant feed ─▶ stream per pod
//!                                                                   ACK/NACK ◀─┘
//!                                  mpsc<SyncReport> + Ledger ◀── report ◀──────┘
//!                                          HealthLedger ◀── Report (health every 10 s)
//! ```
//!
//! Every operator replica runs one (streams are served from each replica's own cache); only
//! the leader turns reports into status. Outside a cluster, `serve-local` feeds it from a
//! watched manifests directory. Invariants: operator/NOTES.md.

mod admission;
pub mod bench;
mod convergence;
mod feed;
mod health;
pub mod local;
mod metrics;
mod report;
mod stream;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oblivious_config::proto::config_discovery_server::ConfigDiscoveryServer;
use oblivious_config::subscriber::MAX_MESSAGE_BYTES;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::TcpListenerStream;

pub use admission::{NodeAdmission, Subscription, TrustDeclaredTenant};
pub use feed::{DistributionConfig, TenantSnapshots};
pub use health::{HealthLedger, PodHealth, REPORT_STALE_AFTER, unix_ms};
pub use metrics::{DistributionMetrics, TenantLabels};
pub use report::{Ledger, PodSync, SyncOutcome, SyncReport};
pub use stream::ConfigStreamService;

use convergence::Convergence;
use feed::Feeds;
use report::Reporter;

/// State shared by the publisher and every stream.
pub(crate) struct Shared {
    feeds: Feeds,
    convergence: Convergence,
    reporter: Reporter,
    /// The pods' latest health reports.
    health: HealthLedger,
    metrics: DistributionMetrics,
    admission: Box<dyn NodeAdmission>,
    /// Set to true to end every stream (shutdown).
    closing: watch::Sender<bool>,
    next_stream: AtomicU64,
    next_nonce: AtomicU64,
    /// Distinguishes this replica's nonces from another's (and a restarted one's).
    nonce_prefix: String,
}

impl Shared {
    fn next_stream_id(&self) -> u64 {
        self.next_stream.fetch_add(1, Ordering::Relaxed)
    }

    fn next_nonce(&self) -> String {
        format!("{}-{}", self.nonce_prefix, self.next_nonce.fetch_add(1, Ordering::Relaxed))
    }
}

/// The config stream of one operator replica.
#[derive(Clone)]
pub struct Distribution {
    shared: Arc<Shared>,
}

impl Distribution {
    /// Starts publishing `source` and returns the server state; reports go to `reports`.
    pub fn spawn(
        source: watch::Receiver<TenantSnapshots>,
        reports: mpsc::Sender<SyncReport>,
        config: DistributionConfig,
    ) -> Self {
        Self::spawn_with_admission(source, reports, config, Box::new(TrustDeclaredTenant))
    }

    /// [`Distribution::spawn`] with a check on who may subscribe for which tenant.
    pub fn spawn_with_admission(
        source: watch::Receiver<TenantSnapshots>,
        reports: mpsc::Sender<SyncReport>,
        config: DistributionConfig,
        admission: Box<dyn NodeAdmission>,
    ) -> Self {
        let started = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        let shared = Arc::new(Shared {
            feeds: Feeds::default(),
            convergence: Convergence::default(),
            reporter: Reporter::new(reports),
            health: HealthLedger::default(),
            metrics: DistributionMetrics::default(),
            admission,
            closing: watch::channel(false).0,
            next_stream: AtomicU64::new(1),
            next_nonce: AtomicU64::new(1),
            nonce_prefix: format!("{:x}.{:x}", std::process::id(), started & 0xffff_ffff),
        });
        tokio::spawn(feed::run_publisher(source, shared.clone(), config));
        Distribution { shared }
    }

    /// The gRPC service to mount on a tonic server.
    pub fn service(&self) -> ConfigDiscoveryServer<ConfigStreamService> {
        ConfigDiscoveryServer::new(ConfigStreamService { shared: self.shared.clone() })
            .max_decoding_message_size(64 * 1024)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// The metrics, to register in the process's registry.
    pub fn metrics(&self) -> &DistributionMetrics {
        &self.shared.metrics
    }

    /// Every pod connected to this replica and where it stands.
    pub fn ledger(&self) -> &Ledger {
        &self.shared.reporter.ledger
    }

    /// The latest health report of every pod reporting to this replica.
    pub fn health(&self) -> &HealthLedger {
        &self.shared.health
    }

    /// Ends every open stream (pods keep their snapshot and reconnect, to another replica).
    pub fn close_streams(&self) {
        self.shared.closing.send_replace(true);
    }
}

/// Serves the config stream (plus `extra`, e.g. `/metrics`) on `listener` until `shutdown`,
/// then ends the streams so the server can stop.
pub async fn serve(
    listener: TcpListener,
    distribution: Distribution,
    extra: Option<axum::Router>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let mut routes = tonic::service::Routes::new(distribution.service());
    if let Some(extra) = extra {
        routes = tonic::service::Routes::from(routes.into_axum_router().merge(extra));
    }
    let closer = distribution.clone();
    let shutdown = async move {
        shutdown.await;
        // Streams never finish on their own; a graceful stop has to end them.
        closer.close_streams();
    };
    tonic::transport::Server::builder()
        // Kubelet probes and Prometheus speak HTTP/1 to `extra`'s routes; pods' streams are HTTP/2.
        .accept_http1(true)
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}
