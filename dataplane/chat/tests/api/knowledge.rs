//! Answers with sources: a session linked to a knowledge base searches it for each question,
//! streams the `sources` event before the first token, gives the model the passages as numbered
//! sources, and stores them on the reply.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Api, User};

const HANDBOOK: &str = "# Handbook\n\n## Refunds\n\nRefunds are paid within fourteen days of the return.\n\n\
## Shipping\n\nParcels ship from the Lyon warehouse every weekday.\n";

/// A knowledge base of the user holding the handbook, indexed; returns its id.
async fn indexed_handbook(api: &Api, user: &User) -> String {
    let file = api.upload(user, "handbook.md", HANDBOOK.as_bytes()).await;
    let body = json!({"name": "Handbook", "embedding_model": "embed", "chunk_tokens": 64, "chunk_overlap": 0});
    let (status, kb) = api.post(user, "/api/v1/knowledge-bases", body).await;
    assert_eq!(status, StatusCode::CREATED, "{kb}");
    let kb = kb["id"].as_str().unwrap().to_string();
    let (status, _) = api.post(user, &format!("/api/v1/knowledge-bases/{kb}/files"), json!({"file_id": file})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let outcome = api.ingestor.run_once(&api.lifecycle).await.unwrap();
    assert!(matches!(outcome, Some(oblivious_rag::Outcome::Indexed { .. })), "{outcome:?}");
    kb
}

pub async fn a_session_with_a_knowledge_base_answers_with_numbered_sources(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let kb = indexed_handbook(&api, &user).await;
    let session = api.session(&user, json!({"model": "fast", "knowledge_base_ids": [kb]})).await;
    let (_, shown) = api.get(&user, &format!("/api/v1/chat/sessions/{session}")).await;
    assert_eq!(shown["knowledge_base_ids"], json!([kb]));

    let sent = api.send(&user, &session, json!({"content": "When are refunds paid?"})).await;
    let events = api.read_stream(&user, sent["stream_id"].as_str().unwrap(), None).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    let sources_at = kinds.iter().position(|k| *k == "sources").expect("a sources event");
    let first_text = kinds.iter().position(|k| *k == "text").unwrap();
    assert!(sources_at < first_text, "sources come before the first token: {kinds:?}");
    let sources = events[sources_at].data["sources"].as_array().unwrap().clone();
    assert_eq!(sources[0]["index"], 1);
    assert_eq!(sources[0]["title"], "handbook.md — Handbook > Refunds");
    assert!(sources[0]["snippet"].as_str().unwrap().contains("fourteen days"));

    // The model got the passages as numbered sources, after the session's instructions.
    // (The reply's request, not the topic title's, which may follow it.)
    let is_reply = |r: &Value| {
        r["path"] == "/v1/chat/completions"
            && r["body"]["messages"]
                .as_array()
                .and_then(|m| m.last())
                .is_some_and(|m| m["content"] == "When are refunds paid?")
    };
    let request = api.upstream_requests().await.into_iter().find(is_reply).expect("the reply's request");
    let messages = request["body"]["messages"].as_array().unwrap();
    let block = messages.iter().find(|m| m["role"] == "system").unwrap()["content"].as_str().unwrap();
    assert!(block.contains("[1] handbook.md — Handbook > Refunds") && block.contains("fourteen days"), "{block}");
    assert_eq!(messages.last().unwrap()["content"], "When are refunds paid?");

    // Stored with the reply: a reload shows them.
    let reply = api.wait_for_reply(&user, &session, sent["stream_id"].as_str().unwrap()).await;
    assert_eq!(reply["sources"], Value::Array(sources));
}

pub async fn a_session_links_only_its_owners_knowledge_bases(api: Api) {
    let alice = api.user_with_balance("alice", "5").await;
    let bob = api.user_with_balance("bob", "5").await;
    let kb = indexed_handbook(&api, &alice).await;
    let (status, error) =
        api.post(&bob, "/api/v1/chat/sessions", json!({"model": "fast", "knowledge_base_ids": [kb]})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    let (_, sessions) = api.get(&bob, "/api/v1/chat/sessions").await;
    assert_eq!(sessions["sessions"], json!([]), "the refused session was not created");

    let session = api.session(&alice, json!({"model": "fast"})).await;
    let path = format!("/api/v1/chat/sessions/{session}");
    let (status, patched) = api.patch(&alice, &path, json!({"knowledge_base_ids": [kb]})).await;
    assert_eq!((status, patched["knowledge_base_ids"].clone()), (StatusCode::OK, json!([kb])));
    // Deleting the knowledge base unlinks it; a send then simply has no sources.
    assert_eq!(api.delete(&alice, &format!("/api/v1/knowledge-bases/{kb}")).await.0, StatusCode::NO_CONTENT);
    let (_, shown) = api.get(&alice, &path).await;
    assert_eq!(shown["knowledge_base_ids"], json!([]));
    let sent = api.send(&alice, &session, json!({"content": "Refunds?"})).await;
    let events = api.read_stream(&alice, sent["stream_id"].as_str().unwrap(), None).await;
    assert!(events.iter().all(|e| e.event != "sources"));
}

pub async fn agents_bring_their_knowledge_bases_to_their_sessions(api: Api) {
    // A published agent names a base an administrator made; every user of the agent gets its
    // passages, without seeing or owning the base.
    let admin = api.user_with_balance("admin", "5").await;
    api.make_admin(&admin).await;
    let handbook = indexed_handbook(&api, &admin).await;
    let carol = api.user_with_balance("carol", "5").await;
    let carols = indexed_handbook(&api, &carol).await;
    api.configure(&format!(
        "apiVersion: oblivious.dev/v1alpha1\nkind: Agent\nmetadata: {{name: support}}\n\
         spec: {{displayName: Support, model: fast, knowledgeBases: [\"{handbook}\"]}}\n---\n\
         apiVersion: oblivious.dev/v1alpha1\nkind: Agent\nmetadata: {{name: leaky}}\n\
         spec: {{displayName: Leaky, model: fast, knowledgeBases: [\"{carols}\"]}}\n"
    ));
    let bob = api.user_with_balance("bob", "5").await;
    let (_, catalog) = api.get(&bob, "/api/v1/agents?source=catalog").await;
    let agent = |name: &str| catalog["agents"].as_array().unwrap().iter().find(|a| a["name"] == name).unwrap().clone();
    assert_eq!(agent("Support")["knowledge_base_ids"], json!([handbook]));

    let session = api.session(&bob, json!({"agent_id": agent("Support")["id"]})).await;
    let sent = api.send(&bob, &session, json!({"content": "When are refunds paid?"})).await;
    let events = api.read_stream(&bob, sent["stream_id"].as_str().unwrap(), None).await;
    let sources = events.iter().find(|e| e.event == "sources").expect("a sources event");
    assert!(sources.data["sources"][0]["snippet"].as_str().unwrap().contains("fourteen days"), "{:?}", sources.data);
    let (status, _) = api.get(&bob, &format!("/api/v1/knowledge-bases/{handbook}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the base stays the administrator's");

    // A base of a user who is no administrator is not published by naming it.
    let session = api.session(&bob, json!({"agent_id": agent("Leaky")["id"]})).await;
    let sent = api.send(&bob, &session, json!({"content": "When are refunds paid?"})).await;
    let events = api.read_stream(&bob, sent["stream_id"].as_str().unwrap(), None).await;
    assert!(events.iter().all(|e| e.event != "sources"), "carol's base was searched");

    // A private agent's bases must be its owner's, and seed each session made from it.
    let (status, refused) =
        api.post(&bob, "/api/v1/agents", json!({"name": "Mine", "knowledge_base_ids": [carols]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let (_, mine) = api.get(&bob, "/api/v1/agents?source=user").await;
    assert_eq!(mine["agents"], json!([]), "the refused agent was not created");
    let bobs = indexed_handbook(&api, &bob).await;
    let (status, created) =
        api.post(&bob, "/api/v1/agents", json!({"name": "Mine", "model": "fast", "knowledge_base_ids": [bobs]})).await;
    assert_eq!((status, created["knowledge_base_ids"].clone()), (StatusCode::CREATED, json!([bobs])));
    let session = api.session(&bob, json!({"agent_id": created["id"]})).await;
    let (_, shown) = api.get(&bob, &format!("/api/v1/chat/sessions/{session}")).await;
    assert_eq!(shown["knowledge_base_ids"], json!([bobs]));
    let path = format!("/api/v1/agents/{}", created["id"].as_str().unwrap());
    let (status, patched) = api.patch(&bob, &path, json!({"knowledge_base_ids": []})).await;
    assert_eq!((status, patched["knowledge_base_ids"].clone()), (StatusCode::OK, json!([])));
}
