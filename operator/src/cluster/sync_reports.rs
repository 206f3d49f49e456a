//! Pod sync across replicas. A data-plane pod streams from one operator replica, so each
//! replica's ledger holds only its own pods. Every replica therefore writes its ledger to a
//! ConfigMap of its own (`oblivious-sync-<replica>`, label [`SYNC_REPORT_LABEL`], in the
//! operator's namespace) every few seconds, and the leader folds its live ledger together with
//! the other replicas' fresh reports into status. A report older than [`REPORT_MAX_AGE`] is
//! ignored: its replica is gone, and its pods have reconnected elsewhere (or are gone too).
//! Writing its own report is the one write a follower makes; it is not a child object of any
//! resource.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, Patch, PatchParams};
use kube::{Api, Client};

use crate::controllers::{FIELD_MANAGER, PodView};

/// Label of every replica's sync report.
pub const SYNC_REPORT_LABEL: &str = "oblivious.dev/sync-report";
/// How often a replica rewrites its report.
pub const REPORT_EVERY: Duration = Duration::from_secs(5);
/// A report not rewritten for this long is from a replica that is gone.
pub const REPORT_MAX_AGE: Duration = Duration::from_secs(30);
const PODS_KEY: &str = "pods.json";
const UPDATED_KEY: &str = "updatedAt";

/// The report of `replica` listing `pods`, written at `now`.
pub fn report(replica: &str, namespace: &str, pods: &[PodView], now: Timestamp) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(report_name(replica)),
            namespace: Some(namespace.into()),
            labels: Some(BTreeMap::from([
                (SYNC_REPORT_LABEL.to_string(), replica.to_string()),
                ("app.kubernetes.io/managed-by".to_string(), FIELD_MANAGER.to_string()),
            ])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([
            (PODS_KEY.to_string(), serde_json::to_string(pods).unwrap_or_else(|_| "[]".into())),
            (UPDATED_KEY.to_string(), now.to_string()),
        ])),
        ..ConfigMap::default()
    }
}

/// `oblivious-sync-<replica>`, cut to a valid name.
pub fn report_name(replica: &str) -> String {
    let mut name = format!("oblivious-sync-{replica}");
    name.truncate(253);
    name
}

/// This replica's pods plus every other replica's fresh report; a pod seen by two replicas
/// (it just reconnected) counts once, as this replica sees it.
pub fn merge(own: Vec<PodView>, reports: &[std::sync::Arc<ConfigMap>], replica: &str, now: Timestamp) -> Vec<PodView> {
    let mut pods: BTreeMap<(String, String), PodView> =
        own.into_iter().map(|p| ((p.tenant.clone(), p.pod.clone()), p)).collect();
    for report in reports {
        let from = report.metadata.labels.as_ref().and_then(|l| l.get(SYNC_REPORT_LABEL));
        if from.is_none_or(|r| r == replica) {
            continue;
        }
        let data = report.data.clone().unwrap_or_default();
        let fresh = data
            .get(UPDATED_KEY)
            .and_then(|t| t.parse::<Timestamp>().ok())
            .is_some_and(|at| now.duration_since(at).unsigned_abs() <= REPORT_MAX_AGE);
        if !fresh {
            continue;
        }
        let listed: Vec<PodView> = data.get(PODS_KEY).and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
        for pod in listed {
            pods.entry((pod.tenant.clone(), pod.pod.clone())).or_insert(pod);
        }
    }
    pods.into_values().collect()
}

/// Rewrites this replica's report every [`REPORT_EVERY`] until `stop`.
pub async fn publish_reports(
    client: Client,
    namespace: String,
    replica: String,
    pods: impl Fn() -> Vec<PodView> + Send + 'static,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let api: Api<ConfigMap> = Api::namespaced(client, &namespace);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    loop {
        let mut object =
            serde_json::to_value(report(&replica, &namespace, &pods(), Timestamp::now())).unwrap_or_default();
        object["apiVersion"] = "v1".into();
        object["kind"] = "ConfigMap".into();
        if let Err(error) = api.patch(&report_name(&replica), &params, &Patch::Apply(&object)).await {
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
    use std::sync::Arc;

    use super::*;

    fn pod(tenant: &str, name: &str, version: &str) -> PodView {
        PodView { tenant: tenant.into(), pod: name.into(), running_version: version.into(), last_nack: None }
    }

    #[test]
    fn the_leader_counts_the_other_replicas_pods_once_and_ignores_stale_reports() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        let follower = report("operator-1", "ns", &[pod("t", "a", "v2"), pod("t", "b", "v1")], now);
        let gone = report("operator-2", "ns", &[pod("t", "z", "v1")], "2026-01-01T00:00:00Z".parse().unwrap());
        let mine_stale = report("operator-0", "ns", &[pod("t", "old", "v0")], now);
        let merged = merge(
            vec![pod("t", "b", "v2"), pod("t", "c", "v2")],
            &[Arc::new(follower), Arc::new(gone), Arc::new(mine_stale)],
            "operator-0",
            now,
        );
        let seen: Vec<(&str, &str)> = merged.iter().map(|p| (p.pod.as_str(), p.running_version.as_str())).collect();
        assert_eq!(seen, [("a", "v2"), ("b", "v2"), ("c", "v2")], "own view wins; stale and own reports are skipped");
    }
}
