//! Channel selection: the routing table built from a snapshot, and the choice of the next
//! channel for an attempt (priority tier first, weighted random inside the tier).

use std::collections::HashMap;

use oblivious_config::{Channel, Snapshot};
use rand::Rng;

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
    models: HashMap<String, Vec<Candidate>>,
    /// Every public model name, sorted, for listings.
    names: Vec<String>,
}

impl RoutingTable {
    pub fn build(snapshot: &Snapshot) -> Self {
        let mut models: HashMap<String, Vec<Candidate>> = HashMap::new();
        for (index, channel) in snapshot.channels.iter().enumerate() {
            for route in &channel.models {
                models.entry(route.name.clone()).or_default().push(Candidate {
                    channel: index,
                    upstream_model: route.upstream_model.clone(),
                    priority: channel.priority,
                    weight: channel.weight,
                });
            }
        }
        for candidates in models.values_mut() {
            candidates.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.channel.cmp(&b.channel)));
        }
        let mut names: Vec<String> = models.keys().cloned().collect();
        names.sort();
        RoutingTable { models, names }
    }

    /// Candidates for `model` usable by `group` (a channel with no groups serves everyone).
    pub fn candidates<'a>(&'a self, snapshot: &'a Snapshot, model: &str, group: &str) -> Vec<&'a Candidate> {
        self.models
            .get(model)
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
