//! Ingress: a Gemini `GenerateContentRequest` body -> [`ChatRequest`].
//!
//! Google's JSON parser takes every field in camelCase (`inlineData`) or in the proto's
//! snake_case (`inline_data`), and Google's own curl examples use both, so both are read. Errors
//! name the field as the client spelled it (`contents[1].parts[0].inline_data.mime_type`).
//!
//! What the IR cannot hold goes to the passthrough for a Gemini upstream, keyed in camelCase:
//! unknown top-level fields, unknown `generationConfig` fields, tools other than function
//! declarations (`googleSearch`, `codeExecution`, ...) and unknown `toolConfig` fields. The
//! client's `thinkingConfig` and `functionCallingConfig` are also kept verbatim: the IR carries
//! their meaning to other dialects, but not dynamic budgets, levels, `includeThoughts` or several
//! allowed function names, so a Gemini upstream gets the client's own.

use oblivious_core::{ApiError, Dialect};
use serde_json::{Map, Value, json};

use crate::dialect::IngressHints;
use crate::dialect::fields::{
    describe, expected, invalid, join, number, object, positive_u32, string_array, unsigned_u32,
};
use crate::ir::{ChatRequest, Image, Message, Part, ReasoningConfig, Role, ToolChoice, ToolDefinition};

/// Top-level fields the IR understands (camelCase). `model` is the path's; a body copy is read
/// only when the path has none.
const KNOWN_FIELDS: &[&str] = &["model", "contents", "systemInstruction", "tools", "toolConfig", "generationConfig"];

/// The fields of a part that hold its data; a part has exactly one.
const DATA_FIELDS: &[&str] =
    &["text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode", "codeExecutionResult"];

/// Parses a client's `models/{model}:generateContent` or `:streamGenerateContent` body.
pub fn parse_request(body: &[u8], hints: IngressHints<'_>) -> Result<ChatRequest, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_request(format!("The request body is not valid JSON: {e}")))?;
    let Value::Object(root) = value else {
        return Err(ApiError::invalid_request(format!(
            "The request body must be a JSON object, got {}.",
            describe(&value)
        )));
    };

    let mut request = ChatRequest { include_usage: true, stream: hints.stream_from_path, ..ChatRequest::default() };
    request.model = parse_model(&root, hints)?;
    let mut passthrough = Map::new();

    let (key, contents) = required_field(&root, "contents", "")?;
    request.messages = parse_contents(contents, key)?;
    if let Some((key, system)) = field(&root, "systemInstruction") {
        request.system = parse_system(system, key)?;
    }
    if let Some((key, tools)) = field(&root, "tools") {
        let (declared, other) = parse_tools(tools, key)?;
        request.tools = declared;
        if !other.is_empty() {
            passthrough.insert("tools".into(), Value::Array(other));
        }
    }
    if let Some((key, config)) = field(&root, "toolConfig") {
        let (choice, rest) = parse_tool_config(config, key)?;
        request.tool_choice = choice;
        if !rest.is_empty() {
            passthrough.insert("toolConfig".into(), Value::Object(rest));
        }
    }
    if let Some((key, config)) = field(&root, "generationConfig") {
        let rest = parse_generation_config(config, key, &mut request)?;
        if !rest.is_empty() {
            passthrough.insert("generationConfig".into(), Value::Object(rest));
        }
    }
    for (name, value) in root {
        let name = camel_case(&name);
        if !value.is_null() && !KNOWN_FIELDS.contains(&name.as_str()) {
            passthrough.insert(name, value);
        }
    }
    if !passthrough.is_empty() {
        request.passthrough = Some((Dialect::Gemini, passthrough));
    }
    Ok(request)
}

/// `key` is the snake_case spelling of `camel` (`inline_data` of `inlineData`), compared without
/// allocating: every request looks up many fields.
fn is_snake_of(key: &str, camel: &str) -> bool {
    let mut key = key.bytes();
    for c in camel.bytes() {
        let matches = if c.is_ascii_uppercase() {
            key.next() == Some(b'_') && key.next() == Some(c.to_ascii_lowercase())
        } else {
            key.next() == Some(c)
        };
        if !matches {
            return false;
        }
    }
    key.next().is_none()
}

/// `inline_data` -> `inlineData`; camelCase stays as it is.
fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A field that is present and not `null`, under its camelCase or snake_case name, with the name
/// the client used.
fn field<'a>(object: &'a Map<String, Value>, camel: &str) -> Option<(&'a str, &'a Value)> {
    if let Some((key, value)) = object.get_key_value(camel)
        && !value.is_null()
    {
        return Some((key.as_str(), value));
    }
    if !camel.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    object.iter().find(|(key, value)| !value.is_null() && is_snake_of(key, camel)).map(|(k, v)| (k.as_str(), v))
}

fn required_field<'a>(
    object: &'a Map<String, Value>,
    camel: &str,
    parent: &str,
) -> Result<(&'a str, &'a Value), ApiError> {
    field(object, camel).ok_or_else(|| invalid(join(parent, camel), "field required"))
}

fn string_field<'a>(object: &'a Map<String, Value>, camel: &str, parent: &str) -> Result<&'a str, ApiError> {
    let (key, value) = required_field(object, camel, parent)?;
    value.as_str().ok_or_else(|| expected(&join(parent, key), "a string", value))
}

fn optional_string<'a>(object: &'a Map<String, Value>, camel: &str, parent: &str) -> Result<Option<&'a str>, ApiError> {
    match field(object, camel) {
        None => Ok(None),
        Some((key, value)) => value.as_str().map(Some).ok_or_else(|| expected(&join(parent, key), "a string", value)),
    }
}

fn optional_bool(object: &Map<String, Value>, camel: &str, parent: &str) -> Result<Option<bool>, ApiError> {
    match field(object, camel) {
        None => Ok(None),
        Some((key, value)) => value.as_bool().map(Some).ok_or_else(|| expected(&join(parent, key), "a boolean", value)),
    }
}

/// The same object with its own keys in camelCase (values untouched), as a Gemini upstream gets it.
fn camel_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (camel_case(k), v.clone())).collect()),
        other => other.clone(),
    }
}

fn parse_model(root: &Map<String, Value>, hints: IngressHints<'_>) -> Result<String, ApiError> {
    let model = match hints.model_from_path {
        Some(model) => model,
        None => string_field(root, "model", "")?,
    };
    let model = model.strip_prefix("models/").unwrap_or(model);
    if model.is_empty() {
        return Err(invalid("model", "must not be empty"));
    }
    Ok(model.to_string())
}

/// Calls seen so far, for linking responses to them.
#[derive(Default)]
struct CallLedger {
    calls: Vec<LedgerEntry>,
}

struct LedgerEntry {
    id: String,
    name: String,
    answered: bool,
}

impl CallLedger {
    fn call(&mut self, id: String, name: &str) {
        self.calls.push(LedgerEntry { id, name: name.to_string(), answered: false });
    }

    /// The id of the call a response answers: the unanswered call with the response's id, else
    /// the oldest unanswered call of the same name, else the response's own id or `fallback`.
    fn answer(&mut self, id: Option<&str>, name: &str, fallback: String) -> String {
        let by_id = id.and_then(|id| self.calls.iter().position(|c| !c.answered && c.id == id));
        let found = by_id.or_else(|| self.calls.iter().position(|c| !c.answered && c.name == name));
        match found {
            Some(index) => {
                self.calls[index].answered = true;
                self.calls[index].id.clone()
            }
            None => id.map(str::to_string).unwrap_or(fallback),
        }
    }
}

fn parse_contents(value: &Value, key: &str) -> Result<Vec<Message>, ApiError> {
    let items = value.as_array().ok_or_else(|| expected(key, "an array of contents", value))?;
    if items.is_empty() {
        return Err(invalid(key, "must contain at least one content"));
    }
    let mut ledger = CallLedger::default();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("{key}[{i}]");
        let content = object(item, &path)?;
        let role = match optional_string(content, "role", &path)? {
            None | Some("" | "user" | "function") => Role::User,
            Some("model") => Role::Assistant,
            Some(other) => {
                return Err(invalid(
                    format!("{path}.role"),
                    format!("unknown role `{other}`; expected `user` or `model`"),
                ));
            }
        };
        let (parts_key, parts) = required_field(content, "parts", &path)?;
        let parts_path = join(&path, parts_key);
        let parts = parts.as_array().ok_or_else(|| expected(&parts_path, "an array of parts", parts))?;
        if parts.is_empty() {
            return Err(invalid(parts_path, "must contain at least one part"));
        }
        let mut groups: Vec<Message> = Vec::new();
        for (j, part) in parts.iter().enumerate() {
            let path = format!("{parts_path}[{j}]");
            for (part_role, part) in parse_part(role, part, &path, (i, j), &mut ledger)? {
                push_part(&mut groups, part_role, part);
            }
        }
        if groups.is_empty() {
            groups.push(Message { role, content: Vec::new() });
        }
        out.extend(groups);
    }
    Ok(out)
}

fn push_part(groups: &mut Vec<Message>, role: Role, part: Part) {
    match groups.last_mut() {
        Some(last) if last.role == role => last.content.push(part),
        _ => groups.push(Message { role, content: vec![part] }),
    }
}

/// One wire part -> IR parts with their roles (a user turn's function responses are tool
/// messages). `position` (content, part) names calls that come without an id.
fn parse_part(
    role: Role,
    value: &Value,
    path: &str,
    position: (usize, usize),
    ledger: &mut CallLedger,
) -> Result<Vec<(Role, Part)>, ApiError> {
    let part = object(value, path)?;
    let signature = optional_string(part, "thoughtSignature", path)?.filter(|s| !s.is_empty());
    let thought = optional_bool(part, "thought", path)?.unwrap_or(false);
    let data: Vec<(&str, &Value)> = DATA_FIELDS.iter().filter_map(|name| field(part, name)).collect();
    let model = role == Role::Assistant;
    // In a model turn, a signature on anything but a thought precedes the part it was on.
    let mut out: Vec<(Role, Part)> = Vec::with_capacity(2);
    let signed = |out: &mut Vec<(Role, Part)>| {
        if model && let Some(signature) = signature {
            out.push((role, Part::Reasoning { text: String::new(), signature: Some(signature.to_string()) }));
        }
    };
    let [(key, data)] = data.as_slice() else {
        if data.is_empty() && model && signature.is_some() {
            signed(&mut out);
            return Ok(out);
        }
        let names: Vec<String> = data.iter().map(|(k, _)| format!("`{k}`")).collect();
        let reason = if names.is_empty() {
            "must have one of text, inlineData, fileData, functionCall or functionResponse".to_string()
        } else {
            format!("must have exactly one data field, got {}", names.join(" and "))
        };
        return Err(invalid(path, reason));
    };
    let data_path = join(path, key);
    let wrong_role = |allowed: &str| invalid(data_path.as_str(), format!("only allowed in `{allowed}` turns"));
    match camel_case(key).as_str() {
        "text" => {
            let text = data.as_str().ok_or_else(|| expected(&data_path, "a string", data))?;
            if model && thought {
                out.push((role, Part::Reasoning { text: text.to_string(), signature: signature.map(str::to_string) }));
            } else {
                signed(&mut out);
                if !(model && text.is_empty()) {
                    out.push((role, Part::Text(text.to_string())));
                }
            }
        }
        "inlineData" => {
            let blob = object(data, &data_path)?;
            let media_type = string_field(blob, "mimeType", &data_path)?.to_string();
            let data = string_field(blob, "data", &data_path)?.to_string();
            signed(&mut out);
            out.push((role, Part::Image(Image::Base64 { media_type, data })));
        }
        "fileData" => {
            let file = object(data, &data_path)?;
            let uri = string_field(file, "fileUri", &data_path)?.to_string();
            optional_string(file, "mimeType", &data_path)?;
            signed(&mut out);
            out.push((role, Part::Image(Image::Url(uri))));
        }
        "functionCall" if model => {
            let call = object(data, &data_path)?;
            let name = string_field(call, "name", &data_path)?;
            let arguments = match field(call, "args") {
                None => "{}".to_string(),
                Some((_, args @ Value::Object(_))) => args.to_string(),
                Some((args_key, other)) => return Err(expected(&join(&data_path, args_key), "an object", other)),
            };
            let id = match optional_string(call, "id", &data_path)?.filter(|id| !id.is_empty()) {
                Some(id) => id.to_string(),
                None => format!("call_{}_{}", position.0, position.1),
            };
            ledger.call(id.clone(), name);
            signed(&mut out);
            out.push((role, Part::ToolCall { id, name: name.to_string(), arguments }));
        }
        "functionCall" => return Err(wrong_role("model")),
        "functionResponse" if !model => {
            let response = object(data, &data_path)?;
            let name = string_field(response, "name", &data_path)?;
            let (result_key, result) = required_field(response, "response", &data_path)?;
            let result = object(result, &join(&data_path, result_key))?;
            let id = optional_string(response, "id", &data_path)?.filter(|id| !id.is_empty());
            let tool_call_id = ledger.answer(id, name, format!("call_{}_{}", position.0, position.1));
            let is_error =
                result.contains_key("error") && !result.contains_key("output") && !result.contains_key("result");
            let content = Value::Object(result.clone()).to_string();
            out.push((Role::Tool, Part::ToolResult { tool_call_id, name: Some(name.to_string()), content, is_error }));
        }
        "functionResponse" => return Err(wrong_role("user")),
        other => {
            return Err(invalid(
                data_path.as_str(),
                format!(
                    "`{other}` parts are not supported by this relay; supported: text, inlineData, fileData, functionCall, functionResponse"
                ),
            ));
        }
    }
    Ok(out)
}

fn parse_system(value: &Value, key: &str) -> Result<Vec<String>, ApiError> {
    // Not valid for Google, but an obvious intent.
    if let Value::String(text) = value {
        return Ok(if text.is_empty() { Vec::new() } else { vec![text.clone()] });
    }
    let content = object(value, key)?;
    let (parts_key, parts) = required_field(content, "parts", key)?;
    let parts_path = join(key, parts_key);
    let parts = parts.as_array().ok_or_else(|| expected(&parts_path, "an array of parts", parts))?;
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let path = format!("{parts_path}[{j}]");
        let part = object(part, &path)?;
        let Some((text_key, text)) = field(part, "text") else {
            return Err(invalid(path, "the system instruction takes text parts only"));
        };
        let text = text.as_str().ok_or_else(|| expected(&join(&path, text_key), "a string", text))?;
        if !text.is_empty() {
            out.push(text.to_string());
        }
    }
    Ok(out)
}

/// Function declarations -> IR tools; every other kind of tool is returned for the passthrough.
fn parse_tools(value: &Value, key: &str) -> Result<(Vec<ToolDefinition>, Vec<Value>), ApiError> {
    let items = value.as_array().ok_or_else(|| expected(key, "an array of tools", value))?;
    let mut declared = Vec::new();
    let mut other = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{key}[{i}]");
        let tool = object(item, &path)?;
        let mut rest = Map::new();
        for (name, value) in tool {
            if camel_case(name) != "functionDeclarations" {
                if !value.is_null() {
                    rest.insert(camel_case(name), value.clone());
                }
                continue;
            }
            let list_path = join(&path, name);
            let list =
                value.as_array().ok_or_else(|| expected(&list_path, "an array of function declarations", value))?;
            for (j, declaration) in list.iter().enumerate() {
                declared.push(parse_declaration(declaration, &format!("{list_path}[{j}]"))?);
            }
        }
        if !rest.is_empty() {
            other.push(Value::Object(rest));
        }
    }
    Ok((declared, other))
}

fn parse_declaration(value: &Value, path: &str) -> Result<ToolDefinition, ApiError> {
    let declaration = object(value, path)?;
    let name = string_field(declaration, "name", path)?.to_string();
    let description = optional_string(declaration, "description", path)?.map(str::to_string);
    let parameters = match (field(declaration, "parameters"), field(declaration, "parametersJsonSchema")) {
        (Some(_), Some((key, _))) => {
            return Err(invalid(join(path, key), "cannot be combined with `parameters`; use one of them"));
        }
        (Some((key, schema)), None) => openapi_to_json_schema(object(schema, &join(path, key))?),
        (None, Some((key, schema))) => {
            object(schema, &join(path, key))?;
            schema.clone()
        }
        (None, None) => json!({"type": "object", "properties": {}}),
    };
    Ok(ToolDefinition { name, description, parameters })
}

/// Gemini's `parameters` is an OpenAPI 3.0 schema whose `type` names are often upper case
/// (`OBJECT`, `STRING`); JSON Schema, which the IR and other providers use, wants them lower case.
fn openapi_to_json_schema(schema: &Map<String, Value>) -> Value {
    fn walk(value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| match (k.as_str(), v) {
                        ("type", Value::String(t)) => (k.clone(), Value::String(t.to_ascii_lowercase())),
                        _ => (k.clone(), walk(v)),
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(walk).collect()),
            other => other.clone(),
        }
    }
    walk(&Value::Object(schema.clone()))
}

/// `toolConfig` -> the IR tool choice, and the fields to pass through (the client's own
/// `functionCallingConfig` included, see the module doc).
fn parse_tool_config(value: &Value, key: &str) -> Result<(Option<ToolChoice>, Map<String, Value>), ApiError> {
    let config = object(value, key)?;
    let mut choice = None;
    let mut rest = Map::new();
    for (name, value) in config {
        if value.is_null() {
            continue;
        }
        if camel_case(name) == "functionCallingConfig" {
            choice = Some(parse_function_calling(value, &join(key, name))?);
        }
        rest.insert(camel_case(name), camel_keys(value));
    }
    Ok((choice, rest))
}

fn parse_function_calling(value: &Value, path: &str) -> Result<ToolChoice, ApiError> {
    let config = object(value, path)?;
    let names = match field(config, "allowedFunctionNames") {
        None => Vec::new(),
        Some((key, names)) => string_array(names, &join(path, key))?,
    };
    let mode = optional_string(config, "mode", path)?.unwrap_or("AUTO");
    match mode.to_ascii_uppercase().as_str() {
        "AUTO" | "MODE_UNSPECIFIED" | "VALIDATED" => Ok(ToolChoice::Auto),
        "NONE" => Ok(ToolChoice::None),
        "ANY" => Ok(match names.as_slice() {
            [only] => ToolChoice::Tool(only.clone()),
            _ => ToolChoice::Required,
        }),
        _ => Err(invalid(
            join(path, "mode"),
            format!("unknown mode `{mode}`; expected `AUTO`, `ANY`, `NONE` or `VALIDATED`"),
        )),
    }
}

/// Reads what the IR understands into `request`; returns the rest for the passthrough.
fn parse_generation_config(
    value: &Value,
    key: &str,
    request: &mut ChatRequest,
) -> Result<Map<String, Value>, ApiError> {
    let config = object(value, key)?;
    let mut rest = Map::new();
    for (name, value) in config {
        if value.is_null() {
            continue;
        }
        let path = join(key, name);
        match camel_case(name).as_str() {
            "maxOutputTokens" => request.max_tokens = Some(positive_u32(value, &path)?),
            "temperature" => request.temperature = Some(number(value, &path)?),
            "topP" => request.top_p = Some(number(value, &path)?),
            "topK" => request.top_k = Some(unsigned_u32(value, &path)?),
            "stopSequences" => request.stop = string_array(value, &path)?,
            "thinkingConfig" => {
                request.reasoning = parse_thinking(value, &path)?;
                rest.insert("thinkingConfig".into(), camel_keys(value));
            }
            other => {
                rest.insert(other.to_string(), value.clone());
            }
        }
    }
    Ok(rest)
}

/// `thinkingConfig` in IR terms: a budget is a budget (0 turns thinking off), a level is an
/// effort of the same name, and dynamic thinking (`-1`, or only `includeThoughts: true`) is a
/// `medium` effort — the model decides, other providers get a middle setting.
fn parse_thinking(value: &Value, path: &str) -> Result<Option<ReasoningConfig>, ApiError> {
    let config = object(value, path)?;
    let budget = match field(config, "thinkingBudget") {
        None => None,
        Some((key, budget)) => match budget.as_i64() {
            Some(-1) => Some(None),
            Some(n) if n >= 0 => Some(Some(unsigned_u32(budget, &join(path, key))?)),
            _ => {
                return Err(invalid(join(path, key), "must be -1 (dynamic) or a non-negative integer"));
            }
        },
    };
    let level = optional_string(config, "thinkingLevel", path)?;
    let include_thoughts = optional_bool(config, "includeThoughts", path)?.unwrap_or(false);
    if budget.is_some()
        && let Some((key, _)) = field(config, "thinkingLevel")
    {
        return Err(invalid(join(path, key), "cannot be combined with `thinkingBudget`; use one of them"));
    }
    Ok(match (budget, level) {
        (Some(Some(budget)), _) => Some(ReasoningConfig::BudgetTokens(budget)),
        (_, Some(level)) if !level.is_empty() && !level.eq_ignore_ascii_case("THINKING_LEVEL_UNSPECIFIED") => {
            Some(ReasoningConfig::Effort(level.to_ascii_lowercase()))
        }
        (Some(None), _) => Some(ReasoningConfig::Effort("medium".into())),
        _ if include_thoughts => Some(ReasoningConfig::Effort("medium".into())),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn hints() -> IngressHints<'static> {
        IngressHints { model_from_path: Some("gemini-2.5-flash"), stream_from_path: false }
    }

    fn parse(body: Value) -> Result<ChatRequest, ApiError> {
        parse_request(body.to_string().as_bytes(), hints())
    }

    fn param_of(body: Value) -> String {
        let err = parse(body).expect_err("must fail");
        assert_eq!(err.status(), 400);
        err.param.unwrap_or_default()
    }

    fn base() -> Value {
        json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    }

    fn with(field: &str, value: Value) -> Value {
        let mut body = base();
        body[field] = value;
        body
    }

    fn contents(contents: Value) -> Value {
        with("contents", contents)
    }

    #[test]
    fn malformed_json_is_a_400_with_a_position() {
        let err = parse_request(b"{\"contents\": [],\n  oops}", hints()).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.message.contains("line 2 column 3"), "{}", err.message);
        assert!(parse_request(b"[1]", hints()).unwrap_err().message.contains("JSON object"));
    }

    #[test]
    fn errors_name_the_field_at_fault_as_the_client_spelled_it() {
        assert_eq!(param_of(json!({})), "contents");
        assert_eq!(param_of(contents(json!([]))), "contents");
        assert_eq!(param_of(contents(json!([{"role": "system", "parts": [{"text": "x"}]}]))), "contents[0].role");
        assert_eq!(param_of(contents(json!([{"role": "user"}]))), "contents[0].parts");
        assert_eq!(param_of(contents(json!([{"role": "user", "parts": []}]))), "contents[0].parts");
        assert_eq!(
            param_of(contents(json!([
                {"role": "user", "parts": [{"text": "x"}]},
                {"role": "model", "parts": [{"video": "x"}]}
            ]))),
            "contents[1].parts[0]"
        );
        assert_eq!(param_of(contents(json!([{"parts": [{"text": "a", "inlineData": {}}]}]))), "contents[0].parts[0]");
        assert_eq!(param_of(contents(json!([{"parts": [{"text": 5}]}]))), "contents[0].parts[0].text");
        assert_eq!(
            param_of(contents(json!([{"parts": [{"inline_data": {"data": "x"}}]}]))),
            "contents[0].parts[0].inline_data.mimeType"
        );
        assert_eq!(
            param_of(contents(json!([{"parts": [{"functionCall": {"name": "f", "args": {}}}]}]))),
            "contents[0].parts[0].functionCall"
        );
        assert_eq!(
            param_of(contents(json!([{"role": "model", "parts": [{"functionCall": {"name": "f", "args": "{}"}}]}]))),
            "contents[0].parts[0].functionCall.args"
        );
        assert_eq!(
            param_of(contents(json!([{"parts": [{"functionResponse": {"name": "f", "response": "ok"}}]}]))),
            "contents[0].parts[0].functionResponse.response"
        );
        assert_eq!(
            param_of(contents(json!([{"parts": [{"executableCode": {"code": "1"}}]}]))),
            "contents[0].parts[0].executableCode"
        );
        assert_eq!(
            param_of(with("systemInstruction", json!({"parts": [{"inlineData": {}}]}))),
            "systemInstruction.parts[0]"
        );
        assert_eq!(
            param_of(with("tools", json!([{"functionDeclarations": [{"description": "d"}]}]))),
            "tools[0].functionDeclarations[0].name"
        );
        assert_eq!(
            param_of(with(
                "tools",
                json!([{"functionDeclarations": [{"name": "f", "parameters": {}, "parametersJsonSchema": {}}]}])
            )),
            "tools[0].functionDeclarations[0].parametersJsonSchema"
        );
        assert_eq!(
            param_of(with("toolConfig", json!({"functionCallingConfig": {"mode": "SOMETIMES"}}))),
            "toolConfig.functionCallingConfig.mode"
        );
        assert_eq!(
            param_of(with("generationConfig", json!({"maxOutputTokens": 0}))),
            "generationConfig.maxOutputTokens"
        );
        assert_eq!(
            param_of(with("generation_config", json!({"stop_sequences": ["a", 1]}))),
            "generation_config.stop_sequences[1]"
        );
        assert_eq!(
            param_of(with("generationConfig", json!({"thinkingConfig": {"thinkingBudget": -5}}))),
            "generationConfig.thinkingConfig.thinkingBudget"
        );
        assert_eq!(
            param_of(with(
                "generationConfig",
                json!({"thinkingConfig": {"thinkingBudget": 10, "thinkingLevel": "low"}})
            )),
            "generationConfig.thinkingConfig.thinkingLevel"
        );
        let err = parse(contents(json!([{"role": "robot", "parts": [{"text": "x"}]}]))).unwrap_err();
        assert!(err.message.starts_with("contents[0].role: "), "{}", err.message);
    }

    #[test]
    fn the_model_comes_from_the_path_or_else_the_body() {
        assert_eq!(parse(base()).unwrap().model, "gemini-2.5-flash");
        let no_path = IngressHints { model_from_path: None, stream_from_path: true };
        let mut body = base();
        body["model"] = json!("models/gemini-pro");
        let r = parse_request(body.to_string().as_bytes(), no_path).unwrap();
        assert_eq!(r.model, "gemini-pro");
        assert!(r.stream && r.include_usage);
        assert_eq!(parse_request(base().to_string().as_bytes(), no_path).unwrap_err().param.as_deref(), Some("model"));
    }

    #[test]
    fn a_full_request_maps_to_the_ir() {
        let body = json!({
            "systemInstruction": {"parts": [{"text": "be brief"}, {"text": "be kind"}]},
            "contents": [
                {"role": "user", "parts": [
                    {"text": "look"},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBO"}},
                    {"file_data": {"file_uri": "https://generativelanguage.googleapis.com/v1beta/files/abc", "mime_type": "application/pdf"}}
                ]},
                {"role": "model", "parts": [
                    {"text": "thinking about it", "thought": true},
                    {"text": "calling"},
                    {"functionCall": {"name": "lookup", "args": {"q": 1}}, "thoughtSignature": "sig1"},
                    {"functionCall": {"name": "lookup", "args": {"q": 2}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "lookup", "response": {"result": "a"}}},
                    {"functionResponse": {"name": "lookup", "response": {"error": "boom"}}},
                    {"text": "and?"}
                ]}
            ],
            "tools": [
                {"functionDeclarations": [
                    {"name": "lookup", "description": "Looks up", "parameters": {"type": "OBJECT", "properties": {"q": {"type": "INTEGER"}, "type": {"type": "STRING"}}}},
                    {"name": "now", "parametersJsonSchema": {"type": "object", "additionalProperties": false}}
                ]},
                {"googleSearch": {}}
            ],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["lookup"]}},
            "generationConfig": {
                "maxOutputTokens": 2048, "temperature": 0.5, "topP": 0.9, "topK": 40,
                "stopSequences": ["END"], "responseMimeType": "text/plain",
                "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}
            },
            "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
            "cached_content": "cachedContents/abc"
        });
        let r = parse(body).unwrap();
        assert_eq!(r.model, "gemini-2.5-flash");
        assert_eq!(r.system, ["be brief", "be kind"]);
        assert!(r.include_usage && !r.stream);
        assert_eq!(r.max_tokens, Some(2048));
        assert_eq!((r.temperature, r.top_p, r.top_k), (Some(0.5), Some(0.9), Some(40)));
        assert_eq!(r.stop, ["END"]);
        assert_eq!(r.reasoning, Some(ReasoningConfig::BudgetTokens(1024)));
        assert_eq!(r.tool_choice, Some(ToolChoice::Tool("lookup".into())));
        assert_eq!(
            r.tools,
            vec![
                ToolDefinition {
                    name: "lookup".into(),
                    description: Some("Looks up".into()),
                    parameters: json!({"type": "object", "properties": {"q": {"type": "integer"}, "type": {"type": "string"}}}),
                },
                ToolDefinition {
                    name: "now".into(),
                    description: None,
                    parameters: json!({"type": "object", "additionalProperties": false}),
                },
            ]
        );
        let (dialect, extra) = r.passthrough.clone().unwrap();
        assert_eq!(dialect, Dialect::Gemini);
        assert_eq!(
            Value::Object(extra),
            json!({
                "tools": [{"googleSearch": {}}],
                "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["lookup"]}},
                "generationConfig": {
                    "responseMimeType": "text/plain",
                    "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}
                },
                "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
                "cachedContent": "cachedContents/abc"
            })
        );

        let shape: Vec<(Role, usize)> = r.messages.iter().map(|m| (m.role, m.content.len())).collect();
        assert_eq!(shape, [(Role::User, 3), (Role::Assistant, 5), (Role::Tool, 2), (Role::User, 1)]);
        assert_eq!(
            r.messages[0].content[1..],
            [
                Part::Image(Image::Base64 { media_type: "image/png".into(), data: "iVBO".into() }),
                Part::Image(Image::Url("https://generativelanguage.googleapis.com/v1beta/files/abc".into())),
            ]
        );
        assert_eq!(
            r.messages[1].content,
            vec![
                Part::Reasoning { text: "thinking about it".into(), signature: None },
                Part::Text("calling".into()),
                Part::Reasoning { text: String::new(), signature: Some("sig1".into()) },
                Part::ToolCall { id: "call_1_2".into(), name: "lookup".into(), arguments: r#"{"q":1}"#.into() },
                Part::ToolCall { id: "call_1_3".into(), name: "lookup".into(), arguments: r#"{"q":2}"#.into() },
            ]
        );
        assert_eq!(
            r.messages[2].content,
            vec![
                Part::ToolResult {
                    tool_call_id: "call_1_2".into(),
                    name: Some("lookup".into()),
                    content: r#"{"result":"a"}"#.into(),
                    is_error: false,
                },
                Part::ToolResult {
                    tool_call_id: "call_1_3".into(),
                    name: Some("lookup".into()),
                    content: r#"{"error":"boom"}"#.into(),
                    is_error: true,
                },
            ]
        );
        assert_eq!(r.messages[3], Message { role: Role::User, content: vec![Part::Text("and?".into())] });
    }

    fn result_ids(r: &ChatRequest) -> Vec<String> {
        r.messages
            .iter()
            .flat_map(|m| &m.content)
            .filter_map(|p| match p {
                Part::ToolResult { tool_call_id, .. } => Some(tool_call_id.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn responses_link_to_calls_by_id_else_by_name_in_order() {
        let body = contents(json!([
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "a", "args": {}}},
                {"functionCall": {"name": "b", "args": {}, "id": "given"}},
                {"functionCall": {"name": "a", "args": {}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "b", "response": {}, "id": "given"}},
                {"functionResponse": {"name": "a", "response": {}}},
                {"functionResponse": {"name": "a", "response": {}}},
                {"functionResponse": {"name": "orphan", "response": {}}}
            ]}
        ]));
        let r = parse(body).unwrap();
        assert_eq!(result_ids(&r), ["given", "call_1_0", "call_1_2", "call_2_3"]);
        // The same history yields the same ids on the next turn, so upstream caches keep hitting.
        let again =
            parse(r#"{"contents":[{"role":"model","parts":[{"functionCall":{"name":"a"}}]}]}"#.parse().unwrap());
        assert!(matches!(&again.unwrap().messages[0].content[0], Part::ToolCall { id, .. } if id == "call_0_0"));
    }

    #[test]
    fn signatures_on_text_and_bare_signature_parts_become_signed_reasoning_before_them() {
        let r = parse(contents(json!([
            {"role": "user", "parts": [{"text": "q", "thoughtSignature": "ignored in user turns"}]},
            {"role": "model", "parts": [
                {"text": "answer", "thoughtSignature": "s1"},
                {"text": "", "thoughtSignature": "s2"},
                {"thought_signature": "s3"},
                {"text": "summary", "thought": true, "thoughtSignature": "s4"}
            ]}
        ])))
        .unwrap();
        assert_eq!(r.messages[0].content, vec![Part::Text("q".into())]);
        let signed = |s: &str| Part::Reasoning { text: String::new(), signature: Some(s.into()) };
        assert_eq!(
            r.messages[1].content,
            vec![
                signed("s1"),
                Part::Text("answer".into()),
                signed("s2"),
                signed("s3"),
                Part::Reasoning { text: "summary".into(), signature: Some("s4".into()) },
            ]
        );
    }

    #[test]
    fn thinking_configs_map_to_budgets_and_efforts_and_travel_verbatim() {
        let thinking = |config: Value| {
            let r = parse(with("generationConfig", json!({"thinkingConfig": config}))).unwrap();
            let kept = r.passthrough.map(|(_, p)| p["generationConfig"]["thinkingConfig"].clone());
            (r.reasoning, kept)
        };
        assert_eq!(thinking(json!({"thinkingBudget": 0})).0, Some(ReasoningConfig::BudgetTokens(0)));
        assert_eq!(thinking(json!({"thinkingBudget": -1})).0, Some(ReasoningConfig::Effort("medium".into())));
        assert_eq!(thinking(json!({"thinkingLevel": "LOW"})).0, Some(ReasoningConfig::Effort("low".into())));
        assert_eq!(thinking(json!({"includeThoughts": true})).0, Some(ReasoningConfig::Effort("medium".into())));
        assert_eq!(thinking(json!({"includeThoughts": false})).0, None);
        let (reasoning, kept) = thinking(json!({"thinking_budget": 512, "include_thoughts": true}));
        assert_eq!(reasoning, Some(ReasoningConfig::BudgetTokens(512)));
        assert_eq!(kept, Some(json!({"thinkingBudget": 512, "includeThoughts": true})));
    }

    #[test]
    fn function_calling_modes_map_to_tool_choices() {
        let choice =
            |config: Value| parse(with("toolConfig", json!({"functionCallingConfig": config}))).unwrap().tool_choice;
        assert_eq!(choice(json!({"mode": "AUTO"})), Some(ToolChoice::Auto));
        assert_eq!(choice(json!({"mode": "none"})), Some(ToolChoice::None));
        assert_eq!(choice(json!({"mode": "ANY"})), Some(ToolChoice::Required));
        assert_eq!(choice(json!({"mode": "ANY", "allowedFunctionNames": ["a", "b"]})), Some(ToolChoice::Required));
        assert_eq!(choice(json!({"mode": "ANY", "allowed_function_names": ["a"]})), Some(ToolChoice::Tool("a".into())));
        assert_eq!(choice(json!({})), Some(ToolChoice::Auto));
    }

    #[test]
    fn snake_case_bodies_parse_like_camel_case_ones_and_nulls_are_absent() {
        let snake = json!({
            "system_instruction": {"parts": [{"text": "sys"}]},
            "contents": [{"parts": [{"inline_data": {"mime_type": "image/png", "data": "AA"}}]}],
            "generation_config": {"max_output_tokens": 10, "top_k": 3, "temperature": null},
            "tool_config": null
        });
        let r = parse(snake).unwrap();
        assert_eq!(r.system, ["sys"]);
        assert_eq!((r.max_tokens, r.top_k, r.temperature), (Some(10), Some(3), None));
        assert_eq!(
            r.messages[0].content[0],
            Part::Image(Image::Base64 { media_type: "image/png".into(), data: "AA".into() })
        );
        assert!(r.passthrough.is_none());
        assert!(r.tool_choice.is_none());
    }

    #[test]
    fn key_names_convert_between_camel_and_snake_case() {
        assert!(is_snake_of("inline_data", "inlineData"));
        assert!(is_snake_of("text", "text"));
        assert!(!is_snake_of("inline_dat", "inlineData") && !is_snake_of("inline_datax", "inlineData"));
        assert!(!is_snake_of("inlinedata", "inlineData") && !is_snake_of("inline-data", "inlineData"));
        assert_eq!(camel_case("function_calling_config"), "functionCallingConfig");
        assert_eq!(camel_case("functionCallingConfig"), "functionCallingConfig");
    }
}
