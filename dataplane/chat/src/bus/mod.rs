//! The stream bus: where a generation job's events are buffered so that any reader — another
//! tab, a reconnect with `Last-Event-ID`, a reader on another pod — gets them in order, and how
//! a stop reaches the job wherever it runs. Redis streams in production, memory in `oblivious dev`
//! (DESIGN §5 "Chat"; NOTES.md).

mod local;
mod redis;

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::events::StreamEvent;
use crate::running::RunningJobs;
pub use local::LocalBus;
pub use redis::RedisBus;

/// How long a finished stream stays readable from the bus; later readers get the stored message.
pub const FINISHED_RETENTION: Duration = Duration::from_secs(600);
/// How long an unfinished stream stays in Redis without a new event (a job that died).
pub const UNFINISHED_RETENTION: Duration = Duration::from_secs(3600);

/// The bus failed (Redis unreachable); readers fall back to the stored message.
#[derive(Debug)]
pub struct BusError(pub String);

impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stream bus: {}", self.0)
    }
}

impl From<::redis::RedisError> for BusError {
    fn from(error: ::redis::RedisError) -> Self {
        BusError(error.to_string())
    }
}

enum Backend {
    Local(LocalBus),
    Redis(RedisBus),
}

/// The bus of one process, with the jobs running in it.
pub struct StreamBus {
    backend: Backend,
    jobs: Arc<RunningJobs>,
}

impl StreamBus {
    /// In-process (`oblivious dev`): every reader and every job are in this process.
    pub fn local() -> Self {
        StreamBus { backend: Backend::Local(LocalBus::default()), jobs: Arc::default() }
    }

    /// Redis streams under `prefix`, and a listener that delivers stops from other pods.
    pub async fn redis(url: &str, prefix: &str) -> Result<Self, BusError> {
        let jobs = Arc::new(RunningJobs::default());
        let bus = RedisBus::connect(url, prefix, jobs.clone()).await?;
        Ok(StreamBus { backend: Backend::Redis(bus), jobs })
    }

    pub fn jobs(&self) -> &RunningJobs {
        &self.jobs
    }

    /// Makes a stream known before its first event, so readers wait for it instead of
    /// concluding it does not exist.
    pub async fn open(&self, stream: Uuid) -> Result<(), BusError> {
        match &self.backend {
            Backend::Local(bus) => {
                bus.open(stream);
                Ok(())
            }
            Backend::Redis(bus) => bus.open(stream).await,
        }
    }

    /// Appends an event (its id is the job's counter).
    pub async fn publish(&self, stream: Uuid, event: &StreamEvent) -> Result<(), BusError> {
        match &self.backend {
            Backend::Local(bus) => {
                bus.publish(stream, event.clone());
                Ok(())
            }
            Backend::Redis(bus) => bus.publish(stream, event).await,
        }
    }

    /// Whether the bus holds (or awaits) this stream.
    pub async fn knows(&self, stream: Uuid) -> Result<bool, BusError> {
        match &self.backend {
            Backend::Local(bus) => Ok(bus.knows(stream)),
            Backend::Redis(bus) => bus.knows(stream).await,
        }
    }

    /// A reader of one stream (on Redis, with a connection of its own: reads block).
    pub async fn reader(&self, stream: Uuid) -> Result<BusReader, BusError> {
        Ok(match &self.backend {
            Backend::Local(bus) => BusReader::Local(bus.reader(stream)),
            Backend::Redis(bus) => BusReader::Redis(bus.reader(stream).await?),
        })
    }

    /// Asks the job of `stream` to stop, wherever it runs.
    pub async fn request_stop(&self, stream: Uuid) -> Result<(), BusError> {
        self.jobs.stop(stream);
        match &self.backend {
            Backend::Local(_) => Ok(()),
            Backend::Redis(bus) => bus.request_stop(stream).await,
        }
    }

    /// Whether a stop was requested before the job could register (another pod, a race).
    pub async fn stop_requested(&self, stream: Uuid) -> bool {
        match &self.backend {
            Backend::Local(_) => false,
            Backend::Redis(bus) => bus.stop_requested(stream).await,
        }
    }
}

impl StreamBus {
    /// Records the user's decision on a tool call awaiting approval, for the job wherever it
    /// runs (it polls for it).
    pub async fn decide_tool_call(&self, stream: Uuid, call_id: &str, approve: bool) -> Result<(), BusError> {
        match &self.backend {
            Backend::Local(bus) => {
                bus.decide_tool_call(stream, call_id, approve);
                Ok(())
            }
            Backend::Redis(bus) => bus.decide_tool_call(stream, call_id, approve).await,
        }
    }

    /// The user's decision on a call, taken once; `None` while there is none.
    pub async fn take_tool_call_decision(&self, stream: Uuid, call_id: &str) -> Result<Option<bool>, BusError> {
        match &self.backend {
            Backend::Local(bus) => Ok(bus.take_tool_call_decision(stream, call_id)),
            Backend::Redis(bus) => bus.take_tool_call_decision(stream, call_id).await,
        }
    }
}

/// Reads one stream's events in order.
pub enum BusReader {
    Local(local::LocalReader),
    Redis(redis::RedisReader),
}

impl BusReader {
    /// The events after `after`, waiting up to `wait` for at least one; empty when none came.
    pub async fn next_batch(&mut self, after: u64, wait: Duration) -> Result<Vec<StreamEvent>, BusError> {
        match self {
            BusReader::Local(reader) => Ok(reader.next_batch(after, wait).await),
            BusReader::Redis(reader) => reader.next_batch(after, wait).await,
        }
    }
}
