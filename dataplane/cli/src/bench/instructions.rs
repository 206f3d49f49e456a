//! Instructions per request, which do not move with a noisy machine's timing: a process runs under
//! `valgrind --tool=callgrind` (this VM exposes no hardware counters to `perf stat`), its counters
//! are zeroed after a warm-up and dumped after a fixed number of requests, and the dump's total is
//! divided by that number. Everything the process does meanwhile counts, background tasks included.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use tokio::process::Command;

use super::load::{self, Target};

/// How many requests are counted, over how many connections, after how many uncounted ones.
#[derive(Clone, Copy)]
pub struct Count {
    pub requests: usize,
    pub warmup: usize,
    pub concurrency: usize,
}

/// The wrapper that runs a process under callgrind, writing its dumps as `dir/callgrind.NAME.PID…`.
pub fn callgrind_wrapper(dir: &Path, name: &str) -> Vec<String> {
    vec![
        "valgrind".into(),
        "--tool=callgrind".into(),
        format!("--callgrind-out-file={}/callgrind.{name}.%p", dir.display()),
    ]
}

/// Whether valgrind and callgrind_control can be run.
pub fn available() -> bool {
    ["valgrind", "callgrind_control"].iter().all(|program| {
        std::process::Command::new(program)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Instructions the callgrind-wrapped process `pid` executed per request of `target`.
pub async fn per_request(pid: u32, target: &Target, count: Count, dir: &Path, name: &str) -> anyhow::Result<f64> {
    let warm = load::run_count(target, count.concurrency, count.warmup).await?;
    if warm.errors > 0 {
        bail!("{name}: {} of {} warm-up requests failed", warm.errors, count.warmup);
    }
    control(pid, "-z").await?;
    let run = load::run_count(target, count.concurrency, count.requests).await?;
    control(pid, "-d").await?;
    if run.errors > 0 {
        bail!("{name}: {} of {} counted requests failed", run.errors, count.requests);
    }
    let total = dumped_total(dir, name, pid)?;
    Ok(total as f64 / count.requests.max(1) as f64)
}

/// `callgrind_control FLAG PID`; it reaches the process through vgdb even while it is blocked.
async fn control(pid: u32, flag: &str) -> anyhow::Result<()> {
    let output = Command::new("callgrind_control")
        .args([flag, &pid.to_string()])
        .output()
        .await
        .context("cannot run callgrind_control")?;
    if !output.status.success() {
        bail!("callgrind_control {flag} {pid} failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

/// The instruction total of the first dump (`callgrind.NAME.PID.1`).
fn dumped_total(dir: &Path, name: &str, pid: u32) -> anyhow::Result<u64> {
    let path: PathBuf = dir.join(format!("callgrind.{name}.{pid}.1"));
    let text = std::fs::read_to_string(&path).with_context(|| format!("no callgrind dump at {}", path.display()))?;
    text.lines()
        .find_map(|line| line.strip_prefix("totals:").or_else(|| line.strip_prefix("summary:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no instruction total in {}", path.display()))
}
