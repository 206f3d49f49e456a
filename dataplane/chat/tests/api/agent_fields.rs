//! What a reply carries beyond its text: a published `Agent`'s fields (fallback models take over
//! when the agent's model fails before answering, sampling parameters reach the model, opening
//! questions are offered), the title a blank chat takes from its first topic, and the webhook
//! event a finished reply queues.

use serde_json::{Value, json};

use crate::support::Api;

const STEADY: &str = r#"
apiVersion: oblivious.dev/v1alpha1
kind: Agent
metadata: {name: steady}
spec:
  displayName: Steady
  model: broken
  fallbackModels: [vip, fast]
  parameters: {topP: "0.9", maxTokens: 50}
  openingQuestions: ["What can you do?", "Who made you?"]
"#;

pub async fn an_agents_fallback_model_answers_when_its_model_fails_and_its_parameters_apply(api: Api) {
    api.configure(STEADY);
    let user = api.user_with_balance("alice", "5").await;
    let (_, catalog) = api.get(&user, "/api/v1/agents?source=catalog").await;
    let steady = catalog["agents"].as_array().unwrap().iter().find(|a| a["name"] == "Steady").unwrap().clone();
    assert_eq!(steady["opening_questions"], json!(["What can you do?", "Who made you?"]));
    let (_, session) = api.post(&user, "/api/v1/chat/sessions", json!({"agent_id": steady["id"]})).await;
    assert_eq!(session["opening_questions"], json!(["What can you do?", "Who made you?"]), "{session}");
    let session = session["id"].as_str().unwrap().to_string();

    let sent = api.exchange(&user, &session, json!({"content": "steady on"})).await;
    let reply = api.wait_for_reply(&user, &session, sent["stream_id"].as_str().unwrap()).await;
    // `broken` fails upstream; `vip` is not the user's group's, so `fast` answers.
    assert_eq!(reply["status"], "complete", "{reply}");
    assert_eq!(reply["model"], "fast", "the message records the model that answered");
    assert!(reply["content"].as_str().unwrap().starts_with("Mock answer"), "{reply}");
    // Billed at the price of the model that answered (fast: 1 in, 2 out per 1M tokens).
    let usage = &reply["usage"];
    let expected = usage["input_tokens"].as_i64().unwrap() + 2 * usage["output_tokens"].as_i64().unwrap();
    let shown = oblivious_runtime::money::parse_decimal_micros(reply["cost"].as_str().unwrap()).unwrap();
    assert_eq!(shown, expected, "{reply}");

    let upstream = api.upstream_requests().await;
    let asked: Vec<&str> = upstream
        .iter()
        .filter(|r| r["body"]["messages"].as_array().is_some_and(|m| m.iter().any(|m| m["content"] == "steady on")))
        .map(|r| r["body"]["model"].as_str().unwrap())
        .collect();
    assert!(asked.first().is_some_and(|m| m.contains("status=500")), "the agent's own model first: {asked:?}");
    assert_eq!(asked.last(), Some(&"u@words=5"), "then the fallback the user may use: {asked:?}");
    assert!(!asked.iter().any(|m| m.starts_with("claude")), "never a model outside the user's group: {asked:?}");
    // The reply's request streams; the topic title's does not.
    let answered = upstream.iter().find(|r| r["body"]["model"] == "u@words=5" && r["body"]["stream"] == true).unwrap();
    assert_eq!(answered["body"]["top_p"], 0.9);
    assert_eq!(answered["body"]["max_completion_tokens"], 50, "OpenAI channels get the modern name");
}

/// The session's title as listed.
async fn session_title(api: &Api, user: &crate::support::User, session: &str) -> String {
    let (_, listed) = api.get(user, "/api/v1/chat/sessions").await;
    let found = listed["sessions"].as_array().unwrap().iter().find(|s| s["id"] == session).unwrap().clone();
    found["title"].as_str().unwrap().to_string()
}

pub async fn a_blank_chat_takes_its_first_topics_generated_title_once_and_never_a_typed_one(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let session = api.session(&user, json!({"model": "fast"})).await;
    assert_eq!(session_title(&api, &user, &session).await, "New chat");
    let (_, fresh) = api.get(&user, &format!("/api/v1/chat/sessions/{session}")).await;
    assert_eq!(fresh["title_is_placeholder"], true, "clients may say it in their language");
    let typed = api.session(&user, json!({"model": "fast", "title": "Mine"})).await;

    let first = api.exchange(&user, &session, json!({"content": "What is Rust?"})).await;
    let topic = first["topic"]["id"].as_str().unwrap().to_string();
    let generated = api.wait_for_topic_title(&user, &session, &topic, "What is Rust?").await;
    let named = api
        .wait_until("the session's generated title", || async {
            Some(session_title(&api, &user, &session).await).filter(|t| t != "New chat")
        })
        .await;
    assert_eq!(named, generated, "the chat is named after its first topic");
    let (_, named_view) = api.get(&user, &format!("/api/v1/chat/sessions/{session}")).await;
    assert_eq!(named_view["title_is_placeholder"], false);

    // A second topic does not rename it; a typed title is never replaced.
    let second = api.exchange(&user, &session, json!({"content": "And Go?"})).await;
    let second_topic = second["topic"]["id"].as_str().unwrap().to_string();
    api.wait_for_topic_title(&user, &session, &second_topic, "And Go?").await;
    assert_eq!(session_title(&api, &user, &session).await, generated);
    let typed_reply = api.exchange(&user, &typed, json!({"content": "Hello?"})).await;
    let typed_topic = typed_reply["topic"]["id"].as_str().unwrap().to_string();
    api.wait_for_topic_title(&user, &typed, &typed_topic, "Hello?").await;
    assert_eq!(session_title(&api, &user, &typed).await, "Mine");
    // Renaming makes the title the user's.
    let (_, renamed) =
        api.patch(&user, &format!("/api/v1/chat/sessions/{session}"), json!({"title": "Lang notes"})).await;
    assert_eq!(renamed["title"], "Lang notes");
}

pub async fn a_finished_reply_is_queued_for_webhooks_with_its_ids_and_never_its_text(api: Api) {
    let admin = api.user_with_balance("root", "5").await;
    api.make_admin(&admin).await;
    let hook = json!({"url": "http://127.0.0.1:9/hook", "event_types": ["reply.completed", "reply.failed"]});
    let (status, created) = api.post(&admin, "/api/v1/admin/webhooks", hook).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{created}");
    let deliveries = format!("/api/v1/admin/webhooks/{}/deliveries", created["id"].as_str().unwrap());

    let user = api.user_with_balance("alice", "5").await;
    let session = api.session(&user, json!({"model": "fast"})).await;
    let sent = api.exchange(&user, &session, json!({"content": "secret plans"})).await;
    let failing = api.session(&user, json!({"model": "broken"})).await;
    let failed = api.send(&user, &failing, json!({"content": "will fail"})).await;
    api.read_stream(&user, failed["stream_id"].as_str().unwrap(), None).await;

    let queued = api
        .wait_until("both replies in the outbox", || async {
            let (_, listed) = api.get(&admin, &deliveries).await;
            let all = listed["data"].as_array().or_else(|| listed["deliveries"].as_array())?.clone();
            (all.len() == 2).then_some(all)
        })
        .await;
    let of = |id: &Value| queued.iter().find(|d| d["payload"]["data"]["message_id"] == *id).unwrap().clone();
    let completed = of(&sent["stream_id"]);
    assert_eq!(completed["event_type"], "reply.completed");
    assert_eq!(completed["payload"]["data"]["model"], "fast");
    assert_eq!(completed["payload"]["data"]["session_id"], session.as_str());
    assert!(!completed["payload"].to_string().contains("secret plans"), "no text in events");
    let failed = of(&failed["stream_id"]);
    assert_eq!(failed["event_type"], "reply.failed");
    assert!(failed["payload"]["data"]["error"]["code"].is_string(), "{failed}");
}
