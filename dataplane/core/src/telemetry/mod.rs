//! Logging and tracing set-up shared by every binary (DESIGN §8).
//!
//! - Logs: `RUST_LOG` filter, human output on a terminal and JSON lines when
//!   `OBLIVIOUS_LOG_FORMAT=json` (what a cluster's log pipeline wants). Every line written inside
//!   a request carries the request's span, and with it its `request_id` and `trace_id`.
//! - Traces: exported over OTLP/gRPC when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`
//!   and `OTEL_TRACES_SAMPLER(_ARG)` are read by the SDK as the specification says. Without an
//!   endpoint no OpenTelemetry layer is installed at all, so spans cost what a `tracing` span
//!   costs and nothing more; trace ids are still kept and passed on (`propagation`).

mod log_fields;
pub mod propagation;

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Whether spans are OpenTelemetry spans in this process (an exporter is installed).
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// True when this process exports traces: spans then carry OpenTelemetry contexts, and the trace
/// context sent to the next hop is the current span's.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// The process's telemetry; `shutdown` exports the spans still buffered.
#[must_use = "call shutdown() before the runtime ends, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports what has ended so far (blocking: call it off the async workers).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(error) = provider.force_flush()
        {
            eprintln!("warning: the trace exporter did not flush: {error}");
        }
    }

    /// Flushes and stops the exporter. Call it from outside async code, while the runtime the
    /// exporter was built in is still alive (its gRPC channel runs there).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown()
        {
            eprintln!("warning: the trace exporter did not shut down cleanly: {error}");
        }
    }
}

/// Installs the global subscriber: logs, plus trace export when an OTLP endpoint is configured.
/// `service` names the process when `OTEL_SERVICE_NAME` does not. Must be called inside a Tokio
/// runtime when an endpoint may be set (the exporter's channel is spawned on it). A second call
/// in the same process installs nothing (tests).
pub fn init(default_filter: &str, service: &str) -> Telemetry {
    install(default_filter, service, wants_export().then_some(Export::ToEnvironmentEndpoint))
}

/// `init`, exporting to `endpoint` whatever the environment says (tests, with an in-process
/// collector).
pub fn init_exporting_to(default_filter: &str, service: &str, endpoint: &str) -> Telemetry {
    install(default_filter, service, Some(Export::To(endpoint)))
}

/// Where traces go.
enum Export<'a> {
    /// The endpoint the `OTEL_EXPORTER_OTLP_*` variables name (the exporter reads them).
    ToEnvironmentEndpoint,
    To(&'a str),
}

/// `export`: `None` exports nothing.
fn install(default_filter: &str, service: &str, export: Option<Export<'_>>) -> Telemetry {
    let provider = export.and_then(|export| match tracer_provider(export, service) {
        Ok(provider) => Some(provider),
        Err(error) => {
            eprintln!("warning: traces are not exported: {error}");
            None
        }
    });
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("oblivious"))
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_filter(trace_filter())
    });
    let installed = tracing_subscriber::registry().with(log_layer(default_filter)).with(otel).try_init();
    if installed.is_ok() && provider.is_some() {
        EXPORTING.store(true, Ordering::Relaxed);
    }
    Telemetry { provider: provider.filter(|_| installed.is_ok()) }
}

/// Logs only, for the operator (it serves no traced requests).
pub fn init_logging(default_filter: &str) {
    let _ = tracing_subscriber::registry().with(log_layer(default_filter)).try_init();
}

/// Log lines as `RUST_LOG` (else `default_filter`) selects them, each inside its request's span:
/// that span is kept at every level (`RUST_LOG=warn` still puts the request id and trace id on
/// a warning), while which spans are *exported* is `trace_filter`'s business.
fn log_layer<S>(default_filter: &str) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
{
    let chosen = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // Our other spans (route, upstream, billing, …) are for traces: in logs they would only
    // repeat what the line says, and skipping them makes them free when nothing exports.
    let filter = chosen.and(filter_fn(|meta| !is_inner_span(meta))).or(filter_fn(is_request_span));
    let json = std::env::var("OBLIVIOUS_LOG_FORMAT").is_ok_and(|v| v == "json");
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    if json {
        // The whole span list, so a line inside an upstream attempt still names its request.
        Box::new(layer.json().with_current_span(false).with_span_list(true).with_filter(filter))
    } else {
        Box::new(layer.fmt_fields(log_fields::LogFields).with_filter(filter))
    }
}

/// Where the edge's request span is declared (`edge::span`).
const REQUEST_SPAN_TARGET: &str = "oblivious_core::edge::span";

fn is_request_span(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_span() && meta.name() == "request" && meta.target() == REQUEST_SPAN_TARGET
}

fn is_inner_span(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_span() && meta.target().starts_with("oblivious") && !is_request_span(meta)
}

/// The spans (and events, which become span events) that are exported: ours at `info`, whatever
/// `RUST_LOG` says about log lines (`OBLIVIOUS_TRACE_FILTER` overrides, in the same syntax). The
/// exporter's own transport stays out, or exporting would make more to export.
fn trace_filter() -> EnvFilter {
    let default = "info,sqlx=warn,h2=off,hyper=off,hyper_util=off,tonic=off,tower=off,reqwest=off";
    EnvFilter::try_from_env("OBLIVIOUS_TRACE_FILTER").unwrap_or_else(|_| EnvFilter::new(default))
}

/// Traces are exported when an OTLP endpoint is named (the exporter reads which one, the
/// signal-specific variable first) and the SDK is not switched off.
fn wants_export() -> bool {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let disabled = set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || set("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
    !disabled && (set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some() || set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some())
}

fn tracer_provider(export: Export<'_>, service: &str) -> Result<SdkTracerProvider, String> {
    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic();
    if let Export::To(endpoint) = export {
        exporter = exporter.with_endpoint(endpoint);
    }
    let exporter = exporter.build().map_err(|e| e.to_string())?;
    let mut resource = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        resource = resource.with_service_name(service.to_string());
    }
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build())
}
