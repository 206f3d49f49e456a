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

#[tokio::test]
async fn agent_naming_a_tool_its_server_does_not_allow_reports_tool_not_resolved() {
    let mut agent_object = helper("gpt-4o");
    agent_object.spec.tools = vec!["search".into(), "team/search/delete_everything".into()];
    let search =
        object::<oblivious_crds::ToolServer>(json!({"apiVersion": "oblivious.dev/v1alpha1", "kind": "ToolServer",
        "metadata": {"name": "search", "namespace": "team"},
        "spec": {"url": "https://search.example/mcp", "allowedTools": ["web_search"]}}));
    let stores = stores(|w| {
        insert(&mut w.agents, agent_object.clone());
        insert(&mut w.tool_servers, search);
        insert(&mut w.channels, channel(channel_spec()));
        insert(&mut w.secrets, secret("team", "keys", &[("openai", "sk-one")]));
    });
    let (client, log) = fake_api(|_| None);
    agent::reconcile(Arc::new(agent_object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;
    let status =
        log.only("PATCH /apis/oblivious.dev/v1alpha1/namespaces/team/agents/helper/status").body["status"].clone();
    let refs = condition(&status, "ResolvedRefs");
    assert_eq!(refs["reason"], "ToolNotResolved");
    let message = refs["message"].as_str().unwrap();
    assert!(
        message.starts_with("spec.tools[1]: ToolServer `team/search` does not allow tool `delete_everything`"),
        "{message}"
    );
    assert_eq!(condition(&status, "Accepted")["status"], "True");
}
