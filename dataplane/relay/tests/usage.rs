//! Usage in streams: always asked of the upstream, shown to the client only when it asked,
//! synthesized when the upstream stayed silent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Harness, channel, read_sse};
use serde_json::{Value, json};

async fn stream_once(h: &Harness, model: &str, include_usage: bool) -> Vec<Value> {
    let mut body = json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "count me"}]});
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    let response = h.post("/v1/chat/completions", body).await;
    assert_eq!(response.status(), 200);
    let (datas, clean) = read_sse(response).await;
    assert!(clean);
    assert_eq!(datas.last().map(String::as_str), Some("[DONE]"));
    datas[..datas.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect()
}

fn usage_chunks(chunks: &[Value]) -> Vec<&Value> {
    chunks.iter().filter(|c| c["usage"].is_object()).collect()
}

fn models() -> String {
    channel(
        "c",
        "openai",
        0,
        "[{name: reported, upstreamModel: \"u@words=5\"}, {name: silent, upstreamModel: \"u@words=5,no_usage\"}]",
        "",
    )
}

#[tokio::test]
async fn client_asked_and_upstream_reported_gets_the_upstream_usage_once_at_the_end() {
    let h = Harness::start(&models()).await;
    let chunks = stream_once(&h, "reported", true).await;
    let usage = usage_chunks(&chunks);
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0]["choices"], json!([]));
    assert_eq!(usage[0]["usage"]["completion_tokens"], 5);
    assert!(std::ptr::eq(*usage.last().unwrap(), chunks.last().unwrap()), "usage chunk is the last before [DONE]");
    assert!(!h.logs().await[0].usage_estimated);
}

#[tokio::test]
async fn client_not_asking_gets_no_usage_chunk_but_the_log_has_the_reported_usage() {
    let h = Harness::start(&models()).await;
    let chunks = stream_once(&h, "reported", false).await;
    assert!(usage_chunks(&chunks).is_empty());
    let log = &h.logs().await[0];
    assert_eq!((log.output_tokens, log.usage_estimated), (5, false));
    let upstream = h.upstream_chat_requests().await;
    assert_eq!(upstream[0]["body"]["stream_options"]["include_usage"], true, "usage is always asked of the upstream");
}

#[tokio::test]
async fn client_asked_and_upstream_silent_gets_a_synthesized_usage_chunk_marked_estimated() {
    let h = Harness::start(&models()).await;
    let chunks = stream_once(&h, "silent", true).await;
    let usage = usage_chunks(&chunks);
    assert_eq!(usage.len(), 1);
    assert!(usage[0]["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert!(usage[0]["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(h.logs().await[0].usage_estimated);
}

#[tokio::test]
async fn client_not_asking_and_upstream_silent_gets_no_usage_but_the_log_is_estimated() {
    let h = Harness::start(&models()).await;
    let chunks = stream_once(&h, "silent", false).await;
    assert!(usage_chunks(&chunks).is_empty());
    let log = &h.logs().await[0];
    assert!(log.usage_estimated && log.output_tokens > 0);
}

#[tokio::test]
async fn a_channel_flagged_as_rejecting_stream_options_never_gets_them() {
    let yaml = channel(
        "c",
        "openai",
        0,
        "[{name: m, upstreamModel: \"u@reject_stream_options\"}]",
        "  quirks: {rejectsStreamOptions: true}\n",
    );
    let h = Harness::start(&yaml).await;
    let chunks = stream_once(&h, "m", true).await;
    assert_eq!(usage_chunks(&chunks).len(), 1, "usage is still delivered (counted locally)");
    assert!(h.upstream_chat_requests().await[0]["body"].get("stream_options").is_none());
}

#[tokio::test]
async fn cached_tokens_reach_the_log_and_are_priced_at_the_cached_rate() {
    let yaml = channel("c", "openai", 0, "[{name: m, upstreamModel: \"u@cached=8,words=4\"}]", "")
        + "apiVersion: oblivious.dev/v1alpha1\nkind: ModelPricing\nmetadata: {name: p}\nspec:\n  currency: USD\n  \
           models: [{name: m, input: \"1000\", output: \"1000\", cachedInput: \"0\"}]\n";
    let h = Harness::start(&yaml).await;
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "a prompt long enough to have more than eight tokens in it, surely"}]});
    let answer: Value = h.post("/v1/chat/completions", body).await.json().await.unwrap();
    assert_eq!(answer["usage"]["prompt_tokens_details"]["cached_tokens"], 8);
    let log = &h.logs().await[0];
    assert_eq!(log.cached_input_tokens, 8);
    // "1000" per 1M tokens is 1000 micro-units per token; cached tokens are free here.
    let expected = (log.input_tokens - 8) * 1000 + log.output_tokens * 1000;
    assert_eq!(log.cost_micros, expected);
    assert_eq!(log.currency.as_deref(), Some("USD"));
}
