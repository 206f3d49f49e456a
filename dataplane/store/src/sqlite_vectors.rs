//! SQLite's vector leg: an exact search over a knowledge base's vectors held in memory as one
//! normalized matrix, so a search is a scan of contiguous floats instead of a read and decode of
//! every row (measured at 100k 384-dim chunks, `oblivious bench rag`: the per-search row read
//! took ~400 ms, the scan takes a few ms).
//!
//! A base's matrix is tagged with the base's `vectors_version`, which SQLite triggers bump on
//! every insert, update or delete of a chunk's vector (cascades included; migration
//! `20261213000000`). A search reads the version first and rebuilds the matrix when it moved,
//! so it never answers from stale vectors: a write between that read and the reload only makes
//! the next search reload again. Exact search has recall 1; what it costs is memory (4 bytes
//! per dimension per chunk, bounded by `MAX_CACHED_FLOATS`, oldest base out first) and a
//! reload after each batch of writes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use sqlx::SqlitePool;
use uuid::Uuid;

use crate::StoreResult;
use crate::knowledge::blob_f32;

/// Floats kept across all bases (1 GiB).
const MAX_CACHED_FLOATS: usize = 256 * 1024 * 1024;

/// One base's vectors, each normalized to unit length, row by row.
struct Matrix {
    version: i64,
    dims: usize,
    ids: Vec<Uuid>,
    rows: Vec<f32>,
}

#[derive(Default)]
pub(crate) struct VectorCache {
    bases: Mutex<Cached>,
}

impl std::fmt::Debug for VectorCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VectorCache")
    }
}

#[derive(Default)]
struct Cached {
    by_base: HashMap<Uuid, Arc<Matrix>>,
    oldest_first: VecDeque<Uuid>,
    floats: usize,
}

impl VectorCache {
    /// The `limit` vectors of base `kb_id` most similar to `query` (cosine), best first.
    pub(crate) async fn search(
        &self,
        pool: &SqlitePool,
        kb_id: Uuid,
        query: &[f32],
        limit: usize,
    ) -> StoreResult<Vec<(Uuid, f32)>> {
        let matrix = self.matrix(pool, kb_id).await?;
        let query = unit(query);
        // A few milliseconds of arithmetic per 100k rows: off the async workers.
        let scored = tokio::task::spawn_blocking(move || top(&matrix, &query, limit))
            .await
            .map_err(|e| crate::StoreError::Invalid(format!("the vector scan failed: {e}")))?;
        Ok(scored)
    }

    /// The base's matrix at its current version, loaded if the cached one is older.
    async fn matrix(&self, pool: &SqlitePool, kb_id: Uuid) -> StoreResult<Arc<Matrix>> {
        let version: Option<(i64,)> = sqlx::query_as("SELECT vectors_version FROM knowledge_bases WHERE id = $1")
            .bind(kb_id)
            .fetch_optional(pool)
            .await?;
        let version = version.map_or(0, |(v,)| v);
        if let Some(matrix) = self.bases.lock().ok().and_then(|c| c.by_base.get(&kb_id).cloned())
            && matrix.version == version
        {
            return Ok(matrix);
        }
        let rows: Vec<(Uuid, Vec<u8>)> =
            sqlx::query_as("SELECT id, embedding FROM chunks WHERE kb_id = $1 AND embedding IS NOT NULL")
                .bind(kb_id)
                .fetch_all(pool)
                .await?;
        let dims = rows.first().map_or(0, |(_, blob)| blob.len() / 4);
        let mut matrix = Matrix { version, dims, ids: Vec::with_capacity(rows.len()), rows: Vec::new() };
        matrix.rows.reserve(rows.len() * dims);
        for (id, blob) in rows {
            let vector = blob_f32(&blob);
            // One dimension per base is an invariant of ingestion; a stray row is left out.
            if vector.len() == dims {
                matrix.ids.push(id);
                matrix.rows.extend(unit(&vector));
            }
        }
        let matrix = Arc::new(matrix);
        if let Ok(mut cached) = self.bases.lock() {
            cached.put(kb_id, matrix.clone());
        }
        Ok(matrix)
    }
}

impl Cached {
    fn put(&mut self, kb_id: Uuid, matrix: Arc<Matrix>) {
        if let Some(old) = self.by_base.remove(&kb_id) {
            self.floats -= old.rows.len();
            self.oldest_first.retain(|id| *id != kb_id);
        }
        while self.floats + matrix.rows.len() > MAX_CACHED_FLOATS {
            let Some(oldest) = self.oldest_first.pop_front() else { break };
            if let Some(old) = self.by_base.remove(&oldest) {
                self.floats -= old.rows.len();
            }
        }
        if matrix.rows.len() <= MAX_CACHED_FLOATS {
            self.floats += matrix.rows.len();
            self.oldest_first.push_back(kb_id);
            self.by_base.insert(kb_id, matrix);
        }
    }
}

/// `vector` scaled to unit length (a zero vector stays zero).
fn unit(vector: &[f32]) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm <= f32::EPSILON { vector.to_vec() } else { vector.iter().map(|x| x / norm).collect() }
}

/// The `limit` rows with the highest dot product with `query` (both unit: the cosine).
fn top(matrix: &Matrix, query: &[f32], limit: usize) -> Vec<(Uuid, f32)> {
    if matrix.dims == 0 || query.len() != matrix.dims || limit == 0 {
        return Vec::new();
    }
    let mut scored: Vec<(usize, f32)> = matrix
        .rows
        .chunks_exact(matrix.dims)
        .enumerate()
        .map(|(row, vector)| (row, vector.iter().zip(query).map(|(a, b)| a * b).sum()))
        .collect();
    if scored.len() > limit {
        scored.select_nth_unstable_by(limit - 1, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(limit);
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.into_iter().map(|(row, score)| (matrix.ids[row], score)).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn matrix(vectors: &[&[f32]]) -> Matrix {
        let ids = vectors.iter().map(|_| Uuid::now_v7()).collect();
        let rows = vectors.iter().flat_map(|v| unit(v)).collect();
        Matrix { version: 0, dims: vectors[0].len(), ids, rows }
    }

    #[test]
    fn the_nearest_rows_come_first_by_cosine() {
        let m = matrix(&[&[1.0, 0.0], &[0.0, 2.0], &[3.0, 3.0]]);
        let found = top(&m, &unit(&[0.1, 1.0]), 2);
        assert_eq!(found.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [m.ids[1], m.ids[2]]);
        assert!((found[0].1 - 0.995).abs() < 0.01, "{found:?}");
        assert_eq!(top(&m, &[1.0, 0.0, 0.0], 2), [], "another dimension finds nothing");
    }

    #[test]
    fn the_oldest_base_goes_when_the_floats_run_out() {
        let mut cached = Cached::default();
        let big =
            |version| Arc::new(Matrix { version, dims: 1, ids: Vec::new(), rows: vec![0.0; MAX_CACHED_FLOATS / 2] });
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        cached.put(a, big(0));
        cached.put(b, big(0));
        cached.put(c, big(0));
        assert!(!cached.by_base.contains_key(&a) && cached.by_base.contains_key(&c));
        assert_eq!(cached.floats, MAX_CACHED_FLOATS);
        cached.put(c, big(1));
        assert_eq!(cached.floats, MAX_CACHED_FLOATS, "a reload replaces, not adds");
    }
}
