//! The generation jobs running in this process, by stream id, and how to stop one. A stop that
//! arrives from another process reaches this table through the bus (`bus::StreamBus`).

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;
use uuid::Uuid;

/// Becomes `true` when the job should stop.
pub type StopSignal = watch::Receiver<bool>;

#[derive(Default)]
pub struct RunningJobs {
    jobs: Mutex<HashMap<Uuid, watch::Sender<bool>>>,
}

impl RunningJobs {
    /// Registers a job before it starts, so a stop can never arrive for an unknown job.
    pub fn register(&self, stream: Uuid) -> StopSignal {
        let (stop, signal) = watch::channel(false);
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).insert(stream, stop);
        signal
    }

    /// Signals the job; false when it does not run here.
    pub fn stop(&self, stream: Uuid) -> bool {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.get(&stream).is_some_and(|stop| stop.send(true).is_ok())
    }

    /// Forgets a job that ended.
    pub fn finished(&self, stream: Uuid) {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).remove(&stream);
    }

    /// How many jobs run here (a gauge, and for draining on shutdown).
    pub fn count(&self) -> usize {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_registered_job_sees_its_stop_and_an_unknown_one_is_reported() {
        let jobs = RunningJobs::default();
        let id = Uuid::now_v7();
        let signal = jobs.register(id);
        assert!(!*signal.borrow());
        assert!(jobs.stop(id));
        assert!(*signal.borrow());
        jobs.finished(id);
        assert!(!jobs.stop(id), "ended jobs are gone");
        assert_eq!(jobs.count(), 0);
    }
}
