//! Wiring for `oblivious-operator run`. Settings come from the environment the chart sets:
//! `POD_NAME`, `POD_NAMESPACE`, `POD_UID` (owns this replica's sync report), `OBLIVIOUS_LEADER_LEASE` (default `oblivious-operator`),
//! `OBLIVIOUS_WATCH_NAMESPACE` (optional: watch this namespace and every Tenant's namespace
//! instead of all; the set follows the Tenants, see `cluster::namespaces`),
//! `OBLIVIOUS_DATA_PLANE_IMAGE` and `OBLIVIOUS_CONFIG_SERVER` (what Tenant fleets run and dial),
//! `OBLIVIOUS_DATABASE_SECRET` (the platform Secret with `DATABASE_URL`, in `POD_NAMESPACE`),
//! `OBLIVIOUS_STREAM_ADMISSION` (`pod-address`, the default, or `trust`: see `cluster::admission`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use axum::routing::get;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::{Api, Client};
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, watch};

use super::{CompileLoop, CompiledState, LeaderElection, Stores, Ticks, spawn_reflectors, sync_reports};
use crate::controllers::toolserver::ToolServerContext;
use crate::controllers::{self, Context, HealthSource, PodSource, PodView, Settings, ToolProbe};
use crate::distribution::{self, Distribution, DistributionConfig, TenantSnapshots};
use crate::fleet::FleetTracing;

/// Pod sync changes arrive per ACK; status is re-derived at most this often because of them.
const SYNC_SETTLE: Duration = Duration::from_secs(1);
/// How long one merge of every replica's health reports is reused.
const HEALTH_MEMO: Duration = Duration::from_secs(1);
/// How often status is re-derived from the pods' health reports.
const HEALTH_FOLD_EVERY: Duration = Duration::from_secs(15);

/// What `run` needs besides the environment.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub listen: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Runs the operator until SIGINT/SIGTERM.
pub async fn run(options: RunOptions) -> anyhow::Result<()> {
    let pod_name = env("POD_NAME").unwrap_or_else(|| format!("oblivious-operator-{}", std::process::id()));
    let namespace = env("POD_NAMESPACE").unwrap_or_else(|| "oblivious-system".into());
    let lease_name = env("OBLIVIOUS_LEADER_LEASE").unwrap_or_else(|| "oblivious-operator".into());
    let watch_namespace = env("OBLIVIOUS_WATCH_NAMESPACE");
    let settings = Settings {
        data_plane_image: env("OBLIVIOUS_DATA_PLANE_IMAGE")
            .unwrap_or_else(|| "ghcr.io/oblivious/oblivious:latest".into()),
        config_server: env("OBLIVIOUS_CONFIG_SERVER")
            .unwrap_or_else(|| format!("http://oblivious-operator.{namespace}.svc:8081")),
        platform_secret: env("OBLIVIOUS_DATABASE_SECRET").unwrap_or_else(|| "oblivious-secrets".into()),
        fleet_tracing: env("OBLIVIOUS_FLEET_OTLP_ENDPOINT").map(|endpoint| FleetTracing {
            endpoint,
            sampler: env("OBLIVIOUS_FLEET_TRACES_SAMPLER").unwrap_or_else(|| "parentbased_traceidratio".into()),
            sampler_arg: env("OBLIVIOUS_FLEET_TRACES_SAMPLER_ARG").unwrap_or_else(|| "0.1".into()),
        }),
        namespace: namespace.clone(),
        pod_name: pod_name.clone(),
    };
    let client = Client::try_default().await.context("no Kubernetes configuration (in-cluster or kubeconfig)")?;

    let (stores, writers) = Stores::new();
    // Controllers subscribe before the writers move into the reflectors.
    let subscribe = "shared stores always allow subscribers";
    let channel_events = writers.channels.subscribe().context(subscribe)?;
    let pricing_events = writers.pricings.subscribe().context(subscribe)?;
    let agent_events = writers.agents.subscribe().context(subscribe)?;
    let tool_server_events = writers.tool_servers.subscribe().context(subscribe)?;
    let lane_events = writers.lanes.subscribe().context(subscribe)?;
    let tenant_events = writers.tenants.subscribe().context(subscribe)?;
    let secret_events = writers.secrets.subscribe().context(subscribe)?;
    let slice_events = writers.lane_endpoints.subscribe().context(subscribe)?;
    let (dirty_tx, dirty) = watch::channel(0u64);
    spawn_reflectors(&client, watch_namespace.as_deref(), &namespace, writers, dirty_tx);

    // The config stream starts with nothing published: pods of a tenant wait (on their
    // last-known-good copy) until the caches are complete, never receiving a partial config.
    let (snapshots, source) = watch::channel(TenantSnapshots::new());
    let (reports, mut report_rx) = mpsc::channel(4096);
    let admission: Box<dyn crate::distribution::NodeAdmission> = match env("OBLIVIOUS_STREAM_ADMISSION").as_deref() {
        Some("trust") => Box::new(crate::distribution::TrustDeclaredTenant),
        _ => Box::new(super::PodAddressAdmission { stores: stores.clone() }),
    };
    let distribution = Distribution::spawn_with_admission(source, reports, DistributionConfig::default(), admission);
    let compiled = Arc::new(CompiledState::default());
    let ticks = Ticks::new();

    let (leader_tx, leader) = watch::channel(false);
    let own_pods = {
        let ledger = distribution.clone();
        move || -> Vec<PodView> {
            ledger
                .ledger()
                .pods()
                .into_iter()
                .map(|p| PodView {
                    tenant: p.tenant,
                    pod: p.pod,
                    running_version: p.running_version,
                    last_nack: p.last_nack,
                })
                .collect()
        }
    };
    let own_health = {
        let distribution = distribution.clone();
        move || distribution.health().reports(std::time::SystemTime::now())
    };
    // Status counts every replica's pods: this one's live, the others' from their reports.
    let pods: PodSource = {
        let (own_pods, reports, me) = (own_pods.clone(), stores.sync_reports.clone(), pod_name.clone());
        Arc::new(move || sync_reports::merge(own_pods(), &reports.state(), &me, Timestamp::now()))
    };
    // Merging means unzipping the other replicas' reports: done at most once per HEALTH_MEMO,
    // not once per reconciled Channel.
    let health: HealthSource = {
        let (own_health, reports, me) = (own_health.clone(), stores.sync_reports.clone(), pod_name.clone());
        let memo: std::sync::Mutex<Option<(std::time::Instant, Arc<Vec<crate::distribution::PodHealth>>)>> =
            std::sync::Mutex::new(None);
        Arc::new(move || {
            let mut memo = memo.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match memo.as_ref().filter(|(at, _)| at.elapsed() < HEALTH_MEMO) {
                Some((_, merged)) => merged.clone(),
                None => {
                    let merged =
                        Arc::new(sync_reports::merge_health(own_health(), &reports.state(), &me, Timestamp::now()));
                    *memo = Some((std::time::Instant::now(), merged.clone()));
                    merged
                }
            }
        })
    };
    let ctx = Arc::new(Context::new(client.clone(), leader, stores.clone(), compiled.clone(), pods, health, settings));

    let mut registry = Registry::default();
    distribution.metrics().register(&mut registry);
    ctx.metrics.register(&mut registry);
    let registry = Arc::new(registry);

    let synced = Arc::new(AtomicBool::new(false));
    {
        let (stores, compiled, ticks, synced) = (stores.clone(), compiled.clone(), ticks.clone(), synced.clone());
        tokio::spawn(async move {
            if wait_for_caches(&stores).await.is_err() {
                tracing::error!("a cache writer went away before it was filled");
                return;
            }
            tracing::info!("caches filled; compiling and serving config");
            synced.store(true, Ordering::Release);
            CompileLoop { stores, dirty, snapshots, compiled, ticks }.run().await;
        });
    }
    // ACKs and NACKs change what status reports: re-derive it, at most once per SYNC_SETTLE.
    {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            while report_rx.recv().await.is_some() {
                tokio::time::sleep(SYNC_SETTLE).await;
                while report_rx.try_recv().is_ok() {}
                ticks.bump();
            }
        });
    }
    let (stop_tx, stop) = watch::channel(false);
    let replica = sync_reports::Replica { name: pod_name.clone(), namespace: namespace.clone(), uid: env("POD_UID") };
    tokio::spawn(sync_reports::publish_reports(client.clone(), replica, own_pods, own_health, stop.clone()));
    // Health reports arrive every 10 s from every pod; status follows them on this beat (and
    // writes only what changed; see controllers::health).
    {
        let (ticks, mut stop) = (ticks.clone(), stop.clone());
        tokio::spawn(async move {
            let mut beat = tokio::time::interval(HEALTH_FOLD_EVERY);
            loop {
                tokio::select! {
                    _ = beat.tick() => ticks.bump(),
                    _ = stop.wait_for(|stop| *stop) => return,
                }
            }
        });
    }
    let election = LeaderElection::new(Api::<Lease>::namespaced(client.clone(), &namespace), lease_name, pod_name);
    let election_task = tokio::spawn(election.run(leader_tx, stop.clone()));
    {
        // Becoming the leader means every status may be out of date.
        let (ticks, mut leader) = (ticks.clone(), ctx.leader.clone());
        tokio::spawn(async move {
            while leader.changed().await.is_ok() {
                if *leader.borrow_and_update() {
                    ticks.bump();
                }
            }
        });
    }

    tokio::spawn(controllers::channel::run(ctx.clone(), channel_events, secret_events, ticks.stream()));
    tokio::spawn(controllers::pricing::run(ctx.clone(), pricing_events, ticks.stream()));
    tokio::spawn(controllers::agent::run(ctx.clone(), agent_events, ticks.stream()));
    // The data plane's MCP client lists each ToolServer's tools for `Connected` and `tools`.
    let tool_probe: Option<Arc<dyn ToolProbe>> = Some(Arc::new(controllers::McpProbe));
    let tool_server_ctx = Arc::new(ToolServerContext::new(ctx.clone(), tool_probe));
    tokio::spawn(controllers::toolserver::run(tool_server_ctx, tool_server_events, ticks.stream()));
    tokio::spawn(controllers::lane::run(ctx.clone(), lane_events, slice_events, ticks.stream()));
    tokio::spawn(controllers::tenant::run(
        ctx.clone(),
        tenant_events,
        Api::<Deployment>::all(client.clone()),
        ticks.stream(),
    ));

    let ready = synced.clone();
    let metrics = registry.clone();
    let routes = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.load(Ordering::Acquire);
                async move {
                    if ready {
                        (axum::http::StatusCode::OK, "ready")
                    } else {
                        (axum::http::StatusCode::SERVICE_UNAVAILABLE, "caches not filled yet")
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let registry = metrics.clone();
                async move {
                    let mut text = String::new();
                    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
                    text
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(&options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    tracing::info!(address = %listener.local_addr()?, namespace, watch_namespace, "operator serving the config stream");
    let shutdown = async move {
        oblivious_core::shutdown::signal().await;
        // Hand the Lease over at once rather than after it expires.
        let _ = stop_tx.send(true);
        let _ = election_task.await;
    };
    distribution::serve(listener, distribution, Some(routes), shutdown).await?;
    Ok(())
}

async fn wait_for_caches(stores: &Stores) -> Result<(), kube::runtime::reflector::store::WriterDropped> {
    stores.channels.wait_until_ready().await?;
    stores.pricings.wait_until_ready().await?;
    stores.agents.wait_until_ready().await?;
    stores.tool_servers.wait_until_ready().await?;
    stores.lanes.wait_until_ready().await?;
    stores.tenants.wait_until_ready().await?;
    stores.secrets.wait_until_ready().await?;
    stores.lane_endpoints.wait_until_ready().await?;
    Ok(())
}
