//! API keys: only a SHA-256 hash of the secret is stored, with a short visible prefix so people
//! can tell keys apart in listings and logs. The secret is returned once, at creation.

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use uuid::Uuid;

use crate::backend::on_pool;
use crate::{Store, StoreError, StoreResult};

/// Every key we mint starts with this, so secret scanners and people recognise it.
const KEY_SCHEME: &str = "sk-obl-";
/// Random characters after the scheme (alphanumeric: ~238 bits).
const KEY_RANDOM_LEN: usize = 40;
/// Characters of a key shown in listings and logs.
const PREFIX_LEN: usize = 14;

/// A stored key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ApiKeyRecord {
    pub id: Uuid,
    pub name: String,
    /// The first characters of the secret, for recognising it.
    pub prefix: String,
    /// Public models the key may use; empty means all.
    #[sqlx(json)]
    pub models: Vec<String>,
    pub is_admin: bool,
    /// May name a canary lane itself (`x-oblivious-lane`): set on the key, or inherited from
    /// its owner when looked up for authentication.
    pub lane_select: bool,
    /// Owner, when the key belongs to a user account.
    pub user_id: Option<Uuid>,
    /// User group selecting channels and prices.
    #[sqlx(rename = "group_name")]
    pub group: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Requests per minute allowed to this key (None: no key-level limit).
    pub rpm: Option<i64>,
    /// Tokens per minute allowed to this key.
    pub tpm: Option<i64>,
    /// Most this key may ever spend, in micro-units (None: bounded only by the owner's balance).
    pub max_spend_micros: Option<i64>,
    /// What this key has spent so far (settled charges).
    pub spent_micros: i64,
}

/// What a caller decides when creating a key.
#[derive(Debug, Clone, Default)]
pub struct NewApiKey {
    pub name: String,
    pub models: Vec<String>,
    /// Milliseconds since the epoch; `None` never expires.
    pub expires_at: Option<i64>,
    pub is_admin: bool,
    pub lane_select: bool,
    pub user_id: Option<Uuid>,
    /// Defaults to `default`.
    pub group: Option<String>,
    pub rpm: Option<i64>,
    pub tpm: Option<i64>,
    pub max_spend_micros: Option<i64>,
}

/// A freshly created key: the only time its secret exists outside the client.
pub struct CreatedApiKey {
    pub record: ApiKeyRecord,
    pub secret: String,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey").field("record", &self.record).field("secret", &"<redacted>").finish()
    }
}

/// A new random secret.
pub fn generate_api_key() -> String {
    let random: String = rand::rng().sample_iter(&Alphanumeric).take(KEY_RANDOM_LEN).map(char::from).collect();
    format!("{KEY_SCHEME}{random}")
}

/// The stored form of a secret (hex SHA-256). Keys are long random strings, so a fast hash is
/// enough; passwords, which are not, use Argon2 elsewhere.
pub fn hash_api_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The visible prefix of a secret.
pub fn key_prefix(secret: &str) -> &str {
    let end = secret.char_indices().nth(PREFIX_LEN).map_or(secret.len(), |(i, _)| i);
    &secret[..end]
}

const COLUMNS: &str = "id, name, prefix, models, is_admin, lane_select, user_id, group_name, created_at, expires_at, revoked_at, \
     rpm, tpm, max_spend_micros, spent_micros";

impl Store {
    /// Creates a key and returns its secret once.
    pub async fn create_api_key(&self, new: NewApiKey) -> StoreResult<CreatedApiKey> {
        let secret = generate_api_key();
        let record = ApiKeyRecord {
            id: Uuid::now_v7(),
            name: new.name,
            prefix: key_prefix(&secret).to_string(),
            models: new.models,
            is_admin: new.is_admin,
            lane_select: new.lane_select,
            user_id: new.user_id,
            group: new.group.unwrap_or_else(|| "default".to_string()),
            created_at: crate::now_ms(),
            expires_at: new.expires_at,
            revoked_at: None,
            rpm: new.rpm,
            tpm: new.tpm,
            max_spend_micros: new.max_spend_micros,
            spent_micros: 0,
        };
        let sql = "INSERT INTO api_keys (id, name, prefix, key_hash, models, is_admin, user_id, group_name, created_at, \
                   expires_at, rpm, tpm, max_spend_micros, lane_select) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(record.id)
            .bind(&record.name)
            .bind(&record.prefix)
            .bind(hash_api_key(&secret))
            .bind(Json(&record.models))
            .bind(record.is_admin)
            .bind(record.user_id)
            .bind(&record.group)
            .bind(record.created_at)
            .bind(record.expires_at)
            .bind(record.rpm)
            .bind(record.tpm)
            .bind(record.max_spend_micros)
            .bind(record.lane_select)
            .execute(pool)
            .await
            .map(drop)?);
        Ok(CreatedApiKey { record, secret })
    }

    /// The key with this secret if it exists, is not revoked, has not expired at `now_ms`, and
    /// its owner (if any) exists and is not disabled. The group is the owner's current group, so
    /// moving a user to another group applies to their existing keys.
    pub async fn find_active_api_key(&self, secret: &str, now_ms: i64) -> StoreResult<Option<ApiKeyRecord>> {
        let sql = "SELECT k.id, k.name, k.prefix, k.models, k.is_admin, \
             (k.lane_select OR COALESCE(u.lane_select, k.lane_select)) AS lane_select, k.user_id, \
             COALESCE(u.group_name, k.group_name) AS group_name, k.created_at, k.expires_at, k.revoked_at, \
             k.rpm, k.tpm, k.max_spend_micros, k.spent_micros \
             FROM api_keys k LEFT JOIN users u ON u.id = k.user_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2) \
             AND (k.user_id IS NULL OR (u.id IS NOT NULL AND NOT u.disabled))";
        let hash = hash_api_key(secret);
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(&hash).bind(now_ms).fetch_optional(pool).await?))
    }

    /// What a key has spent so far (settled charges), or None for an unknown key.
    pub async fn api_key_spent(&self, key_id: Uuid) -> StoreResult<Option<i64>> {
        let sql = "SELECT spent_micros FROM api_keys WHERE id = $1";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(key_id).fetch_optional(pool).await?))
    }

    /// Every key, newest first.
    pub async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_at DESC, id DESC");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?))
    }

    /// The keys of one user, newest first.
    pub async fn list_user_api_keys(&self, user_id: Uuid) -> StoreResult<Vec<ApiKeyRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC, id DESC");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await?))
    }

    /// Revokes a key only if `user_id` owns it. False when it does not exist, belongs to someone
    /// else or is already revoked — callers answer 404 in every case, so ids don't leak.
    pub async fn revoke_user_api_key(&self, user_id: Uuid, key_id: Uuid, now_ms: i64) -> StoreResult<bool> {
        let sql = "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(now_ms).bind(key_id).bind(user_id).execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    /// Revokes the active key whose id or visible prefix is `id_or_prefix`. Returns false when
    /// no active key matches; a prefix matching several keys is refused rather than guessed.
    pub async fn revoke_api_key(&self, id_or_prefix: &str, now_ms: i64) -> StoreResult<bool> {
        let matches: Vec<Uuid> = match Uuid::parse_str(id_or_prefix) {
            Ok(id) => vec![id],
            Err(_) => {
                let sql = "SELECT id FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL";
                on_pool!(self, pool => sqlx::query_scalar(sql).bind(id_or_prefix).fetch_all(pool).await?)
            }
        };
        let [id] = matches.as_slice() else {
            if matches.is_empty() {
                return Ok(false);
            }
            return Err(StoreError::Invalid(format!("`{id_or_prefix}` matches {} keys; revoke by id", matches.len())));
        };
        let sql = "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(now_ms).bind(id).execute(pool).await?.rows_affected());
        Ok(done == 1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_long_random_and_show_only_their_prefix() {
        let a = generate_api_key();
        let b = generate_api_key();
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_SCHEME));
        assert_eq!(a.len(), KEY_SCHEME.len() + KEY_RANDOM_LEN);
        assert_eq!(key_prefix(&a).len(), PREFIX_LEN);
        assert_eq!(key_prefix("short"), "short");
        assert_eq!(hash_api_key(&a).len(), 64);
        assert_ne!(hash_api_key(&a), hash_api_key(&b));
    }

    #[test]
    fn a_created_key_never_prints_its_secret() {
        let created = CreatedApiKey {
            record: ApiKeyRecord {
                id: Uuid::nil(),
                name: "n".into(),
                prefix: "sk-obl-abc".into(),
                models: vec![],
                is_admin: false,
                lane_select: false,
                user_id: None,
                group: "default".into(),
                created_at: 0,
                expires_at: None,
                revoked_at: None,
                rpm: None,
                tpm: None,
                max_spend_micros: None,
                spent_micros: 0,
            },
            secret: "sk-obl-supersecret".into(),
        };
        assert!(!format!("{created:?}").contains("supersecret"));
    }
}
