//! Prometheus metrics of the relay, rendered at `GET /metrics` in the OpenMetrics text format.
//!
//! Per request (`record_request`, called once by `finalize`): RED by endpoint, model, channel,
//! status and lane; duration, time to first token and stream duration histograms whose exemplars
//! carry the request's trace id; tokens and cost counters. Every name is listed in
//! `charts/oblivious/metrics.txt`, which the chart's alerts and dashboards are checked against.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::exponential_buckets;
use prometheus_client::registry::Registry;

use crate::request_log::RequestRecord;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub ingress: &'static str,
    pub endpoint: &'static str,
    /// The public model asked for (empty when the request never named one, e.g. a 401).
    pub model: String,
    /// The channel that answered or last failed; empty when none was tried.
    pub channel: String,
    pub status: u16,
    /// The request's canary lane, `baseline` outside every lane.
    pub lane: String,
}

/// What latency histograms are split by (status is left out: a histogram per status would
/// multiply the series for little).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LatencyLabels {
    pub endpoint: &'static str,
    pub model: String,
    pub lane: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub model: String,
    pub channel: String,
    /// `input`, `output`, `cached_input`, `cache_write` or `reasoning`.
    pub kind: &'static str,
    pub lane: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CostLabels {
    pub model: String,
    pub currency: String,
    pub lane: String,
}

/// An exemplar: the trace a histogram observation came from.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TraceExemplar {
    pub trace_id: String,
}

type LatencyFamily =
    Family<LatencyLabels, HistogramWithExemplars<TraceExemplar>, fn() -> HistogramWithExemplars<TraceExemplar>>;

/// 1 ms to about 2 minutes, doubling.
fn latency_histogram() -> HistogramWithExemplars<TraceExemplar> {
    HistogramWithExemplars::new(exponential_buckets(0.001, 2.0, 18))
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
    pub duration: LatencyFamily,
    pub time_to_first_token: LatencyFamily,
    /// From request to the last event, streams only.
    pub stream_duration: LatencyFamily,
    pub tokens: Family<TokenLabels, Counter>,
    /// Cost charged, in micro-units of the price list's currency.
    pub cost_micros: Family<CostLabels, Counter>,
    /// Reservations made in this process's memory because the shared quota store (Redis) could
    /// not be reached.
    pub quota_store_fallbacks: Counter,
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
        let duration = LatencyFamily::new_with_constructor(latency_histogram);
        let time_to_first_token = LatencyFamily::new_with_constructor(latency_histogram);
        let stream_duration = LatencyFamily::new_with_constructor(latency_histogram);
        let tokens = Family::<TokenLabels, Counter>::default();
        let cost_micros = Family::<CostLabels, Counter>::default();
        let quota_store_fallbacks = Counter::default();
        let logs_dropped = Gauge::default();
        let config_info = Family::<VersionLabels, Gauge>::default();
        registry.register(
            "requests",
            "Requests answered, by ingress dialect, endpoint, model, channel, status and lane",
            requests.clone(),
        );
        registry.register("upstream_attempts", "Upstream attempts by channel and outcome", attempts.clone());
        registry.register("channel_ejections", "Passive outlier ejections by channel", ejections.clone());
        registry.register("request_duration_seconds", "Time from request to last byte", duration.clone());
        registry.register(
            "time_to_first_token_seconds",
            "Time from request to the first streamed event",
            time_to_first_token.clone(),
        );
        registry.register(
            "stream_duration_seconds",
            "Time from request to the last event of a stream",
            stream_duration.clone(),
        );
        registry.register("tokens", "Tokens counted, by model, channel, kind and lane", tokens.clone());
        registry.register(
            "cost_micros",
            "Cost charged in micro-units of the price list's currency",
            cost_micros.clone(),
        );
        registry.register(
            "quota_store_fallbacks",
            "Quota reservations made in process memory because the shared quota store was unreachable",
            quota_store_fallbacks.clone(),
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
            stream_duration,
            tokens,
            cost_micros,
            quota_store_fallbacks,
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

    /// Counts a finished request: once per request, when its record is written.
    pub fn record_request(&self, record: &RequestRecord) {
        let lane = record.lane.clone().unwrap_or_else(|| "baseline".into());
        let model = record.model.clone();
        let channel = record.channel.clone().unwrap_or_default();
        let labels = RequestLabels {
            ingress: record.ingress,
            endpoint: record.endpoint,
            model: model.clone(),
            channel: channel.clone(),
            status: record.status,
            lane: lane.clone(),
        };
        self.requests.get_or_create(&labels).inc();
        let exemplar = || record.trace_id.clone().map(|trace_id| TraceExemplar { trace_id });
        let latency = LatencyLabels { endpoint: record.endpoint, model: model.clone(), lane: lane.clone() };
        let elapsed = record.started.elapsed().as_secs_f64();
        self.duration.get_or_create(&latency).observe(elapsed, exemplar());
        if let Some(ttft) = record.ttft {
            self.time_to_first_token.get_or_create(&latency).observe(ttft.as_secs_f64(), exemplar());
        }
        if record.stream && record.ttft.is_some() {
            self.stream_duration.get_or_create(&latency).observe(elapsed, exemplar());
        }
        let usage = &record.usage;
        // One label set for every kind: a lookup of an existing series allocates nothing.
        let mut tokens = TokenLabels { model: model.clone(), channel, kind: "input", lane: lane.clone() };
        for (kind, count) in [
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cached_input", usage.cached_input_tokens),
            ("cache_write", usage.cache_write_tokens),
            ("reasoning", usage.reasoning_tokens),
        ] {
            if count > 0 {
                tokens.kind = kind;
                self.tokens.get_or_create(&tokens).inc_by(count);
            }
        }
        if let Some(currency) = record.currency.clone().filter(|_| record.cost_micros > 0) {
            self.cost_micros.get_or_create(&CostLabels { model, currency, lane }).inc_by(record.cost_micros);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The names and types this process serves, from its OpenMetrics `# TYPE` lines.
    fn served(metrics: &Metrics) -> Vec<String> {
        let mut names: Vec<String> =
            metrics.render().lines().filter_map(|line| line.strip_prefix("# TYPE ")).map(str::to_string).collect();
        names.sort();
        names
    }

    #[test]
    fn the_charts_list_of_data_plane_metrics_is_what_is_served() {
        let listed: Vec<String> = include_str!("../../../charts/oblivious/metrics/data-plane.txt")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(str::to_string)
            .collect();
        assert_eq!(served(&Metrics::default()), listed, "update charts/oblivious/metrics/data-plane.txt");
    }

    #[test]
    fn a_request_counts_its_tokens_cost_and_latency_with_its_trace_as_exemplar() {
        let metrics = Metrics::default();
        let mut record = RequestRecord::new("openai", "chat");
        record.model = "gpt".into();
        record.channel = Some("default/main".into());
        record.status = 200;
        record.stream = true;
        record.ttft = Some(std::time::Duration::from_millis(20));
        record.usage.input_tokens = 7;
        record.usage.output_tokens = 5;
        record.cost_micros = 17;
        record.currency = Some("USD".into());
        record.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".into());
        metrics.record_request(&record);
        let text = metrics.render();
        for expected in [
            r#"oblivious_relay_requests_total{ingress="openai",endpoint="chat",model="gpt",channel="default/main",status="200",lane="baseline"} 1"#,
            r#"oblivious_relay_tokens_total{model="gpt",channel="default/main",kind="input",lane="baseline"} 7"#,
            r#"oblivious_relay_tokens_total{model="gpt",channel="default/main",kind="output",lane="baseline"} 5"#,
            r#"oblivious_relay_cost_micros_total{model="gpt",currency="USD",lane="baseline"} 17"#,
            r#"oblivious_relay_stream_duration_seconds_count{endpoint="chat",model="gpt",lane="baseline"} 1"#,
            r#"# {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 0.02"#,
        ] {
            assert!(text.contains(expected), "missing {expected} in\n{text}");
        }
    }
}
