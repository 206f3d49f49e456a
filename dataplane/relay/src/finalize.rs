//! Every request ends in exactly one request record and one metrics update — including requests
//! whose client went away while the handler was waiting (the handler future is dropped then, so
//! the guard's `Drop` writes the record with status 499).

use std::sync::Arc;

use crate::billing::Admission;
use crate::ir::Usage;
use crate::request_log::RequestRecord;
use crate::state::Relay;
use oblivious_runtime::usage::cost_micros;

/// nginx's convention for "client closed the request".
pub const CLIENT_CLOSED: u16 = 499;

pub struct RecordGuard {
    relay: Arc<Relay>,
    record: Option<RequestRecord>,
    /// The request's quota hold and rate-limit charges, settled when the record is written.
    admission: Option<Admission>,
    /// The answering upstream attempt's span: it ends with the request, carrying its usage.
    upstream_span: Option<tracing::Span>,
}

impl RecordGuard {
    pub fn new(relay: Arc<Relay>, record: RequestRecord) -> Self {
        RecordGuard { relay, record: Some(record), admission: None, upstream_span: None }
    }

    /// Keeps the answering attempt's span open until the request ends.
    pub(crate) fn attach_upstream_span(&mut self, span: tracing::Span) {
        self.upstream_span = Some(span);
    }

    /// Attaches what billing admitted; it is settled with the record's cost when the request ends.
    pub fn attach_admission(&mut self, admission: Admission) {
        self.admission = Some(admission);
    }

    /// The record, to fill in as the request progresses.
    pub fn record(&mut self) -> &mut RequestRecord {
        // The record is taken only by `finish`/`drop`, which consume or end the guard.
        self.record.get_or_insert_with(|| RequestRecord::new("openai", "chat"))
    }

    /// Sets usage and its cost from the active price of the public model.
    pub fn set_usage(&mut self, usage: Usage, estimated: bool) {
        let relay = self.relay.clone();
        let record = self.record();
        record.usage = usage;
        record.usage_estimated = estimated;
        let active = relay.runtime.active();
        if let Some(price) = active.snapshot.price(&record.model, record.created_at_ms) {
            record.cost_micros = cost_micros(&usage, price, &record.group);
            record.currency = Some(price.currency.clone());
        }
    }

    /// Ends the request with `error`, recorded with its status and class and answered in the
    /// client's `dialect`.
    pub fn fail(self, error: oblivious_core::ApiError, dialect: oblivious_core::Dialect) -> axum::response::Response {
        let class = error.code.clone().unwrap_or_else(|| error.kind.as_str().to_string());
        self.finish(error.status().as_u16(), Some(&class));
        error.into_response_for(dialect)
    }

    /// Writes the record with the final status and settles its cost.
    pub fn finish(mut self, status: u16, error_class: Option<&str>) {
        if let Some(mut record) = self.record.take() {
            record.status = status;
            if let Some(class) = error_class {
                record.error_class = Some(class.to_string());
            }
            submit(&self.relay, record, self.admission.take(), self.upstream_span.take());
        }
    }
}

impl Drop for RecordGuard {
    fn drop(&mut self) {
        if let Some(mut record) = self.record.take() {
            record.status = CLIENT_CLOSED;
            record.error_class.get_or_insert_with(|| "client_closed".to_string());
            submit(&self.relay, record, self.admission.take(), self.upstream_span.take());
        }
    }
}

/// Settles the request (its recorded cost is what it is charged: zero unless usage was set) and
/// queues its record.
fn submit(relay: &Relay, record: RequestRecord, admission: Option<Admission>, upstream_span: Option<tracing::Span>) {
    if let Some(span) = &upstream_span {
        crate::spans::attempt_finished(span, &record);
    }
    if let Some(admission) = admission {
        let tokens = record.usage.input_tokens + record.usage.output_tokens;
        relay.billing.complete(admission, record.cost_micros, tokens, &record.model);
    }
    relay.metrics.record_request(&record);
    tracing::debug!(
        request_id = %record.id,
        model = record.model,
        channel = record.channel.as_deref().unwrap_or("-"),
        status = record.status,
        attempts = record.attempts,
        "request finished"
    );
    relay.logs.submit(record);
}
