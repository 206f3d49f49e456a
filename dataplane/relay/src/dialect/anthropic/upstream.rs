//! The HTTP request for an Anthropic upstream (`POST {base}/v1/messages`).
//!
//! Anthropic is stricter than the IR: roles must alternate, tool results live in user messages
//! and come before any other content there, thinking blocks need their signature, text blocks
//! must not be empty, `max_tokens` is required and must exceed the thinking budget, and thinking
//! excludes forced tool use, `top_k` and non-default temperatures. This module bends the request
//! to fit rather than let the upstream reject it.

use oblivious_config::{ApiKey, Channel};
use oblivious_core::Dialect;
use serde_json::{Map, Value, json};

use crate::dialect::UpstreamRequest;
use crate::dialect::content::{arguments_object, parse_data_url};
use crate::ir::{ChatRequest, Image, Message, Part, ReasoningConfig, Role, ToolChoice};

pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// `max_tokens` when the client gave none (Anthropic requires one).
const DEFAULT_MAX_TOKENS: u32 = 4096;
/// Anthropic's smallest thinking budget.
const MIN_THINKING_BUDGET: u32 = 1024;

pub fn build_upstream_request(
    channel: &Channel,
    base_url: &str,
    key: &ApiKey,
    request: &ChatRequest,
    upstream_model: &str,
) -> UpstreamRequest {
    let base = base_url.trim_end_matches('/');
    let url = if base.ends_with("/v1") { format!("{base}/messages") } else { format!("{base}/v1/messages") };

    let mut headers: Vec<(String, String)> = vec![
        ("x-api-key".into(), key.expose().to_string()),
        ("anthropic-version".into(), ANTHROPIC_VERSION.into()),
        ("content-type".into(), "application/json".into()),
    ];
    let original = request.original.as_ref().filter(|o| o.dialect == Dialect::Anthropic);
    let client_headers = original.map(|o| o.headers.as_slice()).unwrap_or_default().iter().map(|(n, v)| (n, v));
    for (name, value) in client_headers.chain(&channel.headers) {
        // The client's beta flags and version pass through; a channel header replaces either (and
        // any default of the same name, e.g. a newer anthropic-version).
        headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        headers.push((name.clone(), value.clone()));
    }

    // Fidelity: an Anthropic client's body goes as sent, with only the model replaced.
    if let Some(original) = original {
        let mut body = original.body.clone();
        body.insert("model".into(), json!(upstream_model));
        return UpstreamRequest { url, headers, body: Value::Object(body), dialect: Dialect::Anthropic };
    }

    let mut body = Map::new();
    body.insert("model".into(), json!(upstream_model));
    let system = request.system.iter().filter(|s| !s.is_empty()).cloned().collect::<Vec<_>>().join("\n\n");
    if !system.is_empty() {
        body.insert("system".into(), json!(system));
    }
    body.insert("messages".into(), Value::Array(render_messages(&request.messages)));

    // Forced tool use and thinking are mutually exclusive upstream; the forced call wins, since a
    // client forcing a tool usually depends on getting the call.
    let forced_tool =
        matches!(request.tool_choice, Some(ToolChoice::Required | ToolChoice::Tool(_))) && !request.tools.is_empty();
    let budget = if forced_tool { None } else { thinking_budget(request.reasoning.as_ref()) };
    let (max_tokens, budget) = fit_max_tokens(request.max_tokens, budget);
    body.insert("max_tokens".into(), json!(max_tokens));
    if let Some(budget) = budget {
        body.insert("thinking".into(), json!({"type": "enabled", "budget_tokens": budget}));
    }

    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut t = Map::new();
                t.insert("name".into(), json!(tool.name));
                if let Some(description) = &tool.description {
                    t.insert("description".into(), json!(description));
                }
                t.insert("input_schema".into(), input_schema(&tool.parameters));
                Value::Object(t)
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = &request.tool_choice {
            let choice = match choice {
                ToolChoice::Auto => json!({"type": "auto"}),
                ToolChoice::Required => json!({"type": "any"}),
                ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
                ToolChoice::None => json!({"type": "none"}),
            };
            body.insert("tool_choice".into(), choice);
        }
    }
    if !request.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(request.stop));
    }
    if budget.is_some() {
        // With thinking on, Anthropic accepts only temperature 1, top_p >= 0.95 and no top_k.
        if let Some(top_p) = request.top_p.filter(|p| *p >= 0.95) {
            body.insert("top_p".into(), json!(top_p.min(1.0)));
        }
    } else {
        if let Some(temperature) = request.temperature {
            body.insert("temperature".into(), json!(temperature.clamp(0.0, 1.0)));
        }
        if let Some(top_p) = request.top_p {
            body.insert("top_p".into(), json!(top_p));
        }
        if let Some(top_k) = request.top_k {
            body.insert("top_k".into(), json!(top_k));
        }
    }
    if let Some(user) = &request.user {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    body.insert("stream".into(), json!(request.stream));

    UpstreamRequest { url, headers, body: Value::Object(body), dialect: Dialect::Anthropic }
}

/// The thinking budget a reasoning request asks for; `None` is thinking off.
fn thinking_budget(reasoning: Option<&ReasoningConfig>) -> Option<u32> {
    match reasoning? {
        ReasoningConfig::BudgetTokens(0) => None,
        ReasoningConfig::BudgetTokens(budget) => Some((*budget).max(MIN_THINKING_BUDGET)),
        ReasoningConfig::Effort(effort) => match effort.as_str() {
            "none" | "minimal" => None,
            "low" => Some(1024),
            "high" => Some(16384),
            // medium and anything unknown.
            _ => Some(4096),
        },
    }
}

/// `max_tokens` and the thinking budget, made consistent: Anthropic needs `max_tokens > budget`.
/// A client cap large enough to hold a minimal budget and an answer is kept and the budget
/// shrinks to half of it; a smaller one grows by the budget.
fn fit_max_tokens(requested: Option<u32>, budget: Option<u32>) -> (u32, Option<u32>) {
    let Some(budget) = budget else {
        return (requested.unwrap_or(DEFAULT_MAX_TOKENS), None);
    };
    match requested {
        None => (budget.saturating_add(DEFAULT_MAX_TOKENS), Some(budget)),
        Some(max) if max > budget => (max, Some(budget)),
        Some(max) if max >= 2 * MIN_THINKING_BUDGET => (max, Some(max / 2)),
        Some(max) => (budget.saturating_add(max.max(1)), Some(budget)),
    }
}

/// Anthropic requires an object schema; anything else becomes an empty object schema.
fn input_schema(parameters: &Value) -> Value {
    match parameters {
        Value::Object(schema) if schema.contains_key("type") => parameters.clone(),
        Value::Object(schema) => {
            let mut schema = schema.clone();
            schema.insert("type".into(), json!("object"));
            Value::Object(schema)
        }
        _ => json!({"type": "object", "properties": {}}),
    }
}

/// IR messages -> Anthropic messages: tool messages become user messages, consecutive messages of
/// one role merge, and in a user message tool results come first.
fn render_messages(messages: &[Message]) -> Vec<Value> {
    let mut merged: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in messages {
        let role = match message.role {
            Role::Assistant => "assistant",
            Role::User | Role::Tool => "user",
        };
        let blocks: Vec<Value> = message.content.iter().filter_map(|part| render_part(message.role, part)).collect();
        if blocks.is_empty() {
            continue;
        }
        match merged.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => merged.push((role, blocks)),
        }
    }
    merged
        .into_iter()
        .map(|(role, mut blocks)| {
            if role == "user" {
                // Stable: results keep their order, other content keeps its order after them.
                blocks.sort_by_key(|b| b["type"] != "tool_result");
            }
            json!({"role": role, "content": blocks})
        })
        .collect()
}

fn render_part(role: Role, part: &Part) -> Option<Value> {
    match (role, part) {
        (_, Part::Text(text)) if text.is_empty() => None,
        (_, Part::Text(text)) => Some(json!({"type": "text", "text": text})),
        (Role::User | Role::Tool, Part::Image(image)) => Some(render_image(image)),
        (Role::User | Role::Tool, Part::ToolResult { tool_call_id, content, is_error, .. }) => {
            let mut block = json!({"type": "tool_result", "tool_use_id": tool_call_id});
            if !content.is_empty() {
                block["content"] = json!(content);
            }
            if *is_error {
                block["is_error"] = json!(true);
            }
            Some(block)
        }
        (Role::Assistant, Part::ToolCall { id, name, arguments }) => {
            Some(json!({"type": "tool_use", "id": id, "name": name, "input": arguments_object(arguments)}))
        }
        // Unsigned thinking (from another provider) would be rejected: drop it.
        (Role::Assistant, Part::Reasoning { text, signature: Some(signature) }) => {
            Some(json!({"type": "thinking", "thinking": text, "signature": signature}))
        }
        (Role::Assistant, Part::RedactedReasoning { data }) => Some(json!({"type": "redacted_thinking", "data": data})),
        // Anything else has no place in that role on Anthropic's side.
        _ => None,
    }
}

fn render_image(image: &Image) -> Value {
    match image {
        Image::Base64 { media_type, data } => {
            json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
        }
        Image::Url(url) => match parse_data_url(url) {
            Some((media_type, data)) => {
                json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
            }
            None => json!({"type": "image", "source": {"type": "url", "url": url}}),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::dialect::anthropic::parse_request;
    use crate::ir::ToolDefinition;
    use std::collections::BTreeMap;

    fn channel() -> Channel {
        Channel { name: "t/a".into(), provider: oblivious_config::Provider::Anthropic, ..Channel::default() }
    }

    fn build(request: &ChatRequest) -> UpstreamRequest {
        build_upstream_request(
            &channel(),
            "https://api.anthropic.com",
            &ApiKey("sk-ant-x".into()),
            request,
            "claude-up",
        )
    }

    fn user(text: &str) -> Message {
        Message { role: Role::User, content: vec![Part::Text(text.into())] }
    }

    #[test]
    fn url_and_headers() {
        let key = ApiKey("sk-ant-x".into());
        let request = ChatRequest::default();
        for (base, url) in [
            ("https://api.anthropic.com", "https://api.anthropic.com/v1/messages"),
            ("https://api.anthropic.com/", "https://api.anthropic.com/v1/messages"),
            ("https://gw.example/anthropic/v1", "https://gw.example/anthropic/v1/messages"),
            ("https://gw.example/anthropic/v1/", "https://gw.example/anthropic/v1/messages"),
        ] {
            assert_eq!(build_upstream_request(&channel(), base, &key, &request, "m").url, url);
        }
        let mut ch = channel();
        ch.headers =
            BTreeMap::from([("anthropic-beta".into(), "x".into()), ("Anthropic-Version".into(), "2024-01-01".into())]);
        let built = build_upstream_request(&ch, "https://a", &key, &request, "m");
        let get = |n: &str| {
            built.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str()).collect::<Vec<_>>()
        };
        assert_eq!(get("x-api-key"), ["sk-ant-x"]);
        assert_eq!(get("anthropic-version"), ["2024-01-01"]);
        assert_eq!(get("anthropic-beta"), ["x"]);
        assert_eq!(get("content-type"), ["application/json"]);
    }

    #[test]
    fn the_body_follows_anthropics_rules() {
        let request = ChatRequest {
            model: "public".into(),
            system: vec!["a".into(), "b".into()],
            messages: vec![
                user("one"),
                user("two"),
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Part::Reasoning { text: "unsigned".into(), signature: None },
                        Part::Text(String::new()),
                        Part::ToolCall { id: "c1".into(), name: "f".into(), arguments: "not json".into() },
                        Part::ToolCall { id: "c2".into(), name: "f".into(), arguments: "{\"x\":1}".into() },
                    ],
                },
                Message {
                    role: Role::Tool,
                    content: vec![Part::ToolResult {
                        tool_call_id: "c1".into(),
                        name: None,
                        content: "r1".into(),
                        is_error: true,
                    }],
                },
                user("text between"),
                Message {
                    role: Role::Tool,
                    content: vec![Part::ToolResult {
                        tool_call_id: "c2".into(),
                        name: None,
                        content: "r2".into(),
                        is_error: false,
                    }],
                },
                Message {
                    role: Role::User,
                    content: vec![Part::Image(Image::Url("data:image/jpeg;base64,/9j/".into()))],
                },
            ],
            tools: vec![ToolDefinition { name: "f".into(), description: None, parameters: json!({"properties": {}}) }],
            tool_choice: Some(ToolChoice::Tool("f".into())),
            temperature: Some(1.7),
            top_k: Some(5),
            stop: vec!["END".into()],
            user: Some("u1".into()),
            passthrough: Some((Dialect::OpenAi, Map::from_iter([("seed".to_string(), json!(1))]))),
            ..ChatRequest::default()
        };
        let body = build(&request).body;
        assert_eq!(body["model"], "claude-up");
        assert_eq!(body["system"], "a\n\nb");
        assert_eq!(body["max_tokens"], 4096);
        assert_eq!(body["temperature"], 1.0);
        assert_eq!(body["top_k"], 5);
        assert_eq!(body["stop_sequences"], json!(["END"]));
        assert_eq!(body["metadata"], json!({"user_id": "u1"}));
        assert_eq!(body["tool_choice"], json!({"type": "tool", "name": "f"}));
        assert_eq!(body["tools"][0], json!({"name": "f", "input_schema": {"type": "object", "properties": {}}}));
        assert_eq!(body["stream"], false);
        assert!(body.get("seed").is_none(), "OpenAI passthrough is not for Anthropic");
        let messages = body["messages"].as_array().unwrap();
        let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
        assert_eq!(messages[0]["content"].as_array().unwrap().len(), 2);
        assert_eq!(
            messages[1]["content"],
            json!([
                {"type": "tool_use", "id": "c1", "name": "f", "input": {}},
                {"type": "tool_use", "id": "c2", "name": "f", "input": {"x": 1}},
            ])
        );
        let last: Vec<&str> =
            messages[2]["content"].as_array().unwrap().iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(last, ["tool_result", "tool_result", "text", "image"]);
        assert_eq!(messages[2]["content"][0]["is_error"], true);
        assert!(messages[2]["content"][1].get("is_error").is_none());
        assert_eq!(
            messages[2]["content"][3]["source"],
            json!({"type": "base64", "media_type": "image/jpeg", "data": "/9j/"})
        );
    }

    #[test]
    fn thinking_budgets_fit_under_max_tokens_and_drop_incompatible_sampling() {
        let base = ChatRequest {
            messages: vec![user("x")],
            temperature: Some(0.2),
            top_k: Some(3),
            top_p: Some(0.97),
            ..ChatRequest::default()
        };
        let with = |reasoning: ReasoningConfig, max: Option<u32>| {
            build(&ChatRequest { reasoning: Some(reasoning), max_tokens: max, ..base.clone() }).body
        };
        let body = with(ReasoningConfig::Effort("high".into()), None);
        assert_eq!(body["thinking"], json!({"type": "enabled", "budget_tokens": 16384}));
        assert_eq!(body["max_tokens"], 16384 + 4096);
        assert!(body.get("temperature").is_none() && body.get("top_k").is_none());
        assert_eq!(body["top_p"], 0.97);
        let body = with(ReasoningConfig::Effort("low".into()), Some(8000));
        assert_eq!((body["max_tokens"].as_u64(), body["thinking"]["budget_tokens"].as_u64()), (Some(8000), Some(1024)));
        let body = with(ReasoningConfig::BudgetTokens(10_000), Some(8000));
        assert_eq!((body["max_tokens"].as_u64(), body["thinking"]["budget_tokens"].as_u64()), (Some(8000), Some(4000)));
        let body = with(ReasoningConfig::BudgetTokens(1500), Some(1000));
        assert_eq!((body["max_tokens"].as_u64(), body["thinking"]["budget_tokens"].as_u64()), (Some(2500), Some(1500)));
        let body = with(ReasoningConfig::BudgetTokens(0), Some(1000));
        assert!(body.get("thinking").is_none());
        assert_eq!(body["temperature"], 0.2);
        let body = with(ReasoningConfig::Effort("minimal".into()), None);
        assert!(body.get("thinking").is_none());
        // Forced tool use wins over thinking.
        let forced = ChatRequest {
            reasoning: Some(ReasoningConfig::BudgetTokens(2048)),
            tools: vec![ToolDefinition { name: "f".into(), description: None, parameters: json!({"type": "object"}) }],
            tool_choice: Some(ToolChoice::Required),
            ..base.clone()
        };
        let body = build(&forced).body;
        assert!(body.get("thinking").is_none());
        assert_eq!(body["tool_choice"], json!({"type": "any"}));
    }

    #[test]
    fn an_anthropic_request_survives_parse_and_rebuild_with_ids_and_signatures() {
        let client = json!({
            "model": "claude",
            "max_tokens": 3000,
            "system": "sys",
            "thinking": {"type": "enabled", "budget_tokens": 2000},
            "service_tier": "auto",
            "stream": true,
            "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "messages": [
                {"role": "user", "content": "weather in Paris?"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "I should call the tool.", "signature": "EqQBCkYIBxgCKkBsig=="},
                    {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va=="},
                    {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"city": "Paris"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9", "content": "15 degrees"},
                    {"type": "text", "text": "thanks, and London?"}
                ]}
            ]
        });
        let mut request = parse_request(client.to_string().as_bytes()).unwrap();
        // With the original body kept, it goes as sent (model replaced) ...
        let mut as_sent = client.clone();
        as_sent["model"] = json!("claude-up");
        assert_eq!(build(&request).body, as_sent);
        // ... and the IR alone (another dialect's client) rebuilds the same conversation.
        request.original = None;
        let body = build(&request).body;
        assert_eq!(body["thinking"], json!({"type": "enabled", "budget_tokens": 2000}));
        assert_eq!(body["max_tokens"], 3000);
        assert_eq!(body["stream"], true);
        assert_eq!(body["system"], "sys");
        assert_eq!(body["tools"], client["tools"]);
        let mut expected_messages = client["messages"].clone();
        expected_messages[0]["content"] = json!([{"type": "text", "text": "weather in Paris?"}]);
        assert_eq!(body["messages"], expected_messages);
        let call_id = &body["messages"][1]["content"][2]["id"];
        assert_eq!(&body["messages"][2]["content"][0]["tool_use_id"], call_id);
        assert_eq!(body["messages"][1]["content"][0]["signature"], "EqQBCkYIBxgCKkBsig==");
    }
}
