//! `POST /v1/embeddings`: OpenAI's shape. Billed by input tokens: the upstream's
//! `usage.prompt_tokens`, else estimated from the text.

use oblivious_core::ApiError;
use serde_json::Value;

use super::{Answered, BodyKind, Endpoint, Measured, Plan, Request};
use crate::billing::{Estimate, estimate_text_tokens};
use crate::ir::Usage;

pub(super) const EMBEDDINGS: Endpoint =
    Endpoint { name: "embeddings", path: "embeddings", body: BodyKind::Json, default_model: None, check, measure };

fn check(request: &Request) -> Result<Plan, ApiError> {
    let input = request.json().and_then(|json| json.get("input"));
    let bytes = match input {
        Some(Value::String(text)) if !text.is_empty() => text.len(),
        // Token arrays count as four bytes per token.
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Value::String(text) => text.len(),
                Value::Array(tokens) => tokens.len() * 4,
                Value::Number(_) => 4,
                _ => 0,
            })
            .sum(),
        _ => return Err(ApiError::invalid_field("input", "is required: a non-empty string or array")),
    };
    let estimate = Estimate { input_tokens: estimate_text_tokens(bytes), ..Estimate::default() };
    Ok(Plan { estimate, ..Plan::default() })
}

fn measure(plan: &Plan, answer: Answered<'_>) -> Measured {
    let reported = match answer {
        Answered::Json(answer) => answer.pointer("/usage/prompt_tokens").and_then(Value::as_u64),
        _ => None,
    };
    let input_tokens = reported.unwrap_or(plan.estimate.input_tokens);
    Measured { usage: Usage { input_tokens, ..Usage::default() }, estimated: reported.is_none(), ..Measured::default() }
}
