//! Webhooks and their durable outbox (`webhook_deliveries`).
//!
//! Queuing an event writes one delivery row per matching enabled webhook — the event owner's
//! hooks and every platform hook (`user_id IS NULL`) — in one transaction, idempotently per
//! (webhook, event id). Workers claim due rows in batches (`FOR UPDATE SKIP LOCKED` in
//! PostgreSQL; SQLite's single writer makes the statement atomic by itself), which bumps
//! `attempts`; the claimer's result is written only while that attempt still holds (fencing), so
//! a worker whose lease ran out cannot overwrite the next one's result.

use std::fmt;

use sqlx::types::Json;
use uuid::Uuid;

use crate::backend::{Backend, WriteTransaction, on_pool};
use crate::{Store, StoreResult};

/// Delivery states.
pub mod status {
    /// Waiting for `next_attempt_at`.
    pub const PENDING: &str = "pending";
    /// Claimed by a worker until `lease_until`.
    pub const DELIVERING: &str = "delivering";
    pub const DELIVERED: &str = "delivered";
    /// Out of attempts.
    pub const FAILED: &str = "failed";
}

/// A webhook endpoint. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WebhookRecord {
    pub id: Uuid,
    /// The owner, whose events it receives; `None` for a platform hook (every user's events).
    pub user_id: Option<Uuid>,
    pub url: String,
    /// `whsec_…`: signs every delivery. Shown to the owner once, at creation.
    pub secret: String,
    #[sqlx(json)]
    pub event_types: Vec<String>,
    pub description: String,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl fmt::Debug for WebhookRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("secret", &"<redacted>")
            .field("event_types", &self.event_types)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// Whose webhooks an operation may see: one user's, or the platform's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOwner {
    User(Uuid),
    Platform,
}

impl WebhookOwner {
    fn user_id(self) -> Option<Uuid> {
        match self {
            WebhookOwner::User(id) => Some(id),
            WebhookOwner::Platform => None,
        }
    }
}

/// What may change on a webhook; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookUpdate {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// An event to queue: `payload` is the exact JSON body every delivery of it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    pub id: Uuid,
    pub event_type: String,
    /// Whose event it is: that user's hooks get it (and every platform hook).
    pub user_id: Option<Uuid>,
    pub payload: String,
    pub created_at: i64,
    /// Attempts before a delivery of it fails for good.
    pub max_attempts: i32,
}

/// One event for one webhook, and how sending it went so far.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub user_id: Option<Uuid>,
    pub payload: String,
    pub status: String,
    /// Attempts started (a claim counts one).
    pub attempts: i32,
    pub max_attempts: i32,
    pub next_attempt_at: i64,
    pub last_status_code: Option<i32>,
    /// A short reason for the last failure; never a URL, header or secret.
    pub last_error: Option<String>,
    pub last_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A delivery a worker claimed, with what it needs to send it. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub payload: String,
    /// This attempt's number, the fencing token of the claim.
    pub attempts: i32,
    pub max_attempts: i32,
    pub url: String,
    pub secret: String,
    /// The hook's owner; `None` for a platform hook (trusted: any address).
    pub owner_id: Option<Uuid>,
}

impl fmt::Debug for ClaimedDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimedDelivery")
            .field("id", &self.id)
            .field("webhook_id", &self.webhook_id)
            .field("event_id", &self.event_id)
            .field("attempts", &self.attempts)
            .field("secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered {
        status_code: i32,
    },
    /// Tried again at `next_attempt_at`.
    Retry {
        status_code: Option<i32>,
        error: String,
        next_attempt_at: i64,
    },
    /// Out of attempts.
    Failed {
        status_code: Option<i32>,
        error: String,
    },
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// Queued again for one more attempt, due now.
    Queued(Box<WebhookDelivery>),
    /// It has not ended yet (pending or being delivered): nothing to replay.
    NotEnded,
    NotFound,
}

const HOOK_COLUMNS: &str = "id, user_id, url, secret, event_types, description, enabled, created_at, updated_at";

const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event_type, user_id, payload, status, attempts, max_attempts, \
     next_attempt_at, last_status_code, last_error, last_attempt_at, delivered_at, created_at, updated_at";

/// The owner's hooks, the owner (NULL for the platform) bound at `param`.
fn owned_by(param: &str) -> String {
    format!("(user_id = {param} OR (user_id IS NULL AND {param} IS NULL))")
}

/// Inserts the delivery of an event to hook `$2` if the hook is still there and enabled. In
/// PostgreSQL the hook row is locked (key share) so a concurrent delete waits, then cascades.
fn insert_delivery_sql(lock: &str) -> String {
    format!(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, user_id, payload, status, attempts, \
         max_attempts, next_attempt_at, created_at, updated_at) \
         SELECT $1, id, $3, $4, $5, $6, 'pending', 0, $7, $8, $8, $8 FROM webhooks WHERE id = $2 AND enabled{lock} \
         ON CONFLICT (webhook_id, event_id) DO NOTHING"
    )
}

impl Store {
    /// Stores a new webhook (its id, secret and times chosen by the caller).
    pub async fn create_webhook(&self, hook: &WebhookRecord) -> StoreResult<()> {
        let sql = format!("INSERT INTO webhooks ({HOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        on_pool!(self, pool => sqlx::query(&sql)
            .bind(hook.id)
            .bind(hook.user_id)
            .bind(&hook.url)
            .bind(&hook.secret)
            .bind(Json(&hook.event_types))
            .bind(&hook.description)
            .bind(hook.enabled)
            .bind(hook.created_at)
            .bind(hook.updated_at)
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }

    /// The owner's webhooks, oldest first.
    pub async fn webhooks(&self, owner: WebhookOwner) -> StoreResult<Vec<WebhookRecord>> {
        let sql = format!("SELECT {HOOK_COLUMNS} FROM webhooks WHERE {} ORDER BY created_at, id", owned_by("$1"));
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(owner.user_id()).fetch_all(pool).await?))
    }

    /// The owner's webhook `id`; another owner's is `None`, as an unknown one is.
    pub async fn webhook(&self, owner: WebhookOwner, id: Uuid) -> StoreResult<Option<WebhookRecord>> {
        let sql = format!("SELECT {HOOK_COLUMNS} FROM webhooks WHERE id = $1 AND {}", owned_by("$2"));
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(owner.user_id()).fetch_optional(pool).await?))
    }

    /// Any webhook by id (administrators).
    pub async fn webhook_by_id(&self, id: Uuid) -> StoreResult<Option<WebhookRecord>> {
        let sql = format!("SELECT {HOOK_COLUMNS} FROM webhooks WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?))
    }

    /// Changes the owner's webhook; `None` when it is not theirs.
    pub async fn update_webhook(
        &self,
        owner: WebhookOwner,
        id: Uuid,
        update: &WebhookUpdate,
        now: i64,
    ) -> StoreResult<Option<WebhookRecord>> {
        let sql = format!(
            "UPDATE webhooks SET url = COALESCE($3, url), event_types = COALESCE($4, event_types), \
             description = COALESCE($5, description), enabled = COALESCE($6, enabled), updated_at = $7 \
             WHERE id = $1 AND {} RETURNING {HOOK_COLUMNS}",
            owned_by("$2")
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(id)
            .bind(owner.user_id())
            .bind(&update.url)
            .bind(update.event_types.as_ref().map(Json))
            .bind(&update.description)
            .bind(update.enabled)
            .bind(now)
            .fetch_optional(pool)
            .await?))
    }

    /// Deletes the owner's webhook with its deliveries; false when it is not theirs.
    pub async fn delete_webhook(&self, owner: WebhookOwner, id: Uuid) -> StoreResult<bool> {
        let sql = format!("DELETE FROM webhooks WHERE id = $1 AND {}", owned_by("$2"));
        let deleted = on_pool!(self, pool => sqlx::query(&sql)
            .bind(id)
            .bind(owner.user_id())
            .execute(pool)
            .await?
            .rows_affected());
        Ok(deleted == 1)
    }

    /// Queues `event` for every enabled webhook that subscribes to its type: its user's and the
    /// platform's. Idempotent per (webhook, event id). Returns how many deliveries were queued.
    pub async fn enqueue_webhook_event(&self, event: &WebhookEvent) -> StoreResult<usize> {
        // Most events match no hook: find out with a plain read before taking a write lock.
        let sql = "SELECT id, event_types FROM webhooks WHERE enabled AND (user_id = $1 OR user_id IS NULL)";
        let hooks: Vec<(Uuid, Json<Vec<String>>)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(event.user_id).fetch_all(pool).await?);
        let matching: Vec<Uuid> =
            hooks.into_iter().filter(|(_, Json(types))| types.contains(&event.event_type)).map(|(id, _)| id).collect();
        self.insert_deliveries(&matching, event).await
    }

    /// Queues `event` for the one webhook `webhook_id` whatever it subscribes to (a ping).
    /// Returns false when the hook is gone or disabled.
    pub async fn enqueue_webhook_delivery(&self, webhook_id: Uuid, event: &WebhookEvent) -> StoreResult<bool> {
        Ok(self.insert_deliveries(&[webhook_id], event).await? == 1)
    }

    async fn insert_deliveries(&self, hooks: &[Uuid], event: &WebhookEvent) -> StoreResult<usize> {
        if hooks.is_empty() {
            return Ok(0);
        }
        let mut queued = 0;
        macro_rules! insert_all {
            ($pool:expr, $lock:expr) => {{
                let sql = insert_delivery_sql($lock);
                let mut tx = $pool.begin_with($pool.write_begin()).await?;
                for hook in hooks {
                    queued += sqlx::query(&sql)
                        .bind(Uuid::now_v7())
                        .bind(hook)
                        .bind(event.id)
                        .bind(&event.event_type)
                        .bind(event.user_id)
                        .bind(&event.payload)
                        .bind(event.max_attempts)
                        .bind(event.created_at)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
            }};
        }
        match &self.backend {
            Backend::Postgres(pool) => insert_all!(pool, " FOR KEY SHARE"),
            Backend::Sqlite(pool) => insert_all!(pool, ""),
        }
        Ok(usize::try_from(queued).unwrap_or(usize::MAX))
    }

    /// Claims up to `limit` deliveries that are due at `now` (pending, or delivering under a
    /// lease that ran out: their worker died) of enabled hooks, oldest due first; each claim
    /// holds until `lease_until` and counts one attempt.
    pub async fn claim_webhook_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let pick = "SELECT id FROM webhook_deliveries \
                    WHERE ((status = 'pending' AND next_attempt_at <= $2) OR (status = 'delivering' AND lease_until < $2)) \
                    AND webhook_id IN (SELECT id FROM webhooks WHERE enabled) \
                    ORDER BY next_attempt_at LIMIT $3";
        let claim = |lock: &str| {
            format!(
                "UPDATE webhook_deliveries SET status = 'delivering', attempts = attempts + 1, lease_until = $1, \
                 last_attempt_at = $2, updated_at = $2 WHERE id IN ({pick}{lock}) RETURNING id"
            )
        };
        let ids: Vec<Uuid> = match &self.backend {
            Backend::Postgres(pool) => {
                sqlx::query_scalar(&claim(" FOR UPDATE SKIP LOCKED"))
                    .bind(lease_until)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
            // One writer at a time: the statement is atomic by itself.
            Backend::Sqlite(pool) => {
                sqlx::query_scalar(&claim("")).bind(lease_until).bind(now).bind(limit).fetch_all(pool).await?
            }
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_pool!(self, pool => {
            let mut query = sqlx::QueryBuilder::new(
                "SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.payload, d.attempts, d.max_attempts, \
                 w.url, w.secret, w.user_id AS owner_id \
                 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id IN (",
            );
            let mut list = query.separated(", ");
            for id in &ids {
                list.push_bind(*id);
            }
            query.push(") ORDER BY d.next_attempt_at, d.id");
            query.build_query_as().fetch_all(pool).await?
        }))
    }

    /// Records how the claimed attempt `attempt` of delivery `id` ended. False when the claim
    /// was lost (another worker took the delivery over): nothing changed.
    pub async fn record_webhook_attempt(
        &self,
        id: Uuid,
        attempt: i32,
        outcome: &AttemptOutcome,
        now: i64,
    ) -> StoreResult<bool> {
        let (status, code, error, next, delivered_at) = match outcome {
            AttemptOutcome::Delivered { status_code } => (status::DELIVERED, Some(*status_code), None, None, Some(now)),
            AttemptOutcome::Retry { status_code, error, next_attempt_at } => {
                (status::PENDING, *status_code, Some(error.as_str()), Some(*next_attempt_at), None)
            }
            AttemptOutcome::Failed { status_code, error } => {
                (status::FAILED, *status_code, Some(error.as_str()), None, None)
            }
        };
        let sql = "UPDATE webhook_deliveries SET status = $3, last_status_code = $4, last_error = $5, \
                   next_attempt_at = COALESCE($6, next_attempt_at), delivered_at = COALESCE($7, delivered_at), \
                   lease_until = 0, updated_at = $8 \
                   WHERE id = $1 AND attempts = $2 AND status = 'delivering'";
        let changed = on_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(attempt)
            .bind(status)
            .bind(code)
            .bind(error)
            .bind(next)
            .bind(delivered_at)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    /// When the next pending delivery of an enabled hook is due, if any.
    pub async fn next_webhook_delivery_due(&self) -> StoreResult<Option<i64>> {
        let sql = "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending' \
                   AND webhook_id IN (SELECT id FROM webhooks WHERE enabled)";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?))
    }

    /// A hook's deliveries, newest first: up to `limit`, created before delivery `before` when given.
    pub async fn webhook_deliveries(
        &self,
        webhook_id: Uuid,
        limit: i64,
        before: Option<Uuid>,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND ($2 IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as(&sql).bind(webhook_id).bind(before).bind(limit).fetch_all(pool).await?),
        )
    }

    pub async fn webhook_delivery(&self, id: Uuid) -> StoreResult<Option<WebhookDelivery>> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?))
    }

    /// Queues an ended delivery (delivered or failed) again, due at `now`, for exactly one more
    /// attempt with the same event id and body.
    pub async fn replay_webhook_delivery(&self, id: Uuid, now: i64) -> StoreResult<Replay> {
        let sql = format!(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $2, max_attempts = attempts + 1, \
             lease_until = 0, updated_at = $2 WHERE id = $1 AND status IN ('delivered', 'failed') \
             RETURNING {DELIVERY_COLUMNS}"
        );
        let queued: Option<WebhookDelivery> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(now).fetch_optional(pool).await?);
        Ok(match queued {
            Some(delivery) => Replay::Queued(Box::new(delivery)),
            None if self.webhook_delivery(id).await?.is_some() => Replay::NotEnded,
            None => Replay::NotFound,
        })
    }

    /// Deletes ended deliveries last changed before `before` (retention). Returns how many.
    pub async fn prune_webhook_deliveries(&self, before: i64) -> StoreResult<u64> {
        let sql = "DELETE FROM webhook_deliveries WHERE status IN ('delivered', 'failed') AND updated_at < $1";
        Ok(on_pool!(self, pool => sqlx::query(sql).bind(before).execute(pool).await?.rows_affected()))
    }
}
