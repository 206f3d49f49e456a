//! `/api/v1/keys`: a user's own API keys. The secret is shown once, at creation; a key that is
//! not yours is "not found", whether or not it exists.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oblivious_runtime::EventType;
use oblivious_store::{ApiKeyRecord, NewApiKey};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::Gateway;
use crate::error::{ApiResult, Body, ProductError};
use crate::identity::UserIdentity;
use crate::time::TimeInput;
use crate::views::KeyView;
use oblivious_runtime::money::parse_decimal_micros;

/// Most keys one user may hold (active or not).
const MAX_KEYS_PER_USER: usize = 100;

pub async fn list(State(gateway): State<Arc<Gateway>>, identity: UserIdentity) -> ApiResult<Response> {
    let keys = gateway.store().list_user_api_keys(identity.user.id).await?;
    let data: Vec<KeyView> = keys.iter().map(KeyView::from).collect();
    Ok(Json(json!({"data": data})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: String,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    expires_at: Option<TimeInput>,
    #[serde(default)]
    rpm: Option<i64>,
    #[serde(default)]
    tpm: Option<i64>,
    /// Decimal string in the price list's currency.
    #[serde(default)]
    max_spend: Option<String>,
}

pub async fn create(
    State(gateway): State<Arc<Gateway>>,
    identity: UserIdentity,
    Body(body): Body<CreateKey>,
) -> ApiResult<Response> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ProductError::invalid("name", "must be 1 to 64 characters"));
    }
    if body.models.len() > 100 || body.models.iter().any(|m| m.trim().is_empty()) {
        return Err(ProductError::invalid("models", "at most 100 non-empty model names"));
    }
    let positive = |field: &str, value: Option<i64>| match value {
        Some(n) if n <= 0 => Err(ProductError::invalid(field, "must be greater than 0")),
        other => Ok(other),
    };
    let rpm = positive("rpm", body.rpm)?;
    let tpm = positive("tpm", body.tpm)?;
    let max_spend_micros = match &body.max_spend {
        Some(text) => match parse_decimal_micros(text) {
            Ok(micros) if micros > 0 => Some(micros),
            Ok(_) => return Err(ProductError::invalid("max_spend", "must be greater than 0")),
            Err(reason) => return Err(ProductError::invalid("max_spend", reason)),
        },
        None => None,
    };
    let expires_at = match &body.expires_at {
        Some(time) => {
            let ms = time.to_ms().map_err(|reason| ProductError::invalid("expires_at", reason))?;
            if ms <= oblivious_store::now_ms() {
                return Err(ProductError::invalid("expires_at", "is in the past"));
            }
            Some(ms)
        }
        None => None,
    };
    if gateway.store().list_user_api_keys(identity.user.id).await?.len() >= MAX_KEYS_PER_USER {
        return Err(ProductError::conflict(format!("at most {MAX_KEYS_PER_USER} keys per account")));
    }
    let created = gateway
        .store()
        .create_api_key(NewApiKey {
            name: name.to_string(),
            models: body.models.iter().map(|m| m.trim().to_string()).collect(),
            expires_at,
            is_admin: false,
            // A user's keys pick lanes only through the account's own `laneSelect`.
            lane_select: false,
            user_id: Some(identity.user.id),
            group: Some(identity.user.group.clone()),
            rpm,
            tpm,
            max_spend_micros,
        })
        .await?;
    gateway.runtime.webhooks.emit(EventType::KeyCreated, identity.user.id, key_event(&created.record)).await;
    let mut view = serde_json::to_value(KeyView::from(&created.record)).unwrap_or_default();
    view["key"] = json!(created.secret);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub async fn revoke(
    State(gateway): State<Arc<Gateway>>,
    identity: UserIdentity,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let Ok(id) = Uuid::parse_str(&id) else { return Err(ProductError::not_found("key")) };
    if !gateway.store().revoke_user_api_key(identity.user.id, id, oblivious_store::now_ms()).await? {
        return Err(ProductError::not_found("key"));
    }
    match gateway.store().list_user_api_keys(identity.user.id).await {
        Ok(keys) => {
            if let Some(key) = keys.iter().find(|k| k.id == id) {
                gateway.runtime.webhooks.emit(EventType::KeyRevoked, identity.user.id, key_event(key)).await;
            }
        }
        Err(error) => tracing::warn!(%error, "could not read a revoked key for its webhook event"),
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The `data` of a key event: which key, never its secret.
fn key_event(key: &ApiKeyRecord) -> serde_json::Value {
    json!({
        "user_id": key.user_id,
        "key": {"id": key.id, "name": key.name, "prefix": key.prefix, "revoked_at": key.revoked_at},
    })
}
