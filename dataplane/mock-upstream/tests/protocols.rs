//! The mock against plain HTTP clients: each protocol's answers, streams, errors and directives
//! as a real provider would send them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::StreamExt;
use oblivious_core::sse::SseParser;
use oblivious_mock_upstream::{MockConfig, spawn};
use serde_json::{Value, json};

async fn post(url: String, headers: &[(&str, &str)], body: Value) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(url).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn sse(response: reqwest::Response) -> Vec<(Option<String>, String)> {
    let mut parser = SseParser::new();
    let body = response.bytes().await.unwrap();
    parser.push(&body).into_iter().map(|e| (e.event, e.data)).collect()
}

const OPENAI_AUTH: (&str, &str) = ("authorization", "Bearer sk-test");

#[tokio::test]
async fn openai_answers_have_exact_words_and_usage() {
    let mock = spawn(MockConfig::default()).await.unwrap();
    let body = json!({"model": "m@words=5,cached=2", "messages": [{"role": "user", "content": "one two three"}]});
    let answer: Value =
        post(format!("{}/v1/chat/completions", mock.base_url()), &[OPENAI_AUTH], body).await.json().await.unwrap();
    let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(text.split_whitespace().count(), 5);
    assert!(text.starts_with("Mock"));
    assert_eq!(answer["model"], "m@words=5,cached=2");
    assert_eq!(answer["usage"]["completion_tokens"], 5);
    assert_eq!(answer["usage"]["prompt_tokens"], 3 + 3);
    assert_eq!(answer["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
}

#[tokio::test]
async fn openai_streams_send_usage_only_when_asked_and_end_with_done() {
    let mock = spawn(MockConfig::default()).await.unwrap();
    let url = format!("{}/v1/chat/completions", mock.base_url());
    let mut body = json!({"model": "m@words=3", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let plain = sse(post(url.clone(), &[OPENAI_AUTH], body.clone()).await).await;
    assert_eq!(plain.last().unwrap().1, "[DONE]");
    assert!(plain.iter().all(|(_, d)| !d.contains("total_tokens")));
    body["stream_options"] = json!({"include_usage": true});
    let with_usage = sse(post(url.clone(), &[OPENAI_AUTH], body.clone()).await).await;
    let usage: Value = serde_json::from_str(&with_usage[with_usage.len() - 2].1).unwrap();
    assert_eq!((usage["choices"].clone(), usage["usage"]["completion_tokens"].clone()), (json!([]), json!(3)));
    body["model"] = json!("m@words=3,no_usage");
    let silent = sse(post(url, &[OPENAI_AUTH], body).await).await;
    assert!(silent.iter().all(|(_, d)| !d.contains("total_tokens")));
}

#[tokio::test]
async fn a_stream_broken_after_n_chunks_delivers_them_then_fails_the_transport() {
    let mock = spawn(MockConfig::default()).await.unwrap();
    let body =
        json!({"model": "m@words=20,break_after=3", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let response = post(format!("{}/v1/chat/completions", mock.base_url()), &[OPENAI_AUTH], body).await;
    let mut stream = response.bytes_stream();
    let mut parser = SseParser::new();
    let mut datas = Vec::new();
    let mut failed = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => datas.extend(parser.push(&bytes).into_iter().map(|e| e.data)),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the client sees a broken transport");
    let content = datas.iter().filter(|d| d.contains("\"content\":\"") && !d.contains("\"content\":\"\"")).count();
    assert_eq!(content, 3);
    assert!(!datas.iter().any(|d| d == "[DONE]"));
}

#[tokio::test]
async fn errors_have_each_providers_real_shape() {
    let mock = spawn(MockConfig::default()).await.unwrap();
    let base = mock.base_url();
    let quota = post(
        format!("{base}/v1/chat/completions"),
        &[OPENAI_AUTH],
        json!({"model": "m@error=insufficient_quota", "messages": []}),
    )
    .await;
    assert_eq!(quota.status(), 429);
    assert_eq!(quota.json::<Value>().await.unwrap()["error"]["code"], "insufficient_quota");
    let overloaded = post(
        format!("{base}/v1/messages"),
        &[("x-api-key", "k"), ("anthropic-version", "2023-06-01")],
        json!({"model": "c@error=overloaded", "max_tokens": 5, "messages": []}),
    )
    .await;
    assert_eq!(overloaded.status(), 529);
    assert_eq!(overloaded.json::<Value>().await.unwrap()["error"]["type"], "overloaded_error");
    let bad_key = post(
        format!("{base}/v1beta/models/g:generateContent"),
        &[("x-goog-api-key", "bad-key")],
        json!({"contents": []}),
    )
    .await;
    assert_eq!(bad_key.status(), 400, "Gemini's invalid key is a 400");
    assert_eq!(bad_key.json::<Value>().await.unwrap()["error"]["details"][0]["reason"], "API_KEY_INVALID");
    let unknown =
        post(format!("{base}/v1/chat/completions"), &[OPENAI_AUTH], json!({"model": "m@nonsense", "messages": []}))
            .await;
    assert_eq!(unknown.status(), 400);
    assert!(unknown.text().await.unwrap().contains("nonsense"));
}

#[tokio::test]
async fn anthropic_streams_the_full_event_sequence_with_thinking_and_tools() {
    let mock = spawn(MockConfig::default()).await.unwrap();
    let body = json!({
        "model": "c@reasoning=2,tool", "max_tokens": 100, "stream": true,
        "tools": [{"name": "look", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}],
        "messages": [{"role": "user", "content": "find it"}]
    });
    let events = sse(post(
        format!("{}/v1/messages", mock.base_url()),
        &[("x-api-key", "k"), ("anthropic-version", "2023-06-01")],
        body,
    )
    .await)
    .await;
    let names: Vec<String> = events.iter().map(|(e, _)| e.clone().unwrap_or_default()).collect();
    assert_eq!(names.first().map(String::as_str), Some("message_start"));
    assert_eq!(names.last().map(String::as_str), Some("message_stop"));
    let all: String = events.iter().map(|(_, d)| d.as_str()).collect();
    assert!(
        all.contains("signature_delta")
            && all.contains("input_json_delta")
            && all.contains("\"stop_reason\":\"tool_use\"")
    );
}

#[tokio::test]
async fn gemini_streams_as_sse_or_a_json_array_with_cumulative_usage() {
    let mock = spawn(MockConfig::default()).await.unwrap();
    let base = mock.base_url();
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let events = sse(post(
        format!("{base}/v1beta/models/g@words=7:streamGenerateContent?alt=sse"),
        &[("x-goog-api-key", "k")],
        body.clone(),
    )
    .await)
    .await;
    let last: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 7);
    let array: Vec<Value> = post(format!("{base}/v1beta/models/g@words=7:streamGenerateContent?key=k"), &[], body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(array.len(), events.len());
}

#[tokio::test]
async fn requests_are_recorded_only_when_asked() {
    let recording = spawn(MockConfig { record_requests: true }).await.unwrap();
    post(
        format!("{}/v1/chat/completions", recording.base_url()),
        &[OPENAI_AUTH],
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    let seen: Vec<Value> =
        reqwest::get(format!("{}/_mock/requests", recording.base_url())).await.unwrap().json().await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["headers"]["authorization"], "Bearer sk-test");
    let quiet = spawn(MockConfig::default()).await.unwrap();
    post(format!("{}/v1/chat/completions", quiet.base_url()), &[OPENAI_AUTH], json!({"model": "m", "messages": []}))
        .await;
    let seen: Vec<Value> =
        reqwest::get(format!("{}/_mock/requests", quiet.base_url())).await.unwrap().json().await.unwrap();
    assert!(seen.is_empty());
}

#[tokio::test]
async fn embeddings_are_deterministic_unit_vectors() {
    let mock = spawn(MockConfig::default()).await.unwrap();
    let url = format!("{}/v1/embeddings", mock.base_url());
    let body = json!({"model": "e", "input": ["a b", "c"], "dimensions": 8});
    let first: Value = post(url.clone(), &[OPENAI_AUTH], body.clone()).await.json().await.unwrap();
    let again: Value = post(url, &[OPENAI_AUTH], body).await.json().await.unwrap();
    assert_eq!(first["data"], again["data"]);
    let vector: Vec<f64> = serde_json::from_value(first["data"][0]["embedding"].clone()).unwrap();
    assert_eq!(vector.len(), 8);
    assert!((vector.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-4);
    assert_eq!(first["usage"]["prompt_tokens"], 3);
}
