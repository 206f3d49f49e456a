//! Model listings, shaped for whoever asks: OpenAI `GET /v1/models`, Anthropic's list on the
//! same path (told apart by the `anthropic-version` header its SDK always sends), and Gemini's
//! `GET /v1beta/models`. A key sees only the models it may use.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use oblivious_core::{ApiError, Dialect};
use serde_json::{Value, json};

use oblivious_runtime::Principal;

use super::caller::KeyCaller;
use crate::state::Relay;

/// A fixed, plausible creation time: listings must be stable, and we do not know the real one.
const CREATED: u64 = 1_700_000_000;

fn visible_models(relay: &Relay, principal: &Principal) -> Vec<String> {
    let active = relay.runtime.active();
    active
        .routes
        .model_names()
        .iter()
        .filter(|m| principal.may_use_model(m))
        .filter(|m| !active.routes.candidates(&active.snapshot, m, &principal.group, None).is_empty())
        .cloned()
        .collect()
}

fn openai_model(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": CREATED, "owned_by": "oblivious"})
}

fn anthropic_model(id: &str) -> Value {
    json!({"type": "model", "id": id, "display_name": id, "created_at": "2023-11-14T22:13:20Z"})
}

fn gemini_model(id: &str) -> Value {
    json!({
        "name": format!("models/{id}"),
        "displayName": id,
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent"],
    })
}

pub async fn list_models(State(relay): State<Arc<Relay>>, KeyCaller { principal, dialect }: KeyCaller) -> Response {
    let models = visible_models(&relay, &principal);
    match dialect {
        Dialect::Anthropic => Json(json!({
            "data": models.iter().map(|m| anthropic_model(m)).collect::<Vec<_>>(),
            "has_more": false,
            "first_id": models.first(),
            "last_id": models.last(),
        }))
        .into_response(),
        _ => Json(json!({"object": "list", "data": models.iter().map(|m| openai_model(m)).collect::<Vec<_>>()}))
            .into_response(),
    }
}

pub async fn get_model(
    State(relay): State<Arc<Relay>>,
    Path(model): Path<String>,
    KeyCaller { principal, dialect }: KeyCaller,
) -> Response {
    if !visible_models(&relay, &principal).contains(&model) {
        return ApiError::model_not_found(&model).into_response_for(dialect);
    }
    match dialect {
        Dialect::Anthropic => Json(anthropic_model(&model)).into_response(),
        _ => Json(openai_model(&model)).into_response(),
    }
}

pub async fn list_gemini_models(State(relay): State<Arc<Relay>>, KeyCaller { principal, .. }: KeyCaller) -> Response {
    let models = visible_models(&relay, &principal);
    Json(json!({"models": models.iter().map(|m| gemini_model(m)).collect::<Vec<_>>()})).into_response()
}

pub async fn get_gemini_model(
    State(relay): State<Arc<Relay>>,
    Path(model): Path<String>,
    KeyCaller { principal, .. }: KeyCaller,
) -> Response {
    if !visible_models(&relay, &principal).contains(&model) {
        return ApiError::model_not_found(&model).into_response_for(Dialect::Gemini);
    }
    Json(gemini_model(&model)).into_response()
}
