//! `oblivious bench relay`: the relay's overhead over a direct call to the mock upstream, with
//! authentication (a real stored key), usage accounting and request logging all on, measured in
//! one run so the numbers are comparable (DESIGN §8 targets are printed beside them).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use oblivious_store::{NewApiKey, NewUser, Store};
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
    /// Redis for the relay's quota and limits (as in production); in-process when unset.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
}

const UPSTREAM_KEY: &str = "sk-bench-upstream";

/// Three lanes none of the benchmark's requests match; the last needs the caller's user id.
const LANES: &str = r#"
apiVersion: oblivious.dev/v1alpha1
kind: Lane
metadata: {name: header}
spec:
  tag: header
  priority: 3
  conditions: {rules: [{header: {name: x-canary}}]}
  members: [{service: relay, endpoint: "http://127.0.0.1:9"}]
---
apiVersion: oblivious.dev/v1alpha1
kind: Lane
metadata: {name: cookie}
spec:
  tag: cookie
  priority: 2
  conditions: {operator: And, rules: [{cookie: {name: canary, value: "1"}}, {query: {name: lane, value: cookie}}]}
  members: [{service: relay, endpoint: "http://127.0.0.1:9"}]
---
apiVersion: oblivious.dev/v1alpha1
kind: Lane
metadata: {name: sticky}
spec:
  tag: sticky
  priority: 1
  conditions: {rules: [{hash: {stickyKey: userId, percent: 0}}, {userIds: ["00000000-0000-0000-0000-000000000000"]}]}
  members: [{service: relay, endpoint: "http://127.0.0.1:9"}]
"#;

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
    let keys = create_keys(&data_dir).await?;

    let relay_addr = free_addr()?;
    let relay_listen = relay_addr.to_string();
    let redis = args.redis_url.clone().filter(|u| !u.is_empty());
    let mut envs = vec![("REDIS_URL", redis.clone().unwrap_or_default())];
    envs.retain(|(_, v)| !v.is_empty());
    let env_refs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let relay = spawn_oblivious(
        &["dev", "--manifests", path_str(&manifests)?, "--data-dir", path_str(&data_dir)?, "--listen", &relay_listen],
        &env_refs,
        relay_addr,
        "/readyz",
        dir.path(),
    )
    .await?;
    // The same relay with three lanes configured that the benchmark's requests do not match:
    // the edge still evaluates them all, one after asking who the caller is.
    let laned_manifests = dir.path().join("manifests-lanes");
    write_manifests(&laned_manifests, mock_addr, &upstream_model)?;
    std::fs::write(laned_manifests.join("lanes.yaml"), LANES)?;
    let laned_data = dir.path().join("data-lanes");
    let laned_keys = create_keys(&laned_data).await?;
    let laned_addr = free_addr()?;
    let laned_listen = laned_addr.to_string();
    let laned_relay = spawn_oblivious(
        &[
            "dev",
            "--manifests",
            path_str(&laned_manifests)?,
            "--data-dir",
            path_str(&laned_data)?,
            "--listen",
            &laned_listen,
        ],
        &env_refs,
        laned_addr,
        "/readyz",
        dir.path(),
    )
    .await?;
    // The +bill relay again, exporting every span (100 % sampling) over OTLP/gRPC to a receiver
    // in this process that takes them as fast as they come.
    let collector = super::span_sink::SpanSink::start().await?;
    let traced_data = dir.path().join("data-traced");
    let traced_keys = create_keys(&traced_data).await?;
    let traced_addr = free_addr()?;
    let traced_listen = traced_addr.to_string();
    let mut traced_env = env_refs.clone();
    traced_env
        .extend([("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.as_str()), ("OTEL_TRACES_SAMPLER", "always_on")]);
    let traced_relay = spawn_oblivious(
        &[
            "dev",
            "--manifests",
            path_str(&manifests)?,
            "--data-dir",
            path_str(&traced_data)?,
            "--listen",
            &traced_listen,
        ],
        &traced_env,
        traced_addr,
        "/readyz",
        dir.path(),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await; // let start-up allocations settle before reading RSS
    let idle_rss = relay.rss_kib();

    let direct = |stream: bool| target(mock_addr, UPSTREAM_KEY, &upstream_model, stream);
    let unmetered = |stream: bool| target(relay_addr, &keys.operator, "bench", stream);
    let billed = |stream: bool| target(relay_addr, &keys.user, "bench", stream);
    let laned = |stream: bool| target(laned_addr, &laned_keys.user, "bench", stream);
    let traced = |stream: bool| target(traced_addr, &traced_keys.user, "bench", stream);

    println!("oblivious bench relay — {:.1} s per measurement, answers of {} tokens", args.duration_secs, args.words);
    println!("mock and relay are separate processes; the relay authenticates a stored key and logs every request.");
    println!("  relay      = an operator key: no billing, no limits");
    println!(
        "  relay+bill = a user's key: rate limits (key rpm/tpm) checked, quota reserved and settled in the ledger — quota and limits in {}",
        if redis.is_some() { "Redis" } else { "process memory (pass --redis-url for Redis)" }
    );
    println!("  +lanes     = +bill on a relay with three canary lanes the requests do not match; Δ is against +bill");
    println!("  +trace     = +bill exporting every span over OTLP/gRPC (100 % sampling); Δ is against +bill\n");
    println!(
        "{:>5} {:>11} | {:>9} {:>9} {:>9} {:>10} | {:>9} {:>9} {:>7}",
        "conc", "path", "p50", "p99", "p99.9", "req/s", "Δp50", "Δp99", "thru%"
    );
    for (label, measure, stream) in [("chat", Measure::WholeBody, false), ("ttft", Measure::FirstFrame, true)] {
        for &concurrency in &args.concurrency {
            // Warm every path (connection pools, key cache, quota cache, tiktoken) before measuring.
            for target in [direct(stream), unmetered(stream), billed(stream), laned(stream), traced(stream)] {
                load::run(&target, concurrency, Duration::from_millis(300), measure).await?;
            }
            let d = load::run(&direct(stream), concurrency, duration, measure).await?;
            let u = load::run(&unmetered(stream), concurrency, duration, measure).await?;
            let b = load::run(&billed(stream), concurrency, duration, measure).await?;
            let l = load::run(&laned(stream), concurrency, duration, measure).await?;
            let t = load::run(&traced(stream), concurrency, duration, measure).await?;
            print_row(concurrency, &format!("{label} direct"), &d, None);
            print_row(concurrency, &format!("{label} relay"), &u, Some(&d));
            print_row(concurrency, &format!("{label} +bill"), &b, Some(&d));
            print_row(concurrency, &format!("{label} +lanes"), &l, Some(&b));
            print_row(concurrency, &format!("{label} +trace"), &t, Some(&b));
        }
        println!();
    }
    let loaded_rss = relay.rss_kib();
    let [(bare_p50, bare_mean), (laned_p50, laned_mean)] = super::edge::measure(LANES).await?;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "edge layer alone, in-process: {:.2} µs p50 ({:.2} mean) per request without lanes, {:.2} µs p50 ({:.2} mean) with the three lanes: lanes add {:+.2} µs p50",
        us(bare_p50),
        us(bare_mean),
        us(laned_p50),
        us(laned_mean),
        us(laned_p50) - us(bare_p50)
    );
    let mib = |kib: Option<u64>| kib.map_or("n/a".to_string(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    println!("relay RSS: idle {}, after load {}", mib(idle_rss), mib(loaded_rss));
    println!(
        "targets (DESIGN §8): overhead p50 < 150 µs and p99 < 1 ms at 64 connections; throughput >= 90 % of direct; streaming TTFT overhead < 1 ms; idle RSS < 50 MB; lanes add < 20 µs p50"
    );
    println!("spans exported by the +trace relay: {}", collector.received());
    drop(traced_relay);
    drop(laned_relay);
    drop(relay);
    drop::<ChildProcess>(mock);
    Ok(())
}

/// One line: the run's latencies, and its overhead over `baseline` when given.
fn print_row(concurrency: usize, label: &str, run: &RunResult, baseline: Option<&RunResult>) {
    let us = |d: Duration| format!("{:.0}µs", d.as_secs_f64() * 1e6);
    let delta = |a: Duration, b: Duration| format!("{:+.0}µs", (b.as_secs_f64() - a.as_secs_f64()) * 1e6);
    let (d50, d99, ratio) = match baseline {
        Some(base) => (
            delta(base.percentile(50.0), run.percentile(50.0)),
            delta(base.percentile(99.0), run.percentile(99.0)),
            format!("{:.1}%", 100.0 * run.throughput() / base.throughput().max(f64::EPSILON)),
        ),
        None => (String::new(), String::new(), String::new()),
    };
    println!(
        "{:>5} {:>11} | {:>9} {:>9} {:>9} {:>10.0} | {:>9} {:>9} {:>7}{}",
        concurrency,
        label,
        us(run.percentile(50.0)),
        us(run.percentile(99.0)),
        us(run.percentile(99.9)),
        run.throughput(),
        d50,
        d99,
        ratio,
        if run.errors > 0 { format!("  (errors: {})", run.errors) } else { String::new() },
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

/// The two keys the benchmark calls with.
struct BenchKeys {
    /// Unowned: not billed, not limited.
    operator: String,
    /// Owned by a user with a large balance, with limits far above what the run can reach.
    user: String,
}

async fn create_keys(data_dir: &Path) -> anyhow::Result<BenchKeys> {
    let store = Store::connect(None, data_dir).await?;
    store.migrate().await?;
    let operator = store
        .create_api_key(NewApiKey { name: "bench-operator".into(), ..NewApiKey::default() })
        .await
        .context("cannot create the benchmark key")?;
    let user = store
        .create_user(NewUser {
            username: "bench".into(),
            email: "bench@example.com".into(),
            password_hash: "-".into(),
            initial_balance_micros: 1_000_000_000_000,
            ..NewUser::default()
        })
        .await?;
    let billed = store
        .create_api_key(NewApiKey {
            name: "bench-user".into(),
            user_id: Some(user.id),
            rpm: Some(100_000_000),
            tpm: Some(1_000_000_000_000),
            ..NewApiKey::default()
        })
        .await?;
    store.close().await;
    Ok(BenchKeys { operator: operator.secret, user: billed.secret })
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str().context("temporary path is not UTF-8")
}
