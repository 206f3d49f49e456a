//! Ingress: an OpenAI Chat Completions request body -> [`ChatRequest`].
//!
//! Walked as a `serde_json::Value` so every error names the field at fault
//! (`messages[2].content[0].type`), like OpenAI's own validation. Fields the IR has no place for
//! (`response_format`, `seed`, `n`, `logprobs`, ...) are kept as passthrough for an OpenAI-family
//! upstream.

use oblivious_core::{ApiError, Dialect};
use serde_json::{Map, Value};

use crate::dialect::content::parse_data_url;
use crate::dialect::fields::{
    expected, invalid, number, object, optional, positive_u32, required, string, string_array,
};
use crate::ir::{ChatRequest, Image, Message, Part, ReasoningConfig, Role, ToolChoice, ToolDefinition};

/// Top-level fields the IR understands.
const KNOWN_FIELDS: &[&str] = &[
    "model",
    "messages",
    "tools",
    "tool_choice",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "stream",
    "stream_options",
    "reasoning_effort",
    "user",
    // Legacy function calling is accepted as tools.
    "functions",
    "function_call",
];

/// Parses a client's `POST /v1/chat/completions` body.
pub fn parse_request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_request(format!("We could not parse the JSON body of your request: {e}")))?;
    let Value::Object(root) = value else {
        return Err(ApiError::invalid_request("The request body must be a JSON object."));
    };
    let mut request = ChatRequest { model: string(&root, "model", "")?.to_string(), ..ChatRequest::default() };
    if request.model.is_empty() {
        return Err(invalid("model", "must not be empty"));
    }
    let (system, messages) = parse_messages(required(&root, "messages", "")?)?;
    request.system = system;
    request.messages = messages;
    if let Some(tools) = optional(&root, "tools") {
        request.tools = parse_tools(tools)?;
    } else if let Some(functions) = optional(&root, "functions") {
        request.tools = parse_functions(functions)?;
    }
    if let Some(choice) = optional(&root, "tool_choice").or_else(|| optional(&root, "function_call")) {
        request.tool_choice = Some(parse_tool_choice(choice)?);
    }
    let max_tokens = optional(&root, "max_completion_tokens").map(|v| (v, "max_completion_tokens"));
    if let Some((value, path)) = max_tokens.or_else(|| optional(&root, "max_tokens").map(|v| (v, "max_tokens"))) {
        request.max_tokens = Some(positive_u32(value, path)?);
    }
    if let Some(v) = optional(&root, "temperature") {
        request.temperature = Some(number(v, "temperature")?);
    }
    if let Some(v) = optional(&root, "top_p") {
        request.top_p = Some(number(v, "top_p")?);
    }
    if let Some(v) = optional(&root, "stop") {
        request.stop = match v {
            Value::String(s) => vec![s.clone()],
            other => string_array(other, "stop")?,
        };
    }
    if let Some(v) = optional(&root, "stream") {
        request.stream = v.as_bool().ok_or_else(|| expected("stream", "a boolean", v))?;
    }
    if let Some(options) = optional(&root, "stream_options") {
        let options = object(options, "stream_options")?;
        if let Some(v) = optional(options, "include_usage") {
            request.include_usage =
                v.as_bool().ok_or_else(|| expected("stream_options.include_usage", "a boolean", v))?;
        }
    }
    if let Some(v) = optional(&root, "reasoning_effort") {
        let effort = v.as_str().ok_or_else(|| expected("reasoning_effort", "a string", v))?;
        request.reasoning = Some(ReasoningConfig::Effort(effort.to_string()));
    }
    if let Some(v) = optional(&root, "user") {
        request.user = Some(v.as_str().ok_or_else(|| expected("user", "a string", v))?.to_string());
    }
    let passthrough: Map<String, Value> =
        root.into_iter().filter(|(name, _)| !KNOWN_FIELDS.contains(&name.as_str())).collect();
    if !passthrough.is_empty() {
        request.passthrough = Some((Dialect::OpenAi, passthrough));
    }
    Ok(request)
}

/// System/developer messages become `system`; the rest IR messages. Consecutive `tool`
/// messages merge into one tool-result turn (what Anthropic and Gemini need).
fn parse_messages(value: &Value) -> Result<(Vec<String>, Vec<Message>), ApiError> {
    let items = value.as_array().ok_or_else(|| expected("messages", "an array of messages", value))?;
    if items.is_empty() {
        return Err(invalid("messages", "must contain at least one message"));
    }
    let mut system = Vec::new();
    let mut messages: Vec<Message> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("messages[{i}]");
        let message = object(item, &path)?;
        match string(message, "role", &path)? {
            "system" | "developer" => system.push(text_only(message, &path)?),
            "user" => messages.push(Message { role: Role::User, content: user_content(message, &path)? }),
            "assistant" => {
                messages.push(Message { role: Role::Assistant, content: assistant_content(message, &path)? })
            }
            "tool" | "function" => {
                let result = tool_result(message, &path, &messages)?;
                match messages.last_mut() {
                    Some(last) if last.role == Role::Tool => last.content.push(result),
                    _ => messages.push(Message { role: Role::Tool, content: vec![result] }),
                }
            }
            other => {
                return Err(invalid(
                    format!("{path}.role"),
                    format!("unknown role `{other}`; expected system, developer, user, assistant or tool"),
                ));
            }
        }
    }
    Ok((system, messages))
}

/// The text of a message whose content must be text (string or text parts).
fn text_only(message: &Map<String, Value>, path: &str) -> Result<String, ApiError> {
    let content_path = format!("{path}.content");
    match optional(message, "content") {
        None => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (j, part) in parts.iter().enumerate() {
                let part_path = format!("{content_path}[{j}]");
                let part = object(part, &part_path)?;
                match string(part, "type", &part_path)? {
                    "text" => text.push_str(string(part, "text", &part_path)?),
                    other => {
                        return Err(invalid(
                            format!("{part_path}.type"),
                            format!("`{other}` parts are not allowed here; use text"),
                        ));
                    }
                }
            }
            Ok(text)
        }
        Some(other) => Err(expected(&content_path, "a string or an array of content parts", other)),
    }
}

fn user_content(message: &Map<String, Value>, path: &str) -> Result<Vec<Part>, ApiError> {
    let content_path = format!("{path}.content");
    match required(message, "content", path)? {
        Value::String(text) => Ok(vec![Part::Text(text.clone())]),
        Value::Array(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                let part_path = format!("{content_path}[{j}]");
                let part = object(part, &part_path)?;
                match string(part, "type", &part_path)? {
                    "text" => out.push(Part::Text(string(part, "text", &part_path)?.to_string())),
                    "image_url" => {
                        let image_path = format!("{part_path}.image_url");
                        let url = match required(part, "image_url", &part_path)? {
                            Value::String(url) => url.as_str(),
                            Value::Object(image) => string(image, "url", &image_path)?,
                            other => return Err(expected(&image_path, "an object with a url", other)),
                        };
                        out.push(Part::Image(image_from_url(url)));
                    }
                    other => {
                        return Err(invalid(
                            format!("{part_path}.type"),
                            format!("unsupported content part `{other}`; supported: text, image_url"),
                        ));
                    }
                }
            }
            Ok(out)
        }
        other => Err(expected(&content_path, "a string or an array of content parts", other)),
    }
}

/// A `data:` URL becomes inline base64; anything else stays a URL.
fn image_from_url(url: &str) -> Image {
    match parse_data_url(url) {
        Some((media_type, data)) => Image::Base64 { media_type: media_type.to_string(), data: data.to_string() },
        None => Image::Url(url.to_string()),
    }
}

fn assistant_content(message: &Map<String, Value>, path: &str) -> Result<Vec<Part>, ApiError> {
    let mut out = Vec::new();
    // DeepSeek-style reasoning sent back with the turn.
    if let Some(Value::String(reasoning)) = optional(message, "reasoning_content")
        && !reasoning.is_empty()
    {
        out.push(Part::Reasoning { text: reasoning.clone(), signature: None });
    }
    let text = text_only(message, path)?;
    if !text.is_empty() {
        out.push(Part::Text(text));
    }
    if let Some(calls) = optional(message, "tool_calls") {
        let calls_path = format!("{path}.tool_calls");
        let calls = calls.as_array().ok_or_else(|| expected(&calls_path, "an array", calls))?;
        for (k, call) in calls.iter().enumerate() {
            let call_path = format!("{calls_path}[{k}]");
            let call = object(call, &call_path)?;
            let id = string(call, "id", &call_path)?.to_string();
            let function_path = format!("{call_path}.function");
            let function = object(required(call, "function", &call_path)?, &function_path)?;
            let name = string(function, "name", &function_path)?.to_string();
            let arguments = match optional(function, "arguments") {
                None => "{}".to_string(),
                Some(Value::String(text)) => text.clone(),
                Some(other) => other.to_string(),
            };
            out.push(Part::ToolCall { id, name, arguments });
        }
    } else if let Some(call) = optional(message, "function_call") {
        let call_path = format!("{path}.function_call");
        let call = object(call, &call_path)?;
        let name = string(call, "name", &call_path)?.to_string();
        let arguments = optional(call, "arguments").and_then(Value::as_str).unwrap_or("{}").to_string();
        out.push(Part::ToolCall { id: format!("call_{name}"), name, arguments });
    }
    Ok(out)
}

/// A `tool` message; its function name comes from the matching earlier call (Gemini needs it).
fn tool_result(message: &Map<String, Value>, path: &str, earlier: &[Message]) -> Result<Part, ApiError> {
    let tool_call_id = match optional(message, "tool_call_id") {
        Some(id) => id.as_str().ok_or_else(|| expected(&format!("{path}.tool_call_id"), "a string", id))?.to_string(),
        // Legacy `function` role: linked by name.
        None => format!("call_{}", string(message, "name", path)?),
    };
    let name = earlier.iter().rev().flat_map(|m| &m.content).find_map(|part| match part {
        Part::ToolCall { id, name, .. } if *id == tool_call_id => Some(name.clone()),
        _ => None,
    });
    let content = text_only(message, path)?;
    Ok(Part::ToolResult { tool_call_id, name, content, is_error: false })
}

fn parse_tools(value: &Value) -> Result<Vec<ToolDefinition>, ApiError> {
    let items = value.as_array().ok_or_else(|| expected("tools", "an array of tools", value))?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("tools[{i}]");
        let tool = object(item, &path)?;
        match string(tool, "type", &path)? {
            "function" => {}
            other => {
                return Err(invalid(
                    format!("{path}.type"),
                    format!("unsupported tool type `{other}`; expected `function`"),
                ));
            }
        }
        let function_path = format!("{path}.function");
        out.push(parse_function(object(required(tool, "function", &path)?, &function_path)?, &function_path)?);
    }
    Ok(out)
}

fn parse_functions(value: &Value) -> Result<Vec<ToolDefinition>, ApiError> {
    let items = value.as_array().ok_or_else(|| expected("functions", "an array", value))?;
    items
        .iter()
        .enumerate()
        .map(|(i, f)| parse_function(object(f, &format!("functions[{i}]"))?, &format!("functions[{i}]")))
        .collect()
}

fn parse_function(function: &Map<String, Value>, path: &str) -> Result<ToolDefinition, ApiError> {
    Ok(ToolDefinition {
        name: string(function, "name", path)?.to_string(),
        description: optional(function, "description").and_then(Value::as_str).map(str::to_string),
        parameters: optional(function, "parameters")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
    })
}

/// A `tool_choice` given as a string, in both OpenAI APIs.
pub(crate) fn tool_choice_mode(mode: &str) -> Result<ToolChoice, ApiError> {
    match mode {
        "auto" => Ok(ToolChoice::Auto),
        "none" => Ok(ToolChoice::None),
        "required" => Ok(ToolChoice::Required),
        other => Err(invalid("tool_choice", format!("unknown value `{other}`; expected auto, none or required"))),
    }
}

fn parse_tool_choice(value: &Value) -> Result<ToolChoice, ApiError> {
    match value {
        Value::String(mode) => tool_choice_mode(mode),
        Value::Object(choice) => {
            let name = match optional(choice, "function") {
                Some(function) => string(object(function, "tool_choice.function")?, "name", "tool_choice.function")?,
                None => string(choice, "name", "tool_choice")?,
            };
            Ok(ToolChoice::Tool(name.to_string()))
        }
        other => Err(expected("tool_choice", "a string or an object", other)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<ChatRequest, ApiError> {
        parse_request(body.to_string().as_bytes())
    }

    #[test]
    fn a_full_request_maps_to_the_ir_with_passthrough() {
        let request = parse(json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                    "function": {"name": "look", "arguments": "{\"q\":1}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "a cat"},
                {"role": "user", "content": "thanks"}
            ],
            "tools": [{"type": "function", "function": {"name": "look", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "look"}},
            "max_completion_tokens": 100, "stop": "END", "stream": true,
            "stream_options": {"include_usage": true}, "reasoning_effort": "low",
            "response_format": {"type": "json_object"}, "seed": 7
        }))
        .unwrap();
        assert_eq!(request.system, ["Be brief."]);
        assert_eq!(request.messages.len(), 4);
        assert_eq!(
            request.messages[0].content[1],
            Part::Image(Image::Base64 { media_type: "image/png".into(), data: "AAAA".into() })
        );
        assert!(matches!(&request.messages[2].content[0], Part::ToolResult { name: Some(n), .. } if n == "look"));
        assert_eq!(request.tool_choice, Some(ToolChoice::Tool("look".into())));
        assert_eq!(
            (request.max_tokens, request.stop.clone(), request.stream, request.include_usage),
            (Some(100), vec!["END".into()], true, true)
        );
        assert_eq!(request.reasoning, Some(ReasoningConfig::Effort("low".into())));
        let (dialect, passthrough) = request.passthrough.unwrap();
        assert_eq!(dialect, Dialect::OpenAi);
        assert!(passthrough.contains_key("response_format") && passthrough.contains_key("seed"));
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        let param = |body: Value| parse(body).unwrap_err().param.unwrap_or_default();
        assert_eq!(param(json!({"model": "m"})), "messages");
        assert_eq!(param(json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]})), "messages[0].role");
        assert_eq!(
            param(json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "audio"}]}]})),
            "messages[0].content[0].type"
        );
        assert_eq!(
            param(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0})),
            "max_tokens"
        );
        assert!(parse_request(b"{not json").is_err());
    }
}
