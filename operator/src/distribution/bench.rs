//! `oblivious-operator bench`: prints how long compile takes for 100 / 1k / 10k channels and how
//! long 1,000 in-process subscribers (real gRPC clients, one connection each) take to converge
//! after a change. DESIGN §8 targets: compile 10k channels < 100 ms; convergence p99 < 1 s.
//! Numbers are printed, never asserted: benchmarks are commands, not tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use oblivious_config::Snapshot;
use oblivious_config::subscriber::{NodeIdentity, Subscriber, SubscriberConfig, SubscriberHandle};
use oblivious_crds::{Manifests, parse_documents};
use tokio::sync::{mpsc, watch};

use super::{Distribution, DistributionConfig, SyncOutcome, SyncReport, TenantSnapshots};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Channel counts to compile.
    pub compile_sizes: Vec<usize>,
    /// Subscribers for the convergence run.
    pub subscribers: usize,
    /// Channels in the snapshot the subscribers receive.
    pub convergence_channels: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions { compile_sizes: vec![100, 1_000, 10_000], subscribers: 1_000, convergence_channels: 100 }
    }
}

/// Runs every measurement and prints the results.
pub async fn run(options: BenchOptions) -> anyhow::Result<()> {
    println!("compile (median of 5; YAML parsing excluded)");
    println!("  {:>8}  {:>12}  {:>12}  {:>12}", "channels", "compile", "parse", "snapshot");
    for &channels in &options.compile_sizes {
        let (compile, parse, bytes) = tokio::task::spawn_blocking(move || measure_compile(channels)).await??;
        println!("  {channels:>8}  {:>12}  {:>12}  {:>9} KiB", ms(compile), ms(parse), bytes / 1024);
    }
    println!();
    converge(options.subscribers, options.convergence_channels).await
}

/// Median compile and parse time, and the snapshot's JSON size.
fn measure_compile(channels: usize) -> anyhow::Result<(Duration, Duration, usize)> {
    let yaml = manifests_yaml(channels, 0);
    let mut compiles = Vec::new();
    let mut parses = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let manifests = parse(&yaml)?;
        parses.push(started.elapsed());
        let started = Instant::now();
        let snapshot = compile(&manifests)?;
        compiles.push(started.elapsed());
        size = serde_json::to_vec(&snapshot)?.len();
    }
    compiles.sort();
    parses.sort();
    Ok((compiles[compiles.len() / 2], parses[parses.len() / 2], size))
}

async fn converge(subscribers: usize, channels: usize) -> anyhow::Result<()> {
    let first = compile(&parse(&manifests_yaml(channels, 0))?)?;
    let second = compile(&parse(&manifests_yaml(channels, 1))?)?;
    let wire = oblivious_config::payload::encode(&second)?;
    println!(
        "convergence: {subscribers} subscribers (one gRPC connection each, in this process), snapshot of {channels} \
         channels ({} KiB JSON, {} KiB on the wire)",
        wire.json_len / 1024,
        wire.bytes.len() / 1024
    );
    let (snapshots, source) = watch::channel(tenant(first.clone()));
    let (reports, mut report_rx) = mpsc::channel(subscribers * 4 + 16);
    let distribution = Distribution::spawn(source, reports, DistributionConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(super::serve(listener, distribution, None, async {
        let _ = stopped.await;
    }));

    let applied: Arc<Mutex<Vec<Instant>>> = Arc::new(Mutex::new(Vec::with_capacity(subscribers)));
    let mut handles: Vec<SubscriberHandle> = Vec::with_capacity(subscribers);
    for i in 0..subscribers {
        let applied = applied.clone();
        let target = second.version.clone();
        let node = NodeIdentity {
            pod: format!("bench-{i:04}"),
            role: "relay".into(),
            tenant: super::local::LOCAL_TENANT.into(),
            lane: String::new(),
        };
        let handle = Subscriber::new(SubscriberConfig::new(server.clone(), node))
            .on_apply(move |snapshot| {
                if snapshot.version == target {
                    applied.lock().unwrap_or_else(|p| p.into_inner()).push(Instant::now());
                }
            })
            .spawn()?;
        handles.push(handle);
    }
    let started = Instant::now();
    wait_until(Duration::from_secs(120), || handles.iter().all(SubscriberHandle::is_ready))
        .await
        .context("the subscribers did not all receive the first snapshot")?;
    println!("  all {subscribers} subscribed and holding the first snapshot after {}", ms(started.elapsed()));
    // Drain the ACKs of the first snapshot.
    while report_rx.try_recv().is_ok() {}

    let changed_at = Instant::now();
    snapshots.send_replace(tenant(second.clone()));
    let mut acks = Vec::with_capacity(subscribers);
    let deadline = changed_at + Duration::from_secs(120);
    while acks.len() < subscribers {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, report_rx.recv()).await {
            Ok(Some(SyncReport { outcome: SyncOutcome::Acked, version, .. })) if version == second.version => {
                acks.push(changed_at.elapsed())
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => bail!("only {} of {subscribers} subscribers ACKed the change", acks.len()),
        }
    }
    let mut applies: Vec<Duration> = applied
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|at| at.saturating_duration_since(changed_at))
        .collect();
    applies.sort();
    acks.sort();
    println!("  after a change (includes the 100 ms debounce):");
    println!(
        "    applied by the pod    p50 {:>10}  p99 {:>10}  max {:>10}",
        p(&applies, 50),
        p(&applies, 99),
        p(&applies, 100)
    );
    println!("    ACK seen by operator  p50 {:>10}  p99 {:>10}  max {:>10}", p(&acks, 50), p(&acks, 99), p(&acks, 100));
    println!("  config_convergence_seconds (built -> last ACK): {}", p(&acks, 100));
    drop(handles);
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), serving).await;
    Ok(())
}

fn tenant(snapshot: Snapshot) -> TenantSnapshots {
    BTreeMap::from([(super::local::LOCAL_TENANT.to_string(), Arc::new(snapshot))])
}

/// A directory's worth of manifests: one Secret and `channels` Channels. `revision` changes
/// one channel's weight, as an edit would.
fn manifests_yaml(channels: usize, revision: u32) -> String {
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: bench-key, namespace: default}\nstringData: {apiKey: sk-bench}\n",
    );
    for i in 0..channels {
        let weight = if i == 0 { 100 + revision } else { 100 };
        yaml.push_str(&format!(
            "---\napiVersion: oblivious.dev/v1alpha1\nkind: Channel\nmetadata: {{name: c{i:05}, namespace: default}}\n\
             spec:\n  provider: openai\n  baseUrl: https://upstream-{i}.example.test/v1\n  \
             apiKeySecretRef: {{name: bench-key, key: apiKey}}\n  priority: {}\n  weight: {weight}\n  \
             models: [{{name: model-{}}}, {{name: model-{}, upstreamModel: upstream-{i}}}]\n",
            i % 3,
            i % 50,
            50 + i % 50,
        ));
    }
    yaml
}

fn parse(yaml: &str) -> anyhow::Result<Manifests> {
    let mut manifests = Manifests::default();
    let mut errors = Vec::new();
    parse_documents(Path::new("bench.yaml"), yaml, &mut manifests, &mut errors);
    if let Some(error) = errors.first() {
        bail!("generated manifests do not parse: {error}");
    }
    Ok(manifests)
}

fn compile(manifests: &Manifests) -> anyhow::Result<Snapshot> {
    oblivious_compile::compile(manifests).map_err(|errors| {
        anyhow::anyhow!(
            "generated manifests do not compile: {}",
            errors.first().map(ToString::to_string).unwrap_or_default()
        )
    })
}

async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() > deadline {
            bail!("timed out after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// The `percentile`th value of sorted `values`.
fn p(values: &[Duration], percentile: usize) -> String {
    if values.is_empty() {
        return "-".into();
    }
    let index = (values.len() * percentile).div_ceil(100).clamp(1, values.len()) - 1;
    ms(values[index])
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1_000.0)
}
