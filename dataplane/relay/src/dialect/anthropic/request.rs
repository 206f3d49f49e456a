//! Ingress: an Anthropic Messages request body -> [`ChatRequest`].
//!
//! The body is walked as a `serde_json::Value` so that every error names the exact field at
//! fault (`messages[1].content[0].type`), the way Anthropic's own validation does.
//!
//! The whole body is also kept as the request's `original`: an Anthropic upstream gets it as sent
//! (model replaced), so this parse matters only for translations and billing. It refuses only
//! what is malformed (a wrong JSON type, a missing required field), never a feature: what the IR
//! cannot carry is dropped from the translation by the table in the relay's NOTES.md
//! ("Anthropic ingress"): server tools, document and other non-text/image blocks,
//! `context_management`, `cache_control`, `container`, `mcp_servers`, `service_tier`.

use oblivious_core::{ApiError, Dialect};
use serde_json::{Map, Value};

use crate::ir::OriginalRequest;

use super::signature_of;
use crate::dialect::fields::{
    block_type, describe, expected, invalid, number, object, optional, positive_u32, required, string, string_array,
    unsigned_u32,
};
use crate::ir::{ChatRequest, Image, Message, Part, ReasoningConfig, Role, ToolChoice, ToolDefinition};

/// Parses a client's `POST /v1/messages` body.
pub fn parse_request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_request(format!("The request body is not valid JSON: {e}")))?;
    let Value::Object(root) = value else {
        return Err(ApiError::invalid_request(format!(
            "The request body must be a JSON object, got {}.",
            describe(&value)
        )));
    };

    let mut request = ChatRequest { include_usage: true, ..ChatRequest::default() };
    request.model = string(&root, "model", "")?.to_string();
    if request.model.is_empty() {
        return Err(invalid("model", "must not be empty"));
    }
    let max_tokens = required(&root, "max_tokens", "")?;
    request.max_tokens = Some(positive_u32(max_tokens, "max_tokens")?);
    if let Some(system) = optional(&root, "system") {
        request.system = parse_system(system, "system")?;
    }
    request.messages = parse_messages(required(&root, "messages", "")?, &mut request.system)?;
    if let Some(tools) = optional(&root, "tools") {
        request.tools = parse_tools(tools)?;
    }
    if let Some(choice) = optional(&root, "tool_choice") {
        request.tool_choice = Some(parse_tool_choice(choice)?);
    }
    if let Some(v) = optional(&root, "temperature") {
        request.temperature = Some(number(v, "temperature")?);
    }
    if let Some(v) = optional(&root, "top_p") {
        request.top_p = Some(number(v, "top_p")?);
    }
    if let Some(v) = optional(&root, "top_k") {
        request.top_k = Some(unsigned_u32(v, "top_k")?);
    }
    if let Some(v) = optional(&root, "stop_sequences") {
        request.stop = string_array(v, "stop_sequences")?;
    }
    if let Some(v) = optional(&root, "stream") {
        request.stream = v.as_bool().ok_or_else(|| expected("stream", "a boolean", v))?;
    }
    if let Some(v) = optional(&root, "thinking") {
        request.reasoning = parse_thinking(v)?;
    }
    // `output_config.effort` (low | medium | high | max) is the effort adaptive thinking (and
    // newer models generally) spend; it stands in for a budget when none was given.
    if let Some(effort) = root.get("output_config").and_then(|c| c.get("effort")).and_then(Value::as_str)
        && !matches!(request.reasoning, Some(ReasoningConfig::BudgetTokens(_)))
    {
        let effort = if effort == "max" { "high" } else { effort };
        request.reasoning = Some(ReasoningConfig::Effort(effort.to_string()));
    }
    if let Some(v) = optional(&root, "metadata") {
        let metadata = v.as_object().ok_or_else(|| expected("metadata", "an object", v))?;
        // Claude Code sends a JSON document as this string; it is passed on as it is.
        if let Some(user) = optional(metadata, "user_id") {
            request.user =
                Some(user.as_str().ok_or_else(|| expected("metadata.user_id", "a string", user))?.to_string());
        }
    }

    request.original = Some(OriginalRequest { dialect: Dialect::Anthropic, body: root, headers: Vec::new() });
    Ok(request)
}

/// The system prompt (a string or text blocks) at `path`.
fn parse_system(system: &Value, path: &str) -> Result<Vec<String>, ApiError> {
    match system {
        Value::String(text) if text.is_empty() => Ok(Vec::new()),
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(blocks) => {
            let mut out = Vec::with_capacity(blocks.len());
            for (i, block) in blocks.iter().enumerate() {
                let path = format!("{path}[{i}]");
                let block = object(block, &path)?;
                let kind = block_type(block, &path)?;
                if kind != "text" {
                    return Err(invalid(
                        format!("{path}.type"),
                        format!("system blocks must be `text` blocks, got `{kind}`"),
                    ));
                }
                out.push(string(block, "text", &path)?.to_string());
            }
            Ok(out)
        }
        other => Err(expected(path, "a string or an array of text blocks", other)),
    }
}

/// The conversation. A `system`-role message inside it (Claude Code sends them, beta
/// `mid-conversation-system`) joins the system instructions, since the IR's providers have no
/// system role mid-conversation.
fn parse_messages(value: &Value, system: &mut Vec<String>) -> Result<Vec<Message>, ApiError> {
    let items = value.as_array().ok_or_else(|| expected("messages", "an array of messages", value))?;
    if items.is_empty() {
        return Err(invalid("messages", "must contain at least one message"));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("messages[{i}]");
        let message = object(item, &path)?;
        let role = match string(message, "role", &path)? {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "system" => {
                system.extend(parse_system(required(message, "content", &path)?, &format!("{path}.content"))?);
                continue;
            }
            other => {
                return Err(invalid(
                    format!("{path}.role"),
                    format!("unknown role `{other}`; expected `user`, `assistant` or `system`"),
                ));
            }
        };
        let content_path = format!("{path}.content");
        match required(message, "content", &path)? {
            Value::String(text) => out.push(Message { role, content: vec![Part::Text(text.clone())] }),
            Value::Array(blocks) => parse_blocks(role, blocks, &content_path, &mut out)?,
            other => return Err(expected(&content_path, "a string or an array of content blocks", other)),
        }
    }
    Ok(out)
}

/// Parses one message's content blocks into one or more IR messages. A user message's
/// `tool_result` blocks become `Role::Tool` messages; when they are mixed with other blocks the
/// message is split in order (tool results, then the rest). Images inside a tool result, which the
/// IR's string result cannot hold, follow the results in a user message.
fn parse_blocks(role: Role, blocks: &[Value], path: &str, out: &mut Vec<Message>) -> Result<(), ApiError> {
    let mut groups: Vec<Message> = Vec::new();
    let mut deferred_images: Vec<Part> = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let path = format!("{path}[{j}]");
        let block = object(block, &path)?;
        let kind = block_type(block, &path)?;
        let wrong_role = |allowed: &str| {
            invalid(format!("{path}.type"), format!("`{kind}` blocks are only allowed in {allowed} messages"))
        };
        let (part_role, part) = match kind {
            "text" => (role, Part::Text(string(block, "text", &path)?.to_string())),
            "image" if role == Role::User => match parse_image(block, &path)? {
                Some(image) => (Role::User, Part::Image(image)),
                None => continue,
            },
            "image" => return Err(wrong_role("user")),
            "tool_result" if role == Role::User => (Role::Tool, parse_tool_result(block, &path, &mut deferred_images)?),
            "tool_result" => return Err(wrong_role("user")),
            "tool_use" if role == Role::Assistant => {
                let id = string(block, "id", &path)?.to_string();
                let name = string(block, "name", &path)?.to_string();
                let arguments = match optional(block, "input") {
                    None => "{}".to_string(),
                    Some(input @ Value::Object(_)) => input.to_string(),
                    Some(other) => return Err(expected(&format!("{path}.input"), "an object", other)),
                };
                (Role::Assistant, Part::ToolCall { id, name, arguments })
            }
            "thinking" if role == Role::Assistant => {
                let text = string(block, "thinking", &path)?.to_string();
                if let Some(sig) = optional(block, "signature")
                    && !sig.is_string()
                {
                    return Err(expected(&format!("{path}.signature"), "a string", sig));
                }
                (Role::Assistant, Part::Reasoning { text, signature: signature_of(block.get("signature")) })
            }
            "redacted_thinking" if role == Role::Assistant => {
                (Role::Assistant, Part::RedactedReasoning { data: string(block, "data", &path)?.to_string() })
            }
            "tool_use" | "thinking" | "redacted_thinking" => return Err(wrong_role("assistant")),
            "document" => match document_text(block) {
                Some(text) => (role, Part::Text(text)),
                None => continue,
            },
            // Server tool calls and results, search results, container uploads, ...: an Anthropic
            // upstream gets them in the original body; a translation has nothing to map them to.
            _ => continue,
        };
        if part_role != Role::Tool {
            for image in deferred_images.drain(..) {
                push_part(&mut groups, Role::User, image);
            }
        }
        push_part(&mut groups, part_role, part);
    }
    for image in deferred_images {
        push_part(&mut groups, Role::User, image);
    }
    if groups.is_empty() {
        groups.push(Message { role, content: Vec::new() });
    }
    out.extend(groups);
    Ok(())
}

fn push_part(groups: &mut Vec<Message>, role: Role, part: Part) {
    match groups.last_mut() {
        Some(last) if last.role == role => last.content.push(part),
        _ => groups.push(Message { role, content: vec![part] }),
    }
}

/// An image by data or URL; None for a source a translation cannot carry (a Files API `file`).
fn parse_image(block: &Map<String, Value>, path: &str) -> Result<Option<Image>, ApiError> {
    let source_path = format!("{path}.source");
    let source = object(required(block, "source", path)?, &source_path)?;
    match string(source, "type", &source_path)? {
        "base64" => Ok(Some(Image::Base64 {
            media_type: string(source, "media_type", &source_path)?.to_string(),
            data: string(source, "data", &source_path)?.to_string(),
        })),
        "url" => Ok(Some(Image::Url(string(source, "url", &source_path)?.to_string()))),
        _ => Ok(None),
    }
}

/// The text of a `document` block with a plain-text source (`{"type": "text", "data": ...}`),
/// titled when it has a title; None for PDFs, files and other sources a translation cannot carry.
fn document_text(block: &Map<String, Value>) -> Option<String> {
    let source = block.get("source")?;
    if source.get("type")?.as_str()? != "text" {
        return None;
    }
    let data = source.get("data")?.as_str()?;
    match block.get("title").and_then(Value::as_str) {
        Some(title) => Some(format!("{title}\n\n{data}")),
        None => Some(data.to_string()),
    }
}

fn parse_tool_result(block: &Map<String, Value>, path: &str, images: &mut Vec<Part>) -> Result<Part, ApiError> {
    let tool_call_id = string(block, "tool_use_id", path)?.to_string();
    let is_error = match optional(block, "is_error") {
        None => false,
        Some(v) => v.as_bool().ok_or_else(|| expected(&format!("{path}.is_error"), "a boolean", v))?,
    };
    let content_path = format!("{path}.content");
    let content = match optional(block, "content") {
        None => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(items)) => {
            let mut texts = Vec::new();
            for (k, item) in items.iter().enumerate() {
                let item_path = format!("{content_path}[{k}]");
                let item = object(item, &item_path)?;
                match block_type(item, &item_path)? {
                    "text" => texts.push(string(item, "text", &item_path)?.to_string()),
                    "image" => images.extend(parse_image(item, &item_path)?.map(Part::Image)),
                    // Search results, documents: not carried by a translation.
                    _ => {}
                }
            }
            texts.join("\n")
        }
        Some(other) => return Err(expected(&content_path, "a string or an array of content blocks", other)),
    };
    Ok(Part::ToolResult { tool_call_id, name: None, content, is_error })
}

fn parse_tools(value: &Value) -> Result<Vec<ToolDefinition>, ApiError> {
    let items = value.as_array().ok_or_else(|| expected("tools", "an array of tools", value))?;
    let mut tools = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("tools[{i}]");
        let tool = object(item, &path)?;
        if let Some(kind) = optional(tool, "type") {
            match kind.as_str() {
                Some("custom") => {}
                // A server tool (`web_search_20250305`, `bash_20250124`, ...) runs at Anthropic:
                // it reaches an Anthropic upstream in the original body, and nothing else.
                Some(_) => continue,
                None => return Err(expected(&format!("{path}.type"), "a string", kind)),
            }
        }
        let name = string(tool, "name", &path)?.to_string();
        let description = match optional(tool, "description") {
            None => None,
            Some(v) => {
                Some(v.as_str().ok_or_else(|| expected(&format!("{path}.description"), "a string", v))?.to_string())
            }
        };
        let schema = required(tool, "input_schema", &path)?;
        if !schema.is_object() {
            return Err(expected(&format!("{path}.input_schema"), "a JSON Schema object", schema));
        }
        tools.push(ToolDefinition { name, description, parameters: schema.clone() });
    }
    Ok(tools)
}

fn parse_tool_choice(value: &Value) -> Result<ToolChoice, ApiError> {
    let choice = object(value, "tool_choice")?;
    match string(choice, "type", "tool_choice")? {
        "auto" => Ok(ToolChoice::Auto),
        "any" => Ok(ToolChoice::Required),
        "none" => Ok(ToolChoice::None),
        "tool" => Ok(ToolChoice::Tool(string(choice, "name", "tool_choice")?.to_string())),
        other => Err(invalid(
            "tool_choice.type",
            format!("unknown tool_choice type `{other}`; expected `auto`, `any`, `tool` or `none`"),
        )),
    }
}

fn parse_thinking(value: &Value) -> Result<Option<ReasoningConfig>, ApiError> {
    let thinking = object(value, "thinking")?;
    match string(thinking, "type", "thinking")? {
        "enabled" => {
            let budget = required(thinking, "budget_tokens", "thinking")?;
            Ok(Some(ReasoningConfig::BudgetTokens(unsigned_u32(budget, "thinking.budget_tokens")?)))
        }
        // `adaptive`: the model decides how much to think, guided by `output_config.effort`
        // (read by the caller); other future types likewise leave the provider its default.
        _ => Ok(None),
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

    fn param_of(body: Value) -> String {
        let err = parse(body).expect_err("must fail");
        assert_eq!(err.status(), 400);
        err.param.unwrap_or_default()
    }

    fn base() -> Value {
        json!({"model": "claude", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]})
    }

    fn with(field: &str, value: Value) -> Value {
        let mut body = base();
        body[field] = value;
        body
    }

    #[test]
    fn malformed_json_is_a_400_with_a_position() {
        let err = parse_request(b"{\"model\": \"x\",\n  oops}").unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.message.contains("line 2 column 3"), "{}", err.message);
        assert!(parse_request(b"[1]").unwrap_err().message.contains("JSON object"));
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        assert_eq!(param_of(json!({"max_tokens": 1, "messages": []})), "model");
        assert_eq!(param_of(json!({"model": "m", "messages": [{"role": "user", "content": "x"}]})), "max_tokens");
        assert_eq!(param_of(json!({"model": "m", "max_tokens": 1})), "messages");
        assert_eq!(param_of(with("max_tokens", json!(0))), "max_tokens");
        assert_eq!(param_of(with("max_tokens", json!("10"))), "max_tokens");
        assert_eq!(param_of(with("messages", json!([]))), "messages");
        assert_eq!(param_of(with("messages", json!([{"role": "robot", "content": "x"}]))), "messages[0].role");
        assert_eq!(param_of(with("messages", json!([{"role": "user"}]))), "messages[0].content");
        assert_eq!(
            param_of(with("messages", json!([{"role": "user", "content": [{"type": "text", "text": 5}]}]))),
            "messages[0].content[0].text"
        );
        assert_eq!(
            param_of(with("messages", json!([{"role": "user", "content": [{"type": "image", "source": 1}]}]))),
            "messages[0].content[0].source"
        );
        assert_eq!(
            param_of(with("messages", json!([{"role": "user", "content": [{"type": "tool_result"}]}]))),
            "messages[0].content[0].tool_use_id"
        );
        assert_eq!(
            param_of(with(
                "messages",
                json!([{"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "b", "input": {}}]}])
            )),
            "messages[0].content[0].type"
        );
        assert_eq!(
            param_of(with(
                "messages",
                json!([{"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "b", "input": "{}"}]}])
            )),
            "messages[0].content[0].input"
        );
        assert_eq!(param_of(with("system", json!([{"type": "image"}]))), "system[0].type");
        assert_eq!(param_of(with("tools", json!([{"name": "t"}]))), "tools[0].input_schema");
        assert_eq!(param_of(with("tools", json!([{"type": 5, "name": "t"}]))), "tools[0].type");
        assert_eq!(param_of(with("tool_choice", json!({"type": "tool"}))), "tool_choice.name");
        assert_eq!(param_of(with("tool_choice", json!({"type": "maybe"}))), "tool_choice.type");
        assert_eq!(param_of(with("messages", json!([{"role": "system", "content": 5}]))), "messages[0].content");
        assert_eq!(param_of(with("thinking", json!({"type": "enabled"}))), "thinking.budget_tokens");
        assert_eq!(param_of(with("stop_sequences", json!(["a", 1]))), "stop_sequences[1]");
        assert_eq!(param_of(with("metadata", json!({"user_id": 7}))), "metadata.user_id");
        let err = parse(with("messages", json!([{"role": "robot", "content": "x"}]))).unwrap_err();
        assert!(err.message.starts_with("messages[0].role: "), "{}", err.message);
    }

    #[test]
    fn a_full_request_maps_to_the_ir() {
        let body = json!({
            "model": "claude-sonnet-4",
            "max_tokens": 2048,
            "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "be kind"}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
                ]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig1"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "text", "text": "calling"},
                    {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": 1}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "is_error": true},
                    {"type": "text", "text": "and?"}
                ]}
            ],
            "tools": [{"name": "lookup", "description": "Looks up", "input_schema": {"type": "object"}}, {"type": "custom", "name": "x", "input_schema": {}}],
            "tool_choice": {"type": "any"},
            "temperature": 0.5, "top_p": 0.9, "top_k": 40,
            "stop_sequences": ["END"],
            "stream": true,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "metadata": {"user_id": "u-1"},
            "service_tier": "auto"
        });
        let body_sent = body.clone();
        let r = parse(body).unwrap();
        assert_eq!(r.model, "claude-sonnet-4");
        assert_eq!(r.max_tokens, Some(2048));
        assert_eq!(r.system, ["be brief", "be kind"]);
        assert!(r.include_usage && r.stream);
        assert_eq!(r.tool_choice, Some(ToolChoice::Required));
        assert_eq!((r.temperature, r.top_p, r.top_k), (Some(0.5), Some(0.9), Some(40)));
        assert_eq!(r.stop, ["END"]);
        assert_eq!(r.reasoning, Some(ReasoningConfig::BudgetTokens(1024)));
        assert_eq!(r.user.as_deref(), Some("u-1"));
        assert_eq!(r.tools.len(), 2);
        let original = r.original.clone().unwrap();
        assert_eq!(original.dialect, Dialect::Anthropic);
        assert_eq!(Value::Object(original.body), body_sent, "the original is the body as sent");

        assert_eq!(r.messages.len(), 4, "{:#?}", r.messages);
        assert_eq!(
            r.messages[0].content[1],
            Part::Image(Image::Base64 { media_type: "image/png".into(), data: "iVBO".into() })
        );
        assert_eq!(r.messages[0].content[2], Part::Image(Image::Url("https://example.com/a.png".into())));
        assert_eq!(
            r.messages[1].content,
            vec![
                Part::Reasoning { text: "hmm".into(), signature: Some("sig1".into()) },
                Part::RedactedReasoning { data: "opaque".into() },
                Part::Text("calling".into()),
                Part::ToolCall { id: "toolu_1".into(), name: "lookup".into(), arguments: r#"{"q":1}"#.into() },
            ]
        );
        assert_eq!(r.messages[2].role, Role::Tool);
        assert_eq!(
            r.messages[2].content,
            vec![Part::ToolResult {
                tool_call_id: "toolu_1".into(),
                name: None,
                content: "a\nb".into(),
                is_error: true
            }]
        );
        assert_eq!(r.messages[3], Message { role: Role::User, content: vec![Part::Text("and?".into())] });
    }

    #[test]
    fn mixed_user_blocks_split_in_order_and_tool_result_images_follow_the_results() {
        let body = with(
            "messages",
            json!([{"role": "user", "content": [
                {"type": "text", "text": "before"},
                {"type": "tool_result", "tool_use_id": "a", "content": [{"type": "image", "source": {"type": "url", "url": "u"}}]},
                {"type": "tool_result", "tool_use_id": "b", "content": "ok"},
                {"type": "text", "text": "after"}
            ]}]),
        );
        let r = parse(body).unwrap();
        let shape: Vec<(Role, usize)> = r.messages.iter().map(|m| (m.role, m.content.len())).collect();
        assert_eq!(shape, [(Role::User, 1), (Role::Tool, 2), (Role::User, 2)]);
        assert_eq!(r.messages[2].content[0], Part::Image(Image::Url("u".into())));
        assert_eq!(r.messages[2].content[1], Part::Text("after".into()));
    }

    #[test]
    fn nulls_are_absent_and_disabled_thinking_is_no_reasoning() {
        let mut body = with("thinking", json!({"type": "disabled"}));
        body["temperature"] = Value::Null;
        body["system"] = json!("");
        let r = parse(body).unwrap();
        assert_eq!((r.reasoning, r.temperature), (None, None));
        assert!(r.system.is_empty() && r.passthrough.is_none());
    }

    /// The NOTES.md "Anthropic ingress" table: what a translation keeps and drops.
    #[test]
    fn features_without_an_ir_equivalent_are_dropped_from_the_translation_never_refused() {
        let body = json!({
            "model": "m", "max_tokens": 100,
            "system": [{"type": "text", "text": "base", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "q", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
                    {"type": "document", "title": "Notes", "source": {"type": "text", "media_type": "text/plain", "data": "d"}},
                    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
                    {"type": "image", "source": {"type": "file", "file_id": "file_1"}},
                    {"type": "search_result", "source": "s", "title": "t", "content": []}
                ]},
                {"role": "system", "content": "mid-conversation note"},
                {"role": "assistant", "content": [
                    {"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {}},
                    {"type": "web_search_tool_result", "tool_use_id": "srv_1", "content": []},
                    {"type": "text", "text": "found"}
                ]}
            ],
            "tools": [
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
                {"name": "Bash", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}
            ],
            "thinking": {"type": "adaptive"},
            "output_config": {"effort": "max"},
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            "metadata": {"user_id": "{\"device_id\":\"d\"}"}
        });
        let r = parse(body).unwrap();
        assert_eq!(r.system, ["base", "mid-conversation note"]);
        assert_eq!(r.messages.len(), 2);
        assert_eq!(r.messages[0].content, vec![Part::Text("q".into()), Part::Text("Notes\n\nd".into())]);
        assert_eq!(r.messages[1].content, vec![Part::Text("found".into())]);
        assert_eq!(r.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["Bash"]);
        assert_eq!(r.reasoning, Some(ReasoningConfig::Effort("high".into())));
        assert_eq!(r.user.as_deref(), Some("{\"device_id\":\"d\"}"));
    }

    #[test]
    fn an_explicit_budget_wins_over_effort_and_adaptive_thinking_alone_leaves_the_default() {
        let mut body = with("thinking", json!({"type": "enabled", "budget_tokens": 2000}));
        body["output_config"] = json!({"effort": "low"});
        assert_eq!(parse(body).unwrap().reasoning, Some(ReasoningConfig::BudgetTokens(2000)));
        assert_eq!(parse(with("thinking", json!({"type": "adaptive"}))).unwrap().reasoning, None);
    }

    /// Every request Claude Code was recorded sending (e2e/clients/fixtures) parses.
    #[test]
    fn every_recorded_claude_code_request_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e/clients/fixtures/claude-code");
        let mut parsed = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let fixture: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            if fixture["method"] != "POST" {
                continue;
            }
            let r = parse(fixture["body"].clone()).unwrap_or_else(|e| panic!("{}: {}", path.display(), e.message));
            assert!(!r.messages.is_empty() && !r.system.is_empty(), "{}", path.display());
            parsed += 1;
        }
        assert!(parsed >= 10, "only {parsed} fixtures found in {}", dir.display());
    }
}
