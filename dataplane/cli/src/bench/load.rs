//! A closed-loop HTTP/1.1 load generator: N workers, each with its own keep-alive connection,
//! sending requests back to back for a fixed time. Latency is measured per request from send to
//! the last body byte (or to the first body frame, for time-to-first-token).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

/// One request shape, sent repeatedly.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// What one run measured.
pub struct RunResult {
    /// Per-request latencies, sorted.
    pub latencies: Vec<Duration>,
    pub errors: u64,
    pub elapsed: Duration,
}

impl RunResult {
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * (self.latencies.len() as f64 - 1.0)).round() as usize;
        self.latencies[rank.min(self.latencies.len() - 1)]
    }

    pub fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Until what a request is timed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    WholeBody,
    FirstFrame,
}

/// When workers stop sending.
#[derive(Clone)]
enum Until {
    Deadline(Instant),
    /// Requests still to send, shared by all workers: a fixed count whatever the timing.
    Count(Arc<AtomicUsize>),
}

impl Until {
    fn next(&self) -> bool {
        match self {
            Until::Deadline(deadline) => Instant::now() < *deadline,
            Until::Count(left) => left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok(),
        }
    }
}

pub async fn run(
    target: &Target,
    concurrency: usize,
    duration: Duration,
    measure: Measure,
) -> anyhow::Result<RunResult> {
    run_until(target, concurrency, Until::Deadline(Instant::now() + duration), measure).await
}

/// Exactly `requests` requests (answered or failed) over `concurrency` connections.
pub async fn run_count(target: &Target, concurrency: usize, requests: usize) -> anyhow::Result<RunResult> {
    run_until(target, concurrency, Until::Count(Arc::new(AtomicUsize::new(requests))), Measure::WholeBody).await
}

async fn run_until(target: &Target, concurrency: usize, until: Until, measure: Measure) -> anyhow::Result<RunResult> {
    let started = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let target = target.clone();
        let until = until.clone();
        workers.push(tokio::spawn(async move { worker(target, until, measure).await }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (mut l, e) = worker.await.context("load worker panicked")??;
        latencies.append(&mut l);
        errors += e;
    }
    latencies.sort_unstable();
    Ok(RunResult { latencies, errors, elapsed: started.elapsed() })
}

async fn worker(target: Target, until: Until, measure: Measure) -> anyhow::Result<(Vec<Duration>, u64)> {
    let mut sender = connect(target.addr).await?;
    let mut latencies = Vec::new();
    let mut errors = 0;
    while until.next() {
        let mut request = Request::post(target.path.as_str()).header("host", target.addr.to_string());
        for (name, value) in &target.headers {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(target.body.clone()))?;
        let started = Instant::now();
        let outcome = async {
            let response = sender.send_request(request).await?;
            let ok = response.status().is_success();
            let mut body = response.into_body();
            // The whole body is always read so the connection can be reused; only the
            // timestamp taken depends on `measure`.
            let mut first = None;
            while let Some(frame) = body.frame().await {
                frame?;
                first.get_or_insert_with(|| started.elapsed());
            }
            anyhow::Ok((ok, first.unwrap_or_else(|| started.elapsed())))
        }
        .await;
        match outcome {
            Ok((true, first)) => latencies.push(if measure == Measure::FirstFrame { first } else { started.elapsed() }),
            Ok((false, _)) => errors += 1,
            Err(_) => {
                errors += 1;
                sender = connect(target.addr).await?;
            }
        }
    }
    Ok((latencies, errors))
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await.with_context(|| format!("connect {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}
