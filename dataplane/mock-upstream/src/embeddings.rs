//! `POST /v1/embeddings`: deterministic, lexical unit vectors (hashed words) of each input, in float or
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

/// A unit vector that is *lexical*: each word (lower-cased letters and digits; each CJK
/// character on its own) adds ±1 to one component chosen by hashing it. Texts sharing words are
/// close (cosine similarity grows with the overlap), texts sharing none are near orthogonal, so
/// retrieval tests can say which chunk a question must find. A text without words gets a vector
/// from its SHA-256, as before.
fn embed(text: &str, dimensions: usize) -> Vec<f32> {
    let mut values = vec![0f32; dimensions.max(1)];
    let mut words = 0;
    for word in words_of(text) {
        let hash = Sha256::digest(word.as_bytes());
        let index = u32::from_le_bytes([hash[0], hash[1], hash[2], hash[3]]) as usize % values.len();
        values[index] += if hash[4] & 1 == 0 { 1.0 } else { -1.0 };
        words += 1;
    }
    if words == 0 {
        let block = Sha256::digest(text.as_bytes());
        for (value, byte) in values.iter_mut().zip(block.iter().cycle()) {
            *value = f32::from(*byte) / 127.5 - 1.0;
        }
    }
    let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm < f32::EPSILON {
        // Words that cancelled out exactly: any fixed unit vector will do.
        values[0] = 1.0;
        return values;
    }
    values.iter().map(|v| v / norm).collect()
}

/// The words of a text for the lexical embedding.
pub(crate) fn words_of(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        let cjk = matches!(c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xac00..=0xd7af);
        if c.is_alphanumeric() && !cjk {
            current.push(c);
            continue;
        }
        if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        if cjk {
            words.push(c.to_string());
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn shared_words_make_texts_close_and_others_far() {
        let refund = embed("Refunds are paid within 14 days.", 384);
        let question = embed("How many days until refunds are paid?", 384);
        let weather = embed("Sunny weather with light wind", 384);
        assert!(cosine(&refund, &question) > 0.4, "{}", cosine(&refund, &question));
        assert!(cosine(&refund, &weather).abs() < 0.2);
        assert!((cosine(&refund, &refund) - 1.0).abs() < 1e-5);
        assert_eq!(words_of("退款政策 Refund-Policy"), ["退", "款", "政", "策", "refund", "policy"]);
        assert!((cosine(&embed("", 8), &embed("", 8)) - 1.0).abs() < 1e-5, "no words: still a unit vector");
    }
}
