//! `oblivious dev`: every role in one process with embedded defaults.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use oblivious_gateway::{Gateway, GatewayConfig, Registration, jwt_secret, parse_decimal_micros};
use oblivious_relay::billing::BillingConfig;
use oblivious_relay::{Relay, RelayConfig};
use oblivious_store::kv::SharedState;
use oblivious_store::{NewApiKey, Store};

use crate::cli::DevArgs;
use crate::manifests;

/// How long in-flight requests may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let store = args.store.connect().await?;
    store.migrate().await.context("migrations failed")?;
    let bootstrap_key = std::env::var("OBLIVIOUS_BOOTSTRAP_KEY").ok().filter(|k| !k.is_empty());
    if bootstrap_key.is_none() {
        ensure_admin_key(&store).await?;
    }

    let mock_config = oblivious_mock_upstream::MockConfig { record_requests: false };
    let mock = oblivious_mock_upstream::spawn(mock_config).await.context("cannot start the built-in mock upstream")?;
    let config = RelayConfig {
        max_body_bytes: args.max_body_bytes,
        builtin_mock_base: Some(mock.base_url()),
        bootstrap_key,
        billing: BillingConfig { replicas: args.replicas, ..BillingConfig::default() },
        ..RelayConfig::default()
    };
    let shared = shared_state(args.redis_url.as_deref()).await?;
    let relay = Relay::with_shared_state(config, store.clone(), shared);
    let gateway = Arc::new(Gateway::new(store, relay.clone(), gateway_config(&args.store.data_dir)?));

    let manifests_dir = args.manifests.or_else(|| Some(PathBuf::from("crds/examples")).filter(|p| p.is_dir()));
    manifests::start(relay.clone(), manifests_dir).await?;

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    eprintln!(
        "oblivious dev listening on http://{addr}  (OpenAI: http://{addr}/v1, Anthropic: http://{addr}, Gemini: http://{addr}/v1beta)"
    );

    let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        oblivious_core::shutdown::signal().await;
        let _ = drained_tx.send(());
    };
    let app = oblivious_relay::app(relay.clone()).merge(oblivious_gateway::router(gateway));
    let server = axum::serve(oblivious_core::serve::without_nagle(listener), app).with_graceful_shutdown(shutdown);
    let server = tokio::spawn(async move { server.await });
    // Serve until the signal, then give in-flight streams DRAIN_TIMEOUT to finish.
    let _ = drained_rx.await;
    if tokio::time::timeout(DRAIN_TIMEOUT, server).await.is_err() {
        eprintln!("in-flight requests did not finish within {DRAIN_TIMEOUT:?}; stopping anyway");
    }
    relay.logs.flush().await;
    mock.shutdown();
    Ok(())
}

/// The product API's settings from the environment: `OBLIVIOUS_JWT_SECRET` (else a secret kept in
/// the data dir), `OBLIVIOUS_INITIAL_BALANCE`, `OBLIVIOUS_REGISTRATION=open|closed`,
/// `OBLIVIOUS_FIRST_USER_ADMIN=true|false`.
fn gateway_config(data_dir: &Path) -> anyhow::Result<GatewayConfig> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let secret =
        jwt_secret(env("OBLIVIOUS_JWT_SECRET").as_deref(), data_dir).context("cannot set up the JWT secret")?;
    let mut config = GatewayConfig::with_secret(secret);
    if let Some(balance) = env("OBLIVIOUS_INITIAL_BALANCE") {
        config.initial_balance_micros =
            parse_decimal_micros(&balance).map_err(|reason| anyhow::anyhow!("OBLIVIOUS_INITIAL_BALANCE: {reason}"))?;
    }
    config.registration = match env("OBLIVIOUS_REGISTRATION").as_deref() {
        None | Some("open") => Registration::Open,
        Some("closed") => Registration::Closed,
        Some(other) => anyhow::bail!("OBLIVIOUS_REGISTRATION must be open or closed, not `{other}`"),
    };
    config.first_user_admin = !matches!(env("OBLIVIOUS_FIRST_USER_ADMIN").as_deref(), Some("false" | "0"));
    Ok(config)
}

/// Quota holds and rate limits: in this process, or in Redis when `REDIS_URL` is set (so several
/// processes share them, as replicas in a cluster do).
async fn shared_state(redis_url: Option<&str>) -> anyhow::Result<SharedState> {
    match redis_url.filter(|u| !u.is_empty()) {
        None => Ok(SharedState::local()),
        Some(url) => SharedState::redis(url, oblivious_store::kv::PRODUCTION_PREFIX)
            .await
            .context("cannot connect to Redis (REDIS_URL)"),
    }
}

/// Without `OBLIVIOUS_BOOTSTRAP_KEY`, the first start creates an admin key and prints it once.
async fn ensure_admin_key(store: &Store) -> anyhow::Result<()> {
    let keys = store.list_api_keys().await?;
    if keys.iter().any(|k| k.is_admin && k.revoked_at.is_none()) {
        return Ok(());
    }
    let created = store
        .create_api_key(NewApiKey {
            name: "bootstrap-admin".into(),
            models: Vec::new(),
            expires_at: None,
            is_admin: true,
            ..NewApiKey::default()
        })
        .await?;
    eprintln!();
    eprintln!("  Admin API key (shown once, only its hash is stored):");
    eprintln!("      {}", created.secret);
    eprintln!();
    Ok(())
}
