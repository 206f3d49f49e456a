//! Reconcile metrics, one set shared by every controller and labelled by it.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::distribution::TenantLabels;

/// Labels of the per-controller metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    pub controller: &'static str,
}

/// Labels of the error counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub controller: &'static str,
    pub error: &'static str,
}

/// `reconciles_total`, `reconcile_errors_total`, `reconcile_duration_seconds`, and what the
/// controllers fold into status that alerts need (`tenant_budget_used_ratio`).
#[derive(Debug)]
pub struct ReconcileMetrics {
    pub reconciles: Family<ControllerLabels, Counter>,
    pub errors: Family<ErrorLabels, Counter>,
    pub duration: Family<ControllerLabels, Histogram>,
    /// Share of each tenant's monthly budget spent (0..1, above 1 when overspent).
    pub budget_used: Family<TenantLabels, Gauge<f64, AtomicU64>>,
}

impl Default for ReconcileMetrics {
    fn default() -> Self {
        ReconcileMetrics {
            reconciles: Family::default(),
            errors: Family::default(),
            duration: Family::new_with_constructor(|| {
                Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0])
            }),
            budget_used: Family::default(),
        }
    }
}

impl ReconcileMetrics {
    /// Registers every metric in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register("reconciles", "Reconciles run, per controller", self.reconciles.clone());
        registry.register("reconcile_errors", "Failed reconciles, per controller and error", self.errors.clone());
        registry.register("reconcile_duration_seconds", "Time a reconcile took, per controller", self.duration.clone());
        registry.register(
            "tenant_budget_used_ratio",
            "Share of the tenant's monthly budget spent, as its relays last reported",
            self.budget_used.clone(),
        );
    }

    /// Counts one reconcile of `controller` that took `took`.
    pub fn observe(&self, controller: &'static str, took: Duration) {
        self.reconciles.get_or_create(&ControllerLabels { controller }).inc();
        self.duration.get_or_create(&ControllerLabels { controller }).observe(took.as_secs_f64());
    }

    /// Counts one failure.
    pub fn failed(&self, controller: &'static str, error: &super::Error) {
        self.errors.get_or_create(&ErrorLabels { controller, error: error.metric_label() }).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the operator serves (`cluster::run` registers both sets) is what the chart's alerts
    /// and dashboards are checked against.
    #[test]
    fn the_charts_list_of_operator_metrics_is_what_is_served() {
        let mut registry = Registry::default();
        crate::distribution::DistributionMetrics::default().register(&mut registry);
        ReconcileMetrics::default().register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap_or_default();
        let mut served: Vec<&str> = text.lines().filter_map(|line| line.strip_prefix("# TYPE ")).collect();
        served.sort_unstable();
        let listed: Vec<&str> = include_str!("../../../charts/oblivious/metrics/operator.txt")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .collect();
        assert_eq!(served, listed, "update charts/oblivious/metrics/operator.txt");
    }
}
