//! The connection to Redis, shared by the quota book and the rate limiter (DESIGN §6). Outside
//! production (`oblivious dev`, no `REDIS_URL`) their in-process twins are used instead.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::limits::{LocalLimiter, RateLimiter, RedisLimiter};
use crate::quota::{LocalQuota, QuotaBook, RedisQuota};

/// Every Redis name starts with this in production.
pub const PRODUCTION_PREFIX: &str = "obl:";

/// Each Redis call gives up after this; callers then degrade (see the relay's billing NOTES).
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The quota book and rate limiter of one process.
#[derive(Clone)]
pub struct SharedState {
    pub quota: QuotaBook,
    pub limiter: RateLimiter,
    /// Present when backed by Redis; used for readiness checks.
    redis: Option<ConnectionManager>,
}

impl SharedState {
    /// In-process state (`oblivious dev`).
    pub fn local() -> Self {
        SharedState {
            quota: QuotaBook::Local(LocalQuota::default()),
            limiter: RateLimiter::Local(LocalLimiter::default()),
            redis: None,
        }
    }

    /// Redis-backed state with every name under `prefix`. The connection manager reconnects on
    /// its own; an unreachable Redis at start-up is an error (a pod should not become ready
    /// without it), later outages are handled per call.
    pub async fn redis(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_with_config(client, config).await?;
        Ok(SharedState {
            quota: QuotaBook::Redis(Box::new(RedisQuota::new(connection.clone(), prefix))),
            limiter: RateLimiter::Redis(Box::new(RedisLimiter::new(connection.clone(), prefix))),
            redis: Some(connection),
        })
    }

    pub fn is_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// A round trip to Redis (always fine for in-process state).
    pub async fn ping(&self) -> Result<(), redis::RedisError> {
        match &self.redis {
            Some(connection) => redis::cmd("PING").query_async::<String>(&mut connection.clone()).await.map(drop),
            None => Ok(()),
        }
    }
}
