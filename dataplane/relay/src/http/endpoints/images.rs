//! `POST /v1/images/generations`: OpenAI's shape (DALL-E 2/3, gpt-image-1), `response_format`
//! `url` or `b64_json` passed through. Billed per image made (`perImage`, or the `imagePrices`
//! entry for the request's size and quality — the answer's own when the request named none), plus
//! the tokens the upstream reports (gpt-image-1 reports text and image tokens) at the model's
//! token prices.

use oblivious_core::ApiError;
use serde_json::Value;

use super::{Answered, BodyKind, Endpoint, Measured, Plan, Request};
use crate::billing::{Estimate, Units, estimate_text_tokens};
use crate::ir::Usage;

pub(super) const GENERATIONS: Endpoint = Endpoint {
    name: "images",
    path: "images/generations",
    body: BodyKind::Json,
    // OpenAI's default when the request names no model.
    default_model: Some("dall-e-2"),
    check,
    measure,
};

/// Most images one request may ask for (OpenAI's bound).
const MAX_IMAGES: u64 = 10;
/// Output tokens one image is held for: gpt-image-1's largest image (high quality, 1536x1024)
/// costs 6,208; the hold matters only for models priced by output token.
const IMAGE_OUTPUT_TOKENS: u64 = 6_240;

fn check(request: &Request) -> Result<Plan, ApiError> {
    let Some(json) = request.json() else { return Err(ApiError::invalid_request("Expected a JSON body.")) };
    let Some(prompt) = json.get("prompt").and_then(Value::as_str).filter(|p| !p.trim().is_empty()) else {
        return Err(ApiError::invalid_field("prompt", "is required: a non-empty string"));
    };
    let n = match json.get("n") {
        None | Some(Value::Null) => 1,
        Some(n) => match n.as_u64().filter(|n| (1..=MAX_IMAGES).contains(n)) {
            Some(n) => n,
            None => return Err(ApiError::invalid_field("n", format!("must be an integer from 1 to {MAX_IMAGES}"))),
        },
    };
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match json.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.clone())),
            Some(_) => Err(ApiError::invalid_field(name, "must be a string")),
        }
    };
    let size = text("size")?;
    let quality = text("quality")?;
    if let Some(format) = text("response_format")?
        && format != "url"
        && format != "b64_json"
    {
        return Err(ApiError::invalid_field("response_format", "must be `url` or `b64_json`"));
    }
    let units = Units { images: n, image_size: size, image_quality: quality, ..Units::default() };
    let estimate = Estimate {
        input_tokens: estimate_text_tokens(prompt.len()),
        max_output_tokens: n * IMAGE_OUTPUT_TOKENS,
        units: units.clone(),
    };
    Ok(Plan { estimate, units, ..Plan::default() })
}

fn measure(plan: &Plan, answer: Answered<'_>) -> Measured {
    let Answered::Json(answer) = answer else { return Measured::default() };
    let images = answer.get("data").and_then(Value::as_array).map_or(0, Vec::len) as u64;
    let said = |name: &str| answer.get(name).and_then(Value::as_str).map(str::to_string);
    let units = Units {
        images,
        image_size: plan.units.image_size.clone().or_else(|| said("size")),
        image_quality: plan.units.image_quality.clone().or_else(|| said("quality")),
        ..Units::default()
    };
    let tokens = |pointer: &str| answer.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    let usage = Usage {
        input_tokens: tokens("/usage/input_tokens"),
        output_tokens: tokens("/usage/output_tokens"),
        cached_input_tokens: tokens("/usage/input_tokens_details/cached_tokens"),
        ..Usage::default()
    };
    Measured { usage, units, estimated: false }
}
