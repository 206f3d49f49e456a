//! A reply while its job runs: progress saved as it streams, its end written exactly once, and
//! replies whose job died ended by the reaper.

use serde_json::Value;
use uuid::Uuid;

use super::messages::{ChatMessage, MESSAGE_COLUMNS};
use crate::backend::on_pool;
use crate::{Store, StoreResult};

/// How a reply ended, written once by `finalize_chat_message`.
#[derive(Debug, Clone, Default)]
pub struct FinalMessage {
    pub content: String,
    pub reasoning: String,
    /// `complete`, `stopped` or `error`.
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub model: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_input_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub cost_micros: Option<i64>,
    pub currency: Option<String>,
    pub sources: Value,
    /// The tool calls the reply made (a JSON array).
    pub tool_calls: Value,
}

impl Store {
    /// Saves what a reply has so far (the placeholder is updated as the job runs). False when
    /// the reply is no longer streaming.
    pub async fn update_streaming_chat_message(&self, id: Uuid, content: &str, reasoning: &str) -> StoreResult<bool> {
        let sql = "UPDATE chat_messages SET content = $1, reasoning = $2, updated_at = $3 \
                   WHERE id = $4 AND status = 'streaming'";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(content)
            .bind(reasoning)
            .bind(crate::now_ms())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done > 0)
    }

    /// Writes how a reply ended, once: `None` when it had already ended (e.g. reaped).
    pub async fn finalize_chat_message(&self, id: Uuid, last: &FinalMessage) -> StoreResult<Option<ChatMessage>> {
        let now = crate::now_ms();
        let sql = format!(
            "UPDATE chat_messages SET content = $1, reasoning = $2, status = $3, error_code = $4, error_message = $5, \
             model = COALESCE($6, model), input_tokens = $7, output_tokens = $8, cached_input_tokens = $9, \
             reasoning_tokens = $10, cost_micros = $11, currency = $12, sources = $13, tool_calls = $14, updated_at = $15 \
             WHERE id = $16 AND status = 'streaming' RETURNING {MESSAGE_COLUMNS}"
        );
        let message: Option<ChatMessage> = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(&last.content)
            .bind(&last.reasoning)
            .bind(&last.status)
            .bind(&last.error_code)
            .bind(&last.error_message)
            .bind(&last.model)
            .bind(last.input_tokens)
            .bind(last.output_tokens)
            .bind(last.cached_input_tokens)
            .bind(last.reasoning_tokens)
            .bind(last.cost_micros)
            .bind(&last.currency)
            .bind(sqlx::types::Json(&last.sources))
            // An unset list (`FinalMessage::default()`) is stored as an empty one, never `null`.
            .bind(sqlx::types::Json(last.tool_calls.as_array().cloned().unwrap_or_default()))
            .bind(now)
            .bind(id)
            .fetch_optional(pool)
            .await?);
        if let Some(message) = &message {
            on_pool!(self, pool => sqlx::query("UPDATE chat_topics SET updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(message.topic_id)
                .execute(pool)
                .await
                .map(drop)?);
        }
        Ok(message)
    }

    /// Ends replies whose job stopped saving progress before `stale_before` (its process died):
    /// they become `error` / `interrupted`, keeping what was saved. Returns how many.
    pub async fn reap_interrupted_chat_messages(&self, stale_before: i64) -> StoreResult<u64> {
        let sql = "UPDATE chat_messages SET status = 'error', error_code = 'interrupted', \
                   error_message = 'The reply was interrupted.', updated_at = $1 \
                   WHERE status = 'streaming' AND updated_at < $2";
        Ok(on_pool!(self, pool => sqlx::query(sql)
            .bind(crate::now_ms())
            .bind(stale_before)
            .execute(pool)
            .await?
            .rows_affected()))
    }
}
