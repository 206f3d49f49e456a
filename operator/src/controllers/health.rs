//! Folds the data-plane pods' health reports into status: a Channel's success rate, latency,
//! ejections and `Healthy` condition from its tenant's relay pods; a Lane member's traffic from
//! the lane version's pods and, to compare, the baseline's.
//!
//! Reports arrive every ten seconds, so the numbers change all the time; writing each change
//! would be a status write per channel every few seconds. A status keeps its previous numbers
//! for [`HEALTH_REFRESH`] unless the verdict (the `Healthy` condition's status and reason)
//! changes, which is written at once.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use oblivious_config::health::RequestTotals;
use oblivious_crds::Condition;
use oblivious_crds::status::{ChannelHealth, FALSE, TRUE, TrafficHealth, UNKNOWN};

use super::{Conditions, rfc3339};
use crate::distribution::PodHealth;

/// Where the pods' health reports come from (every replica's; a fixed list in tests). Shared,
/// not copied: every reconcile of every Channel, Lane and Tenant reads them.
pub type HealthSource = Arc<dyn Fn() -> Arc<Vec<PodHealth>> + Send + Sync>;

/// Numbers in status are rewritten at most this often while the verdict holds.
pub const HEALTH_REFRESH: Duration = Duration::from_secs(60);
/// Fewer attempts than this in the window say nothing about a channel's success rate.
pub const MIN_ATTEMPTS_FOR_VERDICT: u64 = 10;
/// A channel whose attempts succeed less often than this is not healthy.
pub const HEALTHY_SUCCESS_RATE: f64 = 0.9;

/// What the `Healthy` condition says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `None`: Unknown.
    pub healthy: Option<bool>,
    pub reason: &'static str,
    pub message: String,
}

/// A pod that relays: its reports carry channels.
fn relays(report: &PodHealth) -> bool {
    matches!(report.role.as_str(), "relay" | "all")
}

/// `channel`'s health over the fresh reports of `tenant`'s relay pods; `None` when no relay pod
/// of the tenant reports.
pub fn channel_health(reports: &[PodHealth], tenant: &str, channel: &str, now: Timestamp) -> Option<ChannelHealth> {
    let pods: Vec<&PodHealth> =
        reports.iter().filter(|r| r.tenant == tenant && relays(r) && r.is_fresh(now.as_millisecond())).collect();
    if pods.is_empty() {
        return None;
    }
    let mut attempts = RequestTotals::default();
    let mut health = ChannelHealth::default();
    let mut last_error: Option<(&str, i64)> = None;
    for seen in pods.iter().flat_map(|pod| pod.channels.iter().filter(|c| c.channel == channel)) {
        attempts.add(&seen.attempts);
        health.ejections += seen.ejections;
        health.ejected_pods += u32::from(seen.ejected);
        if let Some((class, at)) = &seen.last_error
            && last_error.is_none_or(|(_, latest)| *at > latest)
        {
            last_error = Some((class, *at));
        }
    }
    health.traffic = traffic(&pods, &attempts, now);
    if let Some((class, at)) = last_error {
        health.last_error_class = Some(class.to_string());
        health.last_error_time = Timestamp::from_millisecond(at).ok().map(rfc3339);
    }
    Some(health)
}

/// Requests served by `tenant`'s pods of `service` in lane `lane` (empty: the baseline);
/// `None` when none reports.
pub fn served_health(
    reports: &[PodHealth],
    tenant: &str,
    lane: &str,
    service: &str,
    now: Timestamp,
) -> Option<TrafficHealth> {
    let pods: Vec<&PodHealth> = reports
        .iter()
        .filter(|r| r.tenant == tenant && r.lane == lane && (r.role == service || r.role == "all"))
        .filter(|r| r.is_fresh(now.as_millisecond()))
        .collect();
    if pods.is_empty() {
        return None;
    }
    let mut served = RequestTotals::default();
    for pod in &pods {
        served.add(&pod.served);
    }
    Some(traffic(&pods, &served, now))
}

fn traffic(pods: &[&PodHealth], totals: &RequestTotals, now: Timestamp) -> TrafficHealth {
    TrafficHealth {
        reporting_pods: u32::try_from(pods.len()).unwrap_or(u32::MAX),
        window_seconds: pods.iter().map(|p| p.window_seconds).max().unwrap_or_default(),
        requests: totals.requests,
        failures: totals.failures,
        success_rate: totals.success_rate().map(percent),
        latency_p50_ms: totals.latency_quantile_ms(0.5),
        latency_p99_ms: totals.latency_quantile_ms(0.99),
        observed_at: rfc3339(now),
    }
}

/// `99.5%`: one decimal, never rounded up to 100% while something failed.
pub(super) fn percent(rate: f64) -> String {
    let tenths = (rate * 1000.0).floor() / 10.0;
    format!("{tenths:.1}%")
}

/// The `Healthy` condition for `health`.
pub fn channel_verdict(health: Option<&ChannelHealth>, suspended: bool, tenant: &str) -> Verdict {
    let verdict = |healthy, reason, message: String| Verdict { healthy, reason, message };
    let Some(health) = health else {
        return verdict(None, "NoReports", format!("no relay pod of tenant {tenant} reports health"));
    };
    let traffic = &health.traffic;
    let window = minutes(traffic.window_seconds);
    let last_error = match (&health.last_error_class, &health.last_error_time) {
        (Some(class), Some(at)) => format!("; last error {class} at {at}"),
        _ => String::new(),
    };
    if health.ejected_pods > 0 {
        return verdict(
            Some(false),
            "Ejected",
            format!(
                "ejected after repeated failures on {} of {} relay pod(s){last_error}",
                health.ejected_pods, traffic.reporting_pods
            ),
        );
    }
    if suspended {
        return verdict(None, "Suspended", "out of routing (spec.suspend)".into());
    }
    if traffic.requests < MIN_ATTEMPTS_FOR_VERDICT {
        return verdict(
            None,
            "NotEnoughTraffic",
            format!("{} attempt(s) in the last {window}, too few to judge{last_error}", traffic.requests),
        );
    }
    let rate = traffic.success_rate.clone().unwrap_or_default();
    let succeeded = traffic.requests - traffic.failures;
    if (succeeded as f64) < HEALTHY_SUCCESS_RATE * traffic.requests as f64 {
        return verdict(
            Some(false),
            "FailingRequests",
            format!("{rate} of {} attempts succeeded in the last {window}{last_error}", traffic.requests),
        );
    }
    let p99 = traffic.latency_p99_ms.map(|ms| format!(", p99 {ms} ms")).unwrap_or_default();
    verdict(
        Some(true),
        "Healthy",
        format!("{rate} of {} attempts succeeded in the last {window}{p99}", traffic.requests),
    )
}

fn minutes(seconds: u32) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        _ => format!("{} min", seconds.div_ceil(60)),
    }
}

impl Verdict {
    /// Whether `condition` states this verdict (status and reason; the message has numbers).
    pub fn matches(&self, condition: Option<&Condition>) -> bool {
        condition.is_some_and(|c| c.status == self.status() && c.reason == self.reason)
    }

    /// `True`, `False` or `Unknown`.
    pub fn status(&self) -> &'static str {
        match self.healthy {
            Some(true) => TRUE,
            Some(false) => FALSE,
            None => UNKNOWN,
        }
    }

    /// States the verdict as condition `type_`.
    pub fn set(&self, conditions: &mut Conditions<'_>, type_: &str) {
        match self.healthy {
            Some(ok) => conditions.set(type_, ok, self.reason, self.message.clone()),
            None => conditions.unknown(type_, self.reason, self.message.clone()),
        };
    }
}

/// The health to write: `next`, unless the previous status has the same verdict in
/// `previous_condition` and its numbers were observed less than [`HEALTH_REFRESH`] ago (then
/// `previous`, so status is not rewritten for every report).
pub fn throttled<T: Observed>(
    previous: Option<&T>,
    previous_condition: Option<&Condition>,
    next: Option<T>,
    next_verdict: &Verdict,
    now: Timestamp,
) -> Option<T> {
    match next_verdict.matches(previous_condition) {
        true => recent_or(previous, next, now),
        false => next,
    }
}

/// Health numbers that say when they were added up.
pub trait Observed: Clone {
    fn observed_at(&self) -> &str;
}

impl Observed for TrafficHealth {
    fn observed_at(&self) -> &str {
        &self.observed_at
    }
}

impl Observed for ChannelHealth {
    fn observed_at(&self) -> &str {
        &self.traffic.observed_at
    }
}

/// `previous` while it was observed less than [`HEALTH_REFRESH`] before `now`, else `next`;
/// nothing once nothing reports.
pub fn recent_or<T: Observed>(previous: Option<&T>, next: Option<T>, now: Timestamp) -> Option<T> {
    let recent = |p: &T| {
        p.observed_at().parse::<Timestamp>().is_ok_and(|at| now.duration_since(at).unsigned_abs() < HEALTH_REFRESH)
    };
    match (previous, next) {
        (_, None) => None,
        (Some(previous), Some(_)) if recent(previous) => Some(previous.clone()),
        (_, next) => next,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_floored_so_a_failure_never_reads_as_a_hundred() {
        assert_eq!(percent(1.0), "100.0%");
        assert_eq!(percent(0.99999), "99.9%");
        assert_eq!(percent(0.5), "50.0%");
    }

    #[test]
    fn windows_read_in_minutes() {
        assert_eq!(minutes(40), "40 s");
        assert_eq!(minutes(300), "5 min");
        assert_eq!(minutes(290), "5 min");
    }
}
