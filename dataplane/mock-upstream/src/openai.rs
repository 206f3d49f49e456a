//! The OpenAI Chat Completions API (and its Azure form): `chat.completion` answers and
//! `chat.completion.chunk` streams exactly as OpenAI sends them.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::answer::{Answer, Conversation, Finish, ForcedTool};
use crate::directives::Directives;
use crate::errors::{self, Provider};
use crate::streaming::{Delivery, Frame, pace_whole, sse_data, streamed};
use crate::{created_now, prelude};

/// `POST /v1/chat/completions`; `deployment` is the model for the Azure form.
pub async fn chat(headers: &HeaderMap, body: &[u8], deployment: Option<&str>) -> Response {
    let (request, model, directives) = match json_request(headers, body, deployment).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let Some(messages) = request.get("messages").and_then(Value::as_array) else {
        return errors::bad_request(Provider::OpenAi, "Missing required parameter: 'messages'.").into_response();
    };
    if directives.reject_stream_options && request.get("stream_options").is_some() {
        return errors::bad_request(Provider::OpenAi, "Unrecognized request argument supplied: stream_options")
            .into_response();
    }
    let conversation = conversation(&request, messages);
    let answer = Answer::new(&model, &conversation, &directives);
    let stream = request.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if stream {
        let include_usage = request.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
        return stream_answer(&model, &answer, &directives, include_usage);
    }
    pace_whole(directives.tps, answer.words.len()).await;
    axum::Json(complete(&model, &answer, &directives)).into_response()
}

/// The key of an `Authorization: Bearer …` header.
/// What every OpenAI JSON endpoint reads first: the body, the model (the Azure deployment's, or
/// the body's) and the key's directives; else the error OpenAI would answer.
pub(crate) async fn json_request(
    headers: &HeaderMap,
    body: &[u8],
    deployment: Option<&str>,
) -> Result<(Value, String, Directives), Response> {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Err(
            errors::bad_request(Provider::OpenAi, "We could not parse the JSON body of your request.").into_response()
        );
    };
    let key = bearer(headers).or_else(|| headers.get("api-key").and_then(|v| v.to_str().ok()));
    let model =
        deployment.map(str::to_string).or_else(|| request.get("model").and_then(Value::as_str).map(str::to_string));
    let Some(model) = model else {
        return Err(errors::bad_request(Provider::OpenAi, "you must provide a model parameter").into_response());
    };
    let directives = prelude(Provider::OpenAi, key, &model, headers).await?;
    Ok((request, model, directives))
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

fn conversation(request: &Value, messages: &[Value]) -> Conversation {
    let mut c = Conversation { messages: messages.len(), ..Conversation::default() };
    for message in messages {
        let text = content_text(message.get("content"));
        c.prompt_text.push_str(&text);
        c.prompt_text.push(' ');
        match message.get("role").and_then(Value::as_str) {
            Some("user") => {
                c.last_user_text = text;
                c.ends_with_tool_result = false;
            }
            Some("tool" | "function") => {
                c.ends_with_tool_result = true;
                c.tool_result_text = text;
            }
            _ => c.ends_with_tool_result = false,
        }
    }
    for tool in request.get("tools").and_then(Value::as_array).into_iter().flatten() {
        if let Some(function) = tool.get("function")
            && let Some(name) = function.get("name").and_then(Value::as_str)
        {
            c.tools.push((name.to_string(), function.get("parameters").cloned().unwrap_or(json!({}))));
        }
    }
    c.tools_forbidden = request.get("tool_choice").and_then(Value::as_str) == Some("none");
    c.forced_tool = match request.get("tool_choice") {
        Some(Value::String(s)) if s == "required" => Some(ForcedTool::Any),
        Some(choice @ Value::Object(_)) => {
            choice.pointer("/function/name").and_then(Value::as_str).map(|n| ForcedTool::Named(n.into()))
        }
        _ => None,
    };
    c.max_tokens = request
        .get("max_completion_tokens")
        .or_else(|| request.get("max_tokens"))
        .and_then(Value::as_u64)
        .map(|n| n as usize);
    c
}

/// Text of a message `content`: a string or an array of parts.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join(" ")
        }
        _ => String::new(),
    }
}

fn finish_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "stop",
        Finish::Length => "length",
        Finish::ToolCalls => "tool_calls",
    }
}

fn usage_json(answer: &Answer) -> Value {
    let u = answer.usage;
    json!({
        "prompt_tokens": u.prompt,
        "completion_tokens": u.completion,
        "total_tokens": u.prompt + u.completion,
        "prompt_tokens_details": {"cached_tokens": u.cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    })
}

fn id() -> String {
    format!("chatcmpl-mock{}", uuid_like())
}

/// A process-unique hex suffix for ids.
pub(crate) fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{:012x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn complete(model: &str, answer: &Answer, directives: &Directives) -> Value {
    let mut message = json!({"role": "assistant", "content": null, "refusal": null});
    if !answer.words.is_empty() {
        message["content"] = json!(answer.text());
    }
    if !answer.reasoning.is_empty() {
        message["reasoning_content"] = json!(answer.reasoning.join(" "));
    }
    if let Some(call) = &answer.tool_call {
        message["tool_calls"] = json!([{
            "id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": call.arguments.to_string()}
        }]);
    }
    let mut body = json!({
        "id": id(),
        "object": "chat.completion",
        "created": created_now(),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason(answer.finish)}],
        "system_fingerprint": "fp_mock",
    });
    if !directives.no_usage {
        body["usage"] = usage_json(answer);
    }
    body
}

fn stream_answer(model: &str, answer: &Answer, directives: &Directives, include_usage: bool) -> Response {
    let id = id();
    let created = created_now();
    let chunk = |delta: Value, finish: Option<&str>| {
        let mut chunk = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if include_usage {
            chunk["usage"] = Value::Null;
        }
        sse_data(&chunk)
    };
    let mut frames = vec![Frame::meta(chunk(json!({"role": "assistant", "content": "", "refusal": null}), None))];
    if let Some(kind) = directives.error_in_stream {
        let error = errors::for_kind(Provider::OpenAi, kind);
        frames.push(Frame::meta(sse_data(&error.body)));
        return streamed(frames, Delivery::default(), "text/event-stream; charset=utf-8");
    }
    for piece in answer.reasoning_pieces() {
        frames.push(Frame::content(chunk(json!({"reasoning_content": piece}), None)));
    }
    for piece in answer.pieces() {
        frames.push(Frame::content(chunk(json!({"content": piece}), None)));
    }
    if let Some(call) = &answer.tool_call {
        let start = json!({"tool_calls": [{"index": 0, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}]});
        frames.push(Frame::content(chunk(start, None)));
        let arguments = call.arguments.to_string();
        let (first, second) = arguments.split_at(arguments.len() / 2);
        for part in [first, second] {
            frames.push(Frame::content(chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}),
                None,
            )));
        }
    }
    frames.push(Frame::meta(chunk(json!({}), Some(finish_reason(answer.finish)))));
    if include_usage && !directives.no_usage {
        let usage = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_mock", "choices": [], "usage": usage_json(answer),
        });
        frames.push(Frame::meta(sse_data(&usage)));
    }
    frames.push(Frame::meta(Bytes::from_static(b"data: [DONE]\n\n")));
    streamed(frames, Delivery::from_tps(directives.tps, directives.break_after), "text/event-stream; charset=utf-8")
}

/// `GET /v1/models`.
pub fn models() -> Value {
    let created = 1_700_000_000;
    let data: Vec<Value> = ["mock-gpt-4o", "mock-gpt-4o-mini", "mock-embedding"]
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": created, "owned_by": "oblivious-mock"}))
        .collect();
    json!({"object": "list", "data": data})
}
