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
    let exe = exe.to_str().context("the oblivious binary's path is not UTF-8")?;
    let line: Vec<String> = std::iter::once(exe).chain(args.iter().copied()).map(str::to_string).collect();
    let process = spawn_command(&line, envs, cwd)?;
    wait_ready(addr, ready_path, Duration::from_secs(30)).await?;
    Ok(process)
}

/// `program args…` run under `wrapper` (a program and its arguments, e.g. valgrind), or alone.
pub fn wrapped(wrapper: &[String], program: &str, args: &[String]) -> Vec<String> {
    wrapper.iter().cloned().chain(std::iter::once(program.to_string())).chain(args.iter().cloned()).collect()
}

/// Starts `line[0] line[1..]` in `cwd` with `envs`, killed when dropped; does not wait for it.
pub fn spawn_command(line: &[String], envs: &[(&str, &str)], cwd: &Path) -> anyhow::Result<ChildProcess> {
    let (program, args) = line.split_first().context("empty command line")?;
    let mut command = Command::new(program);
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
    let child = command.spawn().with_context(|| format!("cannot start {program}"))?;
    Ok(ChildProcess { child })
}

/// Waits until `GET http://addr/path` answers 2xx, for at most `within`.
pub async fn wait_ready(addr: SocketAddr, path: &str, within: Duration) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let url = format!("http://{addr}{path}");
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(response) = client.get(&url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{url} did not become ready within {} s", within.as_secs())
}
