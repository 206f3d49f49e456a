//! Channel selection: the routing table built from a snapshot, and the choice of the next
//! channel for an attempt (priority tier first, weighted random inside the tier).
//!
//! Lane channels (`Channel.lane`) serve only requests dyed with their lane. For a model its
//! lane has channels for, a dyed request's candidates are the lane's channels lifted into a tier
//! above every baseline tier (so they are preferred, and failover still reaches the baseline
//! ones unless the lane is `Strict`); for other models, the baseline's.

use std::collections::HashMap;

use oblivious_config::{Channel, LaneFallback, Snapshot};
use rand::Rng;

/// Added to a lane channel's priority for requests in its lane: above any baseline tier
/// (priorities are bounded to ±1000 by the CRD).
const LANE_TIER: i32 = 1_000_000;

/// A channel able to serve one public model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Index into `Snapshot::channels`.
    pub channel: usize,
    pub upstream_model: String,
    pub priority: i32,
    pub weight: u32,
}

/// Public model name -> candidates, sorted by priority (highest first). Built once per snapshot.
#[derive(Debug, Default)]
pub struct RoutingTable {
    /// Baseline channels only.
    models: HashMap<String, Vec<Candidate>>,
    /// (lane tag, model) -> the lane's channels (lifted by `LANE_TIER`) and, unless the lane is
    /// `Strict`, the baseline's after them.
    lane_models: HashMap<(String, String), Vec<Candidate>>,
    /// Every public model name, sorted, for listings.
    names: Vec<String>,
}

impl RoutingTable {
    pub fn build(snapshot: &Snapshot) -> Self {
        let mut models: HashMap<String, Vec<Candidate>> = HashMap::new();
        let mut lane_models: HashMap<(String, String), Vec<Candidate>> = HashMap::new();
        for (index, channel) in snapshot.channels.iter().enumerate() {
            for route in &channel.models {
                let candidate = Candidate {
                    channel: index,
                    upstream_model: route.upstream_model.clone(),
                    priority: channel.priority,
                    weight: channel.weight,
                };
                if channel.lane.is_empty() {
                    models.entry(route.name.clone()).or_default().push(candidate);
                } else {
                    let lifted = Candidate { priority: channel.priority.saturating_add(LANE_TIER), ..candidate };
                    lane_models.entry((channel.lane.clone(), route.name.clone())).or_default().push(lifted);
                }
            }
        }
        for ((tag, model), candidates) in &mut lane_models {
            let strict = snapshot.lanes.iter().any(|l| &l.tag == tag && l.fallback == LaneFallback::Strict);
            if !strict {
                candidates.extend(models.get(model).into_iter().flatten().cloned());
            }
        }
        for candidates in models.values_mut().chain(lane_models.values_mut()) {
            candidates.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.channel.cmp(&b.channel)));
        }
        let mut names: Vec<String> = models.keys().chain(lane_models.keys().map(|(_, m)| m)).cloned().collect();
        names.sort();
        names.dedup();
        RoutingTable { models, lane_models, names }
    }

    /// Candidates for `model` usable by `group` (a channel with no groups serves everyone), for a
    /// request in the live lane `lane` (None: the baseline).
    pub fn candidates<'a>(
        &'a self,
        snapshot: &'a Snapshot,
        model: &str,
        group: &str,
        lane: Option<&str>,
    ) -> Vec<&'a Candidate> {
        let in_lane = lane.and_then(|tag| self.lane_models.get(&(tag.to_string(), model.to_string())));
        in_lane
            .or_else(|| self.models.get(model))
            .map(|all| all.iter().filter(|c| channel_serves_group(&snapshot.channels[c.channel], group)).collect())
            .unwrap_or_default()
    }

    pub fn knows_model(&self, model: &str) -> bool {
        self.models.contains_key(model)
    }

    pub fn model_names(&self) -> &[String] {
        &self.names
    }
}

fn channel_serves_group(channel: &Channel, group: &str) -> bool {
    channel.groups.is_empty() || channel.groups.iter().any(|g| g == group)
}

/// What the selector needs to know about a candidate's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Healthy,
    /// Passive outlier ejection in effect: used only when nothing healthy is left (panic mode,
    /// as Envoy does, so a fleet-wide blip does not turn into a total outage).
    Ejected,
    /// Suspended, already tried for this request, or without a usable key: never picked.
    Unusable,
}

/// Picks the next candidate: the highest priority tier among healthy candidates, weighted random
/// inside it; if no candidate is healthy, the same among ejected ones.
pub fn select<'a, R: Rng + ?Sized>(
    candidates: &[&'a Candidate],
    availability: impl Fn(&Candidate) -> Availability,
    rng: &mut R,
) -> Option<&'a Candidate> {
    let states: Vec<Availability> = candidates.iter().map(|c| availability(c)).collect();
    let pool_state =
        if states.contains(&Availability::Healthy) { Availability::Healthy } else { Availability::Ejected };
    let pool: Vec<&'a Candidate> =
        candidates.iter().zip(&states).filter(|(_, s)| **s == pool_state).map(|(c, _)| *c).collect();
    let top = pool.iter().map(|c| c.priority).max()?;
    let tier: Vec<&'a Candidate> = pool.into_iter().filter(|c| c.priority == top).collect();
    weighted_pick(&tier, rng)
}

/// Weighted random choice; a tier whose weights are all zero is chosen from uniformly.
fn weighted_pick<'a, R: Rng + ?Sized>(tier: &[&'a Candidate], rng: &mut R) -> Option<&'a Candidate> {
    let total: u64 = tier.iter().map(|c| u64::from(c.weight)).sum();
    if total == 0 {
        return tier.get(rng.random_range(0..tier.len().max(1))).copied();
    }
    let mut ticket = rng.random_range(0..total);
    for candidate in tier {
        let weight = u64::from(candidate.weight);
        if ticket < weight {
            return Some(candidate);
        }
        ticket -= weight;
    }
    tier.last().copied()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn cand(channel: usize, priority: i32, weight: u32) -> Candidate {
        Candidate { channel, upstream_model: "m".into(), priority, weight }
    }

    #[test]
    fn the_highest_priority_tier_wins_while_any_member_is_healthy() {
        let cands = [cand(0, 0, 100), cand(1, 10, 1), cand(2, 10, 1)];
        let refs: Vec<&Candidate> = cands.iter().collect();
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..100 {
            let picked = select(&refs, |_| Availability::Healthy, &mut rng).unwrap();
            assert_eq!(picked.priority, 10);
        }
        let picked =
            select(&refs, |c| if c.priority == 10 { Availability::Unusable } else { Availability::Healthy }, &mut rng);
        assert_eq!(picked.unwrap().channel, 0);
    }

    #[test]
    fn ejected_channels_are_used_only_when_nothing_healthy_is_left() {
        let cands = [cand(0, 10, 100), cand(1, 0, 100)];
        let refs: Vec<&Candidate> = cands.iter().collect();
        let mut rng = StdRng::seed_from_u64(2);
        let eject_first = |c: &Candidate| if c.channel == 0 { Availability::Ejected } else { Availability::Healthy };
        assert_eq!(select(&refs, eject_first, &mut rng).unwrap().channel, 1);
        let all_ejected = |_: &Candidate| Availability::Ejected;
        assert_eq!(select(&refs, all_ejected, &mut rng).unwrap().channel, 0);
        assert!(select(&refs, |_| Availability::Unusable, &mut rng).is_none());
    }

    fn lane_snapshot(fallback: LaneFallback) -> Snapshot {
        let channel = |name: &str, lane: &str, priority: i32| Channel {
            name: name.into(),
            lane: lane.into(),
            priority,
            models: vec![oblivious_config::ModelRoute { name: "m".into(), upstream_model: "m".into() }],
            ..Channel::default()
        };
        Snapshot {
            channels: vec![channel("base", "", 10), channel("gray", "gray", 0)],
            lanes: vec![oblivious_config::Lane { tag: "gray".into(), fallback, ..Default::default() }],
            ..Snapshot::default()
        }
    }

    #[test]
    fn lane_channels_serve_only_their_lane_and_come_first_there() {
        let snapshot = lane_snapshot(LaneFallback::Baseline);
        let table = RoutingTable::build(&snapshot);
        let names = |lane| {
            table
                .candidates(&snapshot, "m", "default", lane)
                .iter()
                .map(|c| snapshot.channels[c.channel].name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(None), ["base"], "baseline traffic never uses a lane channel");
        assert_eq!(names(Some("gray")), ["gray", "base"], "preferred, with the baseline to fail over to");
        assert_eq!(names(Some("blue")), ["base"], "a lane without channels uses the baseline's");
        let mut rng = StdRng::seed_from_u64(3);
        let lane = table.candidates(&snapshot, "m", "default", Some("gray"));
        assert_eq!(select(&lane, |_| Availability::Healthy, &mut rng).unwrap().channel, 1);
        assert_eq!(table.model_names(), ["m"]);
    }

    #[test]
    fn a_strict_lanes_requests_never_leave_its_channels() {
        let snapshot = lane_snapshot(LaneFallback::Strict);
        let table = RoutingTable::build(&snapshot);
        let lane = table.candidates(&snapshot, "m", "default", Some("gray"));
        assert_eq!(lane.iter().map(|c| c.channel).collect::<Vec<_>>(), [1]);
    }

    proptest! {
        #[test]
        fn picks_within_a_tier_follow_the_weights(w0 in 1u32..50, w1 in 1u32..50, w2 in 0u32..50, seed in any::<u64>()) {
            let cands = [cand(0, 5, w0), cand(1, 5, w1), cand(2, 5, w2)];
            let refs: Vec<&Candidate> = cands.iter().collect();
            let mut rng = StdRng::seed_from_u64(seed);
            let draws = 20_000;
            let mut counts = [0u32; 3];
            for _ in 0..draws {
                counts[select(&refs, |_| Availability::Healthy, &mut rng).unwrap().channel] += 1;
            }
            let total = f64::from(w0 + w1 + w2);
            for (i, w) in [w0, w1, w2].into_iter().enumerate() {
                let expected = f64::from(w) / total;
                let observed = f64::from(counts[i]) / f64::from(draws);
                // 20k draws: a binomial proportion's standard deviation is at most 0.0036; allow ~5 sigma.
                prop_assert!((observed - expected).abs() < 0.02, "channel {i}: expected {expected}, observed {observed}");
            }
        }
    }
}
