//! Balances and their ledger. Every balance change is one transaction that updates
//! `users.balance_micros` (bumping `balance_version`) and appends one ledger row, so the ledger of
//! a user always sums to their balance. Charges are keyed by request id: settling the same
//! request twice changes nothing the second time.

use serde::Serialize;
use uuid::Uuid;

use crate::backend::{WriteTransaction, on_pool};
use crate::{Store, StoreError, StoreResult};

/// Why a balance changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LedgerKind {
    /// A request's cost (negative).
    Charge,
    /// Money added by a payment integration.
    Topup,
    /// An administrator's correction (either sign).
    Adjust,
    /// A redemption code.
    Redeem,
    /// The balance a new account starts with.
    Grant,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Charge => "charge",
            LedgerKind::Topup => "topup",
            LedgerKind::Adjust => "adjust",
            LedgerKind::Redeem => "redeem",
            LedgerKind::Grant => "grant",
        }
    }
}

/// One ledger row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct LedgerEntry {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    /// Signed: charges are negative.
    pub amount_micros: i64,
    pub balance_after: i64,
    pub request_id: Option<Uuid>,
    pub key_id: Option<Uuid>,
    pub model: Option<String>,
    pub note: String,
    /// The administrator who made the change, if one did.
    pub actor_id: Option<Uuid>,
    pub created_at: i64,
}

/// A balance and its version (bumped by every change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct BalanceState {
    #[sqlx(rename = "balance_micros")]
    pub balance_micros: i64,
    #[sqlx(rename = "balance_version")]
    pub version: i64,
}

/// A non-charge balance change.
#[derive(Debug, Clone)]
pub struct BalanceChange {
    pub user_id: Uuid,
    pub kind: LedgerKind,
    /// Signed amount to add.
    pub amount_micros: i64,
    pub note: String,
    pub actor_id: Option<Uuid>,
}

/// The settled cost of one request.
#[derive(Debug, Clone)]
pub struct Charge {
    pub request_id: Uuid,
    pub user_id: Uuid,
    pub key_id: Option<Uuid>,
    /// The cost, positive; the ledger records it negated.
    pub cost_micros: i64,
    pub model: String,
    /// The tenant budget and month this charge counts against, if the tenant has a budget.
    pub budget: Option<BudgetMonth>,
}

/// A tenant's spending in one calendar month (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BudgetMonth {
    pub tenant: String,
    /// `YYYY-MM`.
    pub month: String,
}

impl BudgetMonth {
    /// The month of `now_ms` (Unix milliseconds, UTC).
    pub fn at(tenant: &str, now_ms: i64) -> Self {
        let days = now_ms.div_euclid(86_400_000);
        let (year, month) = civil_month(days);
        BudgetMonth { tenant: tenant.to_string(), month: format!("{year:04}-{month:02}") }
    }

    /// `tenant/YYYY-MM`, the quota book's name for it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.tenant, self.month)
    }
}

/// Year and month of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_month(days: i64) -> (i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month)
}

/// What settling a charge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettledCharge {
    /// False when this request had already been charged (nothing changed).
    pub applied: bool,
    pub balance: BalanceState,
    /// The key's total spend after this charge (when the charge named a key that exists).
    pub key_spent_micros: Option<i64>,
    /// The tenant's spend in the charge's budget month after this charge (when it has one).
    pub budget_spent_micros: Option<i64>,
}

const LEDGER_COLUMNS: &str =
    "id, user_id, kind, amount_micros, balance_after, request_id, key_id, model, note, actor_id, created_at";

impl Store {
    /// The current balance of a user.
    pub async fn balance(&self, user_id: Uuid) -> StoreResult<Option<BalanceState>> {
        let sql = "SELECT balance_micros, balance_version FROM users WHERE id = $1";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(user_id).fetch_optional(pool).await?))
    }

    /// Adds `change.amount_micros` to the balance and records it. `NotFound("user")` when the
    /// user does not exist (nothing is written then).
    pub async fn change_balance(&self, change: &BalanceChange) -> StoreResult<(LedgerEntry, BalanceState)> {
        let now = crate::now_ms();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(pool.write_begin()).await?;
            let state: Option<BalanceState> = sqlx::query_as(
                "UPDATE users SET balance_micros = balance_micros + $1, balance_version = balance_version + 1, \
                 updated_at = $2 WHERE id = $3 RETURNING balance_micros, balance_version",
            )
            .bind(change.amount_micros)
            .bind(now)
            .bind(change.user_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(state) = state else { return Err(StoreError::NotFound("user")) };
            let entry = LedgerEntry {
                id: Uuid::now_v7(),
                user_id: change.user_id,
                kind: change.kind.as_str().to_string(),
                amount_micros: change.amount_micros,
                balance_after: state.balance_micros,
                request_id: None,
                key_id: None,
                model: None,
                note: change.note.clone(),
                actor_id: change.actor_id,
                created_at: now,
            };
            sqlx::query(
                "INSERT INTO ledger (id, user_id, kind, amount_micros, balance_after, note, actor_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(entry.id)
            .bind(entry.user_id)
            .bind(&entry.kind)
            .bind(entry.amount_micros)
            .bind(entry.balance_after)
            .bind(&entry.note)
            .bind(entry.actor_id)
            .bind(entry.created_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok((entry, state))
        })
    }

    /// Charges a request's cost once: the ledger row (unique by request id), the balance and the
    /// key's spend move together or not at all. A second call for the same request changes
    /// nothing and reports `applied: false`.
    pub async fn settle_charge(&self, charge: &Charge) -> StoreResult<SettledCharge> {
        let now = crate::now_ms();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(pool.write_begin()).await?;
            let entry_id = Uuid::now_v7();
            // The ledger row goes first: its unique request id is what makes settlement idempotent.
            let inserted = sqlx::query(
                "INSERT INTO ledger (id, user_id, kind, amount_micros, balance_after, request_id, key_id, model, note, created_at) \
                 VALUES ($1, $2, 'charge', $3, 0, $4, $5, $6, '', $7) ON CONFLICT DO NOTHING",
            )
            .bind(entry_id)
            .bind(charge.user_id)
            .bind(-charge.cost_micros)
            .bind(charge.request_id)
            .bind(charge.key_id)
            .bind(&charge.model)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                tx.rollback().await?;
                let balance = self.balance(charge.user_id).await?.ok_or(StoreError::NotFound("user"))?;
                let key_spent_micros = match charge.key_id {
                    Some(key_id) => self.api_key_spent(key_id).await?,
                    None => None,
                };
                let budget_spent_micros = match &charge.budget {
                    Some(budget) => Some(self.budget_spent(budget).await?),
                    None => None,
                };
                return Ok(SettledCharge { applied: false, balance, key_spent_micros, budget_spent_micros });
            }
            let state: Option<BalanceState> = sqlx::query_as(
                "UPDATE users SET balance_micros = balance_micros - $1, balance_version = balance_version + 1, \
                 updated_at = $2 WHERE id = $3 RETURNING balance_micros, balance_version",
            )
            .bind(charge.cost_micros)
            .bind(now)
            .bind(charge.user_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(state) = state else { return Err(StoreError::NotFound("user")) };
            sqlx::query("UPDATE ledger SET balance_after = $1 WHERE id = $2")
                .bind(state.balance_micros)
                .bind(entry_id)
                .execute(&mut *tx)
                .await?;
            let mut key_spent_micros = None;
            if let Some(key_id) = charge.key_id {
                key_spent_micros = sqlx::query_scalar("UPDATE api_keys SET spent_micros = spent_micros + $1 WHERE id = $2 RETURNING spent_micros")
                    .bind(charge.cost_micros)
                    .bind(key_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            }
            let mut budget_spent_micros = None;
            if let Some(budget) = &charge.budget {
                budget_spent_micros = Some(sqlx::query_scalar(
                    "INSERT INTO tenant_budget_spend (tenant, month, spent_micros) VALUES ($1, $2, $3) \
                     ON CONFLICT (tenant, month) DO UPDATE SET spent_micros = tenant_budget_spend.spent_micros + $3 \
                     RETURNING spent_micros",
                )
                .bind(&budget.tenant)
                .bind(&budget.month)
                .bind(charge.cost_micros)
                .fetch_one(&mut *tx)
                .await?);
            }
            tx.commit().await?;
            Ok(SettledCharge { applied: true, balance: state, key_spent_micros, budget_spent_micros })
        })
    }

    /// What a tenant spent in a budget month so far.
    pub async fn budget_spent(&self, budget: &BudgetMonth) -> StoreResult<i64> {
        let sql = "SELECT spent_micros FROM tenant_budget_spend WHERE tenant = $1 AND month = $2";
        let spent: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(sql).bind(&budget.tenant).bind(&budget.month).fetch_optional(pool).await?);
        Ok(spent.unwrap_or(0))
    }

    /// A user's ledger, newest first; `before` pages by time (ms).
    pub async fn list_ledger(&self, user_id: Uuid, limit: i64, before: Option<i64>) -> StoreResult<Vec<LedgerEntry>> {
        let sql = format!(
            "SELECT {LEDGER_COLUMNS} FROM ledger WHERE user_id = $1 AND ($2 IS NULL OR created_at < $2) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let limit = limit.clamp(1, 1000);
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).bind(before).bind(limit).fetch_all(pool).await?))
    }

    /// Sum of a user's ledger; equals the balance (an invariant the tests check).
    pub async fn ledger_sum(&self, user_id: Uuid) -> StoreResult<i64> {
        // SUM of bigint is numeric in PostgreSQL; the cast keeps one decode type for both backends.
        let sql = "SELECT CAST(COALESCE(SUM(amount_micros), 0) AS BIGINT) FROM ledger WHERE user_id = $1";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(user_id).fetch_one(pool).await?))
    }

    /// Whether this request has been charged, for tests and reconciliation.
    pub async fn charge_for_request(&self, request_id: Uuid) -> StoreResult<Option<LedgerEntry>> {
        let sql = format!("SELECT {LEDGER_COLUMNS} FROM ledger WHERE request_id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(request_id).fetch_optional(pool).await?))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::BudgetMonth;

    #[test]
    fn a_budget_month_is_the_utc_calendar_month() {
        let month = |ms: i64| BudgetMonth::at("acme", ms).id();
        assert_eq!(month(0), "acme/1970-01");
        assert_eq!(month(1_798_761_599_999), "acme/2026-12"); // 2026-12-31T23:59:59.999Z
        assert_eq!(month(1_798_761_600_000), "acme/2027-01");
        assert_eq!(month(1_709_164_800_000), "acme/2024-02"); // 2024-02-29T00:00:00Z
        assert_eq!(month(1_709_251_200_000), "acme/2024-03");
    }
}
