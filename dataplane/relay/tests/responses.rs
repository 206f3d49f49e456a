//! The OpenAI Responses API (`/v1/responses`) end to end, through the real relay and the mock
//! upstream:
//!
//! - Codex's recorded requests reach an OpenAI or Azure channel as sent (only `model` replaced)
//!   and the upstream's own events come back; the request record carries the upstream's usage.
//! - Anthropic, Gemini and chat-completions channels get a translation (developer messages as
//!   the system prompt, custom and namespaced tools as functions, hosted tools dropped) and the
//!   client still gets a valid Responses stream, tool calls in their own item shapes.
//! - Stored responses: read back, continued with `previous_response_id` on any provider (the
//!   upstream gets the conversation, never the id), listed, deleted, and private to their owner.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::{ADMIN_KEY, Harness, channel, read_sse};
use oblivious_store::{NewApiKey, NewUser};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Fixtures and channels
// ---------------------------------------------------------------------------------------------

/// Requests recorded from Codex CLI (`e2e/clients/fixtures/codex`), all streamed.
const CODEX_FIXTURES: [&str; 6] = [
    "01_plain_gpt5_unknown_model.json",
    "10_tool_exec_command_turn1.json",
    "11_tool_exec_command_turn2_output.json",
    "20_gpt55_reasoning_tool_turn1.json",
    "21_gpt55_reasoning_tool_turn2_reasoning_echo.json",
    "30_gpt55_apply_patch_custom_turn2.json",
];

/// The fixture whose input echoes a reasoning item with `encrypted_content` before a call.
const REASONING_ECHO: &str = "21_gpt55_reasoning_tool_turn2_reasoning_echo.json";

/// The key the harness's channels present upstream.
const UPSTREAM_KEY: &str = "sk-upstream-1";

/// Words the mock answers with when not told otherwise (one output token each).
const DEFAULT_WORDS: i64 = 12;

/// A recorded Codex request: `{method, path, headers, body}`.
fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e/clients/fixtures/codex").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// A recorded body with its model replaced.
fn codex_body(name: &str, model: &str) -> Value {
    let mut body = fixture(name)["body"].clone();
    body["model"] = json!(model);
    body
}

/// Codex's tools as it offers them: functions (`exec_command`, ...), the custom `apply_patch`,
/// hosted `tool_search`/`web_search`, plus the `multi_agent_v1` namespace of another session.
fn codex_tools() -> Value {
    let mut tools = fixture("20_gpt55_reasoning_tool_turn1.json")["body"]["tools"].as_array().unwrap().clone();
    let namespace = fixture("01_plain_gpt5_unknown_model.json")["body"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tool| tool["type"] == "namespace")
        .unwrap()
        .clone();
    tools.push(namespace);
    Value::Array(tools)
}

/// One channel per provider. Anthropic has a model per tool the mock is told to call, one that
/// thinks first, and OpenAI and Anthropic each one whose stream breaks after three deltas.
fn providers() -> String {
    let anthropic_models = "[{name: claude, upstreamModel: claude-up}, \
        {name: claude-patch, upstreamModel: \"claude-up@tool=apply_patch\"}, \
        {name: claude-exec, upstreamModel: \"claude-up@tool=exec_command\"}, \
        {name: claude-agent, upstreamModel: \"claude-up@tool=multi_agent_v1__spawn_agent\"}, \
        {name: claude-think, upstreamModel: \"claude-up@reasoning=3,tool=exec_command\"}, \
        {name: claude-broken, upstreamModel: \"claude-up@words=30,break_after=3\"}]";
    let openai_models = "[{name: gpt, upstreamModel: gpt-up}, \
        {name: gpt-broken, upstreamModel: \"gpt-up@words=30,break_after=3\"}]";
    // `channel` gives `/v1` to `openai` only; an OpenAI-compatible server has its API there too.
    let compatible = channel("c", "openai-compatible", 0, "[{name: compat, upstreamModel: compat-up}]", "")
        .replace("builtin://mock-upstream\n", "builtin://mock-upstream/v1\n");
    channel("o", "openai", 0, openai_models, "")
        + &channel("z", "azure-openai", 0, "[{name: azure, upstreamModel: azure-deployment}]", "")
        + &channel("a", "anthropic", 0, anthropic_models, "")
        + &channel("g", "gemini", 0, "[{name: gem, upstreamModel: gem-up}]", "")
        + &compatible
}

/// The wire a translated request goes out on, and where its parts are in the upstream body.
#[derive(Debug, Clone, Copy)]
enum Wire {
    Anthropic,
    Gemini,
    ChatCompletions,
}

/// The channels that get a translation, by public model.
const TRANSLATED: [(&str, Wire); 3] =
    [("claude", Wire::Anthropic), ("gem", Wire::Gemini), ("compat", Wire::ChatCompletions)];

impl Wire {
    fn path(self, stream: bool) -> &'static str {
        match (self, stream) {
            (Wire::Anthropic, _) => "/v1/messages",
            (Wire::Gemini, false) => "/v1beta/models/gem-up:generateContent",
            (Wire::Gemini, true) => "/v1beta/models/gem-up:streamGenerateContent",
            (Wire::ChatCompletions, _) => "/v1/chat/completions",
        }
    }

    /// All system instructions of an upstream body, as one text.
    fn system(self, body: &Value) -> String {
        match self {
            Wire::Anthropic => body["system"].as_str().unwrap_or_default().to_string(),
            Wire::Gemini => texts(&body["systemInstruction"]["parts"]),
            Wire::ChatCompletions => body["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["role"] == "system" || m["role"] == "developer")
                .map(|m| m["content"].as_str().map(str::to_string).unwrap_or_else(|| texts(&m["content"])))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// The tools of an upstream body: name and parameter schema.
    fn tools(self, body: &Value) -> Vec<(String, Value)> {
        let (list, name, schema) = match self {
            Wire::Anthropic => (&body["tools"], "/name", "/input_schema"),
            Wire::Gemini => (&body["tools"][0]["functionDeclarations"], "/name", "/parametersJsonSchema"),
            Wire::ChatCompletions => (&body["tools"], "/function/name", "/function/parameters"),
        };
        list.as_array()
            .unwrap_or_else(|| panic!("{self:?}: the upstream got no tools: {body}"))
            .iter()
            .map(|tool| {
                (tool.pointer(name).unwrap().as_str().unwrap().to_string(), tool.pointer(schema).unwrap().clone())
            })
            .collect()
    }
}

/// The `text` fields of a list of parts, concatenated.
fn texts(parts: &Value) -> String {
    parts.as_array().into_iter().flatten().filter_map(|part| part["text"].as_str()).collect()
}

/// The text parts of a Responses body's developer messages.
fn developer_texts(body: &Value) -> Vec<String> {
    let items = body["input"].as_array().unwrap();
    let developer = items.iter().filter(|item| item["role"] == "developer");
    developer
        .flat_map(|item| item["content"].as_array().unwrap())
        .map(|part| part["text"].as_str().unwrap().to_string())
        .collect()
}

/// The tool names a translation must offer for a Responses body's `tools`: functions and custom
/// tools by name, a namespace's functions as `{namespace}__{name}`, hosted tools not at all.
fn translated_tool_names(body: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for tool in body["tools"].as_array().unwrap() {
        match tool["type"].as_str().unwrap() {
            "function" | "custom" => names.push(tool["name"].as_str().unwrap().to_string()),
            "namespace" => {
                for inner in tool["tools"].as_array().unwrap() {
                    names.push(format!("{}__{}", tool["name"].as_str().unwrap(), inner["name"].as_str().unwrap()));
                }
            }
            _ => {}
        }
    }
    names
}

// ---------------------------------------------------------------------------------------------
// Talking to the relay
// ---------------------------------------------------------------------------------------------

async fn post_responses(h: &Harness, key: &str, body: &Value) -> reqwest::Response {
    h.http.post(format!("{}/v1/responses", h.base)).bearer_auth(key).json(body).send().await.unwrap()
}

/// A non-streaming request that must succeed; its `response` object.
async fn create(h: &Harness, key: &str, body: &Value) -> Value {
    let response = post_responses(h, key, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// A streaming request that must start with a 200 SSE body; its events, parsed.
async fn stream(h: &Harness, key: &str, body: &Value) -> Vec<Value> {
    let response = post_responses(h, key, body).await;
    let status = response.status();
    if status != 200 {
        panic!("{status}: {}", response.text().await.unwrap());
    }
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let (datas, clean) = read_sse(response).await;
    assert!(clean, "the stream ended cleanly");
    datas.iter().map(|data| serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"))).collect()
}

async fn get(h: &Harness, key: &str, path: &str) -> reqwest::Response {
    h.http.get(format!("{}{path}", h.base)).bearer_auth(key).send().await.unwrap()
}

async fn delete(h: &Harness, key: &str, path: &str) -> reqwest::Response {
    h.http.delete(format!("{}{path}", h.base)).bearer_auth(key).send().await.unwrap()
}

/// A GET that must succeed; its JSON.
async fn get_json(h: &Harness, key: &str, path: &str) -> Value {
    let response = get(h, key, path).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The `error` object of an OpenAI-shaped error answer with `status`.
async fn error_of(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    let error = body["error"].clone();
    for field in ["message", "type", "param", "code"] {
        assert!(error.get(field).is_some(), "OpenAI's error shape has `{field}`: {body}");
    }
    error
}

/// The last request the mock received.
async fn last_upstream(h: &Harness) -> Value {
    h.upstream_chat_requests().await.pop().expect("the upstream got a request")
}

/// `/v1/responses/{id}` and below.
fn response_path(response: &Value, tail: &str) -> String {
    format!("/v1/responses/{}{tail}", response["id"].as_str().unwrap())
}

// ---------------------------------------------------------------------------------------------
// Reading answers
// ---------------------------------------------------------------------------------------------

fn kind(event: &Value) -> &str {
    event["type"].as_str().unwrap_or_else(|| panic!("an event without a type: {event}"))
}

/// The items of `response.output_item.done` events, in order.
fn done_items(events: &[Value]) -> Vec<Value> {
    events.iter().filter(|e| kind(e) == "response.output_item.done").map(|e| e["item"].clone()).collect()
}

/// Checks what Codex relies on in a Responses stream and returns the final response:
/// `response.created` first, `sequence_number` strictly increasing from 0, one terminal
/// `response.completed` last with the stream's `resp_` id, its usage, and as output the items of
/// the `output_item.done` events.
fn assert_valid_stream(events: &[Value], what: &str) -> Value {
    let kinds: Vec<&str> = events.iter().map(kind).collect();
    assert_eq!(kinds.first(), Some(&"response.created"), "{what}: {kinds:?}");
    assert_eq!(kinds.last(), Some(&"response.completed"), "{what}: {kinds:?}");
    let terminal = ["response.completed", "response.incomplete", "response.failed", "error"];
    assert_eq!(kinds.iter().filter(|k| terminal.contains(k)).count(), 1, "{what}: {kinds:?}");
    let sequence: Vec<u64> = events.iter().map(|e| e["sequence_number"].as_u64().unwrap()).collect();
    assert_eq!(sequence[0], 0, "{what}");
    assert!(sequence.windows(2).all(|w| w[0] < w[1]), "{what}: {sequence:?}");

    let created = &events[0]["response"];
    let response = events.last().unwrap()["response"].clone();
    let id = response["id"].as_str().unwrap();
    assert!(id.starts_with("resp_"), "{what}: {id}");
    assert_eq!(created["id"], response["id"], "{what}: one id for the whole stream");
    assert_eq!((created["status"].as_str(), response["status"].as_str()), (Some("in_progress"), Some("completed")));
    assert_eq!(response["object"], "response", "{what}");
    assert_usage(&response["usage"], what);
    assert_eq!(response["output"], Value::Array(done_items(events)), "{what}: the output is the items announced done");
    response
}

/// A Responses `usage` object with tokens both ways that add up.
fn assert_usage(usage: &Value, what: &str) {
    let input = usage["input_tokens"].as_i64().unwrap_or_else(|| panic!("{what}: no usage: {usage}"));
    let output = usage["output_tokens"].as_i64().unwrap();
    assert!(input > 0 && output > 0, "{what}: {usage}");
    assert_eq!(usage["total_tokens"].as_i64(), Some(input + output), "{what}: {usage}");
}

/// The call item of an answer (exactly one).
fn the_call(items: &Value, what: &str) -> Value {
    let calls: Vec<&Value> =
        items.as_array().unwrap().iter().filter(|item| item["type"].as_str().unwrap().ends_with("call")).collect();
    assert_eq!(calls.len(), 1, "{what}: {items}");
    calls[0].clone()
}

/// The text of a response's message items.
fn message_text(response: &Value) -> String {
    let output = response["output"].as_array().unwrap();
    output.iter().filter(|item| item["type"] == "message").map(|item| texts(&item["content"])).collect()
}

/// Conversation items as (role or type, text), to compare conversations by content.
fn item_texts(items: &Value) -> Vec<(String, String)> {
    let items = items.as_array().unwrap_or_else(|| panic!("not a list of items: {items}"));
    items
        .iter()
        .map(|item| {
            let role = item["role"].as_str().or(item["type"].as_str()).unwrap().to_string();
            let text = match &item["content"] {
                Value::String(text) => text.clone(),
                parts => texts(parts),
            };
            (role, text)
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// An answer with what differs between two runs of the same request blanked: ids and times.
fn without_ids(value: &Value) -> Value {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(name, v)| {
                let blank = matches!(name.as_str(), "id" | "item_id" | "created_at");
                (name.clone(), if blank { Value::Null } else { without_ids(v) })
            })
            .collect(),
        Value::Array(items) => items.iter().map(without_ids).collect(),
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Pass-through to OpenAI
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn codex_requests_reach_an_openai_channel_as_sent_and_its_events_come_back_unchanged() {
    let h = Harness::start(&providers()).await;
    for name in CODEX_FIXTURES {
        let events = stream(&h, ADMIN_KEY, &codex_body(name, "gpt")).await;

        let upstream = last_upstream(&h).await;
        assert_eq!(upstream["path"], "/v1/responses", "{name}");
        assert_eq!(upstream["headers"]["authorization"], format!("Bearer {UPSTREAM_KEY}"), "{name}");
        let mut expected = fixture(name)["body"].clone();
        expected["model"] = json!("gpt-up");
        assert_eq!(upstream["body"], expected, "{name}: the body reaches OpenAI as Codex sent it");

        let response = assert_valid_stream(&events, name);
        assert_eq!(response["model"], "gpt-up", "{name}: the upstream's own response object");
        assert!(!done_items(&events).is_empty(), "{name}");
        // The same body sent straight to the upstream streams the same events, ids and times aside.
        let direct = h
            .http
            .post(format!("{}/v1/responses", h.mock.base_url()))
            .bearer_auth(UPSTREAM_KEY)
            .json(&expected)
            .send()
            .await
            .unwrap();
        let direct: Vec<Value> =
            read_sse(direct).await.0.iter().map(|data| without_ids(&serde_json::from_str(data).unwrap())).collect();
        let relayed: Vec<Value> = events.iter().map(without_ids).collect();
        assert_eq!(relayed, direct, "{name}: the client gets the upstream's events");

        let log = h.logs().await.into_iter().next().unwrap();
        assert_eq!((log.ingress.as_str(), log.status, log.stream), ("responses", 200, true), "{name}");
        assert_eq!(log.upstream_model.as_deref(), Some("gpt-up"), "{name}");
        assert!(!log.usage_estimated, "{name}: the upstream reported the usage");
        let usage = &response["usage"];
        let reported = |pointer: &str| usage.pointer(pointer).unwrap().as_i64().unwrap();
        assert_eq!(
            (log.input_tokens, log.cached_input_tokens, log.output_tokens, log.reasoning_tokens),
            (
                reported("/input_tokens"),
                reported("/input_tokens_details/cached_tokens"),
                reported("/output_tokens"),
                reported("/output_tokens_details/reasoning_tokens"),
            ),
            "{name}: the record has the usage of `response.completed`"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Translation for other providers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn codex_requests_are_translated_for_anthropic_gemini_and_chat_completions_channels() {
    let h = Harness::start(&providers()).await;
    for name in CODEX_FIXTURES {
        let recorded = fixture(name)["body"].clone();
        let developer = developer_texts(&recorded);
        assert!(developer.len() >= 2, "{name}: Codex sends developer messages");
        let expected_tools = translated_tool_names(&recorded);
        let custom = recorded["tools"].as_array().unwrap().iter().any(|t| t["type"] == "custom");
        let namespaced = recorded["tools"].as_array().unwrap().iter().any(|t| t["type"] == "namespace");
        for (model, wire) in TRANSLATED {
            let what = format!("{name} via {model}");
            let events = stream(&h, ADMIN_KEY, &codex_body(name, model)).await;
            let response = assert_valid_stream(&events, &what);
            assert_eq!(response["model"], model, "{what}: a translated answer carries the public model");

            let upstream = last_upstream(&h).await;
            assert_eq!(upstream["path"], wire.path(true), "{what}");
            let body = &upstream["body"];
            let system = wire.system(body);
            for text in &developer {
                assert!(system.contains(text.as_str()), "{what}: developer message missing from the system prompt");
            }
            let tools = wire.tools(body);
            let names: Vec<&str> = tools.iter().map(|(name, _)| name.as_str()).collect();
            assert_eq!(names, expected_tools, "{what}");
            assert!(names.contains(&"exec_command"), "{what}");
            assert!(!names.iter().any(|n| n.contains("web_search") || n.contains("tool_search")), "{what}: {names:?}");
            let schema = |tool: &str| &tools.iter().find(|(name, _)| name == tool).unwrap().1;
            let exec = recorded["tools"].as_array().unwrap().iter().find(|t| t["name"] == "exec_command").unwrap();
            assert_eq!(schema("exec_command"), &exec["parameters"], "{what}");
            if custom {
                let patch = schema("apply_patch");
                assert_eq!(patch["type"], "object", "{what}");
                assert_eq!(patch["properties"]["input"]["type"], "string", "{what}: {patch}");
                assert_eq!(patch["required"], json!(["input"]), "{what}");
            }
            if namespaced {
                assert!(names.contains(&"multi_agent_v1__spawn_agent"), "{what}: {names:?}");
            }
            for field in ["input", "include", "client_metadata", "store", "previous_response_id", "text"] {
                assert!(body.get(field).is_none(), "{what}: a Responses-only field `{field}` was sent");
            }
            if let Wire::ChatCompletions = wire {
                assert_eq!(body["prompt_cache_key"], recorded["prompt_cache_key"], "{what}");
                assert_eq!(body["parallel_tool_calls"], true, "{what}");
                if let Some(effort) = recorded.pointer("/reasoning/effort") {
                    assert_eq!(&body["reasoning_effort"], effort, "{what}");
                }
            }
        }
    }
}

#[tokio::test]
async fn an_echoed_reasoning_item_reaches_anthropic_as_a_thinking_block_with_its_encrypted_content() {
    let h = Harness::start(&providers()).await;
    let recorded = fixture(REASONING_ECHO)["body"].clone();
    let items = recorded["input"].as_array().unwrap();
    let reasoning = items.iter().find(|item| item["type"] == "reasoning").unwrap();
    let call = items.iter().find(|item| item["type"] == "function_call").unwrap();
    let output = items.iter().find(|item| item["type"] == "function_call_output").unwrap();

    let events = stream(&h, ADMIN_KEY, &codex_body(REASONING_ECHO, "claude")).await;
    assert_valid_stream(&events, "reasoning echo");
    let body = last_upstream(&h).await["body"].clone();
    assert_eq!(body["thinking"]["type"], "enabled", "reasoning.effort medium turns thinking on");
    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user"], "{body}");
    // Anthropic's upstream renders a signed reasoning part as a thinking block, whoever signed
    // it: Codex's `encrypted_content` (OpenAI's) becomes the block's signature.
    assert_eq!(
        messages[1]["content"],
        json!([
            {"type": "thinking", "thinking": reasoning["summary"][0]["text"], "signature": reasoning["encrypted_content"]},
            {"type": "tool_use", "id": call["call_id"], "name": "exec_command", "input": {"cmd": "echo hi"}},
        ])
    );
    let result = &messages[2]["content"][0];
    assert_eq!((&result["type"], &result["tool_use_id"]), (&json!("tool_result"), &call["call_id"]));
    assert_eq!(result["content"], output["output"]);
}

// ---------------------------------------------------------------------------------------------
// 3. Tool calls translated back
// ---------------------------------------------------------------------------------------------

/// The call item a translated model's answer to a request offering Codex's tools comes back as:
/// from a complete answer and from a stream (where it must match `response.completed`'s).
async fn call_items(h: &Harness, model: &str) -> (Value, Value, Vec<Value>) {
    let request = |stream: bool| json!({"model": model, "input": "Do it.", "tools": codex_tools(), "tool_choice": "auto", "stream": stream});
    let complete = create(h, ADMIN_KEY, &request(false)).await;
    assert_eq!(complete["status"], "completed", "{model}");
    let from_complete = the_call(&complete["output"], model);

    let events = stream(h, ADMIN_KEY, &request(true)).await;
    let response = assert_valid_stream(&events, model);
    let from_stream = the_call(&response["output"], model);
    (from_complete, from_stream, events)
}

#[tokio::test]
async fn a_custom_tool_call_comes_back_as_a_custom_tool_call_with_its_input() {
    let h = Harness::start(&providers()).await;
    let (complete, streamed, events) = call_items(&h, "claude-patch").await;
    for item in [&complete, &streamed] {
        assert_eq!(item["type"], "custom_tool_call", "{item}");
        assert_eq!(item["name"], "apply_patch");
        assert_eq!(item["input"], "mock", "the `input` argument, as a string: {item}");
        assert!(item.get("arguments").is_none(), "{item}");
        assert!(item["call_id"].as_str().unwrap().starts_with("toolu_"), "{item}");
    }
    let done = events.iter().find(|e| kind(e) == "response.custom_tool_call_input.done").expect("input.done");
    assert_eq!(done["input"], "mock");
    let upstream = last_upstream(&h).await;
    let tools = Wire::Anthropic.tools(&upstream["body"]);
    assert!(
        tools.iter().any(|(name, schema)| name == "apply_patch" && schema["properties"]["input"]["type"] == "string")
    );
}

#[tokio::test]
async fn a_function_call_comes_back_as_a_function_call_with_json_arguments() {
    let h = Harness::start(&providers()).await;
    let (complete, streamed, events) = call_items(&h, "claude-exec").await;
    for item in [&complete, &streamed] {
        assert_eq!(item["type"], "function_call", "{item}");
        assert_eq!(item["name"], "exec_command");
        assert!(item.get("namespace").is_none(), "{item}");
        let arguments: Value = serde_json::from_str(item["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(arguments, json!({"cmd": "mock"}), "arguments are JSON text");
    }
    let done = events.iter().find(|e| kind(e) == "response.function_call_arguments.done").expect("arguments.done");
    assert_eq!(done["arguments"], streamed["arguments"]);
}

#[tokio::test]
async fn a_namespaced_call_comes_back_as_a_function_call_with_its_namespace() {
    let h = Harness::start(&providers()).await;
    let (complete, streamed, _) = call_items(&h, "claude-agent").await;
    for item in [&complete, &streamed] {
        assert_eq!(item["type"], "function_call", "{item}");
        assert_eq!((item["namespace"].as_str(), item["name"].as_str()), (Some("multi_agent_v1"), Some("spawn_agent")));
        assert_eq!(serde_json::from_str::<Value>(item["arguments"].as_str().unwrap()).unwrap(), json!({}));
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Complete answers and errors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_plain_request_gets_a_completed_response_object_from_every_provider() {
    let h = Harness::start(&providers()).await;
    for model in ["gpt", "azure", "claude", "gem", "compat"] {
        let response = create(&h, ADMIN_KEY, &json!({"model": model, "input": "hi"})).await;
        assert_eq!((response["object"].as_str(), response["status"].as_str()), (Some("response"), Some("completed")));
        assert!(response["id"].as_str().unwrap().starts_with("resp_"), "{model}: {response}");
        let message = &response["output"][0];
        assert_eq!((message["type"].as_str(), message["role"].as_str()), (Some("message"), Some("assistant")));
        assert_eq!(message["content"][0]["type"], "output_text", "{model}");
        assert!(message_text(&response).starts_with("Mock answer"), "{model}: {response}");
        assert_usage(&response["usage"], model);
        assert_eq!(response["usage"]["output_tokens"], DEFAULT_WORDS, "{model}");
        if let Some((_, wire)) = TRANSLATED.iter().find(|(translated, _)| *translated == model) {
            assert_eq!(last_upstream(&h).await["path"], wire.path(false), "{model}");
            assert_eq!(response["model"], model, "{model}: a translated answer carries the public model");
        }

        let log = h.logs().await.into_iter().next().unwrap();
        assert_eq!((log.ingress.as_str(), log.model.as_str(), log.stream), ("responses", model, false));
        assert!(!log.usage_estimated, "{model}");
        assert_eq!(log.input_tokens, response["usage"]["input_tokens"].as_i64().unwrap(), "{model}");
        assert_eq!(log.output_tokens, DEFAULT_WORDS, "{model}");
    }
}

/// Models whose answer (30 words) a `max_output_tokens` of 16 cuts, on each kind of wire.
fn long_answers() -> String {
    providers()
        + &channel("o-long", "openai", 0, "[{name: gpt-long, upstreamModel: \"gpt-up@words=30\"}]", "")
        + &channel("a-long", "anthropic", 0, "[{name: claude-long, upstreamModel: \"claude-up@words=30\"}]", "")
        + &channel("g-long", "gemini", 0, "[{name: gem-long, upstreamModel: \"gem-up@words=30\"}]", "")
}

const LONG_ANSWERS: [&str; 3] = ["gpt-long", "claude-long", "gem-long"];

#[tokio::test]
async fn an_answer_cut_by_max_output_tokens_is_an_incomplete_response_on_every_provider() {
    let h = Harness::start(&long_answers()).await;
    for model in LONG_ANSWERS {
        let body = json!({"model": model, "input": "hi", "max_output_tokens": 16});
        let complete = create(&h, ADMIN_KEY, &body).await;
        assert_eq!(complete["status"], "incomplete", "{model}");
        assert_eq!(complete["incomplete_details"], json!({"reason": "max_output_tokens"}), "{model}");

        let events =
            stream(&h, ADMIN_KEY, &json!({"model": model, "input": "hi", "max_output_tokens": 16, "stream": true}))
                .await;
        let last = events.last().unwrap();
        assert_eq!(kind(last), "response.incomplete", "{model}");
        let response = &last["response"];
        assert_eq!(response["incomplete_details"], json!({"reason": "max_output_tokens"}), "{model}");
        assert_eq!(response["output"], Value::Array(done_items(&events)), "{model}");
        assert_eq!(get_json(&h, ADMIN_KEY, &response_path(response, "")).await, *response, "{model}: stored too");
    }
}

/// OpenAI marks the message a `max_output_tokens` stop cut as `incomplete` (so does the mock,
/// which copies its wire); a translated answer should say the same.
#[tokio::test]
async fn a_message_cut_by_max_output_tokens_is_an_incomplete_item_as_openai_marks_it() {
    let h = Harness::start(&long_answers()).await;
    let mut wrong = Vec::new();
    for model in LONG_ANSWERS {
        let complete = create(&h, ADMIN_KEY, &json!({"model": model, "input": "hi", "max_output_tokens": 16})).await;
        let streamed = json!({"model": model, "input": "hi", "max_output_tokens": 16, "stream": true});
        let done = done_items(&stream(&h, ADMIN_KEY, &streamed).await);
        for (how, item) in [("complete", &complete["output"][0]), ("streamed", &done[0])] {
            assert_eq!(item["type"], "message", "{model} {how}");
            if item["status"] != "incomplete" {
                wrong.push(format!("{model} ({how}): {}", item["status"]));
            }
        }
    }
    assert!(wrong.is_empty(), "cut messages not marked incomplete: {wrong:?}");
}

#[tokio::test]
async fn failover_between_openai_and_anthropic_switches_between_relaying_and_translating() {
    let yaml = providers()
        + &channel("o-down", "openai", 10, "[{name: to-anthropic, upstreamModel: \"gpt-up@status=503\"}]", "")
        + &channel("a-up", "anthropic", 0, "[{name: to-anthropic, upstreamModel: claude-up}]", "")
        + &channel("a-down", "anthropic", 10, "[{name: to-openai, upstreamModel: \"claude-up@status=529\"}]", "")
        + &channel("o-up", "openai", 0, "[{name: to-openai, upstreamModel: gpt-up}]", "");
    let h = Harness::start(&yaml).await;
    for stream_it in [false, true] {
        let answer = |model: &str| {
            let body = json!({"model": model, "input": "hi", "stream": stream_it});
            let h = &h;
            async move {
                if stream_it {
                    assert_valid_stream(&stream(h, ADMIN_KEY, &body).await, "failover")
                } else {
                    create(h, ADMIN_KEY, &body).await
                }
            }
        };
        let translated = answer("to-anthropic").await;
        let paths: Vec<Value> =
            h.upstream_chat_requests().await.iter().rev().take(2).map(|r| r["path"].clone()).collect();
        assert_eq!(paths, [json!("/v1/messages"), json!("/v1/responses")], "OpenAI first, then Anthropic");
        assert_eq!(translated["model"], "to-anthropic", "rendered by the relay after the failover");
        assert!(message_text(&translated).starts_with("Mock answer"), "{translated}");

        let relayed = answer("to-openai").await;
        let paths: Vec<Value> =
            h.upstream_chat_requests().await.iter().rev().take(2).map(|r| r["path"].clone()).collect();
        assert_eq!(paths, [json!("/v1/responses"), json!("/v1/messages")], "Anthropic first, then OpenAI");
        assert_eq!(relayed["model"], "gpt-up", "the OpenAI answer relayed as it came");
        assert!(message_text(&relayed).starts_with("Mock answer"), "{relayed}");
    }
}

#[tokio::test]
async fn bad_requests_are_refused_in_openais_error_shape_naming_the_field() {
    let h = Harness::start(&providers()).await;
    let unknown = error_of(post_responses(&h, ADMIN_KEY, &json!({"model": "nope", "input": "hi"})).await, 404).await;
    assert_eq!((unknown["code"].as_str(), unknown["param"].as_str()), (Some("model_not_found"), Some("model")));
    assert_eq!(unknown["type"], "invalid_request_error");

    let bad_input = error_of(post_responses(&h, ADMIN_KEY, &json!({"model": "gpt", "input": 5})).await, 400).await;
    assert_eq!(bad_input["param"], "input", "{bad_input}");
    assert!(bad_input["message"].as_str().unwrap().contains("input"), "{bad_input}");

    let background = json!({"model": "claude", "input": "hi", "background": true});
    let background = error_of(post_responses(&h, ADMIN_KEY, &background).await, 400).await;
    assert_eq!(background["param"], "background", "{background}");

    let missing = error_of(get(&h, ADMIN_KEY, "/v1/responses/resp_nope").await, 404).await;
    assert_eq!(missing["param"], "response_id", "{missing}");

    assert!(h.upstream_chat_requests().await.is_empty(), "no refused request reaches an upstream");
    let logs = h.logs().await;
    let statuses: Vec<(&str, i32)> = logs.iter().map(|l| (l.ingress.as_str(), l.status)).collect();
    assert_eq!(statuses, [("responses", 400), ("responses", 400), ("responses", 404)], "refusals are recorded");
}

#[tokio::test]
async fn a_stream_broken_after_its_first_byte_ends_with_response_failed_and_is_not_stored() {
    let h = Harness::start(&providers()).await;
    for model in ["gpt-broken", "claude-broken"] {
        let events = stream(&h, ADMIN_KEY, &json!({"model": model, "input": "hi", "stream": true})).await;
        let kinds: Vec<&str> = events.iter().map(kind).collect();
        assert_eq!(kinds.first(), Some(&"response.created"), "{model}");
        assert!(kinds.contains(&"response.output_text.delta"), "{model}: {kinds:?}");
        assert_eq!(kinds.last(), Some(&"response.failed"), "{model}: {kinds:?}");
        assert!(!kinds.contains(&"response.completed"), "{model}");
        let sequence: Vec<u64> = events.iter().map(|e| e["sequence_number"].as_u64().unwrap()).collect();
        assert!(sequence.windows(2).all(|w| w[0] < w[1]), "{model}: {sequence:?}");
        let failed = &events.last().unwrap()["response"];
        assert_eq!(failed["id"], events[0]["response"]["id"], "{model}: the failure names the stream's response");
        assert_eq!(failed["status"], "failed", "{model}");
        assert!(failed["error"]["message"].is_string(), "{model}: {failed}");
        error_of(get(&h, ADMIN_KEY, &response_path(failed, "")).await, 404).await;

        let log = h.logs().await.into_iter().next().unwrap();
        assert_eq!((log.status, log.error_class.as_deref()), (200, Some("stream_broken")), "{model}");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Stored responses
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_stored_conversation_continues_on_another_provider_and_no_upstream_gets_the_id() {
    let h = Harness::start(&providers()).await;
    // Turn 1 on OpenAI, complete: stored as the upstream wrote it.
    let first = create(&h, ADMIN_KEY, &json!({"model": "gpt", "input": "first question"})).await;
    assert_eq!(get_json(&h, ADMIN_KEY, &response_path(&first, "")).await, first, "GET returns the same object");
    let first_text = message_text(&first);

    // Turn 2 on Anthropic, streamed: the conversation is resolved by the relay.
    let turn =
        json!({"model": "claude", "previous_response_id": first["id"], "input": "second question", "stream": true});
    let second = assert_valid_stream(&stream(&h, ADMIN_KEY, &turn).await, "second turn");
    assert_eq!(second["previous_response_id"], first["id"], "the answer echoes the id it continues");
    let upstream = last_upstream(&h).await;
    assert_eq!(upstream["path"], "/v1/messages");
    assert!(!upstream["body"].to_string().contains(first["id"].as_str().unwrap()), "{upstream}");
    assert_eq!(
        upstream["body"]["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "first question"}]},
            {"role": "assistant", "content": [{"type": "text", "text": first_text}]},
            {"role": "user", "content": [{"type": "text", "text": "second question"}]},
        ])
    );
    assert_eq!(get_json(&h, ADMIN_KEY, &response_path(&second, "")).await, second, "a translated stream is stored");
    let second_text = message_text(&second);

    // Turn 3 back on OpenAI, streamed: the whole conversation as `input`, without the id.
    let turn = json!({"model": "gpt", "previous_response_id": second["id"], "input": "third question", "stream": true});
    let third = assert_valid_stream(&stream(&h, ADMIN_KEY, &turn).await, "third turn");
    let upstream = last_upstream(&h).await;
    assert_eq!(upstream["path"], "/v1/responses");
    let mut sent = upstream["body"].as_object().unwrap().clone();
    assert!(!sent.contains_key("previous_response_id"), "OpenAI never gets an id its account does not know");
    let input = sent.remove("input").unwrap();
    assert_eq!(Value::Object(sent), json!({"model": "gpt-up", "stream": true}), "the rest of the body as sent");
    assert_eq!(
        item_texts(&input),
        pairs(&[
            ("user", "first question"),
            ("assistant", &first_text),
            ("user", "second question"),
            ("assistant", &second_text),
            ("user", "third question"),
        ])
    );
    assert_eq!(get_json(&h, ADMIN_KEY, &response_path(&third, "")).await, third, "a relayed stream is stored");
}

#[tokio::test]
async fn anthropic_thinking_comes_back_signed_when_a_stored_conversation_continues() {
    let h = Harness::start(&providers()).await;
    let first = json!({"model": "claude-think", "input": "run it", "tools": codex_tools(), "stream": true});
    let first = assert_valid_stream(&stream(&h, ADMIN_KEY, &first).await, "thinking turn");
    let reasoning = first["output"][0].clone();
    assert_eq!(reasoning["type"], "reasoning", "{first}");
    let signature = reasoning["encrypted_content"].as_str().expect("the signature as encrypted_content");
    assert!(signature.starts_with("mock-sig-"), "{signature}");
    let call = the_call(&first["output"], "thinking turn");

    let output = json!([{"type": "function_call_output", "call_id": call["call_id"], "output": "done"}]);
    let turn =
        json!({"model": "claude-think", "previous_response_id": first["id"], "input": output, "tools": codex_tools()});
    let second = create(&h, ADMIN_KEY, &turn).await;
    assert!(message_text(&second).starts_with("Mock result"), "{second}");
    let messages = last_upstream(&h).await["body"]["messages"].clone();
    assert_eq!(
        messages[1]["content"],
        json!([
            {"type": "thinking", "thinking": reasoning["summary"][0]["text"], "signature": signature},
            {"type": "tool_use", "id": call["call_id"], "name": "exec_command", "input": {"cmd": "mock"}},
        ])
    );
    assert_eq!(
        messages[2]["content"],
        json!([{"type": "tool_result", "tool_use_id": call["call_id"], "content": "done"}])
    );
}

#[tokio::test]
async fn input_items_list_the_conversation_newest_first_with_paging() {
    let h = Harness::start(&providers()).await;
    let first = create(&h, ADMIN_KEY, &json!({"model": "gpt", "input": "first question"})).await;
    // An "easy" message, without a type, listed as a typed item with an id.
    let turn = json!({"model": "claude", "previous_response_id": first["id"], "input": [{"role": "user", "content": "second question"}]});
    let second = create(&h, ADMIN_KEY, &turn).await;
    let items_path = response_path(&second, "/input_items");
    let h = &h;
    let list = |query: &str| {
        let path = format!("{items_path}{query}");
        async move { get_json(h, ADMIN_KEY, &path).await }
    };

    let newest_first = list("").await;
    assert_eq!(newest_first["object"], "list");
    let data = &newest_first["data"];
    let expected =
        pairs(&[("user", "second question"), ("assistant", &message_text(&first)), ("user", "first question")]);
    assert_eq!(item_texts(data), expected);
    let ids: Vec<&str> = data.as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap()).collect();
    assert!(ids.iter().all(|id| !id.is_empty()) && ids[0] != ids[2], "every item has its own id: {ids:?}");
    assert_eq!(data[0]["type"], "message");
    assert_eq!((newest_first["first_id"].as_str(), newest_first["last_id"].as_str()), (Some(ids[0]), Some(ids[2])));
    assert_eq!(newest_first["has_more"], false);

    let ascending = list("?order=asc").await;
    let reversed: Vec<Value> = data.as_array().unwrap().iter().rev().cloned().collect();
    assert_eq!(ascending["data"], Value::Array(reversed));

    let page = list("?limit=1").await;
    assert_eq!((page["data"].as_array().unwrap().len(), page["has_more"].as_bool()), (1, Some(true)));
    assert_eq!(page["data"][0], data[0]);
    let next = list(&format!("?limit=1&after={}", ids[0])).await;
    assert_eq!((&next["data"][0], next["has_more"].as_bool()), (&data[1], Some(true)));
    let last = list(&format!("?limit=1&after={}", ids[1])).await;
    assert_eq!((&last["data"][0], last["has_more"].as_bool()), (&data[2], Some(false)));

    for (query, param) in
        [("?limit=0", "limit"), ("?limit=101", "limit"), ("?order=up", "order"), ("?after=msg_nope", "after")]
    {
        let error = error_of(get(h, ADMIN_KEY, &format!("{items_path}{query}")).await, 400).await;
        assert_eq!(error["param"], param, "{query}: {error}");
    }

    let own = get_json(h, ADMIN_KEY, &response_path(&first, "/input_items")).await;
    assert_eq!(item_texts(&own["data"]), pairs(&[("user", "first question")]), "the first turn saw only its input");
}

#[tokio::test]
async fn a_deleted_response_can_no_longer_be_read_listed_or_continued() {
    let h = Harness::start(&providers()).await;
    let response = create(&h, ADMIN_KEY, &json!({"model": "claude", "input": "hi"})).await;
    let path = response_path(&response, "");
    let deleted = delete(&h, ADMIN_KEY, &path).await;
    assert_eq!(deleted.status(), 200);
    let deleted: Value = deleted.json().await.unwrap();
    assert_eq!(deleted, json!({"id": response["id"], "object": "response.deleted", "deleted": true}));

    error_of(get(&h, ADMIN_KEY, &path).await, 404).await;
    error_of(get(&h, ADMIN_KEY, &response_path(&response, "/input_items")).await, 404).await;
    error_of(delete(&h, ADMIN_KEY, &path).await, 404).await;
    let turn = json!({"model": "claude", "previous_response_id": response["id"], "input": "again"});
    let error = error_of(post_responses(&h, ADMIN_KEY, &turn).await, 400).await;
    assert_eq!(error["code"], "previous_response_not_found");
}

#[tokio::test]
async fn store_false_keeps_nothing_to_read_or_continue() {
    let h = Harness::start(&providers()).await;
    for (model, stream_it) in [("gpt", false), ("gpt", true), ("claude", false), ("claude", true)] {
        let body = json!({"model": model, "input": "hi", "store": false, "stream": stream_it});
        let response = if stream_it {
            assert_valid_stream(&stream(&h, ADMIN_KEY, &body).await, model)
        } else {
            create(&h, ADMIN_KEY, &body).await
        };
        assert_eq!(response["store"], false, "{model}");
        error_of(get(&h, ADMIN_KEY, &response_path(&response, "")).await, 404).await;
        let turn = json!({"model": model, "previous_response_id": response["id"], "input": "again"});
        let error = error_of(post_responses(&h, ADMIN_KEY, &turn).await, 400).await;
        assert_eq!(error["code"], "previous_response_not_found", "{model}");
    }
}

#[tokio::test]
async fn an_unknown_previous_response_id_is_a_400_naming_the_field() {
    let h = Harness::start(&providers()).await;
    for model in ["gpt", "claude"] {
        let turn = json!({"model": model, "previous_response_id": "resp_unknown", "input": "hi"});
        let error = error_of(post_responses(&h, ADMIN_KEY, &turn).await, 400).await;
        assert_eq!(error["param"], "previous_response_id", "{error}");
        assert_eq!(error["code"], "previous_response_not_found", "{error}");
        assert_eq!(error["type"], "invalid_request_error", "{error}");
        assert!(error["message"].as_str().unwrap().contains("resp_unknown"), "{error}");
    }
    assert!(h.upstream_chat_requests().await.is_empty(), "nothing reached an upstream");
}

#[tokio::test]
async fn another_owners_key_can_neither_read_list_continue_nor_delete_a_response() {
    let h = Harness::start(&providers()).await;
    let store = &h.relay.runtime.store;
    // An operator key (owner: the key) and a user account's key (owner: the account).
    let operator = store.create_api_key(NewApiKey { name: "operator".into(), ..NewApiKey::default() }).await.unwrap();
    let user = store
        .create_user(NewUser {
            username: "alice".into(),
            email: "alice@example.com".into(),
            password_hash: "x".into(),
            initial_balance_micros: 1_000_000,
            ..NewUser::default()
        })
        .await
        .unwrap();
    let alice = store
        .create_api_key(NewApiKey { name: "alice".into(), user_id: Some(user.id), ..NewApiKey::default() })
        .await
        .unwrap();
    let alice_second = store
        .create_api_key(NewApiKey { name: "alice-2".into(), user_id: Some(user.id), ..NewApiKey::default() })
        .await
        .unwrap();

    let response = create(&h, &alice.secret, &json!({"model": "claude", "input": "private"})).await;
    let path = response_path(&response, "");
    assert_eq!(get_json(&h, &alice_second.secret, &path).await, response, "the account's other keys read it");
    for stranger in [ADMIN_KEY, operator.secret.as_str()] {
        error_of(get(&h, stranger, &path).await, 404).await;
        error_of(get(&h, stranger, &response_path(&response, "/input_items")).await, 404).await;
        error_of(delete(&h, stranger, &path).await, 404).await;
        let turn = json!({"model": "claude", "previous_response_id": response["id"], "input": "leak it"});
        let error = error_of(post_responses(&h, stranger, &turn).await, 400).await;
        assert_eq!(error["code"], "previous_response_not_found");
    }
    assert_eq!(get_json(&h, &alice.secret, &path).await, response, "still there for its owner");

    let operators = create(&h, &operator.secret, &json!({"model": "gpt", "input": "mine"})).await;
    assert_eq!(get_json(&h, &operator.secret, &response_path(&operators, "")).await, operators);
    error_of(get(&h, &alice.secret, &response_path(&operators, "")).await, 404).await;
}

// ---------------------------------------------------------------------------------------------
// 6. Pass-through to Azure
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_azure_channel_gets_the_body_at_its_v1_responses_path_with_an_api_key_header() {
    let h = Harness::start(&providers()).await;
    let codex = codex_body("10_tool_exec_command_turn1.json", "azure");
    let plain = json!({"model": "azure", "input": "hi"});
    for body in [codex, plain] {
        let streamed = body["stream"] == true;
        let response = if streamed {
            assert_valid_stream(&stream(&h, ADMIN_KEY, &body).await, "azure")
        } else {
            create(&h, ADMIN_KEY, &body).await
        };
        assert_eq!(response["model"], "azure-deployment", "the upstream's own answer");

        let upstream = last_upstream(&h).await;
        assert_eq!(upstream["path"], "/openai/v1/responses");
        assert_eq!(upstream["query"], Value::Null, "the v1 API takes no api-version");
        assert_eq!(upstream["headers"]["api-key"], UPSTREAM_KEY);
        assert!(upstream["headers"].get("authorization").is_none(), "{}", upstream["headers"]);
        let mut expected = body.clone();
        expected["model"] = json!("azure-deployment");
        assert_eq!(upstream["body"], expected, "the body reaches Azure as sent, the deployment as the model");
    }
}
