//! Lane resources -> the snapshot's lanes. The edge evaluates the rules at request time (so
//! `expiresAt` needs no recompile); member readiness is an input: a fixed endpoint is taken
//! as ready (the data plane cannot know better), a selector member is as ready as the operator
//! observed ([`Observed::lane_members`]).

use std::collections::BTreeSet;

use oblivious_config::{HashRule, Lane, LaneFallback, LaneMember, LaneOperator, LaneRule, ValueMatch};
use oblivious_crds::{LaneSpec, Sourced};

use crate::{CompileError, Observed, parse_rfc3339_ms};

const MAX_RULES: usize = 16;

pub(crate) fn compile_lanes(
    lanes: &[Sourced<LaneSpec>],
    observed: &Observed,
    errors: &mut Vec<CompileError>,
) -> Vec<Lane> {
    let mut out: Vec<Lane> = Vec::new();
    let mut tags = BTreeSet::new();
    let mut sorted: Vec<&Sourced<LaneSpec>> = lanes.iter().collect();
    // A tag claimed twice is an error on the later name, whatever the file order.
    sorted.sort_by_key(|l| l.metadata.key());
    for source in sorted {
        let name = source.metadata.key();
        let mut ok = true;
        let mut error = |path: &str, reason: String| {
            ok = false;
            errors.push(CompileError {
                origin: source.origin(),
                resource: format!("Lane {name}"),
                path: path.into(),
                reason,
            })
        };
        let spec = &source.spec;
        if !is_dns_label(&spec.tag) || spec.tag == "baseline" {
            error("spec.tag", format!("`{}` is not a lowercase DNS label other than `baseline`", spec.tag));
        } else if !tags.insert(spec.tag.clone()) {
            error("spec.tag", format!("another Lane already uses tag `{}`", spec.tag));
        }
        let expires_at_ms = match spec.expires_at.as_deref().map(parse_rfc3339_ms).transpose() {
            Ok(at) => at,
            Err(reason) => {
                error("spec.expiresAt", reason);
                None
            }
        };
        if spec.conditions.rules.len() > MAX_RULES {
            error("spec.conditions.rules", format!("at most {MAX_RULES} rules"));
        }
        let mut rules = Vec::new();
        for (i, rule) in spec.conditions.rules.iter().enumerate() {
            match compile_rule(rule) {
                Ok(rule) => rules.push(rule),
                Err(reason) => error(&format!("spec.conditions.rules[{i}]"), reason),
            }
        }
        if spec.members.is_empty() {
            error("spec.members", "list at least one service with a lane version".into());
        }
        let mut services = BTreeSet::new();
        let mut members = Vec::new();
        for (i, member) in spec.members.iter().enumerate() {
            let service = member.service.as_str();
            if !services.insert(service) {
                error(&format!("spec.members[{i}].service"), format!("`{service}` appears twice"));
                continue;
            }
            match (&member.selector, &member.endpoint) {
                (Some(_), None) => {
                    let seen = observed.lane_members.get(&name).and_then(|m| m.get(service));
                    members.push(LaneMember {
                        service: service.into(),
                        endpoint: seen.map(|m| m.endpoint.clone()).unwrap_or_default(),
                        ready: seen.is_some_and(|m| m.ready),
                    });
                }
                (None, Some(endpoint)) => {
                    let valid = url::Url::parse(endpoint)
                        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
                    if !valid {
                        error(&format!("spec.members[{i}].endpoint"), format!("`{endpoint}` is not an http(s) URL"));
                        continue;
                    }
                    let endpoint = endpoint.trim_end_matches('/').to_string();
                    members.push(LaneMember { service: service.into(), endpoint, ready: true });
                }
                _ => error(&format!("spec.members[{i}]"), "set exactly one of selector and endpoint".into()),
            }
        }
        members.sort_by(|a, b| a.service.cmp(&b.service));
        if !ok || !spec.enabled {
            // A disabled lane is left out: a request carrying its tag then finds no lane and
            // goes to the baseline, which is what disabling means.
            continue;
        }
        out.push(Lane {
            name,
            tag: spec.tag.clone(),
            priority: spec.priority,
            operator: match spec.conditions.operator {
                oblivious_crds::LaneOperator::And => LaneOperator::And,
                oblivious_crds::LaneOperator::Or => LaneOperator::Or,
            },
            rules,
            members,
            fallback: match spec.fallback {
                oblivious_crds::LaneFallback::Baseline => LaneFallback::Baseline,
                oblivious_crds::LaneFallback::Strict => LaneFallback::Strict,
            },
            expires_at_ms,
        });
    }
    out.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.name.cmp(&b.name)));
    out
}

fn compile_rule(rule: &oblivious_crds::LaneRule) -> Result<LaneRule, String> {
    let set = [
        rule.header.is_some(),
        rule.cookie.is_some(),
        rule.query.is_some(),
        rule.user_ids.is_some(),
        rule.hash.is_some(),
        rule.percentage.is_some(),
    ];
    if set.iter().filter(|s| **s).count() != 1 {
        return Err("set exactly one of header, cookie, query, userIds, hash, percentage".into());
    }
    let value = |m: &oblivious_crds::ValueMatch, lowercase: bool| -> Result<ValueMatch, String> {
        if m.name.is_empty() {
            return Err("name must not be empty".into());
        }
        let name = if lowercase { m.name.to_ascii_lowercase() } else { m.name.clone() };
        Ok(ValueMatch { name, value: m.value.clone() })
    };
    if let Some(percent) = rule.percentage.or(rule.hash.as_ref().map(|h| h.percent))
        && percent > 100
    {
        return Err(format!("{percent} is not a percentage (0 to 100)"));
    }
    if let Some(hash) = &rule.hash {
        let key_ok = hash.sticky_key == "userId"
            || ["header:", "cookie:", "query:"]
                .iter()
                .any(|p| hash.sticky_key.strip_prefix(p).is_some_and(|n| !n.is_empty()));
        if !key_ok {
            return Err(format!(
                "stickyKey `{}` is not userId, header:NAME, cookie:NAME or query:NAME",
                hash.sticky_key
            ));
        }
    }
    Ok(LaneRule {
        header: rule.header.as_ref().map(|m| value(m, true)).transpose()?,
        cookie: rule.cookie.as_ref().map(|m| value(m, false)).transpose()?,
        query: rule.query.as_ref().map(|m| value(m, false)).transpose()?,
        user_ids: rule.user_ids.as_ref().map(|ids| ids.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect()),
        hash: rule.hash.as_ref().map(|h| HashRule { sticky_key: h.sticky_key.clone(), percent: h.percent }),
        percentage: rule.percentage,
    })
}

/// RFC 1123 label.
pub(crate) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}
