//! Messages: the rows of a topic's tree, and finding them. Writing is split by job:
//! `exchange.rs` starts a reply, `branches.rs` pages and reshapes the tree, `replies.rs` saves a
//! reply's progress and end.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::backend::on_pool;
use crate::users::escape_like;
use crate::{Store, StoreResult};

/// A message row.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ChatMessage {
    pub id: Uuid,
    pub topic_id: Uuid,
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub parent_id: Option<Uuid>,
    /// `user`, `assistant` or `system`.
    pub role: String,
    pub content: String,
    pub reasoning: String,
    pub model: Option<String>,
    /// `complete`, `streaming`, `stopped` or `error`.
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_input_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub cost_micros: Option<i64>,
    pub currency: Option<String>,
    /// Citations, as the chat service wrote them (a JSON array).
    #[sqlx(json)]
    pub sources: Value,
    /// Files attached to a user message, as the chat service resolved them (a JSON array).
    #[sqlx(json)]
    pub attachments: Value,
    /// The tool calls of an assistant reply, in the order they ran (a JSON array).
    #[sqlx(json)]
    pub tool_calls: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A message matching a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct MessageSearchHit {
    pub message_id: Uuid,
    pub session_id: Uuid,
    pub topic_id: Uuid,
    pub topic_title: String,
    pub session_title: String,
    pub role: String,
    pub content: String,
    pub created_at: i64,
}

pub(super) const MESSAGE_COLUMNS: &str = "id, topic_id, session_id, user_id, parent_id, role, content, reasoning, model, status, \
     error_code, error_message, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_micros, \
     currency, sources, attachments, tool_calls, created_at, updated_at";

impl Store {
    pub async fn get_chat_message(&self, user_id: Uuid, id: Uuid) -> StoreResult<Option<ChatMessage>> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE id = $1 AND user_id = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(user_id).fetch_optional(pool).await?))
    }

    /// The user's messages containing `query` (case-insensitive for ASCII on SQLite, fully on
    /// PostgreSQL), newest first.
    pub async fn search_chat_messages(
        &self,
        user_id: Uuid,
        query: &str,
        limit: i64,
    ) -> StoreResult<Vec<MessageSearchHit>> {
        let pattern = format!("%{}%", escape_like(&query.to_lowercase()));
        let sql = "SELECT m.id AS message_id, m.session_id, m.topic_id, t.title AS topic_title, \
                   s.title AS session_title, m.role, m.content, m.created_at \
                   FROM chat_messages m JOIN chat_topics t ON t.id = m.topic_id JOIN chat_sessions s ON s.id = m.session_id \
                   WHERE m.user_id = $1 AND lower(m.content) LIKE $2 ESCAPE '\\' \
                   ORDER BY m.created_at DESC, m.id DESC LIMIT $3";
        Ok(on_pool!(self, pool => sqlx::query_as(sql)
            .bind(user_id)
            .bind(&pattern)
            .bind(limit.clamp(1, 100))
            .fetch_all(pool)
            .await?))
    }
}
