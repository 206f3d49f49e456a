//! Child processes for benchmarks: the relay and the mock run as separate processes so their
//! latency includes real loopback hops and the relay's RSS is its own.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// A child killed when dropped.
pub struct ChildProcess {
    pub child: Child,
}

impl ChildProcess {
    /// Resident set size in KiB, from /proc (Linux only).
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A free loopback port (bound, then released for the child to take).
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// Starts `oblivious ARGS…` and waits until `ready_path` answers 200.
pub async fn spawn_oblivious(
    args: &[&str],
    envs: &[(&str, &str)],
    addr: SocketAddr,
    ready_path: &str,
    cwd: &Path,
) -> anyhow::Result<ChildProcess> {
    let exe = std::env::current_exe().context("cannot find the oblivious binary")?;
    let mut command = Command::new(exe);
    command
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (key, value) in envs {
        command.env(key, value);
    }
    command.env("RUST_LOG", "warn");
    let child = command.spawn().context("cannot start a child process")?;
    let process = ChildProcess { child };
    wait_ready(addr, ready_path).await?;
    Ok(process)
}

async fn wait_ready(addr: SocketAddr, path: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let url = format!("http://{addr}{path}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(response) = client.get(&url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{url} did not become ready within 30 s")
}
