//! Convergence accounting: when a tenant's snapshot is published, every stream of that tenant
//! open at that moment owes an ACK; when the last one arrives the time since the snapshot was
//! built is observed. A stream that leaves stops owing; a NACK means that version never
//! converges (it is not observed, and the NACK is reported instead). Pods that connect later
//! get the snapshot too but are not waited for: they never saw the change, only its result.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct TenantTrack {
    streams: HashSet<u64>,
    pending: Option<Pending>,
}

#[derive(Debug)]
struct Pending {
    version: String,
    built_at: Instant,
    waiting: HashSet<u64>,
    acked: usize,
}

/// Per-tenant bookkeeping of who still owes an ACK for the latest version.
#[derive(Debug, Default)]
pub(super) struct Convergence {
    tenants: Mutex<HashMap<String, TenantTrack>>,
}

impl Convergence {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TenantTrack>> {
        self.tenants.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn connected(&self, tenant: &str, stream: u64) {
        self.lock().entry(tenant.to_string()).or_default().streams.insert(stream);
    }

    /// A new version of `tenant` goes out: every open stream owes an ACK.
    pub(super) fn published(&self, tenant: &str, version: &str, built_at: Instant) {
        let mut tenants = self.lock();
        let track = tenants.entry(tenant.to_string()).or_default();
        track.pending = (!track.streams.is_empty()).then(|| Pending {
            version: version.to_string(),
            built_at,
            waiting: track.streams.clone(),
            acked: 0,
        });
    }

    /// Returns the convergence time when this ACK was the last one owed.
    pub(super) fn acked(&self, tenant: &str, stream: u64, version: &str) -> Option<Duration> {
        let mut tenants = self.lock();
        let track = tenants.get_mut(tenant)?;
        let pending = track.pending.as_mut().filter(|pending| pending.version == version)?;
        if !pending.waiting.remove(&stream) {
            return None;
        }
        pending.acked += 1;
        Self::settle(track)
    }

    /// The version was refused by one of the pods: it will not converge.
    pub(super) fn nacked(&self, tenant: &str, version: &str) {
        if let Some(track) = self.lock().get_mut(tenant)
            && track.pending.as_ref().is_some_and(|pending| pending.version == version)
        {
            track.pending = None;
        }
    }

    /// A stream ended; returns the convergence time when it was the last one owing an ACK.
    pub(super) fn disconnected(&self, tenant: &str, stream: u64) -> Option<Duration> {
        let mut tenants = self.lock();
        let track = tenants.get_mut(tenant)?;
        track.streams.remove(&stream);
        let owed = track.pending.as_mut().is_some_and(|pending| pending.waiting.remove(&stream));
        let settled = if owed { Self::settle(track) } else { None };
        if track.streams.is_empty() && track.pending.is_none() {
            tenants.remove(tenant);
        }
        settled
    }

    fn settle(track: &mut TenantTrack) -> Option<Duration> {
        let pending = track.pending.as_ref()?;
        if !pending.waiting.is_empty() {
            return None;
        }
        let converged = (pending.acked > 0).then(|| pending.built_at.elapsed());
        track.pending = None;
        converged
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn convergence_is_observed_at_the_last_ack_of_the_pods_connected_at_publication() {
        let convergence = Convergence::default();
        convergence.connected("a", 1);
        convergence.connected("a", 2);
        convergence.published("a", "v1", Instant::now());
        convergence.connected("a", 3); // arrives later: not waited for
        assert_eq!(convergence.acked("a", 1, "v1"), None);
        assert!(convergence.acked("a", 2, "v1").is_some());
        assert_eq!(convergence.acked("a", 3, "v1"), None);
    }

    #[test]
    fn an_ack_of_a_superseded_version_does_not_count() {
        let convergence = Convergence::default();
        convergence.connected("a", 1);
        convergence.published("a", "v1", Instant::now());
        convergence.published("a", "v2", Instant::now());
        assert_eq!(convergence.acked("a", 1, "v1"), None);
        assert!(convergence.acked("a", 1, "v2").is_some());
    }

    #[test]
    fn a_pod_leaving_stops_owing_an_ack() {
        let convergence = Convergence::default();
        convergence.connected("a", 1);
        convergence.connected("a", 2);
        convergence.published("a", "v1", Instant::now());
        assert_eq!(convergence.acked("a", 1, "v1"), None);
        assert!(convergence.disconnected("a", 2).is_some(), "the remaining pod had ACKed");
    }

    #[test]
    fn a_nacked_version_never_converges() {
        let convergence = Convergence::default();
        convergence.connected("a", 1);
        convergence.connected("a", 2);
        convergence.published("a", "v1", Instant::now());
        convergence.nacked("a", "v1");
        assert_eq!(convergence.acked("a", 1, "v1"), None);
        assert_eq!(convergence.acked("a", 2, "v1"), None);
    }

    #[test]
    fn tenants_are_tracked_separately() {
        let convergence = Convergence::default();
        convergence.connected("a", 1);
        convergence.connected("b", 2);
        convergence.published("a", "v1", Instant::now());
        assert!(convergence.acked("a", 1, "v1").is_some(), "tenant b's pod owes nothing for a");
        assert_eq!(convergence.acked("b", 2, "v1"), None);
    }
}
