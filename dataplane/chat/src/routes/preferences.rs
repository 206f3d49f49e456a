//! `/chat/preferences`: the user's own default model for blank chats.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use oblivious_gateway::{ApiResult, Body, UserIdentity};
use serde::Deserialize;
use serde_json::{Value, json};

use super::input::nullable;
use super::sessions::{default_model, usable_model};
use crate::Chat;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// A model the user may use, or `null` to go back to the group's default.
    #[serde(default, deserialize_with = "nullable")]
    default_model: Option<Option<String>>,
}

/// `{default_model, blank_chat_model}`: the user's choice (or `null`) and what a blank chat
/// starts with now (their choice if they may still use it, else the group's default, else the
/// cheapest model).
async fn view(chat: &Chat, user: &oblivious_store::UserRecord) -> ApiResult<Value> {
    let own = chat.store().chat_default_model(user.id).await?;
    let effective = default_model(chat, &user.group, own.clone());
    Ok(json!({"default_model": own, "blank_chat_model": effective}))
}

pub async fn get(State(chat): State<Arc<Chat>>, UserIdentity { user, .. }: UserIdentity) -> ApiResult<Json<Value>> {
    Ok(Json(view(&chat, &user).await?))
}

pub async fn put(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Body(body): Body<Preferences>,
) -> ApiResult<Json<Value>> {
    if let Some(model) = body.default_model {
        if let Some(model) = &model {
            usable_model(&chat, &user.group, model)?;
        }
        chat.store().set_chat_default_model(user.id, model.as_deref()).await?;
    }
    Ok(Json(view(&chat, &user).await?))
}
