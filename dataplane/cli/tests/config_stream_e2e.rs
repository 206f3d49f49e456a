//! End to end, with real binaries: `oblivious-operator serve-local` over a manifests directory
//! and two `oblivious relay` processes fed by it (embedded store, the built-in mock upstream).
//!
//! Proves what issue 3 asks: an edit in the directory is routed by both relays within a second;
//! killing `serve-local` leaves both serving; a relay restarted while `serve-local` is down
//! starts from its state directory and serves.
//!
//! Needs the `oblivious-operator` binary next to `oblivious` (`cargo test --workspace` and
//! nextest build it, because the operator has integration tests), or its path in
//! `OBLIVIOUS_OPERATOR_BIN`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ADMIN_KEY: &str = "sk-e2e-config-stream-admin";
/// The contract: an edit is routed everywhere within this.
const PROPAGATION_BUDGET: Duration = Duration::from_secs(1);
/// Generous bound for process start-up (migrations, first connection) on a loaded CI machine.
const STARTUP: Duration = Duration::from_secs(60);

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: mock-key, namespace: default}\n\
                      stringData: {apiKey: sk-mock-e2e}\n";

/// The channel under edit: an Anthropic-protocol channel on the built-in mock. Every public
/// model maps to the same upstream model, so the mock answers them all alike.
fn channel(models: &[&str]) -> String {
    let models = models
        .iter()
        .map(|m| format!("{{name: {m}, upstreamModel: claude-sonnet-4-5}}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "apiVersion: oblivious.dev/v1alpha1\nkind: Channel\nmetadata: {{name: mock, namespace: default}}\nspec:\n  \
         provider: anthropic\n  baseUrl: builtin://mock-upstream\n  apiKeySecretRef: {{name: mock-key, key: apiKey}}\n  \
         models: [{models}]\n"
    )
}

fn operator_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("OBLIVIOUS_OPERATOR_BIN") {
        return PathBuf::from(path);
    }
    let sibling = Path::new(env!("CARGO_BIN_EXE_oblivious")).with_file_name("oblivious-operator");
    assert!(
        sibling.exists(),
        "{} is missing: run `cargo build -p oblivious-operator` (or `cargo test --workspace`), or set OBLIVIOUS_OPERATOR_BIN",
        sibling.display()
    );
    sibling
}

/// A child process whose stderr is collected (for its address and for failure messages) and
/// which is killed when dropped.
struct Process {
    name: String,
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Process {
    fn start(name: &str, command: &mut Command) -> Process {
        let mut child = command
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env("RUST_LOG", "info,sqlx=warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name}: {error}"));
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Process { name: name.to_string(), child, log }
    }

    /// Waits for the `http://ADDR` printed after `marker` on stderr.
    async fn address(&mut self, marker: &str) -> String {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(address) = self.log.lock().unwrap().lines().find_map(|line| {
                let rest = &line[line.find(marker)? + marker.len()..];
                let url = rest.split_whitespace().find(|word| word.starts_with("http://"))?;
                Some(url.to_string())
            }) {
                return address;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited with {status}:\n{}", self.name, self.log());
            }
            assert!(Instant::now() < deadline, "{} printed no address:\n{}", self.name, self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn start_serve_local(manifests: &Path) -> Process {
    Process::start(
        "serve-local",
        Command::new(operator_bin()).args(["serve-local", "--listen", "127.0.0.1:0", "--manifests"]).arg(manifests),
    )
}

fn start_relay(name: &str, work: &Path, config_server: &str) -> Process {
    std::fs::create_dir_all(work).unwrap();
    Process::start(
        name,
        Command::new(env!("CARGO_BIN_EXE_oblivious"))
            .args(["relay", "--listen", "127.0.0.1:0", "--config-server", config_server, "--state-dir", "state"])
            .current_dir(work)
            .env("OBLIVIOUS_BOOTSTRAP_KEY", ADMIN_KEY)
            .env("OBLIVIOUS_POD_NAME", name)
            .env("OBLIVIOUS_HEALTH_REPORT_SECS", "1"),
    )
}

struct Relay {
    process: Process,
    url: String,
}

impl Relay {
    async fn start(name: &str, work: &Path, config_server: &str) -> Relay {
        let mut process = start_relay(name, work, config_server);
        let url = process.address("listening on").await;
        let relay = Relay { process, url };
        relay.wait_ready().await;
        relay
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + STARTUP;
        loop {
            let ready = client.get(format!("{}/readyz", self.url)).send().await.is_ok_and(|r| r.status() == 200);
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "{} never became ready:\n{}", self.process.name, self.process.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The HTTP status of an Anthropic Messages call for `model` (0 when nothing answered).
    async fn chat(&self, client: &reqwest::Client, model: &str) -> u16 {
        let body =
            serde_json::json!({"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]});
        let request = client
            .post(format!("{}/v1/messages", self.url))
            .header("x-api-key", ADMIN_KEY)
            .header("anthropic-version", "2023-06-01")
            .json(&body);
        match request.send().await {
            Ok(response) => response.status().as_u16(),
            Err(_) => 0,
        }
    }
}

/// Polls every relay until `model` is answered with 200, returning when each first did.
async fn time_until_routed(relays: &[&Relay], model: &str, since: Instant, limit: Duration) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let mut routed: Vec<Option<Duration>> = vec![None; relays.len()];
    while routed.iter().any(Option::is_none) {
        for (relay, when) in relays.iter().zip(routed.iter_mut()).filter(|(_, when)| when.is_none()) {
            if relay.chat(&client, model).await == 200 {
                *when = Some(since.elapsed());
            }
        }
        if since.elapsed() > limit {
            let logs: Vec<String> =
                relays.iter().map(|r| format!("--- {}\n{}", r.process.name, r.process.log())).collect();
            panic!("{model} not routed by every relay within {limit:?}: {routed:?}\n{}", logs.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    routed.into_iter().flatten().collect()
}

/// The `default/mock` entry of serve-local's `/channels/health` once it satisfies `done`.
async fn wait_for_channel_health(
    client: &reqwest::Client,
    config_server: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let listed: serde_json::Value =
            client.get(format!("{config_server}/channels/health")).send().await.unwrap().json().await.unwrap();
        let entry = listed["channels"].as_array().unwrap().iter().find(|c| c["channel"] == "default/mock").cloned();
        if let Some(entry) = entry.filter(|e| done(e)) {
            return entry;
        }
        assert!(Instant::now() < deadline, "the relays' health never showed: {listed}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_local_feeds_two_relays_that_survive_its_outage_and_restart_from_their_state_dir() {
    let work = tempfile::tempdir().unwrap();
    let manifests = work.path().join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(manifests.join("secret.yaml"), SECRET).unwrap();
    std::fs::write(manifests.join("channel.yaml"), channel(&["e2e-first"])).unwrap();

    let mut serve_local = start_serve_local(&manifests);
    let config_server = serve_local.address("config stream on").await;
    let a = Relay::start("relay-a", &work.path().join("a"), &config_server).await;
    let b = Relay::start("relay-b", &work.path().join("b"), &config_server).await;
    let client = reqwest::Client::new();
    for relay in [&a, &b] {
        assert_eq!(relay.chat(&client, "e2e-first").await, 200, "{}", relay.process.log());
        assert_eq!(relay.chat(&client, "e2e-added").await, 404, "not configured yet");
    }

    // 1. An edit is routed by both relays within a second.
    let edited = Instant::now();
    std::fs::write(manifests.join("channel.yaml"), channel(&["e2e-first", "e2e-added"])).unwrap();
    let times = time_until_routed(&[&a, &b], "e2e-added", edited, Duration::from_secs(10)).await;
    eprintln!("edit routed by relay-a after {:?}, relay-b after {:?}", times[0], times[1]);
    for time in &times {
        assert!(*time < PROPAGATION_BUDGET, "propagation took {time:?} (budget {PROPAGATION_BUDGET:?})");
    }

    // A broken edit changes nothing: serve-local keeps serving the last good snapshot.
    std::fs::write(
        manifests.join("broken.yaml"),
        "apiVersion: oblivious.dev/v1alpha1\nkind: Channel\nmetadata: {name: x}\nspec: {provider: nope}\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !serve_local.log().contains("broken.yaml") {
        assert!(Instant::now() < deadline, "serve-local did not report the broken file:\n{}", serve_local.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for relay in [&a, &b] {
        assert_eq!(relay.chat(&client, "e2e-added").await, 200);
    }

    // Both relays report the channel's attempts; serve-local shows what status would say.
    for _ in 0..10 {
        for relay in [&a, &b] {
            assert_eq!(relay.chat(&client, "e2e-first").await, 200);
        }
    }
    let health = wait_for_channel_health(&client, &config_server, |h| {
        h["health"]["reportingPods"] == 2 && h["health"]["requests"].as_u64().is_some_and(|n| n >= 20)
    })
    .await;
    assert_eq!(health["health"]["failures"], 0, "{health}");
    assert_eq!(health["health"]["successRate"], "100.0%", "{health}");
    assert!(health["health"]["latencyP99Ms"].as_u64().is_some(), "{health}");
    assert_eq!(
        (health["healthy"]["status"].as_str(), health["healthy"]["reason"].as_str()),
        (Some("True"), Some("Healthy"))
    );

    // 2. Killing serve-local leaves both relays serving (checked repeatedly while they retry).
    serve_local.kill();
    let outage = Instant::now();
    while outage.elapsed() < Duration::from_millis(1_500) {
        for relay in [&a, &b] {
            assert_eq!(relay.chat(&client, "e2e-added").await, 200, "{} stopped serving", relay.process.name);
            let ready = client.get(format!("{}/readyz", relay.url)).send().await.unwrap().status();
            assert_eq!(ready, 200, "{} became unready without the config server", relay.process.name);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 3. A relay restarted while serve-local is down starts from its state dir and serves.
    let Relay { mut process, .. } = a;
    process.kill();
    drop(process);
    let restarted = Relay::start("relay-a", &work.path().join("a"), &config_server).await;
    assert_eq!(restarted.chat(&client, "e2e-added").await, 200, "{}", restarted.process.log());
    let log = restarted.process.log();
    assert!(log.contains("starting from the last-known-good snapshot on disk"), "{log}");
    assert_eq!(b.chat(&client, "e2e-added").await, 200);
}
