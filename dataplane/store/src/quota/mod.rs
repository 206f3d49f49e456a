//! Quota reservations: before a request is forwarded, its estimated cost is *held* against the
//! user's balance (and the key's spending cap, and the tenant's monthly budget); when it ends, the database settles the actual
//! cost and the hold is released. Holds live in Redis in production (atomic Lua scripts, shared
//! by every relay replica) and in process memory in `oblivious dev`; both implement exactly the
//! same rules and pass the same tests.
//!
//! The cache never decides a balance on its own: it holds the last balance read from the
//! database with its version, replaced only by a newer version (see `settle.lua`). Available
//! money is `cached balance - outstanding holds`; every settled charge is in the database
//! before its hold is released, and the release installs the balance that includes it, so the
//! available amount can only be *under*-stated, never over-stated (NOTES.md has the argument).

mod local;
mod redis;

use std::time::Duration;

use uuid::Uuid;

pub use self::local::LocalQuota;
pub use self::redis::RedisQuota;
use crate::{BalanceState, BudgetMonth};

/// How long a hold survives without being settled (its request's process died). Longer than
/// any request may take: streams are cut by the relay's idle timeouts well before this.
pub const HOLD_TTL: Duration = Duration::from_secs(3600);

/// A reservation for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub request_id: Uuid,
    pub user_id: Uuid,
    pub key_id: Option<Uuid>,
    /// The key's lifetime spending cap, when it has one.
    pub key_cap_micros: Option<i64>,
    pub amount_micros: i64,
    /// The tenant's budget for this month, when it has one.
    pub budget: Option<BudgetHold>,
}

/// The tenant budget a hold also counts against: like a key's cap, but per tenant and month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetHold {
    pub month: BudgetMonth,
    /// The month's limit.
    pub cap_micros: i64,
}

/// What a reservation attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Held; `available_after` is what is left for other requests.
    Held { available_after: i64 },
    /// Not enough balance once other holds are counted.
    InsufficientBalance { available: i64 },
    /// The key's cap would be exceeded.
    KeyCapReached { remaining: i64 },
    /// The cache has no balance for the user: load it (`sync`) and try again.
    NeedBalance,
    /// The cache has no spend for the capped key: load it (`sync`) and try again.
    NeedKeySpend,
    /// The tenant's monthly budget would be exceeded.
    BudgetExhausted { remaining: i64 },
    /// The cache has no spend for the tenant's budget month: load it and try again.
    NeedBudgetSpend,
}

/// Database state to fold into the cache: installed only when newer than what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Freshness {
    pub user_id: Option<Uuid>,
    pub balance: Option<BalanceState>,
    pub key_id: Option<Uuid>,
    pub key_spent_micros: Option<i64>,
    /// A budget month and the tenant's spend in it.
    pub budget: Option<(BudgetMonth, i64)>,
}

/// Redis or process memory.
#[derive(Clone)]
pub enum QuotaBook {
    /// Boxed: the Redis client is much larger than the in-process book.
    Redis(Box<RedisQuota>),
    Local(LocalQuota),
}

/// Redis did not answer; the caller decides how to degrade (see the relay's billing NOTES).
#[derive(Debug, thiserror::Error)]
#[error("quota store unavailable: {0}")]
pub struct QuotaUnavailable(pub String);

impl QuotaBook {
    /// Holds `hold.amount_micros` unless balance or cap forbid it. Holding the same request twice
    /// is a no-op that answers `Held`.
    pub async fn reserve(&self, hold: &Hold, now_ms: i64) -> Result<Reservation, QuotaUnavailable> {
        match self {
            QuotaBook::Redis(redis) => redis.reserve(hold, now_ms).await,
            QuotaBook::Local(local) => Ok(local.reserve(hold, now_ms)),
        }
    }

    /// Releases the hold of `request_id` (if any) and folds in `fresh`. Called after the
    /// database settled the request, or with no charge when it failed before producing anything.
    pub async fn settle(&self, request_id: Option<Uuid>, fresh: &Freshness) -> Result<(), QuotaUnavailable> {
        match self {
            QuotaBook::Redis(redis) => redis.settle(request_id, fresh).await,
            QuotaBook::Local(local) => {
                local.settle(request_id, fresh);
                Ok(())
            }
        }
    }

    /// The database could not record the charge of `hold`'s request: release the hold and deduct
    /// `cost_micros` from the cached balance (and add it to the key's and budget's spend) until the charge is
    /// replayed. See NOTES.md, "PostgreSQL down".
    pub async fn settle_provisionally(&self, hold: &Hold, cost_micros: i64) -> Result<(), QuotaUnavailable> {
        match self {
            QuotaBook::Redis(redis) => redis.settle_provisionally(hold, cost_micros).await,
            QuotaBook::Local(local) => {
                local.settle_provisionally(hold, cost_micros);
                Ok(())
            }
        }
    }

    /// Releases holds that expired unsettled; returns how many.
    pub async fn expire_holds(&self, now_ms: i64) -> Result<usize, QuotaUnavailable> {
        match self {
            QuotaBook::Redis(redis) => redis.expire_holds(now_ms).await,
            QuotaBook::Local(local) => Ok(local.expire_holds(now_ms)),
        }
    }

    /// Sum of outstanding holds of a user (diagnostics and tests).
    pub async fn held(&self, user_id: Uuid) -> Result<i64, QuotaUnavailable> {
        match self {
            QuotaBook::Redis(redis) => redis.held(user_id).await,
            QuotaBook::Local(local) => Ok(local.held(user_id)),
        }
    }
}
