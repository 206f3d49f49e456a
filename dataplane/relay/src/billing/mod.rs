//! Billing and rate limits on the relay's request path (DESIGN §5 "Billing").
//!
//! `admit` runs after authentication and before the first upstream attempt: it checks the
//! caller's rate limits and holds the request's worst-case cost against the user's balance and
//! the key's cap. The `Admission` then travels with the request record; when the request ends —
//! however it ends — `complete` hands the actual cost to the `Settler`, which writes the ledger
//! and releases the hold. The written policy (who pays for what, and how an outage degrades) is
//! in this crate's NOTES.md, "Billing".

mod budget;
mod estimate;
mod limits;
mod settler;
mod units;

use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue};
use oblivious_config::Snapshot;
use oblivious_core::{ApiError, ErrorKind};
use oblivious_store::BudgetMonth;
use oblivious_store::Store;
use oblivious_store::kv::SharedState;
use oblivious_store::limits::{LimitCheck, RateLimiter};
use oblivious_store::quota::{BudgetHold, Freshness, Hold, QuotaBook, Reservation};
use prometheus_client::metrics::counter::Counter;
use uuid::Uuid;

pub use self::budget::BudgetSeen;
pub use self::estimate::{Estimate, estimate_chat, estimate_text_tokens};
pub use self::settler::{MAX_PENDING, Settlement, Settler};
pub use self::units::{Units, charge_units, cost_of, units_cost_micros};
use oblivious_runtime::Webhooks;
use oblivious_runtime::auth::Principal;
use oblivious_runtime::money::format_micros;

/// Settings of billing in one process.
#[derive(Debug, Clone)]
pub struct BillingConfig {
    /// Output tokens a request without `max_tokens` is assumed to use, for its hold.
    pub default_output_estimate: u64,
    /// How many relay replicas share the limits; while Redis is unreachable each process
    /// enforces `limit / replicas` on its own.
    pub replicas: u64,
}

impl Default for BillingConfig {
    fn default() -> Self {
        BillingConfig { default_output_estimate: 4096, replicas: 1 }
    }
}

/// What an admitted request carries until it ends.
pub struct Admission {
    /// The quota hold and the book holding it; None for unmetered callers and unpriced models.
    hold: Option<(Hold, QuotaBook)>,
    /// Tokens-per-minute limits charged with `charged_tokens` at admission, to correct later.
    tokens_limits: Vec<LimitCheck>,
    limiter: Option<RateLimiter>,
    charged_tokens: u64,
    /// `x-ratelimit-*` headers for the answer.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Admission {
    /// An admission that holds nothing (requests rejected before billing started).
    pub fn none() -> Self {
        Admission { hold: None, tokens_limits: Vec::new(), limiter: None, charged_tokens: 0, headers: Vec::new() }
    }
}

/// Limits and quota of one relay process.
pub struct Billing {
    shared: SharedState,
    /// In-process twin used while a Redis-backed `shared` is unreachable.
    fallback: SharedState,
    store: Store,
    pub settler: Settler,
    config: BillingConfig,
    /// Counts reservations made in `fallback` (`oblivious_relay_quota_store_fallbacks_total`).
    quota_store_fallbacks: Counter,
    /// The tenant's budget spend as last read, for the health reports.
    pub budget_seen: Arc<BudgetSeen>,
}

impl Billing {
    /// Starts the settlement task on the current runtime. `quota_store_fallbacks` counts the
    /// reservations made in process memory while the shared quota store is unreachable;
    /// `webhooks` hears of the charges that take a balance below the low-balance threshold.
    pub fn new(
        shared: SharedState,
        store: Store,
        config: BillingConfig,
        quota_store_fallbacks: Counter,
        webhooks: Webhooks,
    ) -> Self {
        let budget_seen = Arc::new(BudgetSeen::default());
        let settler = Settler::spawn(store.clone(), shared.quota.clone(), budget_seen.clone(), webhooks);
        Billing { shared, fallback: SharedState::local(), store, settler, config, quota_store_fallbacks, budget_seen }
    }

    pub fn config(&self) -> &BillingConfig {
        &self.config
    }

    /// The shared state (quota book and limiter), for balance updates made elsewhere (top-ups).
    pub fn shared(&self) -> &SharedState {
        &self.shared
    }

    /// Checks the rate limits and holds the worst-case cost of a request for `model` with
    /// `estimate`. `request_id` names the hold (and later the ledger entry).
    #[tracing::instrument(name = "billing.reserve", skip_all, fields(oblivious.estimate.input_tokens = estimate.input_tokens))]
    pub async fn admit(
        &self,
        principal: &Principal,
        model: &str,
        estimate: Estimate,
        snapshot: &Snapshot,
        request_id: Uuid,
    ) -> Result<Admission, ApiError> {
        let now = oblivious_store::now_ms();
        let planned = limits::plan(principal, model, snapshot, estimate.input_tokens);
        let mut admission = Admission::none();
        if !planned.is_empty() {
            let checks: Vec<LimitCheck> = planned.iter().map(|p| p.check.clone()).collect();
            let (verdict, limiter) = match self.shared.limiter.check(&checks, now * 1000).await {
                Ok(verdict) => (verdict, self.shared.limiter.clone()),
                Err(error) => {
                    tracing::warn!(%error, "rate limiter unreachable; enforcing this process's share locally");
                    let local = limits::split_among(&planned, self.config.replicas);
                    (
                        self.fallback.limiter.check(&local, now * 1000).await.map_err(|_| billing_unavailable())?,
                        self.fallback.limiter.clone(),
                    )
                }
            };
            if !verdict.allowed() {
                return Err(limits::refusal(&planned, &verdict, model));
            }
            admission.headers = limits::headers(&planned, &verdict);
            admission.tokens_limits =
                planned.iter().filter(|p| p.unit == limits::Unit::Tokens).map(|p| p.check.clone()).collect();
            admission.charged_tokens = estimate.input_tokens;
            admission.limiter = Some(limiter);
        }

        let Some(user_id) = principal.user_id else { return Ok(admission) };
        let Some(price) = snapshot.price(model, now) else { return Ok(admission) };
        if self.settler.pending() >= MAX_PENDING {
            self.give_back_limits(&admission).await;
            return Err(billing_unavailable());
        }
        let amount = cost_of(&estimate.as_usage(), &estimate.units, price, &principal.group);
        let hold = Hold {
            request_id,
            user_id,
            key_id: principal.key_id,
            key_cap_micros: principal.max_spend_micros,
            amount_micros: i64::try_from(amount).unwrap_or(i64::MAX),
            budget: budget_hold(snapshot, &price.currency, now),
        };
        match self.reserve(&hold, now).await {
            Ok(book) => {
                admission.hold = Some((hold, book));
                Ok(admission)
            }
            Err(error) => {
                self.give_back_limits(&admission).await;
                Err(error)
            }
        }
    }

    /// Hands a finished request to the settler. `cost_micros` is what the request record says
    /// it cost (0 when nothing billable was produced). Never blocks: the ledger entry is written
    /// by the settler's next batch, outside the request, under a `billing.settle` span that is a
    /// child of the request's and lasts until the write.
    pub fn complete(&self, admission: Admission, cost_micros: u64, total_tokens: u64, model: &str) {
        if let Some(limiter) = admission.limiter.clone()
            && !admission.tokens_limits.is_empty()
        {
            let correction =
                i64::try_from(total_tokens).unwrap_or(i64::MAX) - i64::try_from(admission.charged_tokens).unwrap_or(0);
            let checks = admission.tokens_limits.clone();
            tokio::spawn(async move {
                let now = oblivious_store::now_ms() * 1000;
                for check in &checks {
                    if let Err(error) = limiter.adjust(check, correction, now).await {
                        tracing::debug!(%error, "could not correct a tokens-per-minute limit");
                    }
                }
            });
        }
        if let Some((hold, book)) = admission.hold {
            let span = tracing::info_span!(
                "billing.settle",
                oblivious.cost_micros = cost_micros,
                oblivious.settlement = tracing::field::Empty
            );
            self.settler.submit(Settlement { hold, book, cost_micros, model: model.to_string(), span });
        }
    }

    /// Holds `hold` in the shared book, or in the local one (synced from the database on every
    /// call) while Redis is unreachable. Returns the book that holds it.
    async fn reserve(&self, hold: &Hold, now: i64) -> Result<QuotaBook, ApiError> {
        match self.reserve_in(&self.shared.quota, hold, now, false).await {
            Ok(()) => Ok(self.shared.quota.clone()),
            Err(ReserveError::Refused(error)) => Err(error),
            Err(ReserveError::BookUnavailable) => {
                tracing::warn!("quota store unreachable; reserving in this process against the database balance");
                self.quota_store_fallbacks.inc();
                match self.reserve_in(&self.fallback.quota, hold, now, true).await {
                    Ok(()) => Ok(self.fallback.quota.clone()),
                    Err(ReserveError::Refused(error)) => Err(error),
                    Err(ReserveError::BookUnavailable) => Err(billing_unavailable()),
                }
            }
        }
    }

    async fn reserve_in(&self, book: &QuotaBook, hold: &Hold, now: i64, always_sync: bool) -> Result<(), ReserveError> {
        if always_sync {
            self.sync_from_database(book, hold, true).await?;
        }
        // Two loads at most: the balance, then the key's spend.
        for _ in 0..3 {
            let reservation = book.reserve(hold, now).await.map_err(|_| ReserveError::BookUnavailable)?;
            match reservation {
                Reservation::Held { .. } => return Ok(()),
                Reservation::InsufficientBalance { available } => {
                    return Err(ReserveError::Refused(insufficient_balance(available, hold.amount_micros)));
                }
                Reservation::KeyCapReached { remaining } => {
                    return Err(ReserveError::Refused(key_cap_reached(remaining, hold.amount_micros)));
                }
                Reservation::BudgetExhausted { remaining } => {
                    return Err(ReserveError::Refused(budget_exhausted(remaining, hold.amount_micros)));
                }
                Reservation::NeedBalance => self.sync_from_database(book, hold, false).await?,
                Reservation::NeedKeySpend => self.sync_from_database(book, hold, true).await?,
                Reservation::NeedBudgetSpend => self.sync_budget(book, hold).await?,
            }
        }
        Err(ReserveError::Refused(billing_unavailable()))
    }

    /// Loads the user's balance (and the key's spend, when `with_key`) into `book`.
    async fn sync_from_database(&self, book: &QuotaBook, hold: &Hold, with_key: bool) -> Result<(), ReserveError> {
        let balance = match self.store.balance(hold.user_id).await {
            Ok(Some(balance)) => balance,
            Ok(None) => return Err(ReserveError::Refused(insufficient_balance(0, hold.amount_micros))),
            Err(error) => {
                tracing::warn!(%error, "cannot read a balance from the database");
                return Err(ReserveError::Refused(billing_unavailable()));
            }
        };
        let mut fresh = Freshness { user_id: Some(hold.user_id), balance: Some(balance), ..Freshness::default() };
        if with_key
            && hold.key_cap_micros.is_some()
            && let Some(key_id) = hold.key_id
        {
            fresh.key_id = Some(key_id);
            fresh.key_spent_micros =
                self.store.api_key_spent(key_id).await.map_err(|_| ReserveError::Refused(billing_unavailable()))?;
        }
        book.settle(None, &fresh).await.map_err(|_| ReserveError::BookUnavailable)
    }

    /// Loads the tenant's spend in the hold's budget month into `book`.
    async fn sync_budget(&self, book: &QuotaBook, hold: &Hold) -> Result<(), ReserveError> {
        let Some(budget) = &hold.budget else { return Ok(()) };
        let spent = self.store.budget_spent(&budget.month).await.map_err(|error| {
            tracing::warn!(%error, "cannot read the tenant's budget spend from the database");
            ReserveError::Refused(billing_unavailable())
        })?;
        self.budget_seen.observe(&budget.month, spent);
        let fresh = Freshness { budget: Some((budget.month.clone(), spent)), ..Freshness::default() };
        book.settle(None, &fresh).await.map_err(|_| ReserveError::BookUnavailable)
    }

    /// A request refused after its limits admitted it gives back what it was charged.
    async fn give_back_limits(&self, admission: &Admission) {
        let Some(limiter) = &admission.limiter else { return };
        let now = oblivious_store::now_ms() * 1000;
        for check in &admission.tokens_limits {
            let _ = limiter.adjust(check, -i64::try_from(check.cost).unwrap_or(0), now).await;
        }
    }
}

enum ReserveError {
    Refused(ApiError),
    BookUnavailable,
}

fn insufficient_balance(available: i64, needed: i64) -> ApiError {
    ApiError::new(
        ErrorKind::InsufficientQuota,
        format!(
            "You exceeded your current quota: this request may cost up to {} but only {} is available. Top up your balance or lower max_tokens.",
            format_micros(needed),
            format_micros(available.max(0))
        ),
    )
    .with_code("insufficient_quota")
}

fn key_cap_reached(remaining: i64, needed: i64) -> ApiError {
    ApiError::new(
        ErrorKind::InsufficientQuota,
        format!(
            "This API key reached its spending limit: {} left, this request may cost up to {}.",
            format_micros(remaining.max(0)),
            format_micros(needed)
        ),
    )
    .with_code("insufficient_quota")
}

/// The tenant's monthly budget as a hold, when it has one in the price's currency. A budget in
/// another currency cannot be compared with the price and does not apply to that model.
fn budget_hold(snapshot: &Snapshot, currency: &str, now_ms: i64) -> Option<BudgetHold> {
    let tenant = snapshot.tenant.as_ref()?;
    let budget = tenant.budget.as_ref().filter(|b| b.currency == currency)?;
    Some(BudgetHold {
        month: BudgetMonth::at(&tenant.name, now_ms),
        cap_micros: i64::try_from(budget.monthly_limit_micros).unwrap_or(i64::MAX),
    })
}

fn budget_exhausted(remaining: i64, needed: i64) -> ApiError {
    ApiError::new(
        ErrorKind::InsufficientQuota,
        format!(
            "This deployment's monthly budget is spent: {} left this month, this request may cost up to {}. Ask its administrators to raise the Tenant's budget.",
            format_micros(remaining.max(0)),
            format_micros(needed)
        ),
    )
    .with_code("tenant_budget_exceeded")
}

fn billing_unavailable() -> ApiError {
    ApiError::new(
        ErrorKind::Unavailable,
        "Billing is temporarily unavailable; the request was not sent. Retry shortly.",
    )
    .with_code("billing_unavailable")
}
