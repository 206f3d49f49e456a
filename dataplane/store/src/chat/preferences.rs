//! A user's chat preferences (one row per user, written on first change).

use uuid::Uuid;

use crate::backend::on_pool;
use crate::{Store, StoreResult};

impl Store {
    /// The model the user's blank chats start with, if they chose one.
    pub async fn chat_default_model(&self, user_id: Uuid) -> StoreResult<Option<String>> {
        let sql = "SELECT default_model FROM chat_preferences WHERE user_id = $1";
        let row: Option<(Option<String>,)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(user_id).fetch_optional(pool).await?);
        Ok(row.and_then(|(model,)| model))
    }

    /// Sets (or, with `None`, clears) the user's default model.
    pub async fn set_chat_default_model(&self, user_id: Uuid, model: Option<&str>) -> StoreResult<()> {
        let sql = "INSERT INTO chat_preferences (user_id, default_model, updated_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (user_id) DO UPDATE SET default_model = excluded.default_model, \
                   updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(user_id)
            .bind(model)
            .bind(crate::now_ms())
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }
}
