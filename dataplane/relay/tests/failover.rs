//! Failover before the first byte, and the cases that must not fail over.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Harness, channel, read_sse};
use serde_json::{Value, json};

fn two_tier(primary_model: &str, primary_extra: &str) -> String {
    channel("primary", "openai", 10, &format!("[{{name: m, upstreamModel: \"{primary_model}\"}}]"), primary_extra)
        + &channel("backup", "openai", 0, "[{name: m, upstreamModel: backup-model}]", "")
}

#[tokio::test]
async fn a_5xx_from_the_preferred_channel_fails_over_to_the_next_tier() {
    let h = Harness::start(&two_tier("m@status=503", "")).await;
    let response = h.chat("m").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["choices"][0]["message"]["content"].as_str().unwrap().starts_with("Mock"));
    assert_eq!(body["model"], "m", "the client sees the public model name");
    let log = &h.logs().await[0];
    assert_eq!((log.attempts, log.channel.as_deref(), log.status), (2, Some("default/backup"), 200));
    let upstream: Vec<String> =
        h.upstream_chat_requests().await.iter().map(|r| r["body"]["model"].as_str().unwrap().to_string()).collect();
    assert_eq!(upstream, ["m@status=503", "backup-model"], "each channel tried once, with its upstream model");
}

#[tokio::test]
async fn a_refused_connection_fails_over() {
    let yaml = two_tier("m", "").replacen("builtin://mock-upstream/v1", "http://127.0.0.1:1/v1", 1);
    let h = Harness::start(&yaml).await;
    assert_eq!(h.chat("m").await.status(), 200);
    let log = &h.logs().await[0];
    assert_eq!((log.attempts, log.channel.as_deref()), (2, Some("default/backup")));
}

#[tokio::test]
async fn insufficient_quota_is_not_retried_and_the_channel_is_skipped_afterwards() {
    let h = Harness::start(&two_tier("m@error=insufficient_quota", "")).await;
    let first = h.chat("m").await;
    assert!(first.status().is_server_error(), "got {}", first.status());
    let error: Value = first.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(!message.contains("127.0.0.1") && !message.contains("sk-upstream"), "{message}");
    let logs = h.logs().await;
    assert_eq!((logs[0].attempts, logs[0].error_class.as_deref()), (1, Some("insufficient_quota")));
    let health = h.relay.runtime.health.view("default/primary", std::time::Instant::now());
    assert_eq!((health.disabled_keys, health.last_disable_reason), (1, Some("insufficient_quota")));

    assert_eq!(h.chat("m").await.status(), 200);
    let log = &h.logs().await[0];
    assert_eq!((log.attempts, log.channel.as_deref()), (1, Some("default/backup")));
}

#[tokio::test]
async fn a_first_byte_timeout_fails_over() {
    let h = Harness::start(&two_tier("m@ttfb=3000", "  timeouts: {firstByte: 200ms}\n")).await;
    let started = std::time::Instant::now();
    assert_eq!(h.chat("m").await.status(), 200);
    assert!(started.elapsed() < std::time::Duration::from_millis(2500), "did not wait for the slow upstream");
    assert_eq!(h.logs().await[0].attempts, 2);
}

#[tokio::test]
async fn a_stream_whose_first_event_is_an_error_fails_over() {
    let yaml =
        channel("primary", "anthropic", 10, "[{name: m, upstreamModel: \"claude@error_in_stream=overloaded\"}]", "")
            + &channel("backup", "openai", 0, "[{name: m}]", "");
    let h = Harness::start(&yaml).await;
    let response = h
        .post(
            "/v1/chat/completions",
            json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let (datas, clean) = read_sse(response).await;
    assert!(clean);
    assert_eq!(datas.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(h.logs().await[0].attempts, 2);
}

#[tokio::test]
async fn a_stream_broken_after_some_chunks_is_not_retried_and_its_usage_is_estimated() {
    let h = Harness::start(&two_tier("m@break_after=3,words=20", "")).await;
    let body = json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let response = h.post("/v1/chat/completions", body).await;
    assert_eq!(response.status(), 200);
    let (datas, _) = read_sse(response).await;
    assert_ne!(datas.last().map(String::as_str), Some("[DONE]"), "a broken stream must not look complete");
    let last: Value = serde_json::from_str(datas.last().unwrap()).unwrap();
    assert!(last.get("error").is_some(), "the client is told the stream failed: {last}");
    let text: String = datas
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert!(text.starts_with("Mock"), "the chunks before the break were delivered: {text:?}");

    let log = &h.logs().await[0];
    assert_eq!(log.attempts, 1, "no retry after the first byte");
    assert!(log.usage_estimated);
    assert!(log.output_tokens > 0 && log.input_tokens > 0, "{log:?}");
    assert_eq!(log.error_class.as_deref(), Some("stream_broken"));
    assert_eq!(h.upstream_chat_requests().await.len(), 1);
}

#[tokio::test]
async fn repeated_transient_failures_eject_a_channel_until_its_cooldown_ends() {
    let h = Harness::start(&two_tier("m@status=500", "")).await;
    for _ in 0..3 {
        assert_eq!(h.chat("m").await.status(), 200);
    }
    assert!(h.relay.runtime.health.view("default/primary", std::time::Instant::now()).ejected);
    assert_eq!(h.chat("m").await.status(), 200);
    let log = &h.logs().await[0];
    assert_eq!(log.attempts, 1, "the ejected channel is skipped");
}

#[tokio::test]
async fn when_every_channel_is_rate_limited_the_client_gets_a_429() {
    let yaml = channel("a", "openai", 0, "[{name: m, upstreamModel: \"m@error=rate_limit\"}]", "")
        + &channel("b", "anthropic", 0, "[{name: m, upstreamModel: \"m@error=rate_limit\"}]", "");
    let h = Harness::start(&yaml).await;
    let response = h.chat("m").await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(h.logs().await[0].attempts, 2);
}

#[tokio::test]
async fn a_context_length_error_is_returned_to_the_client_not_retried() {
    let h = Harness::start(&two_tier("m@error=context_length", "")).await;
    let response = h.chat("m").await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "context_length_exceeded");
    assert_eq!(h.logs().await[0].attempts, 1);
}
