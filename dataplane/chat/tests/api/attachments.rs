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
