//! The Anthropic Messages API: `message` answers and the named SSE event sequence
//! (`message_start` … `message_stop`) with Anthropic's usage convention (`input_tokens`
//! excludes cache reads).

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::answer::{Answer, Conversation, Finish, ForcedTool};
use crate::directives::Directives;
use crate::errors::{self, Provider};
use crate::prelude;
use crate::streaming::{Delivery, Frame, pace_whole, sse_event, streamed};

/// `POST /v1/messages`.
pub async fn messages(headers: &HeaderMap, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return errors::bad_request(Provider::Anthropic, "There was an issue with your request: invalid JSON")
            .into_response();
    };
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let Some(model) = request.get("model").and_then(Value::as_str).map(str::to_string) else {
        return errors::bad_request(Provider::Anthropic, "model: Field required").into_response();
    };
    let directives = match prelude(Provider::Anthropic, key, &model, headers).await {
        Ok(directives) => directives,
        Err(response) => return response,
    };
    // The real API refuses requests without these; so does the mock, so the relay must send them.
    if !headers.contains_key("anthropic-version") {
        return errors::bad_request(Provider::Anthropic, "anthropic-version: header is required").into_response();
    }
    let Some(max_tokens) = request.get("max_tokens").and_then(Value::as_u64) else {
        return errors::bad_request(Provider::Anthropic, "max_tokens: Field required").into_response();
    };
    let Some(messages) = request.get("messages").and_then(Value::as_array) else {
        return errors::bad_request(Provider::Anthropic, "messages: Field required").into_response();
    };
    if let Some(refusal) = mid_conversation_system_refusal(headers, messages) {
        return errors::bad_request(Provider::Anthropic, &refusal).into_response();
    }
    let mut conversation = conversation(&request, messages);
    conversation.max_tokens = Some(max_tokens as usize);
    let answer = Answer::new(&model, &conversation, &directives);
    if request.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        return stream_answer(&model, &answer, &directives);
    }
    pace_whole(directives.tps, answer.words.len()).await;
    let mut content = Vec::new();
    if !answer.reasoning.is_empty() {
        content
            .push(json!({"type": "thinking", "thinking": answer.reasoning.join(" "), "signature": answer.signature}));
    }
    if !answer.words.is_empty() {
        content.push(json!({"type": "text", "text": answer.text()}));
    }
    if let Some(call) = &answer.tool_call {
        content.push(json!({"type": "tool_use", "id": tool_id(&call.id), "name": call.name, "input": call.arguments}));
    }
    axum::Json(json!({
        "id": message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(answer.finish),
        "stop_sequence": null,
        "usage": usage(&answer, &directives, answer.usage.completion),
    }))
    .into_response()
}

/// `POST /v1/messages/count_tokens`: the prompt tokens `messages` would bill for the same body
/// (Anthropic's convention: without cache reads, which a count never has).
pub async fn count_tokens(headers: &HeaderMap, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return errors::bad_request(Provider::Anthropic, "There was an issue with your request: invalid JSON")
            .into_response();
    };
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let model = request.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
    let directives = match prelude(Provider::Anthropic, key, &model, headers).await {
        Ok(directives) => directives,
        Err(response) => return response,
    };
    let Some(messages) = request.get("messages").and_then(Value::as_array) else {
        return errors::bad_request(Provider::Anthropic, "messages: Field required").into_response();
    };
    if let Some(refusal) = mid_conversation_system_refusal(headers, messages) {
        return errors::bad_request(Provider::Anthropic, &refusal).into_response();
    }
    let answer = Answer::new(&model, &conversation(&request, messages), &directives);
    axum::Json(json!({"input_tokens": answer.usage.prompt})).into_response()
}

/// A `system`-role message inside `messages` is accepted only under its beta flag
/// (`mid-conversation-system-...` in `anthropic-beta`), as the real API does: so a relay that
/// drops the client's beta header, or sends such a message to a plain request, is caught.
fn mid_conversation_system_refusal(headers: &HeaderMap, messages: &[Value]) -> Option<String> {
    let index = messages.iter().position(|m| m.get("role").and_then(Value::as_str) == Some("system"))?;
    let betas = headers.get_all("anthropic-beta").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    let allowed = betas.split(',').any(|beta| beta.trim().starts_with("mid-conversation-system"));
    (!allowed).then(|| format!("messages.{index}.role: Input should be 'user' or 'assistant'"))
}

fn conversation(request: &Value, messages: &[Value]) -> Conversation {
    let mut c = Conversation { messages: messages.len(), ..Conversation::default() };
    match request.get("system") {
        Some(Value::String(text)) => {
            c.prompt_text.push_str(text);
            c.prompt_text.push(' ');
        }
        Some(Value::Array(blocks)) => {
            for block in blocks {
                c.prompt_text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default());
                c.prompt_text.push(' ');
            }
        }
        _ => {}
    }
    for message in messages {
        let role = message.get("role").and_then(Value::as_str).unwrap_or_default();
        let mut text = String::new();
        let mut has_tool_result = false;
        match message.get("content") {
            Some(Value::String(s)) => text.push_str(s),
            Some(Value::Array(blocks)) => {
                for block in blocks {
                    match block.get("type").and_then(Value::as_str) {
                        Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default()),
                        Some("tool_result") => {
                            has_tool_result = true;
                            match block.get("content") {
                                Some(Value::String(s)) => text.push_str(s),
                                Some(other) => text.push_str(&other.to_string()),
                                None => {}
                            }
                        }
                        _ => {}
                    }
                    text.push(' ');
                }
            }
            _ => {}
        }
        c.prompt_text.push_str(&text);
        c.prompt_text.push(' ');
        if role == "user" {
            c.ends_with_tool_result = has_tool_result;
            if has_tool_result {
                c.tool_result_text = text;
            } else {
                c.last_user_text = text;
            }
        } else {
            c.ends_with_tool_result = false;
        }
    }
    for tool in request.get("tools").and_then(Value::as_array).into_iter().flatten() {
        if let Some(name) = tool.get("name").and_then(Value::as_str) {
            c.tools.push((name.to_string(), tool.get("input_schema").cloned().unwrap_or(json!({}))));
        }
    }
    c.tools_forbidden = request.pointer("/tool_choice/type").and_then(Value::as_str) == Some("none");
    c.forced_tool = match request.pointer("/tool_choice/type").and_then(Value::as_str) {
        Some("any") => Some(ForcedTool::Any),
        Some("tool") => {
            request.pointer("/tool_choice/name").and_then(Value::as_str).map(|n| ForcedTool::Named(n.into()))
        }
        _ => None,
    };
    c
}

fn stop_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
    }
}

fn usage(answer: &Answer, directives: &Directives, output_tokens: u64) -> Value {
    if directives.no_usage {
        return json!({"input_tokens": 0, "output_tokens": 0});
    }
    let u = answer.usage;
    json!({
        "input_tokens": u.prompt - u.cached,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": u.cached,
        "output_tokens": output_tokens,
    })
}

fn message_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("msg_mock{:016x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn tool_id(id: &str) -> String {
    format!("toolu_{}", id.trim_start_matches("call_"))
}

fn stream_answer(model: &str, answer: &Answer, directives: &Directives) -> Response {
    let start_usage = usage(answer, directives, 1);
    let start = json!({
        "type": "message_start",
        "message": {
            "id": message_id(), "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": start_usage,
        }
    });
    let mut frames = vec![Frame::meta(sse_event("message_start", &start))];
    if let Some(kind) = directives.error_in_stream {
        let error = errors::for_kind(Provider::Anthropic, kind);
        frames.push(Frame::meta(sse_event("error", &error.body)));
        return streamed(frames, Delivery::default(), "text/event-stream; charset=utf-8");
    }
    frames.push(Frame::meta(sse_event("ping", &json!({"type": "ping"}))));
    let mut index = 0;
    let block_start = |index: u32, block: Value| {
        sse_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        )
    };
    let delta = |index: u32, delta: Value| {
        sse_event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": delta}))
    };
    let block_stop =
        |index: u32| sse_event("content_block_stop", &json!({"type": "content_block_stop", "index": index}));
    if !answer.reasoning.is_empty() {
        frames.push(Frame::meta(block_start(index, json!({"type": "thinking", "thinking": "", "signature": ""}))));
        for piece in answer.reasoning_pieces() {
            frames.push(Frame::content(delta(index, json!({"type": "thinking_delta", "thinking": piece}))));
        }
        frames.push(Frame::meta(delta(index, json!({"type": "signature_delta", "signature": answer.signature}))));
        frames.push(Frame::meta(block_stop(index)));
        index += 1;
    }
    if !answer.words.is_empty() {
        frames.push(Frame::meta(block_start(index, json!({"type": "text", "text": ""}))));
        for piece in answer.pieces() {
            frames.push(Frame::content(delta(index, json!({"type": "text_delta", "text": piece}))));
        }
        frames.push(Frame::meta(block_stop(index)));
        index += 1;
    }
    if let Some(call) = &answer.tool_call {
        frames.push(Frame::meta(block_start(
            index,
            json!({"type": "tool_use", "id": tool_id(&call.id), "name": call.name, "input": {}}),
        )));
        let arguments = call.arguments.to_string();
        let (first, second) = arguments.split_at(arguments.len() / 2);
        for part in [first, second] {
            frames.push(Frame::content(delta(index, json!({"type": "input_json_delta", "partial_json": part}))));
        }
        frames.push(Frame::meta(block_stop(index)));
    }
    let final_usage = if directives.no_usage {
        json!({"output_tokens": 0})
    } else {
        json!({"output_tokens": answer.usage.completion})
    };
    frames.push(Frame::meta(sse_event(
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": stop_reason(answer.finish), "stop_sequence": null}, "usage": final_usage}),
    )));
    frames.push(Frame::meta(sse_event("message_stop", &json!({"type": "message_stop"}))));
    streamed(frames, Delivery::from_tps(directives.tps, directives.break_after), "text/event-stream; charset=utf-8")
}
