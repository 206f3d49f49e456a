//! The answer as Responses output items (reasoning, message, function or custom tool call), and
//! the `response` object that carries them, with the request settings OpenAI echoes back.

use base64::Engine;
use serde_json::{Value, json};

use super::request::{ResponsesRequest, ToolKind};
use crate::answer::{Answer, Finish};
use crate::directives::Directives;
use crate::openai::uuid_like;

/// One item of `output`.
#[derive(Debug, Clone)]
pub struct OutputItem {
    pub id: String,
    pub body: ItemBody,
}

#[derive(Debug, Clone)]
pub enum ItemBody {
    /// `summary` holds the streamed pieces of the one summary part (none unless asked for).
    Reasoning {
        summary: Vec<String>,
        encrypted_content: Option<String>,
    },
    /// `pieces` are the streamed words; `cut` when `max_output_tokens` ended it.
    Message {
        pieces: Vec<String>,
        cut: bool,
    },
    FunctionCall {
        call_id: String,
        name: String,
        namespace: Option<String>,
        arguments: String,
    },
    CustomToolCall {
        call_id: String,
        name: String,
        input: String,
    },
}

/// What a call of a custom (free-text) tool says: there is no schema to satisfy.
const CUSTOM_TOOL_INPUT: &str = "mock";

/// The answer's output items, in order: reasoning, then the text or the tool call.
pub fn output_items(answer: &Answer, request: &ResponsesRequest) -> Vec<OutputItem> {
    let mut items = Vec::new();
    if !answer.reasoning.is_empty() {
        let summary = if request.reasoning_summary { answer.reasoning_pieces() } else { Vec::new() };
        let encrypted_content = request.encrypted_reasoning.then(|| encrypted_reasoning(answer));
        items.push(OutputItem { id: item_id("rs"), body: ItemBody::Reasoning { summary, encrypted_content } });
    }
    if !answer.words.is_empty() {
        let body = ItemBody::Message { pieces: answer.pieces(), cut: answer.finish == Finish::Length };
        items.push(OutputItem { id: item_id("msg"), body });
    }
    if let Some(call) = &answer.tool_call {
        let tool = request.tool(&call.name);
        let body = match tool.map(|t| t.kind) {
            Some(ToolKind::Custom) => ItemBody::CustomToolCall {
                call_id: call.id.clone(),
                name: call.name.clone(),
                input: CUSTOM_TOOL_INPUT.to_string(),
            },
            _ => ItemBody::FunctionCall {
                call_id: call.id.clone(),
                name: call.name.clone(),
                namespace: tool.and_then(|t| t.namespace.clone()),
                arguments: call.arguments.to_string(),
            },
        };
        let prefix = if matches!(body, ItemBody::CustomToolCall { .. }) { "ctc" } else { "fc" };
        items.push(OutputItem { id: item_id(prefix), body });
    }
    items
}

impl OutputItem {
    /// The item as `response.output_item.added` announces it: in progress, nothing said yet.
    pub fn started(&self) -> Value {
        let id = &self.id;
        match &self.body {
            ItemBody::Reasoning { encrypted_content, .. } => reasoning(id, json!([]), encrypted_content),
            ItemBody::Message { .. } => {
                json!({"id": id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"})
            }
            ItemBody::FunctionCall { call_id, name, namespace, .. } => {
                function_call(id, "in_progress", call_id, name, namespace, "")
            }
            ItemBody::CustomToolCall { call_id, name, .. } => custom_tool_call(id, "in_progress", call_id, name, ""),
        }
    }

    /// The finished item, as `output` and `response.output_item.done` carry it.
    pub fn done(&self) -> Value {
        let id = &self.id;
        match &self.body {
            ItemBody::Reasoning { summary, encrypted_content } => {
                let parts = if summary.is_empty() { json!([]) } else { json!([summary_part(&summary.concat())]) };
                reasoning(id, parts, encrypted_content)
            }
            ItemBody::Message { pieces, cut } => json!({
                "id": id, "type": "message", "status": if *cut { "incomplete" } else { "completed" },
                "content": [output_text(&pieces.concat())], "role": "assistant",
            }),
            ItemBody::FunctionCall { call_id, name, namespace, arguments } => {
                function_call(id, "completed", call_id, name, namespace, arguments)
            }
            ItemBody::CustomToolCall { call_id, name, input } => {
                custom_tool_call(id, "completed", call_id, name, input)
            }
        }
    }
}

/// An `output_text` content part.
pub fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "annotations": [], "logprobs": [], "text": text})
}

/// A `summary_text` part of a reasoning summary.
pub fn summary_part(text: &str) -> Value {
    json!({"type": "summary_text", "text": text})
}

fn reasoning(id: &str, summary: Value, encrypted_content: &Option<String>) -> Value {
    let mut item = json!({"id": id, "type": "reasoning", "summary": summary});
    if let Some(encrypted) = encrypted_content {
        item["encrypted_content"] = json!(encrypted);
    }
    item
}

fn function_call(
    id: &str,
    status: &str,
    call_id: &str,
    name: &str,
    namespace: &Option<String>,
    arguments: &str,
) -> Value {
    let mut item = json!({
        "id": id, "type": "function_call", "status": status, "arguments": arguments, "call_id": call_id, "name": name,
    });
    if let Some(namespace) = namespace {
        item["namespace"] = json!(namespace);
    }
    item
}

fn custom_tool_call(id: &str, status: &str, call_id: &str, name: &str, input: &str) -> Value {
    json!({"id": id, "type": "custom_tool_call", "status": status, "call_id": call_id, "input": input, "name": name})
}

/// Opaque to clients, like OpenAI's (which is encrypted): here the base64 of the reasoning and
/// its signature, so a test can still see what came back.
fn encrypted_reasoning(answer: &Answer) -> String {
    let plain = format!("{}\n{}", answer.signature, answer.reasoning.join(" "));
    format!("gAAAAB{}", base64::engine::general_purpose::STANDARD.encode(plain))
}

fn item_id(prefix: &str) -> String {
    format!("{prefix}_mock{}", uuid_like())
}

/// Where a `response` object is in its life.
pub enum Status {
    InProgress,
    Completed,
    /// Cut by `max_output_tokens`.
    Incomplete,
    /// Failed with this `{code, message}`.
    Failed(Value),
}

/// What every `response` object of one answer shares: id, creation time, model, and the request
/// settings OpenAI echoes back.
pub struct Envelope<'a> {
    id: String,
    created_at: u64,
    model: &'a str,
    request: &'a Value,
}

impl<'a> Envelope<'a> {
    pub fn new(model: &'a str, request: &'a Value) -> Envelope<'a> {
        Envelope { id: item_id("resp"), created_at: crate::created_now(), model, request }
    }

    /// The `response` object; `usage` is null while in progress (or under `no_usage`).
    pub fn response(&self, status: &Status, output: Vec<Value>, usage: Value) -> Value {
        let echo = |name: &str, default: Value| self.request.get(name).cloned().unwrap_or(default);
        let (status, error, incomplete_details) = match status {
            Status::InProgress => ("in_progress", Value::Null, Value::Null),
            Status::Completed => ("completed", Value::Null, Value::Null),
            Status::Incomplete => ("incomplete", Value::Null, json!({"reason": "max_output_tokens"})),
            Status::Failed(error) => ("failed", error.clone(), Value::Null),
        };
        let pointer = |path: &str| self.request.pointer(path).cloned().unwrap_or(Value::Null);
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": false,
            "error": error,
            "incomplete_details": incomplete_details,
            "instructions": echo("instructions", Value::Null),
            "max_output_tokens": echo("max_output_tokens", Value::Null),
            "max_tool_calls": echo("max_tool_calls", Value::Null),
            "model": self.model,
            "output": output,
            "parallel_tool_calls": echo("parallel_tool_calls", json!(true)),
            "previous_response_id": echo("previous_response_id", Value::Null),
            "prompt_cache_key": echo("prompt_cache_key", Value::Null),
            "reasoning": {"effort": pointer("/reasoning/effort"), "summary": pointer("/reasoning/summary")},
            "safety_identifier": echo("safety_identifier", Value::Null),
            "service_tier": "default",
            "store": echo("store", json!(true)),
            "temperature": echo("temperature", json!(1.0)),
            "text": {
                "format": self.request.pointer("/text/format").cloned().unwrap_or(json!({"type": "text"})),
                "verbosity": self.request.pointer("/text/verbosity").cloned().unwrap_or(json!("medium")),
            },
            "tool_choice": echo("tool_choice", json!("auto")),
            "tools": echo("tools", json!([])),
            "top_logprobs": echo("top_logprobs", json!(0)),
            "top_p": echo("top_p", json!(1.0)),
            "truncation": echo("truncation", json!("disabled")),
            "usage": usage,
            "user": echo("user", Value::Null),
            "metadata": echo("metadata", json!({})),
        })
    }
}

/// The status an answer ends in.
pub fn final_status(answer: &Answer) -> Status {
    if answer.finish == Finish::Length { Status::Incomplete } else { Status::Completed }
}

/// Responses usage: `input_tokens` include the cached ones, `output_tokens` the reasoning ones.
pub fn usage(answer: &Answer, directives: &Directives) -> Value {
    if directives.no_usage {
        return Value::Null;
    }
    let u = answer.usage;
    json!({
        "input_tokens": u.prompt,
        "input_tokens_details": {"cached_tokens": u.cached},
        "output_tokens": u.completion,
        "output_tokens_details": {"reasoning_tokens": u.reasoning},
        "total_tokens": u.prompt + u.completion,
    })
}
