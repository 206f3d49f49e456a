//! Topics: the threads of a session. A topic remembers the leaf of its active branch.

use serde::Serialize;
use uuid::Uuid;

use crate::backend::on_pool;
use crate::{Store, StoreResult};

/// A topic row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ChatTopic {
    pub id: Uuid,
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    /// `auto` (may be replaced by a generated title) or `user` (never replaced).
    pub title_source: String,
    pub active_leaf_id: Option<Uuid>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) const TOPIC_COLUMNS: &str =
    "id, session_id, user_id, title, title_source, active_leaf_id, created_at, updated_at";

impl Store {
    /// Creates a topic in one of the user's sessions; `None` when the session is not theirs.
    pub async fn create_chat_topic(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        title: Option<&str>,
    ) -> StoreResult<Option<ChatTopic>> {
        let now = crate::now_ms();
        let (title, source) = match title.map(str::trim).filter(|t| !t.is_empty()) {
            Some(title) => (title.to_string(), "user"),
            None => (String::new(), "auto"),
        };
        let sql = format!(
            "INSERT INTO chat_topics ({TOPIC_COLUMNS}) \
             SELECT $1, id, user_id, $2, $3, NULL, $4, $4 FROM chat_sessions WHERE id = $5 AND user_id = $6 \
             RETURNING {TOPIC_COLUMNS}"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(Uuid::now_v7())
            .bind(&title)
            .bind(source)
            .bind(now)
            .bind(session_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await?))
    }

    /// A page of a session's topics, most recently active first; `before` is the last topic of
    /// the previous page. Returns up to `limit + 1` rows so the caller can tell whether more exist.
    pub async fn list_chat_topics(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        before: Option<Uuid>,
        limit: i64,
    ) -> StoreResult<Vec<ChatTopic>> {
        let sql = format!(
            "SELECT {TOPIC_COLUMNS} FROM chat_topics t WHERE session_id = $1 AND user_id = $2 AND ($3 IS NULL OR \
             (updated_at, id) < (SELECT b.updated_at, b.id FROM chat_topics b WHERE b.id = $3 AND b.session_id = $1)) \
             ORDER BY updated_at DESC, id DESC LIMIT $4"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(session_id)
            .bind(user_id)
            .bind(before)
            .bind(limit.clamp(1, 200) + 1)
            .fetch_all(pool)
            .await?))
    }

    pub async fn get_chat_topic(&self, user_id: Uuid, id: Uuid) -> StoreResult<Option<ChatTopic>> {
        let sql = format!("SELECT {TOPIC_COLUMNS} FROM chat_topics WHERE id = $1 AND user_id = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(user_id).fetch_optional(pool).await?))
    }

    /// The session's most recently active topic.
    pub async fn latest_chat_topic(&self, user_id: Uuid, session_id: Uuid) -> StoreResult<Option<ChatTopic>> {
        let sql = format!(
            "SELECT {TOPIC_COLUMNS} FROM chat_topics WHERE session_id = $1 AND user_id = $2 \
             ORDER BY updated_at DESC, id DESC LIMIT 1"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(session_id).bind(user_id).fetch_optional(pool).await?))
    }

    /// A title the user chose; generated titles never replace it.
    pub async fn rename_chat_topic(&self, user_id: Uuid, id: Uuid, title: &str) -> StoreResult<Option<ChatTopic>> {
        let sql = format!(
            "UPDATE chat_topics SET title = $1, title_source = 'user' WHERE id = $2 AND user_id = $3 \
             RETURNING {TOPIC_COLUMNS}"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(title).bind(id).bind(user_id).fetch_optional(pool).await?))
    }

    /// Sets a generated title unless the user named the topic meanwhile. True when it was set.
    pub async fn set_generated_topic_title(&self, id: Uuid, title: &str) -> StoreResult<bool> {
        let sql = "UPDATE chat_topics SET title = $1 WHERE id = $2 AND title_source = 'auto'";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(title).bind(id).execute(pool).await?.rows_affected());
        Ok(done > 0)
    }

    /// Deletes a topic with its messages; false when it is not the user's.
    pub async fn delete_chat_topic(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let sql = "DELETE FROM chat_topics WHERE id = $1 AND user_id = $2";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(id).bind(user_id).execute(pool).await?.rows_affected());
        Ok(done > 0)
    }
}
