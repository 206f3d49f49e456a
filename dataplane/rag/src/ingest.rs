//! Ingestion: durable jobs (one per file in a knowledge base) run by workers — the `rag` role, or
//! in-process in `dev`/`all`. A worker claims a job, then: parse the file (status `parsing`),
//! chunk it (`chunking`; chunks upserted by ordinal), embed the chunks still without a vector in
//! batches (`embedding`, progress counted), and mark it `indexed` — or `failed` with the reason.
//!
//! Crash safety: a claim is a lease the worker renews with every step; a worker that dies leaves
//! a job whose lease runs out, and the next worker claims it, re-parses, re-chunks (the same
//! chunks, so nothing is duplicated and finished vectors are kept) and embeds only what is
//! missing. Writes of a worker that lost its claim are refused by the store (fencing).

use std::sync::Arc;
use std::time::Duration;

use oblivious_core::shutdown::Lifecycle;
use oblivious_core::telemetry::propagation;
use oblivious_files::Files;
use oblivious_runtime::{EventType, WebhookSettings, Webhooks};
use oblivious_store::knowledge::status;
use oblivious_store::vector_index::should_fold;
use oblivious_store::{IngestClaim, NewChunk, Store, now_ms};
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::chunk::{ChunkSettings, chunk};
use crate::embed::{ActingFor, Embedder};
use crate::parse::parse;
use oblivious_core::lane::LaneContext;

#[derive(Debug, Clone, Copy)]
pub struct IngestSettings {
    /// How long a claim holds without renewal.
    pub lease: Duration,
    /// Chunks per embeddings request.
    pub batch: usize,
    /// How often an idle worker looks for jobs (it is also woken when one is queued here).
    pub poll: Duration,
    /// Chunks past a base's vector index (all of them, before its first) that make the next
    /// fold (PostgreSQL; `oblivious_store::vector_index`). Below this an exact search of them
    /// is fast, and loading outside a graph is several times faster than inserting into one
    /// (measured, dataplane/rag/NOTES.md); the index is then rebuilt in bulk.
    pub index_after_vectors: i64,
    /// `maintenance_work_mem` a fold's index build may use, in MiB (0: the server's setting,
    /// often 64 MiB). pgvector builds a graph that fits in it in memory; one that does not is
    /// built by inserts on disk, many times slower. A million 1536-dim chunks need about 8 GiB.
    pub index_build_memory_mb: u32,
}

impl Default for IngestSettings {
    fn default() -> Self {
        // The lease outlasts an embeddings call with all its 429 backoff (`embed::Backoff`).
        IngestSettings {
            lease: Duration::from_secs(300),
            batch: 32,
            poll: Duration::from_secs(2),
            index_after_vectors: 20_000,
            index_build_memory_mb: 1024,
        }
    }
}

/// How long a job that hit a passing failure (the relay unreachable, rate limited) waits before
/// a worker takes it again.
const RETRY_LATER: Duration = Duration::from_secs(30);
/// Claims after which a passing failure counts as the file's failure.
const MAX_ATTEMPTS: i32 = 5;

/// How a job ended, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Indexed {
        chunks: usize,
    },
    Failed(String),
    /// Another worker took the job over (this one's lease had run out).
    LostClaim,
    /// The process is draining: the job was handed back to the queue.
    Requeued,
    /// A passing failure: the job is taken again after `RETRY_LATER`.
    RetryLater(String),
}

pub struct Ingestor {
    store: Store,
    files: Files,
    embedder: Embedder,
    pub settings: IngestSettings,
    wake: Notify,
    /// Where `file.indexed` events go.
    webhooks: Webhooks,
}

/// Failures inside a job: the job's own (shown on the file) or the store's (the job is left to
/// its lease and retried).
enum Stop {
    Failed(String),
    LostClaim,
    Requeue,
    RetryLater(String),
    Store(oblivious_store::StoreError),
}

impl From<oblivious_store::StoreError> for Stop {
    fn from(error: oblivious_store::StoreError) -> Self {
        Stop::Store(error)
    }
}

impl Ingestor {
    /// An ingestor whose `file.indexed` events go to the outbox of `store` (delivered at a worker's
    /// next poll); `with_webhooks` shares the process's handle, so they go out at once.
    pub fn new(store: Store, files: Files, embedder: Embedder, settings: IngestSettings) -> Arc<Self> {
        let webhooks = Webhooks::new(store.clone(), WebhookSettings::default(), Arc::default());
        Self::with_webhooks(store, files, embedder, settings, webhooks)
    }

    /// An ingestor whose `file.indexed` events go through `webhooks` (the process's handle).
    pub fn with_webhooks(
        store: Store,
        files: Files,
        embedder: Embedder,
        settings: IngestSettings,
        webhooks: Webhooks,
    ) -> Arc<Self> {
        Arc::new(Ingestor { store, files, embedder, settings, wake: Notify::new(), webhooks })
    }

    /// Tells an idle worker of this process that a job was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs a worker until the process drains; tracked, so shutdown waits for the current step.
    /// `pending` is kept at the number of files waiting or being ingested, across all workers
    /// (`oblivious_rag_jobs_pending`, what the `rag` Deployment scales on).
    pub fn spawn_worker(self: &Arc<Self>, lifecycle: Arc<Lifecycle>, pending: Gauge) {
        let ingestor = self.clone();
        let tracked = lifecycle.clone();
        tracked.spawn_job(async move {
            loop {
                if lifecycle.is_draining() {
                    return;
                }
                match ingestor.store.pending_ingestion_jobs().await {
                    Ok(count) => _ = pending.set(count),
                    Err(error) => tracing::warn!(%error, "ingestion: cannot count pending jobs"),
                }
                match ingestor.run_once(&lifecycle).await {
                    Ok(Some(_)) => continue,
                    Ok(None) => {}
                    Err(error) => tracing::warn!(%error, "ingestion: the store failed; retrying"),
                }
                tokio::select! {
                    _ = ingestor.wake.notified() => {}
                    _ = tokio::time::sleep(ingestor.settings.poll) => {}
                    _ = lifecycle.stopping() => return,
                }
            }
        });
    }

    /// Claims and runs one job; `None` when there was none.
    pub async fn run_once(&self, lifecycle: &Lifecycle) -> Result<Option<Outcome>, oblivious_store::StoreError> {
        let now = now_ms();
        let Some(claim) = self.store.claim_ingestion(now, now + self.lease_ms()).await? else {
            return Ok(None);
        };
        // A root span: the job runs apart from the request that queued the file, which it links
        // to (a link, not a parent: the job may run much later, in another process).
        let span = tracing::info_span!(
            "rag.ingest",
            oblivious.kb_id = %claim.kb_id,
            oblivious.file_id = %claim.file_id,
            oblivious.attempt = claim.attempt,
        );
        if let Some(queued_by) = &claim.traceparent {
            propagation::link(&span, queued_by);
        }
        let outcome = match self.run(&claim, lifecycle).instrument(span).await {
            Ok(chunks) => match self.store.finish_ingestion(&claim, None, now_ms()).await? {
                true => {
                    self.emit_indexed(&claim, chunks).await;
                    Outcome::Indexed { chunks }
                }
                false => Outcome::LostClaim,
            },
            Err(Stop::RetryLater(reason)) if claim.attempt < MAX_ATTEMPTS => {
                tracing::info!(kb = %claim.kb_id, file = %claim.file_id, reason, "ingestion will be retried");
                let later = now_ms() + RETRY_LATER.as_millis() as i64;
                let file = self.store.knowledge_file(claim.user_id, claim.kb_id, claim.file_id).await?;
                let (total, done) = file.map_or((0, 0), |f| (f.chunks_total, f.chunks_embedded));
                self.store.ingestion_progress(&claim, status::EMBEDDING, total, done, later, now_ms()).await?;
                Outcome::RetryLater(reason)
            }
            Err(Stop::Failed(reason) | Stop::RetryLater(reason)) => {
                tracing::info!(kb = %claim.kb_id, file = %claim.file_id, reason, "ingestion failed");
                match self.store.finish_ingestion(&claim, Some(&reason), now_ms()).await? {
                    true => Outcome::Failed(reason),
                    false => Outcome::LostClaim,
                }
            }
            Err(Stop::LostClaim) => Outcome::LostClaim,
            Err(Stop::Requeue) => {
                self.store.ingestion_progress(&claim, status::QUEUED, 0, 0, 0, now_ms()).await?;
                Outcome::Requeued
            }
            Err(Stop::Store(error)) => return Err(error),
        };
        Ok(Some(outcome))
    }

    /// Tells the user's webhooks that the file is indexed (only the claim that finished it does).
    async fn emit_indexed(&self, claim: &IngestClaim, chunks: usize) {
        let name = match self.store.knowledge_file(claim.user_id, claim.kb_id, claim.file_id).await {
            Ok(file) => file.map(|f| f.name),
            Err(error) => {
                tracing::warn!(%error, "ingestion: cannot read the indexed file's name for its webhook event");
                None
            }
        };
        let data = serde_json::json!({
            "user_id": claim.user_id,
            "knowledge_base_id": claim.kb_id,
            "file_id": claim.file_id,
            "name": name,
            "chunks": chunks,
        });
        self.webhooks.emit(EventType::FileIndexed, claim.user_id, data).await;
    }

    fn lease_ms(&self) -> i64 {
        self.settings.lease.as_millis() as i64
    }

    /// Moves the job to `status`, renewing its lease.
    async fn step(&self, claim: &IngestClaim, status: &str, total: usize, embedded: usize) -> Result<(), Stop> {
        let now = now_ms();
        let held = self
            .store
            .ingestion_progress(claim, status, total as i32, embedded as i32, now + self.lease_ms(), now)
            .await?;
        if held { Ok(()) } else { Err(Stop::LostClaim) }
    }

    /// Folds the base's newest chunks into a new vector index once there are enough of them
    /// (`oblivious_store::vector_index`: a bulk build, so ingestion never pays the graph's
    /// one-at-a-time inserts). Every finished job checks, so a failure here only costs search
    /// speed until the next job folds. A topic's own base gets none: it holds a few documents,
    /// searched exactly (an HNSW index per topic would grow the catalog and every write without
    /// making its searches faster). A fold of a large base takes minutes; it holds this worker,
    /// not the finished job, and other workers go on claiming.
    async fn index_when_large(&self, claim: &IngestClaim) {
        let folded = async {
            // Read again: this job's first batch may have set the dimension.
            let Some(kb) = self.store.ingestion_knowledge_base(claim).await? else { return Ok(false) };
            let Some(dims) = kb.embedding_dims.filter(|_| kb.topic_id.is_none()) else { return Ok(false) };
            let first_after = self.settings.index_after_vectors;
            let fold = |state| should_fold(state, first_after);
            match self.store.vector_index_state(claim.kb_id).await? {
                Some(state) if fold(state) => {
                    self.store.fold_vector_index(claim.kb_id, dims, self.settings.index_build_memory_mb, fold).await
                }
                _ => Ok(false),
            }
        };
        match folded.await {
            Ok(true) => {
                tracing::info!(kb = %claim.kb_id, "folded the knowledge base's newest chunks into its vector index")
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, kb = %claim.kb_id, "could not fold the knowledge base's vector index"),
        }
    }

    async fn run(&self, claim: &IngestClaim, lifecycle: &Lifecycle) -> Result<usize, Stop> {
        // Embeddings go through the lane of the request that queued the file.
        let lane = claim.lane.as_deref().map(LaneContext::of_tag).unwrap_or_default();
        let who = ActingFor { user: claim.user_id, lane: &lane };
        let kb = self
            .store
            .ingestion_knowledge_base(claim)
            .await?
            .ok_or_else(|| Stop::Failed("the knowledge base is gone".into()))?;
        let file = self
            .store
            .file(claim.user_id, claim.file_id)
            .await?
            .ok_or_else(|| Stop::Failed("the file is gone".into()))?;
        self.step(claim, status::PARSING, 0, 0).await?;
        let bytes = self.files.content(&file).await.map_err(|e| Stop::Failed(format!("cannot read the file: {e}")))?;
        // Parsing is CPU-bound (seconds for a large PDF): off the async workers.
        let media_type = file.media_type.clone();
        let parsing = tracing::info_span!("rag.parse", oblivious.media_type = media_type.as_str());
        let sections = tokio::task::spawn_blocking(move || parsing.in_scope(|| parse(&media_type, &bytes)))
            .await
            .map_err(|e| Stop::Failed(format!("the parser failed: {e}")))?
            .map_err(|e| Stop::Failed(e.0))?;

        self.step(claim, status::CHUNKING, 0, 0).await?;
        let settings = ChunkSettings {
            max_tokens: kb.chunk_tokens.max(1) as usize,
            overlap_tokens: kb.chunk_overlap.max(0) as usize,
        };
        let chunks: Vec<NewChunk> = tracing::info_span!("rag.chunk")
            .in_scope(|| chunk(&sections, settings))
            .into_iter()
            .map(|c| NewChunk {
                ordinal: c.ordinal as i32,
                text: c.text,
                tokens: c.tokens as i32,
                heading: c.heading,
                page: c.page.map(|p| p as i32),
            })
            .collect();
        if !self.store.upsert_chunks(claim, &chunks).await? {
            return Err(Stop::LostClaim);
        }
        let total = chunks.len();
        let mut embedded = self.store.embedded_chunk_count(claim.kb_id, claim.file_id).await? as usize;
        self.step(claim, status::EMBEDDING, total, embedded).await?;

        loop {
            let pending = self.store.unembedded_chunks(claim.kb_id, claim.file_id, self.settings.batch as i64).await?;
            if pending.is_empty() {
                self.index_when_large(claim).await;
                return Ok(total);
            }
            if lifecycle.is_draining() {
                return Err(Stop::Requeue);
            }
            // The heading goes with the text: "Install > Linux" is what a question often names.
            let inputs: Vec<String> = pending
                .iter()
                .map(|c| if c.heading.is_empty() { c.text.clone() } else { format!("{}\n\n{}", c.heading, c.text) })
                .collect();
            let embedding = tracing::info_span!("rag.embed", oblivious.inputs = inputs.len());
            let vectors =
                self.embedder.embed(who, &kb.embedding_model, &inputs).instrument(embedding).await.map_err(|e| {
                    if e.transient { Stop::RetryLater(e.to_string()) } else { Stop::Failed(e.to_string()) }
                })?;
            let dims = vectors.first().map_or(0, Vec::len) as i32;
            if vectors.iter().any(|v| v.len() as i32 != dims || dims == 0) {
                return Err(Stop::Failed("the embedding model returned vectors of different sizes".into()));
            }
            let base_dims = self.store.knowledge_base_dims(claim.kb_id, dims).await?;
            if base_dims != Some(dims) {
                return Err(Stop::Failed(format!(
                    "the embedding model returned {dims} dimensions; this knowledge base holds {}",
                    base_dims.unwrap_or_default()
                )));
            }
            let pairs: Vec<_> = pending.iter().map(|c| c.id).zip(vectors).collect();
            if !self.store.store_embeddings(claim, &pairs).await? {
                return Err(Stop::LostClaim);
            }
            embedded += pairs.len();
            self.step(claim, status::EMBEDDING, total, embedded).await?;
        }
    }
}
