//! Prometheus metrics of the relay, rendered at `GET /metrics` in the text exposition format.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub ingress: &'static str,
    pub endpoint: &'static str,
    pub status: u16,
    /// The request's canary lane, `baseline` outside every lane.
    pub lane: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    pub channel: String,
    /// `success` or a failure class such as `rate_limit`, `connect`, `timeout`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabels {
    pub channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabels {
    pub version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// The error code the client got (`rate_limit_exceeded`, `insufficient_quota`, ...).
    pub code: String,
}

pub struct Metrics {
    registry: Registry,
    /// Requests refused by billing or rate limits, by code.
    pub billing_refusals: Family<RefusalLabels, Counter>,
    /// Charges waiting for the database (PostgreSQL outage).
    pub billing_pending_charges: Gauge,
    pub requests: Family<RequestLabels, Counter>,
    pub attempts: Family<AttemptLabels, Counter>,
    pub ejections: Family<ChannelLabels, Counter>,
    pub duration: Histogram,
    pub time_to_first_token: Histogram,
    pub logs_dropped: Gauge,
    /// Requests being answered right now, streams until their last byte, on every route of the
    /// process (`oblivious_inflight_requests`, what the HPA scales on).
    pub in_flight: Gauge,
    /// Files waiting for or in ingestion, in every knowledge base, as last seen by this
    /// process's ingestion worker (`oblivious_rag_jobs_pending`; 0 where none runs).
    pub rag_jobs_pending: Gauge,
    config_info: Family<VersionLabels, Gauge>,
    current_version: Mutex<String>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut root = Registry::default();
        let in_flight = Gauge::default();
        root.register(
            "oblivious_inflight_requests",
            "Requests in flight in this process, streams included",
            in_flight.clone(),
        );
        let rag_jobs_pending = Gauge::default();
        root.register(
            "oblivious_rag_jobs_pending",
            "Knowledge-base files waiting for or in ingestion (reported by ingestion workers)",
            rag_jobs_pending.clone(),
        );
        let registry = root.sub_registry_with_prefix("oblivious_relay");
        let requests = Family::<RequestLabels, Counter>::default();
        let attempts = Family::<AttemptLabels, Counter>::default();
        let ejections = Family::<ChannelLabels, Counter>::default();
        let duration = Histogram::new(exponential_buckets(0.001, 2.0, 18));
        let time_to_first_token = Histogram::new(exponential_buckets(0.001, 2.0, 18));
        let logs_dropped = Gauge::default();
        let config_info = Family::<VersionLabels, Gauge>::default();
        registry.register("requests", "Requests answered, by ingress dialect, endpoint and status", requests.clone());
        registry.register("upstream_attempts", "Upstream attempts by channel and outcome", attempts.clone());
        registry.register("channel_ejections", "Passive outlier ejections by channel", ejections.clone());
        registry.register("request_duration_seconds", "Time from request to last byte", duration.clone());
        registry.register(
            "time_to_first_token_seconds",
            "Time from request to the first streamed event",
            time_to_first_token.clone(),
        );
        registry.register(
            "request_logs_dropped",
            "Request records dropped (queue or outage buffer full)",
            logs_dropped.clone(),
        );
        registry.register("config_info", "The active configuration snapshot version", config_info.clone());
        let billing_refusals = Family::<RefusalLabels, Counter>::default();
        let billing_pending_charges = Gauge::default();
        registry.register(
            "billing_refusals",
            "Requests refused by rate limits or quota, by code",
            billing_refusals.clone(),
        );
        registry.register(
            "billing_pending_charges",
            "Charges waiting for the database to come back",
            billing_pending_charges.clone(),
        );
        Metrics {
            registry: root,
            billing_refusals,
            billing_pending_charges,
            requests,
            attempts,
            ejections,
            duration,
            time_to_first_token,
            logs_dropped,
            in_flight,
            rag_jobs_pending,
            config_info,
            current_version: Mutex::new(String::new()),
        }
    }
}

impl Metrics {
    pub fn set_config_version(&self, version: &str) {
        let mut current = self.current_version.lock().unwrap_or_else(|p| p.into_inner());
        if !current.is_empty() {
            self.config_info.remove(&VersionLabels { version: current.clone() });
        }
        self.config_info.get_or_create(&VersionLabels { version: version.to_string() }).set(1);
        *current = version.to_string();
    }

    pub fn count_attempt(&self, channel: &str, outcome: &str) {
        self.attempts
            .get_or_create(&AttemptLabels { channel: channel.to_string(), outcome: outcome.to_string() })
            .inc();
    }

    pub fn count_refusal(&self, error: &oblivious_core::ApiError) {
        let code = error.code.clone().unwrap_or_else(|| error.kind.as_str().to_string());
        self.billing_refusals.get_or_create(&RefusalLabels { code }).inc();
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
