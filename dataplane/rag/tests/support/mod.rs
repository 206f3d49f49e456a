//! A whole RAG deployment in the test process: store, relay with billing (in front of the mock
//! upstream, which records what it receives), the gateway with files on a local directory, and
//! the knowledge-base API, served on a port of their own; plus an ingestion worker whose
//! embedder calls that very port as an internal service acting for the user, exactly as in
//! `oblivious dev`. Tests drive ingestion with `run_once` (deterministic), not the background
//! worker.
//!
//! `cases!` turns each `async fn case(h: Harness)` into a SQLite and a PostgreSQL test, like
//! `oblivious_store::both_backends!`, but also hands the harness where its database lives, so a
//! test can look at the `chunks` table directly (the store's pool is private to its crate).

// Each test binary (ingest, search) uses its own part of the harness.
#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use oblivious_core::edge::{Caller, CallerLookup, Edge, EdgeConfig, Hop, Hops};
use oblivious_core::shutdown::Lifecycle;
use oblivious_files::{FileLimits, Files, ObjectStorage, UrlSigner};
use oblivious_gateway::{Gateway, GatewayConfig};
use oblivious_rag::{Embedder, IngestSettings, Ingestor, Outcome, Rag};
use oblivious_relay::{Relay, RelayConfig};
use oblivious_runtime::{Runtime, RuntimeConfig};
use oblivious_store::{RequestLog, RequestLogFilter, Store};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const INTERNAL: &str = "internal-rag-test-token";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
/// Credited to every new account: 10 EUR.
pub const INITIAL_BALANCE_MICROS: i64 = 10_000_000;
/// Conditions a test waits for are met within this, or the test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// `embed` answers at once, `embed-slow` after 300 ms; both are the mock's 1536-dimension
/// `text-embedding-3-small`, priced at 100 EUR per 1M input tokens (so every request costs
/// something). `chat` is a chat model, to show a knowledge base takes any configured name.
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
    - {name: embed, upstreamModel: "text-embedding-3-small"}
    - {name: embed-slow, upstreamModel: "text-embedding-3-small@ttfb=300"}
    - {name: chat, upstreamModel: "u@words=5"}
    - {name: rr, upstreamModel: jina-reranker-v2}
    - {name: rr-down, upstreamModel: "rr@status=500"}
---
apiVersion: oblivious.dev/v1alpha1
kind: ModelPricing
metadata: {name: p}
spec:
  currency: EUR
  models:
    - {name: embed, input: "100", output: "0"}
    - {name: embed-slow, input: "100", output: "0"}
    - {name: chat, input: "1", output: "2"}
    - {name: rr, input: "50", output: "0"}
"#;

/// Where a test's database lives, for direct SQL.
pub enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

/// A signed-in user.
pub struct User {
    pub token: String,
    pub id: Uuid,
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

pub struct Harness {
    pub base: String,
    mock_base: String,
    http: reqwest::Client,
    pub store: Store,
    pub relay: Arc<Relay>,
    /// The worker the API wakes (the one a `dev` process would run).
    pub ingestor: Arc<Ingestor>,
    pub lifecycle: Arc<Lifecycle>,
    files: Files,
    embedder: Embedder,
    db: Db,
    _mock: oblivious_mock_upstream::MockServer,
    _objects: tempfile::TempDir,
}

/// The harness's ingestion settings: a short lease, small batches, a quick poll.
pub fn settings() -> IngestSettings {
    IngestSettings {
        lease: Duration::from_secs(2),
        batch: 4,
        poll: Duration::from_millis(50),
        index_after_vectors: 1,
        index_build_memory_mb: 64,
    }
}

impl Harness {
    pub async fn start(store: Store, db: Db) -> Harness {
        let mock = oblivious_mock_upstream::spawn(oblivious_mock_upstream::MockConfig { record_requests: true })
            .await
            .unwrap();
        let relay_config = RelayConfig { builtin_mock_base: Some(mock.base_url()), ..RelayConfig::default() };
        let runtime_config = RuntimeConfig { internal_token: Some(INTERNAL.into()), ..RuntimeConfig::default() };
        let runtime = Runtime::local(runtime_config, store.clone());
        let relay = Relay::new(relay_config, runtime.clone());
        let mut manifests = oblivious_crds::Manifests::default();
        let mut errors = Vec::new();
        oblivious_crds::parse_documents(Path::new("t.yaml"), MANIFESTS, &mut manifests, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        relay.install(oblivious_compile::compile(&manifests).unwrap());

        let objects_dir = tempfile::tempdir().unwrap();
        let objects = ObjectStorage::local(objects_dir.path()).unwrap();
        let limits = FileLimits { max_file_bytes: 256 * 1024, user_quota_bytes: 4 * 1024 * 1024 };
        let files = Files::new(objects, store.clone(), limits, UrlSigner::derived_from(SECRET));
        let mut gateway_config = GatewayConfig::with_secret(SECRET.to_vec());
        gateway_config.initial_balance_micros = INITIAL_BALANCE_MICROS;
        let mut gateway = Gateway::new(runtime.clone(), gateway_config);
        gateway.files = Some(files.clone());
        gateway.extra_routes = oblivious_rag::route_docs();
        let gateway = Arc::new(gateway);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // The edge every process mounts: the embedder's calls carry the hop token it trusts.
        let relay_runtime = relay.runtime.clone();
        let hops = Hops::new(Arc::new(move || relay_runtime.lanes()), Some(INTERNAL.into()));
        let edge = Edge::new(EdgeConfig {
            hop: Hop { role: "all".into(), lane: String::new(), instance: "test".into(), tenant: "default".into() },
            hops,
            callers: Arc::new(NoCallers),
            in_flight: relay.metrics.in_flight.clone(),
            max_body_bytes: 1 << 20,
        });
        let mut embedder = Embedder::new(&base, INTERNAL, edge.hops.clone());
        embedder.backoff.first = Duration::from_millis(50);
        let ingestor = Ingestor::new(store.clone(), files.clone(), embedder.clone(), settings());
        let rag = Rag::new(gateway.clone(), ingestor.clone(), embedder.clone());
        let app = oblivious_relay::app(relay.clone())
            .merge(oblivious_gateway::router(gateway))
            .merge(oblivious_rag::router(rag))
            .layer(axum::middleware::from_fn_with_state(edge, oblivious_core::edge::layer));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Harness {
            base,
            mock_base: mock.base_url(),
            http: reqwest::Client::new(),
            store,
            relay,
            ingestor,
            lifecycle: runtime.lifecycle.clone(),
            files,
            embedder,
            db,
            _mock: mock,
            _objects: objects_dir,
        }
    }

    /// Another worker on the same store and relay (another process, say).
    pub fn ingestor(&self, settings: IngestSettings) -> Arc<Ingestor> {
        Ingestor::new(self.store.clone(), self.files.clone(), self.embedder.clone(), settings)
    }

    /// One job by the harness's worker.
    pub async fn run_once(&self) -> Option<Outcome> {
        self.ingestor.run_once(&self.lifecycle).await.unwrap()
    }

    // --- HTTP ---

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        user: &User,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&user.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, user: &User, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, user, None).await
    }

    pub async fn post(&self, user: &User, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, user, Some(body)).await
    }

    pub async fn patch(&self, user: &User, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PATCH, path, user, Some(body)).await
    }

    pub async fn delete(&self, user: &User, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::DELETE, path, user, None).await
    }

    /// Registers and logs in (the account starts with `INITIAL_BALANCE_MICROS`).
    pub async fn sign_up(&self, name: &str) -> User {
        let register =
            json!({"username": name, "email": format!("{name}@example.com"), "password": "correct horse battery"});
        let response =
            self.http.post(format!("{}/api/v1/auth/register", self.base)).json(&register).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let user: Value = response.json().await.unwrap();
        let login = json!({"username": name, "password": "correct horse battery"});
        let response = self.http.post(format!("{}/api/v1/auth/login", self.base)).json(&login).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let tokens: Value = response.json().await.unwrap();
        User {
            token: tokens["access_token"].as_str().unwrap().to_string(),
            id: user["id"].as_str().unwrap().parse().unwrap(),
        }
    }

    /// Uploads `bytes` as `name` through `/api/v1/files` (multipart, by hand); returns the file.
    pub async fn upload(&self, user: &User, name: &str, bytes: &[u8]) -> Value {
        let boundary = "oblivious-rag-test-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
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
        let status = response.status();
        let file: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::CREATED, "{file}");
        file
    }

    /// Creates a knowledge base; returns it.
    pub async fn knowledge_base(&self, user: &User, body: Value) -> Value {
        let (status, kb) = self.post(user, "/api/v1/knowledge-bases", body).await;
        assert_eq!(status, StatusCode::CREATED, "{kb}");
        kb
    }

    /// Adds a file to a knowledge base.
    pub async fn add_file(&self, user: &User, kb: &str, file: &str) -> (StatusCode, Value) {
        self.post(user, &format!("/api/v1/knowledge-bases/{kb}/files"), json!({"file_id": file})).await
    }

    /// The files of a knowledge base as the API lists them.
    pub async fn kb_files(&self, user: &User, kb: &str) -> Vec<Value> {
        let (status, page) = self.get(user, &format!("/api/v1/knowledge-bases/{kb}/files")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["data"].as_array().unwrap().clone()
    }

    /// Polls until `check` gives a value.
    pub async fn wait_until<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(value) = check().await {
                return value;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // --- What happened behind the API ---

    /// The relay's request records of `user`, newest first (flushed first).
    pub async fn request_logs(&self, user: &User) -> Vec<RequestLog> {
        self.relay.logs.flush().await;
        let filter = RequestLogFilter { limit: 1000, user_id: Some(user.id), ..RequestLogFilter::default() };
        self.store.list_request_logs(&filter).await.unwrap()
    }

    /// The inputs of every embeddings request the mock upstream received, request by request.
    pub async fn upstream_embedding_batches(&self) -> Vec<Vec<String>> {
        let response = self.http.get(format!("{}/_mock/requests", self.mock_base)).send().await.unwrap();
        let requests: Value = response.json().await.unwrap();
        requests
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["path"] == "/v1/embeddings")
            .map(|r| r["body"]["input"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_string()).collect())
            .collect()
    }

    /// `(ordinal, has a vector)` of every row of `chunks` for the file in the base, by ordinal.
    pub async fn chunk_rows(&self, kb: Uuid, file: Uuid) -> Vec<(i64, bool)> {
        let sql =
            "SELECT ordinal, embedding IS NOT NULL FROM chunks WHERE kb_id = $1 AND file_id = $2 ORDER BY ordinal";
        match &self.db {
            Db::Sqlite(dir) => {
                let pool = self.sqlite(dir).await;
                let rows: Vec<(i64, bool)> = sqlx::query_as(sql).bind(kb).bind(file).fetch_all(&pool).await.unwrap();
                pool.close().await;
                rows
            }
            Db::Postgres(url) => {
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                let rows: Vec<(i32, bool)> = sqlx::query_as(sql).bind(kb).bind(file).fetch_all(&pool).await.unwrap();
                pool.close().await;
                rows.into_iter().map(|(o, e)| (i64::from(o), e)).collect()
            }
        }
    }

    /// Rows of `chunks` in a knowledge base, whatever their file.
    pub async fn chunk_count(&self, kb: Uuid) -> i64 {
        let sql = "SELECT COUNT(*) FROM chunks WHERE kb_id = $1";
        match &self.db {
            Db::Sqlite(dir) => {
                let pool = self.sqlite(dir).await;
                let (count,): (i64,) = sqlx::query_as(sql).bind(kb).fetch_one(&pool).await.unwrap();
                pool.close().await;
                count
            }
            Db::Postgres(url) => {
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                let (count,): (i64,) = sqlx::query_as(sql).bind(kb).fetch_one(&pool).await.unwrap();
                pool.close().await;
                count
            }
        }
    }

    /// Whether the base has a partial HNSW index (PostgreSQL; `None` on SQLite, which has none).
    pub async fn vector_index_exists(&self, kb: Uuid) -> Option<bool> {
        self.vector_indexes(kb).await.map(|names| !names.is_empty())
    }

    /// The base's HNSW indexes with their definitions (PostgreSQL; `None` on SQLite).
    pub async fn vector_indexes(&self, kb: Uuid) -> Option<Vec<(String, String)>> {
        let Db::Postgres(url) = &self.db else { return None };
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let sql = "SELECT indexname::text, indexdef FROM pg_indexes WHERE tablename = 'chunks' AND indexname LIKE $1 \
                   ORDER BY indexname";
        let names = sqlx::query_as(sql).bind(format!("chunks_hnsw_{}%", kb.simple())).fetch_all(&pool).await.unwrap();
        pool.close().await;
        Some(names)
    }

    /// How PostgreSQL would run `sql` if it could avoid whole-table scans and sorts (`EXPLAIN`
    /// text; `None` on SQLite): a test's table is small enough that scanning and sorting it beats
    /// any index, so this shows which indexes the statement *can* use.
    pub async fn explain(&self, sql: &str) -> Option<String> {
        let Db::Postgres(url) = &self.db else { return None };
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url).await.unwrap();
        for setting in ["SET enable_seqscan = off", "SET enable_sort = off"] {
            sqlx::query(setting).execute(&mut conn).await.unwrap();
        }
        let lines: Vec<(String,)> = sqlx::query_as(&format!("EXPLAIN {sql}")).fetch_all(&mut conn).await.unwrap();
        sqlx::Connection::close(conn).await.unwrap();
        Some(lines.into_iter().map(|(line,)| line).collect::<Vec<_>>().join("\n"))
    }

    async fn sqlite(&self, dir: &Path) -> sqlx::SqlitePool {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(dir.join("oblivious.db")).read_only(true);
        sqlx::SqlitePool::connect_with(options).await.unwrap()
    }
}

/// A UUID field of an API answer.
pub fn id(value: &Value) -> Uuid {
    value["id"].as_str().or_else(|| value["file_id"].as_str()).unwrap().parse().unwrap()
}

/// Turns each `async fn case(h: Harness)` into `case::sqlite` and `case::postgres`, each on a
/// fresh migrated store (see the module documentation).
#[macro_export]
macro_rules! cases {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let store = oblivious_store::Store::open_sqlite(dir.path()).await.unwrap();
                store.migrate().await.unwrap();
                let db = $crate::support::Db::Sqlite(dir.path().to_path_buf());
                super::$case($crate::support::Harness::start(store.clone(), db).await).await;
                store.close().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = oblivious_store::testing::TestDatabase::create().await.unwrap() else {
                    eprintln!("skipped: {} is not set", oblivious_store::testing::TEST_DATABASE_URL);
                    return;
                };
                let store = db.store().await.unwrap();
                let handle = $crate::support::Db::Postgres(db.url.clone());
                super::$case($crate::support::Harness::start(store.clone(), handle).await).await;
                store.close().await;
                db.drop_database().await.unwrap();
            }
        }
    )*};
}
