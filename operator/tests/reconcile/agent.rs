use std::sync::Arc;

use oblivious_operator::cluster::insert;
use oblivious_operator::controllers::agent;
use serde_json::json;

use crate::fixtures::*;

fn helper(model: &str) -> oblivious_crds::Agent {
    object(
        json!({"apiVersion": "oblivious.dev/v1alpha1", "kind": "Agent", "metadata": {"name": "helper", "namespace": "team"},
        "spec": {"displayName": "Helper", "model": model}}),
    )
}

#[tokio::test]
async fn agent_whose_model_no_channel_serves_reports_model_not_served() {
    let object = helper("claude-opus");
    let stores = stores(|w| {
        insert(&mut w.agents, object.clone());
        insert(&mut w.channels, channel(channel_spec()));
        insert(&mut w.secrets, secret("team", "keys", &[("openai", "sk-one")]));
    });
    let (client, log) = fake_api(|_| None);
    agent::reconcile(Arc::new(object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;
    let status =
        log.only("PATCH /apis/oblivious.dev/v1alpha1/namespaces/team/agents/helper/status").body["status"].clone();
    let refs = condition(&status, "ResolvedRefs");
    assert_eq!(refs["reason"], "ModelNotServed");
    assert!(refs["message"].as_str().unwrap().contains("no Channel serves model `claude-opus`"));
    assert_eq!(condition(&status, "Ready")["status"], "False");
    assert!(status.get("sync").is_none(), "a left-out agent reports no data-plane sync");
}

#[tokio::test]
async fn agent_on_a_served_model_is_ready() {
    let object = helper("gpt-4o");
    let stores = stores(|w| {
        insert(&mut w.agents, object.clone());
        insert(&mut w.channels, channel(channel_spec()));
        insert(&mut w.secrets, secret("team", "keys", &[("openai", "sk-one")]));
    });
    let (client, log) = fake_api(|_| None);
    agent::reconcile(Arc::new(object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;
    let status =
        log.only("PATCH /apis/oblivious.dev/v1alpha1/namespaces/team/agents/helper/status").body["status"].clone();
    assert_eq!(condition(&status, "Ready")["status"], "True");
}
