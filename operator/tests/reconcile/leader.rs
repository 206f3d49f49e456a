use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use oblivious_operator::cluster::LeaderElection;
use serde_json::{Value, json};

use crate::fixtures::*;

fn lease(holder: &str, renewed: &str) -> Value {
    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "oblivious-operator", "namespace": "oblivious-system", "resourceVersion": "7"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": renewed, "leaseTransitions": 3}})
}

const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/oblivious-system/leases/oblivious-operator";

fn election(client: kube::Client) -> LeaderElection {
    LeaderElection::new(
        Api::<Lease>::namespaced(client, "oblivious-system"),
        "oblivious-operator".into(),
        "operator-1".into(),
    )
}

#[tokio::test]
async fn a_candidate_takes_an_expired_lease_and_counts_the_transition() {
    let (client, log) =
        fake_api(|r| (r.method == "GET").then(|| (200, lease("operator-0", "2020-01-01T00:00:00.000000Z"))));
    assert!(election(client).try_acquire_or_renew().await.unwrap());
    let put = log.only(&format!("PUT {LEASE}"));
    assert_eq!(put.body["spec"]["holderIdentity"], "operator-1");
    assert_eq!(put.body["spec"]["leaseTransitions"], 4);
    assert_eq!(put.body["metadata"]["resourceVersion"], "7", "the write is conditional on what was read");
}

#[tokio::test]
async fn a_candidate_leaves_a_live_lease_alone() {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let (client, log) = fake_api(move |r| (r.method == "GET").then(|| (200, lease("operator-0", &now))));
    assert!(!election(client).try_acquire_or_renew().await.unwrap());
    assert_eq!(log.routes(), [format!("GET {LEASE}")]);
}

#[tokio::test]
async fn losing_the_race_for_the_lease_is_a_conflict_not_an_error() {
    let (client, _log) = fake_api(|r| match r.method.as_str() {
        "GET" => Some((200, lease("", "2020-01-01T00:00:00.000000Z"))),
        "PUT" => Some((
            409,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409, "message": "conflict"}),
        )),
        _ => None,
    });
    assert!(!election(client).try_acquire_or_renew().await.unwrap());
}

#[tokio::test]
async fn the_holder_renews_and_a_missing_lease_is_created() {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let (client, log) = fake_api(move |r| (r.method == "GET").then(|| (200, lease("operator-1", &now))));
    assert!(election(client).try_acquire_or_renew().await.unwrap());
    assert_eq!(log.only(&format!("PUT {LEASE}")).body["spec"]["leaseTransitions"], 3, "a renewal is no transition");

    let (client, log) = fake_api(|_| None);
    assert!(election(client).try_acquire_or_renew().await.unwrap());
    let created = log.only("POST /apis/coordination.k8s.io/v1/namespaces/oblivious-system/leases");
    assert_eq!(created.body["spec"]["holderIdentity"], "operator-1");
}
