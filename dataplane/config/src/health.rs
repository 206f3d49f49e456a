//! What a pod counts about its own health, for the operator to fold into status
//! (`Channel.status.health`, `Lane.status.members[].health`; the `Report` RPC of the config
//! stream carries it).
//!
//! The hot path only adds to cumulative, lock-free counters ([`RequestCounters`]). Every report
//! interval the pod samples the totals into a [`Window`], and a report is the difference between
//! the newest sample and the oldest one still inside the trailing window: a sliding window
//! without per-request bookkeeping. Latencies are counted in fixed buckets
//! ([`LATENCY_BOUNDS_MS`]) so the operator can add several pods' counts and read percentiles.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Upper bounds of the latency buckets in milliseconds; one more bucket holds the rest. Part of
/// the wire contract (config.proto, `RequestWindow.latency_buckets`).
pub const LATENCY_BOUNDS_MS: [u64; 11] = [25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000];
/// Number of latency buckets.
pub const BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;
/// How far back a report looks.
pub const WINDOW: Duration = Duration::from_secs(300);

/// The bucket a latency falls in.
pub fn bucket_of(latency: Duration) -> usize {
    let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    LATENCY_BOUNDS_MS.iter().position(|bound| ms <= *bound).unwrap_or(LATENCY_BOUNDS_MS.len())
}

/// Requests (or upstream attempts) counted since the process started.
#[derive(Debug, Default)]
pub struct RequestCounters {
    requests: AtomicU64,
    failures: AtomicU64,
    latency: [AtomicU64; BUCKETS],
}

impl RequestCounters {
    /// One request that succeeded after `latency`.
    pub fn success(&self, latency: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.latency[bucket_of(latency)].fetch_add(1, Ordering::Relaxed);
    }

    /// One request that failed.
    pub fn failure(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn totals(&self) -> RequestTotals {
        RequestTotals {
            requests: self.requests.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            latency: std::array::from_fn(|i| self.latency[i].load(Ordering::Relaxed)),
        }
    }
}

/// A count of requests, their failures and the latency of the successful ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestTotals {
    pub requests: u64,
    pub failures: u64,
    /// Successful requests per latency bucket ([`LATENCY_BOUNDS_MS`]).
    pub latency: [u64; BUCKETS],
}

impl RequestTotals {
    /// One request that succeeded after `latency` (for counts kept under a lock).
    pub fn add_success(&mut self, latency: Duration) {
        self.requests += 1;
        self.latency[bucket_of(latency)] += 1;
    }

    /// One request that failed.
    pub fn add_failure(&mut self) {
        self.requests += 1;
        self.failures += 1;
    }

    /// What was counted after `earlier` (counters only grow; a smaller one restarted).
    pub fn since(&self, earlier: &RequestTotals) -> RequestTotals {
        RequestTotals {
            requests: self.requests.saturating_sub(earlier.requests),
            failures: self.failures.saturating_sub(earlier.failures),
            latency: std::array::from_fn(|i| self.latency[i].saturating_sub(earlier.latency[i])),
        }
    }

    /// Adds another pod's counts.
    pub fn add(&mut self, other: &RequestTotals) {
        self.requests += other.requests;
        self.failures += other.failures;
        for (mine, theirs) in self.latency.iter_mut().zip(other.latency) {
            *mine += theirs;
        }
    }

    /// Share of requests that succeeded, `None` without requests.
    pub fn success_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| (self.requests - self.failures.min(self.requests)) as f64 / self.requests as f64)
    }

    /// The `q` quantile (0..=1) of the successful requests' latency in milliseconds, linearly
    /// interpolated inside its bucket (as Prometheus' `histogram_quantile`); a quantile in the
    /// last bucket is its lower bound. `None` without a successful request.
    pub fn latency_quantile_ms(&self, q: f64) -> Option<u64> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut below = 0u64;
        for (i, count) in self.latency.iter().enumerate() {
            if *count > 0 && (below + count) as f64 >= rank {
                let lower = if i == 0 { 0 } else { LATENCY_BOUNDS_MS[i - 1] };
                let Some(upper) = LATENCY_BOUNDS_MS.get(i) else { return Some(lower) };
                let within = ((rank - below as f64) / *count as f64).clamp(0.0, 1.0);
                return Some(lower + ((upper - lower) as f64 * within).round() as u64);
            }
            below += count;
        }
        Some(LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.len() - 1])
    }
}

/// One channel's upstream attempts since the process started, and its state now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelTotals {
    /// `namespace/name`.
    pub channel: String,
    pub attempts: RequestTotals,
    /// Ejections so far.
    pub ejections: u64,
    /// Ejected now.
    pub ejected: bool,
    /// The latest failure's class and when it happened (Unix milliseconds).
    pub last_error: Option<(String, i64)>,
}

/// Everything a pod counts, since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthTotals {
    /// Requests the pod served.
    pub served: RequestTotals,
    pub channels: Vec<ChannelTotals>,
    /// The tenant's spend in the current budget month, as last read (not windowed).
    pub budget: Option<BudgetSpend>,
}

/// A tenant's spend in one budget month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetSpend {
    /// `YYYY-MM` (UTC).
    pub month: String,
    pub spent_micros: i64,
}

/// What a pod reports: its counts over the trailing window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowReport {
    pub window: Duration,
    pub served: RequestTotals,
    /// Channels with attempts in the window, or ejected now. `ejections` counts the window's.
    pub channels: Vec<ChannelTotals>,
    /// As in the newest sample.
    pub budget: Option<BudgetSpend>,
}

/// Samples of the cumulative totals, oldest first, covering at most [`WINDOW`].
#[derive(Debug)]
pub struct Window {
    span: Duration,
    samples: VecDeque<(Instant, HealthTotals)>,
}

impl Default for Window {
    fn default() -> Self {
        Window::new(WINDOW)
    }
}

impl Window {
    pub fn new(span: Duration) -> Self {
        Window { span, samples: VecDeque::new() }
    }

    /// Adds a sample taken at `at`, dropping those no longer needed: the oldest kept sample is
    /// the newest one at least `span` old, so the window always reaches back `span` once it can.
    pub fn push(&mut self, at: Instant, totals: HealthTotals) {
        self.samples.push_back((at, totals));
        while self.samples.len() > 1 && self.samples.get(1).is_some_and(|(t, _)| at.duration_since(*t) >= self.span) {
            self.samples.pop_front();
        }
    }

    /// Newest minus oldest sample; with one sample, everything since the start.
    pub fn report(&self) -> WindowReport {
        let Some((newest_at, newest)) = self.samples.back() else { return WindowReport::default() };
        let oldest = self.samples.front().filter(|_| self.samples.len() > 1);
        let base = oldest.map(|(_, totals)| totals);
        let window = oldest.map(|(at, _)| newest_at.duration_since(*at)).unwrap_or_default();
        let earlier = |channel: &str| base.and_then(|b| b.channels.iter().find(|c| c.channel == channel));
        let channels = newest
            .channels
            .iter()
            .filter_map(|now| {
                let before = earlier(&now.channel);
                let attempts = before.map_or(now.attempts, |b| now.attempts.since(&b.attempts));
                let ejections = now.ejections.saturating_sub(before.map_or(0, |b| b.ejections));
                (attempts.requests > 0 || now.ejected || ejections > 0).then(|| ChannelTotals {
                    channel: now.channel.clone(),
                    attempts,
                    ejections,
                    ejected: now.ejected,
                    last_error: now.last_error.clone(),
                })
            })
            .collect();
        WindowReport {
            window,
            served: base.map_or(newest.served, |b| newest.served.since(&b.served)),
            channels,
            budget: newest.budget.clone(),
        }
    }
}

/// The wire form of a report (config.proto's `HealthReport`), both ways.
#[cfg(feature = "grpc")]
mod wire {
    use super::*;
    use crate::proto;

    impl From<&RequestTotals> for proto::RequestWindow {
        fn from(totals: &RequestTotals) -> Self {
            proto::RequestWindow {
                requests: totals.requests,
                failures: totals.failures,
                latency_buckets: totals.latency.to_vec(),
            }
        }
    }

    impl From<&proto::RequestWindow> for RequestTotals {
        /// Buckets beyond ours (a newer pod) are dropped, missing ones are zero.
        fn from(window: &proto::RequestWindow) -> Self {
            RequestTotals {
                requests: window.requests,
                failures: window.failures.min(window.requests),
                latency: std::array::from_fn(|i| window.latency_buckets.get(i).copied().unwrap_or_default()),
            }
        }
    }

    impl WindowReport {
        /// The report to send, announcing `node` (the first report of a stream must).
        pub fn to_proto(&self, node: Option<proto::Node>) -> proto::HealthReport {
            proto::HealthReport {
                node,
                window_seconds: u32::try_from(self.window.as_secs()).unwrap_or(u32::MAX),
                served: Some((&self.served).into()),
                channels: self
                    .channels
                    .iter()
                    .map(|c| proto::ChannelWindow {
                        channel: c.channel.clone(),
                        attempts: Some((&c.attempts).into()),
                        ejections: u32::try_from(c.ejections).unwrap_or(u32::MAX),
                        ejected: c.ejected,
                        last_error_class: c.last_error.as_ref().map(|(class, _)| class.clone()).unwrap_or_default(),
                        last_error_unix_ms: c.last_error.as_ref().map(|(_, at)| *at).unwrap_or_default(),
                    })
                    .collect(),
                budget: self
                    .budget
                    .as_ref()
                    .map(|b| proto::BudgetSpend { month: b.month.clone(), spent_micros: b.spent_micros }),
            }
        }

        /// A received report, read leniently (absent parts are zero).
        pub fn from_proto(report: &proto::HealthReport) -> Self {
            let totals = |w: Option<&proto::RequestWindow>| w.map(RequestTotals::from).unwrap_or_default();
            WindowReport {
                window: Duration::from_secs(report.window_seconds.into()),
                served: totals(report.served.as_ref()),
                channels: report
                    .channels
                    .iter()
                    .map(|c| ChannelTotals {
                        channel: c.channel.clone(),
                        attempts: totals(c.attempts.as_ref()),
                        ejections: c.ejections.into(),
                        ejected: c.ejected,
                        last_error: (!c.last_error_class.is_empty())
                            .then(|| (c.last_error_class.clone(), c.last_error_unix_ms)),
                    })
                    .collect(),
                budget: report
                    .budget
                    .as_ref()
                    .map(|b| BudgetSpend { month: b.month.clone(), spent_micros: b.spent_micros }),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn served(requests: u64, failures: u64) -> HealthTotals {
        HealthTotals {
            served: RequestTotals { requests, failures, ..RequestTotals::default() },
            ..HealthTotals::default()
        }
    }

    #[test]
    fn latencies_land_in_their_buckets_and_quantiles_interpolate_inside_them() {
        assert_eq!(bucket_of(Duration::from_millis(25)), 0);
        assert_eq!(bucket_of(Duration::from_millis(26)), 1);
        assert_eq!(bucket_of(Duration::from_secs(61)), BUCKETS - 1);
        let counters = RequestCounters::default();
        for _ in 0..98 {
            counters.success(Duration::from_millis(300)); // (250, 500]
        }
        counters.success(Duration::from_millis(2_000)); // (1000, 2500]
        counters.success(Duration::from_secs(90)); // overflow
        counters.failure();
        let totals = counters.totals();
        assert_eq!((totals.requests, totals.failures), (101, 1));
        assert_eq!(totals.latency_quantile_ms(0.5), Some(250 + 128)); // rank 50 of 98 in the bucket
        assert_eq!(totals.latency_quantile_ms(0.99), Some(1_000 + 1_500)); // rank 99: the 99th request
        assert_eq!(totals.latency_quantile_ms(1.0), Some(60_000), "the overflow bucket reads as its lower bound");
        assert_eq!(RequestTotals::default().latency_quantile_ms(0.5), None);
        assert!((totals.success_rate().unwrap() - 100.0 / 101.0).abs() < 1e-9);
    }

    #[test]
    fn a_report_covers_the_trailing_window_only() {
        let mut window = Window::new(Duration::from_secs(30));
        let t0 = Instant::now();
        window.push(t0, served(0, 0));
        assert_eq!(window.report().served.requests, 0);
        window.push(t0 + Duration::from_secs(10), served(100, 10));
        assert_eq!((window.report().served.requests, window.report().window), (100, Duration::from_secs(10)));
        window.push(t0 + Duration::from_secs(20), served(150, 10));
        window.push(t0 + Duration::from_secs(30), served(160, 10));
        window.push(t0 + Duration::from_secs(40), served(170, 11));
        let report = window.report();
        assert_eq!(report.window, Duration::from_secs(30), "reaches back exactly the span");
        assert_eq!((report.served.requests, report.served.failures), (70, 1), "the first 100 fell out");
    }

    #[test]
    fn channels_without_attempts_in_the_window_are_left_out_unless_ejected() {
        let channel = |name: &str, requests: u64, ejections: u64, ejected: bool| ChannelTotals {
            channel: name.into(),
            attempts: RequestTotals { requests, ..RequestTotals::default() },
            ejections,
            ejected,
            last_error: None,
        };
        let mut window = Window::new(Duration::from_secs(60));
        let t0 = Instant::now();
        window.push(
            t0,
            HealthTotals { channels: vec![channel("a", 5, 1, false), channel("b", 5, 0, false)], ..served(0, 0) },
        );
        window.push(
            t0 + Duration::from_secs(10),
            HealthTotals {
                channels: vec![
                    channel("a", 5, 1, false),
                    channel("b", 9, 0, false),
                    channel("c", 0, 0, true),
                    channel("new", 2, 0, false),
                ],
                ..served(0, 0)
            },
        );
        let report = window.report();
        let seen: Vec<(&str, u64, u64, bool)> =
            report.channels.iter().map(|c| (c.channel.as_str(), c.attempts.requests, c.ejections, c.ejected)).collect();
        assert_eq!(seen, [("b", 4, 0, false), ("c", 0, 0, true), ("new", 2, 0, false)]);
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn a_report_survives_the_wire() {
        let mut attempts = RequestTotals::default();
        attempts.add_success(Duration::from_millis(70));
        attempts.add_failure();
        let report = WindowReport {
            window: Duration::from_secs(300),
            served: attempts,
            channels: vec![ChannelTotals {
                channel: "ns/a".into(),
                attempts,
                ejections: 2,
                ejected: true,
                last_error: Some(("upstream_timeout".into(), 1_700_000_000_000)),
            }],
            budget: Some(BudgetSpend { month: "2026-12".into(), spent_micros: 42 }),
        };
        assert_eq!(WindowReport::from_proto(&report.to_proto(None)), report);
    }
}
