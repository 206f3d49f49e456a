//! User accounts. Password hashes are stored but never returned by listings: only
//! `find_user_for_login` hands one out, to the code that verifies it.

use serde::Serialize;
use uuid::Uuid;

use crate::backend::on_pool;
use crate::error::unique_violation;
use crate::{Store, StoreError, StoreResult};

/// Role of an administrator.
pub const ROLE_ADMIN: &str = "admin";
/// Role of everyone else.
pub const ROLE_USER: &str = "user";

/// A user, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct UserRecord {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub display_name: String,
    /// `user` or `admin`.
    pub role: String,
    /// Selects which channels serve the user and their price multiplier.
    #[sqlx(rename = "group_name")]
    #[serde(rename = "group")]
    pub group: String,
    pub disabled: bool,
    /// May name a canary lane itself (`x-oblivious-lane`).
    pub lane_select: bool,
    pub balance_micros: i64,
    /// Bumped by every balance change; lets caches keep the newest value.
    pub balance_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl UserRecord {
    pub fn is_admin(&self) -> bool {
        self.role == ROLE_ADMIN
    }
}

/// A registration, with the password already hashed by the caller.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    /// Stored lower-cased.
    pub email: String,
    pub password_hash: String,
    /// Defaults to `user`.
    pub role: Option<String>,
    /// Defaults to `default`.
    pub group: Option<String>,
    /// Credited through a `grant` ledger entry, so the ledger always sums to the balance.
    pub initial_balance_micros: i64,
}

/// What an administrator may change about a user.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub role: Option<String>,
    pub group: Option<String>,
    pub disabled: Option<bool>,
    pub lane_select: Option<bool>,
}

/// A page of a user search.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Case-insensitive substring of username or email.
    pub search: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

pub(crate) const USER_COLUMNS: &str = "id, username, email, display_name, role, group_name, disabled, lane_select, \
     balance_micros, balance_version, created_at, updated_at";

impl Store {
    /// Creates a user. A taken username or email is `StoreError::Conflict` naming the field.
    pub async fn create_user(&self, new: NewUser) -> StoreResult<UserRecord> {
        let now = crate::now_ms();
        let id = Uuid::now_v7();
        let email = new.email.trim().to_lowercase();
        let role = new.role.unwrap_or_else(|| ROLE_USER.to_string());
        let group = new.group.unwrap_or_else(|| "default".to_string());
        let insert = "INSERT INTO users (id, username, email, password_hash, role, group_name, created_at, updated_at) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $7)";
        let result = on_pool!(self, pool => sqlx::query(insert)
            .bind(id)
            .bind(&new.username)
            .bind(&email)
            .bind(&new.password_hash)
            .bind(&role)
            .bind(&group)
            .bind(now)
            .execute(pool)
            .await
            .map(drop));
        if let Err(error) = result {
            return Err(unique_violation(&error, &["username", "email"])
                .map_or(StoreError::Database(error), StoreError::Conflict));
        }
        if new.initial_balance_micros != 0 {
            let grant = crate::BalanceChange {
                user_id: id,
                kind: crate::LedgerKind::Grant,
                amount_micros: new.initial_balance_micros,
                note: "initial balance".into(),
                actor_id: None,
            };
            self.change_balance(&grant).await?;
        }
        self.get_user(id).await?.ok_or_else(|| StoreError::NotFound("user"))
    }

    pub async fn get_user(&self, id: Uuid) -> StoreResult<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?))
    }

    /// The user whose username or email is `login`, with the stored password hash.
    pub async fn find_user_for_login(&self, login: &str) -> StoreResult<Option<(UserRecord, String)>> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1 OR email = $2");
        let email = login.trim().to_lowercase();
        let row: Option<UserWithHash> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(login).bind(&email).fetch_optional(pool).await?);
        Ok(row.map(|r| (r.user, r.password_hash)))
    }

    /// Users matching the query, oldest first (stable pages).
    pub async fn list_users(&self, query: &UserQuery) -> StoreResult<Vec<UserRecord>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE ($1 IS NULL OR lower(username) LIKE $1 ESCAPE '\\' OR email LIKE $1 ESCAPE '\\') \
             ORDER BY created_at, id LIMIT $2 OFFSET $3"
        );
        let pattern = query.search.as_ref().map(|s| format!("%{}%", escape_like(&s.to_lowercase())));
        let limit = query.limit.clamp(1, 500);
        let offset = query.offset.max(0);
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(pattern).bind(limit).bind(offset).fetch_all(pool).await?))
    }

    /// Applies the fields that are set. `Conflict("email")` when the new email is taken.
    pub async fn update_user(&self, id: Uuid, update: &UserUpdate) -> StoreResult<Option<UserRecord>> {
        let sql = "UPDATE users SET display_name = COALESCE($1, display_name), email = COALESCE($2, email), \
                   role = COALESCE($3, role), group_name = COALESCE($4, group_name), disabled = COALESCE($5, disabled), \
                   lane_select = COALESCE($6, lane_select), updated_at = $7 WHERE id = $8";
        let email = update.email.as_ref().map(|e| e.trim().to_lowercase());
        let result = on_pool!(self, pool => sqlx::query(sql)
            .bind(&update.display_name)
            .bind(&email)
            .bind(&update.role)
            .bind(&update.group)
            .bind(update.disabled)
            .bind(update.lane_select)
            .bind(crate::now_ms())
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()));
        match result {
            Ok(0) => Ok(None),
            Ok(_) => self.get_user(id).await,
            Err(error) => {
                Err(unique_violation(&error, &["email"]).map_or(StoreError::Database(error), StoreError::Conflict))
            }
        }
    }

    pub async fn set_password_hash(&self, id: Uuid, password_hash: &str) -> StoreResult<bool> {
        let sql = "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(password_hash).bind(crate::now_ms()).bind(id).execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    /// Number of users, for "the first user becomes admin" and dashboards.
    pub async fn count_users(&self) -> StoreResult<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await?))
    }
}

#[derive(sqlx::FromRow)]
struct UserWithHash {
    #[sqlx(flatten)]
    user: UserRecord,
    password_hash: String,
}

/// Escapes LIKE wildcards in user input (used with `ESCAPE '\'`, which both backends accept).
pub(crate) fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
