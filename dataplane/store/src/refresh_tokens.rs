//! Refresh tokens: opaque random strings stored as hashes. Each use rotates the token (the old
//! one is marked used, a new one of the same family is issued); presenting a token that was
//! already used means it was copied, so the whole family — every session descended from that
//! login — is revoked (OAuth 2.0 Security BCP, "refresh token rotation").

use uuid::Uuid;

use crate::backend::{WriteTransaction, on_pool};
use crate::{Store, StoreResult};

/// One stored token (no secret).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefreshTokenRecord {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was valid; the new token (hash given by the caller) replaces it.
    Rotated { user_id: Uuid, family_id: Uuid },
    /// The token had already been used: the family is now revoked.
    ReuseDetected { user_id: Uuid, family_id: Uuid },
    /// Unknown, expired or revoked.
    Invalid,
}

impl Store {
    /// Stores a new token. `family_id` is new at login and inherited on rotation.
    pub async fn insert_refresh_token(
        &self,
        user_id: Uuid,
        family_id: Uuid,
        token_hash: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        let sql = "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4, $5, $6)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(Uuid::now_v7())
            .bind(family_id)
            .bind(user_id)
            .bind(token_hash)
            .bind(crate::now_ms())
            .bind(expires_at)
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }

    /// Uses the token with `token_hash` and, when it is valid, stores its successor
    /// (`new_hash`, expiring at `new_expires_at`) in the same transaction.
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        new_hash: &str,
        now: i64,
        new_expires_at: i64,
    ) -> StoreResult<Rotation> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(pool.write_begin()).await?;
            // Claim the token atomically: only one concurrent rotation can flip used_at.
            let claimed: Option<(Uuid, Uuid)> = sqlx::query_as(
                "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL \
                 AND revoked_at IS NULL AND expires_at > $1 RETURNING user_id, family_id",
            )
            .bind(now)
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((user_id, family_id)) = claimed {
                sqlx::query(
                    "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(Uuid::now_v7())
                .bind(family_id)
                .bind(user_id)
                .bind(new_hash)
                .bind(now)
                .bind(new_expires_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(Rotation::Rotated { user_id, family_id });
            }
            let used: Option<(Uuid, Uuid)> = sqlx::query_as(
                "SELECT user_id, family_id FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL",
            )
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((user_id, family_id)) = used else {
                tx.rollback().await?;
                return Ok(Rotation::Invalid);
            };
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(family_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Rotation::ReuseDetected { user_id, family_id })
        })
    }

    /// Revokes the family of the token with `token_hash` (logout of one session). Returns
    /// the owner when the token was known.
    pub async fn revoke_refresh_family_of(&self, token_hash: &str, now: i64) -> StoreResult<Option<Uuid>> {
        let sql = "SELECT user_id, family_id FROM refresh_tokens WHERE token_hash = $1";
        let found: Option<(Uuid, Uuid)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(token_hash).fetch_optional(pool).await?);
        let Some((user_id, family_id)) = found else { return Ok(None) };
        let sql = "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL";
        on_pool!(self, pool => sqlx::query(sql).bind(now).bind(family_id).execute(pool).await.map(drop)?);
        Ok(Some(user_id))
    }

    /// Revokes every refresh token of a user (log out everywhere). Returns how many.
    pub async fn revoke_all_refresh_tokens(&self, user_id: Uuid, now: i64) -> StoreResult<u64> {
        let sql = "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL";
        Ok(on_pool!(self, pool => sqlx::query(sql).bind(now).bind(user_id).execute(pool).await?.rows_affected()))
    }

    /// The tokens of a family, for tests and session listings.
    pub async fn refresh_family(&self, family_id: Uuid) -> StoreResult<Vec<RefreshTokenRecord>> {
        let sql = "SELECT id, family_id, user_id, created_at, expires_at, used_at, revoked_at FROM refresh_tokens \
                   WHERE family_id = $1 ORDER BY created_at, id";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(family_id).fetch_all(pool).await?))
    }
}
