//! Folds the tenant's relays' budget reports into `Tenant.status.budget` and the `WithinBudget`
//! condition. The relays enforce the budget themselves (a hold per request against the month's
//! spend, like a key's cap; refused with `tenant_budget_exceeded`); this only shows where it
//! stands. Each relay reports the spend it last read from the database (every charge it settles
//! returns the month's total), so the largest report of the current month is the truth as of
//! the latest charge.

use k8s_openapi::jiff::Timestamp;
use oblivious_compile::parse_price_micros;
use oblivious_crds::{BudgetSpec, BudgetStatus};

use super::health::{Verdict, percent};
use crate::distribution::PodHealth;

/// From this share on the condition warns (it stays True).
pub const NEARLY_SPENT: f64 = 0.9;

/// What status says about a tenant's budget.
pub struct BudgetFold {
    pub status: BudgetStatus,
    /// Share spent, when known (for `tenant_budget_used_ratio`).
    pub ratio: Option<f64>,
    pub verdict: Verdict,
}

/// `YYYY-MM` of `now` (UTC).
fn month_of(now: Timestamp) -> String {
    let date = now.to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC).date();
    format!("{:04}-{:02}", date.year(), date.month())
}

/// Micro-units as a decimal: `1234.5`, `0.000001`, `12`.
fn decimal(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let (units, fraction) = (micros.unsigned_abs() / 1_000_000, micros.unsigned_abs() % 1_000_000);
    if fraction == 0 {
        return format!("{sign}{units}");
    }
    let digits = format!("{fraction:06}");
    format!("{sign}{units}.{}", digits.trim_end_matches('0'))
}

/// The budget of `tenant` at `now` from its pods' fresh reports.
pub fn fold(spec: &BudgetSpec, reports: &[PodHealth], tenant: &str, now: Timestamp) -> BudgetFold {
    let month = month_of(now);
    let limit = parse_price_micros(&spec.monthly_limit).ok().and_then(|m| i64::try_from(m).ok()).unwrap_or(0);
    let reporting: Vec<&PodHealth> =
        reports.iter().filter(|r| r.tenant == tenant && r.is_fresh(now.as_millisecond())).collect();
    // A relay that has seen no charge this month yet still reports last month: it knows of none.
    let spent = reporting
        .iter()
        .filter_map(|r| r.budget.as_ref())
        .map(|b| if b.month == month { b.spent_micros } else { 0 })
        .max()
        .or_else(|| reporting.iter().any(|r| r.role == "relay" || r.role == "all").then_some(0));
    let ratio = spent.filter(|_| limit > 0).map(|spent| spent as f64 / limit as f64);
    let status = BudgetStatus {
        month: month.clone(),
        currency: spec.currency.clone(),
        monthly_limit: spec.monthly_limit.clone(),
        spent: spent.map(decimal),
        used: ratio.map(percent),
    };
    let verdict = |healthy, reason, message: String| Verdict { healthy, reason, message };
    let verdict = match (spent, ratio) {
        (None, _) => verdict(None, "NoReports", format!("no relay of tenant {tenant} reports its spending yet")),
        (Some(spent), Some(ratio)) if ratio >= 1.0 => verdict(
            Some(false),
            "BudgetSpent",
            format!(
                "{} {} of {} spent in {month}: the relays refuse new requests (tenant_budget_exceeded) until next month or a higher spec.budget.monthlyLimit",
                decimal(spent),
                spec.currency,
                spec.monthly_limit
            ),
        ),
        (Some(spent), Some(ratio)) if ratio >= NEARLY_SPENT => verdict(
            Some(true),
            "NearlySpent",
            format!(
                "{} {} of {} spent in {month} ({:.1}%)",
                decimal(spent),
                spec.currency,
                spec.monthly_limit,
                ratio * 100.0
            ),
        ),
        (Some(spent), _) => verdict(
            Some(true),
            "WithinBudget",
            format!("{} {} of {} spent in {month}", decimal(spent), spec.currency, spec.monthly_limit),
        ),
    };
    BudgetFold { status, ratio, verdict }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use oblivious_config::health::{BudgetSpend, RequestTotals};

    use super::*;

    fn relay(pod: &str, month: &str, spent_micros: i64, now: Timestamp) -> PodHealth {
        PodHealth {
            tenant: "acme".into(),
            pod: pod.into(),
            role: "relay".into(),
            lane: String::new(),
            received_at_ms: now.as_millisecond(),
            window_seconds: 300,
            served: RequestTotals::default(),
            channels: vec![],
            budget: Some(BudgetSpend { month: month.into(), spent_micros }),
        }
    }

    fn spec() -> BudgetSpec {
        BudgetSpec { currency: "USD".into(), monthly_limit: "100".into() }
    }

    #[test]
    fn the_largest_report_of_this_month_counts_and_last_months_count_as_nothing() {
        let now: Timestamp = "2026-12-07T18:00:00Z".parse().unwrap();
        let reports = [
            relay("a", "2026-12", 42_500_000, now),
            relay("b", "2026-12", 40_000_000, now),
            relay("c", "2026-11", 99_000_000, now),
        ];
        let folded = fold(&spec(), &reports, "acme", now);
        assert_eq!(folded.status.month, "2026-12");
        assert_eq!(folded.status.spent.as_deref(), Some("42.5"));
        assert_eq!(folded.status.used.as_deref(), Some("42.5%"));
        assert_eq!((folded.verdict.healthy, folded.verdict.reason), (Some(true), "WithinBudget"));
        assert!((folded.ratio.unwrap() - 0.425).abs() < 1e-9);
    }

    #[test]
    fn a_spent_budget_is_a_false_condition_that_says_what_the_relays_do() {
        let now: Timestamp = "2026-12-07T18:00:00Z".parse().unwrap();
        let folded = fold(&spec(), &[relay("a", "2026-12", 100_000_001, now)], "acme", now);
        assert_eq!((folded.verdict.healthy, folded.verdict.reason), (Some(false), "BudgetSpent"));
        assert!(folded.verdict.message.contains("tenant_budget_exceeded"), "{}", folded.verdict.message);
        let nearly = fold(&spec(), &[relay("a", "2026-12", 95_000_000, now)], "acme", now);
        assert_eq!(nearly.verdict.reason, "NearlySpent");
        let none = fold(&spec(), &[], "acme", now);
        assert_eq!((none.verdict.healthy, none.status.spent), (None, None));
    }

    #[test]
    fn decimals_read_like_the_spec() {
        assert_eq!(decimal(12_000_000), "12");
        assert_eq!(decimal(1), "0.000001");
        assert_eq!(decimal(1_234_500_000), "1234.5");
    }
}
