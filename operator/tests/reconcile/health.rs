//! Folding the data-plane pods' health reports into Channel and Lane status.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use oblivious_config::health::{ChannelTotals, RequestTotals};
use oblivious_operator::cluster::insert;
use oblivious_operator::controllers::{channel, lane};
use oblivious_operator::distribution::PodHealth;
use serde_json::{Value, json};

use crate::fixtures::*;

const CHANNEL_STATUS: &str = "PATCH /apis/oblivious.dev/v1alpha1/namespaces/team/channels/openai/status";
const LANE_STATUS: &str = "PATCH /apis/oblivious.dev/v1alpha1/namespaces/team/lanes/gray/status";

fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

/// `successes` answered in `latency`, then `failures`.
fn totals(successes: u64, latency: Duration, failures: u64) -> RequestTotals {
    let mut totals = RequestTotals::default();
    (0..successes).for_each(|_| totals.add_success(latency));
    (0..failures).for_each(|_| totals.add_failure());
    totals
}

fn pod(tenant: &str, name: &str, role: &str, lane: &str, age_secs: i64) -> PodHealth {
    PodHealth {
        tenant: tenant.into(),
        pod: name.into(),
        role: role.into(),
        lane: lane.into(),
        received_at_ms: now_ms() - age_secs * 1000,
        window_seconds: 300,
        served: RequestTotals::default(),
        channels: vec![],
        budget: None,
    }
}

fn channel_seen(attempts: RequestTotals, ejected: bool, last_error: Option<(&str, i64)>) -> ChannelTotals {
    ChannelTotals {
        channel: "team/openai".into(),
        attempts,
        ejections: u64::from(ejected),
        ejected,
        last_error: last_error.map(|(class, at)| (class.into(), at)),
    }
}

async fn channel_status(health: Vec<PodHealth>, previous: Option<Value>) -> Option<Value> {
    let mut object = channel(channel_spec());
    let stores = stores(|w| {
        insert(&mut w.channels, object.clone());
        insert(&mut w.secrets, secret("team", "keys", &[("openai", "sk-one")]));
    });
    object.status = previous.map(|status| serde_json::from_value(status).unwrap());
    let (client, log) = fake_api(|_| None);
    channel::reconcile(Arc::new(object), context_with_health(client, stores, true, vec![], health)).await.unwrap();
    settle().await;
    log.all().iter().find(|r| r.route() == CHANNEL_STATUS).map(|r| r.body["status"].clone())
}

#[tokio::test]
async fn channel_health_adds_up_the_tenants_fresh_relay_reports_and_an_ejection_makes_it_unhealthy() {
    let at = now_ms() - 5_000;
    let mut a = pod("default", "relay-a", "relay", "", 2);
    a.channels =
        vec![channel_seen(totals(98, Duration::from_millis(300), 2), false, Some(("rate_limit", at - 60_000)))];
    let mut b = pod("default", "relay-b", "relay", "", 4);
    b.channels = vec![channel_seen(totals(50, Duration::from_millis(800), 0), true, Some(("server_error", at)))];
    let mut stale = pod("default", "relay-gone", "relay", "", 60);
    stale.channels = vec![channel_seen(totals(0, Duration::ZERO, 1000), true, None)];
    let mut other_tenant = pod("other", "relay-x", "relay", "", 1);
    other_tenant.channels = vec![channel_seen(totals(0, Duration::ZERO, 1000), true, None)];
    let gateway = pod("default", "gateway-a", "gateway", "", 1);

    let status = channel_status(vec![a, b, stale, other_tenant, gateway], None).await.unwrap();
    let health = &status["health"];
    assert_eq!(health["reportingPods"], 2, "fresh relay pods of the channel's tenant only: {health}");
    assert_eq!((health["requests"].as_u64(), health["failures"].as_u64()), (Some(150), Some(2)));
    assert_eq!(health["successRate"], "98.6%");
    assert_eq!(health["ejectedPods"], 1);
    assert_eq!(health["lastErrorClass"], "server_error", "the latest failure over all pods");
    let (p50, p99) = (health["latencyP50Ms"].as_u64().unwrap(), health["latencyP99Ms"].as_u64().unwrap());
    assert!((250..=500).contains(&p50) && (500..=1000).contains(&p99), "p50 {p50} p99 {p99}");
    let healthy = condition(&status, "Healthy");
    assert_eq!((healthy["status"].as_str(), healthy["reason"].as_str()), (Some("False"), Some("Ejected")));
    assert!(healthy["message"].as_str().unwrap().contains("on 1 of 2 relay pod(s); last error server_error"));
    assert_eq!(condition(&status, "Ready")["status"], "True", "an upstream outage is not a configuration error");
}

#[tokio::test]
async fn the_healthy_condition_follows_the_success_rate_and_says_when_it_cannot_judge() {
    let verdict = |status: &Value| {
        let c = condition(status, "Healthy");
        (c["status"].as_str().unwrap().to_string(), c["reason"].as_str().unwrap().to_string())
    };
    let with = |attempts: RequestTotals| {
        let mut report = pod("default", "relay-a", "relay", "", 1);
        report.channels = vec![channel_seen(attempts, false, None)];
        vec![report]
    };
    let status = channel_status(with(totals(95, Duration::from_millis(90), 5)), None).await.unwrap();
    assert_eq!(verdict(&status), ("True".into(), "Healthy".into()));
    assert!(condition(&status, "Healthy")["message"].as_str().unwrap().contains("95.0% of 100 attempts"));

    let status = channel_status(with(totals(80, Duration::from_millis(90), 20)), None).await.unwrap();
    assert_eq!(verdict(&status), ("False".into(), "FailingRequests".into()));

    let status = channel_status(with(totals(3, Duration::from_millis(90), 0)), None).await.unwrap();
    assert_eq!(verdict(&status), ("Unknown".into(), "NotEnoughTraffic".into()));

    let status = channel_status(vec![], None).await.unwrap();
    assert_eq!(verdict(&status), ("Unknown".into(), "NoReports".into()));
    assert!(status.get("health").is_none());
}

#[tokio::test]
async fn recent_numbers_are_not_rewritten_while_the_verdict_holds_but_a_new_verdict_is_written_at_once() {
    let healthy = |successes: u64| {
        let mut report = pod("default", "relay-a", "relay", "", 1);
        report.channels = vec![channel_seen(totals(successes, Duration::from_millis(90), 0), false, None)];
        vec![report]
    };
    let written = channel_status(healthy(100), None).await.unwrap();
    assert_eq!(channel_status(healthy(120), Some(written.clone())).await, None, "same verdict, numbers recent");

    let mut older = written.clone();
    older["health"]["observedAt"] = json!("2020-01-01T00:00:00Z");
    let rewritten = channel_status(healthy(120), Some(older)).await.expect("old numbers are refreshed");
    assert_eq!(rewritten["health"]["requests"], 120);

    let mut ejected = pod("default", "relay-a", "relay", "", 1);
    ejected.channels = vec![channel_seen(totals(100, Duration::from_millis(90), 0), true, None)];
    let changed = channel_status(vec![ejected], Some(written)).await.expect("a new verdict is written at once");
    assert_eq!(condition(&changed, "Healthy")["reason"], "Ejected");
}

#[tokio::test]
async fn a_lane_member_reports_what_its_lane_pods_served_beside_the_baseline() {
    let object: oblivious_crds::Lane = object(json!({
    "apiVersion": "oblivious.dev/v1alpha1", "kind": "Lane", "metadata": {"name": "gray", "namespace": "team"},
    "spec": {"tag": "gray", "members": [
        {"service": "chat", "endpoint": "http://10.0.0.7:8080"},
        {"service": "relay", "endpoint": "http://10.0.0.8:8080"}
    ]}}));
    let stores = stores(|w| insert(&mut w.lanes, object.clone()));
    let mut canary = pod("default", "chat-gray-0", "chat", "gray", 1);
    canary.served = totals(40, Duration::from_millis(200), 10);
    let mut baseline = pod("default", "chat-0", "chat", "", 1);
    baseline.served = totals(1000, Duration::from_millis(150), 1);
    let mut other_lane = pod("default", "chat-blue-0", "chat", "blue", 1);
    other_lane.served = totals(0, Duration::ZERO, 500);
    let (client, log) = fake_api(|_| None);
    let ctx = context_with_health(client, stores, true, vec![], vec![canary, baseline, other_lane]);
    lane::reconcile(Arc::new(object), ctx).await.unwrap();
    settle().await;

    let status = log.only(LANE_STATUS).body["status"].clone();
    let chat = &status["members"][0];
    assert_eq!(chat["service"], "chat");
    assert_eq!((chat["health"]["requests"].as_u64(), chat["health"]["failures"].as_u64()), (Some(50), Some(10)));
    assert_eq!(chat["health"]["successRate"], "80.0%");
    assert_eq!(chat["baselineHealth"]["successRate"], "99.9%");
    assert_eq!(chat["baselineHealth"]["reportingPods"], 1);
    let relay = &status["members"][1];
    assert!(relay.get("health").is_none() && relay.get("baselineHealth").is_none(), "no relay pod reports: {relay}");
}
