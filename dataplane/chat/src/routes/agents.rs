//! `/agents` (the published catalog, read-only, and the user's own agents) and `/models`: what a
//! user can talk to.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use oblivious_gateway::{ApiResult, Body, ProductError, UserIdentity};
use oblivious_store::UserRecord;
use oblivious_store::chat::AgentFields;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::input::{
    MAX_PROMPT_CHARS, MAX_SHORT_TEXT_CHARS, MAX_TITLE_CHARS, bounded_opt, nullable, required_text, temperature,
};
use crate::Chat;
use crate::catalog::catalog_agents;
use crate::views::AgentView;

const MAX_TAGS: usize = 20;

/// The fields of POST and PATCH; on PATCH, absent fields keep their value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentBody {
    name: Option<String>,
    avatar: Option<String>,
    description: Option<String>,
    tags: Option<Vec<String>>,
    system_prompt: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    model: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    temperature: Option<Option<f64>>,
    #[serde(default, deserialize_with = "nullable")]
    opening_message: Option<Option<String>>,
}

impl AgentBody {
    /// Validates and applies the body onto `fields`.
    fn apply(self, mut fields: AgentFields) -> ApiResult<AgentFields> {
        if let Some(name) = self.name {
            required_text("name", &name, MAX_TITLE_CHARS)?;
            fields.name = name.trim().to_string();
        }
        bounded_opt("system_prompt", self.system_prompt.as_deref(), MAX_PROMPT_CHARS)?;
        bounded_opt("opening_message", self.opening_message.clone().flatten().as_deref(), MAX_PROMPT_CHARS)?;
        for (field, value) in [("avatar", &self.avatar), ("description", &self.description)] {
            bounded_opt(field, value.as_deref(), MAX_SHORT_TEXT_CHARS)?;
        }
        if let Some(tags) = &self.tags {
            if tags.len() > MAX_TAGS {
                return Err(ProductError::invalid("tags", format!("at most {MAX_TAGS} tags")));
            }
            for tag in tags {
                bounded_opt("tags", Some(tag), 50)?;
            }
        }
        if let Some(temperature_value) = self.temperature {
            fields.temperature_milli = temperature("temperature", temperature_value)?;
        }
        fields.avatar = self.avatar.unwrap_or(fields.avatar);
        fields.description = self.description.unwrap_or(fields.description);
        fields.tags = self.tags.unwrap_or(fields.tags);
        fields.system_prompt = self.system_prompt.unwrap_or(fields.system_prompt);
        fields.model = self.model.unwrap_or(fields.model);
        fields.opening_message = self.opening_message.unwrap_or(fields.opening_message);
        Ok(fields)
    }
}

/// A private agent of the user or a catalog agent they may see, by id.
pub async fn find_agent(chat: &Chat, user: &UserRecord, id: Uuid) -> ApiResult<Option<AgentView>> {
    if let Some(agent) = chat.store().get_chat_agent(user.id, id).await? {
        return Ok(Some(AgentView::from(&agent)));
    }
    let snapshot = &chat.gateway.runtime.active().snapshot;
    Ok(catalog_agents(snapshot, &user.group).into_iter().find(|a| a.id == id))
}

fn read_only() -> ProductError {
    ProductError::forbidden("Published agents are managed by the platform team and cannot be changed here.")
}

pub async fn list(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let source = query.get("source").map(String::as_str);
    let mut agents = Vec::new();
    if matches!(source, None | Some("catalog")) {
        agents.extend(catalog_agents(&chat.gateway.runtime.active().snapshot, &user.group));
    }
    if matches!(source, None | Some("user")) {
        agents.extend(chat.store().list_chat_agents(user.id).await?.iter().map(AgentView::from));
    }
    if let Some(other) = source.filter(|s| !matches!(*s, "catalog" | "user")) {
        return Err(ProductError::invalid("source", format!("`{other}` is not catalog or user")));
    }
    Ok(Json(json!({"agents": agents})))
}

pub async fn create(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Body(body): Body<AgentBody>,
) -> ApiResult<(StatusCode, Json<AgentView>)> {
    if body.name.is_none() {
        return Err(ProductError::invalid("name", "is required"));
    }
    let fields = body.apply(AgentFields::default())?;
    let agent = chat.store().create_chat_agent(user.id, &fields).await?;
    Ok((StatusCode::CREATED, Json(AgentView::from(&agent))))
}

pub async fn get_one(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<AgentView>> {
    let agent = find_agent(&chat, &user, id).await?.ok_or_else(|| ProductError::not_found("agent"))?;
    Ok(Json(agent))
}

pub async fn patch(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(id): Path<Uuid>,
    Body(body): Body<AgentBody>,
) -> ApiResult<Json<AgentView>> {
    let Some(stored) = chat.store().get_chat_agent(user.id, id).await? else {
        return Err(match find_agent(&chat, &user, id).await? {
            Some(_) => read_only(),
            None => ProductError::not_found("agent"),
        });
    };
    let fields = body.apply(AgentFields::of(&stored))?;
    let agent =
        chat.store().update_chat_agent(user.id, id, &fields).await?.ok_or_else(|| ProductError::not_found("agent"))?;
    Ok(Json(AgentView::from(&agent)))
}

pub async fn delete(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    if chat.store().delete_chat_agent(user.id, id).await? {
        return Ok(StatusCode::NO_CONTENT);
    }
    Err(match find_agent(&chat, &user, id).await? {
        Some(_) => read_only(),
        None => ProductError::not_found("agent"),
    })
}

pub async fn models(State(chat): State<Arc<Chat>>, UserIdentity { user, .. }: UserIdentity) -> ApiResult<Json<Value>> {
    let models =
        crate::catalog::models_for_group(&chat.gateway.runtime.active(), &user.group, oblivious_store::now_ms());
    Ok(Json(json!({"models": models})))
}
