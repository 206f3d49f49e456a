//! The in-process limiter: `gcra` over a map of arrival times.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{LimitCheck, LimitVerdict, gcra};

/// Cheap to clone; clones share state.
#[derive(Clone, Default)]
pub struct LocalLimiter {
    arrival_times: Arc<Mutex<HashMap<String, i64>>>,
}

impl LocalLimiter {
    pub fn check(&self, checks: &[LimitCheck], now_us: i64) -> LimitVerdict {
        let mut times = self.arrival_times.lock().unwrap_or_else(|p| p.into_inner());
        // Stale entries (fully replenished) carry no information: drop them now and then.
        if times.len() > 100_000 {
            times.retain(|_, tat| *tat > now_us);
        }
        let outcomes: Vec<_> =
            checks.iter().map(|c| gcra(c, times.get(&c.name).copied().unwrap_or(0), now_us)).collect();
        let admitted = outcomes.iter().all(|(state, _)| state.allowed);
        if admitted {
            for (check, (_, tat)) in checks.iter().zip(&outcomes) {
                times.insert(check.name.clone(), *tat);
            }
        }
        LimitVerdict { states: outcomes.into_iter().map(|(state, _)| state).collect() }
    }

    pub fn adjust(&self, check: &LimitCheck, cost: i64, now_us: i64) {
        let mut times = self.arrival_times.lock().unwrap_or_else(|p| p.into_inner());
        let tat = times.get(&check.name).copied().unwrap_or(0).max(now_us);
        let adjusted = tat.saturating_add(cost.saturating_mul(check.interval_us()));
        if adjusted <= now_us {
            times.remove(&check.name);
        } else {
            times.insert(check.name.clone(), adjusted);
        }
    }
}
