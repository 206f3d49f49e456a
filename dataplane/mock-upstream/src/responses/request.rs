//! What a Responses request asks for: the protocol-neutral [`Conversation`], plus what only this
//! API has — custom (free-text) and namespaced tools, and which parts of the reasoning to return.

use serde_json::{Value, json};

use crate::answer::{Conversation, ForcedTool};

/// How a call of a tool is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    /// `function_call` with JSON `arguments`.
    Function,
    /// `custom_tool_call` with free-text `input`.
    Custom,
}

/// A tool the request offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedTool {
    pub name: String,
    pub kind: ToolKind,
    /// The `namespace` tool it sits in; a call of it names the namespace too.
    pub namespace: Option<String>,
}

/// A Responses request, read.
#[derive(Debug, Clone, Default)]
pub struct ResponsesRequest {
    pub conversation: Conversation,
    pub tools: Vec<OfferedTool>,
    /// `include` has `reasoning.encrypted_content`: only then does OpenAI return it.
    pub encrypted_reasoning: bool,
    /// `reasoning.summary` is set: only then does OpenAI summarize its reasoning.
    pub reasoning_summary: bool,
    pub stream: bool,
}

impl ResponsesRequest {
    pub fn read(request: &Value) -> ResponsesRequest {
        let mut read = ResponsesRequest::default();
        let c = &mut read.conversation;
        if let Some(instructions) = request.get("instructions").and_then(Value::as_str) {
            c.prompt_text.push_str(instructions);
            c.prompt_text.push(' ');
            c.messages += 1;
        }
        match request.get("input") {
            Some(Value::String(text)) => read_item(c, &json!({"type": "message", "role": "user", "content": text})),
            Some(Value::Array(items)) => items.iter().for_each(|item| read_item(c, item)),
            _ => {}
        }
        for tool in request.get("tools").and_then(Value::as_array).into_iter().flatten() {
            match tool.get("type").and_then(Value::as_str) {
                Some("namespace") => {
                    let namespace = tool.get("name").and_then(Value::as_str);
                    for inner in tool.get("tools").and_then(Value::as_array).into_iter().flatten() {
                        offer(&mut read, inner, namespace);
                    }
                }
                _ => offer(&mut read, tool, None),
            }
        }
        read.conversation.forced_tool = forced_tool(request.get("tool_choice"));
        read.conversation.max_tokens = request.get("max_output_tokens").and_then(Value::as_u64).map(|n| n as usize);
        read.encrypted_reasoning = request
            .get("include")
            .and_then(Value::as_array)
            .is_some_and(|include| include.iter().any(|i| i == "reasoning.encrypted_content"));
        read.reasoning_summary = request.pointer("/reasoning/summary").is_some_and(|s| !s.is_null());
        read.stream = request.get("stream").and_then(Value::as_bool).unwrap_or(false);
        read
    }

    /// The offered tool called `name`.
    pub fn tool(&self, name: &str) -> Option<&OfferedTool> {
        self.tools.iter().find(|t| t.name == name)
    }
}

/// One `input` item. Calls the model made are not counted as prompt text (as in the chat and
/// Anthropic forms); their outputs are, and an output last means "answer, don't call again".
fn read_item(c: &mut Conversation, item: &Value) {
    // An "easy" input message may leave out its type.
    match item.get("type").and_then(Value::as_str).unwrap_or("message") {
        "message" => {
            let text = content_text(item.get("content"));
            c.prompt_text.push_str(&text);
            c.prompt_text.push(' ');
            c.messages += 1;
            if item.get("role").and_then(Value::as_str) == Some("user") {
                c.last_user_text = text;
            }
            c.ends_with_tool_result = false;
        }
        "function_call" | "custom_tool_call" => {
            c.messages += 1;
            c.ends_with_tool_result = false;
        }
        "function_call_output" | "custom_tool_call_output" => {
            let output = content_text(item.get("output"));
            c.prompt_text.push_str(&output);
            c.prompt_text.push(' ');
            c.messages += 1;
            c.ends_with_tool_result = true;
            c.tool_result_text = output;
        }
        // Earlier reasoning comes back with the calls it led to; it ends nothing.
        "reasoning" => {
            for part in item.get("summary").and_then(Value::as_array).into_iter().flatten() {
                c.prompt_text.push_str(part.get("text").and_then(Value::as_str).unwrap_or_default());
                c.prompt_text.push(' ');
            }
        }
        _ => {}
    }
}

/// Text of a `content` or `output`: a string, or parts (`input_text`, `output_text`, …; images
/// carry no text).
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join(" ")
        }
        _ => String::new(),
    }
}

/// Function and custom tools are offered; built-in ones (`web_search`, `tool_search`, …) are not.
fn offer(read: &mut ResponsesRequest, tool: &Value, namespace: Option<&str>) {
    let Some(name) = tool.get("name").and_then(Value::as_str) else { return };
    let (kind, schema) = match tool.get("type").and_then(Value::as_str) {
        Some("function") => (ToolKind::Function, tool.get("parameters").cloned().unwrap_or(json!({}))),
        Some("custom") => (ToolKind::Custom, json!({})),
        _ => return,
    };
    read.conversation.tools.push((name.to_string(), schema));
    read.tools.push(OfferedTool { name: name.to_string(), kind, namespace: namespace.map(str::to_string) });
}

/// `required`, or a named function or custom tool (`{"type": "function", "name": …}`).
fn forced_tool(choice: Option<&Value>) -> Option<ForcedTool> {
    match choice? {
        Value::String(s) if s == "required" => Some(ForcedTool::Any),
        choice @ Value::Object(_) => match choice.get("type").and_then(Value::as_str) {
            Some("function" | "custom") => {
                choice.get("name").and_then(Value::as_str).map(|n| ForcedTool::Named(n.into()))
            }
            Some("allowed_tools") if choice.get("mode").and_then(Value::as_str) == Some("required") => {
                Some(ForcedTool::Any)
            }
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_string_input_is_one_user_message_and_instructions_count_as_prompt() {
        let read = ResponsesRequest::read(&json!({"model": "m", "instructions": "be brief", "input": "hello there"}));
        let c = &read.conversation;
        assert_eq!((c.messages, c.last_user_text.as_str()), (2, "hello there"));
        assert_eq!(c.prompt_text.split_whitespace().count(), 4);
        assert!(!c.ends_with_tool_result && !read.stream);
    }

    #[test]
    fn a_tool_output_last_means_the_answer_is_text_and_reasoning_does_not_change_that() {
        let input = json!([
            {"role": "user", "content": [{"type": "input_text", "text": "run it"}]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thought"}], "encrypted_content": "x"},
            {"type": "function_call", "call_id": "call_1", "name": "exec_command", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "done ok"},
        ]);
        let c = ResponsesRequest::read(&json!({"model": "m", "input": input})).conversation;
        assert_eq!((c.messages, c.last_user_text.as_str(), c.ends_with_tool_result), (3, "run it", true));
        assert_eq!(c.prompt_text.split_whitespace().collect::<Vec<_>>(), ["run", "it", "thought", "done", "ok"]);
    }

    #[test]
    fn function_custom_and_namespaced_tools_are_offered_and_built_in_tools_are_not() {
        let read = ResponsesRequest::read(&json!({
            "model": "m", "input": "x",
            "include": ["reasoning.encrypted_content"], "reasoning": {"summary": "auto"},
            "tool_choice": {"type": "custom", "name": "apply_patch"},
            "tools": [
                {"type": "function", "name": "exec_command", "parameters": {"type": "object", "required": ["cmd"]}},
                {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
                {"type": "namespace", "name": "agents", "tools": [{"type": "function", "name": "spawn", "parameters": {}}]},
                {"type": "web_search"},
            ],
        }));
        let names: Vec<&str> = read.tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["exec_command", "apply_patch", "spawn"]);
        assert_eq!(read.tool("apply_patch").unwrap().kind, ToolKind::Custom);
        assert_eq!(read.tool("spawn").unwrap().namespace.as_deref(), Some("agents"));
        assert_eq!(read.conversation.forced_tool, Some(ForcedTool::Named("apply_patch".into())));
        assert!(read.encrypted_reasoning && read.reasoning_summary);
    }
}
