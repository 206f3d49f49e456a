//! `/chat/sessions` and `/chat/sessions/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use oblivious_gateway::{ApiResult, Body, ProductError, UserIdentity};
use oblivious_store::chat::{NewChatSession, SessionUpdate};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::agents::find_agent;
use super::input::{
    MAX_PROMPT_CHARS, MAX_SHORT_TEXT_CHARS, MAX_TITLE_CHARS, bounded, bounded_opt, nullable, temperature,
};
use crate::Chat;
use crate::catalog::{group_may_use, models_for_group, opening_questions};
use crate::views::{AgentView, SessionView};

/// What a blank chat is called until its first topic is named.
const PLACEHOLDER_TITLE: &str = "New chat";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    agent_id: Option<Uuid>,
    title: Option<String>,
    model: Option<String>,
    system_prompt: Option<String>,
    temperature: Option<f64>,
    avatar: Option<String>,
    description: Option<String>,
    opening_message: Option<String>,
    group: Option<String>,
    knowledge_base_ids: Option<Vec<Uuid>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchSession {
    title: Option<String>,
    avatar: Option<String>,
    description: Option<String>,
    system_prompt: Option<String>,
    model: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    temperature: Option<Option<f64>>,
    #[serde(default, deserialize_with = "nullable")]
    opening_message: Option<Option<String>>,
    pinned: Option<bool>,
    group: Option<String>,
    knowledge_base_ids: Option<Vec<Uuid>>,
    /// The MCP servers the session's replies may call (`/chat/tool-servers` `ref`s).
    tools: Option<Vec<String>>,
}

pub async fn list(State(chat): State<Arc<Chat>>, UserIdentity { user, .. }: UserIdentity) -> ApiResult<Json<Value>> {
    let sessions = chat.store().list_chat_sessions(user.id).await?;
    let mut links = chat.store().chat_sessions_knowledge_bases(user.id).await?;
    let active = chat.gateway.runtime.active();
    let views: Vec<SessionView> = sessions
        .iter()
        .map(|s| {
            let questions = opening_questions(&active.snapshot, s.agent_id);
            SessionView::new(s, links.remove(&s.id).unwrap_or_default(), questions)
        })
        .collect();
    Ok(Json(json!({"sessions": views})))
}

/// The view of a session with its knowledge bases.
async fn view(chat: &Chat, session: &oblivious_store::chat::ChatSession) -> ApiResult<SessionView> {
    let bases = chat.store().chat_session_knowledge_bases(session.user_id, session.id).await?;
    let questions = opening_questions(&chat.gateway.runtime.active().snapshot, session.agent_id);
    Ok(SessionView::new(session, bases, questions))
}

/// Links the session to `ids`, each of which must be one of the user's knowledge bases.
async fn link_knowledge_bases(chat: &Chat, user_id: Uuid, session_id: Uuid, ids: &[Uuid]) -> ApiResult<()> {
    super::input::link_knowledge_bases(ids, || chat.store().set_chat_session_knowledge_bases(user_id, session_id, ids))
        .await
}

pub async fn get_one(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<SessionView>> {
    let session =
        chat.store().get_chat_session(user.id, id).await?.ok_or_else(|| ProductError::not_found("session"))?;
    Ok(Json(view(&chat, &session).await?))
}

/// A model the user's group may use, refused with the field's name otherwise.
pub(super) fn usable_model(chat: &Chat, group: &str, model: &str) -> ApiResult<()> {
    if group_may_use(&chat.gateway.runtime.active(), group, model) {
        Ok(())
    } else {
        Err(ProductError::invalid("model", format!("`{model}` is not a model you may use")))
    }
}

pub async fn create(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Body(body): Body<CreateSession>,
) -> ApiResult<(StatusCode, Json<SessionView>)> {
    bounded_opt("title", body.title.as_deref(), MAX_TITLE_CHARS)?;
    bounded_opt("system_prompt", body.system_prompt.as_deref(), MAX_PROMPT_CHARS)?;
    bounded_opt("opening_message", body.opening_message.as_deref(), MAX_PROMPT_CHARS)?;
    for (field, value) in [("avatar", &body.avatar), ("description", &body.description), ("group", &body.group)] {
        bounded_opt(field, value.as_deref(), MAX_SHORT_TEXT_CHARS)?;
    }
    let agent: Option<AgentView> = match body.agent_id {
        Some(id) => Some(find_agent(&chat, &user, id).await?.ok_or_else(|| ProductError::not_found("agent"))?),
        None => None,
    };
    let temperature_milli = match body.temperature {
        Some(_) => temperature("temperature", body.temperature)?,
        None => agent.as_ref().and_then(|a| crate::views::temperature_milli(a.temperature).ok().flatten()),
    };
    let model = match body.model {
        Some(model) => {
            usable_model(&chat, &user.group, &model)?;
            model
        }
        None => {
            // The agent's model, else the user's own default, else the group's, else the cheapest.
            let own = chat.store().chat_default_model(user.id).await?;
            let preferred = agent.as_ref().and_then(|a| a.model.clone()).into_iter().chain(own);
            default_model(&chat, &user.group, preferred)
        }
    };
    let from_agent = |pick: fn(&AgentView) -> String| agent.as_ref().map(pick).unwrap_or_default();
    let title = body.title.filter(|t| !t.trim().is_empty());
    // A blank chat is "New chat" until its first topic has a generated title, which it takes.
    let title_is_placeholder = title.is_none() && agent.is_none();
    let new = NewChatSession {
        user_id: user.id,
        agent_id: agent.as_ref().map(|a| a.id),
        title: title.clone().unwrap_or_else(|| {
            let name = from_agent(|a| a.name.clone());
            if name.is_empty() { PLACEHOLDER_TITLE.to_string() } else { name }
        }),
        avatar: body.avatar.unwrap_or_else(|| from_agent(|a| a.avatar.clone())),
        description: body.description.unwrap_or_else(|| from_agent(|a| a.description.clone())),
        system_prompt: body.system_prompt.unwrap_or_else(|| from_agent(|a| a.system_prompt.clone())),
        model,
        temperature_milli,
        opening_message: body.opening_message.or_else(|| agent.as_ref().and_then(|a| a.opening_message.clone())),
        group: body.group.unwrap_or_default(),
        title_is_placeholder,
    };
    let session = chat.store().create_chat_session(new).await?;
    // A session of a private agent starts with the agent's knowledge bases as its own (a
    // published agent's are searched from the agent, see `sources`).
    let knowledge_base_ids = match (body.knowledge_base_ids, &agent) {
        (Some(ids), _) => Some(ids),
        (None, Some(agent)) if agent.source == "user" => Some(agent.knowledge_base_ids.clone()),
        (None, _) => None,
    };
    if let Some(ids) = &knowledge_base_ids
        && let Err(error) = link_knowledge_bases(&chat, user.id, session.id, ids).await
    {
        // Nothing half-made: the session goes with the refusal.
        chat.store().delete_chat_session(user.id, session.id).await?;
        return Err(error);
    }
    Ok((StatusCode::CREATED, Json(view(&chat, &session).await?)))
}

/// The agent's model when the user may use it, else the cheapest model they may use (a blank
/// chat must not default to the most expensive model because of its name).
/// The first of `preferred` the group may use, else the group's default
/// (`ModelPricing.groupDefaultModels`), else the cheapest chat model it may use.
pub(super) fn default_model(chat: &Chat, group: &str, preferred: impl IntoIterator<Item = String>) -> String {
    let active = chat.gateway.runtime.active();
    let group_default = active.snapshot.group_default_models.get(group).cloned();
    if let Some(model) = preferred.into_iter().chain(group_default).find(|m| group_may_use(&active, group, m)) {
        return model;
    }
    let now = oblivious_store::now_ms();
    models_for_group(&active, group, now)
        .into_iter()
        .min_by_key(|m| (price_rank(active.snapshot.price(&m.id, now), group), m.id.clone()))
        .map(|m| m.id)
        .unwrap_or_default()
}

/// What a model costs `group` per token of input plus output, for ordering; a model without a
/// price in effect is free. Prices in different currencies are compared as numbers: a
/// deployment prices its models in one currency.
fn price_rank(price: Option<&oblivious_config::ModelPrice>, group: &str) -> u128 {
    let Some(price) = price else { return 0 };
    let multiplier = price.group_multipliers_ppm.get(group).copied().unwrap_or(1_000_000);
    u128::from(price.input + price.output) * u128::from(multiplier)
}

pub async fn patch(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(id): Path<Uuid>,
    Body(body): Body<PatchSession>,
) -> ApiResult<Json<SessionView>> {
    if let Some(title) = &body.title {
        bounded("title", title, MAX_TITLE_CHARS)?;
    }
    bounded_opt("system_prompt", body.system_prompt.as_deref(), MAX_PROMPT_CHARS)?;
    bounded_opt("opening_message", body.opening_message.clone().flatten().as_deref(), MAX_PROMPT_CHARS)?;
    for (field, value) in [("avatar", &body.avatar), ("description", &body.description), ("group", &body.group)] {
        bounded_opt(field, value.as_deref(), MAX_SHORT_TEXT_CHARS)?;
    }
    if let Some(model) = &body.model {
        usable_model(&chat, &user.group, model)?;
    }
    let temperature_milli = match body.temperature {
        Some(value) => Some(temperature("temperature", value)?),
        None => None,
    };
    let update = SessionUpdate {
        title: body.title,
        avatar: body.avatar,
        description: body.description,
        system_prompt: body.system_prompt,
        model: body.model,
        temperature_milli,
        opening_message: body.opening_message,
        pinned: body.pinned,
        group: body.group,
    };
    if let Some(tools) = &body.tools {
        super::tool_servers::check_session_tools(&chat, user.id, &user.group, tools).await?;
    }
    if let Some(ids) = &body.knowledge_base_ids {
        chat.store().get_chat_session(user.id, id).await?.ok_or_else(|| ProductError::not_found("session"))?;
        link_knowledge_bases(&chat, user.id, id, ids).await?;
    }
    if let Some(tools) = &body.tools
        && !chat.store().set_chat_session_tools(user.id, id, tools).await?
    {
        return Err(ProductError::not_found("session"));
    }
    let session = chat
        .store()
        .update_chat_session(user.id, id, &update)
        .await?
        .ok_or_else(|| ProductError::not_found("session"))?;
    Ok(Json(view(&chat, &session).await?))
}

pub async fn delete(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    if !chat.store().delete_chat_session(user.id, id).await? {
        return Err(ProductError::not_found("session"));
    }
    Ok(StatusCode::NO_CONTENT)
}
