//! Redemption codes: single-use secrets worth an amount, minted by administrators. Stored as
//! hashes like API keys; redeeming one credits the balance in the same transaction that marks
//! the code used, so a code can never be redeemed twice, even concurrently.

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;
use uuid::Uuid;

use crate::backend::{WriteTransaction, on_pool};
use crate::{BalanceState, LedgerEntry, Store, StoreError, StoreResult, hash_api_key, key_prefix};

/// A minted code without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct RedeemCodeRecord {
    pub id: Uuid,
    pub prefix: String,
    pub amount_micros: i64,
    pub note: String,
    pub created_by: Option<Uuid>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub redeemed_by: Option<Uuid>,
    pub redeemed_at: Option<i64>,
}

/// Why a code could not be redeemed. All three look the same to the user ("invalid or used"),
/// but administrators and tests can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedeemRefusal {
    Unknown,
    AlreadyUsed,
    Expired,
}

/// The outcome of redeeming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    Credited { entry: LedgerEntry, balance: BalanceState },
    Refused(RedeemRefusal),
}

const CODE_RANDOM_LEN: usize = 24;

impl Store {
    /// Mints `count` codes worth `amount_micros` each; returns each secret with its record.
    pub async fn create_redeem_codes(
        &self,
        count: usize,
        amount_micros: i64,
        note: &str,
        expires_at: Option<i64>,
        created_by: Option<Uuid>,
    ) -> StoreResult<Vec<(String, RedeemCodeRecord)>> {
        if amount_micros <= 0 {
            return Err(StoreError::Invalid("a redemption code must be worth more than zero".into()));
        }
        let now = crate::now_ms();
        let mut minted = Vec::with_capacity(count);
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(pool.write_begin()).await?;
            for _ in 0..count {
                let random: String = rand::rng().sample_iter(&Alphanumeric).take(CODE_RANDOM_LEN).map(char::from).collect();
                let secret = format!("rc-{random}");
                let record = RedeemCodeRecord {
                    id: Uuid::now_v7(),
                    prefix: key_prefix(&secret).to_string(),
                    amount_micros,
                    note: note.to_string(),
                    created_by,
                    created_at: now,
                    expires_at,
                    redeemed_by: None,
                    redeemed_at: None,
                };
                sqlx::query(
                    "INSERT INTO redeem_codes (id, code_hash, prefix, amount_micros, note, created_by, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(record.id)
                .bind(hash_api_key(&secret))
                .bind(&record.prefix)
                .bind(record.amount_micros)
                .bind(&record.note)
                .bind(record.created_by)
                .bind(record.created_at)
                .bind(record.expires_at)
                .execute(&mut *tx)
                .await?;
                minted.push((secret, record));
            }
            tx.commit().await?;
        });
        Ok(minted)
    }

    /// Redeems `code` for `user_id` at `now`.
    pub async fn redeem_code(&self, code: &str, user_id: Uuid, now: i64) -> StoreResult<Redemption> {
        let hash = hash_api_key(code.trim());
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(pool.write_begin()).await?;
            let claimed: Option<(Uuid, i64)> = sqlx::query_as(
                "UPDATE redeem_codes SET redeemed_by = $1, redeemed_at = $2 WHERE code_hash = $3 \
                 AND redeemed_at IS NULL AND (expires_at IS NULL OR expires_at > $2) RETURNING id, amount_micros",
            )
            .bind(user_id)
            .bind(now)
            .bind(&hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((code_id, amount)) = claimed else {
                let state: Option<(Option<i64>, Option<i64>)> =
                    sqlx::query_as("SELECT redeemed_at, expires_at FROM redeem_codes WHERE code_hash = $1")
                        .bind(&hash)
                        .fetch_optional(&mut *tx)
                        .await?;
                tx.rollback().await?;
                let refusal = match state {
                    None => RedeemRefusal::Unknown,
                    Some((Some(_), _)) => RedeemRefusal::AlreadyUsed,
                    Some((None, _)) => RedeemRefusal::Expired,
                };
                return Ok(Redemption::Refused(refusal));
            };
            let state: Option<BalanceState> = sqlx::query_as(
                "UPDATE users SET balance_micros = balance_micros + $1, balance_version = balance_version + 1, \
                 updated_at = $2 WHERE id = $3 RETURNING balance_micros, balance_version",
            )
            .bind(amount)
            .bind(now)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(balance) = state else { return Err(StoreError::NotFound("user")) };
            let entry = LedgerEntry {
                id: Uuid::now_v7(),
                user_id,
                kind: "redeem".into(),
                amount_micros: amount,
                balance_after: balance.balance_micros,
                request_id: None,
                key_id: None,
                model: None,
                note: format!("code {code_id}"),
                actor_id: None,
                created_at: now,
            };
            sqlx::query(
                "INSERT INTO ledger (id, user_id, kind, amount_micros, balance_after, note, created_at) \
                 VALUES ($1, $2, 'redeem', $3, $4, $5, $6)",
            )
            .bind(entry.id)
            .bind(user_id)
            .bind(amount)
            .bind(balance.balance_micros)
            .bind(&entry.note)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Redemption::Credited { entry, balance })
        })
    }

    /// Minted codes, newest first.
    pub async fn list_redeem_codes(&self, limit: i64) -> StoreResult<Vec<RedeemCodeRecord>> {
        let sql = "SELECT id, prefix, amount_micros, note, created_by, created_at, expires_at, redeemed_by, redeemed_at \
                   FROM redeem_codes ORDER BY created_at DESC, id DESC LIMIT $1";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(limit.clamp(1, 1000)).fetch_all(pool).await?))
    }
}
