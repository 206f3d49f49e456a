//! Two tenants' fleets in `Schema` isolation: one PostgreSQL, a schema each (the
//! `search_path` the operator gives a Tenant's pods), and here even the same token signing key
//! (the worst case: each Tenant's Secret has its own). Whatever one tenant's user made — a chat,
//! a file, a knowledge base, a key, an agent, a webhook, spend — is read, changed or deleted by
//! the other tenant's user on no route of the OpenAPI document, by id; and one tenant's tokens
//! and keys are strangers to the other.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;

use oblivious_store::Store;
use oblivious_store::testing::TestDatabase;
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{Api, User};

fn in_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}%2Cpublic")
}

async fn tenant(database: &TestDatabase, schema: &str) -> Api {
    let store = Store::connect_postgres(&in_schema(&database.url, schema)).await.unwrap();
    store.migrate().await.unwrap();
    Api::start(store).await
}

/// Ids of one of everything a user can make, by the path segment that names its kind.
struct Made {
    ids: HashMap<&'static str, String>,
    api_key: String,
}

async fn one_of_everything(api: &Api, user: &User) -> Made {
    let mut ids = HashMap::new();
    let session = api.session(user, json!({"model": "fast"})).await;
    let sent = api.send(user, &session, json!({"content": "Hello"})).await;
    let stream = sent["stream_id"].as_str().unwrap().to_string();
    api.read_stream(user, &stream, None).await;
    api.wait_for_charge(user, &stream).await;
    ids.insert("topics", sent["topic"]["id"].as_str().unwrap().to_string());
    ids.insert("messages", sent["assistant_message"]["id"].as_str().unwrap().to_string());
    ids.insert("streams", stream);
    ids.insert("sessions", session);
    let file = api.upload(user, "notes.md", b"# Notes\n\nAcme's private notes.\n").await;
    let (status, kb) =
        api.post(user, "/api/v1/knowledge-bases", json!({"name": "Docs", "embedding_model": "embed"})).await;
    assert_eq!(status, StatusCode::CREATED, "{kb}");
    let kb = kb["id"].as_str().unwrap().to_string();
    let (status, _) = api.post(user, &format!("/api/v1/knowledge-bases/{kb}/files"), json!({"file_id": file})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    ids.insert("files", file);
    ids.insert("knowledge-bases", kb);
    let (status, key) = api.post(user, "/api/v1/keys", json!({"name": "ci"})).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    ids.insert("keys", key["id"].as_str().unwrap().to_string());
    let (status, agent) = api.post(user, "/api/v1/agents", json!({"name": "Mine"})).await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    ids.insert("agents", agent["id"].as_str().unwrap().to_string());
    // Written directly: the API resolves a webhook's host, and this machine has no DNS for it.
    let webhook = oblivious_store::WebhookRecord {
        id: uuid::Uuid::now_v7(),
        user_id: Some(user.id.parse().unwrap()),
        url: "https://hooks.example.com/in".into(),
        secret: "whsec_dGVzdA==".into(),
        event_types: vec!["reply.finished".into()],
        description: String::new(),
        enabled: true,
        created_at: oblivious_store::now_ms(),
        updated_at: oblivious_store::now_ms(),
    };
    api.store.create_webhook(&webhook).await.unwrap();
    ids.insert("webhooks", webhook.id.to_string());
    ids.insert("users", user.id.clone());
    Made { ids, api_key: key["key"].as_str().unwrap().to_string() }
}

/// `path` of the OpenAPI document with each `{param}` given the id of the kind its previous
/// segment names (`/sessions/{id}` a session's), else a fresh one.
fn with_ids(path: &str, ids: &HashMap<&'static str, String>) -> String {
    let mut previous = "";
    let mut out = Vec::new();
    for segment in path.split('/') {
        if segment.starts_with('{') {
            out.push(ids.get(previous).cloned().unwrap_or_else(|| uuid::Uuid::now_v7().to_string()));
        } else {
            out.push(segment.to_string());
        }
        previous = segment;
    }
    out.join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_never_see_each_others_users_keys_chats_files_or_spend() {
    let Some(database) = TestDatabase::create().await.unwrap() else { return };
    let acme = tenant(&database, "tenant_acme").await;
    let globex = tenant(&database, "tenant_globex").await;
    let acme_ann = acme.user_with_balance("ann", "5").await;
    let made = one_of_everything(&acme, &acme_ann).await;
    // The same name is another person at the other tenant.
    let globex_ann = globex.user_with_balance("ann", "5").await;
    assert_ne!(globex_ann.id, acme_ann.id);

    // Acme's session token and API key mean nothing at Globex.
    let (status, _) = globex.get(&acme_ann, "/api/v1/user/profile").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a token of another tenant's user");
    let models = reqwest::Client::new()
        .get(format!("{}/v1/models", globex.base()))
        .bearer_auth(&made.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), StatusCode::UNAUTHORIZED, "a key of another tenant");

    // Every route that takes an id, every method, as Globex's user with Acme's ids: never a success.
    let (status, document) = globex.get_anonymous("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let mut tried = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        if !path.contains('{') {
            continue;
        }
        let concrete = with_ids(path, &made.ids);
        for method in operations.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = [Method::POST, Method::PUT, Method::PATCH].contains(&method).then(|| json!({}));
            let (status, answer) = globex.request(method.clone(), &concrete, &globex_ann, body).await;
            assert!(!status.is_success(), "{method} {concrete} answered {status}: {answer}");
            assert!(status.is_client_error(), "{method} {concrete} answered {status}: {answer}");
            tried += 1;
        }
    }
    assert!(tried >= 30, "only {tried} operations take an id");

    // Acme's ids in Globex's request bodies are refused too, and nothing is made of them.
    let (status, _) = globex
        .post(
            &globex_ann,
            "/api/v1/chat/sessions",
            json!({"model": "fast", "knowledge_base_ids": [made.ids["knowledge-bases"]]}),
        )
        .await;
    assert!(status.is_client_error(), "a session over another tenant's knowledge base: {status}");
    let (status, _) = globex.post(&globex_ann, "/api/v1/chat/sessions", json!({"agent_id": made.ids["agents"]})).await;
    assert!(status.is_client_error(), "a session of another tenant's agent: {status}");
    let (status, kb) =
        globex.post(&globex_ann, "/api/v1/knowledge-bases", json!({"name": "Mine", "embedding_model": "embed"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let own_kb = kb["id"].as_str().unwrap();
    let path = format!("/api/v1/knowledge-bases/{own_kb}/files");
    let (status, _) = globex.post(&globex_ann, &path, json!({"file_id": made.ids["files"]})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's file");
    let own_session = globex.session(&globex_ann, json!({"model": "fast"})).await;
    let path = format!("/api/v1/chat/sessions/{own_session}/messages");
    let body = json!({"content": "Read this", "attachments": [made.ids["files"]]});
    let (status, _) = globex.post(&globex_ann, &path, body).await;
    assert!(status.is_client_error(), "another tenant's file as an attachment: {status}");
    let (_, sessions) = globex.get(&globex_ann, "/api/v1/chat/sessions").await;
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1, "only the session made here: {sessions}");

    // Acme's things are all still there for Acme's user.
    for path in [
        format!("/api/v1/chat/sessions/{}", made.ids["sessions"]),
        format!("/api/v1/files/{}", made.ids["files"]),
        format!("/api/v1/knowledge-bases/{}", made.ids["knowledge-bases"]),
        format!("/api/v1/agents/{}", made.ids["agents"]),
    ] {
        let (status, answer) = acme.get(&acme_ann, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
    }
    let (_, keys) = acme.get(&acme_ann, "/api/v1/keys").await;
    assert_eq!(keys["data"].as_array().unwrap().len(), 1);

    // Spend stays with its tenant: Globex's user has none, and Globex has one user.
    let (_, own_usage) = acme.get(&acme_ann, "/api/v1/user/usage").await;
    assert!(!own_usage["data"].as_array().unwrap().is_empty(), "Acme's user has spent: {own_usage}");
    let (_, other_usage) = globex.get(&globex_ann, "/api/v1/user/usage").await;
    assert_eq!(other_usage["data"], json!([]), "{other_usage}");
    assert_eq!(globex.store.count_users().await.unwrap(), 1, "only Globex's own user");

    database.drop_database().await.unwrap();
}
