//! Messages: the active branch page by page, send, edit (a branch), regenerate (a sibling),
//! switch branch, delete, search.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use oblivious_gateway::{ApiResult, Body, ProductError, UserIdentity};
use oblivious_store::chat::ExchangeParent;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::input::query_id;
use crate::Chat;
use crate::exchange::{self, Exchange};
use crate::views::{TopicView, message_view};

const DEFAULT_PAGE: i64 = 50;
const SEARCH_SNIPPET_CHARS: usize = 160;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    content: String,
    topic_id: Option<Uuid>,
    parent_id: Option<Uuid>,
    model: Option<String>,
    #[serde(default)]
    attachments: Vec<Uuid>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regenerate {
    model: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    content: String,
    /// The edited message's files; absent keeps the original's.
    attachments: Option<Vec<Uuid>>,
}

pub async fn list(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(session_id): Path<Uuid>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let limit = super::limit(&query, DEFAULT_PAGE)?;
    let before = query_id("before", query.get("before").map(String::as_str))?;
    let topic = match query_id("topic_id", query.get("topic_id").map(String::as_str))? {
        Some(topic_id) => {
            let topic = chat.store().get_chat_topic(user.id, topic_id).await?;
            Some(topic.filter(|t| t.session_id == session_id).ok_or_else(|| ProductError::not_found("topic"))?)
        }
        None => {
            chat.store()
                .get_chat_session(user.id, session_id)
                .await?
                .ok_or_else(|| ProductError::not_found("session"))?;
            chat.store().latest_chat_topic(user.id, session_id).await?
        }
    };
    let Some(topic) = topic else { return Ok(Json(json!({"messages": [], "has_more": false, "topic": null}))) };
    let page = chat
        .store()
        .chat_branch_page(user.id, topic.id, before, limit)
        .await
        .map_err(|error| match error {
            oblivious_store::StoreError::NotFound(_) => ProductError::invalid("before", "not a message of this branch"),
            other => ProductError::store(other),
        })?
        .ok_or_else(|| ProductError::not_found("topic"))?;
    let messages: Vec<Value> = page.messages.iter().map(|(m, siblings)| message_view(m, Some(siblings))).collect();
    Ok(Json(json!({"messages": messages, "has_more": page.has_more, "topic": TopicView::from(&topic)})))
}

pub async fn send(
    State(chat): State<Arc<Chat>>,
    identity: UserIdentity,
    headers: HeaderMap,
    Path(session_id): Path<Uuid>,
    Body(body): Body<SendMessage>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let session = chat
        .store()
        .get_chat_session(identity.user.id, session_id)
        .await?
        .ok_or_else(|| ProductError::not_found("session"))?;
    let parent = match (body.parent_id, body.topic_id) {
        (Some(parent), Some(_)) => ExchangeParent::Message(parent),
        (Some(_), None) => return Err(ProductError::invalid("parent_id", "needs the topic_id it belongs to")),
        (None, _) => ExchangeParent::ActiveLeaf,
    };
    let attachments = crate::attachments::resolve(&chat, identity.user.id, &body.attachments).await?;
    crate::attachments::check_content(&body.content, &attachments)?;
    let exchange = Exchange {
        session: &session,
        topic_id: body.topic_id,
        parent,
        user_text: Some(body.content),
        attachments,
        model: body.model,
    };
    let answer = exchange::start(&chat, &identity, &headers, exchange).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

pub async fn regenerate(
    State(chat): State<Arc<Chat>>,
    identity: UserIdentity,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    // The body is optional: `{}` or nothing regenerates with the reply's model.
    let body: Regenerate =
        if body.is_empty() { Regenerate { model: None } } else { oblivious_gateway::parse_body(&body)? };
    let reply =
        chat.store().get_chat_message(identity.user.id, id).await?.ok_or_else(|| ProductError::not_found("message"))?;
    if reply.role != "assistant" {
        return Err(ProductError::invalid("id", "only an assistant reply can be regenerated"));
    }
    let session = chat
        .store()
        .get_chat_session(identity.user.id, reply.session_id)
        .await?
        .ok_or_else(|| ProductError::not_found("session"))?;
    let parent = reply.parent_id.map_or(ExchangeParent::Root, ExchangeParent::Message);
    let model = body.model.or(reply.model);
    let exchange = Exchange {
        session: &session,
        topic_id: Some(reply.topic_id),
        parent,
        user_text: None,
        attachments: Value::Array(Vec::new()),
        model,
    };
    let answer = exchange::start(&chat, &identity, &headers, exchange).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

pub async fn edit(
    State(chat): State<Arc<Chat>>,
    identity: UserIdentity,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Body(body): Body<EditMessage>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let original =
        chat.store().get_chat_message(identity.user.id, id).await?.ok_or_else(|| ProductError::not_found("message"))?;
    if original.role != "user" {
        return Err(ProductError::invalid("id", "only a user message can be edited"));
    }
    let session = chat
        .store()
        .get_chat_session(identity.user.id, original.session_id)
        .await?
        .ok_or_else(|| ProductError::not_found("session"))?;
    let parent = original.parent_id.map_or(ExchangeParent::Root, ExchangeParent::Message);
    let attachments = match &body.attachments {
        Some(ids) => crate::attachments::resolve(&chat, identity.user.id, ids).await?,
        None => original.attachments.clone(),
    };
    crate::attachments::check_content(&body.content, &attachments)?;
    let exchange = Exchange {
        session: &session,
        topic_id: Some(original.topic_id),
        parent,
        user_text: Some(body.content),
        attachments,
        model: None,
    };
    let answer = exchange::start(&chat, &identity, &headers, exchange).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

pub async fn activate(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Value>> {
    let topic =
        chat.store().activate_chat_message(user.id, id).await?.ok_or_else(|| ProductError::not_found("message"))?;
    Ok(Json(json!({"topic": TopicView::from(&topic)})))
}

pub async fn delete(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let message =
        chat.store().get_chat_message(user.id, id).await?.ok_or_else(|| ProductError::not_found("message"))?;
    if message.status == oblivious_store::chat::STATUS_STREAMING {
        // Its job would write into a deleted row: stop it first.
        let _ = chat.bus.request_stop(id).await;
    }
    chat.store().delete_chat_message(user.id, id).await?.ok_or_else(|| ProductError::not_found("message"))?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn search(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let text = query.get("q").map(|q| q.trim()).unwrap_or_default();
    if text.is_empty() {
        return Err(ProductError::invalid("q", "must not be empty"));
    }
    super::input::bounded("q", text, 200)?;
    let limit = super::limit(&query, 20)?;
    let hits = chat.store().search_chat_messages(user.id, text, limit).await?;
    let results: Vec<Value> = hits
        .iter()
        .map(|hit| {
            json!({
                "message_id": hit.message_id, "session_id": hit.session_id, "topic_id": hit.topic_id,
                "topic_title": hit.topic_title, "session_title": hit.session_title, "role": hit.role,
                "snippet": snippet(&hit.content, text), "created_at": hit.created_at,
            })
        })
        .collect();
    Ok(Json(json!({"results": results})))
}

/// The part of `content` around the first match of `query` (case-insensitive), on char boundaries.
fn snippet(content: &str, query: &str) -> String {
    let lower = content.to_lowercase();
    let chars: Vec<char> = content.chars().collect();
    // Lowercasing can change byte lengths; find the match by char position.
    let at = lower.find(&query.to_lowercase()).map_or(0, |byte| lower[..byte].chars().count());
    let start = at.saturating_sub(SEARCH_SNIPPET_CHARS / 3);
    let end = (start + SEARCH_SNIPPET_CHARS).min(chars.len());
    let mut out: String = chars[start.min(chars.len())..end].iter().collect();
    if start > 0 {
        out.insert(0, '…');
    }
    if end < chars.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn snippets_centre_on_the_match_and_mark_cuts() {
        let content = format!("{}needle{}", "a".repeat(300), "b".repeat(300));
        let cut = snippet(&content, "NEEDLE");
        assert!(cut.starts_with('…') && cut.ends_with('…') && cut.contains("needle"), "{cut}");
        assert_eq!(snippet("short text", "text"), "short text");
        assert_eq!(snippet("汉字很多的一段话", "一段"), "汉字很多的一段话");
    }
}
