//! Which rate limits apply to a request, and how their verdict is told to the client: OpenAI's
//! `x-ratelimit-*` headers on every answer, and a 429 `rate_limit_exceeded` with `Retry-After`
//! when a limit refuses.
//!
//! Limits checked together (all or nothing): the key's own RPM/TPM, the per-user limit of the
//! user's group, and the whole group's limit on the requested model (ModelPricing
//! `groupLimits`). Tokens are charged at admission with the *input* estimate; the rest of the
//! real count is added when the answer is complete (`adjust`).

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use oblivious_config::Snapshot;
use oblivious_core::{ApiError, ErrorKind};
use oblivious_store::limits::{LimitCheck, LimitVerdict};

use oblivious_runtime::auth::Principal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Requests,
    Tokens,
}

/// One limit that applies, with what it is about (for headers and messages).
#[derive(Debug, Clone)]
pub(crate) struct PlannedLimit {
    pub check: LimitCheck,
    pub unit: Unit,
    /// `key`, `user` or `group`.
    pub scope: &'static str,
}

/// The limits of a request costing `estimated_input` tokens at admission.
pub(crate) fn plan(principal: &Principal, model: &str, snapshot: &Snapshot, estimated_input: u64) -> Vec<PlannedLimit> {
    let mut planned = Vec::new();
    let mut add = |name: String, limit: Option<u64>, unit: Unit, scope: &'static str| {
        if let Some(limit) = limit.filter(|l| *l > 0) {
            let cost = if unit == Unit::Requests { 1 } else { estimated_input };
            planned.push(PlannedLimit { check: LimitCheck::per_minute(name, limit, cost), unit, scope });
        }
    };
    if let Some(key) = principal.key_id {
        add(format!("key:{key}:rpm"), principal.rpm, Unit::Requests, "key");
        add(format!("key:{key}:tpm"), principal.tpm, Unit::Tokens, "key");
    }
    if let (Some(user), Some(limit)) = (principal.user_id, snapshot.user_limit(&principal.group)) {
        add(format!("user:{user}:rpm"), limit.rpm, Unit::Requests, "user");
        add(format!("user:{user}:tpm"), limit.tpm, Unit::Tokens, "user");
    }
    if let Some(limit) = snapshot.group_model_limit(&principal.group, model) {
        let group = &principal.group;
        add(format!("group:{group}:{model}:rpm"), limit.rpm, Unit::Requests, "group");
        add(format!("group:{group}:{model}:tpm"), limit.tpm, Unit::Tokens, "group");
    }
    planned
}

/// The same limits, each divided among `replicas` processes: what one process enforces on its
/// own while the shared limiter (Redis) is unreachable.
pub(crate) fn split_among(planned: &[PlannedLimit], replicas: u64) -> Vec<LimitCheck> {
    planned
        .iter()
        .map(|p| LimitCheck {
            name: p.check.name.clone(),
            limit: (p.check.limit / replicas.max(1)).max(1),
            period: p.check.period,
            cost: p.check.cost,
        })
        .collect()
}

/// OpenAI's rate-limit headers for the tightest limit of each unit.
pub(crate) fn headers(planned: &[PlannedLimit], verdict: &LimitVerdict) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::new();
    for (unit, suffix) in [(Unit::Requests, "requests"), (Unit::Tokens, "tokens")] {
        let tightest = planned
            .iter()
            .zip(&verdict.states)
            .filter(|(p, _)| p.unit == unit)
            .min_by_key(|(_, state)| state.remaining);
        if let Some((limit, state)) = tightest {
            let mut push = |name: String, value: String| {
                if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                    headers.push((name, value));
                }
            };
            push(format!("x-ratelimit-limit-{suffix}"), limit.check.limit.to_string());
            push(format!("x-ratelimit-remaining-{suffix}"), state.remaining.to_string());
            push(format!("x-ratelimit-reset-{suffix}"), go_duration(state.reset));
        }
    }
    headers
}

/// The 429 for the first limit that refused.
pub(crate) fn refusal(planned: &[PlannedLimit], verdict: &LimitVerdict, model: &str) -> ApiError {
    let refused = planned.iter().zip(&verdict.states).find(|(_, state)| !state.allowed);
    let mut error = match refused {
        Some((limit, state)) => {
            let what = if limit.unit == Unit::Requests { "requests" } else { "tokens" };
            let message = match state.retry_after {
                Some(wait) => format!(
                    "Rate limit reached for {model} ({} {what} per minute): limit {}. Please try again in {}.",
                    limit.scope,
                    limit.check.limit,
                    go_duration(wait)
                ),
                None => format!(
                    "Request too large for {model} ({} {what} per minute): limit {}, requested {}.",
                    limit.scope, limit.check.limit, limit.check.cost
                ),
            };
            let mut error = ApiError::new(ErrorKind::RateLimited, message).with_code("rate_limit_exceeded");
            error.retry_after = state.retry_after.map(|wait| wait.as_secs_f64().ceil().max(1.0) as u64);
            error
        }
        None => ApiError::new(ErrorKind::RateLimited, "Rate limit reached.").with_code("rate_limit_exceeded"),
    };
    error.headers = headers(planned, verdict);
    error
}

/// A duration the way OpenAI's headers write it: `20ms`, `1s`, `1.5s`, `6m0s`.
pub(crate) fn go_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let minutes = millis / 60_000;
    let rest_ms = millis % 60_000;
    let seconds = if rest_ms.is_multiple_of(1000) {
        format!("{}s", rest_ms / 1000)
    } else {
        let text = format!("{:.3}", rest_ms as f64 / 1000.0);
        format!("{}s", text.trim_end_matches('0'))
    };
    if minutes == 0 { seconds } else { format!("{minutes}m{seconds}") }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use oblivious_config::GroupLimit;
    use oblivious_store::limits::LimitState;
    use uuid::Uuid;

    #[test]
    fn durations_read_like_openais_headers() {
        assert_eq!(go_duration(Duration::from_millis(20)), "20ms");
        assert_eq!(go_duration(Duration::from_secs(1)), "1s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(360)), "6m0s");
        assert_eq!(go_duration(Duration::from_millis(61_250)), "1m1.25s");
    }

    #[test]
    fn key_user_and_group_limits_all_apply_and_the_tightest_sets_the_headers() {
        let user = Uuid::now_v7();
        let principal = Principal {
            key_id: Some(Uuid::now_v7()),
            user_id: Some(user),
            rpm: Some(10),
            tpm: None,
            ..Principal::bootstrap("sk")
        };
        let snapshot = Snapshot {
            group_limits: vec![
                GroupLimit { group: "default".into(), model: None, rpm: Some(100), tpm: Some(5000) },
                GroupLimit { group: "default".into(), model: Some("m".into()), rpm: Some(1000), tpm: None },
            ],
            ..Snapshot::default()
        };
        let planned = plan(&principal, "m", &snapshot, 42);
        let names: Vec<&str> = planned.iter().map(|p| p.check.name.as_str()).collect();
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(names.contains(&format!("user:{user}:tpm").as_str()));
        assert_eq!(planned.iter().find(|p| p.unit == Unit::Tokens).unwrap().check.cost, 42);
        let state =
            |remaining| LimitState { allowed: true, remaining, reset: Duration::from_secs(6), retry_after: None };
        let verdict = LimitVerdict { states: vec![state(3), state(99), state(4000), state(999)] };
        let headers = headers(&planned, &verdict);
        let get = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.to_str().unwrap().to_string());
        assert_eq!(get("x-ratelimit-limit-requests").as_deref(), Some("10"));
        assert_eq!(get("x-ratelimit-remaining-requests").as_deref(), Some("3"));
        assert_eq!(get("x-ratelimit-remaining-tokens").as_deref(), Some("4000"));
        assert_eq!(get("x-ratelimit-reset-tokens").as_deref(), Some("6s"));
        assert_eq!(split_among(&planned, 4)[0].limit, 2, "10 rpm over 4 replicas");
    }

    #[test]
    fn a_refusal_names_the_limit_and_says_when_to_retry() {
        let principal = Principal { key_id: Some(Uuid::now_v7()), rpm: Some(2), ..Principal::bootstrap("sk") };
        let planned = plan(&principal, "m", &Snapshot::default(), 1);
        let verdict = LimitVerdict {
            states: vec![LimitState {
                allowed: false,
                remaining: 0,
                reset: Duration::from_secs(60),
                retry_after: Some(Duration::from_millis(29_500)),
            }],
        };
        let error = refusal(&planned, &verdict, "m");
        assert_eq!(
            (error.status().as_u16(), error.code.as_deref(), error.retry_after),
            (429, Some("rate_limit_exceeded"), Some(30))
        );
        assert!(error.message.contains("(key requests per minute): limit 2"), "{}", error.message);
        assert!(error.headers.iter().any(|(n, v)| n == "x-ratelimit-remaining-requests" && v == "0"));
    }
}
