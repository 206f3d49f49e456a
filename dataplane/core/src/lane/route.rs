//! Lane routing between hops: where a hop sends a request for the next service, given the
//! request's lane (DESIGN §5 "Lanes").
//!
//! The lane's member for that service when it is ready; otherwise the baseline (`Baseline`: the
//! tag stays on the request so a later hop can re-enter the lane) or nowhere (`Strict`: the
//! caller answers `503 lane_unavailable`). Readiness is the snapshot's (the operator's view, or
//! `ready: true` for a fixed endpoint) narrowed by what this process saw: a member that refused a
//! connection is skipped for `MEMBER_COOLDOWN`, so a killed lane version costs one failed connect
//! per process, not one per request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use oblivious_config::LaneFallback;

use super::rules::LaneTable;

/// How long a member that could not be reached is skipped.
pub const MEMBER_COOLDOWN: Duration = Duration::from_secs(3);

/// Where the next hop is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextHop {
    /// The service's baseline (its ordinary address).
    Baseline,
    /// The lane version's base URL.
    Member(String),
    /// The lane is `Strict` and has no ready member for the service.
    Unavailable,
}

/// Passive readiness of lane members, per process.
#[derive(Debug, Default)]
pub struct LaneRouter {
    unreachable_until: Mutex<HashMap<String, Instant>>,
}

impl LaneRouter {
    /// The next hop for `service` of a request in lane `tag` (None: not dyed).
    pub fn next_hop(&self, table: &LaneTable, tag: Option<&str>, service: &str, now_ms: i64) -> NextHop {
        let Some(lane) = tag.and_then(|tag| table.live(tag, now_ms)) else { return NextHop::Baseline };
        let Some(member) = lane.members.iter().find(|m| m.service == service) else {
            // The lane has no version of this service: every dyed request uses its baseline.
            return NextHop::Baseline;
        };
        if member.ready && !member.endpoint.is_empty() && self.reachable(&member.endpoint) {
            return NextHop::Member(member.endpoint.clone());
        }
        match lane.fallback {
            LaneFallback::Strict => NextHop::Unavailable,
            LaneFallback::Baseline | LaneFallback::Unknown => NextHop::Baseline,
        }
    }

    /// Records that `endpoint` refused a connection (or answered it was shutting down).
    pub fn member_failed(&self, endpoint: &str) {
        let mut map = self.unreachable_until.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(endpoint.to_string(), Instant::now() + MEMBER_COOLDOWN);
    }

    fn reachable(&self, endpoint: &str) -> bool {
        let map = self.unreachable_until.lock().unwrap_or_else(|p| p.into_inner());
        map.get(endpoint).is_none_or(|until| Instant::now() >= *until)
    }
}

#[cfg(test)]
mod tests {
    use oblivious_config::{Lane, LaneMember};

    use super::*;

    fn table(fallback: LaneFallback, ready: bool) -> LaneTable {
        LaneTable::new(&[Lane {
            name: "default/gray".into(),
            tag: "gray".into(),
            members: vec![LaneMember { service: "relay".into(), endpoint: "http://gray:8080".into(), ready }],
            fallback,
            expires_at_ms: Some(10_000),
            ..Lane::default()
        }])
    }

    #[test]
    fn a_dyed_request_goes_to_the_ready_member_and_everything_else_to_the_baseline() {
        let router = LaneRouter::default();
        let table = table(LaneFallback::Baseline, true);
        assert_eq!(router.next_hop(&table, Some("gray"), "relay", 0), NextHop::Member("http://gray:8080".into()));
        assert_eq!(router.next_hop(&table, None, "relay", 0), NextHop::Baseline);
        assert_eq!(router.next_hop(&table, Some("gray"), "chat", 0), NextHop::Baseline, "no chat member");
        assert_eq!(router.next_hop(&table, Some("blue"), "relay", 0), NextHop::Baseline, "unknown lane");
        assert_eq!(router.next_hop(&table, Some("gray"), "relay", 10_000), NextHop::Baseline, "expired");
    }

    #[test]
    fn an_unready_member_falls_back_to_the_baseline_or_fails_for_a_strict_lane() {
        let router = LaneRouter::default();
        assert_eq!(router.next_hop(&table(LaneFallback::Baseline, false), Some("gray"), "relay", 0), NextHop::Baseline);
        assert_eq!(
            router.next_hop(&table(LaneFallback::Strict, false), Some("gray"), "relay", 0),
            NextHop::Unavailable
        );
        assert_eq!(router.next_hop(&table(LaneFallback::Unknown, false), Some("gray"), "relay", 0), NextHop::Baseline);
    }

    #[test]
    fn a_member_that_refused_a_connection_is_skipped_for_a_while() {
        let router = LaneRouter::default();
        let strict = table(LaneFallback::Strict, true);
        router.member_failed("http://gray:8080");
        assert_eq!(router.next_hop(&strict, Some("gray"), "relay", 0), NextHop::Unavailable);
        router.unreachable_until.lock().unwrap_or_else(|p| p.into_inner()).clear();
        assert_eq!(router.next_hop(&strict, Some("gray"), "relay", 0), NextHop::Member("http://gray:8080".into()));
    }
}
