//! The health reports of the pods connected to this replica (config.proto's `Report`): the
//! latest report of each pod, which replaces its previous one. A report older than
//! [`REPORT_STALE_AFTER`] is from a pod that stopped reporting (gone, or reporting to another
//! replica) and is no longer listed. Controllers fold the reports into `Channel.status.health`
//! and `Lane.status.members[].health`; see operator/NOTES.md.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oblivious_config::health::{BudgetSpend, ChannelTotals, RequestTotals, WindowReport};
use oblivious_config::proto::Node;
use serde::{Deserialize, Serialize};

/// Pods report every 10 s; three missed reports and the pod no longer counts.
pub const REPORT_STALE_AFTER: Duration = Duration::from_secs(35);
/// At most this many channels are kept per report (the largest tenants' pods report their
/// active channels only, so this is a bound on a misbehaving pod, not a normal limit).
const MAX_CHANNELS_PER_REPORT: usize = 2_000;

/// One pod's latest report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodHealth {
    pub tenant: String,
    pub pod: String,
    /// relay, gateway, chat, rag or all.
    pub role: String,
    /// Canary lane tag; empty for the baseline.
    #[serde(default)]
    pub lane: String,
    /// When this replica received it (Unix milliseconds).
    pub received_at_ms: i64,
    /// Seconds the counts cover.
    pub window_seconds: u32,
    /// Requests the pod served.
    pub served: RequestTotals,
    /// Upstream attempts per channel (relay pods).
    #[serde(default)]
    pub channels: Vec<ChannelTotals>,
    /// The tenant's spend in the current budget month, as the pod last read it.
    #[serde(default)]
    pub budget: Option<BudgetSpend>,
}

impl PodHealth {
    /// Whether the report is recent enough to count at `now_ms`.
    pub fn is_fresh(&self, now_ms: i64) -> bool {
        now_ms.saturating_sub(self.received_at_ms) <= REPORT_STALE_AFTER.as_millis() as i64
    }
}

/// Unix milliseconds of `at`.
pub fn unix_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or_default()
}

/// The latest report of every pod reporting to this replica, keyed by (tenant, pod).
#[derive(Debug, Default)]
pub struct HealthLedger {
    reports: Mutex<BTreeMap<(String, String), PodHealth>>,
}

impl HealthLedger {
    /// Keeps `report` as `node`'s latest.
    pub(super) fn record(&self, node: &Node, report: &WindowReport, at: SystemTime) {
        let mut channels = report.channels.clone();
        channels.truncate(MAX_CHANNELS_PER_REPORT);
        let entry = PodHealth {
            tenant: node.tenant.clone(),
            pod: node.pod.clone(),
            role: node.role.clone(),
            lane: node.lane.clone(),
            received_at_ms: unix_ms(at),
            window_seconds: u32::try_from(report.window.as_secs()).unwrap_or(u32::MAX),
            served: report.served,
            channels,
            budget: report.budget.clone(),
        };
        self.lock().insert((node.tenant.clone(), node.pod.clone()), entry);
    }

    /// The fresh reports at `now`, sorted by tenant then pod; stale ones are dropped.
    pub fn reports(&self, now: SystemTime) -> Vec<PodHealth> {
        let now_ms = unix_ms(now);
        let mut reports = self.lock();
        reports.retain(|_, report| report.is_fresh(now_ms));
        reports.values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), PodHealth>> {
        self.reports.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
