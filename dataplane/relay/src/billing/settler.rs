//! Settlement in the background: every finished request's charge is written to the ledger
//! (idempotent by request id) and its hold released, off the request path.
//!
//! When the database cannot take a charge, nothing is lost: the charge is kept and retried with
//! backoff, and its hold is converted into a provisional deduction in the quota book so the money
//! cannot be spent again meanwhile. While more than `MAX_PENDING` charges wait, new billed
//! requests are refused (`Billing::admit`) rather than admitted unaccounted.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use oblivious_runtime::Webhooks;
use oblivious_store::quota::{Freshness, Hold, QuotaBook};
use oblivious_store::{Charge, Store};

use super::BudgetSeen;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// Charges that may wait for the database before billed requests are refused.
pub const MAX_PENDING: usize = 100_000;
/// How often expired holds are swept and waiting charges retried (at the latest).
const SWEEP_EVERY: Duration = Duration::from_secs(30);
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// One finished request to settle.
pub struct Settlement {
    pub hold: Hold,
    /// The book that holds it (the shared one, or the local fallback during a Redis outage).
    pub book: QuotaBook,
    pub cost_micros: u64,
    pub model: String,
    /// `billing.settle`, a child of the request's span, open until the charge is written (or
    /// parked while the database is down): the trace shows the write, not just the hand-off.
    pub span: tracing::Span,
}

enum Command {
    Settle(Box<Settlement>),
    Flush(oneshot::Sender<()>),
    /// Shutdown: write everything, retrying waiting charges until the instant; answers how many
    /// charges are still unwritten.
    Drain(tokio::time::Instant, oneshot::Sender<usize>),
}

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct Settler {
    tx: mpsc::UnboundedSender<Command>,
    pending: Arc<AtomicUsize>,
}

/// A charge the database has not taken yet, with the book that made it provisional.
struct Waiting {
    charge: Charge,
    book: QuotaBook,
}

impl Settler {
    /// Starts the settlement task on the current runtime.
    pub fn spawn(store: Store, sweep_book: QuotaBook, budget_seen: Arc<BudgetSeen>, webhooks: Webhooks) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let books = Books { store, sweep_book, budget_seen, webhooks };
        tokio::spawn(run(books, rx, pending.clone()));
        Settler { tx, pending }
    }

    /// Queues a settlement. Never blocks (it is called from `Drop`).
    pub fn submit(&self, settlement: Settlement) {
        if self.tx.send(Command::Settle(Box::new(settlement))).is_err() {
            tracing::error!("the settlement task is gone; a charge could not be queued");
        }
    }

    /// Charges waiting for the database.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Waits until everything submitted so far was processed (written or parked as pending).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Command::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// For shutdown: processes everything submitted so far and keeps retrying charges that wait
    /// for the database until `deadline`. Returns how many charges are still unwritten (lost
    /// when the process exits: under-billing, never over-billing).
    pub async fn drain(&self, deadline: tokio::time::Instant) -> usize {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Command::Drain(deadline, done)).is_err() {
            return self.pending();
        }
        wait.await.unwrap_or_else(|_| self.pending())
    }
}

/// What the settlement task writes to: the database, the book whose expired holds it sweeps, the
/// budget spend it passes on to the health reports, and the webhook events of low balances.
struct Books {
    store: Store,
    sweep_book: QuotaBook,
    budget_seen: Arc<BudgetSeen>,
    webhooks: Webhooks,
}

async fn run(books: Books, mut rx: mpsc::UnboundedReceiver<Command>, pending: Arc<AtomicUsize>) {
    let mut waiting: VecDeque<Waiting> = VecDeque::new();
    let mut retry_in = RETRY_MIN;
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    loop {
        let wake = if waiting.is_empty() { SWEEP_EVERY } else { retry_in };
        tokio::select! {
            command = rx.recv() => match command {
                Some(Command::Settle(settlement)) => {
                    // While charges wait, the database is known to be down: park new ones behind
                    // them at once (keeping their order) instead of waiting for a timeout each.
                    let database_down = !waiting.is_empty();
                    let span = settlement.span.clone();
                    if let Some(parked) = settle(&books, *settlement, database_down).instrument(span).await {
                        waiting.push_back(parked);
                    }
                }
                Some(Command::Flush(done)) => {
                    let _ = done.send(());
                }
                Some(Command::Drain(deadline, done)) => {
                    while !waiting.is_empty() && !replay(&books, &mut waiting).await {
                        if tokio::time::Instant::now() + retry_in >= deadline {
                            break;
                        }
                        tokio::time::sleep(retry_in).await;
                        retry_in = (retry_in * 2).min(RETRY_MAX);
                    }
                    if !waiting.is_empty() {
                        tracing::error!(unwritten = waiting.len(), "shutting down with charges the database never took");
                    }
                    let _ = done.send(waiting.len());
                }
                None => return,
            },
            _ = sweep.tick() => {
                match books.sweep_book.expire_holds(oblivious_store::now_ms()).await {
                    Ok(0) => {}
                    Ok(released) => tracing::warn!(released, "released quota holds whose requests never settled"),
                    Err(error) => tracing::warn!(%error, "could not sweep expired quota holds"),
                }
            }
            _ = tokio::time::sleep(wake), if !waiting.is_empty() => {
                retry_in = if replay(&books, &mut waiting).await { RETRY_MIN } else { (retry_in * 2).min(RETRY_MAX) };
            }
        }
        pending.store(waiting.len(), Ordering::Relaxed);
    }
}

/// Settles one request; returns the charge to retry when the database was unavailable.
async fn settle(books: &Books, settlement: Settlement, database_down: bool) -> Option<Waiting> {
    let Settlement { hold, book, cost_micros, model, span } = settlement;
    let outcome = |what: &'static str| span.record("oblivious.settlement", what);
    let release_only = |book: QuotaBook, request| async move {
        if let Err(error) = book.settle(Some(request), &Freshness::default()).await {
            tracing::warn!(%error, "could not release a quota hold; it will expire");
        }
    };
    if cost_micros == 0 {
        release_only(book, hold.request_id).await;
        outcome("released");
        return None;
    }
    let charge = Charge {
        request_id: hold.request_id,
        user_id: hold.user_id,
        key_id: hold.key_id,
        cost_micros: i64::try_from(cost_micros).unwrap_or(i64::MAX),
        model,
        budget: hold.budget.as_ref().map(|b| b.month.clone()),
    };
    if !database_down {
        match books.store.settle_charge(&charge).await {
            Ok(settled) => {
                install(books, &book, Some(hold.request_id), &charge, settled).await;
                outcome("written");
                return None;
            }
            Err(error) if !error.is_unavailable() => {
                // The user or key is gone: there is nobody left to charge.
                tracing::error!(%error, request_id = %hold.request_id, "a charge was refused by the database and dropped");
                release_only(book, hold.request_id).await;
                outcome("dropped");
                return None;
            }
            Err(error) => tracing::warn!(%error, "database unavailable; charges wait and are deducted provisionally"),
        }
    }
    if let Err(error) = book.settle_provisionally(&hold, charge.cost_micros).await {
        tracing::warn!(%error, "could not record a provisional deduction; the hold stays until it expires");
    }
    outcome("provisional");
    Some(Waiting { charge, book })
}

/// Retries waiting charges in order; true when all went through.
async fn replay(books: &Books, waiting: &mut VecDeque<Waiting>) -> bool {
    while let Some(next) = waiting.front() {
        match books.store.settle_charge(&next.charge).await {
            Ok(settled) => {
                install(books, &next.book, None, &next.charge, settled).await;
                waiting.pop_front();
            }
            Err(error) if error.is_unavailable() => return false,
            Err(error) => {
                tracing::error!(%error, request_id = %next.charge.request_id, "a waiting charge was refused and dropped");
                waiting.pop_front();
            }
        }
    }
    tracing::info!("every waiting charge has been written");
    true
}

/// Releases the hold (if still held), installs the balance and key spend the database reached,
/// and tells the webhooks when this charge took the balance below the low-balance threshold.
async fn install(
    books: &Books,
    book: &QuotaBook,
    request: Option<uuid::Uuid>,
    charge: &Charge,
    settled: oblivious_store::SettledCharge,
) {
    let fresh = Freshness {
        user_id: Some(charge.user_id),
        balance: Some(settled.balance),
        key_id: charge.key_id,
        key_spent_micros: settled.key_spent_micros,
        budget: charge.budget.clone().zip(settled.budget_spent_micros),
    };
    if let Some((month, spent)) = &fresh.budget {
        books.budget_seen.observe(month, *spent);
    }
    if let Err(error) = book.settle(request, &fresh).await {
        tracing::warn!(%error, "could not update the quota book after settling; its hold will expire");
    }
    // Only the write that applied the charge knows the balance it started from.
    if settled.applied {
        let after = settled.balance.balance_micros;
        books.webhooks.balance_charged(charge.user_id, after.saturating_add(charge.cost_micros), after).await;
    }
}
