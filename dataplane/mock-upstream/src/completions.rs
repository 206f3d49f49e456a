//! `POST /v1/completions`: OpenAI's legacy `text_completion`, whole or streamed, with the same
//! deterministic answer as chat (the prompt plays the last user message) and the same directives
//! (`words`, `tps`, `break_after`, `error_in_stream`, `no_usage`, `reject_stream_options`).

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::answer::{Answer, Conversation, Finish};
use crate::created_now;
use crate::errors::{self, Provider};
use crate::openai::{json_request, uuid_like};
use crate::streaming::{Delivery, Frame, pace_whole, sse_data, streamed};

/// `POST /v1/completions`; `deployment` is the model for the Azure form.
pub async fn completions(headers: &HeaderMap, body: &[u8], deployment: Option<&str>) -> Response {
    let (request, model, directives) = match json_request(headers, body, deployment).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let prompt = match request.get("prompt") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(items)) => {
            items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string)).collect::<Vec<_>>().join(" ")
        }
        _ => return errors::bad_request(Provider::OpenAi, "Missing required parameter: 'prompt'.").into_response(),
    };
    if directives.reject_stream_options && request.get("stream_options").is_some() {
        return errors::bad_request(Provider::OpenAi, "Unrecognized request argument supplied: stream_options")
            .into_response();
    }
    let conversation = Conversation {
        prompt_text: prompt.clone(),
        last_user_text: prompt,
        max_tokens: Some(request.get("max_tokens").and_then(Value::as_u64).unwrap_or(16) as usize),
        ..Conversation::default()
    };
    let answer = Answer::new(&model, &conversation, &directives);
    let usage = (!directives.no_usage).then(|| usage_json(&answer));
    let id = format!("cmpl-mock{}", uuid_like());
    let finish = if answer.finish == Finish::Length { "length" } else { "stop" };
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        let include_usage = request.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
        let created = created_now();
        let chunk = |text: &str, finish: Option<&str>| {
            let mut chunk = json!({
                "id": id, "object": "text_completion", "created": created, "model": model,
                "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}],
            });
            if include_usage {
                chunk["usage"] = Value::Null;
            }
            sse_data(&chunk)
        };
        let mut frames = Vec::new();
        if let Some(kind) = directives.error_in_stream {
            frames.push(Frame::meta(sse_data(&errors::for_kind(Provider::OpenAi, kind).body)));
            return streamed(frames, Delivery::default(), "text/event-stream; charset=utf-8");
        }
        frames.extend(answer.pieces().iter().map(|piece| Frame::content(chunk(piece, None))));
        frames.push(Frame::meta(chunk("", Some(finish))));
        if let (true, Some(usage)) = (include_usage, usage) {
            let last = json!({"id": id, "object": "text_completion", "created": created, "model": model, "choices": [], "usage": usage});
            frames.push(Frame::meta(sse_data(&last)));
        }
        frames.push(Frame::meta(Bytes::from_static(b"data: [DONE]\n\n")));
        return streamed(
            frames,
            Delivery::from_tps(directives.tps, directives.break_after),
            "text/event-stream; charset=utf-8",
        );
    }
    pace_whole(directives.tps, answer.words.len()).await;
    let mut body = json!({
        "id": id,
        "object": "text_completion",
        "created": created_now(),
        "model": model,
        "choices": [{"text": answer.text(), "index": 0, "logprobs": null, "finish_reason": finish}],
    });
    if let Some(usage) = usage {
        body["usage"] = usage;
    }
    axum::Json(body).into_response()
}

fn usage_json(answer: &Answer) -> Value {
    let u = answer.usage;
    json!({"prompt_tokens": u.prompt, "completion_tokens": u.completion, "total_tokens": u.prompt + u.completion})
}
