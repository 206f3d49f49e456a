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

/// The `data` of each event of a Responses stream, checking that each is named by its `type`
/// and that sequence numbers count up from 0.
async fn response_events(response: reqwest::Response) -> Vec<Value> {
    let events = sse(response).await;
    let datas: Vec<Value> = events.iter().map(|(_, d)| serde_json::from_str(d).unwrap()).collect();
    for (i, ((name, _), data)) in events.iter().zip(&datas).enumerate() {
        assert_eq!(name.as_deref(), data["type"].as_str(), "event {i} is named by its type");
        assert_eq!(data["sequence_number"], json!(i), "event {i}");
    }
    datas
}

fn event_types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn codex_tools() -> Value {
    json!([
        {"type": "function", "name": "exec_command", "strict": false,
         "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}, "tty": {"type": "boolean"}}, "required": ["cmd"]}},
        {"type": "custom", "name": "apply_patch", "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}},
        {"type": "web_search"},
    ])
}

#[tokio::test]
async fn responses_answer_with_a_message_exact_usage_and_the_request_settings_echoed() {
    let mock = spawn(MockConfig::default()).await.unwrap();
    let body = json!({"model": "m@words=5,cached=2", "input": "one two three", "temperature": 0.5, "store": false});
    let response: Value =
        post(format!("{}/v1/responses", mock.base_url()), &[OPENAI_AUTH], body).await.json().await.unwrap();
    assert_eq!((response["object"].clone(), response["status"].clone()), (json!("response"), json!("completed")));
    assert!(response["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!((response["temperature"].clone(), response["store"].clone()), (json!(0.5), json!(false)));
    let [message] = response["output"].as_array().unwrap().as_slice() else { panic!("one item: {response}") };
    assert_eq!((message["type"].clone(), message["role"].clone()), (json!("message"), json!("assistant")));
    assert!(message["id"].as_str().unwrap().starts_with("msg_"));
    let text = message["content"][0]["text"].as_str().unwrap();
    assert_eq!((message["content"][0]["type"].clone(), text.split_whitespace().count()), (json!("output_text"), 5));
    assert!(text.starts_with("Mock answer"));
    assert_eq!(
        response["usage"],
        json!({"input_tokens": 3 + 3, "input_tokens_details": {"cached_tokens": 2}, "output_tokens": 5,
               "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 11})
    );
    let quiet: Value =
        post(format!("{}/v1/responses", mock.base_url()), &[OPENAI_AUTH], json!({"model": "m@no_usage", "input": "x"}))
            .await
            .json()
            .await
            .unwrap();
    assert!(quiet["usage"].is_null());
}

#[tokio::test]
async fn responses_stream_every_event_in_order_and_complete_with_the_whole_response() {
    let mock = spawn(MockConfig::default()).await.unwrap();
    let body = json!({"model": "m@words=3", "input": "hi", "stream": true});
    let events = response_events(post(format!("{}/v1/responses", mock.base_url()), &[OPENAI_AUTH], body).await).await;
    assert_eq!(
        event_types(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(events[0]["response"]["status"], "in_progress");
    let deltas: String = events.iter().filter_map(|e| e["delta"].as_str()).collect();
    let item_id = &events[2]["item"]["id"];
    assert!(events[3..10].iter().all(|e| &e["item_id"] == item_id || &e["item"]["id"] == item_id));
    let completed = &events[10]["response"];
    assert_eq!(completed["id"], events[0]["response"]["id"]);
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["output"][0]["content"][0]["text"], deltas.as_str());
    assert_eq!(completed["output"][0], events[9]["item"]);
    assert_eq!(completed["usage"]["output_tokens"], 3);
}

#[tokio::test]
async fn responses_cut_by_max_output_tokens_are_incomplete_and_tiny_limits_are_refused() {
    let mock = spawn(MockConfig::default()).await.unwrap();
    let url = format!("{}/v1/responses", mock.base_url());
    let body = json!({"model": "m@words=20", "input": "hi", "max_output_tokens": 16, "stream": true});
    let events = response_events(post(url.clone(), &[OPENAI_AUTH], body).await).await;
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.incomplete");
    assert_eq!(last["response"]["incomplete_details"], json!({"reason": "max_output_tokens"}));
    assert_eq!(
        (last["response"]["output"][0]["status"].clone(), last["response"]["usage"]["output_tokens"].clone()),
        (json!("incomplete"), json!(16))
    );
    let tiny = post(url, &[OPENAI_AUTH], json!({"model": "m", "input": "hi", "max_output_tokens": 5})).await;
    assert_eq!(tiny.status(), 400);
    assert!(tiny.text().await.unwrap().contains("max_output_tokens"));
}

#[tokio::test]
async fn responses_call_the_function_or_custom_tool_a_directive_names() {
    let mock = spawn(MockConfig::default()).await.unwrap();
    let url = format!("{}/v1/responses", mock.base_url());
    let body = json!({"model": "m@tool=exec_command", "input": "run it", "tools": codex_tools()});
    let response: Value = post(url.clone(), &[OPENAI_AUTH], body).await.json().await.unwrap();
    let [call] = response["output"].as_array().unwrap().as_slice() else { panic!("one item: {response}") };
    assert_eq!(
        (call["type"].clone(), call["name"].clone(), call["status"].clone()),
        (json!("function_call"), json!("exec_command"), json!("completed"))
    );
    assert_eq!(call["arguments"], r#"{"cmd":"mock"}"#, "arguments are a JSON string filling the required properties");
    assert!(call["call_id"].as_str().unwrap().starts_with("call_") && call["id"].as_str().unwrap().starts_with("fc_"));
    assert_eq!(response["usage"]["output_tokens"], 10);

    let body = json!({"model": "m@tool=apply_patch", "input": "patch it", "tools": codex_tools(), "stream": true});
    let events = response_events(post(url.clone(), &[OPENAI_AUTH], body).await).await;
    assert_eq!(
        event_types(&events)[2..],
        [
            "response.output_item.added",
            "response.custom_tool_call_input.delta",
            "response.custom_tool_call_input.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let item = &events[5]["item"];
    assert_eq!(
        (item["type"].clone(), item["name"].clone(), item["input"].clone()),
        (json!("custom_tool_call"), json!("apply_patch"), json!("mock"))
    );

    let body = json!({"model": "m@tool=exec_command", "input": "run it", "tools": codex_tools(), "stream": true});
    let events = response_events(post(url, &[OPENAI_AUTH], body).await).await;
    let arguments: String = events
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(arguments, r#"{"cmd":"mock"}"#);
    assert_eq!(events.last().unwrap()["response"]["output"][0]["arguments"], arguments.as_str());
}

#[tokio::test]
async fn responses_answer_in_text_once_the_tool_output_comes_back() {
    let mock = spawn(MockConfig::default()).await.unwrap();
    let input = json!([
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "run it"}]},
        {"type": "function_call", "call_id": "call_1", "name": "exec_command", "arguments": "{\"cmd\":\"mock\"}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "exit 127"},
    ]);
    let body = json!({"model": "m@tool=exec_command,words=4", "input": input, "tools": codex_tools()});
    let response: Value =
        post(format!("{}/v1/responses", mock.base_url()), &[OPENAI_AUTH], body).await.json().await.unwrap();
    assert_eq!(response["output"][0]["type"], "message");
    let text = response["output"][0]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("Mock result") && text.split_whitespace().count() == 4, "{text}");
}

#[tokio::test]
async fn responses_reasoning_is_summarized_and_encrypted_only_when_asked() {
    let mock = spawn(MockConfig::default()).await.unwrap();
    let url = format!("{}/v1/responses", mock.base_url());
    let ask = |summary: bool, include: bool| {
        let mut body = json!({"model": "m@reasoning=3,words=2", "input": "think"});
        if summary {
            body["reasoning"] = json!({"effort": "low", "summary": "auto"});
        }
        if include {
            body["include"] = json!(["reasoning.encrypted_content"]);
        }
        body
    };
    let plain: Value = post(url.clone(), &[OPENAI_AUTH], ask(false, false)).await.json().await.unwrap();
    assert_eq!(plain["output"][0], json!({"id": plain["output"][0]["id"], "type": "reasoning", "summary": []}));
    assert_eq!(plain["usage"]["output_tokens_details"]["reasoning_tokens"], 3);
    assert_eq!(plain["usage"]["output_tokens"], 3 + 2);

    let full: Value = post(url.clone(), &[OPENAI_AUTH], ask(true, true)).await.json().await.unwrap();
    let reasoning = &full["output"][0];
    assert_eq!(reasoning["summary"][0]["type"], "summary_text");
    assert_eq!(reasoning["summary"][0]["text"].as_str().unwrap().split_whitespace().count(), 3);
    assert!(reasoning["encrypted_content"].as_str().unwrap().starts_with("gAAAAB"));
    assert_eq!(
        (full["reasoning"]["effort"].clone(), full["output"][1]["type"].clone()),
        (json!("low"), json!("message"))
    );

    let mut streamed = ask(true, false);
    streamed["stream"] = json!(true);
    let events = response_events(post(url, &[OPENAI_AUTH], streamed).await).await;
    assert_eq!(
        event_types(&events)[2..9],
        [
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
        ]
    );
    assert!(events[9]["item"].get("encrypted_content").is_none());
    assert_eq!(events[10]["output_index"], 1, "the message follows the reasoning");
}

#[tokio::test]
async fn responses_errors_come_as_openai_errors_before_the_stream_and_as_failed_responses_inside_it() {
    let mock = spawn(MockConfig::default()).await.unwrap();
    let url = format!("{}/v1/responses", mock.base_url());
    let limited =
        post(url.clone(), &[OPENAI_AUTH], json!({"model": "m@error=rate_limit", "input": "x", "stream": true})).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.json::<Value>().await.unwrap()["error"]["code"], "rate_limit_exceeded");
    let unauthenticated = post(url.clone(), &[], json!({"model": "m", "input": "x"})).await;
    assert_eq!(unauthenticated.status(), 401);

    let body = json!({"model": "m@error_in_stream=server_error", "input": "x", "stream": true});
    let events = response_events(post(url, &[OPENAI_AUTH], body).await).await;
    assert_eq!(event_types(&events), ["response.created", "response.in_progress", "error", "response.failed"]);
    assert_eq!(events[2]["code"], "server_error");
    let failed = &events[3]["response"];
    assert_eq!((failed["status"].clone(), failed["error"]["code"].clone()), (json!("failed"), json!("server_error")));
}

#[tokio::test]
async fn responses_answer_on_the_azure_routes_and_are_recorded() {
    let mock = spawn(MockConfig { record_requests: true }).await.unwrap();
    let base = mock.base_url();
    for path in ["/openai/v1/responses", "/openai/responses?api-version=2025-04-01-preview"] {
        let response =
            post(format!("{base}{path}"), &[("api-key", "k")], json!({"model": "dep@words=2", "input": "x"})).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap()["model"], "dep@words=2");
    }
    let seen: Vec<Value> = reqwest::get(format!("{base}/_mock/requests")).await.unwrap().json().await.unwrap();
    let paths: Vec<(&str, &str)> =
        seen.iter().map(|r| (r["path"].as_str().unwrap(), r["query"].as_str().unwrap_or(""))).collect();
    assert_eq!(paths, [("/openai/v1/responses", ""), ("/openai/responses", "api-version=2025-04-01-preview")]);
}

#[tokio::test]
async fn a_recorded_codex_request_after_its_tool_ran_gets_a_text_answer() {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../e2e/clients/fixtures/codex/11_tool_exec_command_turn2_output.json");
    let recorded: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut body = recorded["body"].clone();
    body["model"] = json!("gpt-agent@tool=exec_command,words=6");
    let mock = spawn(MockConfig::default()).await.unwrap();
    let events = response_events(post(format!("{}/v1/responses", mock.base_url()), &[OPENAI_AUTH], body).await).await;
    let done: Vec<&Value> =
        events.iter().filter(|e| e["type"] == "response.output_item.done").map(|e| &e["item"]).collect();
    assert_eq!(done.len(), 1);
    assert!(done[0]["content"][0]["text"].as_str().unwrap().starts_with("Mock result"));
    assert_eq!(events.last().unwrap()["type"], "response.completed");
}
