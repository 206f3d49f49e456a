//! The connection to one backend, and the `on_pool!` dispatch every repository uses: the same
//! statement text is prepared against whichever pool is active.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::{StoreError, StoreResult};

/// File name of the embedded database inside the data directory.
pub const SQLITE_FILE: &str = "oblivious.db";

/// Which backend a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Postgres,
    Sqlite,
}

#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// A handle to the relational store; cheap to clone (it wraps a connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    /// SQLite's vector search scans these in-memory matrices (shared by the clones).
    pub(crate) sqlite_vectors: std::sync::Arc<crate::sqlite_vectors::VectorCache>,
}

/// Runs `$body` with `$pool` bound to the active pool. The body is compiled once per backend,
/// so generic sqlx calls (`query_as`, `QueryBuilder`) infer the right database type.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::backend::Backend::Postgres($pool) => $body,
            $crate::backend::Backend::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// How a transaction that will write starts. SQLite's default `BEGIN` takes the write lock only
/// at the first write, and a transaction that read first then fails with `SQLITE_BUSY_SNAPSHOT`
/// (no busy timeout helps) when another connection committed meanwhile; `BEGIN IMMEDIATE` takes
/// the lock up front, so writers queue on the busy timeout instead.
pub(crate) trait WriteTransaction {
    fn write_begin(&self) -> &'static str;
}

impl WriteTransaction for PgPool {
    fn write_begin(&self) -> &'static str {
        "BEGIN"
    }
}

impl WriteTransaction for SqlitePool {
    fn write_begin(&self) -> &'static str {
        "BEGIN IMMEDIATE"
    }
}

impl Store {
    /// Connects to PostgreSQL when `database_url` is given, else opens (creating it if needed)
    /// the embedded SQLite database under `data_dir`.
    pub async fn connect(database_url: Option<&str>, data_dir: &Path) -> StoreResult<Store> {
        match database_url {
            Some(url) => Self::connect_postgres(url).await,
            None => Self::open_sqlite(data_dir).await,
        }
    }

    pub async fn connect_postgres(url: &str) -> StoreResult<Store> {
        let pool =
            PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(5)).connect(url).await?;
        Ok(Store { backend: Backend::Postgres(pool), sqlite_vectors: Default::default() })
    }

    pub async fn open_sqlite(data_dir: &Path) -> StoreResult<Store> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Invalid(format!("cannot create the data directory {}: {e}", data_dir.display()))
        })?;
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(data_dir.join(SQLITE_FILE))
            .create_if_missing(true)
            // WAL lets readers proceed while the request-log writer commits a batch.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        Ok(Store { backend: Backend::Sqlite(pool), sqlite_vectors: Default::default() })
    }

    pub fn kind(&self) -> StoreKind {
        match self.backend {
            Backend::Postgres(_) => StoreKind::Postgres,
            Backend::Sqlite(_) => StoreKind::Sqlite,
        }
    }

    /// Applies the migrations of the active backend (idempotent), then makes sure the request
    /// log has its monthly partitions (PostgreSQL). A PostgreSQL URL whose `search_path` names
    /// a schema of its own first (a Tenant's `Schema` isolation) gets that schema created and
    /// migrated, with its own migration history.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.backend {
            Backend::Postgres(pool) => {
                prepare_own_schema(pool).await?;
                sqlx::migrate!("../../migrations/postgres").run(pool).await?;
                crate::request_logs::ensure_partitions(pool, crate::now_ms()).await?;
            }
            Backend::Sqlite(pool) => sqlx::migrate!("../../migrations/sqlite").run(pool).await?,
        }
        Ok(())
    }

    /// The schema tables are created in (PostgreSQL: the first of the search path that exists;
    /// SQLite: `main`).
    pub async fn schema(&self) -> StoreResult<String> {
        Ok(match &self.backend {
            Backend::Postgres(pool) => sqlx::query_scalar("SELECT current_schema()").fetch_one(pool).await?,
            Backend::Sqlite(_) => "main".into(),
        })
    }

    /// A cheap round trip, for readiness probes.
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop)?);
        Ok(())
    }

    /// Refreshes the planner's statistics (after a bulk load, as autovacuum would in time).
    pub async fn analyze(&self) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query("ANALYZE").execute(pool).await.map(drop)?);
        Ok(())
    }

    /// Closes every pooled connection (tests drop their database afterwards).
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}

/// For a search path that starts with a schema of its own (`tenant_acme, public`): creates the
/// schema, and the `vector` extension in `public` first, so the migration's own
/// `CREATE EXTENSION IF NOT EXISTS` finds it there instead of installing it into the tenant's
/// schema, where no other tenant (nor the platform) would see its types.
async fn prepare_own_schema(pool: &PgPool) -> StoreResult<()> {
    let search_path: String = sqlx::query_scalar("SELECT current_setting('search_path')").fetch_one(pool).await?;
    let Some(schema) = own_schema(&search_path) else { return Ok(()) };
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).execute(pool).await?;
    sqlx::query("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public").execute(pool).await?;
    Ok(())
}

/// The first schema of `search_path` when it is one of the deployment's own: not `public`, not
/// `$user`, and a plain identifier (lowercase letters, digits, `_`), so it can be quoted safely.
fn own_schema(search_path: &str) -> Option<&str> {
    let first = search_path.split(',').next()?.trim().trim_matches('"');
    let plain = !first.is_empty()
        && first.len() <= 63
        && first.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !first.starts_with("pg_");
    (plain && first != "public").then_some(first)
}

#[cfg(test)]
mod tests {
    use super::own_schema;

    #[test]
    fn only_a_plain_schema_of_its_own_is_created() {
        assert_eq!(own_schema("tenant_acme, public"), Some("tenant_acme"));
        assert_eq!(own_schema("\"tenant_acme\""), Some("tenant_acme"));
        assert_eq!(own_schema("\"$user\", public"), None);
        assert_eq!(own_schema("public"), None);
        assert_eq!(own_schema("pg_catalog"), None);
        assert_eq!(own_schema("x\"; DROP TABLE users; --"), None);
    }
}
