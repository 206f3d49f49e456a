use std::sync::Arc;

use oblivious_operator::cluster::insert;
use oblivious_operator::controllers::{PodView, channel};
use serde_json::json;

use crate::fixtures::*;

const STATUS: &str = "PATCH /apis/oblivious.dev/v1alpha1/namespaces/team/channels/openai/status";

#[tokio::test]
async fn channel_with_missing_secret_reports_resolved_refs_false() {
    let object = channel(channel_spec());
    let stores = stores(|w| insert(&mut w.channels, object.clone()));
    let (client, log) = fake_api(|_| None);
    let ctx = context(client, stores, true, vec![]);

    channel::reconcile(Arc::new(object), ctx).await.unwrap();
    settle().await;

    let patch = log.only(STATUS);
    assert!(
        patch.query.contains("fieldManager=oblivious-operator") && patch.query.contains("force=true"),
        "{}",
        patch.query
    );
    let status = &patch.body["status"];
    let refs = condition(status, "ResolvedRefs");
    assert_eq!((refs["status"].as_str(), refs["reason"].as_str()), (Some("False"), Some("SecretNotFound")));
    assert!(refs["message"].as_str().unwrap().contains("Secret team/keys not found"));
    assert_eq!(condition(status, "Ready")["reason"], "SecretNotFound", "Ready names the cause");
    assert_eq!(condition(status, "Stalled")["status"], "True", "Flux's kstatus sees a failure a person must fix");
    assert_eq!(condition(status, "Programmed")["status"], "False");
    assert_eq!(condition(status, "Accepted")["status"], "True");
    assert_eq!(status["observedGeneration"], 1);
    assert_eq!(status["models"], "gpt-4o, gpt-4o-mini");
    assert!(log.event_reasons().contains(&("Warning".into(), "SecretNotFound".into())), "{:?}", log.event_reasons());
}

#[tokio::test]
async fn channel_with_key_absent_names_the_keys_the_secret_has_but_never_their_values() {
    let object = channel(channel_spec());
    let stores = stores(|w| {
        insert(&mut w.channels, object.clone());
        insert(&mut w.secrets, secret("team", "keys", &[("anthropic", "sk-ant-secret-value")]));
    });
    let (client, log) = fake_api(|_| None);
    channel::reconcile(Arc::new(object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;

    let status = log.only(STATUS).body["status"].clone();
    let refs = condition(&status, "ResolvedRefs");
    assert_eq!(refs["reason"], "SecretKeyNotFound");
    assert!(refs["message"].as_str().unwrap().contains("has no key `openai` (it has: anthropic)"), "{refs}");
    for request in log.all() {
        assert!(!request.body.to_string().contains("sk-ant-secret-value"), "a key leaked into {}", request.route());
    }
}

#[tokio::test]
async fn channel_with_a_valid_secret_is_ready_and_reports_pod_sync_without_the_keys() {
    let object = channel(channel_spec());
    let stores = stores(|w| {
        insert(&mut w.channels, object.clone());
        insert(&mut w.secrets, secret("team", "keys", &[("openai", "sk-one\nsk-two")]));
    });
    let (_, results) = oblivious_operator::cluster::compile_all(&stores);
    let version = results["default"].version.clone();
    let pods = vec![
        PodView { tenant: "default".into(), pod: "relay-a".into(), running_version: version.clone(), last_nack: None },
        PodView { tenant: "default".into(), pod: "relay-b".into(), running_version: version.clone(), last_nack: None },
        PodView { tenant: "other".into(), pod: "relay-c".into(), running_version: version.clone(), last_nack: None },
    ];
    let (client, log) = fake_api(|_| None);
    channel::reconcile(Arc::new(object), context(client, stores, true, pods)).await.unwrap();
    settle().await;

    let status = log.only(STATUS).body["status"].clone();
    assert_eq!(condition(&status, "Ready")["status"], "True");
    assert_eq!(condition(&status, "Programmed")["reason"], "Programmed");
    assert_eq!(status["keys"], 2);
    assert_eq!(
        status["sync"],
        json!({"desiredVersion": version, "ackedPods": 2, "nackedPods": 0}),
        "only the tenant's pods count"
    );
    assert!(!log.all().iter().any(|r| r.body.to_string().contains("sk-one")));
    assert!(log.event_reasons().contains(&("Normal".into(), "Programmed".into())));
}

#[tokio::test]
async fn channel_nacked_by_a_pod_reports_programmed_false_with_the_pods_message() {
    let object = channel(channel_spec());
    let stores = stores(|w| {
        insert(&mut w.channels, object.clone());
        insert(&mut w.secrets, secret("team", "keys", &[("openai", "sk-one")]));
    });
    let (_, results) = oblivious_operator::cluster::compile_all(&stores);
    let version = results["default"].version.clone();
    let pods = vec![PodView {
        tenant: "default".into(),
        pod: "relay-a".into(),
        running_version: "older".into(),
        last_nack: Some((version.clone(), "version skew refused: schema 9".into())),
    }];
    let (client, log) = fake_api(|_| None);
    channel::reconcile(Arc::new(object), context(client, stores, true, pods)).await.unwrap();
    settle().await;

    let status = log.only(STATUS).body["status"].clone();
    let programmed = condition(&status, "Programmed");
    assert_eq!(programmed["reason"], "DataPlaneRejected");
    assert!(programmed["message"].as_str().unwrap().contains("version skew refused: schema 9"));
    assert_eq!(status["sync"]["nackedPods"], 1);
    assert_eq!(status["sync"]["lastNackMessage"], "version skew refused: schema 9");
    assert_eq!(condition(&status, "Ready")["reason"], "DataPlaneRejected");
}

#[tokio::test]
async fn channel_with_duplicate_model_names_is_not_accepted() {
    // The CRD's CEL rule refuses this; an older CRD or a direct etcd write may not.
    let mut spec = channel_spec();
    spec["models"] = json!([{"name": "gpt-4o"}, {"name": "gpt-4o"}]);
    let object = channel(spec);
    let stores = stores(|w| {
        insert(&mut w.channels, object.clone());
        insert(&mut w.secrets, secret("team", "keys", &[("openai", "sk-one")]));
    });
    let (client, log) = fake_api(|_| None);
    channel::reconcile(Arc::new(object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;

    let status = log.only(STATUS).body["status"].clone();
    let accepted = condition(&status, "Accepted");
    assert_eq!(accepted["reason"], "DuplicateModelName");
    assert!(accepted["message"].as_str().unwrap().contains("spec.models[1].name: duplicate model name `gpt-4o`"));
    assert_eq!(condition(&status, "ResolvedRefs")["status"], "True");
    assert_eq!(condition(&status, "Programmed")["reason"], "Invalid");
}

#[tokio::test]
async fn channel_with_a_bad_url_reports_invalid_base_url() {
    let mut spec = channel_spec();
    spec["baseUrl"] = json!("ftp://files.example.com");
    let object = channel(spec);
    let stores = stores(|w| {
        insert(&mut w.channels, object.clone());
        insert(&mut w.secrets, secret("team", "keys", &[("openai", "sk-one")]));
    });
    let (client, log) = fake_api(|_| None);
    channel::reconcile(Arc::new(object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;
    let status = log.only(STATUS).body["status"].clone();
    assert_eq!(condition(&status, "Accepted")["reason"], "InvalidBaseUrl");
    assert_eq!(condition(&status, "Ready")["status"], "False");
}

#[tokio::test]
async fn status_is_not_written_by_a_non_leader() {
    let object = channel(channel_spec());
    let stores = stores(|w| insert(&mut w.channels, object.clone()));
    let (client, log) = fake_api(|_| None);
    channel::reconcile(Arc::new(object), context(client, stores, false, vec![])).await.unwrap();
    settle().await;
    assert!(log.all().is_empty(), "a non-leader made requests: {:?}", log.routes());
}

#[tokio::test]
async fn an_unchanged_status_is_not_written_again() {
    let object = channel(channel_spec());
    let stores = stores(|w| {
        insert(&mut w.channels, object.clone());
        insert(&mut w.secrets, secret("team", "keys", &[("openai", "sk-one")]));
    });
    let (client, log) = fake_api(|_| None);
    let ctx = context(client, stores.clone(), true, vec![]);
    channel::reconcile(Arc::new(object.clone()), ctx.clone()).await.unwrap();
    settle().await;
    let written = log.only(STATUS).body["status"].clone();

    let mut current = object;
    current.status = Some(serde_json::from_value(written).unwrap());
    let (client, log) = fake_api(|_| None);
    let ctx = context(client, stores, true, vec![]);
    channel::reconcile(Arc::new(current), ctx).await.unwrap();
    settle().await;
    assert!(log.all().is_empty(), "{:?}", log.routes());
}

#[tokio::test]
async fn a_channel_the_compile_loop_has_not_seen_yet_is_retried_without_writes() {
    let object = channel(channel_spec());
    let stores = stores(|w| insert(&mut w.channels, object.clone()));
    let (client, log) = fake_api(|_| None);
    let ctx = context(client, stores, true, vec![]);
    let mut newer = object;
    newer.metadata.generation = Some(2);
    let action = channel::reconcile(Arc::new(newer), ctx).await.unwrap();
    settle().await;
    assert!(log.all().is_empty());
    assert_eq!(action, kube::runtime::controller::Action::requeue(std::time::Duration::from_millis(500)));
}

#[tokio::test]
async fn a_rotated_secret_maps_to_the_channels_that_use_it() {
    let uses = channel(channel_spec());
    let mut other = channel(channel_spec());
    other.metadata.name = Some("other".into());
    other.spec.api_key_secret_ref.name = "different".into();
    let mut elsewhere = channel(channel_spec());
    elsewhere.metadata.namespace = Some("elsewhere".into());
    let stores = stores(|w| {
        insert(&mut w.channels, uses);
        insert(&mut w.channels, other);
        insert(&mut w.channels, elsewhere);
    });
    let refs = channel::channels_using_secret(&stores.channels, &secret("team", "keys", &[("openai", "sk-new")]));
    let names: Vec<String> =
        refs.iter().map(|r| format!("{}/{}", r.namespace.clone().unwrap_or_default(), r.name)).collect();
    assert_eq!(names, ["team/openai"]);
}
