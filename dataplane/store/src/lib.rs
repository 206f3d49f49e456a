//! Relational storage for the data plane (DESIGN §6): PostgreSQL in production, SQLite as the
//! embedded default of `oblivious dev`. Both backends run the same SQL text for reads and writes
//! (sqlx accepts `$N` placeholders on SQLite too) and differ only in their migrations, so one
//! shared test suite (`tests/suite.rs`) proves them equivalent.
//!
//! Timestamps are integer milliseconds since the Unix epoch; ids are UUIDv7; money is integer
//! micro-units. See NOTES.md for the invariants.

mod api_keys;
mod backend;
pub mod chat;
mod error;
pub mod files;
pub mod knowledge;
pub mod knowledge_search;
pub mod kv;
mod ledger;
pub mod limits;
pub mod quota;
mod redeem_codes;
mod refresh_tokens;
mod request_logs;
pub mod responses;
mod sqlite_vectors;
pub mod testing;
pub mod usage_series;
mod usage_stats;
mod users;
pub mod vector_index;
pub mod webhooks;

pub use api_keys::{ApiKeyRecord, CreatedApiKey, NewApiKey, generate_api_key, hash_api_key, key_prefix};
pub use backend::{Store, StoreKind};
pub use error::StoreError;
pub use files::FileRecord;
pub use knowledge::{IngestClaim, KnowledgeBase, KnowledgeFile, NewChunk, PendingChunk, QueuedBy};
pub use knowledge_search::ChunkHit;
pub use ledger::{BalanceChange, BalanceState, BudgetMonth, Charge, LedgerEntry, LedgerKind, SettledCharge};
pub use redeem_codes::{RedeemCodeRecord, RedeemRefusal, Redemption};
pub use refresh_tokens::{RefreshTokenRecord, Rotation};
pub use request_logs::{RequestLog, RequestLogFilter};
pub use responses::StoredResponse;
pub use usage_series::{ChannelFailure, Series, SeriesPoint, SeriesQuery, SeriesSplit, UsageSeries};
pub use usage_stats::{StatsGroup, UsageRow};
pub use users::{NewUser, ROLE_ADMIN, ROLE_USER, UserQuery, UserRecord, UserUpdate};
pub use webhooks::{
    AttemptOutcome, ClaimedDelivery, Replay, WebhookDelivery, WebhookEvent, WebhookOwner, WebhookRecord, WebhookUpdate,
};

/// Result of every store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
