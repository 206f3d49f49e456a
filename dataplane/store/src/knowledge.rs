//! Knowledge bases, their files with each file's ingestion job, and the chunks ingestion makes.
//!
//! A `knowledge_files` row is both the file's place in the base and its durable job: a worker
//! claims it (`claim_ingestion`: queued, or running with an expired lease; `FOR UPDATE SKIP
//! LOCKED` in PostgreSQL), which bumps `attempt`. Every later write of that worker is fenced by
//! its `attempt`: once another worker has claimed the row, the first one's writes change nothing.

use uuid::Uuid;

use crate::backend::{Backend, WriteTransaction, on_pool};
use crate::{Store, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KnowledgeBase {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub description: String,
    pub embedding_model: String,
    pub embedding_dims: Option<i32>,
    pub chunk_tokens: i32,
    pub chunk_overlap: i32,
    pub top_k: i32,
    pub score_threshold_milli: i32,
    pub vector_weight_milli: i32,
    /// A rerank model (`/v1/rerank`) that reorders the fused candidates; none by default.
    pub rerank_model: Option<String>,
    /// Set on a topic's own base (the documents attached in the topic), which the
    /// knowledge-base API does not show and which goes with its topic.
    pub topic_id: Option<Uuid>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A file in a knowledge base, with its ingestion state and the file's own metadata.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KnowledgeFile {
    pub kb_id: Uuid,
    pub file_id: Uuid,
    pub name: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub status: String,
    pub error: Option<String>,
    pub chunks_total: i32,
    pub chunks_embedded: i32,
    pub attempt: i32,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A claimed ingestion job.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IngestClaim {
    pub kb_id: Uuid,
    pub file_id: Uuid,
    pub user_id: Uuid,
    /// The fencing token of this claim.
    pub attempt: i32,
    /// The lane tag of the request that queued the file: its embeddings go through that lane.
    pub lane: Option<String>,
    /// The trace context of the request that queued (or retried) the file, which the job's span
    /// links to.
    pub traceparent: Option<String>,
}

/// The request a file is queued for: the lane its embeddings go through and the trace its
/// ingestion links back to.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueuedBy<'a> {
    pub lane: Option<&'a str>,
    pub traceparent: Option<&'a str>,
}

/// A chunk as ingestion makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChunk {
    pub ordinal: i32,
    pub text: String,
    pub tokens: i32,
    pub heading: String,
    pub page: Option<i32>,
}

/// A chunk still waiting for its vector.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingChunk {
    pub id: Uuid,
    pub heading: String,
    pub text: String,
}

/// Job states.
pub mod status {
    pub const QUEUED: &str = "queued";
    pub const PARSING: &str = "parsing";
    pub const CHUNKING: &str = "chunking";
    pub const EMBEDDING: &str = "embedding";
    pub const INDEXED: &str = "indexed";
    pub const FAILED: &str = "failed";
}

const KB_COLUMNS: &str = "id, user_id, name, description, embedding_model, embedding_dims, chunk_tokens, \
                          chunk_overlap, top_k, score_threshold_milli, vector_weight_milli, rerank_model, topic_id, created_at, \
                          updated_at";

/// Touches the job only if the claim still holds: run first in a writing transaction, it both
/// checks the claim and locks the row until the transaction ends.
const FENCE: &str = "UPDATE knowledge_files SET lease_until = lease_until \
                     WHERE kb_id = $1 AND file_id = $2 AND attempt = $3 AND status NOT IN ('indexed', 'failed')";

const FILE_COLUMNS: &str = "k.kb_id, k.file_id, f.name, f.media_type, f.size_bytes, k.status, k.error, \
                            k.chunks_total, k.chunks_embedded, k.attempt, k.created_at, k.updated_at";

impl Store {
    pub async fn insert_knowledge_base(&self, kb: &KnowledgeBase) -> StoreResult<()> {
        self.insert_kb(kb, "").await
    }

    /// Inserts `kb`, then `on_conflict` (a clause, or nothing).
    async fn insert_kb(&self, kb: &KnowledgeBase, on_conflict: &str) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO knowledge_bases ({KB_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15){on_conflict}"
        );
        on_pool!(self, pool => sqlx::query(&sql)
            .bind(kb.id)
            .bind(kb.user_id)
            .bind(&kb.name)
            .bind(&kb.description)
            .bind(&kb.embedding_model)
            .bind(kb.embedding_dims)
            .bind(kb.chunk_tokens)
            .bind(kb.chunk_overlap)
            .bind(kb.top_k)
            .bind(kb.score_threshold_milli)
            .bind(kb.vector_weight_milli)
            .bind(&kb.rerank_model)
            .bind(kb.topic_id)
            .bind(kb.created_at)
            .bind(kb.updated_at)
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }

    /// Changes what may change after creation: name, description and the retrieval settings
    /// (chunking settings apply to files ingested from now on).
    pub async fn update_knowledge_base(&self, kb: &KnowledgeBase) -> StoreResult<bool> {
        let sql = "UPDATE knowledge_bases SET name = $3, description = $4, chunk_tokens = $5, chunk_overlap = $6, \
                   top_k = $7, score_threshold_milli = $8, vector_weight_milli = $9, rerank_model = $10, \
                   updated_at = $11 WHERE id = $1 AND user_id = $2";
        let changed = on_pool!(self, pool => sqlx::query(sql)
            .bind(kb.id)
            .bind(kb.user_id)
            .bind(&kb.name)
            .bind(&kb.description)
            .bind(kb.chunk_tokens)
            .bind(kb.chunk_overlap)
            .bind(kb.top_k)
            .bind(kb.score_threshold_milli)
            .bind(kb.vector_weight_milli)
            .bind(&kb.rerank_model)
            .bind(kb.updated_at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    /// The user's knowledge bases (not the topics' own), newest first.
    pub async fn knowledge_bases(&self, user_id: Uuid) -> StoreResult<Vec<KnowledgeBase>> {
        let sql = format!(
            "SELECT {KB_COLUMNS} FROM knowledge_bases WHERE user_id = $1 AND topic_id IS NULL ORDER BY created_at DESC"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await?))
    }

    /// The user's knowledge base `id` (another user's is `None`, as an unknown one and a topic's
    /// own base are).
    pub async fn knowledge_base(&self, user_id: Uuid, id: Uuid) -> StoreResult<Option<KnowledgeBase>> {
        let sql =
            format!("SELECT {KB_COLUMNS} FROM knowledge_bases WHERE id = $1 AND user_id = $2 AND topic_id IS NULL");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(user_id).fetch_optional(pool).await?))
    }

    /// The base an ingestion job fills: any of the user's, a topic's own included.
    pub async fn ingestion_knowledge_base(&self, claim: &IngestClaim) -> StoreResult<Option<KnowledgeBase>> {
        let sql = format!("SELECT {KB_COLUMNS} FROM knowledge_bases WHERE id = $1 AND user_id = $2");
        Ok(
            on_pool!(self, pool => sqlx::query_as(&sql).bind(claim.kb_id).bind(claim.user_id).fetch_optional(pool).await?),
        )
    }

    /// The own base of the user's topic `topic_id`, if documents were attached there.
    pub async fn topic_knowledge_base(&self, user_id: Uuid, topic_id: Uuid) -> StoreResult<Option<KnowledgeBase>> {
        let sql = format!("SELECT {KB_COLUMNS} FROM knowledge_bases WHERE topic_id = $1 AND user_id = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(topic_id).bind(user_id).fetch_optional(pool).await?))
    }

    /// The topic's own base: `kb` (whose `topic_id` is set) when it has none yet, else the one
    /// it has (two sends racing make one base).
    pub async fn ensure_topic_knowledge_base(&self, kb: &KnowledgeBase) -> StoreResult<KnowledgeBase> {
        let topic_id = kb.topic_id.ok_or(StoreError::NotFound("topic"))?;
        if let Some(existing) = self.topic_knowledge_base(kb.user_id, topic_id).await? {
            return Ok(existing);
        }
        self.insert_kb(kb, " ON CONFLICT (topic_id) WHERE topic_id IS NOT NULL DO NOTHING").await?;
        self.topic_knowledge_base(kb.user_id, topic_id).await?.ok_or(StoreError::NotFound("topic knowledge base"))
    }

    /// A knowledge base an administrator made, by id: what a published `Agent` may name in
    /// `knowledgeBases`, searched for every user of the agent.
    pub async fn published_knowledge_base(&self, id: Uuid) -> StoreResult<Option<KnowledgeBase>> {
        let columns = KB_COLUMNS.split(", ").map(|c| format!("k.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {columns} FROM knowledge_bases k JOIN users u ON u.id = k.user_id \
             WHERE k.id = $1 AND k.topic_id IS NULL AND u.role = 'admin'"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?))
    }

    /// Deletes a knowledge base with its files' places in it and their chunks (the files stay).
    pub async fn delete_knowledge_base(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let sql = "DELETE FROM knowledge_bases WHERE id = $1 AND user_id = $2 AND topic_id IS NULL";
        let deleted =
            on_pool!(self, pool => sqlx::query(sql).bind(id).bind(user_id).execute(pool).await?.rows_affected());
        if deleted == 1 {
            self.drop_vector_index(id).await?;
        }
        Ok(deleted == 1)
    }

    /// Records the base's embedding dimension if it has none yet; returns the one it has.
    pub async fn knowledge_base_dims(&self, id: Uuid, dims: i32) -> StoreResult<Option<i32>> {
        let sql = "UPDATE knowledge_bases SET embedding_dims = $2 WHERE id = $1 AND embedding_dims IS NULL";
        on_pool!(self, pool => sqlx::query(sql).bind(id).bind(dims).execute(pool).await.map(drop)?);
        let sql = "SELECT embedding_dims FROM knowledge_bases WHERE id = $1";
        let row: Option<(Option<i32>,)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await?);
        Ok(row.and_then(|(dims,)| dims))
    }

    /// Queues the user's file for the base, for the request `queued_by`; false when it is there
    /// already.
    pub async fn add_knowledge_file(
        &self,
        user_id: Uuid,
        kb_id: Uuid,
        file_id: Uuid,
        queued_by: QueuedBy<'_>,
        now: i64,
    ) -> StoreResult<bool> {
        let sql = "INSERT INTO knowledge_files (kb_id, file_id, user_id, status, lane, traceparent, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (kb_id, file_id) DO NOTHING";
        let inserted = on_pool!(self, pool => sqlx::query(sql)
            .bind(kb_id)
            .bind(file_id)
            .bind(user_id)
            .bind(status::QUEUED)
            .bind(queued_by.lane)
            .bind(queued_by.traceparent)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(inserted == 1)
    }

    pub async fn knowledge_files(&self, user_id: Uuid, kb_id: Uuid) -> StoreResult<Vec<KnowledgeFile>> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM knowledge_files k JOIN files f ON f.id = k.file_id \
             WHERE k.kb_id = $1 AND k.user_id = $2 ORDER BY k.created_at, k.file_id"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(kb_id).bind(user_id).fetch_all(pool).await?))
    }

    pub async fn knowledge_file(
        &self,
        user_id: Uuid,
        kb_id: Uuid,
        file_id: Uuid,
    ) -> StoreResult<Option<KnowledgeFile>> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM knowledge_files k JOIN files f ON f.id = k.file_id \
             WHERE k.kb_id = $1 AND k.file_id = $2 AND k.user_id = $3"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as(&sql).bind(kb_id).bind(file_id).bind(user_id).fetch_optional(pool).await?),
        )
    }

    /// Takes a file out of a base, with its chunks and vectors (the file stays).
    pub async fn remove_knowledge_file(&self, user_id: Uuid, kb_id: Uuid, file_id: Uuid) -> StoreResult<bool> {
        let sql = "DELETE FROM knowledge_files WHERE kb_id = $1 AND file_id = $2 AND user_id = $3";
        let deleted = on_pool!(self, pool => sqlx::query(sql).bind(kb_id).bind(file_id).bind(user_id).execute(pool).await?.rows_affected());
        Ok(deleted == 1)
    }

    /// Queues a failed file again, for the request of trace context `traceparent` (the file
    /// keeps the lane it was queued in); its finished chunks and vectors are kept and reused.
    pub async fn retry_knowledge_file(
        &self,
        user_id: Uuid,
        kb_id: Uuid,
        file_id: Uuid,
        traceparent: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE knowledge_files SET status = $4, error = NULL, lease_until = 0, updated_at = $5, \
                   traceparent = $7 WHERE kb_id = $1 AND file_id = $2 AND user_id = $3 AND status = $6";
        let changed = on_pool!(self, pool => sqlx::query(sql)
            .bind(kb_id)
            .bind(file_id)
            .bind(user_id)
            .bind(status::QUEUED)
            .bind(now)
            .bind(status::FAILED)
            .bind(traceparent)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    /// Claims the oldest job that is queued, or running under a lease that expired before `now`
    /// (its worker died); the claim holds until `lease_until`.
    pub async fn claim_ingestion(&self, now: i64, lease_until: i64) -> StoreResult<Option<IngestClaim>> {
        let pick = "SELECT kb_id, file_id FROM knowledge_files \
                    WHERE status = 'queued' OR (status IN ('parsing', 'chunking', 'embedding') AND lease_until < $2) \
                    ORDER BY updated_at LIMIT 1";
        let claim = |lock: &str| {
            format!(
                "UPDATE knowledge_files SET status = 'parsing', error = NULL, attempt = attempt + 1, \
                 lease_until = $1, updated_at = $2 WHERE (kb_id, file_id) IN ({pick}{lock}) \
                 RETURNING kb_id, file_id, user_id, attempt, lane, traceparent"
            )
        };
        Ok(match &self.backend {
            Backend::Postgres(pool) => {
                sqlx::query_as(&claim(" FOR UPDATE SKIP LOCKED"))
                    .bind(lease_until)
                    .bind(now)
                    .fetch_optional(pool)
                    .await?
            }
            // One writer at a time: the statement is atomic by itself.
            Backend::Sqlite(pool) => {
                sqlx::query_as(&claim("")).bind(lease_until).bind(now).fetch_optional(pool).await?
            }
        })
    }

    /// Files waiting for a worker or being ingested, in every knowledge base.
    pub async fn pending_ingestion_jobs(&self) -> StoreResult<i64> {
        let sql = "SELECT COUNT(*) FROM knowledge_files WHERE status NOT IN ('indexed', 'failed')";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?))
    }

    /// Moves a claimed job on (status, progress, a renewed lease). False when the claim was lost.
    pub async fn ingestion_progress(
        &self,
        claim: &IngestClaim,
        status: &str,
        chunks_total: i32,
        chunks_embedded: i32,
        lease_until: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE knowledge_files SET status = $4, chunks_total = $5, chunks_embedded = $6, \
                   lease_until = $7, updated_at = $8 \
                   WHERE kb_id = $1 AND file_id = $2 AND attempt = $3 AND status NOT IN ('indexed', 'failed')";
        let changed = on_pool!(self, pool => sqlx::query(sql)
            .bind(claim.kb_id)
            .bind(claim.file_id)
            .bind(claim.attempt)
            .bind(status)
            .bind(chunks_total)
            .bind(chunks_embedded)
            .bind(lease_until)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    /// Ends a claimed job: `indexed`, or `failed` with the reason. False when the claim was lost.
    pub async fn finish_ingestion(&self, claim: &IngestClaim, error: Option<&str>, now: i64) -> StoreResult<bool> {
        let status = if error.is_some() { status::FAILED } else { status::INDEXED };
        let sql = "UPDATE knowledge_files SET status = $4, error = $5, lease_until = 0, updated_at = $6 \
                   WHERE kb_id = $1 AND file_id = $2 AND attempt = $3 AND status NOT IN ('indexed', 'failed')";
        let changed = on_pool!(self, pool => sqlx::query(sql)
            .bind(claim.kb_id)
            .bind(claim.file_id)
            .bind(claim.attempt)
            .bind(status)
            .bind(error)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    /// Makes the file's chunks exactly `chunks`: new ones inserted, changed ones replaced (their
    /// vector cleared), unchanged ones kept with their vector, ones past the end removed. Fenced
    /// by the claim; false when it was lost (then nothing changed).
    pub async fn upsert_chunks(&self, claim: &IngestClaim, chunks: &[NewChunk]) -> StoreResult<bool> {
        let upsert = "INSERT INTO chunks (id, kb_id, file_id, ordinal, text, tokens, heading, page) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (kb_id, file_id, ordinal) DO UPDATE SET \
                      embedding = CASE WHEN chunks.text = excluded.text AND chunks.heading = excluded.heading \
                      THEN chunks.embedding ELSE NULL END, \
                      text = excluded.text, tokens = excluded.tokens, heading = excluded.heading, page = excluded.page";
        let trim = "DELETE FROM chunks WHERE kb_id = $1 AND file_id = $2 AND ordinal >= $3";
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(pool.write_begin()).await?;
            let held = sqlx::query(FENCE).bind(claim.kb_id).bind(claim.file_id).bind(claim.attempt).execute(&mut *tx).await?;
            if held.rows_affected() != 1 {
                return Ok(false);
            }
            for chunk in chunks {
                sqlx::query(upsert)
                    .bind(Uuid::now_v7())
                    .bind(claim.kb_id)
                    .bind(claim.file_id)
                    .bind(chunk.ordinal)
                    .bind(&chunk.text)
                    .bind(chunk.tokens)
                    .bind(&chunk.heading)
                    .bind(chunk.page)
                    .execute(&mut *tx)
                    .await?;
            }
            let count = i32::try_from(chunks.len()).unwrap_or(i32::MAX);
            sqlx::query(trim).bind(claim.kb_id).bind(claim.file_id).bind(count).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Up to `limit` of the file's chunks without a vector, in order.
    pub async fn unembedded_chunks(&self, kb_id: Uuid, file_id: Uuid, limit: i64) -> StoreResult<Vec<PendingChunk>> {
        let sql = "SELECT id, heading, text FROM chunks WHERE kb_id = $1 AND file_id = $2 AND embedding IS NULL \
                   ORDER BY ordinal LIMIT $3";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(kb_id).bind(file_id).bind(limit).fetch_all(pool).await?))
    }

    /// How many of the file's chunks have their vector.
    pub async fn embedded_chunk_count(&self, kb_id: Uuid, file_id: Uuid) -> StoreResult<i64> {
        let sql = "SELECT COUNT(*) FROM chunks WHERE kb_id = $1 AND file_id = $2 AND embedding IS NOT NULL";
        let (count,): (i64,) =
            on_pool!(self, pool => sqlx::query_as(sql).bind(kb_id).bind(file_id).fetch_one(pool).await?);
        Ok(count)
    }

    /// Vectors the base holds.
    pub async fn knowledge_base_vector_count(&self, kb_id: Uuid) -> StoreResult<i64> {
        let sql = "SELECT COUNT(*) FROM chunks WHERE kb_id = $1 AND embedding IS NOT NULL";
        let (count,): (i64,) = on_pool!(self, pool => sqlx::query_as(sql).bind(kb_id).fetch_one(pool).await?);
        Ok(count)
    }

    /// Stores vectors of chunks, fenced by the claim; false when it was lost (nothing stored).
    pub async fn store_embeddings(&self, claim: &IngestClaim, vectors: &[(Uuid, Vec<f32>)]) -> StoreResult<bool> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(pool.write_begin()).await?;
            let held = sqlx::query(FENCE).bind(claim.kb_id).bind(claim.file_id).bind(claim.attempt).execute(&mut *tx).await?;
            if held.rows_affected() != 1 {
                return Ok(false);
            }
            for (id, vector) in vectors {
                sqlx::query(pool.set_embedding_sql()).bind(id).bind(pool.encode_vector(vector)).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }
}

/// How each backend stores a vector: pgvector's `vector` (sent as text and cast), or a BLOB of
/// little-endian f32 in SQLite.
trait VectorColumn {
    type Encoded;
    fn set_embedding_sql(&self) -> &'static str;
    fn encode_vector(&self, vector: &[f32]) -> Self::Encoded;
}

impl VectorColumn for sqlx::PgPool {
    type Encoded = String;
    fn set_embedding_sql(&self) -> &'static str {
        "UPDATE chunks SET embedding = $2::vector WHERE id = $1"
    }
    fn encode_vector(&self, vector: &[f32]) -> String {
        pgvector_text(vector)
    }
}

impl VectorColumn for sqlx::SqlitePool {
    type Encoded = Vec<u8>;
    fn set_embedding_sql(&self) -> &'static str {
        "UPDATE chunks SET embedding = $2 WHERE id = $1"
    }
    fn encode_vector(&self, vector: &[f32]) -> Vec<u8> {
        f32_blob(vector)
    }
}

/// pgvector's text form, `[0.1,0.2]`.
pub(crate) fn pgvector_text(vector: &[f32]) -> String {
    let items: Vec<String> = vector.iter().map(f32::to_string).collect();
    format!("[{}]", items.join(","))
}

/// A vector as little-endian f32 bytes (SQLite).
pub fn f32_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The vector of a little-endian f32 BLOB.
pub fn blob_f32(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}
