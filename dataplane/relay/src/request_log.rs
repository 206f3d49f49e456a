//! Request records: built along a request, sent to a bounded queue, and written to the store in
//! batches by a background task, so a slow database never delays an answer.
//!
//! Loss policy: when the store fails, the batch is kept and retried with backoff; while it is
//! down, records accumulate up to `MAX_BUFFERED`, beyond which the oldest are dropped and counted
//! in `request_logs_dropped_total` (an outage longer than the buffer is a known limit, written in
//! NOTES.md). Inserts are idempotent by request id, so a retried batch never duplicates rows.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oblivious_store::{RequestLog, Store};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::ir::Usage;

const BATCH_SIZE: usize = 512;
const FLUSH_EVERY: Duration = Duration::from_millis(200);
const QUEUE_CAPACITY: usize = 65_536;
const MAX_BUFFERED: usize = 200_000;
/// How often the writer makes sure next months' log partitions exist (PostgreSQL).
const PARTITION_CHECK_EVERY: Duration = Duration::from_secs(3600);

/// Everything known about one request, filled in as it progresses.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub id: Uuid,
    pub started: Instant,
    pub created_at_ms: i64,
    pub key_id: Option<Uuid>,
    /// Owner of the key, when it belongs to a user account.
    pub user_id: Option<Uuid>,
    pub key_prefix: String,
    /// The caller's user group: selects the price multiplier.
    pub group: String,
    pub ingress: &'static str,
    pub endpoint: &'static str,
    pub model: String,
    pub upstream_model: Option<String>,
    pub channel: Option<String>,
    pub provider: Option<&'static str>,
    pub status: u16,
    pub error_class: Option<String>,
    pub attempts: u32,
    pub stream: bool,
    pub ttft: Option<Duration>,
    pub usage: Usage,
    pub usage_estimated: bool,
    pub cost_micros: u64,
    pub currency: Option<String>,
    pub lane: Option<String>,
    /// The hops the request went through to reach this relay, this one last.
    pub route: Option<String>,
    /// The request's trace (32 hex digits): the exemplar its metrics point to. Not stored.
    pub trace_id: Option<String>,
}

impl RequestRecord {
    /// Notes who is calling: key, user and group.
    pub fn note_caller(&mut self, principal: &oblivious_runtime::Principal) {
        self.key_id = principal.key_id;
        self.key_prefix = principal.key_prefix.clone();
        self.user_id = principal.user_id;
        self.group = principal.group.clone();
    }

    /// Notes the request's lane, route and trace id (call it inside the request's span).
    pub fn note_lane(&mut self, lane: &oblivious_core::lane::LaneContext) {
        self.lane = lane.tag().map(str::to_string);
        self.route = lane.route().map(str::to_string);
        self.trace_id = lane.trace_id();
    }

    pub fn new(ingress: &'static str, endpoint: &'static str) -> Self {
        Self::with_id(Uuid::now_v7(), ingress, endpoint)
    }

    /// A record for the request the edge named `id`.
    pub fn with_id(id: Uuid, ingress: &'static str, endpoint: &'static str) -> Self {
        RequestRecord {
            id,
            started: Instant::now(),
            created_at_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0),
            key_id: None,
            user_id: None,
            key_prefix: String::new(),
            group: "default".to_string(),
            ingress,
            endpoint,
            model: String::new(),
            upstream_model: None,
            channel: None,
            provider: None,
            status: 0,
            error_class: None,
            attempts: 0,
            stream: false,
            ttft: None,
            usage: Usage::default(),
            usage_estimated: false,
            cost_micros: 0,
            currency: None,
            lane: None,
            route: None,
            trace_id: None,
        }
    }

    fn into_row(self) -> RequestLog {
        let ms = |d: Duration| d.as_millis().min(i64::MAX as u128) as i64;
        let tokens = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        RequestLog {
            id: self.id,
            created_at: self.created_at_ms,
            key_id: self.key_id,
            user_id: self.user_id,
            key_prefix: self.key_prefix,
            ingress: self.ingress.to_string(),
            endpoint: self.endpoint.to_string(),
            model: self.model,
            upstream_model: self.upstream_model,
            channel: self.channel,
            provider: self.provider.map(str::to_string),
            status: i32::from(self.status),
            error_class: self.error_class,
            attempts: self.attempts as i32,
            stream: self.stream,
            latency_ms: ms(self.started.elapsed()),
            ttft_ms: self.ttft.map(ms),
            input_tokens: tokens(self.usage.input_tokens),
            cached_input_tokens: tokens(self.usage.cached_input_tokens),
            cache_write_tokens: tokens(self.usage.cache_write_tokens),
            output_tokens: tokens(self.usage.output_tokens),
            reasoning_tokens: tokens(self.usage.reasoning_tokens),
            usage_estimated: self.usage_estimated,
            cost_micros: tokens(self.cost_micros),
            currency: self.currency,
            lane: self.lane,
            route: self.route,
        }
    }
}

enum Command {
    Record(Box<RequestLog>),
    Flush(oneshot::Sender<()>),
}

/// The sending side, cheap to clone into every request.
#[derive(Clone)]
pub struct RequestLogSink {
    tx: mpsc::Sender<Command>,
    dropped: Arc<AtomicU64>,
}

impl RequestLogSink {
    /// Starts the writer task on the current runtime.
    pub fn spawn(store: Store) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(write_batches(store, rx, dropped.clone()));
        RequestLogSink { tx, dropped }
    }

    /// Queues a finished record. Never waits: a full queue drops the record and counts it.
    pub fn submit(&self, record: RequestRecord) {
        let row = Box::new(record.into_row());
        if self.tx.try_send(Command::Record(row)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits until everything queued so far has been written (or given up on). Used at shutdown.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Command::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Records dropped because the queue or the outage buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn write_batches(store: Store, mut rx: mpsc::Receiver<Command>, dropped: Arc<AtomicU64>) {
    let mut pending: VecDeque<RequestLog> = VecDeque::new();
    let mut backoff = FLUSH_EVERY;
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut deadline = tokio::time::Instant::now();
    let mut partitions_checked = Instant::now();
    loop {
        // With nothing pending, sleep until a record arrives; otherwise wake up after `backoff`
        // at the latest so partial batches (and retries after a store failure) get written.
        let received = if pending.is_empty() {
            let received = rx.recv().await;
            deadline = tokio::time::Instant::now() + backoff;
            Some(received)
        } else {
            tokio::time::timeout_at(deadline, rx.recv()).await.ok()
        };
        let closed = matches!(received, Some(None));
        match received.flatten() {
            Some(Command::Record(row)) => {
                pending.push_back(*row);
                while pending.len() > MAX_BUFFERED {
                    pending.pop_front();
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
                if pending.len() < BATCH_SIZE && tokio::time::Instant::now() < deadline {
                    continue;
                }
            }
            Some(Command::Flush(done)) => waiters.push(done),
            None => {}
        }
        while !pending.is_empty() {
            let batch: Vec<RequestLog> = pending.iter().take(BATCH_SIZE).cloned().collect();
            match store.insert_request_logs(&batch).await {
                Ok(()) => {
                    pending.drain(..batch.len());
                    backoff = FLUSH_EVERY;
                }
                Err(error) => {
                    tracing::warn!(%error, buffered = pending.len(), "request log write failed; will retry");
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    break;
                }
            }
        }
        if partitions_checked.elapsed() >= PARTITION_CHECK_EVERY {
            partitions_checked = Instant::now();
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
            if let Err(error) = store.ensure_request_log_partitions(now).await {
                tracing::warn!(%error, "could not check request-log partitions");
            }
        }
        deadline = tokio::time::Instant::now() + backoff;
        if pending.is_empty() || closed {
            for done in waiters.drain(..) {
                let _ = done.send(());
            }
        }
        if closed {
            return;
        }
    }
}
