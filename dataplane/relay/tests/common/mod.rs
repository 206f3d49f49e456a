//! Test harness: a real relay on 127.0.0.1:0 with a SQLite store, in front of a real mock
//! upstream on another port. Manifests use `builtin://mock-upstream`, which the harness points
//! at its mock.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use oblivious_compile::compile;
use oblivious_crds::{Manifests, parse_documents};
use oblivious_mock_upstream::{MockConfig, MockServer};
use oblivious_relay::{Relay, RelayConfig};
use oblivious_runtime::{Runtime, RuntimeConfig};
use oblivious_store::kv::SharedState;
use oblivious_store::{NewApiKey, NewUser, RequestLog, RequestLogFilter, Store, UserRecord};
use serde_json::{Value, json};
use uuid::Uuid;

pub const ADMIN_KEY: &str = "sk-test-admin-key-0123456789";
/// The token internal services (chat, RAG) present to the relay under test.
pub const INTERNAL_TOKEN: &str = "internal-secret-token";

pub const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: up}\nstringData: {key: sk-upstream-1}\n";

pub struct Harness {
    pub base: String,
    pub relay: Arc<Relay>,
    pub mock: MockServer,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// A channel manifest. `models` is a YAML flow list such as `[{name: m, upstreamModel: "x@status=503"}]`.
pub fn channel(name: &str, provider: &str, priority: i32, models: &str, extra: &str) -> String {
    let base = if provider == "openai" { "builtin://mock-upstream/v1" } else { "builtin://mock-upstream" };
    format!(
        "apiVersion: oblivious.dev/v1alpha1\nkind: Channel\nmetadata: {{name: {name}}}\nspec:\n  provider: {provider}\n  \
         baseUrl: {base}\n  apiKeySecretRef: {{name: up, key: key}}\n  priority: {priority}\n  models: {models}\n{extra}---\n"
    )
}

pub fn compile_yaml(yaml: &str) -> oblivious_config::Snapshot {
    let mut manifests = Manifests::default();
    let mut errors = Vec::new();
    parse_documents(Path::new("test.yaml"), yaml, &mut manifests, &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    compile(&manifests).expect("manifests compile")
}

impl Harness {
    pub async fn start(yaml: &str) -> Harness {
        Self::start_with(yaml, RelayConfig::default()).await
    }

    pub async fn start_with(yaml: &str, config: RelayConfig) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(None, dir.path()).await.unwrap();
        store.migrate().await.unwrap();
        Self::start_shared(yaml, config, store, SharedState::local(), dir).await
    }

    /// A relay on a given store and quota/limit state (several harnesses may share them, like
    /// replicas sharing PostgreSQL and Redis).
    pub async fn start_shared(
        yaml: &str,
        config: RelayConfig,
        store: Store,
        shared: SharedState,
        dir: tempfile::TempDir,
    ) -> Harness {
        let mock = oblivious_mock_upstream::spawn(MockConfig { record_requests: true }).await.unwrap();
        let config = RelayConfig { builtin_mock_base: Some(mock.base_url()), ..config };
        let settings = RuntimeConfig {
            bootstrap_key: Some(ADMIN_KEY.to_string()),
            internal_token: Some(INTERNAL_TOKEN.to_string()),
            ..RuntimeConfig::default()
        };
        let relay = Relay::new(config, Runtime::new(settings, store, shared));
        relay.install(compile_yaml(&format!("{SECRET}---\n{yaml}")));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = oblivious_relay::app(relay.clone());
        tokio::spawn(async move { axum::serve(oblivious_core::serve::without_nagle(listener), app).await });
        Harness { base: format!("http://{addr}"), relay, mock, http: reqwest::Client::new(), _dir: dir }
    }

    pub fn install(&self, yaml: &str) {
        self.relay.install(compile_yaml(&format!("{SECRET}---\n{yaml}")));
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http.post(format!("{}{path}", self.base)).bearer_auth(ADMIN_KEY).json(&body).send().await.unwrap()
    }

    pub async fn chat(&self, model: &str) -> reqwest::Response {
        self.post("/v1/chat/completions", json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .await
    }

    /// Request records, newest first, after flushing the asynchronous writer and settlements.
    pub async fn logs(&self) -> Vec<RequestLog> {
        self.relay.billing.settler.flush().await;
        self.relay.logs.flush().await;
        self.relay
            .runtime
            .store
            .list_request_logs(&RequestLogFilter { limit: 100, ..Default::default() })
            .await
            .unwrap()
    }

    /// The requests the mock received, oldest first.
    pub async fn upstream_requests(&self) -> Vec<Value> {
        let url = format!("{}/_mock/requests", self.mock.base_url());
        self.http.get(url).send().await.unwrap().json::<Vec<Value>>().await.unwrap()
    }

    pub async fn upstream_chat_requests(&self) -> Vec<Value> {
        self.upstream_requests().await.into_iter().filter(|r| r["path"] != "/_mock/requests").collect()
    }
}

/// Reads an SSE body to the end, returning the `data:` payloads and whether the body ended cleanly.
pub async fn read_sse(response: reqwest::Response) -> (Vec<String>, bool) {
    let mut parser = oblivious_core::sse::SseParser::new();
    let mut datas = Vec::new();
    let mut stream = response.bytes_stream();
    use futures_util::StreamExt;
    let mut clean = true;
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("stream stalled")
    {
        match chunk {
            Ok(bytes) => datas.extend(parser.push(&bytes).into_iter().map(|e| e.data)),
            Err(_) => {
                clean = false;
                break;
            }
        }
    }
    (datas, clean)
}

/// A user with `balance` micro-units and an API key made from `key`; returns the key's secret.
pub async fn user_with_key(store: &Store, balance: i64, key: NewApiKey) -> (UserRecord, String) {
    let name = format!("u{}", &Uuid::now_v7().simple().to_string()[20..]);
    let user = store
        .create_user(NewUser {
            username: name.clone(),
            email: format!("{name}@example.com"),
            password_hash: "x".into(),
            initial_balance_micros: balance,
            ..NewUser::default()
        })
        .await
        .unwrap();
    let created = store.create_api_key(NewApiKey { name: "k".into(), user_id: Some(user.id), ..key }).await.unwrap();
    (user, created.secret)
}
