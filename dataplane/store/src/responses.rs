//! Stored Responses-API responses (`POST /v1/responses` with `store` not false): the response
//! object the client received and the input items its request added. A conversation is the chain
//! of `previous_response_id` links; the relay resolves it, so the chain can continue on any
//! channel (NOTES.md "Responses API").

use crate::backend::on_pool;
use crate::{Store, StoreResult};

/// Longest `previous_response_id` chain followed, so a corrupted (cyclic) chain cannot loop.
pub const MAX_CHAIN: i32 = 10_000;

/// One stored response.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredResponse {
    pub id: String,
    pub owner: String,
    pub previous_response_id: Option<String>,
    /// JSON array of the input items this request added, each with an `id`.
    pub input: String,
    /// JSON of the response object.
    pub response: String,
    pub created_at: i64,
}

impl Store {
    /// Stores a response; storing the same id again replaces it (an upstream id is unique, and a
    /// retried write must not fail the answer).
    pub async fn insert_response(&self, response: &StoredResponse) -> StoreResult<()> {
        let sql = "INSERT INTO responses (id, owner, previous_response_id, input, response, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) \
                   ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, \
                   previous_response_id = excluded.previous_response_id, input = excluded.input, \
                   response = excluded.response, created_at = excluded.created_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&response.id)
            .bind(&response.owner)
            .bind(&response.previous_response_id)
            .bind(&response.input)
            .bind(&response.response)
            .bind(response.created_at)
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }

    /// The response `id` if `owner` stored it.
    pub async fn response(&self, owner: &str, id: &str) -> StoreResult<Option<StoredResponse>> {
        let sql = "SELECT id, owner, previous_response_id, input, response, created_at FROM responses \
                   WHERE id = $1 AND owner = $2";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(id).bind(owner).fetch_optional(pool).await?))
    }

    /// The conversation ending at `id`, oldest first (one recursive query), or `None` when `id`
    /// is not `owner`'s. A deleted link ends the chain there, as a missing
    /// `previous_response_id` would.
    pub async fn response_chain(&self, owner: &str, id: &str) -> StoreResult<Option<Vec<StoredResponse>>> {
        let sql = "WITH RECURSIVE chain (id, owner, previous_response_id, input, response, created_at, depth) AS ( \
                   SELECT id, owner, previous_response_id, input, response, created_at, 0 FROM responses \
                   WHERE id = $1 AND owner = $2 \
                   UNION ALL \
                   SELECT r.id, r.owner, r.previous_response_id, r.input, r.response, r.created_at, c.depth + 1 \
                   FROM responses r JOIN chain c ON r.id = c.previous_response_id \
                   WHERE r.owner = $2 AND c.depth < $3) \
                   SELECT id, owner, previous_response_id, input, response, created_at FROM chain ORDER BY depth DESC";
        let chain: Vec<StoredResponse> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(id)
            .bind(owner)
            .bind(MAX_CHAIN)
            .fetch_all(pool)
            .await?);
        Ok((!chain.is_empty()).then_some(chain))
    }

    /// Deletes `owner`'s response `id`; false when there was none.
    pub async fn delete_response(&self, owner: &str, id: &str) -> StoreResult<bool> {
        let sql = "DELETE FROM responses WHERE id = $1 AND owner = $2";
        let deleted =
            on_pool!(self, pool => sqlx::query(sql).bind(id).bind(owner).execute(pool).await?.rows_affected());
        Ok(deleted > 0)
    }
}
