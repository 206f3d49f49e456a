//! Prometheus metrics of the config stream. `config_convergence_seconds` is the one DESIGN §4
//! asks for: from the moment a tenant's new snapshot is built until the last pod that was
//! connected then has ACKed it.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of per-tenant metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    pub tenant: String,
}

/// Handles to every distribution metric; cheap to clone (they share their values).
#[derive(Clone)]
pub struct DistributionMetrics {
    pub convergence: Family<TenantLabels, Histogram>,
    pub streams: Gauge,
    pub acks: Family<TenantLabels, Counter>,
    pub nacks: Family<TenantLabels, Counter>,
    pub published: Family<TenantLabels, Counter>,
    pub reports_dropped: Counter,
}

impl Default for DistributionMetrics {
    fn default() -> Self {
        DistributionMetrics {
            // 10 ms .. ~80 s: sub-second is the target, tens of seconds a stuck pod.
            convergence: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.01, 2.0, 14))),
            streams: Gauge::default(),
            acks: Family::default(),
            nacks: Family::default(),
            published: Family::default(),
            reports_dropped: Counter::default(),
        }
    }
}

impl DistributionMetrics {
    /// Adds every metric to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "config_convergence_seconds",
            "Time from a tenant's snapshot being built to the last ACK from the pods connected then",
            self.convergence.clone(),
        );
        registry.register("config_streams", "Config streams open on this replica", self.streams.clone());
        registry.register("config_acks", "Snapshots ACKed by pods", self.acks.clone());
        registry.register("config_nacks", "Snapshots refused (NACKed) by pods", self.nacks.clone());
        registry.register(
            "config_snapshots_published",
            "Snapshot versions published to streams",
            self.published.clone(),
        );
        registry.register(
            "config_reports_dropped",
            "Sync reports dropped because the report channel was full",
            self.reports_dropped.clone(),
        );
    }
}
