//! Store errors. They never carry query parameters, so a secret bound to a query cannot leak
//! into a log line through an error message.

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or a statement failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration could not be applied.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The request itself is ambiguous or inconsistent (e.g. a key prefix matching two keys).
    #[error("{0}")]
    Invalid(String),
}
