//! Chat sessions: one conversation partner (usually made from an agent) in a user's left rail.

use serde::Serialize;
use uuid::Uuid;

use crate::backend::on_pool;
use crate::{Store, StoreResult};

/// A session row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ChatSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub agent_id: Option<Uuid>,
    pub title: String,
    pub avatar: String,
    pub description: String,
    pub system_prompt: String,
    pub model: String,
    /// Sampling temperature in thousandths (no floats in storage).
    pub temperature_milli: Option<i32>,
    pub opening_message: Option<String>,
    pub pinned: bool,
    /// Free-form folder name; empty when ungrouped.
    #[sqlx(rename = "group_name")]
    pub group: String,
    /// The tools the user turned on: platform `ToolServer` names (`namespace/name`) and
    /// `user:<id>` of the user's own servers.
    #[sqlx(json)]
    pub tools: Vec<String>,
    /// `auto` (a blank chat's placeholder title, waiting for its first topic's), `generated` or
    /// `user`.
    pub title_source: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A session to create; every field already resolved (agent defaults applied by the caller).
#[derive(Debug, Clone, Default)]
pub struct NewChatSession {
    pub user_id: Uuid,
    pub agent_id: Option<Uuid>,
    pub title: String,
    pub avatar: String,
    pub description: String,
    pub system_prompt: String,
    pub model: String,
    pub temperature_milli: Option<i32>,
    pub opening_message: Option<String>,
    pub group: String,
    /// A blank chat's placeholder title, to be replaced by its first topic's generated one.
    pub title_is_placeholder: bool,
}

/// Fields to change; `None` keeps the stored value. The doubly optional fields can be cleared.
#[derive(Debug, Clone, Default)]
pub struct SessionUpdate {
    pub title: Option<String>,
    pub avatar: Option<String>,
    pub description: Option<String>,
    pub system_prompt: Option<String>,
    pub model: Option<String>,
    pub temperature_milli: Option<Option<i32>>,
    pub opening_message: Option<Option<String>>,
    pub pinned: Option<bool>,
    pub group: Option<String>,
}

const SESSION_COLUMNS: &str = "id, user_id, agent_id, title, avatar, description, system_prompt, model, \
     temperature_milli, opening_message, pinned, group_name, tools, title_source, created_at, updated_at";

/// A user's rail never lists more than this many sessions at once.
const MAX_LISTED_SESSIONS: i64 = 1000;

impl Store {
    pub async fn create_chat_session(&self, new: NewChatSession) -> StoreResult<ChatSession> {
        let now = crate::now_ms();
        let session = ChatSession {
            id: Uuid::now_v7(),
            user_id: new.user_id,
            agent_id: new.agent_id,
            title: new.title,
            avatar: new.avatar,
            description: new.description,
            system_prompt: new.system_prompt,
            model: new.model,
            temperature_milli: new.temperature_milli,
            opening_message: new.opening_message,
            pinned: false,
            group: new.group,
            tools: Vec::new(),
            title_source: if new.title_is_placeholder { "auto" } else { "user" }.to_string(),
            created_at: now,
            updated_at: now,
        };
        let sql = format!(
            "INSERT INTO chat_sessions ({SESSION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, '[]', $14, $13, $13)"
        );
        on_pool!(self, pool => sqlx::query(&sql)
            .bind(session.id)
            .bind(session.user_id)
            .bind(session.agent_id)
            .bind(&session.title)
            .bind(&session.avatar)
            .bind(&session.description)
            .bind(&session.system_prompt)
            .bind(&session.model)
            .bind(session.temperature_milli)
            .bind(&session.opening_message)
            .bind(session.pinned)
            .bind(&session.group)
            .bind(now)
            .bind(&session.title_source)
            .execute(pool)
            .await
            .map(drop)?);
        Ok(session)
    }

    /// The user's sessions: pinned first, then the most recently active.
    pub async fn list_chat_sessions(&self, user_id: Uuid) -> StoreResult<Vec<ChatSession>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE user_id = $1 \
             ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT $2"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).bind(MAX_LISTED_SESSIONS).fetch_all(pool).await?))
    }

    pub async fn get_chat_session(&self, user_id: Uuid, id: Uuid) -> StoreResult<Option<ChatSession>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE id = $1 AND user_id = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(user_id).fetch_optional(pool).await?))
    }

    /// Gives the session of `topic_id` that topic's generated title, if the session still has
    /// its placeholder (a blank chat's first named topic names it, once).
    pub async fn set_generated_session_title(&self, topic_id: Uuid, title: &str) -> StoreResult<bool> {
        let sql = "UPDATE chat_sessions SET title = $1, title_source = 'generated' \
                   WHERE id = (SELECT session_id FROM chat_topics WHERE id = $2) AND title_source = 'auto'";
        let done =
            on_pool!(self, pool => sqlx::query(sql).bind(title).bind(topic_id).execute(pool).await?.rows_affected());
        Ok(done > 0)
    }

    /// Applies the fields that are set; `None` when the session is not the user's.
    pub async fn update_chat_session(
        &self,
        user_id: Uuid,
        id: Uuid,
        update: &SessionUpdate,
    ) -> StoreResult<Option<ChatSession>> {
        // A doubly optional field is written when its outer Option is set: $N is the flag, $N+1 the value.
        let sql = format!(
            "UPDATE chat_sessions SET title = COALESCE($1, title), \
             title_source = CASE WHEN $1 IS NULL THEN title_source ELSE 'user' END, avatar = COALESCE($2, avatar), \
             description = COALESCE($3, description), system_prompt = COALESCE($4, system_prompt), \
             model = COALESCE($5, model), \
             temperature_milli = CASE WHEN $6 THEN $7 ELSE temperature_milli END, \
             opening_message = CASE WHEN $8 THEN $9 ELSE opening_message END, \
             pinned = COALESCE($10, pinned), group_name = COALESCE($11, group_name), updated_at = $12 \
             WHERE id = $13 AND user_id = $14 RETURNING {SESSION_COLUMNS}"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(&update.title)
            .bind(&update.avatar)
            .bind(&update.description)
            .bind(&update.system_prompt)
            .bind(&update.model)
            .bind(update.temperature_milli.is_some())
            .bind(update.temperature_milli.flatten())
            .bind(update.opening_message.is_some())
            .bind(update.opening_message.clone().flatten())
            .bind(update.pinned)
            .bind(&update.group)
            .bind(crate::now_ms())
            .bind(id)
            .bind(user_id)
            .fetch_optional(pool)
            .await?))
    }

    /// Deletes a session with its topics and messages; false when it is not the user's.
    pub async fn delete_chat_session(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let sql = "DELETE FROM chat_sessions WHERE id = $1 AND user_id = $2";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(id).bind(user_id).execute(pool).await?.rows_affected());
        Ok(done > 0)
    }
}
