//! The Redis quota book: every rule is one Lua script, so a check and its update are atomic
//! across all relay replicas. Hash names: `<prefix>q:u:<user>` (bal, ver, held),
//! `<prefix>q:k:<key>` (spent, held), `<prefix>q:b:<tenant>/<month>` (a tenant budget month:
//! spent, held), `<prefix>q:h:<request>` (one hold), and the sorted set
//! `<prefix>q:exp` of hold expiries. Scripts build hash names from ids, so this needs a single
//! Redis (or a Sentinel-managed primary), not Redis Cluster.

use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use uuid::Uuid;

use super::{Freshness, HOLD_TTL, Hold, QuotaUnavailable, Reservation};
use crate::BudgetMonth;

/// Idle user and key hashes disappear after this; they are reloaded from the database.
const HASH_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most holds one `expire_holds` call releases.
const EXPIRE_BATCH: usize = 1000;

#[derive(Clone)]
pub struct RedisQuota {
    connection: ConnectionManager,
    /// Namespaces every name (`obl:` in production; unique per test).
    prefix: String,
    reserve: Script,
    settle: Script,
    provisional: Script,
    expire: Script,
}

fn unavailable(error: redis::RedisError) -> QuotaUnavailable {
    QuotaUnavailable(error.to_string())
}

impl RedisQuota {
    pub fn new(connection: ConnectionManager, prefix: &str) -> Self {
        RedisQuota {
            connection,
            prefix: format!("{prefix}q:"),
            reserve: Script::new(include_str!("reserve.lua")),
            settle: Script::new(include_str!("settle.lua")),
            provisional: Script::new(include_str!("provisional.lua")),
            expire: Script::new(include_str!("expire.lua")),
        }
    }

    fn user_hash(&self, user: Uuid) -> String {
        format!("{}u:{user}", self.prefix)
    }

    fn key_hash(&self, key: Option<Uuid>) -> String {
        match key {
            Some(key) => format!("{}k:{key}", self.prefix),
            None => format!("{}k:-", self.prefix),
        }
    }

    fn budget_hash(&self, budget: Option<&BudgetMonth>) -> String {
        match budget {
            Some(month) => format!("{}b:{}", self.prefix, month.id()),
            None => format!("{}b:-", self.prefix),
        }
    }

    fn hold_hash(&self, request: Uuid) -> String {
        format!("{}h:{request}", self.prefix)
    }

    fn expiry_set(&self) -> String {
        format!("{}exp", self.prefix)
    }

    pub async fn reserve(&self, hold: &Hold, now_ms: i64) -> Result<Reservation, QuotaUnavailable> {
        let cap = match (hold.key_cap_micros, hold.key_id) {
            (Some(cap), Some(_)) => cap,
            _ => -1,
        };
        let key_id = hold.key_id.map(|k| k.to_string()).unwrap_or_else(|| "-".into());
        let (code, number): (i64, i64) = self
            .reserve
            .key(self.user_hash(hold.user_id))
            .key(self.key_hash(hold.key_id))
            .key(self.hold_hash(hold.request_id))
            .key(self.expiry_set())
            .key(self.budget_hash(hold.budget.as_ref().map(|b| &b.month)))
            .arg(hold.amount_micros)
            .arg(cap)
            .arg(now_ms + HOLD_TTL.as_millis() as i64)
            .arg(hold.request_id.to_string())
            .arg(hold.user_id.to_string())
            .arg(key_id)
            .arg(HASH_TTL.as_secs())
            .arg(hold.budget.as_ref().map_or(-1, |b| b.cap_micros))
            .arg(hold.budget.as_ref().map_or(String::new(), |b| b.month.id()))
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        Ok(match code {
            1 => Reservation::Held { available_after: number },
            0 => Reservation::InsufficientBalance { available: number },
            2 => Reservation::KeyCapReached { remaining: number },
            3 => Reservation::BudgetExhausted { remaining: number },
            -2 => Reservation::NeedKeySpend,
            -3 => Reservation::NeedBudgetSpend,
            _ => Reservation::NeedBalance,
        })
    }

    pub async fn settle(&self, request_id: Option<Uuid>, fresh: &Freshness) -> Result<(), QuotaUnavailable> {
        // Without a request, the hold name points nowhere and only the freshness is applied.
        let request = request_id.map(|r| r.to_string()).unwrap_or_else(|| "-".into());
        let balance = fresh.balance.filter(|_| fresh.user_id.is_some());
        let spent = fresh.key_spent_micros.filter(|_| fresh.key_id.is_some());
        let user_hash = fresh.user_id.map(|u| self.user_hash(u)).unwrap_or_else(|| format!("{}u:-", self.prefix));
        let _: i64 = self
            .settle
            .key(format!("{}h:{request}", self.prefix))
            .key(self.expiry_set())
            .key(user_hash)
            .key(self.key_hash(fresh.key_id))
            .key(self.budget_hash(fresh.budget.as_ref().map(|(month, _)| month)))
            .arg(&request)
            .arg(&self.prefix)
            .arg(if balance.is_some() { "1" } else { "0" })
            .arg(balance.map_or(0, |b| b.balance_micros))
            .arg(balance.map_or(0, |b| b.version))
            .arg(if spent.is_some() { "1" } else { "0" })
            .arg(spent.unwrap_or(0))
            .arg(HASH_TTL.as_secs())
            .arg(if fresh.budget.is_some() { "1" } else { "0" })
            .arg(fresh.budget.as_ref().map_or(0, |(_, spent)| *spent))
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub async fn settle_provisionally(&self, hold: &Hold, cost_micros: i64) -> Result<(), QuotaUnavailable> {
        let capped = hold.key_cap_micros.is_some() && hold.key_id.is_some();
        let _: i64 = self
            .provisional
            .key(self.hold_hash(hold.request_id))
            .key(self.expiry_set())
            .key(self.user_hash(hold.user_id))
            .key(self.key_hash(hold.key_id))
            .key(self.budget_hash(hold.budget.as_ref().map(|b| &b.month)))
            .arg(hold.request_id.to_string())
            .arg(&self.prefix)
            .arg(cost_micros)
            .arg(if capped { "1" } else { "0" })
            .arg(if hold.budget.is_some() { "1" } else { "0" })
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub async fn expire_holds(&self, now_ms: i64) -> Result<usize, QuotaUnavailable> {
        let released: i64 = self
            .expire
            .key(self.expiry_set())
            .arg(now_ms)
            .arg(&self.prefix)
            .arg(EXPIRE_BATCH)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        Ok(usize::try_from(released).unwrap_or(0))
    }

    pub async fn held(&self, user_id: Uuid) -> Result<i64, QuotaUnavailable> {
        let mut connection = self.connection.clone();
        let held: Option<i64> = redis::cmd("HGET")
            .arg(self.user_hash(user_id))
            .arg("held")
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(held.unwrap_or(0))
    }
}
