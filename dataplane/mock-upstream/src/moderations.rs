//! `POST /v1/moderations`: one result per input, flagged (category `violence`) when the input
//! contains the marker word `kill`, else clean — deterministic, so tests can say which is which.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::embeddings::words_of;
use crate::errors::{self, Provider};
use crate::openai::{bearer, uuid_like};
use crate::prelude;

/// The word that gets an input flagged.
pub const MARKER: &str = "kill";

const CATEGORIES: &[&str] = &[
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
];

pub async fn moderations(headers: &HeaderMap, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return errors::bad_request(Provider::OpenAi, "We could not parse the JSON body of your request.")
            .into_response();
    };
    let model = request.get("model").and_then(Value::as_str).unwrap_or("omni-moderation-latest").to_string();
    if let Err(response) = prelude(Provider::OpenAi, bearer(headers), &model, headers).await {
        return response;
    }
    // Each input: (text, it is an image).
    let inputs: Vec<(String, bool)> = match request.get("input") {
        Some(Value::String(text)) => vec![(text.clone(), false)],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => (text.clone(), false),
                part => match part.get("text").and_then(Value::as_str) {
                    Some(text) => (text.to_string(), false),
                    None => (String::new(), true),
                },
            })
            .collect(),
        _ => return errors::bad_request(Provider::OpenAi, "'input' is a required property").into_response(),
    };
    let results: Vec<Value> = inputs.iter().map(|(text, image)| result(text, *image)).collect();
    axum::Json(json!({"id": format!("modr-mock{}", uuid_like()), "model": model, "results": results})).into_response()
}

fn result(text: &str, image: bool) -> Value {
    let flagged = words_of(text).iter().any(|w| w == MARKER);
    let (mut categories, mut scores, mut applied) = (Map::new(), Map::new(), Map::new());
    for category in CATEGORIES {
        let hit = flagged && *category == "violence";
        categories.insert(category.to_string(), json!(hit));
        scores.insert(category.to_string(), json!(if hit { 0.97 } else { 0.0001 }));
        applied.insert(category.to_string(), json!([if image { "image" } else { "text" }]));
    }
    json!({"flagged": flagged, "categories": categories, "category_scores": scores, "category_applied_input_types": applied})
}
