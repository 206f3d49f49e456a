//! The OpenAI Responses API (`POST /v1/responses`, and Azure's `/openai/v1/responses` and
//! `/openai/responses?api-version=…`), the protocol Codex speaks: `response` objects and the
//! typed event stream exactly as OpenAI sends them, driven by the same directives and the same
//! [`Answer`] as chat completions.

mod output;
mod request;
mod stream;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::answer::Answer;
use crate::errors::{self, Provider};
use crate::openai::bearer;
use crate::prelude;
use crate::streaming::pace_whole;
use output::{Envelope, OutputItem, final_status, output_items, usage};
use request::ResponsesRequest;

/// OpenAI refuses a smaller `max_output_tokens` (`integer_below_min_value`).
const MIN_OUTPUT_TOKENS: u64 = 16;

/// `POST /v1/responses` (the model comes from the body in the Azure forms too).
pub async fn responses(headers: &HeaderMap, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return errors::bad_request(Provider::OpenAi, "We could not parse the JSON body of your request.")
            .into_response();
    };
    let key = bearer(headers).or_else(|| headers.get("api-key").and_then(|v| v.to_str().ok()));
    let Some(model) = request.get("model").and_then(Value::as_str) else {
        return errors::bad_request(Provider::OpenAi, "Missing required parameter: 'model'.").into_response();
    };
    let directives = match prelude(Provider::OpenAi, key, model, headers).await {
        Ok(directives) => directives,
        Err(response) => return response,
    };
    if let Some(limit) = request.get("max_output_tokens").and_then(Value::as_u64)
        && limit < MIN_OUTPUT_TOKENS
    {
        let message = format!(
            "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= {MIN_OUTPUT_TOKENS}, but got {limit} instead."
        );
        return errors::bad_request(Provider::OpenAi, &message).into_response();
    }
    let read = ResponsesRequest::read(&request);
    let answer = Answer::new(model, &read.conversation, &directives);
    let items = output_items(&answer, &read);
    let envelope = Envelope::new(model, &request);
    if read.stream {
        return stream::stream_answer(&envelope, &items, &answer, &directives);
    }
    pace_whole(directives.tps, answer.words.len()).await;
    let output = items.iter().map(OutputItem::done).collect();
    axum::Json(envelope.response(&final_status(&answer), output, usage(&answer, &directives))).into_response()
}
