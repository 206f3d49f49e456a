//! The one failover loop every endpoint that calls upstreams uses (chat completions in every
//! dialect, embeddings): which candidates are usable now, which key an attempt uses, what a failed
//! attempt does to channel health, and what the client sees when every attempt failed.
//!
//! Rules (NOTES.md "Failover"): a channel is tried at most once per request, at most
//! `max_attempts` in all; `Retry` failures move on, `DisableKey` and `ReturnToClient` failures end
//! the request. Endpoints supply only the attempt itself, which must fail before the client sees a
//! byte (streams peek their first events inside it).

use std::time::Instant;

use axum::http::StatusCode;
use oblivious_config::{ApiKey, Channel, Provider};
use oblivious_core::lane::LaneContext;
use oblivious_core::{ApiError, ErrorKind};

use crate::dialect::{FailureAction, UpstreamFailure};
use crate::finalize::RecordGuard;
use crate::state::Relay;
use crate::{spans, upstream};
use oblivious_runtime::routing::{Availability, Candidate, select};
use oblivious_runtime::{ActiveConfig, Principal};
use tracing::Instrument;

/// Where one attempt goes: the channel, its route to the model, the key and the real base URL.
pub(crate) struct Attempt<'a> {
    pub channel: &'a Channel,
    pub candidate: &'a Candidate,
    /// The channel's key, or for Vertex AI the access token exchanged for its service account.
    pub key: ApiKey,
    pub base_url: String,
}

/// The channels that may serve `model` to `principal` in the request's lane (a disabled or
/// expired lane's requests are baseline requests), or the 404 every endpoint answers when none
/// may.
pub(crate) fn candidates_for<'a>(
    active: &'a ActiveConfig,
    principal: &Principal,
    model: &str,
    lane: &LaneContext,
) -> Result<Vec<&'a Candidate>, ApiError> {
    let live_lane =
        lane.tag().and_then(|tag| active.lanes.live(tag, oblivious_store::now_ms())).map(|l| l.tag.as_str());
    let candidates = active.routes.candidates(&active.snapshot, model, &principal.group, live_lane);
    if candidates.is_empty() || !principal.may_use_model(model) {
        return Err(ApiError::model_not_found(model));
    }
    Ok(candidates)
}

/// Tries `candidates` until `attempt` answers. `Err(None)`: no candidate was usable at all;
/// `Err(Some(failure))`: the last attempt's failure. Runs in a `route` span with one `upstream`
/// span per attempt; the answering attempt's span is handed to the guard, to end with the answer.
pub(crate) async fn with_failover<'a, T, F, Fut>(
    relay: &Relay,
    active: &'a ActiveConfig,
    candidates: &[&'a Candidate],
    guard: &mut RecordGuard,
    attempt: F,
) -> Result<T, Option<UpstreamFailure>>
where
    F: FnMut(Attempt<'a>) -> Fut,
    Fut: Future<Output = Result<T, UpstreamFailure>>,
{
    let route = spans::route(candidates.len());
    let answered = try_in_turn(relay, active, candidates, guard, attempt).instrument(route.clone()).await;
    let record = guard.record();
    route.record("oblivious.attempts", record.attempts);
    if answered.is_ok()
        && let Some(channel) = &record.channel
    {
        route.record("oblivious.channel", channel.as_str());
    }
    answered
}

async fn try_in_turn<'a, T, F, Fut>(
    relay: &Relay,
    active: &'a ActiveConfig,
    candidates: &[&'a Candidate],
    guard: &mut RecordGuard,
    mut attempt: F,
) -> Result<T, Option<UpstreamFailure>>
where
    F: FnMut(Attempt<'a>) -> Fut,
    Fut: Future<Output = Result<T, UpstreamFailure>>,
{
    let mut tried: Vec<usize> = Vec::new();
    let mut last_failure = None;
    while tried.len() < relay.config.max_attempts {
        let now = Instant::now();
        let Some(candidate) = select(candidates, |c| availability(relay, active, c, &tried, now), &mut rand::rng())
        else {
            break;
        };
        tried.push(candidate.channel);
        let channel = &active.snapshot.channels[candidate.channel];
        note_attempt(guard, channel, candidate);
        let span = spans::upstream_attempt(guard.record(), channel, &candidate.upstream_model);
        let (outcome, key_index) = match target(relay, channel, now) {
            Ok((key, key_index, base_url)) => match credential(relay, channel, key).instrument(span.clone()).await {
                Ok(key) => {
                    let answer = attempt(Attempt { channel, candidate, key, base_url }).instrument(span.clone()).await;
                    (answer, key_index)
                }
                Err(failure) => (Err(failure), key_index),
            },
            Err((failure, key_index)) => (Err(failure), key_index),
        };
        match outcome {
            Ok(answer) => {
                relay.runtime.health.record_success(&channel.name, now.elapsed());
                relay.metrics.count_attempt(&channel.name, "success");
                guard.attach_upstream_span(span);
                return Ok(answer);
            }
            Err(failure) => {
                spans::attempt_failed(&span, failure.class);
                span.in_scope(|| record_failure(relay, channel, key_index, &failure));
                let action = failure.action;
                last_failure = Some(failure);
                if action != FailureAction::Retry {
                    break;
                }
            }
        }
    }
    Err(last_failure)
}

/// The key (and its index, to disable it on an auth failure) and base URL of an attempt.
#[allow(clippy::type_complexity)]
fn target<'a>(
    relay: &Relay,
    channel: &'a Channel,
    now: Instant,
) -> Result<(&'a ApiKey, Option<usize>, String), (UpstreamFailure, Option<usize>)> {
    let Some(key) = relay.runtime.health.next_key(channel, now) else {
        let failure = upstream::failure(FailureAction::Retry, ErrorKind::Unavailable, 503, "no_key", "No usable key.");
        return Err((failure, None));
    };
    let key_index = channel.api_keys.iter().position(|k| std::ptr::eq(k, key));
    let Some(base_url) = relay.resolve_base_url(channel) else {
        let failure = upstream::failure(
            FailureAction::Retry,
            ErrorKind::BadGateway,
            502,
            "builtin_unavailable",
            "The built-in mock upstream is not running in this process.",
        );
        return Err((failure, key_index));
    };
    Ok((key, key_index, base_url))
}

/// What an attempt authenticates with: the key itself, or for Vertex AI a (cached) access token
/// for the service account the key holds. A failed token exchange fails this attempt like an
/// upstream error would, before the client sees a byte.
async fn credential(relay: &Relay, channel: &Channel, key: &ApiKey) -> Result<ApiKey, UpstreamFailure> {
    match channel.provider {
        Provider::VertexAi => relay.vertex_tokens.token(&relay.client_for(channel), &channel.name, key).await,
        _ => Ok(key.clone()),
    }
}

/// What the client sees when no attempt answered, and the class the request record keeps (the
/// upstream's own failure class, which says more than the kind the client sees).
pub(crate) fn exhausted(model: &str, last_failure: Option<UpstreamFailure>) -> (ApiError, String) {
    match last_failure {
        Some(failure) => (client_error(&failure), failure.class.to_string()),
        None => (
            ApiError::new(ErrorKind::Unavailable, format!("No channel is currently available for model `{model}`."))
                .with_code("no_available_channel"),
            "no_available_channel".to_string(),
        ),
    }
}

/// How usable a candidate is for this request right now.
fn availability(
    relay: &Relay,
    active: &ActiveConfig,
    candidate: &Candidate,
    tried: &[usize],
    now: Instant,
) -> Availability {
    let channel = &active.snapshot.channels[candidate.channel];
    if channel.suspend || tried.contains(&candidate.channel) || !relay.runtime.health.has_usable_key(channel, now) {
        Availability::Unusable
    } else if relay.runtime.health.is_ejected(&channel.name, now) {
        Availability::Ejected
    } else {
        Availability::Healthy
    }
}

/// Notes on the request record which channel the next attempt goes to.
fn note_attempt(guard: &mut RecordGuard, channel: &Channel, candidate: &Candidate) {
    let record = guard.record();
    record.attempts += 1;
    record.channel = Some(channel.name.clone());
    record.provider = Some(channel.provider.as_str());
    record.upstream_model = Some(candidate.upstream_model.clone());
}

/// Updates channel and key health after a failed attempt.
fn record_failure(relay: &Relay, channel: &Channel, key_index: Option<usize>, failure: &UpstreamFailure) {
    relay.metrics.count_attempt(&channel.name, failure.class);
    let now = Instant::now();
    match failure.action {
        FailureAction::Retry => {
            if relay.runtime.health.record_transient_failure(&channel.name, failure.class, now) {
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
                relay.runtime.health.disable_key(&channel.name, key, failure.class, now);
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
fn client_error(failure: &UpstreamFailure) -> ApiError {
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
