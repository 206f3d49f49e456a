//! `POST /v1/moderations`: OpenAI's shape — `input` a string, an array of strings, or an array
//! of `text` / `image_url` parts (omni-moderation). The model defaults to OpenAI's
//! `omni-moderation-latest`. OpenAI reports no usage and charges nothing; the relay counts the
//! input's text tokens locally (marked estimated) and bills them at the model's `input` price,
//! so a moderation model is free when priced `0` (the shipped default) and metered when an
//! operator prices it.

use oblivious_core::ApiError;
use oblivious_runtime::usage::count_text_tokens;
use serde_json::Value;

use super::{Answered, BodyKind, Endpoint, Measured, Plan, Request};
use crate::billing::{Estimate, estimate_text_tokens};
use crate::ir::Usage;

pub(super) const MODERATIONS: Endpoint = Endpoint {
    name: "moderations",
    path: "moderations",
    body: BodyKind::Json,
    default_model: Some("omni-moderation-latest"),
    check,
    measure,
};

fn check(request: &Request) -> Result<Plan, ApiError> {
    let Some(json) = request.json() else { return Err(ApiError::invalid_request("Expected a JSON body.")) };
    let mut text = String::new();
    match json.get("input") {
        Some(Value::String(input)) if !input.trim().is_empty() => text.push_str(input),
        Some(Value::Array(items)) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(input) => text.push_str(input),
                    Value::Object(part) => match part.get("type").and_then(Value::as_str) {
                        Some("text") => match part.get("text").and_then(Value::as_str) {
                            Some(input) => text.push_str(input),
                            None => {
                                return Err(ApiError::invalid_field(format!("input[{i}].text"), "must be a string"));
                            }
                        },
                        Some("image_url") if item.pointer("/image_url/url").is_some_and(Value::is_string) => {}
                        _ => {
                            return Err(ApiError::invalid_field(
                                format!("input[{i}]"),
                                "must be a `text` part or an `image_url` part with a url",
                            ));
                        }
                    },
                    _ => return Err(ApiError::invalid_field(format!("input[{i}]"), "must be a string or a part")),
                }
                text.push('\n');
            }
        }
        _ => return Err(ApiError::invalid_field("input", "is required: a non-empty string or array")),
    }
    let estimate = Estimate { input_tokens: estimate_text_tokens(text.len()), ..Estimate::default() };
    Ok(Plan { estimate, prompt: text, ..Plan::default() })
}

fn measure(plan: &Plan, _answer: Answered<'_>) -> Measured {
    let usage = Usage { input_tokens: count_text_tokens(&plan.prompt), ..Usage::default() };
    Measured { usage, estimated: true, ..Measured::default() }
}
