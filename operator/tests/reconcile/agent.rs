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

/// The status the controller writes for `object`, with one Channel serving `gpt-4o`.
async fn status_after_reconcile(object: oblivious_crds::Agent) -> serde_json::Value {
    let stores = stores(|w| {
        insert(&mut w.agents, object.clone());
        insert(&mut w.channels, channel(channel_spec()));
        insert(&mut w.secrets, secret("team", "keys", &[("openai", "sk-one")]));
    });
    let (client, log) = fake_api(|_| None);
    agent::reconcile(Arc::new(object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;
    log.only("PATCH /apis/oblivious.dev/v1alpha1/namespaces/team/agents/helper/status").body["status"].clone()
}

#[tokio::test]
async fn agent_whose_model_no_channel_serves_reports_model_not_served() {
    let object = helper("claude-opus");
    let status = status_after_reconcile(object).await;
    let refs = condition(&status, "ResolvedRefs");
    assert_eq!(refs["reason"], "ModelNotServed");
    assert!(refs["message"].as_str().unwrap().contains("no Channel serves model `claude-opus`"));
    assert_eq!(condition(&status, "Ready")["status"], "False");
    assert!(status.get("sync").is_none(), "a left-out agent reports no data-plane sync");
}

#[tokio::test]
async fn agent_on_a_served_model_is_ready() {
    let object = helper("gpt-4o");
    let status = status_after_reconcile(object).await;
    assert_eq!(condition(&status, "Ready")["status"], "True");
}

#[tokio::test]
async fn agent_naming_a_knowledge_base_by_anything_but_its_id_is_not_accepted() {
    let mut object = helper("gpt-4o");
    object.spec.knowledge_bases = vec!["0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(), "handbook".into()];
    let status = status_after_reconcile(object).await;
    let accepted = condition(&status, "Accepted");
    assert_eq!(accepted["reason"], "InvalidSpec");
    let message = accepted["message"].as_str().unwrap();
    assert!(message.contains("spec.knowledgeBases[1]") && message.contains("`handbook`"), "{message}");
    assert!(!message.contains("knowledgeBases[0]"), "a UUID is accepted: {message}");
    assert_eq!(condition(&status, "Ready")["status"], "False");
}
