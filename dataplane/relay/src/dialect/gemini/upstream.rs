//! The HTTP request for a Gemini upstream: `POST {base}/v1beta/models/{model}:generateContent`,
//! or `:streamGenerateContent?alt=sse` when streaming. The key travels in `x-goog-api-key`, never
//! in the URL, where proxies and access logs would keep it.
//!
//! Gemini differs from the IR in ways this module bends the request around: tool results are
//! `functionResponse` parts in a user turn and must be objects; a call and its response pair by
//! order and name, not id; Gemini 3 rejects a turn of function calls without a thought signature
//! (calls replayed from another provider get Google's documented skip-validation value); stop
//! sequences are limited to five; and thinking budgets have per-model ranges.

use std::collections::HashMap;

use oblivious_config::{ApiKey, Channel};
use oblivious_core::Dialect;
use serde_json::{Map, Value, json};

use super::parts::{Audience, image_part, render_model_parts};
use crate::dialect::UpstreamRequest;
use crate::ir::{ChatRequest, Message, Part, ReasoningConfig, Role, ToolChoice};

/// Gemini accepts at most five stop sequences.
const MAX_STOP_SEQUENCES: usize = 5;
/// What Google documents as the signature for function calls Gemini 3 did not produce (history
/// from another model or provider): it skips signature validation.
const SKIP_SIGNATURE_VALIDATION: &str = "skip_thought_signature_validator";

pub fn build_upstream_request(
    channel: &Channel,
    base_url: &str,
    key: &ApiKey,
    request: &ChatRequest,
    upstream_model: &str,
) -> UpstreamRequest {
    let url = upstream_url(base_url, upstream_model, request.stream);
    let mut headers: Vec<(String, String)> =
        vec![("x-goog-api-key".into(), key.expose().to_string()), ("content-type".into(), "application/json".into())];
    for (name, value) in &channel.headers {
        headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        headers.push((name.clone(), value.clone()));
    }

    // The client's own Gemini fields, when it spoke Gemini (see `request`'s module doc).
    let client = match &request.passthrough {
        Some((Dialect::Gemini, extra)) => Some(extra),
        _ => None,
    };
    let client_sent =
        |section: &str, name: &str| client.and_then(|c| c.get(section)).and_then(|s| s.get(name)).is_some();
    let model_name = upstream_model.rsplit('/').next().unwrap_or(upstream_model);

    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(render_contents(&request.messages, needs_signatures(model_name))));
    let system: Vec<Value> =
        request.system.iter().filter(|s| !s.is_empty()).map(|text| json!({"text": text})).collect();
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": system}));
    }
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut declaration = Map::new();
                declaration.insert("name".into(), json!(tool.name));
                if let Some(description) = &tool.description {
                    declaration.insert("description".into(), json!(description));
                }
                // Full JSON Schema, as other dialects' clients write it; `parameters` would take
                // only Google's OpenAPI subset and reject `additionalProperties`, `$ref`, ...
                declaration.insert("parametersJsonSchema".into(), object_schema(&tool.parameters));
                Value::Object(declaration)
            })
            .collect();
        body.insert("tools".into(), json!([{"functionDeclarations": declarations}]));
        if let Some(choice) = &request.tool_choice
            && !client_sent("toolConfig", "functionCallingConfig")
        {
            let config = match choice {
                ToolChoice::Auto => json!({"mode": "AUTO"}),
                ToolChoice::None => json!({"mode": "NONE"}),
                ToolChoice::Required => json!({"mode": "ANY"}),
                ToolChoice::Tool(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
            };
            body.insert("toolConfig".into(), json!({"functionCallingConfig": config}));
        }
    }

    let mut generation = Map::new();
    if let Some(max_tokens) = request.max_tokens {
        generation.insert("maxOutputTokens".into(), json!(max_tokens));
    }
    if let Some(temperature) = request.temperature {
        generation.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = request.top_p {
        generation.insert("topP".into(), json!(top_p));
    }
    if let Some(top_k) = request.top_k {
        generation.insert("topK".into(), json!(top_k));
    }
    if !request.stop.is_empty() {
        let stop: Vec<&String> = request.stop.iter().take(MAX_STOP_SEQUENCES).collect();
        generation.insert("stopSequences".into(), json!(stop));
    }
    if !client_sent("generationConfig", "thinkingConfig")
        && let Some(thinking) = thinking_config(request.reasoning.as_ref(), model_name)
    {
        generation.insert("thinkingConfig".into(), thinking);
    }
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    if let Some(client) = client {
        merge_missing(&mut body, client);
    }

    UpstreamRequest { url, headers, body: Value::Object(body), dialect: Dialect::Gemini }
}

/// `{base}/v1beta/models/{model}:generateContent`, without repeating a version the base already
/// names. A model given as a resource name (`models/x`, `tunedModels/y`) is used as it is.
fn upstream_url(base_url: &str, model: &str, stream: bool) -> String {
    let base = base_url.trim_end_matches('/');
    let versioned = ["/v1beta", "/v1", "/v1alpha"].iter().any(|v| base.ends_with(v));
    let root = if versioned { base.to_string() } else { format!("{base}/v1beta") };
    let resource = if model.contains('/') { model.to_string() } else { format!("models/{model}") };
    if stream {
        format!("{root}/{resource}:streamGenerateContent?alt=sse")
    } else {
        format!("{root}/{resource}:generateContent")
    }
}

/// Gemini 3 and later validate thought signatures on function calls; earlier models do not.
fn needs_signatures(model: &str) -> bool {
    gemini_generation(model).is_some_and(|generation| generation >= 3)
}

/// `gemini-2.5-flash` -> 2, `gemini-3-pro-preview` -> 3; `None` for other names.
fn gemini_generation(model: &str) -> Option<u32> {
    let rest = model.strip_prefix("gemini-")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Reasoning -> `thinkingConfig`. Budgets are used as given, fitted to the model's range.
/// Efforts: Gemini 3 takes a level — Flash knows `minimal`/`low`/`medium`/`high`, Pro only
/// `low`/`high` (none/minimal/low -> `low`, medium/high -> `high`). Earlier models take a budget:
/// none -> 0 (off), minimal -> 512, low -> 1024, medium -> 8192, high -> 24576, anything else ->
/// -1 (dynamic). Thoughts are included whenever thinking is on, since the client asked for reasoning.
fn thinking_config(reasoning: Option<&ReasoningConfig>, model: &str) -> Option<Value> {
    let budget = match reasoning? {
        ReasoningConfig::BudgetTokens(budget) => i64::from(fit_budget(*budget, model)),
        ReasoningConfig::Effort(effort) if needs_signatures(model) => {
            let flash = model.contains("flash");
            let level = match effort.as_str() {
                "none" | "minimal" if flash => "minimal",
                "medium" if flash => "medium",
                "none" | "minimal" | "low" => "low",
                "medium" | "high" => "high",
                _ => return Some(json!({"includeThoughts": true})),
            };
            return Some(json!({"thinkingLevel": level, "includeThoughts": true}));
        }
        ReasoningConfig::Effort(effort) => match effort.as_str() {
            "none" => i64::from(fit_budget(0, model)),
            "minimal" => i64::from(fit_budget(512, model)),
            "low" => i64::from(fit_budget(1024, model)),
            "medium" => i64::from(fit_budget(8192, model)),
            "high" => i64::from(fit_budget(24576, model)),
            _ => -1,
        },
    };
    Some(if budget == 0 {
        json!({"thinkingBudget": 0})
    } else {
        json!({"thinkingBudget": budget, "includeThoughts": true})
    })
}

/// A budget within what the model accepts: 2.5 Pro thinks 128..=32768 tokens and cannot stop,
/// Flash-Lite 512..=24576 or off, Flash up to 24576 or off.
fn fit_budget(budget: u32, model: &str) -> u32 {
    let (min, max, can_stop) = if model.contains("pro") {
        (128, 32768, false)
    } else if model.contains("lite") {
        (512, 24576, true)
    } else {
        (1, 24576, true)
    };
    if budget == 0 && can_stop { 0 } else { budget.clamp(min, max) }
}

/// Gemini needs an object schema.
fn object_schema(parameters: &Value) -> Value {
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

/// IR messages -> Gemini contents: tool messages become user turns, consecutive turns of one
/// role merge, and in a user turn the function responses come first.
fn render_contents(messages: &[Message], signatures_required: bool) -> Vec<Value> {
    let call_names: HashMap<&str, &str> = messages
        .iter()
        .flat_map(|m| &m.content)
        .filter_map(|p| match p {
            Part::ToolCall { id, name, .. } => Some((id.as_str(), name.as_str())),
            _ => None,
        })
        .collect();
    let mut merged: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in messages {
        let (role, parts) = match message.role {
            Role::Assistant => ("model", render_model_parts(&message.content, Audience::Upstream)),
            Role::User | Role::Tool => {
                ("user", message.content.iter().filter_map(|p| render_user_part(p, &call_names)).collect())
            }
        };
        if parts.is_empty() {
            continue;
        }
        match merged.last_mut() {
            Some((last_role, last_parts)) if *last_role == role => last_parts.extend(parts),
            _ => merged.push((role, parts)),
        }
    }
    merged
        .into_iter()
        .map(|(role, mut parts)| {
            if role == "user" {
                // Stable: responses keep their order, other content keeps its order after them.
                parts.sort_by_key(|p| p.get("functionResponse").is_none());
            } else if signatures_required {
                sign_first_call(&mut parts);
            }
            json!({"role": role, "parts": parts})
        })
        .collect()
}

/// Gemini 3 wants the first call of each step signed; calls that never had a signature get the
/// documented skip-validation value.
fn sign_first_call(parts: &mut [Value]) {
    let calls = || parts.iter().filter(|p| p.get("functionCall").is_some());
    if calls().next().is_none() || calls().any(|p| p.get("thoughtSignature").is_some()) {
        return;
    }
    if let Some(first) = parts.iter_mut().find(|p| p.get("functionCall").is_some()) {
        first["thoughtSignature"] = json!(SKIP_SIGNATURE_VALIDATION);
    }
}

fn render_user_part(part: &Part, call_names: &HashMap<&str, &str>) -> Option<Value> {
    match part {
        Part::Text(text) if text.is_empty() => None,
        Part::Text(text) => Some(json!({"text": text})),
        Part::Image(image) => Some(image_part(image)),
        Part::ToolResult { tool_call_id, name, content, is_error } => {
            let name = name.as_deref().or_else(|| call_names.get(tool_call_id.as_str()).copied()).unwrap_or("unknown");
            Some(json!({"functionResponse": {"name": name, "response": response_object(content, *is_error)}}))
        }
        Part::ToolCall { .. } | Part::Reasoning { .. } | Part::RedactedReasoning { .. } => None,
    }
}

/// A tool result as the object Gemini requires: a JSON object as it is; other JSON or plain
/// text under `result`, or under `error` for a failed call (Google's suggested keys).
fn response_object(content: &str, is_error: bool) -> Value {
    let value = match serde_json::from_str::<Value>(content) {
        Ok(object @ Value::Object(_)) => return object,
        Ok(other) => other,
        Err(_) => Value::String(content.to_string()),
    };
    if is_error { json!({"error": value}) } else { json!({"result": value}) }
}

/// Adds the client's fields where the built body has none: objects merge key by key (built
/// values win), arrays are appended to (extra tools such as `googleSearch`).
fn merge_missing(target: &mut Map<String, Value>, extra: &Map<String, Value>) {
    for (name, value) in extra {
        match (target.get_mut(name), value) {
            (None, _) => {
                target.insert(name.clone(), value.clone());
            }
            (Some(Value::Object(existing)), Value::Object(more)) => merge_missing(existing, more),
            (Some(Value::Array(existing)), Value::Array(more)) => existing.extend(more.iter().cloned()),
            (Some(_), _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::dialect::IngressHints;
    use crate::dialect::gemini::parse_request;
    use crate::ir::{Image, ToolDefinition};
    use std::collections::BTreeMap;

    fn channel() -> Channel {
        Channel { name: "t/g".into(), provider: oblivious_config::Provider::Gemini, ..Channel::default() }
    }

    const KEY: &str = "AIzaSyTESTKEY0123456789";

    fn build_for(request: &ChatRequest, model: &str) -> UpstreamRequest {
        build_upstream_request(
            &channel(),
            "https://generativelanguage.googleapis.com",
            &ApiKey(KEY.into()),
            request,
            model,
        )
    }

    fn build(request: &ChatRequest) -> UpstreamRequest {
        build_for(request, "gemini-2.5-flash")
    }

    fn user(text: &str) -> Message {
        Message { role: Role::User, content: vec![Part::Text(text.into())] }
    }

    #[test]
    fn the_url_names_the_model_and_method_and_the_key_goes_only_in_a_header() {
        let key = ApiKey(KEY.into());
        for (base, model, stream, url) in [
            (
                "https://generativelanguage.googleapis.com",
                "gemini-2.5-flash",
                false,
                "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
            ),
            (
                "https://generativelanguage.googleapis.com/",
                "gemini-2.5-flash",
                true,
                "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            ),
            (
                "https://gw.example/google/v1beta/",
                "m",
                false,
                "https://gw.example/google/v1beta/models/m:generateContent",
            ),
            ("https://gw.example/google/v1", "m", false, "https://gw.example/google/v1/models/m:generateContent"),
            ("http://u", "models/m", false, "http://u/v1beta/models/m:generateContent"),
            ("http://u", "tunedModels/mine", true, "http://u/v1beta/tunedModels/mine:streamGenerateContent?alt=sse"),
        ] {
            let request = ChatRequest { stream, ..ChatRequest::default() };
            let built = build_upstream_request(&channel(), base, &key, &request, model);
            assert_eq!(built.url, url);
            assert!(!built.url.contains(KEY) && !built.url.contains("key="));
            assert!(!built.body.to_string().contains(KEY));
        }
        let mut ch = channel();
        ch.headers = BTreeMap::from([("X-Goog-Api-Key".into(), "override".into()), ("x-extra".into(), "1".into())]);
        let built = build_upstream_request(&ch, "http://u", &key, &ChatRequest::default(), "m");
        let get = |n: &str| {
            built.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str()).collect::<Vec<_>>()
        };
        assert_eq!(get("x-goog-api-key"), ["override"]);
        assert_eq!(get("x-extra"), ["1"]);
        assert_eq!(get("content-type"), ["application/json"]);
        let plain = build_upstream_request(&channel(), "http://u", &key, &ChatRequest::default(), "m");
        assert_eq!(plain.headers[0], ("x-goog-api-key".to_string(), KEY.to_string()));
    }

    #[test]
    fn the_body_follows_geminis_rules() {
        let request = ChatRequest {
            model: "public".into(),
            system: vec!["a".into(), String::new(), "b".into()],
            messages: vec![
                user("one"),
                Message {
                    role: Role::User,
                    content: vec![Part::Image(Image::Url("data:image/png;base64,iVBO".into()))],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Part::Reasoning { text: "unsigned".into(), signature: None },
                        Part::Reasoning { text: "signed".into(), signature: Some("s0".into()) },
                        Part::Text(String::new()),
                        Part::Reasoning { text: String::new(), signature: Some("s1".into()) },
                        Part::ToolCall { id: "c1".into(), name: "f".into(), arguments: "not json".into() },
                        Part::ToolCall { id: "c2".into(), name: "g".into(), arguments: "{\"x\":1}".into() },
                    ],
                },
                user("text between"),
                Message {
                    role: Role::Tool,
                    content: vec![
                        Part::ToolResult {
                            tool_call_id: "c1".into(),
                            name: None,
                            content: "15 degrees".into(),
                            is_error: false,
                        },
                        Part::ToolResult {
                            tool_call_id: "c2".into(),
                            name: None,
                            content: "[1,2]".into(),
                            is_error: true,
                        },
                    ],
                },
                Message {
                    role: Role::Tool,
                    content: vec![Part::ToolResult {
                        tool_call_id: "c3".into(),
                        name: Some("h".into()),
                        content: "{\"ok\":true}".into(),
                        is_error: false,
                    }],
                },
            ],
            tools: vec![ToolDefinition {
                name: "f".into(),
                description: Some("F".into()),
                parameters: json!({"properties": {}}),
            }],
            tool_choice: Some(ToolChoice::Tool("f".into())),
            max_tokens: Some(100),
            temperature: Some(1.5),
            top_p: Some(0.5),
            top_k: Some(5),
            stop: (1..=7).map(|n| format!("S{n}")).collect(),
            user: Some("u1".into()),
            passthrough: Some((Dialect::OpenAi, Map::from_iter([("seed".to_string(), json!(1))]))),
            ..ChatRequest::default()
        };
        let body = build(&request).body;
        assert_eq!(body["systemInstruction"], json!({"parts": [{"text": "a"}, {"text": "b"}]}));
        assert_eq!(
            body["contents"],
            json!([
                {"role": "user", "parts": [{"text": "one"}, {"inlineData": {"mimeType": "image/png", "data": "iVBO"}}]},
                {"role": "model", "parts": [
                    {"text": "signed", "thought": true, "thoughtSignature": "s0"},
                    {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "s1"},
                    {"functionCall": {"name": "g", "args": {"x": 1}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "f", "response": {"result": "15 degrees"}}},
                    {"functionResponse": {"name": "g", "response": {"error": [1, 2]}}},
                    {"functionResponse": {"name": "h", "response": {"ok": true}}},
                    {"text": "text between"}
                ]}
            ])
        );
        assert_eq!(
            body["tools"],
            json!([{"functionDeclarations": [{"name": "f", "description": "F", "parametersJsonSchema": {"type": "object", "properties": {}}}]}])
        );
        assert_eq!(
            body["toolConfig"],
            json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}})
        );
        assert_eq!(
            body["generationConfig"],
            json!({"maxOutputTokens": 100, "temperature": 1.5, "topP": 0.5, "topK": 5, "stopSequences": ["S1", "S2", "S3", "S4", "S5"]})
        );
        assert!(body.get("seed").is_none(), "OpenAI passthrough is not for Gemini");
        assert!(body.get("model").is_none() && body.get("stream").is_none());
    }

    #[test]
    fn thinking_budgets_and_efforts_fit_each_model() {
        let with = |reasoning: ReasoningConfig, model: &str| {
            build_for(
                &ChatRequest { reasoning: Some(reasoning), messages: vec![user("x")], ..ChatRequest::default() },
                model,
            )
            .body["generationConfig"]["thinkingConfig"]
                .clone()
        };
        let budget = |n: i64| json!({"thinkingBudget": n, "includeThoughts": true});
        assert_eq!(with(ReasoningConfig::BudgetTokens(2048), "gemini-2.5-flash"), budget(2048));
        assert_eq!(with(ReasoningConfig::BudgetTokens(64000), "gemini-2.5-flash"), budget(24576));
        assert_eq!(with(ReasoningConfig::BudgetTokens(64000), "gemini-2.5-pro"), budget(32768));
        assert_eq!(with(ReasoningConfig::BudgetTokens(0), "gemini-2.5-flash"), json!({"thinkingBudget": 0}));
        assert_eq!(with(ReasoningConfig::BudgetTokens(0), "gemini-2.5-pro"), budget(128));
        assert_eq!(with(ReasoningConfig::BudgetTokens(100), "gemini-2.5-flash-lite"), budget(512));
        assert_eq!(with(ReasoningConfig::Effort("low".into()), "gemini-2.5-flash"), budget(1024));
        assert_eq!(with(ReasoningConfig::Effort("medium".into()), "gemini-2.5-flash"), budget(8192));
        assert_eq!(with(ReasoningConfig::Effort("high".into()), "gemini-2.5-pro"), budget(24576));
        assert_eq!(with(ReasoningConfig::Effort("none".into()), "gemini-2.5-flash"), json!({"thinkingBudget": 0}));
        assert_eq!(with(ReasoningConfig::Effort("xhigh".into()), "gemini-2.5-flash"), budget(-1));
        let level = |l: &str| json!({"thinkingLevel": l, "includeThoughts": true});
        assert_eq!(with(ReasoningConfig::Effort("medium".into()), "gemini-3-pro-preview"), level("high"));
        assert_eq!(with(ReasoningConfig::Effort("minimal".into()), "gemini-3-pro-preview"), level("low"));
        assert_eq!(with(ReasoningConfig::Effort("medium".into()), "gemini-3-flash-preview"), level("medium"));
        assert_eq!(with(ReasoningConfig::Effort("minimal".into()), "models/gemini-3-flash-preview"), level("minimal"));
        let none = build(&ChatRequest { messages: vec![user("x")], ..ChatRequest::default() }).body;
        assert!(none.get("generationConfig").is_none());
    }

    #[test]
    fn gemini_3_gets_a_skip_signature_for_calls_that_never_had_one() {
        let request = ChatRequest {
            messages: vec![
                user("x"),
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Part::ToolCall { id: "a".into(), name: "f".into(), arguments: "{}".into() },
                        Part::ToolCall { id: "b".into(), name: "f".into(), arguments: "{}".into() },
                    ],
                },
                Message {
                    role: Role::Tool,
                    content: vec![Part::ToolResult {
                        tool_call_id: "a".into(),
                        name: None,
                        content: "1".into(),
                        is_error: false,
                    }],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Part::Reasoning { text: String::new(), signature: Some("real".into()) },
                        Part::ToolCall { id: "c".into(), name: "f".into(), arguments: "{}".into() },
                    ],
                },
                Message { role: Role::Assistant, content: vec![Part::Text("no calls".into())] },
            ],
            ..ChatRequest::default()
        };
        let body = build_for(&request, "gemini-3-pro-preview").body;
        let signatures = |turn: usize| -> Vec<Value> {
            body["contents"][turn]["parts"].as_array().unwrap().iter().map(|p| p["thoughtSignature"].clone()).collect()
        };
        assert_eq!(signatures(1), [json!(SKIP_SIGNATURE_VALIDATION), Value::Null]);
        assert_eq!(signatures(3), [json!("real"), Value::Null]);
        let older = build_for(&request, "gemini-2.5-flash").body;
        assert_eq!(older["contents"][1]["parts"][0].get("thoughtSignature"), None);
    }

    #[test]
    fn a_gemini_request_survives_parse_and_rebuild_with_signatures_on_its_calls() {
        let client = json!({
            "systemInstruction": {"parts": [{"text": "sys"}]},
            "contents": [
                {"role": "user", "parts": [{"text": "weather in Paris?"}]},
                {"role": "model", "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "CiQB0e2Kb7Bv"},
                    {"functionCall": {"name": "get_time", "args": {"city": "Paris"}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"result": "15 degrees"}}},
                    {"functionResponse": {"name": "get_time", "response": {"result": "noon"}}}
                ]},
                {"role": "model", "parts": [{"text": "It is 15 degrees at noon.", "thoughtSignature": "Eq0B"}]},
                {"role": "user", "parts": [{"text": "thanks"}]}
            ],
            "tools": [
                {"functionDeclarations": [{"name": "get_weather", "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}}}]},
                {"googleSearch": {}}
            ],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather", "get_time"]}},
            "generationConfig": {"temperature": 0.3, "responseMimeType": "text/plain", "thinkingConfig": {"thinkingBudget": -1, "includeThoughts": true}},
            "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_ONLY_HIGH"}]
        });
        let hints = IngressHints { model_from_path: Some("gemini-2.5-pro"), stream_from_path: true };
        let request = parse_request(client.to_string().as_bytes(), hints).unwrap();
        let built = build_for(&request, "gemini-2.5-pro");
        assert!(built.url.ends_with("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"));
        let body = built.body;
        assert_eq!(body["contents"], client["contents"]);
        assert_eq!(body["systemInstruction"], client["systemInstruction"]);
        assert_eq!(
            body["tools"],
            json!([
                {"functionDeclarations": [{"name": "get_weather", "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}}}]},
                {"googleSearch": {}}
            ])
        );
        assert_eq!(body["toolConfig"], client["toolConfig"]);
        assert_eq!(body["generationConfig"], client["generationConfig"]);
        assert_eq!(body["safetySettings"], client["safetySettings"]);
    }
}
