//! The tenant's monthly budget as this relay last read it from the database: each settled charge
//! and each reload of a budget month brings the month's spend, and the newest is kept for the
//! health reports, so the operator can show it in the Tenant's status.

use std::sync::Mutex;

use oblivious_config::health::BudgetSpend;
use oblivious_store::BudgetMonth;

/// The latest month's spend seen (by month, then the larger amount: spend only grows).
#[derive(Debug, Default)]
pub struct BudgetSeen {
    latest: Mutex<Option<BudgetSpend>>,
}

impl BudgetSeen {
    pub fn observe(&self, month: &BudgetMonth, spent_micros: i64) {
        let mut latest = self.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let newer = latest
            .as_ref()
            .is_none_or(|seen| (month.month.as_str(), spent_micros) > (seen.month.as_str(), seen.spent_micros));
        if newer {
            *latest = Some(BudgetSpend { month: month.month.clone(), spent_micros });
        }
    }

    pub fn latest(&self) -> Option<BudgetSpend> {
        self.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_month_and_the_largest_spend_win() {
        let seen = BudgetSeen::default();
        let month = |m: &str| BudgetMonth { tenant: "acme".into(), month: m.into() };
        seen.observe(&month("2026-11"), 900);
        seen.observe(&month("2026-12"), 10);
        seen.observe(&month("2026-12"), 7); // a settlement answered out of order
        seen.observe(&month("2026-11"), 950); // a late charge of last month
        assert_eq!(seen.latest(), Some(BudgetSpend { month: "2026-12".into(), spent_micros: 10 }));
    }
}
