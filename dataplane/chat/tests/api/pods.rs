//! Two chat pods sharing one database and one Redis (the production bus): a reply generated on
//! one pod is read, resumed and stopped from the other.

use oblivious_chat::bus::StreamBus;
use reqwest::StatusCode;
use serde_json::json;

use super::support::Api;

/// Two deployments on one SQLite store and one Redis prefix, or `None` without Redis.
async fn two_pods() -> Option<(Api, Api, tempfile::TempDir)> {
    let url = oblivious_store::testing::test_redis_url()?;
    let prefix = oblivious_store::testing::unique_redis_prefix();
    let dir = tempfile::tempdir().unwrap();
    let store = oblivious_store::Store::open_sqlite(dir.path()).await.unwrap();
    store.migrate().await.unwrap();
    let a = Api::start_with_bus(store.clone(), StreamBus::redis(&url, &prefix).await.unwrap()).await;
    let b = Api::start_with_bus(store, StreamBus::redis(&url, &prefix).await.unwrap()).await;
    Some((a, b, dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_started_on_one_pod_is_resumed_on_the_other_from_the_last_event_id() {
    let Some((a, b, _dir)) = two_pods().await else { return };
    let on_a = a.user_with_balance("alice", "5").await;
    let on_b = b.log_in("alice").await;
    let session = a.session(&on_a, json!({"model": "slow"})).await;
    let sent = a.send(&on_a, &session, json!({"content": "Tell me everything"})).await;
    let stream = sent["stream_id"].as_str().unwrap();

    let mut reader = a.open_stream(&on_a, stream, None).await;
    let seen = reader.take(4).await;
    drop(reader);
    let rest = b.read_stream(&on_b, stream, Some(seen.last().unwrap().id)).await;
    assert_eq!(rest[0].id, seen.last().unwrap().id + 1, "no event lost or repeated across pods");
    let text: String = seen
        .iter()
        .chain(&rest)
        .filter(|e| e.event == "text")
        .map(|e| e.data["delta"].as_str().unwrap().to_string())
        .collect();
    let done = rest.last().unwrap();
    assert_eq!(done.event, "done");
    assert_eq!(done.data["message"]["content"], text);
    assert_eq!(text.split_whitespace().count(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_sent_to_the_other_pod_stops_the_job_where_it_runs() {
    let Some((a, b, _dir)) = two_pods().await else { return };
    let on_a = a.user_with_balance("alice", "5").await;
    let on_b = b.log_in("alice").await;
    let session = a.session(&on_a, json!({"model": "slow"})).await;
    let sent = a.send(&on_a, &session, json!({"content": "Go"})).await;
    let stream = sent["stream_id"].as_str().unwrap();
    let mut reader = a.open_stream(&on_a, stream, None).await;
    reader.take(2).await;
    let (status, _) = b.post(&on_b, &format!("/api/v1/chat/streams/{stream}/stop"), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let rest = reader.rest().await;
    let done = rest.last().unwrap();
    assert_eq!(done.data["message"]["status"], "stopped", "{done:?}");
    assert!(done.data["message"]["content"].as_str().unwrap().split_whitespace().count() < 40);
}
