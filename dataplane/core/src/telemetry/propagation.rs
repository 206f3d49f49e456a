//! W3C trace context (`traceparent`) in and out of a hop.
//!
//! A request is joined to its caller's trace only when the caller is trusted (the edge strips
//! `traceparent` from everyone else). When traces are exported the edge's span becomes a child of
//! that context and the next hop is given the *current* span's context; when they are not, the
//! context that arrived (or one the edge started, with the request id as trace id) is passed on
//! unchanged, so every log line of one request carries one trace id through every hop either way.

use http::{HeaderMap, HeaderValue};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use uuid::Uuid;

pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

/// A parsed `traceparent`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: u128,
    pub parent_id: u64,
    pub sampled: bool,
}

impl TraceParent {
    /// Parses a header value. Versions other than `00` are read by their first four fields, as
    /// the specification asks; version `ff`, all-zero ids and malformed values are refused.
    pub fn parse(value: &str) -> Option<TraceParent> {
        let mut fields = value.trim().split('-');
        let (version, trace, parent, flags) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
        let hex = |text: &str, len: usize| {
            text.len() == len && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if !hex(version, 2) || version == "ff" || (version == "00" && fields.next().is_some()) {
            return None;
        }
        if !hex(trace, 32) || !hex(parent, 16) || !hex(flags, 2) {
            return None;
        }
        let trace_id = u128::from_str_radix(trace, 16).ok().filter(|&id| id != 0)?;
        let parent_id = u64::from_str_radix(parent, 16).ok().filter(|&id| id != 0)?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(TraceParent { trace_id, parent_id, sampled: flags & 1 == 1 })
    }

    pub fn from_headers(headers: &HeaderMap) -> Option<TraceParent> {
        TraceParent::parse(headers.get(TRACEPARENT)?.to_str().ok()?)
    }

    /// A new trace for a request that arrived without one: its id is the request id (both are
    /// 128 bits), so a request id found in a log finds its trace. Not sampled: nothing records
    /// it when this process exports nothing.
    pub fn started_for(request_id: Uuid) -> TraceParent {
        TraceParent { trace_id: request_id.as_u128(), parent_id: rand::random::<u64>() | 1, sampled: false }
    }

    pub fn header_value(&self) -> HeaderValue {
        let flags = if self.sampled { "01" } else { "00" };
        let text = format!("00-{:032x}-{:016x}-{flags}", self.trace_id, self.parent_id);
        // Only hex digits and dashes: always a valid header value.
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    pub fn trace_id_hex(&self) -> String {
        format!("{:032x}", self.trace_id)
    }
}

/// Joins `span` (an edge's request span, not yet entered) to `parent` when traces are exported,
/// and returns the request's trace id for its log lines. Without a parent an exporting process
/// starts a trace of its own; a process that exports nothing uses the parent's trace id, else
/// the request id's.
pub fn adopt(span: &tracing::Span, parent: Option<TraceParent>, tracestate: Option<&str>, request_id: Uuid) -> String {
    if !super::exporting() {
        return parent.unwrap_or_else(|| TraceParent::started_for(request_id)).trace_id_hex();
    }
    if let Some(parent) = parent {
        let flags = if parent.sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
        let state = tracestate.and_then(|s| s.parse::<TraceState>().ok()).unwrap_or_default();
        let remote = SpanContext::new(
            TraceId::from_bytes(parent.trace_id.to_be_bytes()),
            SpanId::from_bytes(parent.parent_id.to_be_bytes()),
            flags,
            true,
            state,
        );
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
    span.context().span().span_context().trace_id().to_string()
}

/// The trace context to give the next hop (or a provider whose channel asks for it): the
/// current span's when this process exports traces, else the one the request arrived with.
pub fn outbound(arrived: Option<&HeaderValue>) -> Option<HeaderValue> {
    match current_span() {
        Some(current) => Some(current.header_value()),
        None => arrived.cloned(),
    }
}

/// The current request's trace id (32 hex digits), for records that point into the trace (a
/// metric's exemplar): the current span's when traces are exported, else the one it arrived with.
pub fn current_trace_id(arrived: Option<&HeaderValue>) -> Option<String> {
    let context = current_span().or_else(|| TraceParent::parse(arrived?.to_str().ok()?))?;
    Some(context.trace_id_hex())
}

/// The current span's `traceparent`, for work that runs later, apart from this request (a
/// queued job links back to it); `None` when this process exports no traces.
pub fn current_traceparent() -> Option<String> {
    let header = current_span()?.header_value();
    header.to_str().ok().map(str::to_owned)
}

/// Links `span` to the span of `traceparent` (an OpenTelemetry span link: related, not its
/// parent), when this process exports traces and the value parses.
pub fn link(span: &tracing::Span, traceparent: &str) {
    if !super::exporting() {
        return;
    }
    let Some(context) = TraceParent::parse(traceparent) else { return };
    let flags = if context.sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
    span.add_link(SpanContext::new(
        TraceId::from_bytes(context.trace_id.to_be_bytes()),
        SpanId::from_bytes(context.parent_id.to_be_bytes()),
        flags,
        true,
        TraceState::default(),
    ));
}

/// The current span as a trace context, when this process exports traces and is inside one.
fn current_span() -> Option<TraceParent> {
    if !super::exporting() {
        return None;
    }
    let context = tracing::Span::current().context();
    let span = context.span();
    let current = span.span_context();
    current.is_valid().then(|| TraceParent {
        trace_id: u128::from_be_bytes(current.trace_id().to_bytes()),
        parent_id: u64::from_be_bytes(current.span_id().to_bytes()),
        sampled: current.is_sampled(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_specifications_examples_and_refuses_bad_ones() {
        let parsed = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        assert_eq!(
            parsed,
            Some(TraceParent {
                trace_id: 0x4bf92f3577b34da6a3ce929d0e0e4736,
                parent_id: 0x00f067aa0ba902b7,
                sampled: true
            })
        );
        let future = TraceParent::parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-next");
        assert!(future.is_some_and(|p| !p.sampled), "a later version is read by its first fields");
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_started_trace_is_named_by_its_request_id_and_round_trips() {
        let request_id = Uuid::now_v7();
        let started = TraceParent::started_for(request_id);
        assert_eq!(started.trace_id_hex(), request_id.simple().to_string());
        let value = started.header_value();
        assert_eq!(TraceParent::parse(value.to_str().unwrap_or_default()), Some(started));
    }
}
