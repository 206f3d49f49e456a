//! The compile loop's view of the caches: which tenant each resource belongs to.

use oblivious_operator::cluster::{compile_all, insert};
use serde_json::json;

use crate::fixtures::*;

fn tenant(name: &str, namespace: &str) -> oblivious_crds::Tenant {
    object(
        json!({"apiVersion": "oblivious.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": name}, "spec": {"namespace": namespace}}),
    )
}

fn channel_in(namespace: &str, key: &str) -> (oblivious_crds::Channel, k8s_openapi::api::core::v1::Secret) {
    let mut c = channel(channel_spec());
    c.metadata.namespace = Some(namespace.into());
    (c, secret(namespace, "keys", &[("openai", key)]))
}

#[tokio::test]
async fn each_tenant_compiles_only_its_namespace_and_its_keys_never_reach_another_tenant() {
    let (platform, platform_key) = channel_in("team", "sk-platform");
    let (acme, acme_key) = channel_in("tenant-acme", "sk-acme");
    let stores = stores(|w| {
        insert(&mut w.tenants, tenant("acme", "tenant-acme"));
        insert(&mut w.channels, platform);
        insert(&mut w.channels, acme);
        insert(&mut w.secrets, platform_key);
        insert(&mut w.secrets, acme_key);
    });
    let (snapshots, results) = compile_all(&stores);
    assert_eq!(snapshots.keys().collect::<Vec<_>>(), ["acme", "default"]);
    let acme = serde_json::to_string(&*snapshots["acme"]).unwrap();
    assert!(acme.contains("sk-acme") && !acme.contains("sk-platform"));
    let default = serde_json::to_string(&*snapshots["default"]).unwrap();
    assert!(default.contains("sk-platform") && !default.contains("sk-acme"));
    assert_eq!(snapshots["acme"].tenant.as_ref().unwrap().name, "acme", "the tenant's settings go with it");
    assert!(results["acme"].generations.contains_key(&("Channel".into(), "tenant-acme/openai".into())));
}

#[tokio::test]
async fn an_empty_cluster_still_publishes_a_valid_platform_snapshot() {
    let (snapshots, results) = compile_all(&stores(|_| {}));
    assert_eq!(snapshots.len(), 1);
    assert!(!snapshots["default"].version.is_empty());
    assert!(results["default"].rejected.is_empty());
}

#[tokio::test]
async fn a_lane_member_is_ready_in_the_snapshot_once_its_service_has_a_ready_endpoint() {
    let lane: oblivious_crds::Lane = object(json!({"apiVersion": "oblivious.dev/v1alpha1", "kind": "Lane",
        "metadata": {"name": "gray", "namespace": "team"},
        "spec": {"tag": "gray", "members": [{"service": "relay", "selector": {"track": "gray"}}]}}));
    let slice: k8s_openapi::api::discovery::v1::EndpointSlice = serde_json::from_value(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "s", "namespace": "team", "labels": {"kubernetes.io/service-name": "relay-lane-gray", "oblivious.dev/lane": "gray"}},
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.9"], "conditions": {"ready": true}}]
    }))
    .unwrap();
    let without = compile_all(&stores(|w| insert(&mut w.lanes, lane.clone()))).0;
    assert!(!without["default"].lanes[0].members[0].ready);
    let with = compile_all(&stores(|w| {
        insert(&mut w.lanes, lane.clone());
        insert(&mut w.lane_endpoints, slice);
    }))
    .0;
    let member = &with["default"].lanes[0].members[0];
    assert!(member.ready);
    assert_eq!(member.endpoint, "http://relay-lane-gray.team.svc:8080");
}

#[tokio::test]
async fn the_compile_loop_publishes_every_tenant_and_wakes_the_controllers_only_on_a_change() {
    use std::sync::Arc;

    use oblivious_operator::cluster::{CompileLoop, CompiledState, Ticks};
    use oblivious_operator::distribution::TenantSnapshots;

    let (channel, key) = channel_in("team", "sk-one");
    let stores = stores(|w| {
        insert(&mut w.channels, channel);
        insert(&mut w.secrets, key);
    });
    let (snapshots, published) = tokio::sync::watch::channel(TenantSnapshots::new());
    let ticks = Ticks::new();
    let mut woken = ticks.resync.subscribe();
    let compile_loop = CompileLoop {
        stores,
        dirty: tokio::sync::watch::channel(0).1,
        snapshots,
        compiled: Arc::new(CompiledState::default()),
        ticks: ticks.clone(),
    };
    compile_loop.compile_once().await;
    assert_eq!(published.borrow()["default"].channels.len(), 1);
    assert!(woken.has_changed().unwrap(), "a first result wakes the controllers");
    woken.borrow_and_update();
    compile_loop.compile_once().await;
    assert!(!woken.has_changed().unwrap(), "the same result again must not (status writes would loop)");
}
