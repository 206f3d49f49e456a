//! What the config stream tells the rest of the operator about each pod: an edge-triggered
//! [`SyncReport`] on an `mpsc` channel for every ACK, NACK and disconnect, and a level-triggered
//! [`Ledger`] of every pod connected to this replica. Controllers fold them into status
//! (`ackedPods`, `nackedPods`, `lastNackMessage`); see operator/NOTES.md.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::SystemTime;

use tokio::sync::mpsc;

use super::metrics::DistributionMetrics;

/// One event of one pod's config stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub pod: String,
    /// relay, gateway, chat or rag.
    pub role: String,
    pub tenant: String,
    /// Canary lane tag; empty for the baseline.
    pub lane: String,
    /// The version this report is about: the one ACKed or NACKed; for a disconnect, the one
    /// the pod was running.
    pub version: String,
    /// The version the pod runs after this event: `version` after an ACK, the one it kept after
    /// a NACK (empty if it holds none).
    pub running_version: String,
    pub outcome: SyncOutcome,
    pub at: SystemTime,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The pod validated and applied `version`.
    Acked,
    /// The pod refused `version` and keeps `running_version`; `message` says why (it never
    /// contains a provider key: the pod reports validation errors, not snapshot content).
    Nacked { message: String },
    /// The stream ended; the pod keeps serving `running_version` and will reconnect.
    Disconnected,
}

impl SyncOutcome {
    /// `acked`, `nacked` or `disconnected`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SyncOutcome::Acked => "acked",
            SyncOutcome::Nacked { .. } => "nacked",
            SyncOutcome::Disconnected => "disconnected",
        }
    }
}

/// The latest known state of one connected pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSync {
    pub pod: String,
    pub role: String,
    pub tenant: String,
    pub lane: String,
    /// The version the pod runs (empty until it ACKs one or announces one on connect).
    pub running_version: String,
    /// The last version it refused and why, cleared by a later ACK.
    pub last_nack: Option<(String, String)>,
    pub updated_at: SystemTime,
    stream: u64,
}

/// Every pod connected to this replica, keyed by (tenant, pod).
#[derive(Debug, Default)]
pub struct Ledger {
    pods: Mutex<BTreeMap<(String, String), PodSync>>,
}

impl Ledger {
    /// A copy of every entry, sorted by tenant then pod.
    pub fn pods(&self) -> Vec<PodSync> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), PodSync>> {
        self.pods.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Sends reports without ever blocking a stream, and keeps the ledger.
pub(super) struct Reporter {
    sender: mpsc::Sender<SyncReport>,
    pub(super) ledger: Ledger,
}

/// Identity of the stream a report comes from.
pub(super) struct StreamIdentity<'a> {
    pub(super) id: u64,
    pub(super) pod: &'a str,
    pub(super) role: &'a str,
    pub(super) tenant: &'a str,
    pub(super) lane: &'a str,
}

impl Reporter {
    pub(super) fn new(sender: mpsc::Sender<SyncReport>) -> Self {
        Reporter { sender, ledger: Ledger::default() }
    }

    /// A pod connected announcing `running_version`.
    pub(super) fn connected(&self, stream: &StreamIdentity<'_>, running_version: &str) {
        self.ledger.lock().insert(
            (stream.tenant.to_string(), stream.pod.to_string()),
            PodSync {
                pod: stream.pod.to_string(),
                role: stream.role.to_string(),
                tenant: stream.tenant.to_string(),
                lane: stream.lane.to_string(),
                running_version: running_version.to_string(),
                last_nack: None,
                updated_at: SystemTime::now(),
                stream: stream.id,
            },
        );
    }

    /// Records an event and sends its report. A full channel drops the report (counted in
    /// `config_reports_dropped_total`) rather than stall the pod's stream; the ledger stays exact.
    pub(super) fn report(
        &self,
        metrics: &DistributionMetrics,
        stream: &StreamIdentity<'_>,
        version: &str,
        running_version: &str,
        outcome: SyncOutcome,
    ) {
        let at = SystemTime::now();
        {
            let mut pods = self.ledger.lock();
            let key = (stream.tenant.to_string(), stream.pod.to_string());
            match &outcome {
                // A newer stream of the same pod (a reconnect that overtook the old one's
                // teardown) owns the entry; only the stream that wrote it may remove it.
                SyncOutcome::Disconnected => {
                    if pods.get(&key).is_some_and(|entry| entry.stream == stream.id) {
                        pods.remove(&key);
                    }
                }
                SyncOutcome::Acked | SyncOutcome::Nacked { .. } => {
                    if let Some(entry) = pods.get_mut(&key).filter(|entry| entry.stream == stream.id) {
                        entry.running_version = running_version.to_string();
                        entry.updated_at = at;
                        entry.last_nack = match &outcome {
                            SyncOutcome::Nacked { message } => Some((version.to_string(), message.clone())),
                            _ => None,
                        };
                    }
                }
            }
        }
        let report = SyncReport {
            pod: stream.pod.to_string(),
            role: stream.role.to_string(),
            tenant: stream.tenant.to_string(),
            lane: stream.lane.to_string(),
            version: version.to_string(),
            running_version: running_version.to_string(),
            outcome,
            at,
        };
        // A closed channel means nobody consumes reports (a bench, a test): nothing to count.
        if let Err(mpsc::error::TrySendError::Full(_)) = self.sender.try_send(report) {
            metrics.reports_dropped.inc();
            tracing::warn!("sync report channel full; report dropped (the ledger still has it)");
        }
    }
}
