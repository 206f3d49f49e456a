//! The bookkeeping of failover shared by every endpoint that calls upstreams: which candidates
//! are usable now, what a failed attempt does to channel health, and what the client sees when
//! every attempt failed.

use std::time::Instant;

use axum::http::StatusCode;
use oblivious_config::Channel;
use oblivious_core::{ApiError, ErrorKind};

use crate::dialect::{FailureAction, UpstreamFailure};
use crate::finalize::RecordGuard;
use crate::routing::{Availability, Candidate};
use crate::state::{ActiveConfig, Relay};

/// How usable a candidate is for this request right now.
pub(crate) fn availability(
    relay: &Relay,
    active: &ActiveConfig,
    candidate: &Candidate,
    tried: &[usize],
    now: Instant,
) -> Availability {
    let channel = &active.snapshot.channels[candidate.channel];
    if channel.suspend || tried.contains(&candidate.channel) || !relay.health.has_usable_key(channel, now) {
        Availability::Unusable
    } else if relay.health.is_ejected(&channel.name, now) {
        Availability::Ejected
    } else {
        Availability::Healthy
    }
}

/// Notes on the request record which channel the next attempt goes to.
pub(crate) fn note_attempt(guard: &mut RecordGuard, channel: &Channel, candidate: &Candidate) {
    let record = guard.record();
    record.attempts += 1;
    record.channel = Some(channel.name.clone());
    record.provider = Some(channel.provider.as_str());
    record.upstream_model = Some(candidate.upstream_model.clone());
}

/// Updates channel and key health after a failed attempt.
pub(crate) fn record_failure(relay: &Relay, channel: &Channel, key_index: Option<usize>, failure: &UpstreamFailure) {
    relay.metrics.count_attempt(&channel.name, failure.class);
    let now = Instant::now();
    match failure.action {
        FailureAction::Retry => {
            if relay.health.record_transient_failure(&channel.name, now) {
                relay
                    .metrics
                    .ejections
                    .get_or_create(&crate::metrics::ChannelLabels { channel: channel.name.clone() })
                    .inc();
                tracing::warn!(
                    channel = channel.name,
                    class = failure.class,
                    "channel ejected after repeated failures"
                );
            }
        }
        FailureAction::DisableKey => {
            if let Some(key) = key_index.and_then(|i| channel.api_keys.get(i)) {
                relay.health.disable_key(&channel.name, key, failure.class, now);
            }
            tracing::warn!(
                channel = channel.name,
                class = failure.class,
                "upstream rejected a channel key; key disabled"
            );
        }
        FailureAction::ReturnToClient => {}
    }
    tracing::info!(channel = channel.name, class = failure.class, status = failure.status, "upstream attempt failed");
}

/// The error a client sees for an upstream failure: the provider's (sanitized) message with our
/// kind and, for request errors, the upstream's own status.
pub(crate) fn client_error(failure: &UpstreamFailure) -> ApiError {
    let mut error = ApiError::new(failure.kind, failure.message.clone());
    error.code = failure.code.clone();
    if failure.action == FailureAction::ReturnToClient
        && let Ok(status) = StatusCode::from_u16(failure.status)
        && status.is_client_error()
    {
        error.status = Some(status);
    }
    if matches!(failure.kind, ErrorKind::RateLimited | ErrorKind::Unavailable) {
        error.retry_after = Some(1);
    }
    if failure.kind == ErrorKind::RateLimited && error.code.is_none() {
        error.code = Some("rate_limit_exceeded".into());
    }
    error
}
