//! Passive health of channels and their keys, as this relay sees them.
//!
//! - Outlier ejection: `EJECT_AFTER` consecutive transient failures eject a channel for
//!   `BASE_EJECTION * 2^(n-1)` (capped at `MAX_EJECTION`), n counting ejections since its last
//!   success. When the ejection ends the channel is eligible again; one success resets it.
//! - A key the upstream called invalid or out of quota is disabled for `KEY_DISABLE`; a channel
//!   with no usable key is skipped. Keys are identified by a hash of their text, so a rotated
//!   key (new Secret value) starts fresh without a restart.
//!
//! State is keyed by channel name and survives config swaps. It is per process: every relay
//! replica learns on its own, which is what passive ejection means (Envoy, Linkerd do the same).
//! The same book counts attempts, their latency and the last failure for the health reports the
//! operator folds into `Channel.status.health` ([`HealthBook::totals`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use oblivious_config::health::{ChannelTotals, RequestTotals};
use oblivious_config::{ApiKey, Channel};
use sha2::{Digest, Sha256};

pub const EJECT_AFTER: u32 = 3;
pub const BASE_EJECTION: Duration = Duration::from_secs(10);
pub const MAX_EJECTION: Duration = Duration::from_secs(300);
pub const KEY_DISABLE: Duration = Duration::from_secs(600);

#[derive(Debug, Default)]
struct ChannelHealth {
    consecutive_failures: u32,
    ejections: u32,
    ejected_until: Option<Instant>,
    /// Round-robin cursor over the channel's keys.
    next_key: usize,
    /// Key fingerprint -> disabled until, with the reason.
    disabled_keys: HashMap<[u8; 8], (Instant, &'static str)>,
    successes: u64,
    failures: u64,
    /// Every attempt so far, for health reports.
    attempts: RequestTotals,
    ejections_total: u64,
    /// The latest failure's class and when (Unix milliseconds).
    last_error: Option<(&'static str, i64)>,
}

impl ChannelHealth {
    fn failed(&mut self, class: &'static str) {
        self.failures += 1;
        self.attempts.add_failure();
        self.last_error = Some((class, unix_ms()));
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// A read-only view for status pages and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelHealthView {
    pub channel: String,
    pub ejected: bool,
    pub consecutive_failures: u32,
    pub ejections: u32,
    pub disabled_keys: usize,
    pub last_disable_reason: Option<&'static str>,
    pub successes: u64,
    pub failures: u64,
}

/// Health of every channel, keyed by channel name.
#[derive(Debug, Default)]
pub struct HealthBook {
    channels: Mutex<HashMap<String, ChannelHealth>>,
}

fn fingerprint(key: &ApiKey) -> [u8; 8] {
    let digest = Sha256::digest(key.expose().as_bytes());
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

impl HealthBook {
    fn with<T>(&self, channel: &str, f: impl FnOnce(&mut ChannelHealth) -> T) -> T {
        let mut map = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(state) = map.get_mut(channel) {
            return f(state);
        }
        f(map.entry(channel.to_string()).or_default())
    }

    /// True while the channel is ejected.
    pub fn is_ejected(&self, channel: &str, now: Instant) -> bool {
        self.with(channel, |h| h.ejected_until.is_some_and(|until| until > now))
    }

    /// The next usable key of the channel (round robin), or None when every key is disabled.
    pub fn next_key<'a>(&self, channel: &'a Channel, now: Instant) -> Option<&'a ApiKey> {
        let count = channel.api_keys.len();
        self.with(&channel.name, |h| {
            h.disabled_keys.retain(|_, (until, _)| *until > now);
            for step in 0..count {
                let index = (h.next_key + step) % count;
                let key = &channel.api_keys[index];
                if !h.disabled_keys.contains_key(&fingerprint(key)) {
                    h.next_key = (index + 1) % count;
                    return Some(key);
                }
            }
            None
        })
    }

    /// True when at least one key of the channel is usable.
    pub fn has_usable_key(&self, channel: &Channel, now: Instant) -> bool {
        self.with(&channel.name, |h| {
            channel.api_keys.iter().any(|k| h.disabled_keys.get(&fingerprint(k)).is_none_or(|(until, _)| *until <= now))
        })
    }

    /// An attempt that answered after `latency`.
    pub fn record_success(&self, channel: &str, latency: Duration) {
        self.with(channel, |h| {
            h.consecutive_failures = 0;
            h.ejections = 0;
            h.ejected_until = None;
            h.successes += 1;
            h.attempts.add_success(latency);
        });
    }

    /// Records a transient failure of class `class`; returns true when it caused an ejection.
    pub fn record_transient_failure(&self, channel: &str, class: &'static str, now: Instant) -> bool {
        self.with(channel, |h| {
            h.failed(class);
            h.consecutive_failures += 1;
            let already_ejected = h.ejected_until.is_some_and(|until| until > now);
            if h.consecutive_failures < EJECT_AFTER || already_ejected {
                return false;
            }
            h.ejections += 1;
            h.ejections_total += 1;
            h.consecutive_failures = 0;
            let factor = 1u32 << (h.ejections - 1).min(16);
            let duration = BASE_EJECTION.saturating_mul(factor).min(MAX_EJECTION);
            h.ejected_until = Some(now + duration);
            true
        })
    }

    /// Disables one key after the upstream rejected it (invalid, out of quota).
    pub fn disable_key(&self, channel: &str, key: &ApiKey, reason: &'static str, now: Instant) {
        self.with(channel, |h| {
            h.failed(reason);
            h.disabled_keys.insert(fingerprint(key), (now + KEY_DISABLE, reason));
        });
    }

    /// Every channel's counts so far and whether it is ejected at `now`.
    pub fn totals(&self, now: Instant) -> Vec<ChannelTotals> {
        let map = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        map.iter()
            .map(|(name, h)| ChannelTotals {
                channel: name.clone(),
                attempts: h.attempts,
                ejections: h.ejections_total,
                ejected: h.ejected_until.is_some_and(|until| until > now),
                last_error: h.last_error.map(|(class, at)| (class.to_string(), at)),
            })
            .collect()
    }

    pub fn view(&self, channel: &str, now: Instant) -> ChannelHealthView {
        self.with(channel, |h| ChannelHealthView {
            channel: channel.to_string(),
            ejected: h.ejected_until.is_some_and(|until| until > now),
            consecutive_failures: h.consecutive_failures,
            ejections: h.ejections,
            disabled_keys: h.disabled_keys.values().filter(|(until, _)| *until > now).count(),
            last_disable_reason: h.disabled_keys.values().max_by_key(|(until, _)| *until).map(|(_, r)| *r),
            successes: h.successes,
            failures: h.failures,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn channel(keys: &[&str]) -> Channel {
        Channel {
            name: "ns/c".into(),
            api_keys: keys.iter().map(|k| ApiKey(k.to_string())).collect(),
            ..Channel::default()
        }
    }

    #[test]
    fn keys_rotate_round_robin_and_skip_disabled_ones() {
        let book = HealthBook::default();
        let c = channel(&["a", "b", "c"]);
        let now = Instant::now();
        let picks: Vec<&str> = (0..4).map(|_| book.next_key(&c, now).unwrap().expose()).collect();
        assert_eq!(picks, ["a", "b", "c", "a"]);
        book.disable_key("ns/c", &c.api_keys[1], "invalid_key", now);
        let picks: Vec<&str> = (0..3).map(|_| book.next_key(&c, now).unwrap().expose()).collect();
        assert_eq!(picks, ["c", "a", "c"]);
    }

    #[test]
    fn a_channel_whose_keys_are_all_disabled_has_none_until_they_expire() {
        let book = HealthBook::default();
        let c = channel(&["a"]);
        let now = Instant::now();
        book.disable_key("ns/c", &c.api_keys[0], "insufficient_quota", now);
        assert!(!book.has_usable_key(&c, now));
        assert!(book.next_key(&c, now).is_none());
        assert_eq!(book.view("ns/c", now).last_disable_reason, Some("insufficient_quota"));
        let later = now + KEY_DISABLE + Duration::from_secs(1);
        assert!(book.has_usable_key(&c, later));
    }

    #[test]
    fn ejection_backs_off_exponentially_and_a_success_resets_it() {
        let book = HealthBook::default();
        let t0 = Instant::now();
        assert!(!book.record_transient_failure("x", "upstream_5xx", t0));
        assert!(!book.record_transient_failure("x", "upstream_5xx", t0));
        assert!(book.record_transient_failure("x", "upstream_timeout", t0));
        assert!(book.is_ejected("x", t0 + BASE_EJECTION - Duration::from_millis(1)));
        let t1 = t0 + BASE_EJECTION;
        assert!(!book.is_ejected("x", t1), "recovers automatically");
        for _ in 0..EJECT_AFTER {
            book.record_transient_failure("x", "upstream_5xx", t1);
        }
        let totals = book.totals(t1 + Duration::from_millis(1));
        assert_eq!((totals[0].ejections, totals[0].ejected, totals[0].attempts.failures), (2, true, 6));
        assert_eq!(totals[0].last_error.as_ref().map(|(class, _)| class.as_str()), Some("upstream_5xx"));
        assert!(book.is_ejected("x", t1 + BASE_EJECTION), "second ejection lasts twice as long");
        assert!(!book.is_ejected("x", t1 + BASE_EJECTION * 2));
        book.record_success("x", Duration::from_millis(80));
        assert!(!book.is_ejected("x", t1));
        assert_eq!(book.view("x", t1).ejections, 0);
        let totals = book.totals(t1);
        assert_eq!((totals[0].ejections, totals[0].attempts.requests, totals[0].attempts.latency[2]), (2, 7, 1));
    }
}
