//! Ingress: a Responses request body -> [`ChatRequest`], for a translation. The body itself is
//! kept whole as the original request, which an OpenAI or Azure channel gets as it is; only
//! translations read it through this parser, mapping what chat dialects can say and dropping the
//! rest by the table in NOTES.md ("Responses API"): hosted tools (`web_search`, `tool_search`,
//! `file_search`, MCP, ...) and their items, `item_reference`, file inputs.

use oblivious_core::{ApiError, Dialect};
use serde_json::{Map, Value, json};

use super::flat_name;
use crate::dialect::content::parse_data_url;
use crate::dialect::fields::{block_type, expected, invalid, number, object, optional, positive_u32, string};
use crate::dialect::openai::tool_choice_mode;
use crate::ir::{
    ChatRequest, Image, Message, OriginalRequest, Part, ReasoningConfig, Role, ToolChoice, ToolDefinition,
};

/// Top-level fields a chat-completions channel gets under the same name when translated.
const CHAT_PASSTHROUGH: &[&str] = &["parallel_tool_calls", "prompt_cache_key", "service_tier", "seed"];

/// The `input` of a Responses body as a list of items: a string is one user message.
pub fn input_items(root: &Map<String, Value>) -> Result<Vec<Value>, ApiError> {
    match optional(root, "input") {
        None => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![json!({
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]
        })]),
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(other) => Err(expected("input", "a string or an array of input items", other)),
    }
}

/// Parses a client's Responses body (with `previous_response_id` already resolved into `input`).
pub fn parse_request(root: Map<String, Value>) -> Result<ChatRequest, ApiError> {
    let model = string(&root, "model", "")?.to_string();
    if model.is_empty() {
        return Err(invalid("model", "must not be empty"));
    }
    if optional(&root, "background").and_then(Value::as_bool) == Some(true) {
        return Err(invalid("background", "background responses are not supported by this relay; omit it"));
    }
    let mut request = ChatRequest { model, include_usage: true, ..ChatRequest::default() };
    if let Some(instructions) = optional(&root, "instructions") {
        let text = instructions.as_str().ok_or_else(|| expected("instructions", "a string", instructions))?;
        request.system.push(text.to_string());
    }
    let items = input_items(&root)?;
    parse_items(&items, &mut request)?;
    if let Some(tools) = optional(&root, "tools") {
        request.tools = parse_tools(tools)?;
    }
    if let Some(choice) = optional(&root, "tool_choice") {
        request.tool_choice = Some(parse_tool_choice(choice)?);
    }
    if let Some(v) = optional(&root, "max_output_tokens") {
        request.max_tokens = Some(positive_u32(v, "max_output_tokens")?);
    }
    if let Some(v) = optional(&root, "temperature") {
        request.temperature = Some(number(v, "temperature")?);
    }
    if let Some(v) = optional(&root, "top_p") {
        request.top_p = Some(number(v, "top_p")?);
    }
    if let Some(v) = optional(&root, "stream") {
        request.stream = v.as_bool().ok_or_else(|| expected("stream", "a boolean", v))?;
    }
    if let Some(effort) = optional(&root, "reasoning").and_then(|r| r.get("effort")).and_then(Value::as_str) {
        request.reasoning = match effort {
            "none" => None,
            // `xhigh` is newer than every translation target's top level.
            "xhigh" => Some(ReasoningConfig::Effort("high".into())),
            other => Some(ReasoningConfig::Effort(other.to_string())),
        };
    }
    let user = optional(&root, "safety_identifier").or_else(|| optional(&root, "user"));
    request.user = user.and_then(Value::as_str).map(str::to_string);
    request.passthrough = chat_passthrough(&root);
    request.original = Some(OriginalRequest { dialect: Dialect::Responses, body: root, headers: Vec::new() });
    Ok(request)
}

/// What a chat-completions channel can take of the fields the IR has no place for:
/// `text.format` as `response_format`, and the fields both APIs spell alike.
fn chat_passthrough(root: &Map<String, Value>) -> Option<(Dialect, Map<String, Value>)> {
    let mut extra: Map<String, Value> =
        CHAT_PASSTHROUGH.iter().filter_map(|name| Some((name.to_string(), optional(root, name)?.clone()))).collect();
    if let Some(format) = root.get("text").and_then(|t| t.get("format")) {
        let response_format = match format.get("type").and_then(Value::as_str) {
            Some("json_schema") => {
                let mut schema = format.clone();
                if let Some(object) = schema.as_object_mut() {
                    object.remove("type");
                }
                Some(json!({"type": "json_schema", "json_schema": schema}))
            }
            Some("json_object") => Some(json!({"type": "json_object"})),
            _ => None,
        };
        if let Some(response_format) = response_format {
            extra.insert("response_format".into(), response_format);
        }
    }
    (!extra.is_empty()).then_some((Dialect::OpenAi, extra))
}

/// Input items -> system instructions and messages. Consecutive assistant items (text,
/// reasoning, calls) make one assistant message, consecutive outputs one tool message.
fn parse_items(items: &[Value], request: &mut ChatRequest) -> Result<(), ApiError> {
    for (i, item) in items.iter().enumerate() {
        let path = format!("input[{i}]");
        let item = object(item, &path)?;
        // An item without a type is a message (EasyInputMessage).
        let kind = if item.contains_key("type") { block_type(item, &path)? } else { "message" };
        match kind {
            "message" => parse_message(item, &path, request)?,
            "function_call" => {
                let namespace = optional(item, "namespace").and_then(Value::as_str);
                let name = string(item, "name", &path)?;
                let call = Part::ToolCall {
                    id: string(item, "call_id", &path)?.to_string(),
                    name: namespace.map_or_else(|| name.to_string(), |ns| flat_name(ns, name)),
                    arguments: optional(item, "arguments").and_then(Value::as_str).unwrap_or("{}").to_string(),
                };
                push(request, Role::Assistant, call);
            }
            "custom_tool_call" => {
                let input = optional(item, "input").and_then(Value::as_str).unwrap_or_default();
                let call = Part::ToolCall {
                    id: string(item, "call_id", &path)?.to_string(),
                    name: string(item, "name", &path)?.to_string(),
                    arguments: json!({"input": input}).to_string(),
                };
                push(request, Role::Assistant, call);
            }
            "function_call_output" | "custom_tool_call_output" => {
                let call_id = string(item, "call_id", &path)?.to_string();
                let name = called_name(&request.messages, &call_id);
                let content = output_text(optional(item, "output"));
                push(request, Role::Tool, Part::ToolResult { tool_call_id: call_id, name, content, is_error: false });
            }
            "reasoning" => {
                if let Some(reasoning) = parse_reasoning(item) {
                    push(request, Role::Assistant, reasoning);
                }
            }
            // Hosted tools' calls and results, references to stored items: no translation.
            _ => {}
        }
    }
    Ok(())
}

/// Appends `part` to the last message if it has `role`, else starts a message.
fn push(request: &mut ChatRequest, role: Role, part: Part) {
    match request.messages.last_mut() {
        Some(last) if last.role == role => last.content.push(part),
        _ => request.messages.push(Message { role, content: vec![part] }),
    }
}

fn parse_message(item: &Map<String, Value>, path: &str, request: &mut ChatRequest) -> Result<(), ApiError> {
    let role = string(item, "role", path)?;
    let content_path = format!("{path}.content");
    let parts = match optional(item, "content") {
        None => Vec::new(),
        Some(Value::String(text)) => vec![Part::Text(text.clone())],
        Some(Value::Array(parts)) => {
            let mut out = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                if let Some(part) = parse_content_part(part, &format!("{content_path}[{j}]"))? {
                    out.push(part);
                }
            }
            out
        }
        Some(other) => return Err(expected(&content_path, "a string or an array", other)),
    };
    match role {
        // Instructions anywhere in the conversation, in order (as the Anthropic ingress does
        // with Claude Code's system-role messages).
        "system" | "developer" => {
            let text: Vec<String> = parts
                .into_iter()
                .filter_map(|p| match p {
                    Part::Text(t) => Some(t),
                    _ => None,
                })
                .collect();
            request.system.push(text.join("\n"));
        }
        "user" => parts.into_iter().for_each(|p| push(request, Role::User, p)),
        "assistant" => parts.into_iter().for_each(|p| push(request, Role::Assistant, p)),
        other => return Err(invalid(format!("{path}.role"), format!("unknown role '{other}'"))),
    }
    Ok(())
}

/// One content part; `None` for what a translation drops (files, audio).
fn parse_content_part(part: &Value, path: &str) -> Result<Option<Part>, ApiError> {
    let part = object(part, path)?;
    Ok(match block_type(part, path)? {
        "input_text" | "output_text" | "text" => Some(Part::Text(string(part, "text", path)?.to_string())),
        "refusal" => Some(Part::Text(string(part, "refusal", path)?.to_string())),
        "input_image" => optional(part, "image_url").and_then(Value::as_str).map(|url| {
            Part::Image(match parse_data_url(url) {
                Some((media_type, data)) => Image::Base64 { media_type: media_type.into(), data: data.into() },
                None => Image::Url(url.to_string()),
            })
        }),
        _ => None,
    })
}

fn parse_reasoning(item: &Map<String, Value>) -> Option<Part> {
    let texts = |field: &str| -> Vec<String> {
        optional(item, field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("text").and_then(Value::as_str).map(str::to_string))
            .collect()
    };
    // Raw reasoning (`content`) when a model shared it, else its summary.
    let mut text = texts("content").concat();
    if text.is_empty() {
        text = texts("summary").join("\n\n");
    }
    let signature = optional(item, "encrypted_content").and_then(Value::as_str).map(str::to_string);
    (!text.is_empty() || signature.is_some()).then_some(Part::Reasoning { text, signature })
}

/// The name of the call `call_id` among earlier messages (Gemini needs it with the result).
fn called_name(messages: &[Message], call_id: &str) -> Option<String> {
    messages.iter().rev().flat_map(|m| &m.content).find_map(|part| match part {
        Part::ToolCall { id, name, .. } if id == call_id => Some(name.clone()),
        _ => None,
    })
}

/// A call output as text: a string, or the text parts of a content list.
fn output_text(output: Option<&Value>) -> String {
    match output {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
        }
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn parse_tools(value: &Value) -> Result<Vec<ToolDefinition>, ApiError> {
    let tools = value.as_array().ok_or_else(|| expected("tools", "an array", value))?;
    let mut out = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let path = format!("tools[{i}]");
        let tool = object(tool, &path)?;
        match block_type(tool, &path)? {
            "function" => out.push(function_tool(tool, &path, None)?),
            "custom" => out.push(custom_tool(tool, &path)?),
            "namespace" => {
                let namespace = string(tool, "name", &path)?;
                for (j, inner) in tool.get("tools").and_then(Value::as_array).into_iter().flatten().enumerate() {
                    let inner_path = format!("{path}.tools[{j}]");
                    out.push(function_tool(object(inner, &inner_path)?, &inner_path, Some(namespace))?);
                }
            }
            // Hosted tools run at OpenAI; a translation has nothing to run them with.
            _ => {}
        }
    }
    Ok(out)
}

fn function_tool(tool: &Map<String, Value>, path: &str, namespace: Option<&str>) -> Result<ToolDefinition, ApiError> {
    let name = string(tool, "name", path)?;
    Ok(ToolDefinition {
        name: namespace.map_or_else(|| name.to_string(), |ns| flat_name(ns, name)),
        description: optional(tool, "description").and_then(Value::as_str).map(str::to_string),
        parameters: optional(tool, "parameters")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
    })
}

/// A custom tool as a function of one string, `input`; its grammar, when it has one, is given
/// to the model in the parameter's description.
fn custom_tool(tool: &Map<String, Value>, path: &str) -> Result<ToolDefinition, ApiError> {
    let mut input_description = "The tool's free-form input.".to_string();
    if let Some(format) = optional(tool, "format").filter(|f| f.get("type").and_then(Value::as_str) == Some("grammar"))
    {
        let syntax = format.get("syntax").and_then(Value::as_str).unwrap_or("lark");
        let definition = format.get("definition").and_then(Value::as_str).unwrap_or_default();
        input_description = format!("The tool's input, which must follow this {syntax} grammar:\n{definition}");
    }
    Ok(ToolDefinition {
        name: string(tool, "name", path)?.to_string(),
        description: optional(tool, "description").and_then(Value::as_str).map(str::to_string),
        parameters: json!({
            "type": "object",
            "properties": {"input": {"type": "string", "description": input_description}},
            "required": ["input"],
        }),
    })
}

fn parse_tool_choice(value: &Value) -> Result<ToolChoice, ApiError> {
    match value {
        Value::String(mode) => tool_choice_mode(mode),
        Value::Object(choice) => match choice.get("type").and_then(Value::as_str) {
            Some("function" | "custom") => Ok(ToolChoice::Tool(string(choice, "name", "tool_choice")?.to_string())),
            // `allowed_tools` and hosted-tool choices: the model chooses among what it has.
            _ => Ok(ToolChoice::Auto),
        },
        other => Err(expected("tool_choice", "a string or an object", other)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn parse(body: Value) -> Result<ChatRequest, ApiError> {
        parse_request(body.as_object().unwrap().clone())
    }

    #[test]
    fn a_string_input_is_one_user_message_and_instructions_are_the_system() {
        let request = parse(json!({"model": "m", "input": "hi", "instructions": "Be brief."})).unwrap();
        assert_eq!(request.system, ["Be brief."]);
        assert_eq!(request.messages, [Message { role: Role::User, content: vec![Part::Text("hi".into())] }]);
        assert!(request.include_usage, "Responses always reports usage");
        assert_eq!(request.original.unwrap().dialect, Dialect::Responses);
    }

    #[test]
    fn developer_and_system_messages_anywhere_join_the_instructions_in_order() {
        let request = parse(json!({"model": "m", "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "A"}]},
            {"role": "user", "content": "hi"},
            {"type": "message", "role": "system", "content": "B"},
        ]}))
        .unwrap();
        assert_eq!(request.system, ["A", "B"]);
        assert_eq!(request.messages.len(), 1);
    }

    #[test]
    fn calls_outputs_and_reasoning_become_one_assistant_turn_and_one_tool_turn() {
        let request = parse(json!({"model": "m", "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "go"}, {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "think"}], "content": null, "encrypted_content": "sig"},
            {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"},
            {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** Begin Patch"},
            {"type": "function_call", "call_id": "c3", "name": "spawn", "namespace": "agents", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
            {"type": "custom_tool_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "Done"}]},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
            {"type": "item_reference", "id": "msg_0"},
        ]}))
        .unwrap();
        let [user, assistant, tool] = request.messages.as_slice() else { panic!("{:?}", request.messages) };
        assert_eq!(user.content[1], Part::Image(Image::Base64 { media_type: "image/png".into(), data: "AAAA".into() }));
        assert_eq!(assistant.role, Role::Assistant);
        assert_eq!(assistant.content[0], Part::Reasoning { text: "think".into(), signature: Some("sig".into()) });
        assert_eq!(
            assistant.content[2],
            Part::ToolCall {
                id: "c2".into(),
                name: "apply_patch".into(),
                arguments: r#"{"input":"*** Begin Patch"}"#.into()
            }
        );
        assert!(matches!(&assistant.content[3], Part::ToolCall { name, .. } if name == "agents__spawn"));
        assert_eq!(tool.role, Role::Tool);
        assert_eq!(
            tool.content[0],
            Part::ToolResult {
                tool_call_id: "c1".into(),
                name: Some("exec_command".into()),
                content: "a.txt".into(),
                is_error: false
            }
        );
        assert!(matches!(&tool.content[1], Part::ToolResult { content, .. } if content == "Done"));
    }

    #[test]
    fn custom_and_namespaced_tools_become_functions_and_hosted_tools_are_dropped() {
        let request = parse(json!({"model": "m", "input": "hi", "tools": [
            {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
            {"type": "custom", "name": "apply_patch", "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}},
            {"type": "namespace", "name": "agents", "tools": [{"type": "function", "name": "spawn", "parameters": {}}]},
            {"type": "web_search"},
            {"type": "tool_search", "execution": "client"},
        ], "tool_choice": {"type": "custom", "name": "apply_patch"}}))
        .unwrap();
        let names: Vec<&str> = request.tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["exec_command", "apply_patch", "agents__spawn"]);
        let input = &request.tools[1].parameters["properties"]["input"];
        assert_eq!(input["type"], "string");
        assert!(input["description"].as_str().unwrap().contains("start: x"), "the grammar reaches the model");
        assert_eq!(request.tool_choice, Some(ToolChoice::Tool("apply_patch".into())));
    }

    #[test]
    fn settings_map_to_the_ir_and_chat_passthrough() {
        let request = parse(json!({
            "model": "m", "input": "hi", "max_output_tokens": 100, "temperature": 0.5, "top_p": 0.9,
            "stream": true, "reasoning": {"effort": "xhigh", "summary": "auto"}, "safety_identifier": "u1",
            "parallel_tool_calls": false, "prompt_cache_key": "k",
            "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}},
        }))
        .unwrap();
        assert_eq!((request.max_tokens, request.temperature, request.top_p), (Some(100), Some(0.5), Some(0.9)));
        assert!(request.stream);
        assert_eq!(request.reasoning, Some(ReasoningConfig::Effort("high".into())));
        assert_eq!(request.user.as_deref(), Some("u1"));
        let (dialect, extra) = request.passthrough.unwrap();
        assert_eq!(dialect, Dialect::OpenAi);
        assert_eq!(extra["parallel_tool_calls"], false);
        assert_eq!(
            extra["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": true}})
        );
        assert_eq!(parse(json!({"model": "m", "reasoning": {"effort": "none"}})).unwrap().reasoning, None);
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        let param = |body: Value| parse(body).unwrap_err().param.unwrap();
        assert_eq!(param(json!({"input": "hi"})), "model");
        assert_eq!(param(json!({"model": "m", "input": 5})), "input");
        assert_eq!(param(json!({"model": "m", "input": [{"role": "robot", "content": "x"}]})), "input[0].role");
        assert_eq!(param(json!({"model": "m", "input": [{"type": "function_call", "name": "f"}]})), "input[0].call_id");
        assert_eq!(param(json!({"model": "m", "background": true})), "background");
        assert_eq!(param(json!({"model": "m", "max_output_tokens": 0})), "max_output_tokens");
    }
}
