//! The OpenAI Responses API (`POST /v1/responses`): Codex CLI's only protocol and the OpenAI
//! SDK's newer one. It is an ingress dialect and, for OpenAI and Azure channels, a provider wire:
//!
//! - `request`: a client's body (its `previous_response_id` already resolved by the handler)
//!   -> [`ChatRequest`](crate::ir::ChatRequest), keeping the body whole as the original request.
//! - `upstream`: the pass-through request for OpenAI and Azure: the client's body, model
//!   replaced (NOTES.md "Responses API", the fidelity principle).
//! - `response`: [`ChatResponse`](crate::ir::ChatResponse) <-> a `response` object.
//! - `stream_encode`: stream events -> Responses' typed SSE events for a translated answer, or the
//!   upstream's own events relayed as they came for a pass-through one.
//! - `stream_decode`: an upstream's Responses SSE -> stream events (for usage and accounting).
//!
//! Tool names: Responses has kinds of tools chat dialects lack. A `custom` tool (free-form text
//! input, e.g. Codex's `apply_patch`) becomes a function with one string parameter `input`, and a
//! function inside a `namespace` tool becomes `{namespace}__{name}`; [`ToolKinds`] maps a call of
//! either back to its own item shape.

mod request;
mod response;
mod stream_decode;
mod stream_encode;
mod upstream;

use std::collections::HashMap;

pub use request::{input_items, parse_request};
pub use response::{parse_upstream_response, render_response};
pub use stream_decode::ResponsesStreamDecoder;
pub use stream_encode::ResponsesStreamEncoder;
pub use upstream::build_upstream_request;

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::ir::{ChatRequest, Usage};

/// Separator between a namespace and a function name in the flattened name of a namespaced tool.
const NAMESPACE_SEPARATOR: &str = "__";

/// The Responses `usage` object.
fn usage_json(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens.saturating_add(usage.output_tokens),
    })
}

/// Reads a Responses `usage` object (same conventions as the IR: input includes cached tokens,
/// output includes reasoning tokens).
fn usage_from_json(usage: &Value) -> Usage {
    let n = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("/input_tokens"),
        cached_input_tokens: n("/input_tokens_details/cached_tokens"),
        cache_write_tokens: 0,
        output_tokens: n("/output_tokens"),
        reasoning_tokens: n("/output_tokens_details/reasoning_tokens"),
    }
}

/// A fresh item id with the Responses prefix for its type (`msg_`, `fc_`, `rs_`, ...).
pub fn item_id(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::now_v7().simple())
}

/// What kind of tool a flattened tool name stands for, so a call can be answered in its own
/// item shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolKind {
    /// A custom (free-form) tool: the call's `input` is the `input` argument.
    Custom,
    /// A function inside a namespace tool, under its own name.
    Namespaced { namespace: String, name: String },
}

/// The non-plain tools of a Responses request, by flattened name.
#[derive(Debug, Clone, Default)]
pub struct ToolKinds(HashMap<String, ToolKind>);

impl ToolKinds {
    /// Reads the `tools` of a Responses body.
    pub fn of_body(body: &Map<String, Value>) -> ToolKinds {
        let mut kinds = HashMap::new();
        for tool in body.get("tools").and_then(Value::as_array).into_iter().flatten() {
            let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
            match tool.get("type").and_then(Value::as_str) {
                Some("custom") => {
                    kinds.insert(name.to_string(), ToolKind::Custom);
                }
                Some("namespace") => {
                    for inner in tool.get("tools").and_then(Value::as_array).into_iter().flatten() {
                        let inner_name = inner.get("name").and_then(Value::as_str).unwrap_or_default();
                        kinds.insert(
                            flat_name(name, inner_name),
                            ToolKind::Namespaced { namespace: name.to_string(), name: inner_name.to_string() },
                        );
                    }
                }
                _ => {}
            }
        }
        ToolKinds(kinds)
    }

    /// The tool kinds of the request's original Responses body (none for other dialects).
    pub fn of_request(request: &ChatRequest) -> ToolKinds {
        request.original.as_ref().map(|original| ToolKinds::of_body(&original.body)).unwrap_or_default()
    }

    pub fn get(&self, flat_name: &str) -> Option<&ToolKind> {
        self.0.get(flat_name)
    }

    /// The id prefix of a call item of `flat_name`: `ctc` for a custom tool, else `fc`.
    fn call_id_prefix(&self, flat_name: &str) -> &'static str {
        if matches!(self.get(flat_name), Some(ToolKind::Custom)) { "ctc" } else { "fc" }
    }

    /// The output item of a call of `flat_name` with `arguments` (JSON text): a `function_call`,
    /// or a `custom_tool_call` whose `input` is the `input` argument.
    fn call_item(&self, id: &str, call_id: &str, flat_name: &str, arguments: &str, status: &str) -> Value {
        match self.get(flat_name) {
            Some(ToolKind::Custom) => json!({
                "id": id, "type": "custom_tool_call", "status": status, "call_id": call_id,
                "name": flat_name, "input": custom_input(arguments),
            }),
            Some(ToolKind::Namespaced { namespace, name }) => json!({
                "id": id, "type": "function_call", "status": status, "call_id": call_id,
                "name": name, "namespace": namespace, "arguments": arguments,
            }),
            None => json!({
                "id": id, "type": "function_call", "status": status, "call_id": call_id,
                "name": flat_name, "arguments": arguments,
            }),
        }
    }
}

/// The flattened name of a function inside a namespace tool.
fn flat_name(namespace: &str, name: &str) -> String {
    format!("{namespace}{NAMESPACE_SEPARATOR}{name}")
}

/// The free-form input of a custom tool call from the arguments a translated model produced
/// (`{"input": "..."}`); arguments of another shape are passed on as they are.
fn custom_input(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(object)) => match object.get("input") {
            Some(Value::String(input)) => input.clone(),
            _ => arguments.to_string(),
        },
        _ => arguments.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn usage_round_trips_through_the_wire_shape() {
        let usage = Usage {
            input_tokens: 100,
            cached_input_tokens: 40,
            cache_write_tokens: 0,
            output_tokens: 30,
            reasoning_tokens: 10,
        };
        assert_eq!(usage_from_json(&usage_json(&usage)), usage);
        assert_eq!(usage_json(&usage)["total_tokens"], 130);
    }

    #[test]
    fn custom_and_namespaced_calls_get_their_own_item_shapes() {
        let body = json!({"tools": [
            {"type": "function", "name": "exec_command", "parameters": {}},
            {"type": "custom", "name": "apply_patch"},
            {"type": "namespace", "name": "agents", "tools": [{"type": "function", "name": "spawn"}]},
        ]});
        let kinds = ToolKinds::of_body(body.as_object().unwrap());
        let custom = kinds.call_item("ctc_1", "call_1", "apply_patch", r#"{"input":"*** Begin Patch"}"#, "completed");
        assert_eq!(
            (custom["type"].as_str(), custom["input"].as_str()),
            (Some("custom_tool_call"), Some("*** Begin Patch"))
        );
        let nested = kinds.call_item("fc_1", "call_2", "agents__spawn", "{}", "completed");
        assert_eq!((nested["name"].as_str(), nested["namespace"].as_str()), (Some("spawn"), Some("agents")));
        let plain = kinds.call_item("fc_2", "call_3", "exec_command", r#"{"cmd":"ls"}"#, "completed");
        assert_eq!(
            (plain["type"].as_str(), plain["arguments"].as_str()),
            (Some("function_call"), Some(r#"{"cmd":"ls"}"#))
        );
    }
}
