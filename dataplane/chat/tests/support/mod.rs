//! A whole chat deployment in the test process: store, relay with billing, gateway, chat and
//! the mock upstream, served on a port of its own; and an HTTP client speaking its API.
// Each test binary uses part of it.
#![allow(dead_code)]

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use oblivious_chat::bus::StreamBus;
use oblivious_chat::{Chat, ChatConfig};
use oblivious_core::edge::{Caller, CallerLookup, Edge, EdgeConfig, Hop, Hops};
use oblivious_core::sse::SseParser;
use oblivious_files::{FileLimits, Files, ObjectStorage, UrlSigner};
use oblivious_gateway::{Gateway, GatewayConfig};
use oblivious_rag::{Embedder, IngestSettings, Ingestor, Rag};
use oblivious_relay::{Relay, RelayConfig};
use oblivious_runtime::{Runtime, RuntimeConfig};
use oblivious_store::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const BOOTSTRAP: &str = "sk-chat-test-bootstrap";
const INTERNAL: &str = "internal-chat-test-token";
/// Conditions a test waits for are met within this, or the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// Requests with `x-canary` are dyed `gray` (a lane whose only member, rag, chat never calls).
/// `fast` answers five words; `slow` forty at 40 words/s (one second); `free` has no price;
/// `broken` fails with a 500; `vip` is only for the `vip` group. Prices in EUR per 1M tokens.
const MANIFESTS: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: up}
stringData: {key: sk-upstream}
---
apiVersion: oblivious.dev/v1alpha1
kind: Channel
metadata: {name: main}
spec:
  provider: openai
  baseUrl: builtin://mock-upstream/v1
  apiKeySecretRef: {name: up, key: key}
  models:
    - {name: fast, upstreamModel: "u@words=5"}
    - {name: slow, upstreamModel: "u@words=40,tps=40"}
    - {name: free, upstreamModel: "u@words=3"}
    - {name: text-embedding-3-small}
    - {name: embed, upstreamModel: text-embedding-3-small}
---
apiVersion: oblivious.dev/v1alpha1
kind: Channel
metadata: {name: failing}
spec:
  provider: openai
  baseUrl: builtin://mock-upstream/v1
  apiKeySecretRef: {name: up, key: key}
  models: [{name: broken, upstreamModel: "u@status=500"}]
---
apiVersion: oblivious.dev/v1alpha1
kind: Channel
metadata: {name: vip-only}
spec:
  provider: anthropic
  baseUrl: builtin://mock-upstream
  apiKeySecretRef: {name: up, key: key}
  groups: [vip]
  models: [{name: vip, upstreamModel: "claude@words=4"}]
---
apiVersion: oblivious.dev/v1alpha1
kind: ModelPricing
metadata: {name: p}
spec:
  currency: EUR
  models:
    - {name: fast, input: "1", output: "2"}
    - {name: slow, input: "1", output: "2"}
    - {name: broken, input: "1", output: "2"}
---
apiVersion: oblivious.dev/v1alpha1
kind: Agent
metadata: {name: translator}
spec:
  displayName: Translator
  systemPrompt: You translate into French.
  model: fast
  parameters: {temperature: "0.3"}
  openingMessage: Bonjour !
---
apiVersion: oblivious.dev/v1alpha1
kind: Agent
metadata: {name: concierge}
spec:
  displayName: Concierge
  model: vip
  groups: [vip]
---
apiVersion: oblivious.dev/v1alpha1
kind: Lane
metadata: {name: gray}
spec:
  tag: gray
  conditions: {rules: [{header: {name: x-canary}}]}
  members: [{service: rag, endpoint: "http://127.0.0.1:9"}]
"#;

/// Makes the test's manifests and `more` (YAML documents) the active configuration.
fn install(relay: &Relay, more: &str) {
    let mut manifests = oblivious_crds::Manifests::default();
    let mut errors = Vec::new();
    let documents = format!("{MANIFESTS}\n---\n{more}");
    oblivious_crds::parse_documents(Path::new("t.yaml"), &documents, &mut manifests, &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    relay.install(oblivious_compile::compile(&manifests).unwrap());
}

/// A signed-in user.
pub struct User {
    pub token: String,
    pub id: String,
}

/// Lanes never look at the caller in these tests.
struct NoCallers;

impl CallerLookup for NoCallers {
    fn lookup<'a>(
        &'a self,
        _: &'a axum::http::request::Parts,
        _: bool,
    ) -> Pin<Box<dyn Future<Output = Caller> + Send + 'a>> {
        Box::pin(async { Caller::default() })
    }
}

/// The edge layer every process mounts, so chat's calls reach the relay as in production.
fn edge(relay: &Arc<Relay>) -> Arc<Edge> {
    let runtime = relay.runtime.clone();
    let hops = Hops::new(Arc::new(move || runtime.lanes()), Some(INTERNAL.into()));
    let hop = Hop { role: "all".into(), lane: String::new(), instance: "test".into(), tenant: "default".into() };
    let in_flight = relay.metrics.in_flight.clone();
    Edge::new(EdgeConfig { hop, hops, callers: Arc::new(NoCallers), in_flight, max_body_bytes: 1 << 20 })
}

pub struct Api {
    base: String,
    mock_base: String,
    http: reqwest::Client,
    /// Indexes files added to knowledge bases (tests run it with `run_once`).
    pub ingestor: Arc<Ingestor>,
    pub lifecycle: Arc<oblivious_core::shutdown::Lifecycle>,
    relay: Arc<Relay>,
    pub store: Store,
    _mock: oblivious_mock_upstream::MockServer,
    _files: tempfile::TempDir,
}

impl Api {
    pub async fn start(store: Store) -> Api {
        Self::start_with_bus(store, StreamBus::local()).await
    }

    /// A deployment whose chat streams go through `bus` (Redis, to play several pods).
    pub async fn start_with_bus(store: Store, bus: StreamBus) -> Api {
        let mock = oblivious_mock_upstream::spawn(oblivious_mock_upstream::MockConfig { record_requests: true })
            .await
            .unwrap();
        let config = RelayConfig { builtin_mock_base: Some(mock.base_url()), ..RelayConfig::default() };
        let settings = RuntimeConfig {
            bootstrap_key: Some(BOOTSTRAP.into()),
            internal_token: Some(INTERNAL.into()),
            ..RuntimeConfig::default()
        };
        let runtime = Runtime::local(settings, store);
        let relay = Relay::new(config, runtime.clone());
        install(&relay, "");
        let mut gateway = Gateway::new(runtime.clone(), GatewayConfig::with_secret(vec![7; 32]));
        gateway.extra_routes = oblivious_chat::route_docs();
        let files_dir = tempfile::tempdir().unwrap();
        let objects = ObjectStorage::local(files_dir.path()).unwrap();
        let files = Files::new(objects, runtime.store.clone(), FileLimits::default(), UrlSigner::new(&[7; 32]));
        gateway.files = Some(files.clone());
        let gateway = Arc::new(gateway);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let chat_config = ChatConfig {
            relay_url: base.clone(),
            internal_token: INTERNAL.into(),
            generate_titles: true,
            max_tool_steps: 3,
            stdio_tools: true,
            user_tool_servers: true,
            user_tool_private_addresses: true,
        };
        let edge = edge(&relay);
        let embedder = Embedder::new(&base, INTERNAL, edge.hops.clone());
        let ingestor = Ingestor::new(runtime.store.clone(), files, embedder.clone(), IngestSettings::default());
        let rag = Rag::new(gateway.clone(), ingestor.clone(), embedder);
        let lifecycle = runtime.lifecycle.clone();
        let chat =
            Chat::new(gateway.clone(), bus, chat_config, edge.hops.clone(), lifecycle.clone(), Some(rag.clone()));
        let relay_for_config = relay.clone();
        let app = oblivious_relay::app(relay)
            .merge(oblivious_gateway::router(gateway))
            .merge(oblivious_chat::router(chat))
            .merge(oblivious_rag::router(rag))
            .route_layer(axum::middleware::from_fn(oblivious_core::edge::record_route))
            .layer(axum::middleware::from_fn_with_state(edge, oblivious_core::edge::layer));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Api {
            base,
            mock_base: mock.base_url(),
            http: reqwest::Client::new(),
            ingestor,
            lifecycle,
            relay: relay_for_config,
            store: runtime.store.clone(),
            _mock: mock,
            _files: files_dir,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, String) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, text) = self.call(method, path, token, body).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, user: &User, path: &str) -> (StatusCode, Value) {
        self.json(reqwest::Method::GET, path, Some(&user.token), None).await
    }

    pub async fn get_text(&self, user: &User, path: &str) -> (StatusCode, String) {
        self.call(reqwest::Method::GET, path, Some(&user.token), None).await
    }

    pub async fn get_anonymous(&self, path: &str) -> (StatusCode, Value) {
        self.json(reqwest::Method::GET, path, None, None).await
    }

    /// A request without credentials whose body is sent as is (malformed, say).
    pub async fn anonymous_raw(&self, method: reqwest::Method, path: &str, body: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Any method, as `user`, with an optional JSON body.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        user: &User,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.json(method, path, Some(&user.token), body).await
    }

    pub async fn post(&self, user: &User, path: &str, body: Value) -> (StatusCode, Value) {
        self.json(reqwest::Method::POST, path, Some(&user.token), Some(body)).await
    }

    pub async fn put(&self, user: &User, path: &str, body: Value) -> (StatusCode, Value) {
        self.json(reqwest::Method::PUT, path, Some(&user.token), Some(body)).await
    }

    pub async fn patch(&self, user: &User, path: &str, body: Value) -> (StatusCode, Value) {
        self.json(reqwest::Method::PATCH, path, Some(&user.token), Some(body)).await
    }

    pub async fn delete(&self, user: &User, path: &str) -> (StatusCode, Value) {
        self.json(reqwest::Method::DELETE, path, Some(&user.token), None).await
    }

    /// Registers, logs in and credits `balance` (a decimal string) through the admin API.
    /// Logs an existing user in (on another pod, say).
    pub async fn log_in(&self, name: &str) -> User {
        let login = json!({"username": name, "password": "correct horse battery"});
        let (status, tokens) = self.json(reqwest::Method::POST, "/api/v1/auth/login", None, Some(login)).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let (_, profile) =
            self.json(reqwest::Method::GET, "/api/v1/user/profile", tokens["access_token"].as_str(), None).await;
        User {
            token: tokens["access_token"].as_str().unwrap().to_string(),
            id: profile["id"].as_str().unwrap().to_string(),
        }
    }

    pub async fn user_with_balance(&self, name: &str, balance: &str) -> User {
        let register =
            json!({"username": name, "email": format!("{name}@example.com"), "password": "correct horse battery"});
        let (status, user) = self.json(reqwest::Method::POST, "/api/v1/auth/register", None, Some(register)).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        let login = json!({"username": name, "password": "correct horse battery"});
        let (status, tokens) = self.json(reqwest::Method::POST, "/api/v1/auth/login", None, Some(login)).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let id = user["id"].as_str().unwrap().to_string();
        if balance != "0" {
            let path = format!("/api/v1/admin/users/{id}/balance");
            let body = json!({"amount": balance, "note": "test"});
            let (status, answer) = self.json(reqwest::Method::POST, &path, Some(BOOTSTRAP), Some(body)).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
        User { token: tokens["access_token"].as_str().unwrap().to_string(), id }
    }

    /// Adds `more` (YAML documents, e.g. an Agent) to the active configuration.
    pub fn configure(&self, more: &str) {
        install(&self.relay, more);
    }

    pub async fn make_admin(&self, user: &User) {
        let path = format!("/api/v1/admin/users/{}", user.id);
        let (status, answer) =
            self.json(reqwest::Method::PATCH, &path, Some(BOOTSTRAP), Some(json!({"role": "admin"}))).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }

    pub async fn set_group(&self, user: &User, group: &str) {
        let path = format!("/api/v1/admin/users/{}", user.id);
        let (status, answer) =
            self.json(reqwest::Method::PATCH, &path, Some(BOOTSTRAP), Some(json!({"group": group}))).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }

    /// Creates a session and returns its id.
    pub async fn session(&self, user: &User, body: Value) -> String {
        let (status, session) = self.post(user, "/api/v1/chat/sessions", body).await;
        assert_eq!(status, StatusCode::CREATED, "{session}");
        session["id"].as_str().unwrap().to_string()
    }

    /// Sends a message; returns the answer (the reply is still streaming).
    pub async fn send(&self, user: &User, session: &str, body: Value) -> Value {
        let (status, sent) = self.post(user, &format!("/api/v1/chat/sessions/{session}/messages"), body).await;
        assert_eq!(status, StatusCode::CREATED, "{sent}");
        sent
    }

    /// Sends a message with extra request headers (a canary lane, say).
    pub async fn send_with_headers(&self, user: &User, session: &str, body: Value, headers: &[(&str, &str)]) -> Value {
        let mut request = self
            .http
            .post(format!("{}/api/v1/chat/sessions/{session}/messages", self.base))
            .bearer_auth(&user.token)
            .json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// Sends a message and reads its reply to the end.
    pub async fn exchange(&self, user: &User, session: &str, body: Value) -> Value {
        let sent = self.send(user, session, body).await;
        let events = self.read_stream(user, sent["stream_id"].as_str().unwrap(), None).await;
        assert_eq!(events.last().map(|e| e.event.as_str()), Some("done"), "{events:?}");
        sent
    }

    /// The contents of the topic's active branch (replies shortened to their first word).
    pub async fn branch(&self, user: &User, session: &str, topic: &str) -> Vec<String> {
        let (_, page) = self.get(user, &format!("/api/v1/chat/sessions/{session}/messages?topic_id={topic}")).await;
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let content = m["content"].as_str().unwrap();
                if m["role"] == "assistant" {
                    content.split_whitespace().next().unwrap_or("").to_string()
                } else {
                    content.to_string()
                }
            })
            .collect()
    }

    pub async fn open_stream(&self, user: &User, stream: &str, last_event_id: Option<u64>) -> Reader {
        let mut request = self.http.get(format!("{}/api/v1/chat/streams/{stream}", self.base)).bearer_auth(&user.token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Reader { response, parser: SseParser::new(), pending: Vec::new() }
    }

    /// Every event of the stream until it ends.
    pub async fn read_stream(&self, user: &User, stream: &str, last_event_id: Option<u64>) -> Vec<Event> {
        self.open_stream(user, stream, last_event_id).await.rest().await
    }

    /// Polls the session's newest page until the reply is no longer streaming.
    pub async fn wait_for_reply(&self, user: &User, session: &str, reply: &str) -> Value {
        self.wait_until("the reply to finish", || async {
            let (_, page) = self.get(user, &format!("/api/v1/chat/sessions/{session}/messages")).await;
            let found = page["messages"].as_array()?.iter().find(|m| m["id"] == reply)?.clone();
            (found["status"] != "streaming").then_some(found)
        })
        .await
    }

    pub async fn wait_for_topic_title(&self, user: &User, session: &str, topic: &str, old: &str) -> String {
        self.wait_until("the generated title", || async {
            let (_, topics) = self.get(user, &format!("/api/v1/chat/sessions/{session}/topics")).await;
            let found = topics["topics"].as_array()?.iter().find(|t| t["id"] == topic)?.clone();
            found["title"].as_str().filter(|t| *t != old).map(str::to_string)
        })
        .await
    }

    /// The ledger amount (micro-units, negative) charged for relay request `request_id`, once
    /// settled (settlement is asynchronous).
    pub async fn wait_for_charge(&self, user: &User, request_id: &str) -> i64 {
        self.wait_until("the charge to settle", || async {
            let (_, ledger) = self.get(user, "/api/v1/user/ledger").await;
            let entries = ledger["data"].as_array()?;
            let entry = entries.iter().find(|e| e["request_id"] == request_id)?;
            oblivious_runtime::money::parse_decimal_micros(entry["amount"].as_str()?).ok()
        })
        .await
    }

    pub async fn wait_until<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(value) = check().await {
                return value;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Uploads `bytes` as the user's file `name`; returns its id.
    pub async fn upload(&self, user: &User, name: &str, bytes: &[u8]) -> String {
        let boundary = "chat-test-boundary";
        let mut body =
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\r\n")
                .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let response = self
            .http
            .post(format!("{}/api/v1/files", self.base))
            .bearer_auth(&user.token)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap();
        let file: Value = response.json().await.unwrap();
        file["id"].as_str().unwrap().to_string()
    }

    /// The deployment's base URL (`http://127.0.0.1:port`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// What the mock upstream received.
    pub async fn upstream_requests(&self) -> Vec<Value> {
        let response = self.http.get(format!("{}/_mock/requests", self.mock_base)).send().await.unwrap();
        response.json::<Value>().await.unwrap().as_array().cloned().unwrap_or_default()
    }
}

/// One SSE event as a client sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: u64,
    pub event: String,
    pub data: Value,
}

/// An open stream.
pub struct Reader {
    response: reqwest::Response,
    parser: SseParser,
    pending: Vec<Event>,
}

impl Reader {
    /// The status of a stream request, for requests expected to fail.
    pub async fn open_raw(api: &Api, user: &User, path: &str, last_event_id: Option<&str>) -> u16 {
        let mut request = api.http.get(format!("{}{path}", api.base)).bearer_auth(&user.token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        request.send().await.unwrap().status().as_u16()
    }

    pub async fn next(&mut self) -> Option<Event> {
        loop {
            if !self.pending.is_empty() {
                return Some(self.pending.remove(0));
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk()).await.expect("the stream went silent");
            let chunk = chunk.ok()??;
            for event in self.parser.push(&chunk) {
                self.pending.push(Event {
                    id: event.id.as_deref().unwrap().parse().unwrap(),
                    event: event.event.unwrap_or_default(),
                    data: serde_json::from_str(&event.data).unwrap(),
                });
            }
        }
    }

    /// The next `count` events.
    pub async fn take(&mut self, count: usize) -> Vec<Event> {
        let mut events = Vec::new();
        while events.len() < count {
            events.push(self.next().await.expect("the stream ended early"));
        }
        events
    }

    /// Every event until the stream ends (its `done` or `error`).
    pub async fn rest(mut self) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            let last = matches!(event.event.as_str(), "done" | "error");
            events.push(event);
            if last {
                break;
            }
        }
        events
    }
}
