//! `oblivious dev`: every role in one process with embedded defaults (SQLite, in-process state,
//! the built-in mock upstream, a watched manifests directory, the web UI).

use std::path::PathBuf;

use anyhow::Context;
use oblivious_relay::billing::BillingConfig;
use oblivious_relay::{Relay, RelayConfig};
use oblivious_store::{NewApiKey, Store};

use crate::cli::DevArgs;
use crate::manifests;
use crate::process::{self, Services};

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let store = args.store.connect().await?;
    store.migrate().await.context("migrations failed")?;
    let bootstrap_key = std::env::var("OBLIVIOUS_BOOTSTRAP_KEY").ok().filter(|k| !k.is_empty());
    if bootstrap_key.is_none() {
        ensure_admin_key(&store).await?;
    }

    let mock_config = oblivious_mock_upstream::MockConfig { record_requests: false };
    let mock = oblivious_mock_upstream::spawn(mock_config).await.context("cannot start the built-in mock upstream")?;
    let internal_token = process::internal_token(Services::ALL)?;
    let config = RelayConfig {
        max_body_bytes: args.max_body_bytes,
        builtin_mock_base: Some(mock.base_url()),
        bootstrap_key,
        internal_token: Some(internal_token.clone()),
        billing: BillingConfig { replicas: args.replicas, ..BillingConfig::default() },
        ..RelayConfig::default()
    };
    let shared = process::shared_state(args.redis_url.as_deref()).await?;
    let relay = Relay::with_shared_state(config, store.clone(), shared);
    let gateway_config = process::gateway_config(&args.store.data_dir)?;
    let gateway = process::gateway(store, relay.clone(), gateway_config, Services::ALL);

    let manifests_dir = args.manifests.or_else(|| Some(PathBuf::from("crds/examples")).filter(|p| p.is_dir()));
    manifests::start(relay.clone(), manifests_dir).await?;

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // Chat calls the relay like any client: here, this very process.
    let bus = process::chat_bus(args.redis_url.as_deref()).await?;
    let chat =
        oblivious_chat::Chat::new(gateway.clone(), bus, process::chat_config(format!("http://{addr}"), internal_token));
    // Alone, this process owns every reply: those left streaming by a previous run are over.
    chat.spawn_reaper(args.replicas <= 1);
    eprintln!(
        "oblivious dev listening on http://{addr}  (web UI: http://{addr}/, OpenAI: http://{addr}/v1, Anthropic: http://{addr}, Gemini: http://{addr}/v1beta)"
    );

    let app = process::router(Services::ALL, relay.clone(), &gateway, Some(chat));
    process::serve(listener, app).await;
    relay.logs.flush().await;
    mock.shutdown();
    Ok(())
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
