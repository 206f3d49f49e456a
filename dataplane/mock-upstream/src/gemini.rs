//! The Gemini API (`v1beta`): `GenerateContentResponse` answers, SSE streams (`alt=sse`) and the
//! JSON-array stream (no `alt`), with cumulative `usageMetadata` on every chunk as Gemini sends
//! it, thought parts, `thoughtSignature` and `functionCall` parts.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::answer::{Answer, Conversation, Finish, ForcedTool};
use crate::directives::Directives;
use crate::errors::{self, Provider};
use crate::prelude;
use crate::streaming::{Delivery, Frame, pace_whole, streamed};

/// Words per streamed chunk (Gemini streams a few tokens per chunk, not one).
const WORDS_PER_CHUNK: usize = 3;

/// `POST /v1beta/models/{model}:{method}`; `query_key` is `?key=`, `sse` is `?alt=sse`.
pub async fn generate(
    headers: &HeaderMap,
    body: &[u8],
    model: &str,
    method: &str,
    query_key: Option<&str>,
    sse: bool,
) -> Response {
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        other => {
            let message = format!("Method not found: {other}");
            return errors::ProviderError {
                status: 404,
                body: json!({"error": {"code": 404, "message": message, "status": "NOT_FOUND"}}),
            }
            .into_response();
        }
    };
    let key = headers.get("x-goog-api-key").and_then(|v| v.to_str().ok()).or(query_key);
    let directives = match prelude(Provider::Gemini, key, model, headers).await {
        Ok(directives) => directives,
        Err(response) => return response,
    };
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return errors::bad_request(Provider::Gemini, "Invalid JSON payload received.").into_response();
    };
    let Some(contents) = request.get("contents").and_then(Value::as_array) else {
        return errors::bad_request(Provider::Gemini, "* GenerateContentRequest.contents: contents is not specified")
            .into_response();
    };
    let conversation = conversation(&request, contents);
    let answer = Answer::new(model, &conversation, &directives);
    if !stream {
        pace_whole(directives.tps, answer.words.len()).await;
        let mut parts = thought_parts(&answer, answer.reasoning.join(" "));
        parts.extend(answer_parts(&answer, answer.text()));
        return axum::Json(chunk(model, parts, Some(finish_reason(answer.finish)), usage(&answer, &directives, true)))
            .into_response();
    }
    let mut chunks: Vec<(Value, bool)> = Vec::new();
    if let Some(kind) = directives.error_in_stream {
        chunks.push((errors::for_kind(Provider::Gemini, kind).body, false));
        return respond(chunks, sse, Delivery::default());
    }
    for piece in answer.reasoning.chunks(WORDS_PER_CHUNK) {
        let parts = vec![json!({"text": piece.join(" "), "thought": true})];
        chunks.push((chunk(model, parts, None, usage(&answer, &directives, false)), true));
    }
    let pieces = answer.pieces();
    let text_chunks: Vec<String> = pieces.chunks(WORDS_PER_CHUNK).map(|c| c.concat()).collect();
    let last_text = text_chunks.len().saturating_sub(1);
    for (i, text) in text_chunks.iter().enumerate() {
        let mut parts = vec![json!({"text": text})];
        // Gemini puts the signature of the thinking on the first answer part.
        if i == 0 && !answer.reasoning.is_empty() {
            parts[0]["thoughtSignature"] = json!(answer.signature);
        }
        let last = i == last_text && answer.tool_call.is_none();
        let finish = last.then(|| finish_reason(answer.finish));
        chunks.push((chunk(model, parts, finish, usage(&answer, &directives, last)), true));
    }
    if answer.tool_call.is_some() {
        let parts = answer_parts(&answer, String::new());
        chunks.push((chunk(model, parts, Some(finish_reason(answer.finish)), usage(&answer, &directives, true)), true));
    }
    if chunks.is_empty() {
        chunks.push((chunk(model, vec![json!({"text": ""})], Some("STOP"), usage(&answer, &directives, true)), true));
    }
    respond(
        chunks,
        sse,
        Delivery::from_tps(directives.tps.map(|t| (t / WORDS_PER_CHUNK as u32).max(1)), directives.break_after),
    )
}

fn respond(chunks: Vec<(Value, bool)>, sse: bool, delivery: Delivery) -> Response {
    let count = chunks.len();
    let frames = chunks
        .into_iter()
        .enumerate()
        .map(|(i, (value, content))| {
            let bytes = if sse {
                Bytes::from(format!("data: {value}\r\n\r\n"))
            } else {
                let opener = if i == 0 { "[" } else { ",\r\n" };
                let closer = if i + 1 == count { "]" } else { "" };
                Bytes::from(format!("{opener}{value}{closer}"))
            };
            Frame { bytes, content }
        })
        .collect();
    streamed(frames, delivery, if sse { "text/event-stream" } else { "application/json; charset=UTF-8" })
}

fn conversation(request: &Value, contents: &[Value]) -> Conversation {
    let mut c = Conversation { messages: contents.len(), ..Conversation::default() };
    for part in request.pointer("/systemInstruction/parts").and_then(Value::as_array).into_iter().flatten() {
        c.prompt_text.push_str(part.get("text").and_then(Value::as_str).unwrap_or_default());
        c.prompt_text.push(' ');
    }
    for content in contents {
        let role = content.get("role").and_then(Value::as_str).unwrap_or("user");
        let mut text = String::new();
        let mut has_response = false;
        for part in content.get("parts").and_then(Value::as_array).into_iter().flatten() {
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            if let Some(t) = part.get("text").and_then(Value::as_str) {
                text.push_str(t);
                text.push(' ');
            }
            if let Some(response) = part.get("functionResponse").or_else(|| part.get("function_response")) {
                has_response = true;
                text.push_str(&response.get("response").map(Value::to_string).unwrap_or_default());
                text.push(' ');
            }
        }
        c.prompt_text.push_str(&text);
        if role == "user" {
            c.ends_with_tool_result = has_response;
            if !has_response {
                c.last_user_text = text;
            }
        } else {
            c.ends_with_tool_result = false;
        }
    }
    for tool in request.get("tools").and_then(Value::as_array).into_iter().flatten() {
        for declaration in tool.get("functionDeclarations").and_then(Value::as_array).into_iter().flatten() {
            if let Some(name) = declaration.get("name").and_then(Value::as_str) {
                let schema = declaration.get("parametersJsonSchema").or_else(|| declaration.get("parameters")).cloned();
                c.tools.push((name.to_string(), schema.unwrap_or(json!({}))));
            }
        }
    }
    if request.pointer("/toolConfig/functionCallingConfig/mode").and_then(Value::as_str) == Some("ANY") {
        let allowed =
            request.pointer("/toolConfig/functionCallingConfig/allowedFunctionNames/0").and_then(Value::as_str);
        c.forced_tool = Some(allowed.map_or(ForcedTool::Any, |n| ForcedTool::Named(n.to_string())));
    }
    c.max_tokens = request.pointer("/generationConfig/maxOutputTokens").and_then(Value::as_u64).map(|n| n as usize);
    c
}

fn thought_parts(answer: &Answer, thought: String) -> Vec<Value> {
    if answer.reasoning.is_empty() { Vec::new() } else { vec![json!({"text": thought, "thought": true})] }
}

/// The answer's text and call parts; the thinking's signature rides on the first of them.
fn answer_parts(answer: &Answer, text: String) -> Vec<Value> {
    let mut parts = Vec::new();
    if !text.is_empty() {
        parts.push(json!({"text": text}));
    }
    if let Some(call) = &answer.tool_call {
        parts.push(json!({"functionCall": {"name": call.name, "args": call.arguments}}));
    }
    if parts.is_empty() {
        parts.push(json!({"text": ""}));
    }
    if !answer.reasoning.is_empty() {
        parts[0]["thoughtSignature"] = json!(answer.signature);
    }
    parts
}

fn finish_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop | Finish::ToolCalls => "STOP",
        Finish::Length => "MAX_TOKENS",
    }
}

/// Usage so far: the prompt from the start, candidates growing to the full count at the end
/// (cumulative, as Gemini reports it — the last one wins).
fn usage(answer: &Answer, directives: &Directives, last: bool) -> Option<Value> {
    if directives.no_usage {
        return None;
    }
    let u = answer.usage;
    let thoughts = u.reasoning;
    let candidates = if last { u.completion - thoughts } else { 0 };
    let mut usage = json!({
        "promptTokenCount": u.prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": u.prompt + candidates + if last { thoughts } else { 0 },
    });
    if u.cached > 0 {
        usage["cachedContentTokenCount"] = json!(u.cached);
    }
    if thoughts > 0 && last {
        usage["thoughtsTokenCount"] = json!(thoughts);
    }
    Some(usage)
}

fn chunk(model: &str, parts: Vec<Value>, finish: Option<&str>, usage: Option<Value>) -> Value {
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    if let Some(finish) = finish {
        candidate["finishReason"] = json!(finish);
    }
    let mut body = json!({"candidates": [candidate], "modelVersion": model, "responseId": "mock-response"});
    if let Some(usage) = usage {
        body["usageMetadata"] = usage;
    }
    body
}
