//! Test support: a fresh, empty PostgreSQL database per test, so tests never see each other's
//! rows and can run in parallel.
//!
//! `OBLIVIOUS_TEST_DATABASE_URL` names a server where the test user may `CREATE DATABASE`
//! (CI: `postgres://postgres@127.0.0.1:5432/postgres`). Without it, PostgreSQL tests are
//! skipped — unless `OBLIVIOUS_REQUIRE_POSTGRES=1` (set by `scripts/test`), which turns a
//! missing server into a failure so CI can never silently skip them.

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use uuid::Uuid;

use crate::{Store, StoreError, StoreResult};

/// Environment variable naming the PostgreSQL server for tests.
pub const TEST_DATABASE_URL: &str = "OBLIVIOUS_TEST_DATABASE_URL";
/// Environment variable naming the Redis server for tests.
pub const TEST_REDIS_URL: &str = "OBLIVIOUS_TEST_REDIS_URL";

/// The Redis server for tests, or `None` to skip them — a failure instead when
/// `OBLIVIOUS_REQUIRE_REDIS=1` (set by `scripts/test`), so CI never skips them silently.
pub fn test_redis_url() -> Option<String> {
    let url = std::env::var(TEST_REDIS_URL).ok().filter(|u| !u.is_empty());
    let required = std::env::var("OBLIVIOUS_REQUIRE_REDIS").is_ok_and(|v| v == "1");
    assert!(url.is_some() || !required, "{TEST_REDIS_URL} is not set but Redis tests are required");
    if url.is_none() {
        eprintln!("skipped: {TEST_REDIS_URL} is not set");
    }
    url
}

/// A Redis key prefix of its own for one test: tests share one Redis and run in parallel.
pub fn unique_redis_prefix() -> String {
    format!("obl-test:{}:", Uuid::now_v7().simple())
}

/// A throw-away database; `drop_database` removes it.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// Connection URL of the new database.
    pub url: String,
}

impl TestDatabase {
    /// Creates an empty database, or `None` when no test server is configured (and it is not
    /// required).
    pub async fn create() -> StoreResult<Option<TestDatabase>> {
        let Some(admin_url) = std::env::var(TEST_DATABASE_URL).ok().filter(|u| !u.is_empty()) else {
            if std::env::var("OBLIVIOUS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                return Err(StoreError::Invalid(format!(
                    "{TEST_DATABASE_URL} is not set but PostgreSQL tests are required"
                )));
            }
            return Ok(None);
        };
        Self::create_on(&admin_url, "obl_test").await.map(Some)
    }

    /// Creates an empty database named `{prefix}_{unique}` on the server of `admin_url` (a user
    /// who may `CREATE DATABASE`), e.g. for a benchmark.
    pub async fn create_on(admin_url: &str, prefix: &str) -> StoreResult<TestDatabase> {
        let admin_url = admin_url.to_string();
        let name = format!("{prefix}_{}", Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&admin_url).await?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
        admin.close().await?;
        let url = replace_database(&admin_url, &name)?;
        Ok(TestDatabase { admin_url, name, url })
    }

    /// A migrated store on this database.
    pub async fn store(&self) -> StoreResult<Store> {
        let store = Store::connect_postgres(&self.url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Drops the database (after the caller closed its pools).
    pub async fn drop_database(self) -> StoreResult<()> {
        let mut admin = PgConnection::connect(&self.admin_url).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&mut admin).await?;
        admin.close().await?;
        Ok(())
    }
}

/// The URL with its database path replaced by `name`.
fn replace_database(url: &str, name: &str) -> StoreResult<String> {
    let mut parsed = url::Url::parse(url).map_err(|e| StoreError::Invalid(format!("{TEST_DATABASE_URL}: {e}")))?;
    parsed.set_path(&format!("/{name}"));
    Ok(parsed.to_string())
}

/// Turns each `async fn case(x)` into two tests, `case::sqlite` and `case::postgres`, each on a
/// fresh migrated store (DESIGN rule 3: one suite, both backends). With `start = f;`, the case
/// receives `f(store).await` instead of the store (a whole server built on it, say); `f` is
/// resolved in the calling module. The calling crate needs `tokio` and `tempfile`.
#[macro_export]
macro_rules! both_backends {
    (start = $start:path; $($case:ident),* $(,)?) => {$(
        mod $case {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let store = $crate::Store::open_sqlite(dir.path()).await.unwrap();
                store.migrate().await.unwrap();
                super::$case($start(store).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = $crate::testing::TestDatabase::create().await.unwrap() else {
                    eprintln!("skipped: {} is not set", $crate::testing::TEST_DATABASE_URL);
                    return;
                };
                let store = db.store().await.unwrap();
                super::$case($start(store.clone()).await).await;
                store.close().await;
                db.drop_database().await.unwrap();
            }
        }
    )*};
    ($($case:ident),* $(,)?) => {
        $crate::both_backends!(start = ::std::future::ready; $($case),*);
    };
}
