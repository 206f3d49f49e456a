//! Webhooks end to end over real HTTP, on SQLite and on PostgreSQL: the product API, the relay
//! (for charges) and the delivery worker in the test process, and receivers on 127.0.0.1 that
//! verify every signature with an implementation of their own, as a consumer's library would.
//! Retries use short backoffs from the worker's settings; tests wait on conditions with a
//! deadline, never on a sleep.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use oblivious_gateway::{Gateway, GatewayConfig};
use oblivious_relay::{Relay, RelayConfig};
use oblivious_runtime::{Runtime, RuntimeConfig, WebhookSettings};
use oblivious_store::Store;
use oblivious_webhooks::{DeliverySettings, DeliveryWorker};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

const BOOTSTRAP: &str = "sk-webhooks-test-bootstrap";
/// Conditions a test waits for are met within this, or the test fails.
const PATIENCE: Duration = Duration::from_secs(30);
/// How long the worker waits for a receiver's answer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

const MANIFESTS: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: up}\nstringData: {key: sk-upstream}\n---\n\
apiVersion: oblivious.dev/v1alpha1\nkind: Channel\nmetadata: {name: c}\nspec:\n  provider: openai\n  baseUrl: builtin://mock-upstream/v1\n  \
apiKeySecretRef: {name: up, key: key}\n  models: [{name: m, upstreamModel: \"u@words=5\"}]\n---\n\
apiVersion: oblivious.dev/v1alpha1\nkind: ModelPricing\nmetadata: {name: p}\nspec:\n  currency: EUR\n  models: [{name: m, input: \"1\", output: \"2\"}]\n";

oblivious_store::both_backends!(
    start = World::start;
    a_receiver_that_fails_twice_gets_each_event_exactly_once_with_the_same_id_on_every_attempt,
    another_users_events_never_reach_a_users_hook_but_a_platform_hook_sees_every_users,
    an_admin_replays_a_delivery_with_the_same_event_id_and_a_ping_reaches_only_its_hook,
    a_users_hook_on_a_private_address_is_refused_unless_allowed_and_bad_input_names_its_field,
    a_hanging_receiver_delays_neither_the_request_that_emitted_the_event_nor_other_hooks,
    balance_low_is_sent_once_when_a_charge_takes_the_balance_below_the_threshold,
    a_delivery_that_keeps_failing_ends_failed_and_the_worker_stops_when_the_process_drains,
    an_event_queued_by_a_process_without_a_worker_goes_out_at_another_processs_next_poll,
);

/// Users' hooks may target this machine (the receivers); a delivery gets 4 attempts.
fn settings() -> WebhookSettings {
    WebhookSettings { balance_low_micros: 1_000_000, allow_private_targets: true, max_attempts: 4 }
}

/// Retries 40 ms apart. The idle poll is longer than the tests' patience, so every delivery in
/// them went out because its event woke the worker or a retry fell due — except where a test
/// polls on purpose.
fn delivery_settings() -> DeliverySettings {
    DeliverySettings {
        concurrency: 8,
        poll: Duration::from_secs(300),
        backoff: vec![Duration::from_millis(40)],
        timeout: ATTEMPT_TIMEOUT,
        connect_timeout: Duration::from_secs(1),
        lease: Duration::from_secs(30),
        ..DeliverySettings::default()
    }
}

struct World {
    base: String,
    http: reqwest::Client,
    store: Store,
    runtime: Arc<Runtime>,
    relay: Arc<Relay>,
    _mock: oblivious_mock_upstream::MockServer,
}

struct User {
    token: String,
    id: String,
}

impl World {
    async fn start(store: Store) -> World {
        let world = World::launch(store, settings(), Some(delivery_settings())).await;
        // The first account is an administrator: take it, so the tests' users are plain users.
        world.sign_up("operator").await;
        world
    }

    /// The product API and relay on `store` (another process of the same deployment when the
    /// store is shared), with a delivery worker when `worker` has its settings.
    async fn launch(store: Store, webhooks: WebhookSettings, worker: Option<DeliverySettings>) -> World {
        let mock = oblivious_mock_upstream::spawn(oblivious_mock_upstream::MockConfig::default()).await.unwrap();
        let config = RelayConfig { builtin_mock_base: Some(mock.base_url()), ..RelayConfig::default() };
        let settings = RuntimeConfig { bootstrap_key: Some(BOOTSTRAP.into()), webhooks, ..RuntimeConfig::default() };
        let runtime = Runtime::local(settings, store.clone());
        let relay = Relay::new(config, runtime.clone());
        let mut manifests = oblivious_crds::Manifests::default();
        let mut errors = Vec::new();
        oblivious_crds::parse_documents(Path::new("t.yaml"), MANIFESTS, &mut manifests, &mut errors);
        relay.install(oblivious_compile::compile(&manifests).unwrap());
        let gateway_config = GatewayConfig::with_secret(b"0123456789abcdef0123456789abcdef".to_vec());
        let gateway = Arc::new(Gateway::new(runtime.clone(), gateway_config));
        let app = oblivious_relay::app(relay.clone()).merge(oblivious_gateway::router(gateway));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        if let Some(worker) = worker {
            let worker = DeliveryWorker::new(runtime.webhooks.clone(), worker).unwrap();
            worker.spawn(runtime.lifecycle.clone());
        }
        World { base, http: reqwest::Client::new(), store, runtime, relay, _mock: mock }
    }

    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, None).await
    }

    async fn sign_up(&self, name: &str) -> User {
        let password = "correct horse battery";
        let register = json!({"username": name, "email": format!("{name}@example.com"), "password": password});
        let response =
            self.http.post(format!("{}/api/v1/auth/register", self.base)).json(&register).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let user: Value = response.json().await.unwrap();
        let login = json!({"username": name, "password": password});
        let response = self.http.post(format!("{}/api/v1/auth/login", self.base)).json(&login).send().await.unwrap();
        let tokens: Value = response.json().await.unwrap();
        User { token: tokens["access_token"].as_str().unwrap().into(), id: user["id"].as_str().unwrap().into() }
    }

    /// Registers a webhook of `user` (the platform's with the bootstrap key) for `receiver`,
    /// hands the receiver its secret, and returns the hook's id.
    async fn hook(&self, token: &str, receiver: &Receiver, types: &[&str]) -> String {
        let path = if token == BOOTSTRAP { "/api/v1/admin/webhooks" } else { "/api/v1/webhooks" };
        let (status, hook) = self.post(path, token, json!({"url": receiver.url, "event_types": types})).await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        receiver.set_secret(hook["secret"].as_str().unwrap());
        hook["id"].as_str().unwrap().to_string()
    }

    async fn deliveries(&self, token: &str, hook: &str) -> Vec<Value> {
        let (status, page) = self.get(&format!("/api/v1/webhooks/{hook}/deliveries"), token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["data"].as_array().unwrap().clone()
    }

    async fn admin_deliveries(&self, hook: &str) -> Vec<Value> {
        let (status, page) = self.get(&format!("/api/v1/admin/webhooks/{hook}/deliveries"), BOOTSTRAP).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["data"].as_array().unwrap().clone()
    }

    /// Creates an API key of `user`; returns the key as created (its secret included).
    async fn create_key(&self, user: &User, name: &str) -> Value {
        let (status, key) = self.post("/api/v1/keys", &user.token, json!({"name": name})).await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        key
    }
}

/// Waits until `check` gives a value, failing the test after `PATIENCE`.
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How a receiver answers.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// 500 to the first `n` attempts of each event id, then 204.
    FailFirst(usize),
    /// Never answers.
    Hang,
}

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    /// The signature and timestamp checked out against the hook's secret.
    verified: bool,
    body: String,
    answered: u16,
}

impl Received {
    fn event(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

#[derive(Clone)]
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
}

struct ReceiverState {
    behaviour: Behaviour,
    secret: Mutex<Option<String>>,
    log: Mutex<Vec<Received>>,
}

impl Receiver {
    async fn start(behaviour: Behaviour) -> Receiver {
        let state = Arc::new(ReceiverState { behaviour, secret: Mutex::new(None), log: Mutex::new(Vec::new()) });
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}/hook", listener.local_addr().unwrap().port());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, state }
    }

    fn set_secret(&self, secret: &str) {
        *self.state.secret.lock().unwrap() = Some(secret.to_string());
    }

    fn received(&self) -> Vec<Received> {
        self.state.log.lock().unwrap().clone()
    }

    /// The requests answered 2xx.
    fn delivered(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| (200..300).contains(&r.answered)).collect()
    }
}

async fn receive(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> axum::http::StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (id, timestamp, signatures) = (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
    let secret = state.secret.lock().unwrap().clone().unwrap_or_default();
    let verified = verify(&secret, &id, &timestamp, &body, &signatures)
        && headers.get("content-type").is_some_and(|v| v == "application/json");
    let answered = {
        let mut log = state.log.lock().unwrap();
        let earlier = log.iter().filter(|r| r.id == id).count();
        let answered = match state.behaviour {
            Behaviour::FailFirst(n) if earlier < n => 500,
            Behaviour::FailFirst(_) => 204,
            Behaviour::Hang => 0,
        };
        let body = String::from_utf8(body.to_vec()).unwrap();
        log.push(Received { id, verified, body, answered });
        answered
    };
    if answered == 0 {
        std::future::pending::<()>().await;
    }
    axum::http::StatusCode::from_u16(answered).unwrap()
}

/// The Standard Webhooks check, written from the specification: the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` under the base64 key after `whsec_` is one of the space-separated
/// `v1,` signatures, and the timestamp is within five minutes of now.
fn verify(secret: &str, id: &str, timestamp: &str, body: &[u8], signatures: &str) -> bool {
    let Some(key) = secret.strip_prefix("whsec_").and_then(|k| STANDARD.decode(k).ok()) else { return false };
    let Ok(sent_at) = timestamp.parse::<i64>() else { return false };
    let now = oblivious_store::now_ms() / 1000;
    if (now - sent_at).abs() > 300 || id.is_empty() {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    signatures.split(' ').any(|signature| signature == expected)
}

async fn a_receiver_that_fails_twice_gets_each_event_exactly_once_with_the_same_id_on_every_attempt(world: World) {
    let receiver = Receiver::start(Behaviour::FailFirst(2)).await;
    let alice = world.sign_up("alice").await;
    let hook = world.hook(&alice.token, &receiver, &["key.created", "key.revoked"]).await;
    let key = world.create_key(&alice, "bot").await;
    let key_id = key["id"].as_str().unwrap();
    let (status, _) = world.call(Method::DELETE, &format!("/api/v1/keys/{key_id}"), &alice.token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let deliveries = eventually("both events delivered", async || {
        let deliveries = world.deliveries(&alice.token, &hook).await;
        (deliveries.len() == 2 && deliveries.iter().all(|d| d["status"] == "delivered")).then_some(deliveries)
    })
    .await;
    for delivery in &deliveries {
        assert_eq!(delivery["attempts"], 3, "{delivery}");
        assert_eq!(delivery["last_status_code"], 204, "{delivery}");
        assert_eq!((delivery["last_error"].clone(), delivery["next_attempt_at"].clone()), (Value::Null, Value::Null));
    }
    let received = receiver.received();
    assert!(received.iter().all(|r| r.verified), "every attempt is signed: {received:?}");
    let mut by_event: BTreeMap<String, Vec<Received>> = BTreeMap::new();
    for request in received {
        by_event.entry(request.id.clone()).or_default().push(request);
    }
    let mut event_ids: Vec<String> = deliveries.iter().map(|d| d["event_id"].as_str().unwrap().to_string()).collect();
    event_ids.sort();
    assert_eq!(by_event.keys().cloned().collect::<Vec<_>>(), event_ids, "webhook-id is the event id");
    for (id, attempts) in &by_event {
        let answers: Vec<u16> = attempts.iter().map(|r| r.answered).collect();
        assert_eq!(answers, [500, 500, 204], "event {id}: one success after two failures, nothing after it");
        assert!(attempts.iter().all(|r| r.body == attempts[0].body), "the same body on every attempt");
        let event = attempts[0].event();
        assert_eq!(event["id"].as_str(), Some(id.as_str()));
        assert_eq!(event["data"]["user_id"].as_str(), Some(alice.id.as_str()));
        assert_eq!(event["data"]["key"]["id"].as_str(), Some(key_id));
        assert_eq!(
            (event["data"]["key"]["name"].clone(), event["data"]["key"]["prefix"].clone()),
            (json!("bot"), key["prefix"].clone())
        );
        assert!(event["created_at"].as_i64().unwrap() > 0);
        assert!(!attempts[0].body.contains(key["key"].as_str().unwrap()), "never the key's secret");
    }
    let mut types: Vec<String> =
        by_event.values().map(|a| a[0].event()["type"].as_str().unwrap().to_string()).collect();
    types.sort();
    assert_eq!(types, ["key.created", "key.revoked"]);
}

async fn another_users_events_never_reach_a_users_hook_but_a_platform_hook_sees_every_users(world: World) {
    let (alices_receiver, bobs_receiver, platform_receiver) = (
        Receiver::start(Behaviour::FailFirst(0)).await,
        Receiver::start(Behaviour::FailFirst(0)).await,
        Receiver::start(Behaviour::FailFirst(0)).await,
    );
    let alice = world.sign_up("alice").await;
    let bob = world.sign_up("bob").await;
    let alices = world.hook(&alice.token, &alices_receiver, &["key.created"]).await;
    let bobs = world.hook(&bob.token, &bobs_receiver, &["key.created"]).await;
    let platform = world.hook(BOOTSTRAP, &platform_receiver, &["key.created"]).await;
    world.create_key(&alice, "a").await;
    world.create_key(&bob, "b").await;

    // Queuing is part of the request: every delivery exists already.
    let [alices_delivery] = world.deliveries(&alice.token, &alices).await.try_into().unwrap();
    assert_eq!(alices_delivery["payload"]["data"]["user_id"].as_str(), Some(alice.id.as_str()));
    assert_eq!(world.deliveries(&bob.token, &bobs).await.len(), 1);
    assert_eq!(world.admin_deliveries(&platform).await.len(), 2);

    eventually("the platform hook got both users' events", async || {
        (platform_receiver.delivered().len() == 2).then_some(())
    })
    .await;
    eventually("each user's hook got its event", async || {
        (alices_receiver.delivered().len() == 1 && bobs_receiver.delivered().len() == 1).then_some(())
    })
    .await;
    let owner = |r: &Received| r.event()["data"]["user_id"].as_str().unwrap().to_string();
    assert_eq!(alices_receiver.received().iter().map(owner).collect::<Vec<_>>(), [alice.id.as_str()]);
    assert_eq!(bobs_receiver.received().iter().map(owner).collect::<Vec<_>>(), [bob.id.as_str()]);
    let mut everyone: Vec<String> = platform_receiver.received().iter().map(owner).collect();
    everyone.sort();
    let mut expected = vec![alice.id.clone(), bob.id.clone()];
    expected.sort();
    assert_eq!(everyone, expected);
    assert!(platform_receiver.received().iter().chain(&alices_receiver.received()).all(|r| r.verified));

    // A hook that is not yours does not exist for you; platform hooks are the admins'.
    let forbidden = [
        (Method::GET, format!("/api/v1/webhooks/{alices}/deliveries")),
        (Method::PATCH, format!("/api/v1/webhooks/{alices}")),
        (Method::DELETE, format!("/api/v1/webhooks/{alices}")),
        (Method::POST, format!("/api/v1/webhooks/{alices}/test")),
        (Method::DELETE, format!("/api/v1/webhooks/{platform}")),
    ];
    for (method, path) in forbidden {
        let body = (method == Method::PATCH).then(|| json!({"enabled": false}));
        let (status, error) = world.call(method.clone(), &path, &bob.token, body).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{method} {path}"
        );
    }
    let (_, listed) = world.get("/api/v1/webhooks", &bob.token).await;
    assert_eq!(
        listed["data"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap()).collect::<Vec<_>>(),
        [bobs.as_str()]
    );
    let (status, _) = world.get("/api/v1/admin/webhooks", &bob.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, platform_hooks) = world.get("/api/v1/admin/webhooks", BOOTSTRAP).await;
    assert_eq!(platform_hooks["data"][0]["scope"], "platform");
    assert_eq!(platform_hooks["data"].as_array().unwrap().len(), 1);
}

async fn an_admin_replays_a_delivery_with_the_same_event_id_and_a_ping_reaches_only_its_hook(world: World) {
    let (first, second) =
        (Receiver::start(Behaviour::FailFirst(0)).await, Receiver::start(Behaviour::FailFirst(0)).await);
    let alice = world.sign_up("alice").await;
    let hook = world.hook(&alice.token, &first, &["key.created"]).await;
    let other = world.hook(&alice.token, &second, &["file.indexed"]).await;
    world.create_key(&alice, "k").await;
    let delivered = eventually("the event delivered", async || {
        let [delivery] = world.deliveries(&alice.token, &hook).await.try_into().ok()?;
        (delivery["status"] == "delivered").then_some(delivery)
    })
    .await;
    let delivery_id = delivered["id"].as_str().unwrap();
    assert_eq!(world.admin_deliveries(&hook).await[0]["id"], delivered["id"], "admins see users' deliveries");

    let replay = format!("/api/v1/admin/webhook-deliveries/{delivery_id}/replay");
    let (status, _) = world.post(&replay, &alice.token, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "replaying is for administrators");
    let (status, queued) = world.post(&replay, BOOTSTRAP, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(
        (queued["status"].as_str(), queued["event_id"].clone()),
        (Some("pending"), delivered["event_id"].clone())
    );
    let replayed = eventually("the replay delivered", async || {
        let [delivery] = world.deliveries(&alice.token, &hook).await.try_into().ok()?;
        (delivery["status"] == "delivered" && delivery["attempts"] == 2).then_some(delivery)
    })
    .await;
    assert_eq!(replayed["event_id"], delivered["event_id"]);
    let received = first.received();
    assert_eq!(received.len(), 2);
    assert!(
        received
            .iter()
            .all(|r| r.verified && r.id == delivered["event_id"].as_str().unwrap() && r.body == received[0].body)
    );
    for missing in [
        format!("/api/v1/admin/webhook-deliveries/{}/replay", uuid::Uuid::now_v7()),
        "/api/v1/admin/webhook-deliveries/nope/replay".into(),
    ] {
        let (status, _) = world.post(&missing, BOOTSTRAP, json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    // A ping goes to the hook named, whatever it subscribes to, and to no other.
    let (status, ping) = world.post(&format!("/api/v1/webhooks/{other}/test"), &alice.token, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{ping}");
    let pinged = eventually("the ping delivered", async || second.delivered().into_iter().next()).await;
    assert!(pinged.verified);
    assert_eq!(pinged.id, ping["event_id"].as_str().unwrap());
    assert_eq!(
        (pinged.event()["type"].as_str(), pinged.event()["data"]["webhook_id"].as_str()),
        (Some("ping"), Some(other.as_str()))
    );
    assert!(world.deliveries(&alice.token, &hook).await.iter().all(|d| d["event_type"] != "ping"));
    // A disabled hook cannot be tested.
    let (status, _) = world
        .call(Method::PATCH, &format!("/api/v1/webhooks/{other}"), &alice.token, Some(json!({"enabled": false})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = world.post(&format!("/api/v1/webhooks/{other}/test"), &alice.token, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn a_users_hook_on_a_private_address_is_refused_unless_allowed_and_bad_input_names_its_field(world: World) {
    // The same database behind a gateway that keeps users off private addresses (the default).
    let strict_settings = WebhookSettings { allow_private_targets: false, ..settings() };
    let strict = World::launch(world.store.clone(), strict_settings, None).await;
    let alice = world.sign_up("alice").await;
    for (url, range) in [
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://localhost:9/hook", "loopback"),
        ("http://10.1.2.3/hook", "private network"),
        ("http://169.254.169.254/latest", "link-local"),
    ] {
        let (status, error) =
            strict.post("/api/v1/webhooks", &alice.token, json!({"url": url, "event_types": ["key.created"]})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
        assert_eq!(error["error"]["code"], "invalid_request");
        assert_eq!(error["error"]["message"], format!("url: the host resolves to a {range} address"), "{url}");
    }
    // Platform hooks are the administrators' and trusted.
    let (status, _) = strict
        .post(
            "/api/v1/admin/webhooks",
            BOOTSTRAP,
            json!({"url": "http://127.0.0.1:9/hook", "event_types": ["key.created"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Where private targets are allowed (this test's receivers), the same URL is accepted.
    let (status, created) = world.post("/api/v1/webhooks", &alice.token, json!({"url": "http://127.0.0.1:9/hook", "event_types": ["key.created", "key.created", "reply.failed"], "description": " CI bot "})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(
        (created["event_types"].clone(), created["description"].clone(), created["enabled"].clone()),
        (json!(["key.created", "reply.failed"]), json!("CI bot"), json!(true))
    );
    let id = created["id"].as_str().unwrap();
    let (_, listed) = world.get("/api/v1/webhooks", &alice.token).await;
    assert_eq!(listed["data"][0]["id"].as_str(), Some(id));
    assert!(!listed.to_string().contains("whsec_"), "the secret is shown once: {listed}");
    // Changing the URL is checked like creating.
    let (status, error) = strict
        .call(
            Method::PATCH,
            &format!("/api/v1/webhooks/{id}"),
            &alice.token,
            Some(json!({"url": "http://192.168.0.1/"})),
        )
        .await;
    assert_eq!(
        (status, error["error"]["message"].as_str()),
        (StatusCode::BAD_REQUEST, Some("url: the host resolves to a private network address"))
    );
    let (status, changed) = world
        .call(
            Method::PATCH,
            &format!("/api/v1/webhooks/{id}"),
            &alice.token,
            Some(json!({"enabled": false, "event_types": ["balance.low"]})),
        )
        .await;
    assert_eq!(
        (status, changed["enabled"].clone(), changed["event_types"].clone()),
        (StatusCode::OK, json!(false), json!(["balance.low"]))
    );
    assert!(changed.get("secret").is_none());

    let long = format!("https://example.com/{}", "a".repeat(2048));
    let bad = [
        (
            json!({"url": "ftp://example.com/", "event_types": ["key.created"]}),
            "url: only http and https URLs are allowed",
        ),
        (json!({"url": long, "event_types": ["key.created"]}), "url: must be at most 2048 characters"),
        (json!({"url": "http://127.0.0.1:9/", "event_types": []}), "event_types: name at least one event type"),
        (json!({"url": "http://127.0.0.1:9/", "event_types": ["ping"]}), "event_types: unknown event type `ping`"),
        (json!({"url": "http://127.0.0.1:9/", "event_types": "key.created"}), "event_types: invalid type"),
        (
            json!({"url": "http://127.0.0.1:9/", "event_types": ["key.created"], "secret": "mine"}),
            "unknown field `secret`",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "event_types": ["key.created"], "description": "x".repeat(201)}),
            "description: at most 200",
        ),
    ];
    for (body, message) in bad {
        let (status, error) = world.post("/api/v1/webhooks", &alice.token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            error["error"]["message"].as_str().unwrap().starts_with(message)
                || error["error"]["message"].as_str().unwrap().contains(message),
            "{body}: {error}"
        );
    }
    // At most ten per user.
    for _ in 1..10 {
        let (status, _) = world
            .post(
                "/api/v1/webhooks",
                &alice.token,
                json!({"url": "http://127.0.0.1:9/", "event_types": ["key.created"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, error) = world
        .post("/api/v1/webhooks", &alice.token, json!({"url": "http://127.0.0.1:9/", "event_types": ["key.created"]}))
        .await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    let (status, _) = world.call(Method::DELETE, &format!("/api/v1/webhooks/{id}"), &alice.token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = world.call(Method::DELETE, &format!("/api/v1/webhooks/{id}"), &alice.token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, error) = world.get(&format!("/api/v1/webhooks/{id}/deliveries?limit=0"), &alice.token).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

async fn a_hanging_receiver_delays_neither_the_request_that_emitted_the_event_nor_other_hooks(world: World) {
    let (hanging, healthy) = (Receiver::start(Behaviour::Hang).await, Receiver::start(Behaviour::FailFirst(0)).await);
    let alice = world.sign_up("alice").await;
    let stuck = world.hook(&alice.token, &hanging, &["key.created"]).await;
    world.hook(&alice.token, &healthy, &["key.created"]).await;
    for n in 0..3 {
        let started = Instant::now();
        world.create_key(&alice, &format!("k{n}")).await;
        // Waiting for the hanging receiver would take the whole attempt timeout.
        assert!(started.elapsed() < ATTEMPT_TIMEOUT / 2, "creating a key took {:?}", started.elapsed());
    }
    eventually("the healthy hook got every event while the other hangs", async || {
        (healthy.delivered().len() == 3).then_some(())
    })
    .await;
    eventually("the hanging receiver's attempts time out and are retried", async || {
        let deliveries = world.deliveries(&alice.token, &stuck).await;
        deliveries.iter().all(|d| d["last_error"] == "timed out" && d["status"] != "delivered").then_some(())
    })
    .await;
    assert!(hanging.received().len() >= 3 && hanging.received().iter().all(|r| r.verified));
}

async fn balance_low_is_sent_once_when_a_charge_takes_the_balance_below_the_threshold(world: World) {
    let receiver = Receiver::start(Behaviour::FailFirst(0)).await;
    let alice = world.sign_up("alice").await;
    world.hook(&alice.token, &receiver, &["balance.low"]).await;
    // Exactly at the threshold (1.00) is not low yet.
    let (status, _) =
        world.post(&format!("/api/v1/admin/users/{}/balance", alice.id), BOOTSTRAP, json!({"amount": "1.00"})).await;
    assert_eq!(status, StatusCode::OK);
    let key = world.create_key(&alice, "spender").await;
    let secret = key["key"].as_str().unwrap();
    let complete = async || {
        let answer = world
            .http
            .post(format!("{}/v1/chat/completions", world.base))
            .bearer_auth(secret)
            .json(&json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    };
    let charges = async |count: usize| {
        eventually("the charges are settled", async || {
            let (_, ledger) = world.get("/api/v1/user/ledger", &alice.token).await;
            let charged = ledger["data"].as_array()?.iter().filter(|e| e["kind"] == "charge").count();
            (charged == count).then_some(())
        })
        .await;
        // The settler announces a crossing right after writing the charge.
        world.relay.billing.settler.flush().await;
    };

    complete().await;
    charges(1).await;
    let low = eventually("balance.low delivered", async || receiver.delivered().into_iter().next()).await;
    assert!(low.verified);
    let event = low.event();
    assert_eq!(event["type"], "balance.low");
    let (_, quota) = world.get("/api/v1/user/quota", &alice.token).await;
    let data = json!({"user_id": alice.id, "balance": quota["balance"], "threshold": "1.00", "currency": "EUR"});
    assert_eq!(event["data"], data);
    assert_ne!(quota["balance"], "1.00", "the request was charged");

    // Further charges below the threshold are not another crossing.
    complete().await;
    charges(2).await;
    let hooks = world.store.webhooks(oblivious_store::WebhookOwner::User(alice.id.parse().unwrap())).await.unwrap();
    let queued = world.store.webhook_deliveries(hooks[0].id, 10, None).await.unwrap();
    assert_eq!(queued.len(), 1, "one balance.low per crossing: {queued:?}");
}

async fn a_delivery_that_keeps_failing_ends_failed_and_the_worker_stops_when_the_process_drains(world: World) {
    let receiver = Receiver::start(Behaviour::FailFirst(usize::MAX)).await;
    let alice = world.sign_up("alice").await;
    let hook = world.hook(&alice.token, &receiver, &["key.created"]).await;
    world.create_key(&alice, "k").await;
    let failed = eventually("the delivery failed for good", async || {
        let [delivery] = world.deliveries(&alice.token, &hook).await.try_into().ok()?;
        (delivery["status"] == "failed").then_some(delivery)
    })
    .await;
    assert_eq!((failed["attempts"].clone(), failed["last_status_code"].clone()), (json!(4), json!(500)));
    assert_eq!((failed["last_error"].clone(), failed["next_attempt_at"].clone()), (json!("HTTP 500"), Value::Null));
    let received = receiver.received();
    assert_eq!(received.len(), 4, "max_attempts attempts, then no more");
    assert!(received.iter().all(|r| r.verified && r.id == received[0].id));

    let lifecycle = world.runtime.lifecycle.clone();
    lifecycle.start_draining();
    tokio::time::timeout(Duration::from_secs(10), lifecycle.jobs_done()).await.expect("the worker stops on drain");
    // Still served, still queued — and left for the next process, not lost.
    world.create_key(&alice, "late").await;
    let deliveries = world.deliveries(&alice.token, &hook).await;
    assert_eq!(deliveries.len(), 2);
    assert_eq!((deliveries[0]["status"].as_str(), deliveries[0]["attempts"].as_i64()), (Some("pending"), Some(0)));
}

async fn an_event_queued_by_a_process_without_a_worker_goes_out_at_another_processs_next_poll(world: World) {
    // A relay or chat pod queues events but delivers none; a gateway pod's worker finds them by
    // polling, since no wake-up crosses processes. (This world's own worker polls too rarely.)
    let emitter = World::launch(world.store.clone(), settings(), None).await;
    let polling = DeliverySettings { poll: Duration::from_millis(100), ..delivery_settings() };
    let _deliverer = World::launch(world.store.clone(), settings(), Some(polling)).await;
    let receiver = Receiver::start(Behaviour::FailFirst(0)).await;
    let alice = emitter.sign_up("alice").await;
    let hook = emitter.hook(&alice.token, &receiver, &["key.created"]).await;
    emitter.create_key(&alice, "k").await;
    let delivered = eventually("the other process delivered the event", async || {
        let [delivery] = emitter.deliveries(&alice.token, &hook).await.try_into().ok()?;
        (delivery["status"] == "delivered").then_some(delivery)
    })
    .await;
    assert_eq!(delivered["attempts"], 1);
    assert_eq!(receiver.delivered().len(), 1);
    assert!(receiver.received().iter().all(|r| r.verified));
}
