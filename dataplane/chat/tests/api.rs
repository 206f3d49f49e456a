//! The chat API over real HTTP on SQLite and PostgreSQL, with the relay (billing on) and the
//! mock upstream behind it: streaming, resuming from an event id, several readers, stop, jobs
//! that outlive their reader, branches, pagination, quota, agents, export, and authorization
//! between users.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

/// Two pods sharing Redis (the production bus).
#[path = "api/pods.rs"]
mod pods;

/// What a published agent's fields do to its replies.
#[path = "api/agent_fields.rs"]
mod agent_fields;
/// Files attached to messages.
#[path = "api/attachments.rs"]
mod attachments;
/// Sessions answering from knowledge bases, with sources.
#[path = "api/knowledge.rs"]
mod knowledge;
/// Replies that call MCP tools.
#[path = "api/tools.rs"]
mod tools;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Api, Reader};

oblivious_store::both_backends!(
    start = Api::start;
    a_sent_message_streams_its_reply_which_is_stored_with_usage_and_cost,
    a_reader_resumes_after_a_given_event_id_and_two_readers_see_the_same_stream,
    stop_ends_the_reply_as_stopped_keeping_what_was_generated,
    the_reply_is_finished_and_stored_when_its_reader_goes_away,
    regenerate_and_edit_make_siblings_and_activate_switches_the_branch,
    pages_walk_the_branch_backwards_with_has_more,
    an_empty_balance_is_refused_with_402_and_writes_nothing,
    a_failing_upstream_ends_the_reply_with_an_error_event_and_status,
    nothing_of_one_user_is_reachable_by_another,
    every_route_refuses_a_caller_without_credentials_before_reading_its_input,
    agents_from_the_catalog_are_read_only_and_seed_sessions,
    an_agents_fallback_model_answers_when_its_model_fails_and_its_parameters_apply,
    a_blank_chat_takes_its_first_topics_generated_title_once_and_never_a_typed_one,
    a_finished_reply_is_queued_for_webhooks_with_its_ids_and_never_its_text,
    an_agents_tool_runs_over_stdio_and_the_model_answers_from_its_result,
    a_slow_or_failing_tool_is_an_error_the_model_is_told_and_the_reply_goes_on,
    tools_of_a_server_closed_to_the_users_group_or_unreachable_are_not_offered,
    a_tool_that_needs_approval_waits_for_the_user_and_runs_only_if_approved,
    a_user_adds_an_mcp_server_turns_it_on_for_a_session_and_its_tools_answer,
    a_model_that_keeps_calling_tools_must_answer_after_the_last_allowed_round,
    models_follow_the_users_group_and_unknown_models_are_refused,
    blank_chats_start_with_the_users_default_else_the_groups_else_the_cheapest,
    a_topic_exports_as_markdown_and_json_and_gets_a_generated_title,
    search_finds_the_callers_messages_with_a_snippet,
    bad_input_is_refused_naming_the_field,
    the_lane_a_send_is_dyed_with_travels_with_its_reply_and_a_users_own_lane_header_does_not,
);

use agent_fields::{
    a_blank_chat_takes_its_first_topics_generated_title_once_and_never_a_typed_one,
    a_finished_reply_is_queued_for_webhooks_with_its_ids_and_never_its_text,
    an_agents_fallback_model_answers_when_its_model_fails_and_its_parameters_apply,
};
use attachments::{
    a_long_document_is_cut_until_its_topic_indexes_it_then_searched,
    attached_images_and_documents_reach_the_model_and_stay_on_the_message, only_the_callers_own_files_can_be_attached,
};
use knowledge::{
    a_session_links_only_its_owners_knowledge_bases, a_session_with_a_knowledge_base_answers_with_numbered_sources,
    agents_bring_their_knowledge_bases_to_their_sessions,
};
use tools::{
    a_model_that_keeps_calling_tools_must_answer_after_the_last_allowed_round,
    a_slow_or_failing_tool_is_an_error_the_model_is_told_and_the_reply_goes_on,
    a_tool_that_needs_approval_waits_for_the_user_and_runs_only_if_approved,
    a_user_adds_an_mcp_server_turns_it_on_for_a_session_and_its_tools_answer,
    an_agents_tool_runs_over_stdio_and_the_model_answers_from_its_result,
    tools_of_a_server_closed_to_the_users_group_or_unreachable_are_not_offered,
};

oblivious_store::both_backends!(
    start = Api::start;
    a_session_with_a_knowledge_base_answers_with_numbered_sources,
    a_session_links_only_its_owners_knowledge_bases,
    agents_bring_their_knowledge_bases_to_their_sessions,
    a_long_document_is_cut_until_its_topic_indexes_it_then_searched,
    attached_images_and_documents_reach_the_model_and_stay_on_the_message,
    only_the_callers_own_files_can_be_attached,
);

async fn a_sent_message_streams_its_reply_which_is_stored_with_usage_and_cost(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let session = api.session(&user, json!({"model": "fast"})).await;
    let sent = api.send(&user, &session, json!({"content": "Hello there"})).await;
    assert_eq!(sent["user_message"]["content"], "Hello there");
    assert_eq!(sent["assistant_message"]["status"], "streaming");
    assert_eq!(sent["stream_id"], sent["assistant_message"]["id"]);
    assert_eq!(sent["topic"]["title"], "Hello there", "a new topic is named after its first question");

    let events = api.read_stream(&user, sent["stream_id"].as_str().unwrap(), None).await;
    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>(), "ids count from 1 without gaps");
    let text: String = events.iter().filter(|e| e.event == "text").map(|e| e.data["delta"].as_str().unwrap()).collect();
    assert_eq!(text.split_whitespace().count(), 5, "the mock's five words: {text}");
    let usage = events.iter().find(|e| e.event == "usage").unwrap();
    assert_eq!(usage.data["usage"]["output_tokens"], 5);
    let done = events.last().unwrap();
    assert_eq!(done.event, "done");
    assert_eq!(done.data["message"]["status"], "complete");
    assert_eq!(done.data["message"]["content"], text);

    // Price of `fast`: input 1, output 2 per 1M tokens (EUR): cost = (in * 1 + 5 * 2) / 1M, rounded up.
    let input = usage.data["usage"]["input_tokens"].as_i64().unwrap();
    let expected_micros = input + 10;
    let (_, page) = api.get(&user, &format!("/api/v1/chat/sessions/{session}/messages")).await;
    let reply = &page["messages"][1];
    assert_eq!(reply["status"], "complete");
    assert_eq!(reply["content"], text);
    assert_eq!(reply["cost"], oblivious_runtime::money::format_micros(expected_micros));
    assert_eq!(reply["currency"], "EUR");
    assert_eq!(page["messages"][0]["content"], "Hello there");

    // The relay billed the reply to the user under the reply's id, for exactly what it shows.
    let charge = api.wait_for_charge(&user, sent["stream_id"].as_str().unwrap()).await;
    assert_eq!(charge, -expected_micros, "the ledger charged exactly what the reply shows");
}

async fn a_reader_resumes_after_a_given_event_id_and_two_readers_see_the_same_stream(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let session = api.session(&user, json!({"model": "slow"})).await;
    let sent = api.send(&user, &session, json!({"content": "Tell me a story"})).await;
    let stream = sent["stream_id"].as_str().unwrap().to_string();

    let mut first = api.open_stream(&user, &stream, None).await;
    let early: Vec<_> = first.take(3).await;
    assert_eq!(early.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2, 3]);
    drop(first);

    let resumed = api.read_stream(&user, &stream, Some(3)).await;
    assert_eq!(resumed[0].id, 4, "resumes right after the last event seen");
    let whole = api.read_stream(&user, &stream, None).await;
    assert_eq!(whole.len(), 3 + resumed.len(), "a second reader from the start sees every event");
    assert_eq!(&whole[3..], &resumed[..]);
    let text: String =
        whole.iter().filter(|e| e.event == "text").map(|e| e.data["delta"].as_str().unwrap().to_string()).collect();
    assert_eq!(whole.last().unwrap().data["message"]["content"], text);
}

async fn stop_ends_the_reply_as_stopped_keeping_what_was_generated(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let session = api.session(&user, json!({"model": "slow"})).await;
    let sent = api.send(&user, &session, json!({"content": "Go on"})).await;
    let stream = sent["stream_id"].as_str().unwrap().to_string();
    let mut reader = api.open_stream(&user, &stream, None).await;
    let seen = reader.take(2).await;
    let (status, _) = api.post(&user, &format!("/api/v1/chat/streams/{stream}/stop"), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let rest = reader.rest().await;
    let done = rest.last().unwrap();
    assert_eq!(done.event, "done");
    assert_eq!(done.data["message"]["status"], "stopped");
    let text: String = seen
        .iter()
        .chain(&rest)
        .filter(|e| e.event == "text")
        .map(|e| e.data["delta"].as_str().unwrap().to_string())
        .collect();
    let stored = done.data["message"]["content"].as_str().unwrap();
    assert_eq!(stored, text, "what was streamed is what is kept");
    assert!(stored.split_whitespace().count() < 40, "stopped before the end: {stored}");
    let (status, _) = api.post(&user, &format!("/api/v1/chat/streams/{stream}/stop"), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "stopping a finished reply is a no-op");
}

async fn the_reply_is_finished_and_stored_when_its_reader_goes_away(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let session = api.session(&user, json!({"model": "slow"})).await;
    let sent = api.send(&user, &session, json!({"content": "Long answer please"})).await;
    let stream = sent["stream_id"].as_str().unwrap().to_string();
    let mut reader = api.open_stream(&user, &stream, None).await;
    reader.take(1).await;
    drop(reader);
    let reply = api.wait_for_reply(&user, &session, &stream).await;
    assert_eq!(reply["status"], "complete");
    assert_eq!(reply["content"].as_str().unwrap().split_whitespace().count(), 40, "the whole answer");
    // A reader arriving after the end replays the stored reply.
    let replay = api.read_stream(&user, &stream, None).await;
    assert_eq!(replay.last().unwrap().event, "done");
    let text: String =
        replay.iter().filter(|e| e.event == "text").map(|e| e.data["delta"].as_str().unwrap().to_string()).collect();
    assert_eq!(text, reply["content"].as_str().unwrap());
}

async fn regenerate_and_edit_make_siblings_and_activate_switches_the_branch(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let session = api.session(&user, json!({"model": "fast"})).await;
    let first = api.exchange(&user, &session, json!({"content": "one"})).await;
    let topic = first["topic"]["id"].as_str().unwrap().to_string();
    let second = api.exchange(&user, &session, json!({"content": "two", "topic_id": topic})).await;
    let reply = second["assistant_message"]["id"].as_str().unwrap().to_string();

    let (status, again) = api.post(&user, &format!("/api/v1/chat/messages/{reply}/regenerate"), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert!(again["user_message"].is_null());
    assert_eq!(again["assistant_message"]["siblings"]["count"], 2);
    assert_eq!(again["assistant_message"]["siblings"]["index"], 1);
    api.read_stream(&user, again["stream_id"].as_str().unwrap(), None).await;

    let question = second["user_message"]["id"].as_str().unwrap();
    let (status, edited) =
        api.put(&user, &format!("/api/v1/chat/messages/{question}"), json!({"content": "two, edited"})).await;
    assert_eq!(status, StatusCode::CREATED, "{edited}");
    assert_eq!(edited["user_message"]["siblings"]["count"], 2);
    api.read_stream(&user, edited["stream_id"].as_str().unwrap(), None).await;

    let branch = api.branch(&user, &session, &topic).await;
    assert_eq!(branch, ["one", "Mock", "two, edited", "Mock"], "the edited branch is active");

    let (status, _) = api.post(&user, &format!("/api/v1/chat/messages/{question}/activate"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, page) = api.get(&user, &format!("/api/v1/chat/sessions/{session}/messages?topic_id={topic}")).await;
    let last = &page["messages"][3];
    assert_eq!(last["id"], again["assistant_message"]["id"], "the newest reply under the original question");
    assert_eq!(page["messages"][2]["content"], "two");

    let (status, _) = api.delete(&user, &format!("/api/v1/chat/messages/{question}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let branch = api.branch(&user, &session, &topic).await;
    assert_eq!(branch, ["one", "Mock", "two, edited", "Mock"], "the remaining branch becomes active");
}

async fn pages_walk_the_branch_backwards_with_has_more(api: Api) {
    let user = api.user_with_balance("alice", "50").await;
    let session = api.session(&user, json!({"model": "fast"})).await;
    let first = api.exchange(&user, &session, json!({"content": "q0"})).await;
    let topic = first["topic"]["id"].as_str().unwrap().to_string();
    for i in 1..30 {
        api.exchange(&user, &session, json!({"content": format!("q{i}"), "topic_id": topic})).await;
    }
    let path = format!("/api/v1/chat/sessions/{session}/messages?topic_id={topic}&limit=25");
    let (_, newest) = api.get(&user, &path).await;
    assert_eq!(newest["has_more"], true);
    let messages = newest["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 25);
    assert_eq!(messages[24]["role"], "assistant");
    assert_eq!(messages[23]["content"], "q29");
    let oldest_id = messages[0]["id"].as_str().unwrap();
    let (_, older) = api.get(&user, &format!("{path}&before={oldest_id}")).await;
    assert_eq!(older["messages"].as_array().unwrap().len(), 25);
    let (_, oldest) = api.get(&user, &format!("{path}&before={}", older["messages"][0]["id"].as_str().unwrap())).await;
    assert_eq!(oldest["has_more"], false);
    assert_eq!(oldest["messages"].as_array().unwrap().len(), 10);
    assert_eq!(oldest["messages"][0]["content"], "q0");
}

async fn an_empty_balance_is_refused_with_402_and_writes_nothing(api: Api) {
    let user = api.user_with_balance("alice", "0").await;
    let session = api.session(&user, json!({"model": "fast"})).await;
    let (status, body) =
        api.post(&user, &format!("/api/v1/chat/sessions/{session}/messages"), json!({"content": "hi"})).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["error"]["code"], "insufficient_quota");
    let (_, topics) = api.get(&user, &format!("/api/v1/chat/sessions/{session}/topics")).await;
    assert_eq!(topics["topics"], json!([]), "no topic was created");
    let (_, page) = api.get(&user, &format!("/api/v1/chat/sessions/{session}/messages")).await;
    assert_eq!(page["messages"], json!([]));
    // An unpriced model stays usable with no balance.
    let free = api.session(&user, json!({"model": "free"})).await;
    let reply = api.exchange(&user, &free, json!({"content": "hi"})).await;
    assert_eq!(reply["assistant_message"]["status"], "streaming");
}

async fn a_failing_upstream_ends_the_reply_with_an_error_event_and_status(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let session = api.session(&user, json!({"model": "broken"})).await;
    let sent = api.send(&user, &session, json!({"content": "hi"})).await;
    let events = api.read_stream(&user, sent["stream_id"].as_str().unwrap(), None).await;
    let last = events.last().unwrap();
    assert_eq!(last.event, "error", "{events:?}");
    assert_eq!(last.data["message_record"]["status"], "error");
    assert!(!last.data["message"].as_str().unwrap().contains("mock-upstream"), "no upstream address leaks");
    let reply = api.wait_for_reply(&user, &session, sent["stream_id"].as_str().unwrap()).await;
    assert_eq!(reply["status"], "error");
    assert!(reply["error"]["code"].is_string());
}

async fn nothing_of_one_user_is_reachable_by_another(api: Api) {
    let alice = api.user_with_balance("alice", "5").await;
    let bob = api.user_with_balance("bob", "5").await;
    let session = api.session(&alice, json!({"model": "fast"})).await;
    let sent = api.exchange(&alice, &session, json!({"content": "secret"})).await;
    let topic = sent["topic"]["id"].as_str().unwrap();
    let message = sent["user_message"]["id"].as_str().unwrap();
    let reply = sent["assistant_message"]["id"].as_str().unwrap();
    let agent = api.post(&alice, "/api/v1/agents", json!({"name": "Mine"})).await.1["id"].as_str().unwrap().to_string();

    for path in [
        format!("/api/v1/chat/sessions/{session}"),
        format!("/api/v1/chat/sessions/{session}/topics"),
        format!("/api/v1/chat/sessions/{session}/messages"),
        format!("/api/v1/chat/sessions/{session}/messages?topic_id={topic}"),
        format!("/api/v1/chat/topics/{topic}/export"),
        format!("/api/v1/chat/streams/{reply}"),
        format!("/api/v1/agents/{agent}"),
    ] {
        let (status, body) = api.get(&bob, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}: {body}");
    }
    for (path, body) in [
        (format!("/api/v1/chat/sessions/{session}/messages"), json!({"content": "x"})),
        (format!("/api/v1/chat/sessions/{session}/topics"), json!({})),
        (format!("/api/v1/chat/messages/{reply}/regenerate"), json!({})),
        (format!("/api/v1/chat/messages/{message}/activate"), json!({})),
        (format!("/api/v1/chat/streams/{reply}/stop"), json!({})),
    ] {
        let (status, answer) = api.post(&bob, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "POST {path}: {answer}");
    }
    let (status, _) = api.put(&bob, &format!("/api/v1/chat/messages/{message}"), json!({"content": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.patch(&bob, &format!("/api/v1/chat/topics/{topic}"), json!({"title": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for path in [
        format!("/api/v1/chat/messages/{message}"),
        format!("/api/v1/chat/topics/{topic}"),
        format!("/api/v1/chat/sessions/{session}"),
        format!("/api/v1/agents/{agent}"),
    ] {
        let (status, _) = api.delete(&bob, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "DELETE {path}");
    }
    let (_, sessions) = api.get(&bob, "/api/v1/chat/sessions").await;
    assert_eq!(sessions["sessions"], json!([]));
    let (_, found) = api.get(&bob, "/api/v1/chat/search?q=secret").await;
    assert_eq!(found["results"], json!([]));
    // Everything of alice's is intact.
    assert_eq!(api.branch(&alice, &session, topic).await[0], "secret");
    let (status, _) = api.get_anonymous("/api/v1/chat/sessions").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn every_route_refuses_a_caller_without_credentials_before_reading_its_input(api: Api) {
    for doc in oblivious_chat::route_docs() {
        let method = reqwest::Method::from_bytes(doc.method.as_bytes()).unwrap();
        // An id that is not one and a body that is not JSON: the caller is refused first.
        let path = doc.path.replace("{id}", "not-an-id");
        let (status, error) = api.anonymous_raw(method, &path, doc.body.map(|_| "{not json")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{} {}: {error}", doc.method, doc.path);
        assert_eq!(error["error"]["code"], "unauthenticated", "{} {}: {error}", doc.method, doc.path);
    }
}

async fn agents_from_the_catalog_are_read_only_and_seed_sessions(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let (_, catalog) = api.get(&user, "/api/v1/agents?source=catalog").await;
    let agents = catalog["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 1, "only the agent of the user's group: {catalog}");
    let translator = &agents[0];
    assert_eq!((translator["name"].as_str(), translator["source"].as_str()), (Some("Translator"), Some("catalog")));
    let id = translator["id"].as_str().unwrap();
    let (status, _) = api.patch(&user, &format!("/api/v1/agents/{id}"), json!({"name": "Mine now"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api.delete(&user, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, session) = api.post(&user, "/api/v1/chat/sessions", json!({"agent_id": id})).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_eq!(session["title"], "Translator");
    assert_eq!(session["system_prompt"], "You translate into French.");
    assert_eq!(session["opening_message"], "Bonjour !");
    assert_eq!(session["model"], "fast");
    assert_eq!(session["temperature"], 0.3);
    let recorded = api.exchange(&user, session["id"].as_str().unwrap(), json!({"content": "hello"})).await;
    assert_eq!(recorded["assistant_message"]["model"], "fast");
    let upstream = api.upstream_requests().await;
    let chat_request = upstream.iter().find(|r| r["body"]["messages"][1]["content"] == "hello").unwrap();
    assert_eq!(chat_request["body"]["messages"][0], json!({"role": "system", "content": "You translate into French."}));
    assert_eq!(chat_request["body"]["temperature"], 0.3);

    let (status, own) = api
        .post(
            &user,
            "/api/v1/agents",
            json!({"name": "Poet", "system_prompt": "Rhyme.", "temperature": 1.2, "tags": ["fun"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{own}");
    let own_id = own["id"].as_str().unwrap();
    let (status, changed) = api.patch(&user, &format!("/api/v1/agents/{own_id}"), json!({"temperature": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((changed["name"].as_str(), changed["temperature"].clone()), (Some("Poet"), Value::Null));
    let (_, all) = api.get(&user, "/api/v1/agents").await;
    assert_eq!(all["agents"].as_array().unwrap().len(), 2);
}

async fn models_follow_the_users_group_and_unknown_models_are_refused(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let (_, models) = api.get(&user, "/api/v1/models").await;
    let ids: Vec<&str> = models["models"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"fast") && !ids.contains(&"vip"), "{ids:?}");
    assert!(!ids.iter().any(|m| m.contains("embedding")), "no embedding models");
    let fast = models["models"].as_array().unwrap().iter().find(|m| m["id"] == "fast").unwrap();
    assert_eq!(fast["price"], json!({"input": "1.00", "output": "2.00", "currency": "EUR"}));
    let (status, body) = api.post(&user, "/api/v1/chat/sessions", json!({"model": "vip"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("model"));
    let (_, blank) = api.post(&user, "/api/v1/chat/sessions", json!({})).await;
    assert_eq!(blank["model"], "free", "a blank chat gets the cheapest model the user may use, not the first by name");
    let session = api.session(&user, json!({"model": "fast"})).await;
    let (status, body) = api
        .post(&user, &format!("/api/v1/chat/sessions/{session}/messages"), json!({"content": "x", "model": "nope"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "model_not_found");

    api.set_group(&user, "vip").await;
    let (_, models) = api.get(&user, "/api/v1/models").await;
    assert!(models["models"].as_array().unwrap().iter().any(|m| m["id"] == "vip"));
}

async fn blank_chats_start_with_the_users_default_else_the_groups_else_the_cheapest(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let (_, prefs) = api.get(&user, "/api/v1/chat/preferences").await;
    assert_eq!(prefs, json!({"default_model": null, "blank_chat_model": "free"}), "the cheapest first");
    api.configure(
        "apiVersion: oblivious.dev/v1alpha1\nkind: ModelPricing\nmetadata: {name: defaults}\n\
         spec: {currency: EUR, models: [], groupDefaultModels: {default: slow, vip: vip}}",
    );
    let (_, blank) = api.post(&user, "/api/v1/chat/sessions", json!({})).await;
    assert_eq!(blank["model"], "slow", "the group's default from the configuration");
    let (status, body) = api.put(&user, "/api/v1/chat/preferences", json!({"default_model": "vip"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not a model the user may use: {body}");
    let (_, prefs) = api.put(&user, "/api/v1/chat/preferences", json!({"default_model": "fast"})).await;
    assert_eq!(prefs, json!({"default_model": "fast", "blank_chat_model": "fast"}));
    let (_, blank) = api.post(&user, "/api/v1/chat/sessions", json!({})).await;
    assert_eq!(blank["model"], "fast", "the user's own default wins");
    // An agent's model still wins over both.
    let (_, catalog) = api.get(&user, "/api/v1/agents?source=catalog").await;
    let translator = catalog["agents"][0]["id"].clone();
    let (_, from_agent) = api.post(&user, "/api/v1/chat/sessions", json!({"agent_id": translator})).await;
    assert_eq!(from_agent["model"], "fast");
    let (_, prefs) = api.put(&user, "/api/v1/chat/preferences", json!({"default_model": null})).await;
    assert_eq!(prefs["blank_chat_model"], "slow", "cleared: the group's default again");
}

async fn a_topic_exports_as_markdown_and_json_and_gets_a_generated_title(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let session = api.session(&user, json!({"model": "fast"})).await;
    let sent = api.exchange(&user, &session, json!({"content": "What is Rust?"})).await;
    let topic = sent["topic"]["id"].as_str().unwrap().to_string();
    let (status, markdown) = api.get_text(&user, &format!("/api/v1/chat/topics/{topic}/export")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(markdown.contains("## You\n\nWhat is Rust?"), "{markdown}");
    assert!(markdown.contains("## Assistant (fast)\n\nMock"), "{markdown}");
    let (_, exported) = api.get(&user, &format!("/api/v1/chat/topics/{topic}/export?format=json")).await;
    assert_eq!(exported["messages"].as_array().unwrap().len(), 2);
    let (status, _) = api.get(&user, &format!("/api/v1/chat/topics/{topic}/export?format=pdf")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The generated title (from the mock: its words) replaces the provisional one.
    let title = api.wait_for_topic_title(&user, &session, &topic, "What is Rust?").await;
    assert!(title.starts_with("Mock"), "{title}");
    let (status, renamed) = api.patch(&user, &format!("/api/v1/chat/topics/{topic}"), json!({"title": "Mine"})).await;
    assert_eq!((status, renamed["title"].as_str()), (StatusCode::OK, Some("Mine")));
}

async fn search_finds_the_callers_messages_with_a_snippet(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let session = api.session(&user, json!({"model": "fast"})).await;
    api.exchange(&user, &session, json!({"content": "Where do quokkas live?"})).await;
    let (status, found) = api.get(&user, "/api/v1/chat/search?q=QUOKKA").await;
    assert_eq!(status, StatusCode::OK);
    let results = found["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["snippet"], "Where do quokkas live?");
    assert_eq!(results[0]["session_id"].as_str(), Some(session.as_str()));
    let (status, _) = api.get(&user, "/api/v1/chat/search?q=").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn bad_input_is_refused_naming_the_field(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let session = api.session(&user, json!({"model": "fast"})).await;
    let path = format!("/api/v1/chat/sessions/{session}/messages");
    for (body, field) in [
        (json!({"content": ""}), "content"),
        (json!({"content": 5}), "content"),
        (json!({"content": "x", "surprise": 1}), "surprise"),
        (json!({"content": "x", "parent_id": "not-an-id", "topic_id": session}), "parent_id"),
    ] {
        let (status, error) = api.post(&user, &path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert!(error["error"]["message"].as_str().unwrap().contains(field), "{body}: {error}");
    }
    let (status, error) = api.post(&user, "/api/v1/chat/sessions", json!({"temperature": 3})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"]["message"].as_str().unwrap().starts_with("temperature"));
    let (status, _) = api.get(&user, &format!("{path}?limit=1000")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api.get(&user, &format!("{path}?before=zzz")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let sent = api.exchange(&user, &session, json!({"content": "hi"})).await;
    let stream = format!("/api/v1/chat/streams/{}", sent["stream_id"].as_str().unwrap());
    assert_eq!(Reader::open_raw(&api, &user, &stream, Some("x")).await, StatusCode::BAD_REQUEST.as_u16());
}

async fn the_lane_a_send_is_dyed_with_travels_with_its_reply_and_a_users_own_lane_header_does_not(api: Api) {
    let user = api.user_with_balance("alice", "5").await;
    let session = api.session(&user, json!({"model": "fast"})).await;
    let dyed = [("x-canary", "1")];
    let sent = api.send_with_headers(&user, &session, json!({"content": "canary question"}), &dyed).await;
    api.read_stream(&user, sent["stream_id"].as_str().unwrap(), None).await;
    let claimed = [("x-oblivious-lane", "gray"), ("baggage", "lane=gray,tenant=acme")];
    let sent = api.send_with_headers(&user, &session, json!({"content": "sneaky question"}), &claimed).await;
    api.read_stream(&user, sent["stream_id"].as_str().unwrap(), None).await;

    let upstream = api.upstream_requests().await;
    let asked = |question: &str| {
        upstream
            .iter()
            .find(|r| r["body"]["messages"].as_array().unwrap().iter().any(|m| m["content"] == question))
            .unwrap()
    };
    let dyed = asked("canary question");
    assert_eq!(dyed["headers"]["x-oblivious-lane"], "gray");
    // Baggage goes to a provider only from a channel with `propagateTrace` (dataplane/chat/tests/traces.rs).
    assert_eq!(dyed["headers"].get("baggage"), None);
    let claimed = asked("sneaky question");
    assert_eq!(claimed["headers"].get("x-oblivious-lane"), None, "a user may not pick a lane: {claimed}");
    assert_eq!(claimed["headers"].get("baggage"), None);
}
