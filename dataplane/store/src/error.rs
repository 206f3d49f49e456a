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
    /// A unique field is already taken; names the field (`username`, `email`).
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// A row the operation needs does not exist; names what (`user`).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request itself is ambiguous or inconsistent (e.g. a key prefix matching two keys).
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// True when the database itself is unreachable or failing (as opposed to refusing this
    /// operation): callers buffer and retry these. Refusals are integrity, data and statement
    /// errors; connection loss, an administrator terminating sessions, "too many connections",
    /// a busy SQLite file and pool timeouts are outages.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(error) = self else { return false };
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                match code.len() {
                    // PostgreSQL SQLSTATE: connection exception, insufficient resources,
                    // operator intervention, system error.
                    5 => matches!(&code[..2], "08" | "53" | "57" | "58"),
                    // SQLite result codes: SQLITE_BUSY (5) and SQLITE_LOCKED (6), with extended variants.
                    _ => code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6)),
                }
            }
            _ => false,
        }
    }
}

/// Which of `fields` a unique-constraint violation is about, if `error` is one. PostgreSQL names
/// the constraint (`users_email_key`), SQLite the column (`users.email`); both contain the field.
pub(crate) fn unique_violation(error: &sqlx::Error, fields: &[&'static str]) -> Option<&'static str> {
    let sqlx::Error::Database(db) = error else { return None };
    if !db.is_unique_violation() {
        return None;
    }
    let described = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
    fields.iter().copied().find(|field| described.contains(field))
}
