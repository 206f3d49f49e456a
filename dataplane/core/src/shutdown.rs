//! Graceful shutdown (DESIGN §5, "lossless rollout"): the signal, and the [`Lifecycle`] a process
//! drains through.
//!
//! The order, written once in `oblivious`'s `process::serve`:
//! 1. SIGTERM: the pod turns unready at once (`/readyz` 503), so endpoints stop sending to it;
//! 2. it keeps serving through the pre-stop pause (`OBLIVIOUS_SHUTDOWN_DELAY`) while that
//!    propagates;
//! 3. chat jobs finish (they may still call this process's relay);
//! 4. it stops accepting and lets in-flight requests and streams finish;
//! 5. what is still running at the grace deadline is cancelled (a job checkpoints its reply);
//! 6. it flushes the settler (charges into the ledger), then the request log, and exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// Resolves when the process is asked to stop.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested; draining");
}

/// The shutdown state one process shares between its parts.
#[derive(Debug, Default)]
pub struct Lifecycle {
    draining: AtomicBool,
    /// Work that outlives the request that started it (chat jobs, titles): waited for on shutdown.
    jobs: TaskTracker,
    /// Cancelled at the grace deadline: long jobs checkpoint and end.
    deadline: CancellationToken,
    /// Cancelled when draining starts: background loops (reapers, sweeps) stop.
    stopping: CancellationToken,
}

impl Lifecycle {
    pub fn new() -> Arc<Self> {
        Arc::new(Lifecycle::default())
    }

    /// From now on the process reports unready and background loops stop.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
        self.stopping.cancel();
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Runs `job` as tracked work: shutdown waits for it.
    pub fn spawn_job<F>(&self, job: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // In the span that started it: a job's logs and spans belong to the request's trace.
        self.jobs.spawn(job.instrument(tracing::Span::current()))
    }

    /// Waits until every tracked job has ended. New jobs may still start meanwhile (a request
    /// that arrived during the pre-stop pause); they are waited for too.
    pub async fn jobs_done(&self) {
        self.jobs.close();
        self.jobs.wait().await;
    }

    pub fn jobs_running(&self) -> usize {
        self.jobs.len()
    }

    /// Tells long jobs the grace period is over.
    pub fn grace_expired(&self) {
        self.deadline.cancel();
    }

    /// Resolves when the grace period is over.
    pub async fn deadline(&self) {
        self.deadline.cancelled().await
    }

    /// Resolves when draining starts.
    pub async fn stopping(&self) {
        self.stopping.cancelled().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn jobs_done_waits_for_jobs_started_before_and_during_the_drain() {
        let lifecycle = Lifecycle::new();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        lifecycle.spawn_job(async move {
            let _ = rx.await;
        });
        lifecycle.start_draining();
        assert!(lifecycle.is_draining());
        let late = lifecycle.spawn_job(tokio::time::sleep(Duration::from_millis(20)));
        let waiting = tokio::spawn({
            let lifecycle = lifecycle.clone();
            async move { lifecycle.jobs_done().await }
        });
        late.await.unwrap_or_else(|_| unreachable!("the late job ran"));
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "a job is still running");
        let _ = tx.send(());
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(|| unreachable!("jobs_done returned once the last job ended"));
        assert_eq!(lifecycle.jobs_running(), 0);
    }

    #[tokio::test]
    async fn the_deadline_reaches_jobs_that_wait_for_it() {
        let lifecycle = Lifecycle::new();
        let job = lifecycle.spawn_job({
            let lifecycle = lifecycle.clone();
            async move { lifecycle.deadline().await }
        });
        lifecycle.grace_expired();
        assert!(tokio::time::timeout(Duration::from_secs(5), job).await.is_ok());
    }
}
