//! API-key authentication with a short-lived cache, so the database is not on the hot path.
//!
//! Cache policy: a found key is trusted for `ttl` (so a revocation takes effect within `ttl`);
//! unknown keys are not cached (a key created a second ago must work at once). When the store is
//! unreachable, a cached key stays valid for up to `STALE_GRACE` past its TTL: known clients keep
//! working through a short database outage, unknown ones are refused.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use oblivious_core::{ApiError, ErrorKind};
use oblivious_store::{ApiKeyRecord, Store, UserRecord, hash_api_key, key_prefix};
use subtle::ConstantTimeEq;
use uuid::Uuid;

const STALE_GRACE: Duration = Duration::from_secs(600);
/// After the store failed, cached keys are served without asking it again for this long, so an
/// outage costs one timeout now and then rather than one per request.
const STORE_RETRY_AFTER: Duration = Duration::from_secs(2);
/// Cache entries beyond this are dropped wholesale (a flood of distinct valid keys is unlikely;
/// this only bounds memory).
const MAX_CACHED_KEYS: usize = 100_000;

/// Who is calling, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// None for the bootstrap key, which has no row.
    pub key_id: Option<Uuid>,
    /// Visible prefix of the key, for logs.
    pub key_prefix: String,
    /// Allowed public models; empty means all.
    pub models: Vec<String>,
    pub is_admin: bool,
    /// May name a canary lane itself (admins always may).
    pub lane_select: bool,
    pub group: String,
    /// The account billed for this caller's requests; None for operator keys (the bootstrap key
    /// and keys made with `oblivious keys create`), which are not metered.
    pub user_id: Option<Uuid>,
    /// The key's own limits.
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    /// The key's lifetime spending cap, in micro-units.
    pub max_spend_micros: Option<i64>,
    /// An internal service (chat, RAG) presenting `OBLIVIOUS_INTERNAL_TOKEN`.
    pub internal: bool,
}

impl Principal {
    /// The bootstrap administrator: every model, no account, no limits.
    pub fn bootstrap(key_prefix: &str) -> Self {
        Principal {
            key_id: None,
            key_prefix: key_prefix.to_string(),
            models: Vec::new(),
            is_admin: true,
            lane_select: true,
            group: "default".into(),
            user_id: None,
            rpm: None,
            tpm: None,
            max_spend_micros: None,
            internal: false,
        }
    }

    fn from_record(record: &ApiKeyRecord) -> Self {
        let positive = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok()).filter(|n| *n > 0);
        Principal {
            key_id: Some(record.id),
            key_prefix: record.prefix.clone(),
            models: record.models.clone(),
            is_admin: record.is_admin,
            lane_select: record.lane_select,
            group: record.group.clone(),
            user_id: record.user_id,
            rpm: positive(record.rpm),
            tpm: positive(record.tpm),
            max_spend_micros: record.max_spend_micros,
            internal: false,
        }
    }

    pub fn may_use_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }
}

struct CachedKey {
    record: ApiKeyRecord,
    fetched: Instant,
}

/// Header naming the user an internal service (chat, RAG) calls on behalf of. Honoured only
/// together with the internal service token, so a client cannot claim another user's identity
/// (and the edge strips it from every request from outside).
pub use oblivious_core::edge::USER_HEADER;

pub struct KeyAuthenticator {
    store: Store,
    bootstrap_hash: Option<String>,
    /// Hash of the token internal services present (`OBLIVIOUS_INTERNAL_TOKEN`).
    internal_hash: Option<String>,
    users: RwLock<HashMap<Uuid, (UserRecord, Instant)>>,
    ttl: Duration,
    cache: RwLock<HashMap<String, CachedKey>>,
    /// Until when the store is assumed down (set by an unavailable error).
    store_down_until: RwLock<Option<Instant>>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

impl KeyAuthenticator {
    pub fn new(store: Store, bootstrap_key: Option<String>, internal_token: Option<String>, ttl: Duration) -> Self {
        let hash_of = |secret: Option<String>| secret.filter(|k| !k.is_empty()).map(|k| hash_api_key(&k));
        KeyAuthenticator {
            store,
            bootstrap_hash: hash_of(bootstrap_key),
            internal_hash: hash_of(internal_token),
            users: RwLock::new(HashMap::new()),
            ttl,
            cache: RwLock::new(HashMap::new()),
            store_down_until: RwLock::new(None),
        }
    }

    /// Authenticates the key carried by a request in any dialect's header (or Gemini's `?key=`).
    pub async fn authenticate(&self, headers: &HeaderMap, query_key: Option<&str>) -> Result<Principal, ApiError> {
        let secret = extract_key(headers, query_key).ok_or_else(|| {
            ApiError::new(
                ErrorKind::Authentication,
                "You didn't provide an API key. Send it as `Authorization: Bearer <key>` (or x-api-key / x-goog-api-key).",
            )
            .with_code("missing_api_key")
        })?;
        let hash = hash_api_key(secret);
        let matches = |expected: &Option<String>| {
            expected.as_ref().is_some_and(|e| bool::from(e.as_bytes().ct_eq(hash.as_bytes())))
        };
        if matches(&self.bootstrap_hash) {
            return Ok(Principal::bootstrap(key_prefix(secret)));
        }
        if matches(&self.internal_hash) {
            return self.internal_principal(headers).await;
        }
        let record = self.lookup(secret, &hash).await?;
        Ok(Principal::from_record(&record))
    }

    /// An internal service calling for the user named in `USER_HEADER` (billed to that user, with
    /// their group), or for nobody (unmetered, like an operator key, but never an admin).
    async fn internal_principal(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let service = Principal {
            is_admin: false,
            lane_select: false,
            internal: true,
            key_prefix: "internal".into(),
            ..Principal::bootstrap("internal")
        };
        let Some(value) = headers.get(USER_HEADER) else { return Ok(service) };
        let user_id =
            value.to_str().ok().and_then(|v| Uuid::parse_str(v.trim()).ok()).ok_or_else(|| {
                ApiError::new(ErrorKind::Authentication, format!("`{USER_HEADER}` is not a user id."))
            })?;
        let user = self.user(user_id).await?;
        if user.disabled {
            return Err(
                ApiError::new(ErrorKind::PermissionDenied, "This account is disabled.").with_code("account_disabled")
            );
        }
        Ok(Principal { user_id: Some(user.id), group: user.group, ..service })
    }

    /// A user record, cached like keys (a changed group applies within the TTL).
    async fn user(&self, id: Uuid) -> Result<UserRecord, ApiError> {
        let now = Instant::now();
        if let Some((user, fetched)) = self.users.read().unwrap_or_else(|p| p.into_inner()).get(&id)
            && now.duration_since(*fetched) < self.ttl
        {
            return Ok(user.clone());
        }
        match self.store.get_user(id).await {
            Ok(Some(user)) => {
                let mut users = self.users.write().unwrap_or_else(|p| p.into_inner());
                if users.len() >= MAX_CACHED_KEYS {
                    users.clear();
                }
                users.insert(id, (user.clone(), now));
                Ok(user)
            }
            Ok(None) => Err(ApiError::new(ErrorKind::Authentication, "Unknown user.").with_code("invalid_user")),
            Err(error) => {
                let cached = self.users.read().unwrap_or_else(|p| p.into_inner()).get(&id).map(|(u, _)| u.clone());
                tracing::warn!(%error, "user store unreachable");
                cached.ok_or_else(auth_unavailable)
            }
        }
    }

    async fn lookup(&self, secret: &str, hash: &str) -> Result<ApiKeyRecord, ApiError> {
        let now = Instant::now();
        let stale = {
            let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
            match cache.get(hash) {
                Some(entry) if now.duration_since(entry.fetched) < self.ttl => {
                    return still_valid(&entry.record);
                }
                Some(entry) if now.duration_since(entry.fetched) < self.ttl + STALE_GRACE => Some(entry.record.clone()),
                _ => None,
            }
        };
        let store_down =
            self.store_down_until.read().unwrap_or_else(|p| p.into_inner()).is_some_and(|until| now < until);
        if let (true, Some(record)) = (store_down, &stale) {
            return still_valid(record);
        }
        match self.store.find_active_api_key(secret, now_ms()).await {
            Ok(Some(record)) => {
                let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
                if cache.len() >= MAX_CACHED_KEYS {
                    cache.clear();
                }
                cache.insert(hash.to_string(), CachedKey { record: record.clone(), fetched: now });
                Ok(record)
            }
            Ok(None) => {
                self.cache.write().unwrap_or_else(|p| p.into_inner()).remove(hash);
                Err(invalid_key())
            }
            Err(error) => {
                if error.is_unavailable() {
                    *self.store_down_until.write().unwrap_or_else(|p| p.into_inner()) = Some(now + STORE_RETRY_AFTER);
                }
                match stale {
                    Some(record) => {
                        tracing::warn!(%error, "key store unreachable; serving a cached key");
                        still_valid(&record)
                    }
                    None => {
                        tracing::error!(%error, "key store unreachable");
                        Err(auth_unavailable())
                    }
                }
            }
        }
    }
}

fn still_valid(record: &ApiKeyRecord) -> Result<ApiKeyRecord, ApiError> {
    if record.expires_at.is_some_and(|at| at <= now_ms()) || record.revoked_at.is_some() {
        return Err(invalid_key());
    }
    Ok(record.clone())
}

fn auth_unavailable() -> ApiError {
    ApiError::new(ErrorKind::Unavailable, "Authentication is temporarily unavailable. Retry shortly.")
}

fn invalid_key() -> ApiError {
    ApiError::new(ErrorKind::Authentication, "Incorrect API key provided.").with_code("invalid_api_key")
}

/// The key from `Authorization: Bearer`, `x-api-key` (Anthropic), `x-goog-api-key` or `?key=` (Gemini).
fn extract_key<'a>(headers: &'a HeaderMap, query_key: Option<&'a str>) -> Option<&'a str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    header("authorization")
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .or_else(|| header("x-api-key"))
        .or_else(|| header("x-goog-api-key"))
        .or(query_key.filter(|k| !k.is_empty()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn keys_are_found_in_every_dialects_header() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer sk-a"));
        assert_eq!(extract_key(&h, None), Some("sk-a"));
        let mut h = HeaderMap::new();
        h.insert("x-api-key", HeaderValue::from_static("sk-b"));
        assert_eq!(extract_key(&h, None), Some("sk-b"));
        let mut h = HeaderMap::new();
        h.insert("x-goog-api-key", HeaderValue::from_static("sk-c"));
        assert_eq!(extract_key(&h, None), Some("sk-c"));
        assert_eq!(extract_key(&HeaderMap::new(), Some("sk-d")), Some("sk-d"));
        assert_eq!(extract_key(&HeaderMap::new(), Some("")), None);
    }
}
