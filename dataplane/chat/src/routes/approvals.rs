//! `POST /chat/messages/{id}/tool-calls/{call_id}/approval`: the user's decision on a tool call
//! that waits for it. The decision goes through the bus to the job wherever it runs; a job that
//! is not waiting for that call never reads it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use oblivious_gateway::{ApiResult, Body, ProductError, UserIdentity};
use oblivious_store::chat::STATUS_STREAMING;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Chat;

/// Longest tool call id accepted (providers' ids are a few dozen characters).
const MAX_CALL_ID: usize = 128;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    approve: bool,
}

pub async fn decide(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path((id, call_id)): Path<(Uuid, String)>,
    Body(decision): Body<Decision>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if call_id.is_empty() || call_id.len() > MAX_CALL_ID {
        return Err(ProductError::invalid("call_id", format!("must be 1 to {MAX_CALL_ID} characters")));
    }
    // Only the owner's reply, and only while its job runs: a finished reply waits for nothing.
    let message = chat.store().get_chat_message(user.id, id).await?;
    let waiting = message.filter(|m| m.role == "assistant" && m.status == STATUS_STREAMING);
    if waiting.is_none() {
        return Err(ProductError::not_found("reply"));
    }
    if let Err(error) = chat.bus.decide_tool_call(id, &call_id, decision.approve).await {
        tracing::warn!(%error, "cannot deliver a tool call decision");
        return Err(ProductError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "bus_unavailable",
            "Could not deliver the decision; retry.",
        ));
    }
    let status = if decision.approve { "approved" } else { "rejected" };
    Ok((StatusCode::ACCEPTED, Json(json!({"status": status}))))
}
