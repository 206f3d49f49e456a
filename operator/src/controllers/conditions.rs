//! Building a status's conditions: each reconcile states every condition afresh, and a
//! condition keeps its `lastTransitionTime` unless its status flipped, so `kubectl describe`
//! says how long a problem has lasted.

use oblivious_crds::status::{Condition, FALSE, TRUE, UNKNOWN};

/// Reasons for not being Ready that resolve without anyone acting.
const TRANSIENT_REASONS: [&str; 3] = ["Progressing", "MembersNotReady", "SecretChanging"];

/// The conditions of one reconcile.
pub struct Conditions<'a> {
    previous: &'a [Condition],
    generation: Option<i64>,
    now: String,
    out: Vec<Condition>,
}

impl<'a> Conditions<'a> {
    /// Starts from the object's current conditions (to keep transition times).
    pub fn new(previous: &'a [Condition], generation: Option<i64>) -> Self {
        Conditions { previous, generation, now: now_rfc3339(), out: Vec::new() }
    }

    /// States one condition; `reason` is CamelCase, `message` says what to do about it.
    pub fn set(&mut self, type_: &str, ok: bool, reason: &str, message: impl Into<String>) -> &mut Self {
        self.put(type_, if ok { TRUE } else { FALSE }, reason, message.into())
    }

    /// States a condition that cannot be decided yet.
    pub fn unknown(&mut self, type_: &str, reason: &str, message: impl Into<String>) -> &mut Self {
        self.put(type_, UNKNOWN, reason, message.into())
    }

    fn put(&mut self, type_: &str, status: &str, reason: &str, message: String) -> &mut Self {
        let last_transition_time = match self.previous.iter().find(|c| c.type_ == type_) {
            Some(previous) if previous.status == status => previous.last_transition_time.clone(),
            _ => self.now.clone(),
        };
        self.out.retain(|c| c.type_ != type_);
        self.out.push(Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: truncate(message, 4096),
            last_transition_time,
            observed_generation: self.generation,
        });
        self
    }

    /// `Ready` = every condition so far is `True`; otherwise it carries the first failing
    /// condition's reason and message, so `kubectl get` shows the cause.
    ///
    /// A resource that is not Ready also gets one of kstatus's abnormal-true conditions, which
    /// is what Flux and other kstatus readers look at (they ignore `Ready`): `Reconciling` when
    /// the cause passes by itself (pods starting), `Stalled` when a person must act.
    pub fn ready(&mut self, ready_reason: &str, ready_message: &str) -> &mut Self {
        match self.out.iter().find(|c| c.status != TRUE).cloned() {
            None => self.put("Ready", TRUE, ready_reason, ready_message.into()),
            Some(blocking) => {
                let kstatus =
                    if TRANSIENT_REASONS.contains(&blocking.reason.as_str()) { "Reconciling" } else { "Stalled" };
                self.put(kstatus, TRUE, &blocking.reason, blocking.message.clone());
                self.put("Ready", &blocking.status, &blocking.reason, blocking.message)
            }
        }
    }

    /// The conditions, `Ready` first.
    pub fn finish(mut self) -> Vec<Condition> {
        self.out.sort_by_key(|c| c.type_ != "Ready");
        self.out
    }
}

/// Conditions that changed status or reason since `previous`: the ones worth an event.
pub fn changed<'c>(previous: &[Condition], next: &'c [Condition]) -> Vec<&'c Condition> {
    next.iter()
        .filter(|c| {
            previous.iter().find(|p| p.type_ == c.type_).is_none_or(|p| p.status != c.status || p.reason != c.reason)
        })
        .collect()
}

/// Now, as Kubernetes writes times (RFC 3339, seconds, UTC).
pub fn now_rfc3339() -> String {
    rfc3339(k8s_openapi::jiff::Timestamp::now())
}

/// `at` as Kubernetes writes times (RFC 3339, seconds, UTC).
pub fn rfc3339(at: k8s_openapi::jiff::Timestamp) -> String {
    at.round(k8s_openapi::jiff::Unit::Second).unwrap_or(at).to_string()
}

/// Cuts a message to `max` bytes on a character boundary.
pub fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max.saturating_sub(3);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn ready_carries_the_first_failing_reason_and_an_unchanged_status_keeps_its_transition_time() {
        let mut first = Conditions::new(&[], Some(1));
        first.set("Accepted", true, "Accepted", "ok").set("ResolvedRefs", false, "SecretNotFound", "no Secret x");
        first.ready("Ready", "ready");
        let first = first.finish();
        assert_eq!(first[0].type_, "Ready");
        assert_eq!((first[0].status.as_str(), first[0].reason.as_str()), ("False", "SecretNotFound"));
        let stalled = first.iter().find(|c| c.type_ == "Stalled").unwrap();
        assert_eq!((stalled.status.as_str(), stalled.reason.as_str()), ("True", "SecretNotFound"), "kstatus: Failed");

        let mut old = first.clone();
        for c in &mut old {
            c.last_transition_time = "2020-01-01T00:00:00Z".into();
        }
        let mut second = Conditions::new(&old, Some(2));
        second.set("Accepted", true, "Accepted", "ok").set("ResolvedRefs", true, "Resolved", "ok");
        second.ready("Ready", "ready");
        let second = second.finish();
        let accepted = second.iter().find(|c| c.type_ == "Accepted").unwrap();
        assert_eq!(accepted.last_transition_time, "2020-01-01T00:00:00Z");
        let refs = second.iter().find(|c| c.type_ == "ResolvedRefs").unwrap();
        assert_ne!(refs.last_transition_time, "2020-01-01T00:00:00Z", "a flip moves the transition time");
        assert!(second.iter().all(|c| c.type_ != "Stalled" && c.type_ != "Reconciling"), "Ready: neither");
        let flipped: Vec<&str> = changed(&old, &second).iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(flipped, ["Ready", "ResolvedRefs"]);
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let cut = truncate("é".repeat(10), 8);
        assert!(cut.len() <= 8 && cut.ends_with("..."), "{cut}");
    }
}
