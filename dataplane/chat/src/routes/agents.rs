//! `/agents` (the published catalog, read-only, and the user's own agents) and `/models`: what a
//! user can talk to.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use oblivious_gateway::{ApiResult, Body, ProductError, UserIdentity};
use oblivious_store::UserRecord;
use oblivious_store::chat::{AgentFields, ChatAgent};
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
    knowledge_base_ids: Option<Vec<Uuid>>,
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
        return Ok(Some(user_agent_view(chat, &agent).await?));
    }
    let snapshot = &chat.gateway.runtime.active().snapshot;
    Ok(catalog_agents(snapshot, &user.group).into_iter().find(|a| a.id == id))
}

async fn user_agent_view(chat: &Chat, agent: &ChatAgent) -> ApiResult<AgentView> {
    let bases = chat.store().chat_agent_knowledge_bases(agent.user_id, agent.id).await?;
    Ok(AgentView::of_user_agent(agent, bases))
}

/// Links the agent to `ids`, each of which must be one of the user's knowledge bases.
async fn link_knowledge_bases(chat: &Chat, user_id: Uuid, agent_id: Uuid, ids: &[Uuid]) -> ApiResult<()> {
    super::input::link_knowledge_bases(ids, || chat.store().set_chat_agent_knowledge_bases(user_id, agent_id, ids))
        .await
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
        let mut links = chat.store().chat_agents_knowledge_bases(user.id).await?;
        let mine = chat.store().list_chat_agents(user.id).await?;
        agents.extend(mine.iter().map(|a| AgentView::of_user_agent(a, links.remove(&a.id).unwrap_or_default())));
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
    let knowledge_base_ids = body.knowledge_base_ids.clone();
    let fields = body.apply(AgentFields::default())?;
    let agent = chat.store().create_chat_agent(user.id, &fields).await?;
    if let Some(ids) = &knowledge_base_ids
        && let Err(error) = link_knowledge_bases(&chat, user.id, agent.id, ids).await
    {
        // Nothing half-made: the agent goes with the refusal.
        chat.store().delete_chat_agent(user.id, agent.id).await?;
        return Err(error);
    }
    Ok((StatusCode::CREATED, Json(user_agent_view(&chat, &agent).await?)))
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
    let knowledge_base_ids = body.knowledge_base_ids.clone();
    let fields = body.apply(AgentFields::of(&stored))?;
    if let Some(ids) = &knowledge_base_ids {
        link_knowledge_bases(&chat, user.id, id, ids).await?;
    }
    let agent =
        chat.store().update_chat_agent(user.id, id, &fields).await?.ok_or_else(|| ProductError::not_found("agent"))?;
    Ok(Json(user_agent_view(&chat, &agent).await?))
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
