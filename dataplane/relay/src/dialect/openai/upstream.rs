//! The HTTP request sent to an OpenAI-family upstream, honouring the channel's provider
//! (`openai`, `azure-openai`, `openai-compatible`) and quirks.
//!
//! `max_tokens` policy: OpenAI and Azure get `max_completion_tokens` (what reasoning models
//! require) unless the channel sets `legacyMaxTokens`; OpenAI-compatible servers (DeepSeek,
//! vLLM, Ollama, Qwen, ...) get `max_tokens`, the only spelling all of them know.
//! Reasoning budgets map to efforts: up to 1,024 tokens `low`, up to 8,192 `medium`, more `high`
//! (0 is `minimal`). Reasoning parts of earlier turns are never sent back: OpenAI rejects them
//! and DeepSeek documents that `reasoning_content` must not be returned.

use oblivious_config::{ApiKey, Channel, Provider};
use serde_json::{Map, Value, json};

use crate::dialect::UpstreamRequest;
use crate::ir::{ChatRequest, Dialect, Image, Message, Part, ReasoningConfig, Role, ToolChoice};

/// The Azure OpenAI `api-version` used when the channel names none.
pub const AZURE_DEFAULT_API_VERSION: &str = "2024-10-21";

pub fn build_upstream_request(
    channel: &Channel,
    base_url: &str,
    key: &ApiKey,
    request: &ChatRequest,
    upstream_model: &str,
) -> UpstreamRequest {
    let (url, auth) = match channel.provider {
        Provider::AzureOpenai => {
            let version = channel.api_version.as_deref().unwrap_or(AZURE_DEFAULT_API_VERSION);
            (
                format!("{base_url}/openai/deployments/{upstream_model}/chat/completions?api-version={version}"),
                ("api-key".to_string(), key.expose().to_string()),
            )
        }
        _ => {
            (format!("{base_url}/chat/completions"), ("authorization".to_string(), format!("Bearer {}", key.expose())))
        }
    };
    let mut headers = vec![auth];
    headers.extend(channel.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
    UpstreamRequest { url, headers, body: build_body(channel, request, upstream_model), dialect: Dialect::OpenAi }
}

fn build_body(channel: &Channel, request: &ChatRequest, upstream_model: &str) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(upstream_model));
    body.insert("messages".into(), Value::Array(render_messages(request, channel.quirks.no_system_role)));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut function = json!({"name": tool.name, "parameters": tool.parameters});
                if let Some(description) = &tool.description {
                    function["description"] = json!(description);
                }
                json!({"type": "function", "function": function})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &request.tool_choice {
        let choice = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
        };
        body.insert("tool_choice".into(), choice);
    }
    if let Some(max) = request.max_tokens {
        let modern =
            matches!(channel.provider, Provider::Openai | Provider::AzureOpenai) && !channel.quirks.legacy_max_tokens;
        body.insert(if modern { "max_completion_tokens" } else { "max_tokens" }.into(), json!(max));
    }
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = request.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if !request.stop.is_empty() {
        body.insert("stop".into(), json!(request.stop));
    }
    if let Some(reasoning) = &request.reasoning {
        body.insert("reasoning_effort".into(), json!(effort_of(reasoning)));
    }
    if let Some(user) = &request.user {
        body.insert("user".into(), json!(user));
    }
    if request.stream {
        body.insert("stream".into(), json!(true));
        // Always ask for usage, whatever the client asked: billing needs it (NOTES.md "Usage").
        if !channel.quirks.rejects_stream_options {
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    if let Some((Dialect::OpenAi, extra)) = &request.passthrough {
        for (name, value) in extra {
            body.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    Value::Object(body)
}

fn effort_of(reasoning: &ReasoningConfig) -> String {
    match reasoning {
        ReasoningConfig::Effort(effort) => effort.clone(),
        ReasoningConfig::BudgetTokens(0) => "minimal".into(),
        ReasoningConfig::BudgetTokens(n) if *n <= 1024 => "low".into(),
        ReasoningConfig::BudgetTokens(n) if *n <= 8192 => "medium".into(),
        ReasoningConfig::BudgetTokens(_) => "high".into(),
    }
}

fn render_messages(request: &ChatRequest, no_system_role: bool) -> Vec<Value> {
    let mut out = Vec::new();
    let system = request.system.join("\n\n");
    let mut fold_into_first_user = (no_system_role && !system.is_empty()).then_some(system.clone());
    if !no_system_role && !system.is_empty() {
        out.push(json!({"role": "system", "content": system}));
    }
    for message in &request.messages {
        match message.role {
            Role::User => {
                let mut content = user_parts(message);
                if let Some(system) = fold_into_first_user.take() {
                    content.insert(0, json!({"type": "text", "text": system}));
                }
                out.push(json!({"role": "user", "content": compact(content)}));
            }
            Role::Assistant => out.push(assistant_message(message)),
            Role::Tool => {
                for part in &message.content {
                    if let Part::ToolResult { tool_call_id, content, .. } = part {
                        out.push(json!({"role": "tool", "tool_call_id": tool_call_id, "content": content}));
                    }
                }
            }
        }
    }
    out
}

fn user_parts(message: &Message) -> Vec<Value> {
    message
        .content
        .iter()
        .filter_map(|part| match part {
            Part::Text(text) => Some(json!({"type": "text", "text": text})),
            Part::Image(Image::Url(url)) => Some(json!({"type": "image_url", "image_url": {"url": url}})),
            Part::Image(Image::Base64 { media_type, data }) => {
                Some(json!({"type": "image_url", "image_url": {"url": format!("data:{media_type};base64,{data}")}}))
            }
            // A tool result inside a user turn (from another dialect) travels as text.
            Part::ToolResult { content, .. } => Some(json!({"type": "text", "text": content})),
            _ => None,
        })
        .collect()
}

/// A lone text part is sent as a plain string, which every compatible server accepts.
fn compact(parts: Vec<Value>) -> Value {
    match parts.as_slice() {
        [single] if single["type"] == "text" => single["text"].clone(),
        _ => Value::Array(parts),
    }
}

fn assistant_message(message: &Message) -> Value {
    let mut text = String::new();
    let mut calls = Vec::new();
    for part in &message.content {
        match part {
            Part::Text(t) => text.push_str(t),
            Part::ToolCall { id, name, arguments } => {
                calls.push(json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}));
            }
            _ => {}
        }
    }
    let mut out = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }});
    if !calls.is_empty() {
        out["tool_calls"] = Value::Array(calls);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use oblivious_config::Quirks;

    fn channel(provider: Provider) -> Channel {
        Channel { name: "t/c".into(), provider, api_keys: vec![ApiKey("sk-k".into())], ..Channel::default() }
    }

    fn request() -> ChatRequest {
        ChatRequest {
            model: "public".into(),
            system: vec!["Be brief.".into()],
            messages: vec![Message { role: Role::User, content: vec![Part::Text("hi".into())] }],
            max_tokens: Some(50),
            stream: true,
            ..ChatRequest::default()
        }
    }

    #[test]
    fn openai_gets_bearer_auth_usage_in_streams_and_max_completion_tokens() {
        let built = build_upstream_request(
            &channel(Provider::Openai),
            "https://api.openai.com/v1",
            &ApiKey("sk-k".into()),
            &request(),
            "gpt-4o",
        );
        assert_eq!(built.url, "https://api.openai.com/v1/chat/completions");
        assert!(built.headers.contains(&("authorization".into(), "Bearer sk-k".into())));
        assert_eq!(built.body["model"], "gpt-4o");
        assert_eq!(built.body["stream_options"]["include_usage"], true);
        assert_eq!(built.body["max_completion_tokens"], 50);
        assert_eq!(built.body["messages"][0], json!({"role": "system", "content": "Be brief."}));
        assert!(!built.url.contains("sk-k"));
    }

    #[test]
    fn azure_uses_its_deployment_url_and_api_key_header() {
        let mut azure = channel(Provider::AzureOpenai);
        azure.api_version = Some("2025-01-01".into());
        let built =
            build_upstream_request(&azure, "https://x.openai.azure.com", &ApiKey("k".into()), &request(), "dep");
        assert_eq!(
            built.url,
            "https://x.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2025-01-01"
        );
        assert!(built.headers.contains(&("api-key".into(), "k".into())));
    }

    #[test]
    fn compatible_servers_get_their_quirks() {
        let mut compatible = channel(Provider::OpenaiCompatible);
        compatible.quirks = Quirks { rejects_stream_options: true, legacy_max_tokens: false, no_system_role: true };
        let built = build_upstream_request(&compatible, "http://vllm:8000/v1", &ApiKey("k".into()), &request(), "qwen");
        assert!(built.body.get("stream_options").is_none());
        assert_eq!(built.body["max_tokens"], 50);
        assert_eq!(built.body["messages"][0]["role"], "user", "no system role: folded into the first user turn");
        assert_eq!(built.body["messages"][0]["content"][0]["text"], "Be brief.");
    }

    #[test]
    fn budgets_map_to_efforts() {
        assert_eq!(effort_of(&ReasoningConfig::BudgetTokens(1024)), "low");
        assert_eq!(effort_of(&ReasoningConfig::BudgetTokens(4000)), "medium");
        assert_eq!(effort_of(&ReasoningConfig::BudgetTokens(32000)), "high");
    }
}
