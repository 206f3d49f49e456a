//! Lane dyeing: which lane, if any, a request from outside belongs to (DESIGN §5 "Lanes").
//!
//! The snapshot's lanes are compiled once per configuration into a [`LaneTable`]; the edge asks
//! it for each request. Lanes are tried by priority (highest first, then name, as the snapshot
//! sorts them); the first live lane whose rules match wins. A lane past its `expiresAt`, with a
//! combination operator this pod does not know, or with no rules at all dyes nothing (a lane
//! without rules is reached only by callers allowed to pick it).
//!
//! Sticky hashing is FNV-1a over `<tag>:<value>`, fixed forever: every pod of every version puts
//! the same caller in the same bucket, and salting with the tag keeps two lanes' 5% from being
//! the same users. Raising a percentage only adds callers; nobody already in leaves.

use http::HeaderMap;
use oblivious_config::{Lane, LaneOperator, LaneRule, ValueMatch};

/// What a rule may look at in one request.
pub struct LaneInput<'a> {
    pub headers: &'a HeaderMap,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    /// The authenticated user (resolved only when some lane needs it, see [`LaneTable::needs_user`]).
    pub user_id: Option<&'a str>,
    /// A uniform number in `0..100` for plain percentage rules, drawn once per request.
    pub roll: u32,
}

/// The lanes of one configuration, ready to evaluate.
#[derive(Debug, Clone, Default)]
pub struct LaneTable {
    lanes: Vec<Lane>,
    needs_user: bool,
}

impl LaneTable {
    /// `lanes` as the snapshot holds them (sorted by priority, then name).
    pub fn new(lanes: &[Lane]) -> Self {
        let mut lanes = lanes.to_vec();
        for lane in &mut lanes {
            for rule in &mut lane.rules {
                if let Some(header) = &mut rule.header {
                    header.name.make_ascii_lowercase();
                }
                if let Some(hash) = &mut rule.hash
                    && let Some(name) = hash.sticky_key.strip_prefix("header:")
                {
                    hash.sticky_key = format!("header:{}", name.to_ascii_lowercase());
                }
            }
        }
        let needs_user = lanes
            .iter()
            .flat_map(|l| &l.rules)
            .any(|rule| rule.user_ids.is_some() || rule.hash.as_ref().is_some_and(|h| h.sticky_key == "userId"));
        LaneTable { lanes, needs_user }
    }

    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// Whether some rule looks at the user, so the edge must know who is calling first.
    pub fn needs_user(&self) -> bool {
        self.needs_user
    }

    /// The lane a request is dyed with, if any.
    pub fn dye(&self, input: &LaneInput<'_>, now_ms: i64) -> Option<&Lane> {
        self.lanes.iter().filter(|lane| is_live(lane, now_ms)).find(|lane| matches(lane, input))
    }

    /// The live lane with this tag: what a caller allowed to pick a lane may name, and what a
    /// hop routes a dyed request by. A tag of a disabled, deleted or expired lane finds nothing,
    /// so such requests go to the baseline.
    pub fn live(&self, tag: &str, now_ms: i64) -> Option<&Lane> {
        self.lanes.iter().find(|lane| lane.tag == tag && is_live(lane, now_ms))
    }
}

fn is_live(lane: &Lane, now_ms: i64) -> bool {
    lane.expires_at_ms.is_none_or(|at| now_ms < at)
}

fn matches(lane: &Lane, input: &LaneInput<'_>) -> bool {
    if lane.rules.is_empty() {
        return false;
    }
    let tag = lane.tag.as_str();
    match lane.operator {
        LaneOperator::And => lane.rules.iter().all(|rule| rule_matches(tag, rule, input)),
        LaneOperator::Or => lane.rules.iter().any(|rule| rule_matches(tag, rule, input)),
        LaneOperator::Unknown => false,
    }
}

fn rule_matches(tag: &str, rule: &LaneRule, input: &LaneInput<'_>) -> bool {
    if let Some(wanted) = &rule.header {
        let found = input.headers.get(wanted.name.as_str()).and_then(|v| v.to_str().ok());
        return value_matches(wanted, found);
    }
    if let Some(wanted) = &rule.cookie {
        return value_matches(wanted, cookie(input.headers, &wanted.name));
    }
    if let Some(wanted) = &rule.query {
        return value_matches(wanted, query_param(input.query, &wanted.name).as_deref());
    }
    if let Some(users) = &rule.user_ids {
        return input.user_id.is_some_and(|user| users.binary_search_by(|u| u.as_str().cmp(user)).is_ok());
    }
    if let Some(hash) = &rule.hash {
        let Some(key) = sticky_value(&hash.sticky_key, input) else { return false };
        return bucket(tag, &key) < hash.percent;
    }
    if let Some(percent) = rule.percentage {
        return input.roll < percent;
    }
    // A kind of rule this pod does not know matches nothing.
    false
}

fn value_matches(wanted: &ValueMatch, found: Option<&str>) -> bool {
    match (&wanted.value, found) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(value), Some(found)) => value == found,
    }
}

fn sticky_value(key: &str, input: &LaneInput<'_>) -> Option<String> {
    if key == "userId" {
        return input.user_id.map(str::to_string);
    }
    let (kind, name) = key.split_once(':')?;
    let value = match kind {
        "header" => input.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string),
        "cookie" => cookie(input.headers, name).map(str::to_string),
        "query" => query_param(input.query, name),
        _ => None,
    };
    value.filter(|v| !v.is_empty())
}

/// `hash(<tag>:<value>) % 100`, stable across processes and releases.
pub fn bucket(tag: &str, value: &str) -> u32 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for byte in tag.bytes().chain(std::iter::once(b':')).chain(value.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    (hash % 100) as u32
}

/// The value of cookie `name` in any `Cookie` header. Malformed pairs are skipped, never fatal.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim().trim_matches('"'))
}

/// The percent-decoded value of query parameter `name`. Malformed escapes are kept as written.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find_map(|(key, value)| (percent_decode(key) == name).then(|| percent_decode(value)))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use http::HeaderValue;
    use oblivious_config::HashRule;

    use super::*;

    fn lane(tag: &str, priority: i32, operator: LaneOperator, rules: Vec<LaneRule>) -> Lane {
        Lane { name: format!("default/{tag}"), tag: tag.into(), priority, operator, rules, ..Lane::default() }
    }

    fn header(name: &str, value: Option<&str>) -> LaneRule {
        LaneRule { header: Some(ValueMatch { name: name.into(), value: value.map(Into::into) }), ..LaneRule::default() }
    }

    fn cookie_rule(name: &str, value: Option<&str>) -> LaneRule {
        LaneRule { cookie: Some(ValueMatch { name: name.into(), value: value.map(Into::into) }), ..LaneRule::default() }
    }

    fn query_rule(name: &str, value: Option<&str>) -> LaneRule {
        LaneRule { query: Some(ValueMatch { name: name.into(), value: value.map(Into::into) }), ..LaneRule::default() }
    }

    fn hash_rule(key: &str, percent: u32) -> LaneRule {
        LaneRule { hash: Some(HashRule { sticky_key: key.into(), percent }), ..LaneRule::default() }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn dye<'a>(table: &'a LaneTable, headers: &HeaderMap, query: Option<&str>, user: Option<&str>) -> Option<&'a str> {
        let input = LaneInput { headers, query, user_id: user, roll: 50 };
        table.dye(&input, 1_000).map(|l| l.tag.as_str())
    }

    #[test]
    fn a_header_rule_matches_presence_or_an_exact_value_whatever_the_name_case() {
        let table = LaneTable::new(&[
            lane("exact", 1, LaneOperator::Or, vec![header("X-Env", Some("canary"))]),
            lane("present", 0, LaneOperator::Or, vec![header("x-canary", None)]),
        ]);
        assert_eq!(dye(&table, &headers(&[("x-env", "canary")]), None, None), Some("exact"));
        assert_eq!(dye(&table, &headers(&[("x-env", "prod")]), None, None), None);
        assert_eq!(dye(&table, &headers(&[("x-canary", "")]), None, None), Some("present"));
        assert_eq!(dye(&table, &HeaderMap::new(), None, None), None);
    }

    #[test]
    fn cookies_are_found_among_several_and_malformed_pairs_are_skipped() {
        let table = LaneTable::new(&[lane("gray", 0, LaneOperator::Or, vec![cookie_rule("lane", Some("gray"))])]);
        let found = headers(&[("cookie", "junk; a=1; lane=gray"), ("cookie", "b=2")]);
        assert_eq!(dye(&table, &found, None, None), Some("gray"));
        let quoted = headers(&[("cookie", "lane=\"gray\"")]);
        assert_eq!(dye(&table, &quoted, None, None), Some("gray"));
        for bad in [";;;", "lane", "=gray", "lanegray=", "xlane=gray"] {
            assert_eq!(dye(&table, &headers(&[("cookie", bad)]), None, None), None, "{bad}");
        }
    }

    #[test]
    fn query_parameters_are_decoded_and_malformed_escapes_do_not_match_by_accident() {
        let table = LaneTable::new(&[lane("gray", 0, LaneOperator::Or, vec![query_rule("lane", Some("gray one"))])]);
        assert_eq!(dye(&table, &HeaderMap::new(), Some("a=1&lane=gray%20one"), None), Some("gray"));
        assert_eq!(dye(&table, &HeaderMap::new(), Some("lane=gray+one"), None), Some("gray"));
        for bad in ["lane=gray%2", "lane=%zzgray one", "&&=&lane", "lane", ""] {
            assert_eq!(dye(&table, &HeaderMap::new(), Some(bad), None), None, "{bad}");
        }
        let presence = LaneTable::new(&[lane("p", 0, LaneOperator::Or, vec![query_rule("canary", None)])]);
        assert_eq!(dye(&presence, &HeaderMap::new(), Some("canary"), None), Some("p"));
    }

    #[test]
    fn a_user_list_matches_only_the_authenticated_users_named() {
        let rule = LaneRule { user_ids: Some(vec!["u1".into(), "u3".into()]), ..LaneRule::default() };
        let table = LaneTable::new(&[lane("gray", 0, LaneOperator::Or, vec![rule])]);
        assert!(table.needs_user());
        assert_eq!(dye(&table, &HeaderMap::new(), None, Some("u3")), Some("gray"));
        assert_eq!(dye(&table, &HeaderMap::new(), None, Some("u2")), None);
        assert_eq!(dye(&table, &HeaderMap::new(), None, None), None);
    }

    #[test]
    fn a_sticky_hash_puts_the_same_user_in_the_same_lane_and_about_the_right_share_of_users() {
        let table = LaneTable::new(&[lane("gray", 0, LaneOperator::Or, vec![hash_rule("userId", 20)])]);
        let mut inside = 0;
        for n in 0..10_000 {
            let user = format!("user-{n}");
            let first = dye(&table, &HeaderMap::new(), None, Some(&user));
            for _ in 0..3 {
                assert_eq!(dye(&table, &HeaderMap::new(), None, Some(&user)), first, "sticky");
            }
            inside += usize::from(first.is_some());
        }
        assert!((1_700..=2_300).contains(&inside), "{inside} of 10000 users in a 20% lane");
        assert_eq!(dye(&table, &HeaderMap::new(), None, None), None, "no user, no bucket");
    }

    #[test]
    fn a_sticky_hash_can_key_on_a_header_cookie_or_query_value() {
        let by_header = LaneTable::new(&[lane("g", 0, LaneOperator::Or, vec![hash_rule("header:X-Device", 100)])]);
        assert_eq!(dye(&by_header, &headers(&[("x-device", "d1")]), None, None), Some("g"));
        assert_eq!(dye(&by_header, &headers(&[("x-device", "")]), None, None), None, "empty is no key");
        let by_cookie = LaneTable::new(&[lane("g", 0, LaneOperator::Or, vec![hash_rule("cookie:sid", 100)])]);
        assert_eq!(dye(&by_cookie, &headers(&[("cookie", "sid=abc")]), None, None), Some("g"));
        let by_query = LaneTable::new(&[lane("g", 0, LaneOperator::Or, vec![hash_rule("query:device", 0)])]);
        assert_eq!(dye(&by_query, &HeaderMap::new(), Some("device=x"), None), None, "0% takes nobody");
    }

    #[test]
    fn a_plain_percentage_compares_the_requests_roll() {
        let rule = LaneRule { percentage: Some(30), ..LaneRule::default() };
        let table = LaneTable::new(&[lane("gray", 0, LaneOperator::Or, vec![rule])]);
        let with_roll =
            |roll| table.dye(&LaneInput { headers: &HeaderMap::new(), query: None, user_id: None, roll }, 0).is_some();
        assert!(with_roll(0) && with_roll(29));
        assert!(!with_roll(30) && !with_roll(99));
    }

    #[test]
    fn and_needs_every_rule_or_needs_one_and_unknown_operators_match_nothing() {
        let rules = vec![header("x-a", None), header("x-b", None)];
        let and = LaneTable::new(&[lane("and", 0, LaneOperator::And, rules.clone())]);
        let or = LaneTable::new(&[lane("or", 0, LaneOperator::Or, rules.clone())]);
        let unknown = LaneTable::new(&[lane("unknown", 0, LaneOperator::Unknown, rules)]);
        let one = headers(&[("x-a", "1")]);
        let both = headers(&[("x-a", "1"), ("x-b", "1")]);
        assert_eq!(dye(&and, &one, None, None), None);
        assert_eq!(dye(&and, &both, None, None), Some("and"));
        assert_eq!(dye(&or, &one, None, None), Some("or"));
        assert_eq!(dye(&unknown, &both, None, None), None);
    }

    #[test]
    fn the_first_lane_in_priority_order_wins_and_rules_this_pod_does_not_know_never_match() {
        let table = LaneTable::new(&[
            lane("high", 10, LaneOperator::Or, vec![header("x-canary", None)]),
            lane("low", 1, LaneOperator::Or, vec![header("x-canary", None)]),
            lane("newer-kind", 0, LaneOperator::Or, vec![LaneRule::default()]),
        ]);
        assert_eq!(dye(&table, &headers(&[("x-canary", "1")]), None, None), Some("high"));
        assert_eq!(dye(&table, &HeaderMap::new(), None, None), None);
    }

    #[test]
    fn an_expired_lane_dyes_nothing_and_is_not_live_but_a_lane_without_rules_is_only_pickable() {
        let mut expired = lane("old", 5, LaneOperator::Or, vec![header("x-canary", None)]);
        expired.expires_at_ms = Some(1_000);
        let table = LaneTable::new(&[expired, lane("manual", 0, LaneOperator::Or, vec![])]);
        let input = LaneInput { headers: &headers(&[("x-canary", "1")]), query: None, user_id: None, roll: 0 };
        assert_eq!(table.dye(&input, 999).map(|l| l.tag.as_str()), Some("old"));
        assert_eq!(table.dye(&input, 1_000).map(|l| l.tag.as_str()), None);
        assert!(table.live("old", 1_000).is_none());
        assert!(table.live("manual", 1_000).is_some());
        assert!(table.live("missing", 0).is_none());
    }

    #[test]
    fn buckets_are_fixed_forever() {
        // Changing the hash would move users between lanes during a rollout.
        assert_eq!(bucket("gray", "user-1"), bucket("gray", "user-1"));
        assert_eq!((bucket("gray", "user-1"), bucket("gray", "user-2"), bucket("blue", "user-1")), (17, 84, 64));
    }

    proptest::proptest! {
        #[test]
        fn percent_decoding_never_panics(text in ".{0,40}") {
            let _ = percent_decode(&text);
            let _ = query_param(Some(&text), "a");
        }

        /// Widening a rollout only adds users: nobody in the 5% leaves when it becomes 20%.
        #[test]
        fn raising_a_sticky_percentage_never_takes_a_user_out(user in "[a-z0-9-]{1,36}", low in 0u32..=100, extra in 0u32..=100) {
            let high = (low + extra).min(100);
            let table = |percent| LaneTable::new(&[lane("gray", 0, LaneOperator::Or, vec![hash_rule("userId", percent)])]);
            let (narrow, wide) = (table(low), table(high));
            let inside = |t: &LaneTable| dye(t, &HeaderMap::new(), None, Some(&user)).is_some();
            proptest::prop_assert!(!inside(&narrow) || inside(&wide));
        }

        /// Whatever the headers, cookies and query, evaluation never panics and picks a live lane.
        #[test]
        fn evaluation_of_arbitrary_requests_never_panics(cookie in ".{0,60}", query in ".{0,60}", value in "[ -~]{0,20}") {
            let table = LaneTable::new(&[
                lane("a", 2, LaneOperator::And, vec![cookie_rule("c", Some(&value)), query_rule("q", None)]),
                lane("b", 1, LaneOperator::Or, vec![hash_rule("cookie:c", 50), hash_rule("query:q", 50)]),
            ]);
            let mut map = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                map.insert(http::header::COOKIE, v);
            }
            let picked = dye(&table, &map, Some(&query), None);
            proptest::prop_assert!(picked.is_none() || matches!(picked, Some("a" | "b")));
        }
    }
}
