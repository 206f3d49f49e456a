//! A knowledge base's HNSW index in PostgreSQL, built in bulk and never grown one insert at a time.
//!
//! pgvector adds a vector to an HNSW graph with a search of the graph per insert: about 170
//! chunks/s at 1536 dimensions on two cores, against about 1,200 chunks/s when the same chunks
//! land in no graph (`oblivious bench rag`). So a base's index covers its chunks only up to a
//! **fence** (`knowledge_bases.vector_index_upto`, a chunk id; ids are UUIDv7, so later chunks
//! sort after it), as the partial index's own predicate `kb_id = '…' AND id <= '…'`:
//!
//! - chunks past the fence (the *tail*) touch no graph when written, and a search scans them
//!   exactly (`chunks_kb_tail`), beside the graph's approximate search of the rest;
//! - once the tail is large (`should_fold`), `fold_vector_index` builds the next index up to the
//!   newest chunk with `CREATE INDEX CONCURRENTLY` (writes go on meanwhile), moves the fence,
//!   and drops the previous index.
//!
//! A chunk written later with an id at or before the fence (another worker's clock behind) is
//! still found: the partial index takes it in, one slow insert. Folds of one base are serialized
//! by an advisory lock held on a connection that is closed, never pooled, afterwards.

use uuid::Uuid;

use crate::backend::Backend;
use crate::{Store, StoreResult};

/// Graph quality of a base's index (pgvector's `ef_construction`, default 64): candidates each
/// vector considers for its links. Measured at a million clustered 384-dim vectors (`oblivious
/// bench rag`), the default left recall@10 at 0.92; this is what raises it (NOTES.md).
const EF_CONSTRUCTION: i64 = 128;

/// The advisory lock class of folds (the object is the base's hashed id).
const FOLD_LOCK_CLASS: i32 = 0x0b11d;

/// The index a fold builds.
struct NextIndex {
    name: String,
    generation: i32,
    /// The newest chunk it covers (its fence).
    upto: Uuid,
    /// Chunks up to the fence.
    rows: i64,
}

/// Where a base's index stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VectorIndexState {
    /// The newest chunk id the index covers; `None` before the first fold.
    pub upto: Option<Uuid>,
    /// Chunks the index held when it was built.
    pub indexed: i64,
    /// Chunks past the fence (all of them before the first fold), with or without a vector yet.
    pub tail: i64,
}

/// Whether a base with `state` should fold its tail into a new index: once the tail reaches
/// `first_after` chunks and a tenth of the indexed ones. The tenth bounds both what an exact scan
/// of the tail costs a search and how often a large base is rebuilt (each fold rebuilds every
/// chunk, so folds of a growing base come at sizes ×1.1).
pub fn should_fold(state: VectorIndexState, first_after: i64) -> bool {
    state.tail >= first_after.max(1) && state.tail * 10 >= state.indexed
}

/// The name of a base's index of generation `generation`.
fn index_name(kb_id: Uuid, generation: i32) -> String {
    format!("chunks_hnsw_{}_{generation}", kb_id.simple())
}

/// What indexes of the base are called (every generation, and the one unfenced index that bases
/// got before fences).
fn index_name_pattern(kb_id: Uuid) -> String {
    format!("chunks\\_hnsw\\_{}%", kb_id.simple())
}

impl Store {
    /// The base's fence (PostgreSQL; `None` on SQLite and for a base never folded).
    pub async fn vector_index_upto(&self, kb_id: Uuid) -> StoreResult<Option<Uuid>> {
        let Backend::Postgres(pool) = &self.backend else { return Ok(None) };
        let row: Option<(Option<Uuid>,)> =
            sqlx::query_as("SELECT vector_index_upto FROM knowledge_bases WHERE id = $1")
                .bind(kb_id)
                .fetch_optional(pool)
                .await?;
        Ok(row.and_then(|(upto,)| upto))
    }

    /// The base's index and tail sizes (PostgreSQL; `None` on SQLite, which has no index).
    pub async fn vector_index_state(&self, kb_id: Uuid) -> StoreResult<Option<VectorIndexState>> {
        let Backend::Postgres(pool) = &self.backend else { return Ok(None) };
        let row: Option<(Option<Uuid>, i64)> =
            sqlx::query_as("SELECT vector_index_upto, vector_index_rows FROM knowledge_bases WHERE id = $1")
                .bind(kb_id)
                .fetch_optional(pool)
                .await?;
        let Some((upto, indexed)) = row else { return Ok(None) };
        // Only the tail is counted (through `chunks_kb_tail`): counting a million indexed chunks
        // after every ingested file would cost more than the file.
        let (tail,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM chunks WHERE kb_id = $1 AND ($2::uuid IS NULL OR id > $2)")
                .bind(kb_id)
                .bind(upto)
                .fetch_one(pool)
                .await?;
        Ok(Some(VectorIndexState { upto, indexed, tail }))
    }

    /// Builds the base's next index over every chunk it holds, for `dims`-dimensional vectors,
    /// moves the fence to the newest of them and drops the previous index — if `fold` still says
    /// so once this process holds the base's fold lock. The build may use `build_memory_mb` of
    /// `maintenance_work_mem` (0: the server's setting): pgvector builds a graph that fits in it
    /// in memory, and one that does not by slow inserts on disk. False when another fold is
    /// running, the tail is too small, or the base is gone (PostgreSQL; SQLite needs no index).
    pub async fn fold_vector_index(
        &self,
        kb_id: Uuid,
        dims: i32,
        build_memory_mb: u32,
        fold: impl Fn(VectorIndexState) -> bool,
    ) -> StoreResult<bool> {
        let Backend::Postgres(pool) = &self.backend else { return Ok(false) };
        // A session lock and setting live as long as their connection: this one is detached from
        // the pool, so a fold abandoned halfway (shutdown, error) closes it and frees the lock.
        let mut conn = pool.acquire().await?.detach();
        let lock = "SELECT pg_try_advisory_lock($1, hashtext($2::text))";
        let (locked,): (bool,) = sqlx::query_as(lock).bind(FOLD_LOCK_CLASS).bind(kb_id).fetch_one(&mut conn).await?;
        if !locked {
            return Ok(false);
        }
        let folded = async {
            let Some(next) = self.next_vector_index(pool, kb_id, fold).await? else { return Ok(false) };
            if build_memory_mb > 0 {
                let setting = format!("SET maintenance_work_mem = '{build_memory_mb}MB'");
                sqlx::Executor::execute(&mut conn, setting.as_str()).await?;
            }
            // A fold that died during its build left this name behind as an INVALID index.
            let stale = format!("DROP INDEX CONCURRENTLY IF EXISTS {}", next.name);
            sqlx::Executor::execute(&mut conn, stale.as_str()).await?;
            // Identifiers and predicate are built from UUIDs and integers: nothing to escape. The
            // predicate is the literal text a search repeats, so the planner matches the index.
            let build = format!(
                "CREATE INDEX CONCURRENTLY {} ON chunks USING hnsw ((embedding::vector({dims})) vector_cosine_ops) \
                 WITH (ef_construction = {EF_CONSTRUCTION}) WHERE kb_id = '{kb_id}' AND id <= '{}'",
                next.name, next.upto
            );
            // A statement without arguments goes by the simple protocol, outside any transaction
            // block, as CONCURRENTLY requires.
            if let Err(error) = sqlx::Executor::execute(&mut conn, build.as_str()).await {
                sqlx::raw_sql(&format!("DROP INDEX CONCURRENTLY IF EXISTS {}", next.name)).execute(pool).await.ok();
                return Err(error.into());
            }
            self.move_fence(pool, kb_id, &next).await
        }
        .await;
        sqlx::Connection::close(conn).await.ok();
        folded
    }

    /// What the base's next index covers, if `fold` (read under the lock: a fold that finished
    /// meanwhile has emptied the tail) says there should be one.
    async fn next_vector_index(
        &self,
        pool: &sqlx::PgPool,
        kb_id: Uuid,
        fold: impl Fn(VectorIndexState) -> bool,
    ) -> StoreResult<Option<NextIndex>> {
        let Some(state) = self.vector_index_state(kb_id).await? else { return Ok(None) };
        if !fold(state) {
            return Ok(None);
        }
        let (generation,): (i32,) = sqlx::query_as("SELECT vector_index_generation FROM knowledge_bases WHERE id = $1")
            .bind(kb_id)
            .fetch_one(pool)
            .await?;
        // PostgreSQL has no max(uuid): the newest id comes from `chunks_kb_tail`'s order.
        let newest: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM chunks WHERE kb_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(kb_id)
            .fetch_optional(pool)
            .await?;
        let Some((upto,)) = newest else { return Ok(None) };
        let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM chunks WHERE kb_id = $1 AND id <= $2")
            .bind(kb_id)
            .bind(upto)
            .fetch_one(pool)
            .await?;
        Ok(Some(NextIndex { name: index_name(kb_id, generation + 1), generation: generation + 1, upto, rows }))
    }

    /// Points the base at its new index `next` and drops the previous ones. False (and `next`
    /// dropped) when the base was deleted during the build, after its indexes were dropped.
    async fn move_fence(&self, pool: &sqlx::PgPool, kb_id: Uuid, next: &NextIndex) -> StoreResult<bool> {
        let moved = sqlx::query(
            "UPDATE knowledge_bases SET vector_index_upto = $2, vector_index_generation = $3, vector_index_rows = $4 \
             WHERE id = $1",
        )
        .bind(kb_id)
        .bind(next.upto)
        .bind(next.generation)
        .bind(next.rows)
        .execute(pool)
        .await?
        .rows_affected();
        if moved == 0 {
            sqlx::raw_sql(&format!("DROP INDEX CONCURRENTLY IF EXISTS {}", next.name)).execute(pool).await?;
            return Ok(false);
        }
        // Searches that read the old fence may still be running: CONCURRENTLY waits for them.
        for old in self.vector_index_names(pool, kb_id).await?.into_iter().filter(|name| *name != next.name) {
            sqlx::raw_sql(&format!("DROP INDEX CONCURRENTLY IF EXISTS {old}")).execute(pool).await?;
        }
        Ok(true)
    }

    /// Drops every index of the base (with the base).
    pub async fn drop_vector_index(&self, kb_id: Uuid) -> StoreResult<()> {
        if let Backend::Postgres(pool) = &self.backend {
            for name in self.vector_index_names(pool, kb_id).await? {
                sqlx::raw_sql(&format!("DROP INDEX CONCURRENTLY IF EXISTS {name}")).execute(pool).await?;
            }
        }
        Ok(())
    }

    /// The names of the base's indexes in the current schema (a tenant's schema has its own).
    async fn vector_index_names(&self, pool: &sqlx::PgPool, kb_id: Uuid) -> StoreResult<Vec<String>> {
        let sql = "SELECT indexname::text FROM pg_indexes \
                   WHERE schemaname = current_schema() AND tablename = 'chunks' AND indexname LIKE $1";
        let names: Vec<(String,)> = sqlx::query_as(sql).bind(index_name_pattern(kb_id)).fetch_all(pool).await?;
        Ok(names.into_iter().map(|(name,)| name).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(indexed: i64, tail: i64) -> VectorIndexState {
        VectorIndexState { upto: None, indexed, tail }
    }

    #[test]
    fn a_base_folds_once_its_tail_is_large_in_itself_and_beside_its_graph() {
        assert!(!should_fold(state(0, 19_999), 20_000));
        assert!(should_fold(state(0, 20_000), 20_000));
        assert!(!should_fold(state(1_000_000, 99_999), 20_000), "under a tenth of a large graph");
        assert!(should_fold(state(1_000_000, 100_000), 20_000));
        assert!(!should_fold(state(30_000, 10_000), 20_000), "under the first threshold");
        assert!(should_fold(state(0, 1), 0), "a threshold of 0 folds any tail");
        assert!(!should_fold(state(0, 0), 0), "never an empty one");
    }

    #[test]
    fn index_names_fit_in_a_postgres_identifier_and_match_their_pattern() {
        let kb = Uuid::now_v7();
        let name = index_name(kb, i32::MAX);
        assert!(name.len() <= 63, "{name}");
        assert!(index_name_pattern(kb).starts_with("chunks\\_hnsw\\_"));
    }
}
