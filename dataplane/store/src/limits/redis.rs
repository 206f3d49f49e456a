//! The Redis limiter: `gcra.lua` checks and charges all limits of a request atomically, for
//! every replica. Names are `<prefix>rl:<limit name>`.

use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;

use super::{LimitCheck, LimitState, LimitVerdict, LimiterUnavailable};

#[derive(Clone)]
pub struct RedisLimiter {
    connection: ConnectionManager,
    prefix: String,
    gcra: Script,
    adjust: Script,
}

fn unavailable(error: redis::RedisError) -> LimiterUnavailable {
    LimiterUnavailable(error.to_string())
}

impl RedisLimiter {
    pub fn new(connection: ConnectionManager, prefix: &str) -> Self {
        RedisLimiter {
            connection,
            prefix: format!("{prefix}rl:"),
            gcra: Script::new(include_str!("gcra.lua")),
            adjust: Script::new(include_str!("adjust.lua")),
        }
    }

    pub async fn check(&self, checks: &[LimitCheck], now_us: i64) -> Result<LimitVerdict, LimiterUnavailable> {
        let mut invocation = self.gcra.prepare_invoke();
        invocation.arg(now_us);
        for check in checks {
            invocation.key(format!("{}{}", self.prefix, check.name));
            invocation.arg(check.interval_us()).arg(check.period_us()).arg(check.cost);
        }
        let flat: Vec<i64> = invocation.invoke_async(&mut self.connection.clone()).await.map_err(unavailable)?;
        let micros = |us: i64| Duration::from_micros(u64::try_from(us.max(0)).unwrap_or(0));
        let states = flat
            .chunks_exact(4)
            .map(|c| LimitState {
                allowed: c[0] == 1,
                remaining: u64::try_from(c[1].max(0)).unwrap_or(0),
                reset: micros(c[2]),
                retry_after: match c[3] {
                    0 if c[0] == 1 => None,
                    -1 => None,
                    us => Some(micros(us)),
                },
            })
            .collect();
        Ok(LimitVerdict { states })
    }

    pub async fn adjust(&self, check: &LimitCheck, cost: i64, now_us: i64) -> Result<(), LimiterUnavailable> {
        let _: i64 = self
            .adjust
            .key(format!("{}{}", self.prefix, check.name))
            .arg(now_us)
            .arg(check.interval_us())
            .arg(cost)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
