//! An in-process deployment for the benchmarks, assembled as `oblivious dev` assembles it: the
//! mock upstream, the relay with billing, the gateway, chat on the in-process bus and, with
//! files, the RAG service (its ingestion worker is driven by the benchmark, not spawned).

use std::sync::{Arc, OnceLock};

use anyhow::Context;
use oblivious_rag::Rag;
use oblivious_store::Store;
use serde_json::{Value, json};

use crate::process::{self, Services};

/// `bench` answers twenty words; `bench-embed` embeds (the mock's hashed-token vectors).
const MANIFESTS: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: up}\nstringData: {key: sk-bench}\n---\n\
apiVersion: oblivious.dev/v1alpha1\nkind: Channel\nmetadata: {name: bench}\nspec:\n  provider: openai\n  \
baseUrl: builtin://mock-upstream/v1\n  apiKeySecretRef: {name: up, key: key}\n  models:\n    \
- {name: bench, upstreamModel: \"bench@words=20\"}\n    - {name: bench-embed, upstreamModel: text-embedding-3-small}\n---\n\
apiVersion: oblivious.dev/v1alpha1\nkind: ModelPricing\nmetadata: {name: p}\nspec:\n  currency: USD\n  models:\n    \
- {name: bench, input: \"0.01\", output: \"0.01\"}\n    - {name: bench-embed, input: \"0.02\", output: \"0\"}\n";

/// Everything in this process.
pub(super) struct Deployment {
    pub base: String,
    pub internal_token: String,
    /// The benchmark user, acted for on the relay path as chat does.
    pub user_id: OnceLock<String>,
    /// The RAG service, when the deployment has files.
    pub rag: Option<Arc<Rag>>,
    _mock: oblivious_mock_upstream::MockServer,
    _dir: tempfile::TempDir,
}

impl Deployment {
    /// A deployment on `store` (SQLite in a temporary directory when `None`); `with_files`
    /// adds file storage (in that directory) and the RAG service.
    pub async fn start(store: Option<Store>, with_files: bool) -> anyhow::Result<Deployment> {
        let dir = tempfile::tempdir()?;
        let store = match store {
            Some(store) => store,
            None => Store::open_sqlite(dir.path()).await?,
        };
        store.migrate().await?;
        let mock =
            oblivious_mock_upstream::spawn(oblivious_mock_upstream::MockConfig { record_requests: false }).await?;
        let internal_token = process::internal_token(Services::ALL)?;
        let config = oblivious_relay::RelayConfig {
            builtin_mock_base: Some(mock.base_url()),
            ..oblivious_relay::RelayConfig::default()
        };
        let settings = oblivious_runtime::RuntimeConfig {
            internal_token: Some(internal_token.clone()),
            ..oblivious_runtime::RuntimeConfig::default()
        };
        let relay = oblivious_relay::Relay::new(config, oblivious_runtime::Runtime::local(settings, store));
        let mut manifests = oblivious_crds::Manifests::default();
        let mut errors = Vec::new();
        oblivious_crds::parse_documents(std::path::Path::new("bench.yaml"), MANIFESTS, &mut manifests, &mut errors);
        let snapshot = oblivious_compile::compile(&manifests).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        relay.install(snapshot);
        let mut gateway_config = oblivious_gateway::GatewayConfig::with_secret(rand::random::<[u8; 32]>().to_vec());
        gateway_config.initial_balance_micros = 1_000_000_000;
        let files = if with_files { Some(process::files(dir.path(), &relay.runtime, &gateway_config)?) } else { None };
        let gateway = process::gateway(relay.runtime.clone(), gateway_config, Services::ALL, files);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let mut chat_config = process::chat_config(base.clone(), internal_token.clone(), false)?;
        chat_config.generate_titles = false;
        let edge = process::edge(&relay, &gateway, "all", "bench", "default");
        let rag = process::rag(&gateway, &base, &internal_token, &edge, None);
        let chat = process::chat(&gateway, oblivious_chat::bus::StreamBus::local(), chat_config, &edge, rag.clone());
        let app = process::router(Services::ALL, relay, &gateway, Some(chat), rag.clone(), edge);
        tokio::spawn(async move { axum::serve(oblivious_core::serve::without_nagle(listener), app).await });
        Ok(Deployment { base, internal_token, user_id: OnceLock::new(), rag, _mock: mock, _dir: dir })
    }

    /// Registers and logs in the benchmark user; its access token.
    pub async fn user_token(&self, http: &reqwest::Client) -> anyhow::Result<String> {
        let user = json!({"username": "bench", "email": "bench@example.com", "password": "bench password 1"});
        http.post(format!("{}/api/v1/auth/register", self.base)).json(&user).send().await?.error_for_status()?;
        let login: Value = http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"username": "bench", "password": "bench password 1"}))
            .send()
            .await?
            .json()
            .await?;
        let token = login["access_token"].as_str().context("login failed")?.to_string();
        let profile: Value =
            http.get(format!("{}/api/v1/user/profile", self.base)).bearer_auth(&token).send().await?.json().await?;
        self.user_id.set(profile["id"].as_str().context("no profile")?.to_string()).ok();
        Ok(token)
    }
}
