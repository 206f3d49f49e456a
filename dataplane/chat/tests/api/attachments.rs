//! Files attached to a message: stored on it as they were, refused unless the caller's own; the
//! model gets images as image parts and documents as their text.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Api, User};

/// A 1×1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\
\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";

const NOTES: &str = "# Trip\n\n## Budget\n\nThe trip budget is 4200 euros.\n";

/// The request the mock got for the reply whose last user message carries `marker`.
async fn reply_request(api: &Api, marker: &str) -> Value {
    let requests = api.upstream_requests().await;
    let text_of = |m: &Value| match &m["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    };
    requests
        .into_iter()
        .find(|r| {
            r["path"] == "/v1/chat/completions"
                && r["body"]["messages"].as_array().and_then(|m| m.last()).is_some_and(|m| text_of(m).contains(marker))
        })
        .expect("the reply's request")
}

pub async fn attached_images_and_documents_reach_the_model_and_stay_on_the_message(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let image = api.upload(&user, "dot.png", PNG).await;
    let notes = api.upload(&user, "trip.md", NOTES.as_bytes()).await;
    let session = api.session(&user, json!({"model": "fast"})).await;
    let body = json!({"content": "What is the budget? (attached)", "attachments": [image, notes, image]});
    let sent = api.send(&user, &session, body).await;
    let attachments = sent["user_message"]["attachments"].as_array().unwrap().clone();
    let kinds: Vec<(&str, &str)> =
        attachments.iter().map(|a| (a["name"].as_str().unwrap(), a["kind"].as_str().unwrap())).collect();
    assert_eq!(kinds, [("dot.png", "image"), ("trip.md", "document")], "in order, repeats once");
    assert_eq!(attachments[0]["media_type"], "image/png");
    api.wait_for_reply(&user, &session, sent["stream_id"].as_str().unwrap()).await;

    let request = reply_request(&api, "(attached)").await;
    let parts = request["body"]["messages"].as_array().unwrap().last().unwrap()["content"].as_array().unwrap().clone();
    let text = parts[0]["text"].as_str().unwrap();
    assert!(text.contains("<file name=\"trip.md\">") && text.contains("4200 euros"), "{text}");
    assert!(text.ends_with("What is the budget? (attached)"), "the question comes after the file: {text}");
    let url = parts[1]["image_url"]["url"].as_str().unwrap();
    assert!(url.starts_with("data:image/png;base64,"), "{url}");

    // On reload, and kept by an edit that does not name files.
    let topic = sent["topic"]["id"].as_str().unwrap();
    let (_, page) = api.get(&user, &format!("/api/v1/chat/sessions/{session}/messages?topic_id={topic}")).await;
    assert_eq!(page["messages"][0]["attachments"], Value::Array(attachments.clone()));
    let edited = sent["user_message"]["id"].as_str().unwrap();
    let (status, edit) =
        api.put(&user, &format!("/api/v1/chat/messages/{edited}"), json!({"content": "And the dates?"})).await;
    assert_eq!(status, StatusCode::CREATED, "{edit}");
    assert_eq!(edit["user_message"]["attachments"], Value::Array(attachments));
    api.wait_for_reply(&user, &session, edit["stream_id"].as_str().unwrap()).await;

    // A picture alone is a question; nothing at all is not.
    let path = format!("/api/v1/chat/sessions/{session}/messages");
    let (status, alone) = api.post(&user, &path, json!({"content": "", "attachments": [image]})).await;
    assert_eq!(status, StatusCode::CREATED, "{alone}");
    assert_eq!(alone["topic"]["title"], "New topic");
    api.wait_for_reply(&user, &session, alone["stream_id"].as_str().unwrap()).await;
    let (status, _) = api.post(&user, &path, json!({"content": " "})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

pub async fn only_the_callers_own_files_can_be_attached(api: Api) {
    let alice = api.user_with_balance("alice", "5").await;
    let bob: User = api.user_with_balance("bob", "5").await;
    let bobs = api.upload(&bob, "trip.md", NOTES.as_bytes()).await;
    let session = api.session(&alice, json!({"model": "fast"})).await;
    let path = format!("/api/v1/chat/sessions/{session}/messages");
    let (status, error) = api.post(&alice, &path, json!({"content": "hi", "attachments": [bobs]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(error["error"]["message"].as_str().unwrap().starts_with("attachments:"), "{error}");
    let eleven: Vec<String> = (0..11).map(|_| bobs.clone()).collect();
    let (status, _) = api.post(&alice, &path, json!({"content": "hi", "attachments": eleven})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Nothing was written: the session has no topic.
    let (_, topics) = api.get(&alice, &format!("/api/v1/chat/sessions/{session}/topics")).await;
    assert_eq!(topics["topics"], json!([]));
}

pub async fn a_long_document_is_cut_until_its_topic_indexes_it_then_searched(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    // About 35,000 characters: the fact sits past the 24,000 given whole.
    let mut long = String::from("# Warehouse manual\n\n");
    for section in 0..100 {
        long.push_str(&format!("## Aisle {section}\n\n"));
        for line in 0..6 {
            long.push_str(&format!("Shelf {line} of aisle {section} holds spare parcels and tape rolls.\n"));
        }
        long.push('\n');
    }
    long.push_str("## Gate\n\nThe gate code of the Lyon warehouse is 4417.\n");
    let manual = api.upload(&user, "manual.md", long.as_bytes()).await;
    let session = api.session(&user, json!({"model": "fast"})).await;
    let sent = api.send(&user, &session, json!({"content": "Read this (first)", "attachments": [manual]})).await;
    api.wait_for_reply(&user, &session, sent["stream_id"].as_str().unwrap()).await;
    let first = reply_request(&api, "Read this (first)").await.to_string();
    assert!(first.contains("is left out") && !first.contains("4417"), "cut before it is indexed: {}", &first[..2000]);

    // The topic's own base indexes it; it is no knowledge base of the user's list.
    let outcome = api.ingestor.run_once(&api.lifecycle).await.unwrap();
    assert!(matches!(outcome, Some(oblivious_rag::Outcome::Indexed { .. })), "{outcome:?}");
    let (_, bases) = api.get(&user, "/api/v1/knowledge-bases").await;
    assert_eq!(bases["data"], json!([]));

    let topic = sent["topic"]["id"].as_str().unwrap();
    let body = json!({"content": "What is the gate code of the Lyon warehouse?", "topic_id": topic});
    let next = api.send(&user, &session, body).await;
    let events = api.read_stream(&user, next["stream_id"].as_str().unwrap(), None).await;
    let sources = events.iter().find(|e| e.event == "sources").expect("the topic's document is searched");
    let hits = sources.data["sources"].as_array().unwrap();
    assert!(hits.iter().any(|s| s["title"] == "manual.md — Warehouse manual > Gate"), "{hits:?}");
    let request = reply_request(&api, "gate code of the Lyon warehouse").await;
    let request = request.to_string();
    assert!(request.contains("4417") && request.contains("indexed for search"), "given as a source, not cut");

    // The base goes with its topic.
    let user_id = user.id.parse().unwrap();
    let topic_id = topic.parse().unwrap();
    assert!(api.store.topic_knowledge_base(user_id, topic_id).await.unwrap().is_some());
    assert_eq!(api.delete(&user, &format!("/api/v1/chat/topics/{topic}")).await.0, StatusCode::NO_CONTENT);
    assert!(api.store.topic_knowledge_base(user_id, topic_id).await.unwrap().is_none());
}
