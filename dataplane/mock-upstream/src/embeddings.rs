//! `POST /v1/embeddings`: deterministic unit vectors from SHA-256 of each input, in float or
//! base64 (little-endian f32) encoding, as OpenAI returns them.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::answer::count_words;
use crate::errors::{self, Provider};
use crate::prelude;

const DEFAULT_DIMENSIONS: usize = 1536;

pub async fn embeddings(headers: &HeaderMap, body: &[u8], deployment: Option<&str>) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return errors::bad_request(Provider::OpenAi, "We could not parse the JSON body of your request.")
            .into_response();
    };
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("api-key").and_then(|v| v.to_str().ok()));
    let model =
        deployment.map(str::to_string).or_else(|| request.get("model").and_then(Value::as_str).map(str::to_string));
    let Some(model) = model else {
        return errors::bad_request(Provider::OpenAi, "you must provide a model parameter").into_response();
    };
    if let Err(response) = prelude(Provider::OpenAi, key, &model, headers).await {
        return response;
    }
    let inputs: Vec<String> = match request.get("input") {
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) => {
            items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string)).collect()
        }
        _ => return errors::bad_request(Provider::OpenAi, "'input' is a required property").into_response(),
    };
    let dimensions = request.get("dimensions").and_then(Value::as_u64).map_or(DEFAULT_DIMENSIONS, |d| d as usize);
    let base64 = request.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let vector = embed(input, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let tokens: u64 = inputs.iter().map(|i| count_words(i).max(1)).sum();
    axum::Json(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
    }))
    .into_response()
}

/// A unit vector: SHA-256 chained over the text fills the components in [-1, 1].
fn embed(text: &str, dimensions: usize) -> Vec<f32> {
    let mut values = Vec::with_capacity(dimensions);
    let mut block = Sha256::digest(text.as_bytes());
    while values.len() < dimensions {
        for byte in block.iter() {
            if values.len() == dimensions {
                break;
            }
            values.push(f32::from(*byte) / 127.5 - 1.0);
        }
        block = Sha256::digest(block);
    }
    let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt().max(f32::EPSILON);
    values.iter().map(|v| v / norm).collect()
}
