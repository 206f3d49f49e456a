//! The two retrieval legs over `chunks`, each filtered *inside* the search (never a filter applied
//! to an approximate top-k after the fact, which silently loses neighbours):
//!
//! - vectors: in PostgreSQL, pgvector's HNSW on a partial index per knowledge base covering its
//!   chunks up to a fence (`vector_index`), so a search of one base walks only that base's graph,
//!   and the chunks past the fence (all of them before the base's first index) are scanned
//!   exactly beside it; in SQLite, an exact scan of the base's vectors, held in memory
//!   (`sqlite_vectors`).
//! - full text: PostgreSQL's `tsvector` (GIN) or SQLite's FTS5, any of the query's words.

use std::collections::HashMap;

use uuid::Uuid;

use crate::backend::{Backend, on_pool};
use crate::knowledge::{blob_f32, pgvector_text};
use crate::{Store, StoreResult};

/// Candidates HNSW considers per search (pgvector's `hnsw.ef_search`); above the default 40 so
/// a top-k of a few dozen keeps its recall.
pub const EF_SEARCH: i64 = 200;
/// A chunk as retrieval returns it, with what a citation shows.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChunkHit {
    pub id: Uuid,
    pub kb_id: Uuid,
    pub file_id: Uuid,
    pub file_name: String,
    pub ordinal: i32,
    pub heading: String,
    pub page: Option<i32>,
    pub text: String,
}

impl Store {
    /// The `limit` chunks of base `kb_id` nearest to `query` by cosine, with their similarity.
    pub async fn vector_search(
        &self,
        kb_id: Uuid,
        dims: i32,
        query: &[f32],
        limit: i64,
    ) -> StoreResult<Vec<(Uuid, f32)>> {
        self.vector_search_with(kb_id, dims, query, limit, EF_SEARCH).await
    }

    /// `vector_search` with `ef_search` candidates (PostgreSQL; the benchmark compares them).
    pub async fn vector_search_with(
        &self,
        kb_id: Uuid,
        dims: i32,
        query: &[f32],
        limit: i64,
        ef_search: i64,
    ) -> StoreResult<Vec<(Uuid, f32)>> {
        match &self.backend {
            Backend::Postgres(pool) => {
                // The fence is read apart (one indexed lookup): the planner matches a partial index
                // only against literals, so it cannot come from a join or a parameter.
                let sql = nearest_sql(kb_id, dims, self.vector_index_upto(kb_id).await?);
                let mut tx = pool.begin().await?;
                sqlx::query(&format!("SET LOCAL hnsw.ef_search = {ef_search}")).execute(&mut *tx).await?;
                let rows: Vec<(Uuid, f32)> =
                    sqlx::query_as(&sql).bind(pgvector_text(query)).bind(limit).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                Ok(rows)
            }
            Backend::Sqlite(pool) => {
                self.sqlite_vectors.search(pool, kb_id, query, usize::try_from(limit).unwrap_or(0)).await
            }
        }
    }

    /// The `limit` chunks of the bases that best match any of `words`, best first, with the
    /// backend's relevance (higher is better).
    pub async fn text_search(&self, kb_ids: &[Uuid], words: &[String], limit: i64) -> StoreResult<Vec<(Uuid, f64)>> {
        let words: Vec<&String> =
            words.iter().filter(|w| !w.is_empty() && w.chars().all(char::is_alphanumeric)).collect();
        if words.is_empty() || kb_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Words are letters and digits only (checked above): safe inside either query language.
        match &self.backend {
            Backend::Postgres(pool) => {
                // `ts_rank`, not `ts_rank_cd`: over words OR-ed, cover density counts every
                // occurrence of any word, so one frequent word outweighs several rare ones;
                // `ts_rank` lets each word's repeats count less and less. Neither knows how rare a
                // word is, which bm25 does (the function words are left out before this).
                let query = words.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(" | ");
                let sql = "SELECT id, ts_rank(search, q)::float8 FROM chunks, to_tsquery('simple', $2) q \
                           WHERE kb_id = ANY($1) AND search @@ q ORDER BY 2 DESC, id LIMIT $3";
                Ok(sqlx::query_as(sql).bind(kb_ids).bind(query).bind(limit).fetch_all(pool).await?)
            }
            Backend::Sqlite(pool) => {
                let query = words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(" OR ");
                let bases = (0..kb_ids.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(", ");
                // bm25() is lower for better matches.
                let sql = format!(
                    "SELECT c.id, -bm25(chunks_fts) FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid \
                     WHERE chunks_fts MATCH $1 AND c.kb_id IN ({bases}) ORDER BY bm25(chunks_fts), c.id LIMIT $2"
                );
                let mut statement = sqlx::query_as(&sql).bind(query).bind(limit);
                for kb_id in kb_ids {
                    statement = statement.bind(*kb_id);
                }
                Ok(statement.fetch_all(pool).await?)
            }
        }
    }

    /// The cosine similarity of each of the chunks `ids` (those with a vector) to `query`.
    pub async fn chunk_similarities(&self, ids: &[Uuid], query: &[f32]) -> StoreResult<HashMap<Uuid, f32>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        match &self.backend {
            Backend::Postgres(pool) => {
                let dims = query.len();
                let sql = format!(
                    "SELECT id, (1 - (embedding <=> $2::vector({dims})))::float4 FROM chunks \
                     WHERE id = ANY($1) AND vector_dims(embedding) = {dims}"
                );
                let rows: Vec<(Uuid, f32)> =
                    sqlx::query_as(&sql).bind(ids).bind(pgvector_text(query)).fetch_all(pool).await?;
                Ok(rows.into_iter().collect())
            }
            Backend::Sqlite(pool) => {
                let mut out = HashMap::new();
                for id in ids {
                    let row: Option<(Option<Vec<u8>>,)> = sqlx::query_as("SELECT embedding FROM chunks WHERE id = $1")
                        .bind(id)
                        .fetch_optional(pool)
                        .await?;
                    if let Some((Some(blob),)) = row {
                        let vector = blob_f32(&blob);
                        if vector.len() == query.len() {
                            out.insert(*id, cosine(query, &vector));
                        }
                    }
                }
                Ok(out)
            }
        }
    }

    /// The chunks `ids` with their file names, in no particular order.
    pub async fn chunks_by_id(&self, ids: &[Uuid]) -> StoreResult<Vec<ChunkHit>> {
        let mut out = Vec::with_capacity(ids.len());
        // A handful of ids per search: one indexed lookup each keeps the SQL the same on both
        // backends (no array binding in SQLite).
        for id in ids {
            let sql = "SELECT c.id, c.kb_id, c.file_id, f.name AS file_name, c.ordinal, c.heading, c.page, c.text \
                       FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.id = $1";
            let hit: Option<ChunkHit> =
                on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await?);
            out.extend(hit);
        }
        Ok(out)
    }
}

/// PostgreSQL's nearest chunks of one base (`$1` the query vector, `$2` how many): the graph's
/// approximate search of the chunks up to the fence beside an exact scan of those past it, or one
/// exact scan before the base's first index. The predicates name the base and the fence
/// literally, as the partial index does, so the planner matches it even on a generic plan.
/// (Identifiers and literals are built from UUIDs and an integer: nothing to escape.)
pub fn nearest_sql(kb_id: Uuid, dims: i32, upto: Option<Uuid>) -> String {
    let distance = format!("embedding::vector({dims}) <=> $1::vector({dims})");
    let leg = |fence: &str| {
        format!(
            "(SELECT id, {distance} AS distance FROM chunks WHERE kb_id = '{kb_id}'{fence} AND embedding IS NOT NULL \
             ORDER BY {distance} LIMIT $2)"
        )
    };
    let legs = match upto {
        Some(upto) => {
            format!("{} UNION ALL {}", leg(&format!(" AND id <= '{upto}'")), leg(&format!(" AND id > '{upto}'")))
        }
        None => leg(""),
    };
    format!("SELECT id, (1 - distance)::float4 FROM ({legs}) nearest ORDER BY distance, id LIMIT $2")
}

/// Cosine similarity; 0 for vectors of different sizes or no length.
fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norms = a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norms < f32::EPSILON { 0.0 } else { dot / norms }
}
