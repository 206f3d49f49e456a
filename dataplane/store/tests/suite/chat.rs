//! Chat storage on both backends: exchanges are all-or-nothing, branches page by keyset, and
//! nothing of one user is reachable by another.

use oblivious_store::chat::{
    AgentFields, ExchangeParent, ExchangeStart, FinalMessage, NewChatSession, NewTurn, SessionUpdate, StartedExchange,
};
use oblivious_store::{Store, StoreError};
use serde_json::json;
use uuid::Uuid;

use super::new_user;

oblivious_store::both_backends!(
    sessions_list_pinned_first_and_belong_to_their_owner,
    an_exchange_writes_the_topic_both_messages_and_the_active_leaf_or_nothing,
    branch_pages_walk_the_active_branch_newest_page_first,
    edits_and_regenerations_are_siblings_and_activation_switches_branches,
    deleting_a_message_takes_its_descendants_and_moves_the_active_branch,
    a_reply_is_finalized_once_and_stale_ones_are_reaped,
    search_finds_only_the_callers_messages,
    topics_page_by_activity_and_keep_user_titles,
    private_agents_belong_to_their_owner,
    seeded_topics_are_linear_branches_the_pager_walks,
);

async fn session_for(store: &Store, user: Uuid) -> Uuid {
    let new = NewChatSession { user_id: user, title: "Chat".into(), model: "m".into(), ..NewChatSession::default() };
    store.create_chat_session(new).await.unwrap().id
}

fn send(user: Uuid, session: Uuid, topic: Option<Uuid>, parent: ExchangeParent, text: &str) -> ExchangeStart {
    ExchangeStart {
        user_id: user,
        session_id: session,
        topic_id: topic,
        new_topic_title: "New topic".into(),
        parent,
        user_turn: Some(NewTurn { content: text.into(), attachments: json!([]) }),
        model: "m".into(),
    }
}

fn done(content: &str) -> FinalMessage {
    FinalMessage { content: content.into(), status: "complete".into(), sources: json!([]), ..FinalMessage::default() }
}

/// Sends `text` on the active branch and completes the reply with `reply`.
async fn turn(store: &Store, user: Uuid, session: Uuid, topic: Option<Uuid>, text: &str) -> StartedExchange {
    let started =
        store.start_chat_exchange(&send(user, session, topic, ExchangeParent::ActiveLeaf, text)).await.unwrap();
    let reply = format!("re: {text}");
    store.finalize_chat_message(started.assistant_message.id, &done(&reply)).await.unwrap().unwrap();
    started
}

/// Waits until the clock has moved past the current millisecond, so the next write is
/// strictly newer than everything before it.
async fn next_millisecond() {
    let start = oblivious_store::now_ms();
    while oblivious_store::now_ms() == start {
        tokio::task::yield_now().await;
    }
}

async fn sessions_list_pinned_first_and_belong_to_their_owner(store: Store) {
    let alice = new_user(&store, "alice", 0).await.id;
    let bob = new_user(&store, "bob", 0).await.id;
    let first = session_for(&store, alice).await;
    let second = session_for(&store, alice).await;
    session_for(&store, bob).await;
    let pin = SessionUpdate { pinned: Some(true), group: Some("Work".into()), ..SessionUpdate::default() };
    let pinned = store.update_chat_session(alice, first, &pin).await.unwrap().unwrap();
    assert!(pinned.pinned);
    assert_eq!(pinned.group, "Work");
    let listed: Vec<Uuid> = store.list_chat_sessions(alice).await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(listed, vec![first, second]);

    let clear = SessionUpdate { temperature_milli: Some(Some(700)), ..SessionUpdate::default() };
    assert_eq!(store.update_chat_session(alice, second, &clear).await.unwrap().unwrap().temperature_milli, Some(700));
    let clear = SessionUpdate { temperature_milli: Some(None), ..SessionUpdate::default() };
    assert_eq!(store.update_chat_session(alice, second, &clear).await.unwrap().unwrap().temperature_milli, None);

    assert!(store.get_chat_session(bob, first).await.unwrap().is_none(), "not bob's");
    assert!(store.update_chat_session(bob, first, &pin).await.unwrap().is_none());
    assert!(!store.delete_chat_session(bob, first).await.unwrap());
    assert!(store.delete_chat_session(alice, first).await.unwrap());
    assert!(store.get_chat_session(alice, first).await.unwrap().is_none());
}

async fn an_exchange_writes_the_topic_both_messages_and_the_active_leaf_or_nothing(store: Store) {
    let alice = new_user(&store, "alice", 0).await.id;
    let bob = new_user(&store, "bob", 0).await.id;
    let session = session_for(&store, alice).await;
    let started =
        store.start_chat_exchange(&send(alice, session, None, ExchangeParent::ActiveLeaf, "hi")).await.unwrap();
    let user_message = started.user_message.clone().unwrap();
    assert_eq!(started.topic.active_leaf_id, Some(started.assistant_message.id));
    assert_eq!(started.topic.title, "New topic");
    assert_eq!(user_message.parent_id, None);
    assert_eq!(started.assistant_message.parent_id, Some(user_message.id));
    assert_eq!(started.assistant_message.status, "streaming");
    let stored = store.get_chat_message(alice, user_message.id).await.unwrap().unwrap();
    assert_eq!(stored, user_message);

    // Someone else's session, a topic of another session, or a parent outside the topic: nothing is written.
    let foreign = store.start_chat_exchange(&send(bob, session, None, ExchangeParent::ActiveLeaf, "x")).await;
    assert!(matches!(foreign, Err(StoreError::NotFound("session"))));
    let other_session = session_for(&store, alice).await;
    let wrong_topic = send(alice, other_session, Some(started.topic.id), ExchangeParent::ActiveLeaf, "x");
    assert!(matches!(store.start_chat_exchange(&wrong_topic).await, Err(StoreError::NotFound("topic"))));
    let stray = send(alice, session, Some(started.topic.id), ExchangeParent::Message(Uuid::now_v7()), "x");
    assert!(matches!(store.start_chat_exchange(&stray).await, Err(StoreError::NotFound("message"))));
    let topics = store.list_chat_topics(alice, session, None, 50).await.unwrap();
    assert_eq!(topics.len(), 1, "no topic was created by the failed exchanges");
    assert!(store.list_chat_topics(alice, other_session, None, 50).await.unwrap().is_empty());
    let page = store.chat_branch_page(alice, started.topic.id, None, 50).await.unwrap().unwrap();
    assert_eq!(page.messages.len(), 2, "no message was written by the failed exchanges");
}

async fn branch_pages_walk_the_active_branch_newest_page_first(store: Store) {
    let alice = new_user(&store, "alice", 0).await.id;
    let bob = new_user(&store, "bob", 0).await.id;
    let session = session_for(&store, alice).await;
    let topic = turn(&store, alice, session, None, "q0").await.topic.id;
    for i in 1..10 {
        turn(&store, alice, session, Some(topic), &format!("q{i}")).await;
    }
    // 20 messages; pages of 8: [12..20), [4..12), [0..4).
    let first = store.chat_branch_page(alice, topic, None, 8).await.unwrap().unwrap();
    let contents = |page: &oblivious_store::chat::BranchPage| {
        page.messages.iter().map(|(m, _)| m.content.clone()).collect::<Vec<_>>()
    };
    assert!(first.has_more);
    assert_eq!(contents(&first), ["q6", "re: q6", "q7", "re: q7", "q8", "re: q8", "q9", "re: q9"]);
    let before = first.messages[0].0.id;
    let second = store.chat_branch_page(alice, topic, Some(before), 8).await.unwrap().unwrap();
    assert!(second.has_more);
    assert_eq!(contents(&second)[0], "q2");
    let third = store.chat_branch_page(alice, topic, Some(second.messages[0].0.id), 8).await.unwrap().unwrap();
    assert!(!third.has_more);
    assert_eq!(contents(&third), ["q0", "re: q0", "q1", "re: q1"]);
    assert!(store.chat_branch_page(bob, topic, None, 8).await.unwrap().is_none(), "not bob's topic");
    assert!(store.chat_branch_page(bob, topic, Some(before), 8).await.unwrap().is_none(), "not even with a cursor");
    let stray = store.chat_branch_page(alice, topic, Some(Uuid::now_v7()), 8).await;
    assert!(matches!(stray, Err(StoreError::NotFound("message"))), "a cursor off the topic is refused");
    let leaf = first.messages[7].0.id;
    assert_eq!(store.chat_branch_to(topic, leaf, 10_000).await.unwrap().len(), 20);
}

async fn edits_and_regenerations_are_siblings_and_activation_switches_branches(store: Store) {
    let alice = new_user(&store, "alice", 0).await.id;
    let session = session_for(&store, alice).await;
    let first = turn(&store, alice, session, None, "first").await;
    let topic = first.topic.id;
    let second = turn(&store, alice, session, Some(topic), "second").await;
    let question = second.user_message.unwrap();

    // Regenerate the second reply: a sibling of it, under the same question.
    let regenerate = ExchangeStart {
        parent: ExchangeParent::Message(question.id),
        user_turn: None,
        ..send(alice, session, Some(topic), ExchangeParent::ActiveLeaf, "")
    };
    let regenerated = store.start_chat_exchange(&regenerate).await.unwrap();
    assert!(regenerated.user_message.is_none());
    store.finalize_chat_message(regenerated.assistant_message.id, &done("again")).await.unwrap();
    let page = store.chat_branch_page(alice, topic, None, 50).await.unwrap().unwrap();
    let (last, siblings) = page.messages.last().unwrap();
    assert_eq!(last.content, "again");
    assert_eq!((siblings.index, siblings.count), (1, 2));
    assert_eq!(siblings.ids, vec![second.assistant_message.id, regenerated.assistant_message.id]);

    // Edit the first question: a new root, and the active branch is the new one.
    let edit = send(alice, session, Some(topic), ExchangeParent::Root, "first, edited");
    let edited = store.start_chat_exchange(&edit).await.unwrap();
    store.finalize_chat_message(edited.assistant_message.id, &done("ok")).await.unwrap();
    let page = store.chat_branch_page(alice, topic, None, 50).await.unwrap().unwrap();
    assert_eq!(page.messages.len(), 2);
    assert_eq!(page.messages[0].0.content, "first, edited");
    assert_eq!((page.messages[0].1.index, page.messages[0].1.count), (1, 2));

    // Back to the original first question: its newest descendants become the branch.
    let topic_after = store.activate_chat_message(alice, first.user_message.unwrap().id).await.unwrap().unwrap();
    assert_eq!(topic_after.active_leaf_id, Some(regenerated.assistant_message.id));
    let page = store.chat_branch_page(alice, topic, None, 50).await.unwrap().unwrap();
    let contents: Vec<_> = page.messages.iter().map(|(m, _)| m.content.as_str()).collect();
    assert_eq!(contents, ["first", "re: first", "second", "again"]);
}

async fn deleting_a_message_takes_its_descendants_and_moves_the_active_branch(store: Store) {
    let alice = new_user(&store, "alice", 0).await.id;
    let bob = new_user(&store, "bob", 0).await.id;
    let session = session_for(&store, alice).await;
    let first = turn(&store, alice, session, None, "one").await;
    let topic = first.topic.id;
    let second = turn(&store, alice, session, Some(topic), "two").await;
    let second_question = second.user_message.unwrap().id;
    assert!(store.delete_chat_message(bob, second_question).await.unwrap().is_none(), "not bob's");

    let after = store.delete_chat_message(alice, second_question).await.unwrap().unwrap();
    assert_eq!(after.active_leaf_id, Some(first.assistant_message.id));
    assert!(store.get_chat_message(alice, second.assistant_message.id).await.unwrap().is_none(), "descendant gone");
    let page = store.chat_branch_page(alice, topic, None, 50).await.unwrap().unwrap();
    assert_eq!(page.messages.len(), 2);

    let after = store.delete_chat_message(alice, first.user_message.unwrap().id).await.unwrap().unwrap();
    assert_eq!(after.active_leaf_id, None);
    assert!(store.chat_branch_page(alice, topic, None, 50).await.unwrap().unwrap().messages.is_empty());
}

async fn a_reply_is_finalized_once_and_stale_ones_are_reaped(store: Store) {
    let alice = new_user(&store, "alice", 0).await.id;
    let session = session_for(&store, alice).await;
    let started =
        store.start_chat_exchange(&send(alice, session, None, ExchangeParent::ActiveLeaf, "hi")).await.unwrap();
    let reply = started.assistant_message.id;
    assert!(store.update_streaming_chat_message(reply, "Hel", "").await.unwrap());
    let last = FinalMessage {
        content: "Hello".into(),
        status: "stopped".into(),
        input_tokens: Some(5),
        output_tokens: Some(2),
        cost_micros: Some(17),
        currency: Some("USD".into()),
        sources: json!([{"index": 1, "title": "doc"}]),
        ..FinalMessage::default()
    };
    let finished = store.finalize_chat_message(reply, &last).await.unwrap().unwrap();
    assert_eq!((finished.status.as_str(), finished.content.as_str()), ("stopped", "Hello"));
    assert_eq!((finished.cost_micros, finished.sources.clone()), (Some(17), json!([{"index": 1, "title": "doc"}])));
    assert!(store.finalize_chat_message(reply, &done("twice")).await.unwrap().is_none(), "finalized once");
    assert!(!store.update_streaming_chat_message(reply, "late", "").await.unwrap(), "no longer streaming");

    let orphan = store.start_chat_exchange(&send(alice, session, None, ExchangeParent::ActiveLeaf, "x")).await.unwrap();
    assert_eq!(store.reap_interrupted_chat_messages(orphan.assistant_message.created_at).await.unwrap(), 0);
    assert_eq!(store.reap_interrupted_chat_messages(oblivious_store::now_ms() + 1).await.unwrap(), 1);
    let reaped = store.get_chat_message(alice, orphan.assistant_message.id).await.unwrap().unwrap();
    assert_eq!((reaped.status.as_str(), reaped.error_code.as_deref()), ("error", Some("interrupted")));
    assert_eq!(store.get_chat_message(alice, reply).await.unwrap().unwrap().status, "stopped", "finished ones stay");
}

async fn search_finds_only_the_callers_messages(store: Store) {
    let alice = new_user(&store, "alice", 0).await.id;
    let bob = new_user(&store, "bob", 0).await.id;
    let alice_session = session_for(&store, alice).await;
    let bob_session = session_for(&store, bob).await;
    turn(&store, alice, alice_session, None, "The Quokka is happy").await;
    turn(&store, bob, bob_session, None, "quokka facts").await;
    turn(&store, alice, alice_session, None, "100% sure_thing").await;
    let hits = store.search_chat_messages(alice, "QUOKKA", 20).await.unwrap();
    assert_eq!(hits.len(), 2, "the question and its reply, not bob's");
    assert!(hits.iter().all(|h| h.session_id == alice_session && h.content.to_lowercase().contains("quokka")));
    assert_eq!(hits[0].session_title, "Chat");
    assert_eq!(store.search_chat_messages(alice, "0% s", 20).await.unwrap().len(), 2);
    assert!(store.search_chat_messages(alice, "%", 20).await.unwrap().len() == 2, "% is literal");
    assert!(store.search_chat_messages(alice, "_", 20).await.unwrap().len() == 2, "_ is literal");
}

async fn topics_page_by_activity_and_keep_user_titles(store: Store) {
    let alice = new_user(&store, "alice", 0).await.id;
    let bob = new_user(&store, "bob", 0).await.id;
    let session = session_for(&store, alice).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let title = format!("t{i}");
        ids.push(store.create_chat_topic(alice, session, Some(&title)).await.unwrap().unwrap().id);
    }
    assert!(store.create_chat_topic(bob, session, None).await.unwrap().is_none(), "not bob's session");
    next_millisecond().await;
    turn(&store, alice, session, Some(ids[1]), "bump").await;
    let first = store.list_chat_topics(alice, session, None, 2).await.unwrap();
    assert_eq!(first.len(), 3, "limit + 1 tells the caller more exist");
    assert_eq!(first[0].id, ids[1], "the most recently active first");
    let rest = store.list_chat_topics(alice, session, Some(first[1].id), 10).await.unwrap();
    assert_eq!(rest.len(), 3);
    assert!(rest.iter().all(|t| t.id != ids[1] && t.id != first[1].id));
    assert_eq!(store.latest_chat_topic(alice, session).await.unwrap().unwrap().id, ids[1]);

    let auto = store.create_chat_topic(alice, session, None).await.unwrap().unwrap();
    assert!(store.set_generated_topic_title(auto.id, "Generated").await.unwrap());
    store.rename_chat_topic(alice, auto.id, "Mine").await.unwrap().unwrap();
    assert!(!store.set_generated_topic_title(auto.id, "Generated again").await.unwrap(), "user titles stay");
    assert_eq!(store.get_chat_topic(alice, auto.id).await.unwrap().unwrap().title, "Mine");
    assert!(!store.delete_chat_topic(bob, auto.id).await.unwrap());
    assert!(store.delete_chat_topic(alice, auto.id).await.unwrap());
}

async fn private_agents_belong_to_their_owner(store: Store) {
    let alice = new_user(&store, "alice", 0).await.id;
    let bob = new_user(&store, "bob", 0).await.id;
    let fields = AgentFields {
        name: "Translator".into(),
        tags: vec!["writing".into()],
        temperature_milli: Some(300),
        ..AgentFields::default()
    };
    let agent = store.create_chat_agent(alice, &fields).await.unwrap();
    assert_eq!(agent.tags, vec!["writing".to_string()]);
    assert_eq!(store.list_chat_agents(alice).await.unwrap().len(), 1);
    assert!(store.list_chat_agents(bob).await.unwrap().is_empty());
    assert!(store.get_chat_agent(bob, agent.id).await.unwrap().is_none());
    let changed = AgentFields { name: "Poet".into(), ..AgentFields::of(&agent) };
    assert!(store.update_chat_agent(bob, agent.id, &changed).await.unwrap().is_none());
    let updated = store.update_chat_agent(alice, agent.id, &changed).await.unwrap().unwrap();
    assert_eq!((updated.name.as_str(), updated.temperature_milli), ("Poet", Some(300)));
    assert!(!store.delete_chat_agent(bob, agent.id).await.unwrap());
    assert!(store.delete_chat_agent(alice, agent.id).await.unwrap());
}

async fn seeded_topics_are_linear_branches_the_pager_walks(store: Store) {
    let seeded = oblivious_store::chat::seed_chat_topics(&store, 3, 7, |_| {}).await.unwrap();
    let user = seeded.user_id;
    for topic in 1..=3 {
        let topic_id = seeded.topic_id(topic);
        let page = store.chat_branch_page(user, topic_id, None, 5).await.unwrap().unwrap();
        assert!(page.has_more);
        let ids: Vec<Uuid> = page.messages.iter().map(|(m, _)| m.id).collect();
        assert_eq!(ids, (3..=7).map(|n| seeded.message_id(topic, n)).collect::<Vec<_>>());
        assert_eq!(
            page.messages[0].0.content,
            format!("Message 3 of topic {topic}: a paragraph of ordinary length to make rows realistic.")
        );
        let rest = store.chat_branch_page(user, topic_id, Some(ids[0]), 5).await.unwrap().unwrap();
        assert_eq!(rest.messages.len(), 2);
        assert_eq!(rest.messages[0].0.parent_id, None);
        assert_eq!(rest.messages[0].0.role, "user");
    }
}
