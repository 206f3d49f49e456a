//! `oblivious-operator serve-local --manifests DIR --listen ADDR`: the config stream outside a
//! cluster. The manifests directory plays the API server: it is compiled with the same function
//! the operator uses, watched, and served as tenant `default`. An edit that does not compile is
//! logged (file, field path, reason) and the last good snapshot keeps being served.
//! `/metrics` and `/healthz` are served on the same port, and `/channels/health`: what the
//! operator would write into each Channel's `status.health` and `Healthy` condition, from the
//! connected relays' health reports.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::routing::get;
use notify::{RecursiveMode, Watcher};
use oblivious_config::Snapshot;
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, watch};

use super::{Distribution, DistributionConfig, SyncOutcome, SyncReport, TenantSnapshots};
use crate::compile_cli::compile_dir;
use crate::controllers::health;

/// Every manifest in the directory belongs to this tenant.
pub const LOCAL_TENANT: &str = "default";
/// Editors write, rename and chmod in bursts: wait for the burst to end before compiling.
const WATCH_DEBOUNCE: Duration = Duration::from_millis(50);

/// Runs `serve-local` until SIGINT/SIGTERM.
pub async fn run(manifests: PathBuf, listen: String) -> anyhow::Result<()> {
    let dir = manifests.canonicalize().with_context(|| format!("manifests directory {}", manifests.display()))?;
    let snapshot = compile_dir(&dir).map_err(|errors| {
        for error in &errors {
            eprintln!("config error: {error}");
        }
        anyhow::anyhow!("the manifests in {} do not compile ({} problems)", dir.display(), errors.len())
    })?;
    let (snapshots, source) = watch::channel(tenant_map(snapshot));
    let _watcher = watch_dir(dir.clone(), snapshots)?;
    let served = source.clone();

    let (reports, report_log) = mpsc::channel(4096);
    tokio::spawn(log_reports(report_log));
    let distribution = Distribution::spawn(source, reports, DistributionConfig::default());
    let mut registry = Registry::default();
    distribution.metrics().register(&mut registry);
    let registry = Arc::new(registry);
    let reporting = distribution.clone();
    let extra = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move {
                    let mut text = String::new();
                    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
                    text
                }
            }),
        )
        .route(
            "/channels/health",
            get(move || {
                let snapshot = served.borrow().get(LOCAL_TENANT).cloned();
                let body = channels_health(snapshot.as_deref(), &reporting);
                async move { axum::Json(body) }
            }),
        );

    let listener =
        tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    eprintln!(
        "serve-local: config stream on http://{} for tenant {LOCAL_TENANT:?} from {} (watched)",
        listener.local_addr()?,
        dir.display()
    );
    super::serve(listener, distribution, Some(extra), oblivious_core::shutdown::signal()).await?;
    Ok(())
}

fn tenant_map(snapshot: Snapshot) -> TenantSnapshots {
    BTreeMap::from([(LOCAL_TENANT.to_string(), Arc::new(snapshot))])
}

/// Watches `dir` and recompiles after each burst of changes. The returned watcher must be kept.
fn watch_dir(dir: PathBuf, snapshots: watch::Sender<TenantSnapshots>) -> anyhow::Result<notify::RecommendedWatcher> {
    let (events, mut changes) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|event| !event.kind.is_access()) {
            let _ = events.send(());
        }
    })
    .context("cannot watch the manifests directory")?;
    watcher.watch(&dir, RecursiveMode::Recursive).context("cannot watch the manifests directory")?;
    tokio::spawn(async move {
        while changes.recv().await.is_some() {
            while let Ok(Some(())) = tokio::time::timeout(WATCH_DEBOUNCE, changes.recv()).await {}
            let dir = dir.clone();
            match tokio::task::spawn_blocking(move || compile_dir(&dir)).await {
                Ok(compiled) => apply(&snapshots, compiled),
                Err(error) => tracing::error!(%error, "compiling the manifests panicked"),
            }
        }
    });
    Ok(watcher)
}

/// Publishes a successful compile; logs a failed one and keeps the last good snapshot.
fn apply(snapshots: &watch::Sender<TenantSnapshots>, compiled: Result<Snapshot, Vec<String>>) {
    match compiled {
        Ok(snapshot) => {
            snapshots.send_if_modified(|current| {
                let unchanged = current.get(LOCAL_TENANT).is_some_and(|active| active.version == snapshot.version);
                if unchanged {
                    return false;
                }
                tracing::info!(version = snapshot.version, channels = snapshot.channels.len(), "manifests compiled");
                *current = tenant_map(snapshot);
                true
            });
        }
        Err(errors) => {
            for error in &errors {
                tracing::error!("config rejected: {error}");
            }
            let serving = snapshots.borrow().get(LOCAL_TENANT).map(|s| s.version.clone()).unwrap_or_default();
            tracing::warn!(serving, "the change was rejected; the last good snapshot keeps being served");
        }
    }
}

/// Each channel's health and `Healthy` verdict, as the operator would write them.
fn channels_health(snapshot: Option<&Snapshot>, distribution: &Distribution) -> serde_json::Value {
    let reports = distribution.health().reports(std::time::SystemTime::now());
    let now = k8s_openapi::jiff::Timestamp::now();
    let channels = snapshot.map(|s| s.channels.as_slice()).unwrap_or_default();
    let listed: Vec<serde_json::Value> = channels
        .iter()
        .map(|channel| {
            let health = health::channel_health(&reports, LOCAL_TENANT, &channel.name, now);
            let verdict = health::channel_verdict(health.as_ref(), channel.suspend, LOCAL_TENANT);
            serde_json::json!({
                "channel": channel.name,
                "health": health,
                "healthy": {"status": verdict.status(), "reason": verdict.reason, "message": verdict.message},
            })
        })
        .collect();
    serde_json::json!({ "channels": listed })
}

async fn log_reports(mut reports: mpsc::Receiver<SyncReport>) {
    while let Some(report) = reports.recv().await {
        match &report.outcome {
            SyncOutcome::Acked => tracing::info!(pod = report.pod, version = report.version, "pod ACKed"),
            SyncOutcome::Nacked { message } => tracing::warn!(
                pod = report.pod,
                refused = report.version,
                running = report.running_version,
                message,
                "pod NACKed"
            ),
            SyncOutcome::Disconnected => {
                tracing::info!(pod = report.pod, running = report.running_version, "pod disconnected")
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const SECRET: &str =
        "apiVersion: v1\nkind: Secret\nmetadata: {name: key, namespace: default}\nstringData: {apiKey: sk-local}\n";

    fn channel(model: &str) -> String {
        format!(
            "apiVersion: oblivious.dev/v1alpha1\nkind: Channel\nmetadata: {{name: c, namespace: default}}\nspec:\n  \
             provider: openai\n  baseUrl: https://example.test/v1\n  apiKeySecretRef: {{name: key, key: apiKey}}\n  \
             models: [{{name: {model}}}]\n"
        )
    }

    #[test]
    fn a_bad_edit_keeps_the_last_good_snapshot_and_a_fix_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret.yaml"), SECRET).unwrap();
        std::fs::write(dir.path().join("channel.yaml"), channel("m1")).unwrap();
        let good = compile_dir(dir.path()).unwrap();
        let (snapshots, source) = watch::channel(tenant_map(good.clone()));

        std::fs::write(
            dir.path().join("channel.yaml"),
            "apiVersion: oblivious.dev/v1alpha1\nkind: Channel\nmetadata: {name: c}\nspec: {provider: nope}\n",
        )
        .unwrap();
        let broken = compile_dir(dir.path());
        assert!(broken.as_ref().is_err_and(|errors| errors.iter().any(|e| e.contains("channel.yaml"))), "{broken:?}");
        apply(&snapshots, broken);
        assert_eq!(source.borrow()[LOCAL_TENANT].version, good.version);

        std::fs::write(dir.path().join("channel.yaml"), channel("m2")).unwrap();
        apply(&snapshots, compile_dir(dir.path()));
        let served = source.borrow()[LOCAL_TENANT].clone();
        assert_ne!(served.version, good.version);
        assert_eq!(served.channels[0].models[0].name, "m2");
    }
}
