//! `oblivious bench relay`: the relay's overhead over a direct call to the mock upstream, with
//! authentication (a real stored key), usage accounting and request logging all on, measured in
//! one run so the numbers are comparable (DESIGN §8 targets are printed beside them).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use oblivious_store::{NewApiKey, Store};
use serde_json::json;

use super::load::{self, Measure, RunResult, Target};
use super::processes::{ChildProcess, free_addr, spawn_oblivious};

#[derive(Args)]
pub struct RelayBenchArgs {
    /// Seconds of load per measurement.
    #[arg(long, default_value_t = 3.0)]
    pub duration_secs: f64,
    /// Concurrency levels (connections), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub concurrency: Vec<usize>,
    /// Words in each mock answer (one token each).
    #[arg(long, default_value_t = 16)]
    pub words: u32,
}

const UPSTREAM_KEY: &str = "sk-bench-upstream";

pub async fn run(args: RelayBenchArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let duration = Duration::from_secs_f64(args.duration_secs);
    let upstream_model = format!("bench@words={}", args.words);

    let mock_addr = free_addr()?;
    let mock_listen = mock_addr.to_string();
    let mock = spawn_oblivious(
        &["mock-upstream", "--listen", &mock_listen, "--no-record"],
        &[],
        mock_addr,
        "/_mock/requests",
        dir.path(),
    )
    .await?;

    let manifests = dir.path().join("manifests");
    write_manifests(&manifests, mock_addr, &upstream_model)?;
    let data_dir = dir.path().join("data");
    let client_key = create_key(&data_dir).await?;

    let relay_addr = free_addr()?;
    let relay_listen = relay_addr.to_string();
    let relay = spawn_oblivious(
        &["dev", "--manifests", path_str(&manifests)?, "--data-dir", path_str(&data_dir)?, "--listen", &relay_listen],
        &[],
        relay_addr,
        "/readyz",
        dir.path(),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await; // let start-up allocations settle before reading RSS
    let idle_rss = relay.rss_kib();

    let direct = |stream: bool| target(mock_addr, UPSTREAM_KEY, &upstream_model, stream);
    let through = |stream: bool| target(relay_addr, &client_key, "bench", stream);

    println!("oblivious bench relay — {:.1} s per measurement, answers of {} tokens", args.duration_secs, args.words);
    println!(
        "relay: auth (stored key), routing, usage accounting and request logging on; mock and relay are separate processes\n"
    );
    println!(
        "{:>5} {:>8} | {:>9} {:>9} {:>9} {:>10} | {:>9} {:>9} {:>9} {:>10} | {:>9} {:>9} {:>7}",
        "conc", "", "p50", "p99", "p99.9", "req/s", "p50", "p99", "p99.9", "req/s", "Δp50", "Δp99", "thru%"
    );
    println!("{:>5} {:>8} | {:^41} | {:^41} | {:^27}", "", "", "direct to mock", "through relay", "overhead");
    for &concurrency in &args.concurrency {
        // Warm both paths (connection pools, key cache, tiktoken) before measuring.
        load::run(&direct(false), concurrency, Duration::from_millis(300), Measure::WholeBody).await?;
        load::run(&through(false), concurrency, Duration::from_millis(300), Measure::WholeBody).await?;
        let d = load::run(&direct(false), concurrency, duration, Measure::WholeBody).await?;
        let r = load::run(&through(false), concurrency, duration, Measure::WholeBody).await?;
        print_row(concurrency, "chat", &d, &r);
    }
    println!();
    for &concurrency in &args.concurrency {
        load::run(&through(true), concurrency, Duration::from_millis(300), Measure::FirstFrame).await?;
        let d = load::run(&direct(true), concurrency, duration, Measure::FirstFrame).await?;
        let r = load::run(&through(true), concurrency, duration, Measure::FirstFrame).await?;
        print_row(concurrency, "ttft", &d, &r);
    }
    let loaded_rss = relay.rss_kib();
    println!();
    let mib = |kib: Option<u64>| kib.map_or("n/a".to_string(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    println!("relay RSS: idle {}, after load {}", mib(idle_rss), mib(loaded_rss));
    println!(
        "targets (DESIGN §8): overhead p50 < 150 µs and p99 < 1 ms at 64 connections; throughput >= 90 % of direct; streaming TTFT overhead < 1 ms; idle RSS < 50 MB"
    );
    drop(relay);
    drop::<ChildProcess>(mock);
    Ok(())
}

fn print_row(concurrency: usize, label: &str, direct: &RunResult, relay: &RunResult) {
    let us = |d: Duration| format!("{:.0}µs", d.as_secs_f64() * 1e6);
    let delta = |a: Duration, b: Duration| format!("{:+.0}µs", (b.as_secs_f64() - a.as_secs_f64()) * 1e6);
    let ratio = 100.0 * relay.throughput() / direct.throughput().max(f64::EPSILON);
    println!(
        "{:>5} {:>8} | {:>9} {:>9} {:>9} {:>10.0} | {:>9} {:>9} {:>9} {:>10.0} | {:>9} {:>9} {:>6.1}%{}",
        concurrency,
        label,
        us(direct.percentile(50.0)),
        us(direct.percentile(99.0)),
        us(direct.percentile(99.9)),
        direct.throughput(),
        us(relay.percentile(50.0)),
        us(relay.percentile(99.0)),
        us(relay.percentile(99.9)),
        relay.throughput(),
        delta(direct.percentile(50.0), relay.percentile(50.0)),
        delta(direct.percentile(99.0), relay.percentile(99.0)),
        ratio,
        if direct.errors + relay.errors > 0 {
            format!("  (errors: direct {}, relay {})", direct.errors, relay.errors)
        } else {
            String::new()
        },
    );
}

fn target(addr: SocketAddr, key: &str, model: &str, stream: bool) -> Target {
    let mut body = json!({
        "model": model,
        "messages": [{"role": "user", "content": "Say something short about latency."}],
    });
    if stream {
        body["stream"] = json!(true);
    }
    Target {
        addr,
        path: "/v1/chat/completions".into(),
        headers: vec![
            ("authorization".into(), format!("Bearer {key}")),
            ("content-type".into(), "application/json".into()),
        ],
        body: Bytes::from(body.to_string()),
    }
}

fn write_manifests(dir: &Path, mock: SocketAddr, upstream_model: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: bench}}\nstringData: {{key: {UPSTREAM_KEY}}}\n---\n\
         apiVersion: oblivious.dev/v1alpha1\nkind: Channel\nmetadata: {{name: bench}}\nspec:\n  provider: openai\n  \
         baseUrl: http://{mock}/v1\n  apiKeySecretRef: {{name: bench, key: key}}\n  models: [{{name: bench, upstreamModel: \"{upstream_model}\"}}]\n---\n\
         apiVersion: oblivious.dev/v1alpha1\nkind: ModelPricing\nmetadata: {{name: bench}}\nspec:\n  currency: USD\n  \
         models: [{{name: bench, input: \"1.00\", output: \"2.00\"}}]\n"
    );
    std::fs::write(dir.join("bench.yaml"), text)?;
    Ok(())
}

async fn create_key(data_dir: &Path) -> anyhow::Result<String> {
    let store = Store::connect(None, data_dir).await?;
    store.migrate().await?;
    let created = store
        .create_api_key(NewApiKey {
            name: "bench".into(),
            models: vec![],
            expires_at: None,
            is_admin: false,
            ..NewApiKey::default()
        })
        .await
        .context("cannot create the benchmark key")?;
    Ok(created.secret)
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str().context("temporary path is not UTF-8")
}
