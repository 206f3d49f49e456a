//! Billing and rate limits end to end through the real relay and the mock upstream: balances
//! never overdrawn under concurrency (also with two relays sharing PostgreSQL and Redis), the
//! ledger always equal to the balance change, abnormal streams billed by the written policy,
//! limits enforced across replicas, and outages degrading as documented (NOTES.md "Billing").
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Harness, INTERNAL_TOKEN, channel, user_with_key};
use futures_util::StreamExt;
use oblivious_config::{Budget, TenantSettings};
use oblivious_relay::RelayConfig;
use oblivious_store::kv::SharedState;
use oblivious_store::testing::TestDatabase;
use oblivious_store::{BudgetMonth, NewApiKey, Store, UserRecord};
use serde_json::{Value, json};
use uuid::Uuid;

/// Prices chosen so costs are whole micro-units: 1 micro-unit per input token, 2 per output.
fn priced(models: &str) -> String {
    channel("c", "openai", 0, models, "")
        + "apiVersion: oblivious.dev/v1alpha1\nkind: ModelPricing\nmetadata: {name: p}\nspec:\n  currency: USD\n  \
           models:\n    - {name: m, input: \"1\", output: \"2\"}\n    - {name: slow, input: \"1\", output: \"2\"}\n    \
           - {name: broken, input: \"1\", output: \"2\"}\n    - {name: flaky, input: \"1\", output: \"2\"}\n"
}

fn models() -> String {
    priced(
        "[{name: m, upstreamModel: \"u@words=5\"}, {name: slow, upstreamModel: \"u@words=40,tps=20\"}, \
         {name: broken, upstreamModel: \"u@words=30,break_after=4\"}]",
    )
}

fn chat_body(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "max_tokens": 5, "messages": [{"role": "user", "content": "hello there"}]})
}

async fn send(h: &Harness, key: &str, body: &Value) -> reqwest::Response {
    h.http.post(format!("{}/v1/chat/completions", h.base)).bearer_auth(key).json(body).send().await.unwrap()
}

/// Asserts the books balance: the ledger sums to the balance, every successful request was
/// charged exactly its recorded cost, and nothing is held any more.
async fn assert_books_balance(h: &Harness, user: &UserRecord, initial: i64) {
    let logs = h.logs().await;
    let store = &h.relay.runtime.store;
    let balance = store.balance(user.id).await.unwrap().unwrap().balance_micros;
    assert_eq!(store.ledger_sum(user.id).await.unwrap(), balance, "the ledger sums to the balance");
    let mine: Vec<_> = logs.iter().filter(|l| l.user_id == Some(user.id)).collect();
    let billed: i64 = mine.iter().map(|l| l.cost_micros).sum();
    assert_eq!(initial - balance, billed, "the balance moved by exactly the recorded costs");
    for log in &mine {
        let charge = store.charge_for_request(log.id).await.unwrap();
        match charge {
            Some(entry) => assert_eq!(-entry.amount_micros, log.cost_micros, "{log:?}"),
            None => assert_eq!(log.cost_micros, 0, "an unbilled request costs nothing: {log:?}"),
        }
    }
    assert_eq!(h.relay.billing.shared().quota.held(user.id).await.unwrap(), 0, "no hold is left behind");
}

#[tokio::test]
async fn concurrent_requests_never_overdraw_and_the_ledger_matches_the_balance() {
    let h = Harness::start(&models()).await;
    // One request: ~7 input tokens + 5 output at 1/2 micro-units; its hold is larger (bytes/3 + max_tokens).
    let probe = h.post("/v1/chat/completions", chat_body("m", false)).await.json::<Value>().await.unwrap();
    let one =
        probe["usage"]["prompt_tokens"].as_i64().unwrap() + 2 * probe["usage"]["completion_tokens"].as_i64().unwrap();
    let n = 10;
    let initial = n * one;
    let (user, key) = user_with_key(&h.relay.runtime.store, initial, NewApiKey::default()).await;
    let body = chat_body("m", false);
    let tasks: Vec<_> = (0..4 * n)
        .map(|_| {
            let (http, url, key, body) =
                (h.http.clone(), format!("{}/v1/chat/completions", h.base), key.clone(), body.clone());
            tokio::spawn(
                async move { http.post(url).bearer_auth(key).json(&body).send().await.unwrap().status().as_u16() },
            )
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let ok = statuses.iter().filter(|s| **s == 200).count() as i64;
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    assert!(ok >= 1 && ok <= n, "{ok} succeeded with a balance for {n}");
    assert_books_balance(&h, &user, initial).await;
    assert!(h.relay.runtime.store.balance(user.id).await.unwrap().unwrap().balance_micros >= 0);
}

#[tokio::test]
async fn an_exhausted_balance_gets_insufficient_quota_in_the_callers_dialect() {
    let h = Harness::start(&models()).await;
    let (_, key) = user_with_key(&h.relay.runtime.store, 3, NewApiKey::default()).await;
    let response = send(&h, &key, &chat_body("m", false)).await;
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_quota");
    assert_eq!(body["error"]["type"], "insufficient_quota");
    let anthropic = h
        .http
        .post(format!("{}/v1/messages", h.base))
        .header("x-api-key", &key)
        .json(&json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(anthropic.status(), 429);
    assert_eq!(anthropic.json::<Value>().await.unwrap()["error"]["type"], "rate_limit_error");
    assert!(h.upstream_chat_requests().await.is_empty(), "nothing reached the upstream");
}

#[tokio::test]
async fn a_key_spending_cap_is_enforced_and_its_spend_tracked() {
    let h = Harness::start(&models()).await;
    let (user, key) = user_with_key(
        &h.relay.runtime.store,
        1_000_000,
        NewApiKey { max_spend_micros: Some(100), ..NewApiKey::default() },
    )
    .await;
    let mut ok = 0;
    for _ in 0..20 {
        match send(&h, &key, &chat_body("m", false)).await.status().as_u16() {
            200 => ok += 1,
            429 => break,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(ok >= 1, "the cap allows a few requests");
    let keys = h.relay.runtime.store.list_user_api_keys(user.id).await.unwrap();
    assert!(keys[0].spent_micros <= 100, "never past the cap: {}", keys[0].spent_micros);
    assert_books_balance(&h, &user, 1_000_000).await;
}

#[tokio::test]
async fn a_tenant_budget_is_shared_by_its_users_and_refused_with_its_own_code_once_spent() {
    let h = Harness::start(&models()).await;
    let probe = h.post("/v1/chat/completions", chat_body("m", false)).await.json::<Value>().await.unwrap();
    let one =
        probe["usage"]["prompt_tokens"].as_u64().unwrap() + 2 * probe["usage"]["completion_tokens"].as_u64().unwrap();
    let limit = 4 * one;
    let mut snapshot = common::compile_yaml(&format!("{}---\n{}", common::SECRET, models()));
    snapshot.tenant = Some(TenantSettings {
        name: "acme".into(),
        budget: Some(Budget { currency: "USD".into(), monthly_limit_micros: limit }),
    });
    h.relay.install(snapshot);
    let store = &h.relay.runtime.store;
    let (alice, alice_key) = user_with_key(store, 1_000_000, NewApiKey::default()).await;
    let (bob, bob_key) = user_with_key(store, 1_000_000, NewApiKey::default()).await;

    let mut ok = 0;
    let mut refusal = None;
    for turn in 0..20 {
        let key = if turn % 2 == 0 { &alice_key } else { &bob_key };
        let response = send(&h, key, &chat_body("m", false)).await;
        match response.status().as_u16() {
            200 => ok += 1,
            429 => {
                refusal = Some(response.json::<Value>().await.unwrap());
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    let refusal = refusal.expect("the budget ran out");
    assert_eq!(refusal["error"]["code"], "tenant_budget_exceeded", "{refusal}");
    assert!(refusal["error"]["message"].as_str().unwrap().contains("monthly budget"), "{refusal}");
    assert!(ok >= 2, "both users spent from the budget: {ok}");
    h.relay.billing.settler.flush().await;
    let month = BudgetMonth::at("acme", oblivious_store::now_ms());
    let spent = store.budget_spent(&month).await.unwrap();
    assert!(spent > 0 && spent as u64 <= limit, "spent {spent} of {limit}");
    let users = [Some(alice.id), Some(bob.id)];
    let charged: i64 = h.logs().await.iter().filter(|l| users.contains(&l.user_id)).map(|l| l.cost_micros).sum();
    assert_eq!(spent, charged, "the month's spend is exactly what its users were charged");
    assert_books_balance(&h, &alice, 1_000_000).await;
    assert_books_balance(&h, &bob, 1_000_000).await;
}

#[tokio::test]
async fn a_client_that_disconnects_mid_stream_pays_for_what_was_produced() {
    let h = Harness::start(&models()).await;
    let (user, key) = user_with_key(&h.relay.runtime.store, 1_000_000, NewApiKey::default()).await;
    let mut body = chat_body("slow", true);
    body["max_tokens"] = json!(40);
    let response = send(&h, &key, &body).await;
    let mut stream = response.bytes_stream();
    let mut seen = 0;
    while seen < 3 {
        if stream.next().await.unwrap().is_ok() {
            seen += 1;
        }
    }
    drop(stream);
    // The relay notices at its next write; wait for the record (condition, bounded).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let log = loop {
        let logs = h.logs().await;
        if let Some(log) = logs.into_iter().find(|l| l.user_id == Some(user.id)) {
            break log;
        }
        assert!(tokio::time::Instant::now() < deadline, "no record for the abandoned stream");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(log.status, 499);
    assert!(log.output_tokens > 0 && log.output_tokens < 40, "billed for the part produced: {log:?}");
    assert_eq!(log.cost_micros, log.input_tokens + 2 * log.output_tokens);
    assert_books_balance(&h, &user, 1_000_000).await;
}

#[tokio::test]
async fn an_upstream_break_is_billed_for_what_was_delivered_and_marked_estimated() {
    let h = Harness::start(&models()).await;
    let (user, key) = user_with_key(&h.relay.runtime.store, 1_000_000, NewApiKey::default()).await;
    let mut body = chat_body("broken", true);
    body["max_tokens"] = json!(30);
    let (datas, _) = common::read_sse(send(&h, &key, &body).await).await;
    assert!(datas.last().is_some_and(|d| d.contains("error")));
    let log = h.logs().await.into_iter().find(|l| l.user_id == Some(user.id)).unwrap();
    assert!(log.usage_estimated);
    assert!(log.cost_micros > 0);
    assert_books_balance(&h, &user, 1_000_000).await;
}

#[tokio::test]
async fn failover_bills_only_the_attempt_that_answered() {
    let yaml = channel("primary", "openai", 10, "[{name: flaky, upstreamModel: \"u@status=503\"}]", "")
        + &priced("[{name: flaky, upstreamModel: \"u@words=5\"}]")
            .replace("metadata: {name: c}", "metadata: {name: backup}");
    let h = Harness::start(&yaml).await;
    let (user, key) = user_with_key(&h.relay.runtime.store, 1_000_000, NewApiKey::default()).await;
    assert_eq!(send(&h, &key, &chat_body("flaky", false)).await.status(), 200);
    let log = h.logs().await.into_iter().find(|l| l.user_id == Some(user.id)).unwrap();
    assert_eq!(log.attempts, 2);
    assert_eq!(log.cost_micros, log.input_tokens + 2 * log.output_tokens);
    assert_eq!(
        h.relay
            .runtime
            .store
            .list_ledger(user.id, 10, None)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.kind == "charge")
            .count(),
        1
    );
    assert_books_balance(&h, &user, 1_000_000).await;
}

#[tokio::test]
async fn key_rate_limits_refuse_with_openai_headers_and_retry_after() {
    let h = Harness::start(&models()).await;
    let (_, key) =
        user_with_key(&h.relay.runtime.store, 1_000_000, NewApiKey { rpm: Some(2), ..NewApiKey::default() }).await;
    let first = send(&h, &key, &chat_body("m", false)).await;
    assert_eq!(first.headers()["x-ratelimit-limit-requests"], "2");
    assert_eq!(first.headers()["x-ratelimit-remaining-requests"], "1");
    assert_eq!(send(&h, &key, &chat_body("m", false)).await.status(), 200);
    let refused = send(&h, &key, &chat_body("m", false)).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "30");
    assert_eq!(refused.headers()["x-ratelimit-remaining-requests"], "0");
    assert_eq!(refused.json::<Value>().await.unwrap()["error"]["code"], "rate_limit_exceeded");
}

/// Two relays sharing one PostgreSQL database and one Redis, as two replicas would.
async fn two_replicas(yaml: &str) -> Option<(Harness, Harness, TestDatabase)> {
    let db = TestDatabase::create().await.unwrap()?;
    let redis = oblivious_store::testing::test_redis_url()?;
    let prefix = oblivious_store::testing::unique_redis_prefix();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let store = db.store().await.unwrap();
        let shared = SharedState::redis(&redis, &prefix).await.unwrap();
        replicas.push(
            Harness::start_shared(yaml, RelayConfig::default(), store, shared, tempfile::tempdir().unwrap()).await,
        );
    }
    let b = replicas.pop().unwrap();
    let a = replicas.pop().unwrap();
    Some((a, b, db))
}

#[tokio::test]
async fn two_replicas_sharing_postgres_and_redis_never_overdraw_together() {
    let Some((a, b, _db)) = two_replicas(&models()).await else { return };
    let probe = a.post("/v1/chat/completions", chat_body("m", false)).await.json::<Value>().await.unwrap();
    let one =
        probe["usage"]["prompt_tokens"].as_i64().unwrap() + 2 * probe["usage"]["completion_tokens"].as_i64().unwrap();
    let n = 8;
    let (user, key) = user_with_key(&a.relay.runtime.store, n * one, NewApiKey::default()).await;
    let body = chat_body("m", false);
    let tasks: Vec<_> = (0..4 * n)
        .map(|i| {
            let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
            let (http, key, body) = (a.http.clone(), key.clone(), body.clone());
            tokio::spawn(async move {
                http.post(format!("{base}/v1/chat/completions"))
                    .bearer_auth(key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        ok += i64::from(task.await.unwrap() == 200);
    }
    assert!(ok >= 1 && ok <= n, "{ok} of {} admitted with a balance for {n}", 4 * n);
    b.relay.billing.settler.flush().await;
    b.relay.logs.flush().await;
    assert_books_balance(&a, &user, n * one).await;
}

#[tokio::test]
async fn a_rate_limit_holds_across_two_replicas() {
    let Some((a, b, _db)) = two_replicas(&models()).await else { return };
    let (_, key) =
        user_with_key(&a.relay.runtime.store, 1_000_000, NewApiKey { rpm: Some(6), ..NewApiKey::default() }).await;
    let mut ok = 0;
    for i in 0..20 {
        let h = if i % 2 == 0 { &a } else { &b };
        ok += i32::from(send(h, &key, &chat_body("m", false)).await.status() == 200);
    }
    // GCRA with a burst of 6 per minute: 6 at once, plus one per 10 s elapsed (the loop takes
    // well under 10 s, so at most one more).
    assert!((6..=7).contains(&ok), "{ok} admitted across both replicas for a limit of 6/min");
}

/// A redis-server of the test's own, so the test can stop it.
struct OwnRedis {
    child: std::process::Child,
    url: String,
}

impl OwnRedis {
    async fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        OwnRedis { child, url: format!("redis://127.0.0.1:{port}") }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn with_redis_down_requests_are_billed_against_the_database_balance() {
    let _ = oblivious_store::testing::test_redis_url(); // this test runs its own Redis, but only where Redis tests run
    let mut redis = OwnRedis::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(None, dir.path()).await.unwrap();
    store.migrate().await.unwrap();
    let shared = SharedState::redis(&redis.url, "obl-test:").await.unwrap();
    let h = Harness::start_shared(&models(), RelayConfig::default(), store, shared, dir).await;
    let (user, key) = user_with_key(&h.relay.runtime.store, 1_000_000, NewApiKey::default()).await;
    let (poor, poor_key) = user_with_key(&h.relay.runtime.store, 3, NewApiKey::default()).await;
    assert_eq!(send(&h, &key, &chat_body("m", false)).await.status(), 200);

    redis.stop();
    for _ in 0..3 {
        assert_eq!(send(&h, &key, &chat_body("m", false)).await.status(), 200, "served from the fallback book");
    }
    assert_eq!(send(&h, &poor_key, &chat_body("m", false)).await.status(), 429, "balances still hold");
    let logs = h.logs().await;
    let balance = h.relay.runtime.store.balance(user.id).await.unwrap().unwrap().balance_micros;
    let billed: i64 = logs.iter().filter(|l| l.user_id == Some(user.id)).map(|l| l.cost_micros).sum();
    assert_eq!(logs.iter().filter(|l| l.user_id == Some(user.id) && l.status == 200).count(), 4);
    assert_eq!(1_000_000 - balance, billed);
    assert_eq!(h.relay.runtime.store.ledger_sum(user.id).await.unwrap(), balance);
    assert_eq!(h.relay.runtime.store.balance(poor.id).await.unwrap().unwrap().balance_micros, 3);
}

#[tokio::test]
async fn with_postgres_down_known_keys_keep_working_and_charges_replay_when_it_returns() {
    let Some(db) = TestDatabase::create().await.unwrap() else { return };
    let admin = db.store().await.unwrap();
    // The relay connects as its own role, so the outage can be staged for it alone.
    let role = format!("obl_relay_{}", &Uuid::now_v7().simple().to_string()[16..]);
    for sql in [
        format!("CREATE ROLE {role} LOGIN"),
        format!("GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
    ] {
        admin_exec(&db.url, &sql).await;
    }
    let mut relay_url = url::Url::parse(&db.url).unwrap();
    relay_url.set_username(&role).unwrap();
    let store = Store::connect_postgres(relay_url.as_str()).await.unwrap();
    let h = Harness::start_shared(
        &models(),
        RelayConfig::default(),
        store,
        SharedState::local(),
        tempfile::tempdir().unwrap(),
    )
    .await;
    let (user, key) = user_with_key(&admin, 1_000_000, NewApiKey::default()).await;
    assert_eq!(send(&h, &key, &chat_body("m", false)).await.status(), 200, "warm: key and balance cached");

    admin_exec(&db.url, &format!("ALTER ROLE {role} CONNECTION LIMIT 0")).await;
    admin_exec(&db.url, &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"))
        .await;
    for _ in 0..3 {
        assert_eq!(send(&h, &key, &chat_body("m", false)).await.status(), 200, "a known key keeps working");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while h.relay.billing.settler.pending() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "charges should be waiting for the database");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    admin_exec(&db.url, &format!("ALTER ROLE {role} CONNECTION LIMIT -1")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while h.relay.billing.settler.pending() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "waiting charges were not replayed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let logs = h.logs().await;
        if logs.iter().filter(|l| l.user_id == Some(user.id)).count() == 4 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "request records were not replayed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_books_balance(&h, &user, 1_000_000).await;
    h.relay.runtime.store.close().await;
    admin.close().await;
    admin_exec(&db.url, &format!("DROP OWNED BY {role}")).await;
    db.drop_database().await.unwrap();
    admin_exec_on_server(&format!("DROP ROLE IF EXISTS {role}")).await;
}

async fn admin_exec(url: &str, sql: &str) {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(sql).execute(&mut connection).await.unwrap();
}

async fn admin_exec_on_server(sql: &str) {
    let url = std::env::var(oblivious_store::testing::TEST_DATABASE_URL).unwrap();
    admin_exec(&url, sql).await;
}

#[tokio::test]
async fn an_internal_service_bills_the_user_it_acts_for_and_only_with_its_token() {
    let h = Harness::start(&models()).await;
    let (user, _) = user_with_key(&h.relay.runtime.store, 1_000_000, NewApiKey::default()).await;
    let call = |token: &str| {
        h.http
            .post(format!("{}/v1/chat/completions", h.base))
            .bearer_auth(token)
            .header("x-oblivious-user-id", user.id.to_string())
            .json(&chat_body("m", false))
            .send()
    };
    assert_eq!(call(INTERNAL_TOKEN).await.unwrap().status(), 200);
    assert_eq!(call("sk-someone-else").await.unwrap().status(), 401, "the header alone proves nothing");
    let log = h.logs().await.into_iter().find(|l| l.status == 200).unwrap();
    assert_eq!(log.user_id, Some(user.id));
    assert_books_balance(&h, &user, 1_000_000).await;
}
