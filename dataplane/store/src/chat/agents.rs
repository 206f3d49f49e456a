//! Users' private agents. The curated catalog comes from `Agent` resources through the config
//! snapshot, not from here.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::backend::on_pool;
use crate::{Store, StoreResult};

/// An agent row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ChatAgent {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub avatar: String,
    pub description: String,
    #[sqlx(json)]
    pub tags: Vec<String>,
    pub system_prompt: String,
    pub model: Option<String>,
    pub temperature_milli: Option<i32>,
    pub opening_message: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The editable fields of an agent, all resolved (the caller merges a patch onto the stored agent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentFields {
    pub name: String,
    pub avatar: String,
    pub description: String,
    pub tags: Vec<String>,
    pub system_prompt: String,
    pub model: Option<String>,
    pub temperature_milli: Option<i32>,
    pub opening_message: Option<String>,
}

impl AgentFields {
    /// The fields of a stored agent, to merge a patch onto.
    pub fn of(agent: &ChatAgent) -> Self {
        AgentFields {
            name: agent.name.clone(),
            avatar: agent.avatar.clone(),
            description: agent.description.clone(),
            tags: agent.tags.clone(),
            system_prompt: agent.system_prompt.clone(),
            model: agent.model.clone(),
            temperature_milli: agent.temperature_milli,
            opening_message: agent.opening_message.clone(),
        }
    }
}

const AGENT_COLUMNS: &str = "id, user_id, name, avatar, description, tags, system_prompt, model, temperature_milli, \
     opening_message, created_at, updated_at";

/// A user never has more than this many private agents listed.
const MAX_LISTED_AGENTS: i64 = 500;

fn tags_json(tags: &[String]) -> sqlx::types::Json<Value> {
    sqlx::types::Json(Value::from(tags.to_vec()))
}

impl Store {
    pub async fn create_chat_agent(&self, user_id: Uuid, fields: &AgentFields) -> StoreResult<ChatAgent> {
        let now = crate::now_ms();
        let id = Uuid::now_v7();
        let sql = format!(
            "INSERT INTO chat_agents ({AGENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
             RETURNING {AGENT_COLUMNS}"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(id)
            .bind(user_id)
            .bind(&fields.name)
            .bind(&fields.avatar)
            .bind(&fields.description)
            .bind(tags_json(&fields.tags))
            .bind(&fields.system_prompt)
            .bind(&fields.model)
            .bind(fields.temperature_milli)
            .bind(&fields.opening_message)
            .bind(now)
            .fetch_one(pool)
            .await?))
    }

    /// The user's agents, most recently changed first.
    pub async fn list_chat_agents(&self, user_id: Uuid) -> StoreResult<Vec<ChatAgent>> {
        let sql = format!(
            "SELECT {AGENT_COLUMNS} FROM chat_agents WHERE user_id = $1 ORDER BY updated_at DESC, id DESC LIMIT $2"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).bind(MAX_LISTED_AGENTS).fetch_all(pool).await?))
    }

    pub async fn get_chat_agent(&self, user_id: Uuid, id: Uuid) -> StoreResult<Option<ChatAgent>> {
        let sql = format!("SELECT {AGENT_COLUMNS} FROM chat_agents WHERE id = $1 AND user_id = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(user_id).fetch_optional(pool).await?))
    }

    /// Replaces the agent's fields; `None` when it is not the user's.
    pub async fn update_chat_agent(
        &self,
        user_id: Uuid,
        id: Uuid,
        fields: &AgentFields,
    ) -> StoreResult<Option<ChatAgent>> {
        let sql = format!(
            "UPDATE chat_agents SET name = $1, avatar = $2, description = $3, tags = $4, system_prompt = $5, \
             model = $6, temperature_milli = $7, opening_message = $8, updated_at = $9 \
             WHERE id = $10 AND user_id = $11 RETURNING {AGENT_COLUMNS}"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(&fields.name)
            .bind(&fields.avatar)
            .bind(&fields.description)
            .bind(tags_json(&fields.tags))
            .bind(&fields.system_prompt)
            .bind(&fields.model)
            .bind(fields.temperature_milli)
            .bind(&fields.opening_message)
            .bind(crate::now_ms())
            .bind(id)
            .bind(user_id)
            .fetch_optional(pool)
            .await?))
    }

    /// False when the agent is not the user's. Sessions made from it keep their copy of its fields.
    pub async fn delete_chat_agent(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let sql = "DELETE FROM chat_agents WHERE id = $1 AND user_id = $2";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(id).bind(user_id).execute(pool).await?.rows_affected());
        Ok(done > 0)
    }
}
