use std::sync::Arc;

use oblivious_operator::cluster::insert;
use oblivious_operator::controllers::lane;
use serde_json::json;

use crate::fixtures::*;

fn gray() -> oblivious_crds::Lane {
    object(
        json!({"apiVersion": "oblivious.dev/v1alpha1", "kind": "Lane", "metadata": {"name": "gray", "namespace": "team"},
        "spec": {"tag": "gray", "members": [
            {"service": "relay", "selector": {"app": "relay", "track": "gray"}},
            {"service": "chat", "selector": {"app": "chat", "track": "gray"}}
        ]}}),
    )
}

fn slice(service: &str, ready: bool) -> k8s_openapi::api::discovery::v1::EndpointSlice {
    serde_json::from_value(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{service}-abc"), "namespace": "team",
            "labels": {"kubernetes.io/service-name": service, "oblivious.dev/lane": "gray"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.9"], "conditions": {"ready": ready}}]
    }))
    .unwrap()
}

#[tokio::test]
async fn lane_applies_a_service_per_selector_member_and_reports_which_are_ready() {
    let object = gray();
    let stores = stores(|w| {
        insert(&mut w.lanes, object.clone());
        insert(&mut w.lane_endpoints, slice("relay-lane-gray", true));
        insert(&mut w.lane_endpoints, slice("chat-lane-gray", false));
    });
    let (client, log) = fake_api(|_| None);
    lane::reconcile(Arc::new(object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;

    let service = log.only("PATCH /api/v1/namespaces/team/services/relay-lane-gray");
    assert_eq!(service.body["spec"]["selector"], json!({"app": "relay", "track": "gray"}));
    let owner = &service.body["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["name"].as_str(), owner["controller"].as_bool()),
        (Some("Lane"), Some("gray"), Some(true))
    );
    log.only("PATCH /api/v1/namespaces/team/services/chat-lane-gray");
    assert!(
        log.only("GET /api/v1/namespaces/team/services").query.contains("labelSelector=oblivious.dev%2Flane%3Dgray")
    );

    let status =
        log.only("PATCH /apis/oblivious.dev/v1alpha1/namespaces/team/lanes/gray/status").body["status"].clone();
    assert_eq!(status["membersReady"], "1/2");
    assert_eq!(status["fallingBack"], true);
    let members = condition(&status, "MembersReady");
    assert_eq!(members["reason"], "MembersNotReady");
    assert!(
        members["message"]
            .as_str()
            .unwrap()
            .contains("no ready endpoint for chat; dyed requests use the baseline there")
    );
    assert_eq!(status["members"][0]["endpoint"], "http://relay-lane-gray.team.svc:8080");
    assert_eq!(condition(&status, "Expired")["reason"], "NoExpiry");
}

#[tokio::test]
async fn lane_prunes_the_services_of_members_it_no_longer_has() {
    let mut object = gray();
    object.spec.members.truncate(1);
    let stores = stores(|w| insert(&mut w.lanes, object.clone()));
    let (client, log) = fake_api(|request| {
        (request.route() == "GET /api/v1/namespaces/team/services").then(|| {
            (
                200,
                json!({"apiVersion": "v1", "kind": "ServiceList", "metadata": {}, "items": [
                    {"metadata": {"name": "relay-lane-gray", "namespace": "team"}},
                    {"metadata": {"name": "chat-lane-gray", "namespace": "team"}}
                ]}),
            )
        })
    });
    lane::reconcile(Arc::new(object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;
    log.only("DELETE /api/v1/namespaces/team/services/chat-lane-gray");
    assert!(!log.routes().contains(&"DELETE /api/v1/namespaces/team/services/relay-lane-gray".to_string()));
}
