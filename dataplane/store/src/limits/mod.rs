//! Rate limits with GCRA (the generic cell rate algorithm): each limit is one number, the
//! *theoretical arrival time*, so a check is O(1) and exact — no window edges where twice the
//! limit slips through. Redis runs it for every replica at once (`gcra.lua`); the in-process
//! limiter runs the same arithmetic for `oblivious dev` and as the fallback while Redis is down.
//!
//! A limit of `L` per period lets `L` units through at once and then one per `period / L`.
//! Several limits (key, user, group x model) are checked together, all or nothing, so a request
//! refused by one limit consumes nothing from the others.

mod local;
mod redis;

use std::time::Duration;

pub use self::local::LocalLimiter;
pub use self::redis::RedisLimiter;

/// One limit to check: `limit` units per `period`, this request costing `cost` units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitCheck {
    /// Stable name of the limit, e.g. `key:<id>:rpm`.
    pub name: String,
    pub limit: u64,
    pub period: Duration,
    pub cost: u64,
}

impl LimitCheck {
    /// A per-minute limit.
    pub fn per_minute(name: String, limit: u64, cost: u64) -> Self {
        LimitCheck { name, limit, period: Duration::from_secs(60), cost }
    }

    /// Microseconds between two units (at least one, so huge limits stay well-defined).
    fn interval_us(&self) -> i64 {
        (self.period.as_micros() as i64 / self.limit.max(1) as i64).max(1)
    }

    fn period_us(&self) -> i64 {
        self.period.as_micros() as i64
    }
}

/// The verdict of one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitState {
    pub allowed: bool,
    /// Units still available right after this request.
    pub remaining: u64,
    /// Until the limit is fully replenished.
    pub reset: Duration,
    /// When refused: how long until this request would pass; `None` if it never can (its cost
    /// exceeds the whole limit).
    pub retry_after: Option<Duration>,
}

/// The result of checking several limits together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitVerdict {
    /// One state per check, in order.
    pub states: Vec<LimitState>,
}

impl LimitVerdict {
    pub fn allowed(&self) -> bool {
        self.states.iter().all(|s| s.allowed)
    }
}

/// Redis did not answer.
#[derive(Debug, thiserror::Error)]
#[error("rate limiter unavailable: {0}")]
pub struct LimiterUnavailable(pub String);

/// Redis or process memory.
#[derive(Clone)]
pub enum RateLimiter {
    /// Boxed: the Redis client is much larger than the in-process book.
    Redis(Box<RedisLimiter>),
    Local(LocalLimiter),
}

impl RateLimiter {
    /// Checks every limit and, only when all allow, charges them all.
    pub async fn check(&self, checks: &[LimitCheck], now_us: i64) -> Result<LimitVerdict, LimiterUnavailable> {
        if checks.is_empty() {
            return Ok(LimitVerdict { states: Vec::new() });
        }
        match self {
            RateLimiter::Redis(redis) => redis.check(checks, now_us).await,
            RateLimiter::Local(local) => Ok(local.check(checks, now_us)),
        }
    }

    /// Adds `cost` units (negative: gives them back) to a limit without refusing anything.
    pub async fn adjust(&self, check: &LimitCheck, cost: i64, now_us: i64) -> Result<(), LimiterUnavailable> {
        match self {
            RateLimiter::Redis(redis) => redis.adjust(check, cost, now_us).await,
            RateLimiter::Local(local) => {
                local.adjust(check, cost, now_us);
                Ok(())
            }
        }
    }
}

/// The GCRA step shared by the in-process limiter and the tests: given the stored arrival time,
/// the verdict and the arrival time to store if admitted.
pub(crate) fn gcra(check: &LimitCheck, stored_tat: i64, now: i64) -> (LimitState, i64) {
    let interval = check.interval_us();
    let period = check.period_us();
    let tat = stored_tat.max(now);
    let cost = i64::try_from(check.cost).unwrap_or(i64::MAX);
    let new_tat = tat.saturating_add(cost.saturating_mul(interval));
    let micros = |us: i64| Duration::from_micros(u64::try_from(us.max(0)).unwrap_or(0));
    let units = |us: i64| u64::try_from((us / interval).max(0)).unwrap_or(0);
    if cost.saturating_mul(interval) > period {
        return (LimitState { allowed: false, remaining: 0, reset: micros(tat - now), retry_after: None }, stored_tat);
    }
    let allow_at = new_tat - period;
    if allow_at > now {
        let state = LimitState {
            allowed: false,
            remaining: units(now + period - tat),
            reset: micros(tat - now),
            retry_after: Some(micros(allow_at - now)),
        };
        return (state, stored_tat);
    }
    let state = LimitState {
        allowed: true,
        remaining: units(now + period - new_tat),
        reset: micros(new_tat - now),
        retry_after: None,
    };
    (state, new_tat)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_admits_its_burst_then_one_per_interval() {
        let check = LimitCheck::per_minute("x".into(), 60, 1);
        let mut tat = 0;
        let now = 1_000_000_000;
        for i in 0..60 {
            let (state, next) = gcra(&check, tat, now);
            assert!(state.allowed, "request {i}");
            assert_eq!(state.remaining, 59 - i);
            tat = next;
        }
        let (refused, unchanged) = gcra(&check, tat, now);
        assert!(!refused.allowed);
        assert_eq!(unchanged, tat, "a refusal charges nothing");
        assert_eq!(refused.retry_after, Some(Duration::from_secs(1)));
        let (later, _) = gcra(&check, tat, now + 1_000_000);
        assert!(later.allowed, "one interval later one more fits");
    }

    #[test]
    fn a_cost_above_the_whole_limit_can_never_pass() {
        let check = LimitCheck::per_minute("tpm".into(), 1000, 1001);
        let (state, _) = gcra(&check, 0, 5);
        assert_eq!((state.allowed, state.retry_after), (false, None));
    }
}
