//! MCP servers users add for themselves, and the tools a session turns on. Like every chat
//! table, each query matches the owner's `user_id`.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::backend::on_pool;
use crate::{Store, StoreResult};

/// A user's own MCP server.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserToolServer {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// Streamable HTTP endpoint.
    pub url: String,
    /// Header name -> value; values may be credentials (never shown back).
    #[sqlx(json)]
    pub headers: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, user_id, name, url, headers, created_at, updated_at";

/// A user never has more than this many servers.
pub const MAX_USER_TOOL_SERVERS: i64 = 20;

impl Store {
    /// Adds a server; `None` when the user already has [`MAX_USER_TOOL_SERVERS`].
    pub async fn create_user_tool_server(
        &self,
        user_id: Uuid,
        name: &str,
        url: &str,
        headers: &BTreeMap<String, String>,
    ) -> StoreResult<Option<UserToolServer>> {
        if self.list_user_tool_servers(user_id).await?.len() as i64 >= MAX_USER_TOOL_SERVERS {
            return Ok(None);
        }
        let now = crate::now_ms();
        let sql = format!(
            "INSERT INTO user_tool_servers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {COLUMNS}"
        );
        Ok(Some(on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(Uuid::now_v7())
            .bind(user_id)
            .bind(name)
            .bind(url)
            .bind(sqlx::types::Json(headers))
            .bind(now)
            .fetch_one(pool)
            .await?)))
    }

    /// The user's servers, oldest first.
    pub async fn list_user_tool_servers(&self, user_id: Uuid) -> StoreResult<Vec<UserToolServer>> {
        let sql = format!("SELECT {COLUMNS} FROM user_tool_servers WHERE user_id = $1 ORDER BY created_at, id");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await?))
    }

    pub async fn get_user_tool_server(&self, user_id: Uuid, id: Uuid) -> StoreResult<Option<UserToolServer>> {
        let sql = format!("SELECT {COLUMNS} FROM user_tool_servers WHERE id = $1 AND user_id = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(user_id).fetch_optional(pool).await?))
    }

    /// False when the server is not the user's. Sessions naming it simply lose its tools.
    pub async fn delete_user_tool_server(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let sql = "DELETE FROM user_tool_servers WHERE id = $1 AND user_id = $2";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(id).bind(user_id).execute(pool).await?.rows_affected());
        Ok(done > 0)
    }

    /// Replaces the tools a session turns on; false when the session is not the user's.
    pub async fn set_chat_session_tools(&self, user_id: Uuid, session_id: Uuid, tools: &[String]) -> StoreResult<bool> {
        let sql = "UPDATE chat_sessions SET tools = $1, updated_at = $2 WHERE id = $3 AND user_id = $4";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(sqlx::types::Json(tools))
            .bind(crate::now_ms())
            .bind(session_id)
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done > 0)
    }
}
