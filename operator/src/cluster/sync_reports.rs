//! Pod sync and health across replicas. A data-plane pod streams from one operator replica, so
//! each replica's ledger holds only its own pods (and their health reports). Every replica
//! therefore writes its ledger to a ConfigMap of its own (`oblivious-sync-<replica>`, label
//! [`SYNC_REPORT_LABEL`], in the operator's namespace) every few seconds, and the leader folds
//! its live ledger together with the other replicas' fresh reports into status. Health reports
//! travel gzipped (`health.json.gz`); above [`MAX_HEALTH_BYTES`] they are left out, and the
//! leader misses that replica's pods' health rather than fail the write. A report older than [`REPORT_MAX_AGE`] is
//! ignored: its replica is gone, and its pods have reconnected elsewhere (or are gone too).
//! Writing its own report is the one write a follower makes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, Patch, PatchParams};
use kube::{Api, Client};

use crate::controllers::{FIELD_MANAGER, PodView};
use crate::distribution::PodHealth;

/// Label of every replica's sync report.
pub const SYNC_REPORT_LABEL: &str = "oblivious.dev/sync-report";
/// How often a replica rewrites its report.
pub const REPORT_EVERY: Duration = Duration::from_secs(5);
/// A report not rewritten for this long is from a replica that is gone.
pub const REPORT_MAX_AGE: Duration = Duration::from_secs(30);
const PODS_KEY: &str = "pods.json";
const HEALTH_KEY: &str = "health.json.gz";
const UPDATED_KEY: &str = "updatedAt";
/// Largest gzipped health list a report carries (a ConfigMap holds at most 1 MiB in all).
pub const MAX_HEALTH_BYTES: usize = 768 * 1024;

/// Who writes a report: the replica's pod name, namespace and (when known) UID, which makes the
/// Pod the report's owner.
pub struct Replica {
    pub name: String,
    pub namespace: String,
    pub uid: Option<String>,
}

impl Replica {
    /// The owner reference of its report: the Pod, without `blockOwnerDeletion` (which would need
    /// delete rights on pods).
    fn owner(&self) -> Option<OwnerReference> {
        Some(OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: self.name.clone(),
            uid: self.uid.clone()?,
            ..OwnerReference::default()
        })
    }
}

/// The report of `replica` listing `pods` and their `health`, written at `now`.
pub fn report(replica: &Replica, pods: &[PodView], health: &[PodHealth], now: Timestamp) -> ConfigMap {
    let health = gzip_json(health).filter(|bytes| {
        let fits = bytes.len() <= MAX_HEALTH_BYTES;
        if !fits {
            tracing::warn!(bytes = bytes.len(), "health reports too large to share; the leader misses them");
        }
        fits
    });
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(report_name(&replica.name)),
            namespace: Some(replica.namespace.clone()),
            labels: Some(BTreeMap::from([
                (SYNC_REPORT_LABEL.to_string(), replica.name.clone()),
                ("app.kubernetes.io/managed-by".to_string(), FIELD_MANAGER.to_string()),
            ])),
            owner_references: replica.owner().map(|owner| vec![owner]),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([
            (PODS_KEY.to_string(), serde_json::to_string(pods).unwrap_or_else(|_| "[]".into())),
            (UPDATED_KEY.to_string(), now.to_string()),
        ])),
        binary_data: health.map(|bytes| BTreeMap::from([(HEALTH_KEY.to_string(), ByteString(bytes))])),
        ..ConfigMap::default()
    }
}

fn gzip_json<T: serde::Serialize + ?Sized>(value: &T) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    serde_json::to_writer(&mut encoder, value).ok()?;
    encoder.finish().ok()
}

fn gunzip_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_reader(flate2::read::GzDecoder::new(bytes)).ok()
}

/// `oblivious-sync-<replica>`, cut to a valid name.
pub fn report_name(replica: &str) -> String {
    let mut name = format!("oblivious-sync-{replica}");
    name.truncate(253);
    name
}

/// This replica's pods plus every other replica's fresh report; a pod seen by two replicas
/// (it just reconnected) counts once, as this replica sees it.
pub fn merge(own: Vec<PodView>, reports: &[Arc<ConfigMap>], replica: &str, now: Timestamp) -> Vec<PodView> {
    let mut pods: BTreeMap<(String, String), PodView> =
        own.into_iter().map(|p| ((p.tenant.clone(), p.pod.clone()), p)).collect();
    for report in others_fresh(reports, replica, now) {
        let data = report.data.as_ref();
        let listed: Vec<PodView> =
            data.and_then(|d| d.get(PODS_KEY)).and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
        for pod in listed {
            pods.entry((pod.tenant.clone(), pod.pod.clone())).or_insert(pod);
        }
    }
    pods.into_values().collect()
}

/// This replica's health reports plus every other replica's fresh ones; of a pod reporting to
/// two replicas (it just reconnected) the newest report counts.
pub fn merge_health(own: Vec<PodHealth>, reports: &[Arc<ConfigMap>], replica: &str, now: Timestamp) -> Vec<PodHealth> {
    let mut pods: BTreeMap<(String, String), PodHealth> =
        own.into_iter().map(|p| ((p.tenant.clone(), p.pod.clone()), p)).collect();
    for report in others_fresh(reports, replica, now) {
        let bytes = report.binary_data.as_ref().and_then(|d| d.get(HEALTH_KEY));
        let listed: Vec<PodHealth> = bytes.and_then(|b| gunzip_json(&b.0)).unwrap_or_default();
        for pod in listed {
            let key = (pod.tenant.clone(), pod.pod.clone());
            if pods.get(&key).is_none_or(|kept| kept.received_at_ms < pod.received_at_ms) {
                pods.insert(key, pod);
            }
        }
    }
    pods.into_values().collect()
}

/// The other replicas' reports written within [`REPORT_MAX_AGE`] of `now`.
fn others_fresh<'a>(
    reports: &'a [Arc<ConfigMap>],
    replica: &'a str,
    now: Timestamp,
) -> impl Iterator<Item = &'a ConfigMap> + 'a {
    reports.iter().map(|r| &**r).filter(move |report| {
        let from = report.metadata.labels.as_ref().and_then(|l| l.get(SYNC_REPORT_LABEL));
        let written = report.data.as_ref().and_then(|d| d.get(UPDATED_KEY)).and_then(|t| t.parse::<Timestamp>().ok());
        from.is_some_and(|r| r != replica)
            && written.is_some_and(|at| now.duration_since(at).unsigned_abs() <= REPORT_MAX_AGE)
    })
}

/// Rewrites this replica's report every [`REPORT_EVERY`] until `stop`.
pub async fn publish_reports(
    client: Client,
    replica: Replica,
    pods: impl Fn() -> Vec<PodView> + Send + 'static,
    health: impl Fn() -> Vec<PodHealth> + Send + 'static,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let api: Api<ConfigMap> = Api::namespaced(client, &replica.namespace);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    loop {
        let mut object =
            serde_json::to_value(report(&replica, &pods(), &health(), Timestamp::now())).unwrap_or_default();
        object["apiVersion"] = "v1".into();
        object["kind"] = "ConfigMap".into();
        if let Err(error) = api.patch(&report_name(&replica.name), &params, &Patch::Apply(&object)).await {
            tracing::warn!(%error, "cannot write this replica's sync report; the leader's status misses its pods");
        }
        tokio::select! {
            _ = tokio::time::sleep(REPORT_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use oblivious_config::health::RequestTotals;

    use super::*;

    fn pod(tenant: &str, name: &str, version: &str) -> PodView {
        PodView { tenant: tenant.into(), pod: name.into(), running_version: version.into(), last_nack: None }
    }

    #[test]
    fn the_leader_counts_the_other_replicas_pods_once_and_ignores_stale_reports() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        let follower = report(&replica("operator-1"), &[pod("t", "a", "v2"), pod("t", "b", "v1")], &[], now);
        let gone = report(&replica("operator-2"), &[pod("t", "z", "v1")], &[], "2026-01-01T00:00:00Z".parse().unwrap());
        let mine_stale = report(&replica("operator-0"), &[pod("t", "old", "v0")], &[], now);
        let merged = merge(
            vec![pod("t", "b", "v2"), pod("t", "c", "v2")],
            &[Arc::new(follower), Arc::new(gone), Arc::new(mine_stale)],
            "operator-0",
            now,
        );
        let seen: Vec<(&str, &str)> = merged.iter().map(|p| (p.pod.as_str(), p.running_version.as_str())).collect();
        assert_eq!(seen, [("a", "v2"), ("b", "v2"), ("c", "v2")], "own view wins; stale and own reports are skipped");
    }

    fn replica(name: &str) -> Replica {
        Replica { name: name.into(), namespace: "ns".into(), uid: Some(format!("uid-{name}")) }
    }

    #[test]
    fn a_report_is_owned_by_its_replicas_pod_when_the_uid_is_known() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        let owned = report(&replica("operator-1"), &[], &[], now);
        let owner = &owned.metadata.owner_references.unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("Pod", "operator-1", "uid-operator-1")
        );
        assert_eq!(owner.block_owner_deletion, None, "no delete rights on pods needed");
        let unowned = report(&Replica { uid: None, ..replica("operator-1") }, &[], &[], now);
        assert!(unowned.metadata.owner_references.is_none());
    }

    fn health(pod: &str, received_at_ms: i64, requests: u64) -> PodHealth {
        PodHealth {
            tenant: "t".into(),
            pod: pod.into(),
            role: "relay".into(),
            lane: String::new(),
            received_at_ms,
            window_seconds: 300,
            served: RequestTotals { requests, ..RequestTotals::default() },
            channels: vec![],
            budget: None,
        }
    }

    #[test]
    fn health_travels_gzipped_and_the_newest_report_of_a_pod_wins() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        let ms = now.as_millisecond();
        let follower =
            report(&replica("operator-1"), &[], &[health("a", ms - 1_000, 7), health("b", ms - 9_000, 1)], now);
        assert!(follower.data.as_ref().unwrap().get(HEALTH_KEY).is_none(), "binary, not text");
        let gone = report(&replica("operator-2"), &[], &[health("z", ms, 1)], "2026-01-01T00:00:00Z".parse().unwrap());
        let merged =
            merge_health(vec![health("b", ms - 2_000, 5)], &[Arc::new(follower), Arc::new(gone)], "operator-0", now);
        let seen: Vec<(&str, u64)> = merged.iter().map(|p| (p.pod.as_str(), p.served.requests)).collect();
        assert_eq!(seen, [("a", 7), ("b", 5)], "the follower's older report of b loses; a gone replica's is ignored");
    }
}
