//! Relational storage for the data plane (DESIGN §6): PostgreSQL in production, SQLite as the
//! embedded default of `oblivious dev`. Both backends run the same SQL text for reads and writes
//! (sqlx accepts `$N` placeholders on SQLite too) and differ only in their migrations, so one
//! shared test suite (`tests/suite.rs`) proves them equivalent.
//!
//! Timestamps are integer milliseconds since the Unix epoch; ids are UUIDv7; money is integer
//! micro-units. See NOTES.md for the invariants.

mod api_keys;
mod backend;
mod error;
mod request_logs;
pub mod testing;

pub use api_keys::{ApiKeyRecord, CreatedApiKey, NewApiKey, generate_api_key, hash_api_key, key_prefix};
pub use backend::{Store, StoreKind};
pub use error::StoreError;
pub use request_logs::{RequestLog, RequestLogFilter};

/// Result of every store operation.
pub type StoreResult<T> = Result<T, StoreError>;
