//! The in-process quota book: the rules of the Redis scripts, under one mutex. Used by
//! `oblivious dev` and as the relay's fallback while Redis is unreachable.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::{Freshness, HOLD_TTL, Hold, Reservation};
use crate::BalanceState;

#[derive(Default)]
struct UserEntry {
    balance: Option<BalanceState>,
    held: i64,
}

#[derive(Default)]
struct KeyEntry {
    spent: Option<i64>,
    held: i64,
}

/// A tenant's budget month: what the database says was spent, and what is held.
#[derive(Default)]
struct BudgetEntry {
    spent: Option<i64>,
    held: i64,
}

struct HoldEntry {
    hold: Hold,
    expires_at: i64,
}

#[derive(Default)]
struct Book {
    users: HashMap<Uuid, UserEntry>,
    keys: HashMap<Uuid, KeyEntry>,
    budgets: HashMap<String, BudgetEntry>,
    holds: HashMap<Uuid, HoldEntry>,
}

/// Cheap to clone; clones share the book.
#[derive(Clone, Default)]
pub struct LocalQuota {
    book: Arc<Mutex<Book>>,
}

impl LocalQuota {
    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn reserve(&self, hold: &Hold, now_ms: i64) -> Reservation {
        let mut book = self.lock();
        if book.holds.contains_key(&hold.request_id) {
            return Reservation::Held { available_after: 0 };
        }
        let Some(balance) = book.users.get(&hold.user_id).and_then(|u| u.balance) else {
            return Reservation::NeedBalance;
        };
        let held = book.users.get(&hold.user_id).map_or(0, |u| u.held);
        let available = balance.balance_micros - held;
        if available < hold.amount_micros {
            return Reservation::InsufficientBalance { available };
        }
        if let (Some(cap), Some(key_id)) = (hold.key_cap_micros, hold.key_id) {
            let Some(key) = book.keys.get(&key_id).filter(|k| k.spent.is_some()) else {
                return Reservation::NeedKeySpend;
            };
            let remaining = cap - key.spent.unwrap_or(0) - key.held;
            if remaining < hold.amount_micros {
                return Reservation::KeyCapReached { remaining };
            }
        }
        if let Some(budget) = &hold.budget {
            let Some(entry) = book.budgets.get(&budget.month.id()).filter(|b| b.spent.is_some()) else {
                return Reservation::NeedBudgetSpend;
            };
            let remaining = budget.cap_micros - entry.spent.unwrap_or(0) - entry.held;
            if remaining < hold.amount_micros {
                return Reservation::BudgetExhausted { remaining };
            }
        }
        // Every check passed: hold against all of them.
        if let (Some(_), Some(key_id)) = (hold.key_cap_micros, hold.key_id) {
            book.keys.entry(key_id).or_default().held += hold.amount_micros;
        }
        if let Some(budget) = &hold.budget {
            book.budgets.entry(budget.month.id()).or_default().held += hold.amount_micros;
        }
        book.users.entry(hold.user_id).or_default().held += hold.amount_micros;
        let expires_at = now_ms + HOLD_TTL.as_millis() as i64;
        book.holds.insert(hold.request_id, HoldEntry { hold: hold.clone(), expires_at });
        Reservation::Held { available_after: available - hold.amount_micros }
    }

    pub fn settle(&self, request_id: Option<Uuid>, fresh: &Freshness) {
        let mut book = self.lock();
        if let Some(entry) = request_id.and_then(|id| book.holds.remove(&id)) {
            release(&mut book, &entry.hold);
        }
        if let (Some(user_id), Some(state)) = (fresh.user_id, fresh.balance) {
            let user = book.users.entry(user_id).or_default();
            if user.balance.is_none_or(|current| current.version < state.version) {
                user.balance = Some(state);
            }
        }
        if let (Some(key_id), Some(spent)) = (fresh.key_id, fresh.key_spent_micros) {
            let key = book.keys.entry(key_id).or_default();
            if key.spent.is_none_or(|current| current < spent) {
                key.spent = Some(spent);
            }
        }
        if let Some((month, spent)) = &fresh.budget {
            let budget = book.budgets.entry(month.id()).or_default();
            if budget.spent.is_none_or(|current| current < *spent) {
                budget.spent = Some(*spent);
            }
        }
    }

    pub fn settle_provisionally(&self, hold: &Hold, cost_micros: i64) {
        let mut book = self.lock();
        if let Some(entry) = book.holds.remove(&hold.request_id) {
            release(&mut book, &entry.hold);
        }
        if let Some(balance) = book.users.get_mut(&hold.user_id).and_then(|u| u.balance.as_mut()) {
            balance.balance_micros -= cost_micros;
        }
        if let (Some(_), Some(key_id)) = (hold.key_cap_micros, hold.key_id)
            && let Some(spent) = book.keys.get_mut(&key_id).and_then(|k| k.spent.as_mut())
        {
            *spent += cost_micros;
        }
        if let Some(spent) =
            hold.budget.as_ref().and_then(|b| book.budgets.get_mut(&b.month.id())).and_then(|b| b.spent.as_mut())
        {
            *spent += cost_micros;
        }
    }

    pub fn expire_holds(&self, now_ms: i64) -> usize {
        let mut book = self.lock();
        let expired: Vec<Uuid> = book.holds.iter().filter(|(_, e)| e.expires_at <= now_ms).map(|(id, _)| *id).collect();
        for id in &expired {
            if let Some(entry) = book.holds.remove(id) {
                release(&mut book, &entry.hold);
            }
        }
        expired.len()
    }

    pub fn held(&self, user_id: Uuid) -> i64 {
        self.lock().users.get(&user_id).map_or(0, |u| u.held)
    }
}

fn release(book: &mut Book, hold: &Hold) {
    if let Some(user) = book.users.get_mut(&hold.user_id) {
        user.held -= hold.amount_micros;
    }
    if let (Some(_), Some(key_id)) = (hold.key_cap_micros, hold.key_id)
        && let Some(key) = book.keys.get_mut(&key_id)
    {
        key.held -= hold.amount_micros;
    }
    if let Some(budget) = hold.budget.as_ref().and_then(|b| book.budgets.get_mut(&b.month.id())) {
        budget.held -= hold.amount_micros;
    }
}
