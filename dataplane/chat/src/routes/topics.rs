//! `/chat/sessions/{id}/topics`, `/chat/topics/{id}` and a topic's export.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oblivious_gateway::{ApiResult, Body, ProductError, UserIdentity};
use oblivious_store::chat::{ChatMessage, ChatTopic, MAX_BRANCH_WALK};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::input::{MAX_TITLE_CHARS, bounded, query_id, required_text};
use crate::Chat;
use crate::views::{TopicView, message_view};

const DEFAULT_PAGE: i64 = 50;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTopic {
    title: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameTopic {
    title: String,
}

pub async fn list(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(session_id): Path<Uuid>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    chat.store().get_chat_session(user.id, session_id).await?.ok_or_else(|| ProductError::not_found("session"))?;
    let before = query_id("before", query.get("before").map(String::as_str))?;
    let limit = super::limit(&query, DEFAULT_PAGE)?;
    let mut topics = chat.store().list_chat_topics(user.id, session_id, before, limit).await?;
    let has_more = topics.len() as i64 > limit;
    topics.truncate(limit as usize);
    Ok(Json(json!({"topics": topics.iter().map(TopicView::from).collect::<Vec<_>>(), "has_more": has_more})))
}

pub async fn create(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(session_id): Path<Uuid>,
    Body(body): Body<CreateTopic>,
) -> ApiResult<(StatusCode, Json<TopicView>)> {
    if let Some(title) = &body.title {
        bounded("title", title, MAX_TITLE_CHARS)?;
    }
    let topic = chat
        .store()
        .create_chat_topic(user.id, session_id, body.title.as_deref())
        .await?
        .ok_or_else(|| ProductError::not_found("session"))?;
    Ok((StatusCode::CREATED, Json(TopicView::from(&topic))))
}

pub async fn rename(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(id): Path<Uuid>,
    Body(body): Body<RenameTopic>,
) -> ApiResult<Json<TopicView>> {
    required_text("title", &body.title, MAX_TITLE_CHARS)?;
    let topic = chat
        .store()
        .rename_chat_topic(user.id, id, body.title.trim())
        .await?
        .ok_or_else(|| ProductError::not_found("topic"))?;
    Ok(Json(TopicView::from(&topic)))
}

pub async fn delete(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    if !chat.store().delete_chat_topic(user.id, id).await? {
        return Err(ProductError::not_found("topic"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The active branch as Markdown (default) or JSON, as a download.
pub async fn export(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(id): Path<Uuid>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let topic = chat.store().get_chat_topic(user.id, id).await?.ok_or_else(|| ProductError::not_found("topic"))?;
    let messages = match topic.active_leaf_id {
        Some(leaf) => chat.store().chat_branch_to(topic.id, leaf, MAX_BRANCH_WALK).await?,
        None => Vec::new(),
    };
    let (body, content_type, extension) = match query.get("format").map(String::as_str) {
        None | Some("markdown" | "md") => (to_markdown(&topic, &messages), "text/markdown; charset=utf-8", "md"),
        Some("json") => {
            let messages: Vec<Value> = messages.iter().map(|m| message_view(m, None)).collect();
            let document = json!({"topic": TopicView::from(&topic), "messages": messages});
            (serde_json::to_string_pretty(&document).unwrap_or_default(), "application/json", "json")
        }
        Some(other) => return Err(ProductError::invalid("format", format!("`{other}` is not markdown or json"))),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let disposition = format!("attachment; filename=\"topic-{}.{extension}\"", topic.id);
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

fn to_markdown(topic: &ChatTopic, messages: &[ChatMessage]) -> String {
    let mut out = format!("# {}\n", if topic.title.is_empty() { "Untitled topic" } else { &topic.title });
    for message in messages {
        let speaker = match message.role.as_str() {
            "user" => "You".to_string(),
            "system" => "System".to_string(),
            _ => format!("Assistant ({})", message.model.as_deref().unwrap_or("model")),
        };
        out.push_str(&format!("\n## {speaker}\n\n"));
        for call in message.tool_calls.as_array().into_iter().flatten() {
            out.push_str(&format!("> {}\n\n", crate::tools::summary_line(call)));
        }
        out.push_str(&format!("{}\n", message.content.trim_end()));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::test_support::message;

    #[test]
    fn markdown_exports_name_each_speaker_in_order() {
        let topic = ChatTopic {
            id: Uuid::nil(),
            session_id: Uuid::nil(),
            user_id: Uuid::nil(),
            title: "Sorting".into(),
            title_source: "auto".into(),
            active_leaf_id: None,
            created_at: 0,
            updated_at: 0,
        };
        let mut reply = message("assistant", "Like this.", "complete");
        reply.tool_calls = json!([
            {"tool": "echo", "arguments": {"message": "hi"}, "status": "ok", "output": "Echo: hi", "error": null},
            {"tool": "slow", "arguments": {}, "status": "error", "output": "", "error": {"code": "timeout", "message": "too slow"}},
        ]);
        let markdown = to_markdown(&topic, &[message("user", "How?", "complete"), reply]);
        assert_eq!(
            markdown,
            "# Sorting\n\n## You\n\nHow?\n\n## Assistant (gpt-4o)\n\n\
             > Tool `echo` {\"message\":\"hi\"}: Echo: hi\n\n\
             > Tool `slow` {}: failed (timeout): too slow\n\n\
             Like this.\n"
        );
    }
}
