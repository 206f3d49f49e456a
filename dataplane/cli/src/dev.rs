//! `oblivious dev`: every role in one process with embedded defaults (SQLite, in-process state,
//! the built-in mock upstream, a watched manifests directory, the web UI).

use std::path::PathBuf;

use anyhow::Context;
use oblivious_store::{NewApiKey, Store};

use crate::cli::DevArgs;
use crate::drain;
use crate::manifests;
use crate::process::{self, Services};

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let drain = drain::DrainSettings::from_env()?;
    let store = args.store.connect().await?;
    store.migrate().await.context("migrations failed")?;
    if process::bootstrap_key().is_none() {
        ensure_admin_key(&store).await?;
    }

    let mock = process::start_builtin_mock().await?;
    let internal_token = process::internal_token(Services::ALL)?;
    let settings = process::RelaySettings {
        max_body_bytes: args.max_body_bytes,
        replicas: args.replicas,
        redis_url: args.redis_url.as_deref(),
        mock: Some(&mock),
        internal_token: internal_token.clone(),
        lane: String::new(),
    };
    let relay = process::relay(store.clone(), settings).await?;
    let gateway_config = process::gateway_config(&args.store.data_dir)?;
    let files = process::files(&args.store.data_dir, &relay.runtime, &gateway_config)?;
    let gateway = process::gateway(relay.runtime.clone(), gateway_config, Services::ALL, Some(files));
    process::webhook_worker(&gateway)?;

    let manifests_dir = args.manifests.or_else(|| Some(PathBuf::from("crds/examples")).filter(|p| p.is_dir()));
    manifests::start(relay.clone(), manifests_dir).await?;

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let edge = process::edge(&relay, &gateway, "all", "dev", "default");
    // Chat calls the relay like any client: here, this very process.
    let bus = process::chat_bus(args.redis_url.as_deref()).await?;
    let relay_url = format!("http://{addr}");
    let rag = process::rag(&gateway, &relay_url, &internal_token, &edge, Some(relay.metrics.rag_jobs_pending.clone()));
    let chat_config = process::chat_config(relay_url, internal_token, true)?;
    let chat = process::chat(&gateway, bus, chat_config, &edge, rag.clone());
    // Alone, this process owns every reply: those left streaming by a previous run are over.
    chat.spawn_reaper(args.replicas <= 1);
    eprintln!(
        "oblivious dev listening on http://{addr}  (web UI: http://{addr}/, OpenAI: http://{addr}/v1, Anthropic: http://{addr}, Gemini: http://{addr}/v1beta)"
    );

    let app = process::router(Services::ALL, relay.clone(), &gateway, Some(chat.clone()), rag, edge);
    drain::serve(listener, app, &relay, drain).await;
    // The replies are done: their tool servers may go (stdio children are stopped).
    chat.close_tools().await;
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
