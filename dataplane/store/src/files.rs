//! Uploaded files' metadata (the bytes are in the object store, see the `oblivious-files` crate).
//! A user's identical uploads are one row: `(user_id, sha256)` is unique.

use uuid::Uuid;

use crate::backend::on_pool;
use crate::{Store, StoreResult};

/// One stored file.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FileRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub media_type: String,
    pub size_bytes: i64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    pub object_key: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, user_id, name, media_type, size_bytes, sha256, object_key, created_at";

impl Store {
    /// Inserts `file`, or returns the user's existing file with the same content (then nothing is
    /// written). The flag says whether `file` was inserted.
    pub async fn insert_file(&self, file: &FileRecord) -> StoreResult<(FileRecord, bool)> {
        let sql = format!(
            "INSERT INTO files ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (user_id, sha256) DO NOTHING"
        );
        let inserted = on_pool!(self, pool => sqlx::query(&sql)
            .bind(file.id)
            .bind(file.user_id)
            .bind(&file.name)
            .bind(&file.media_type)
            .bind(file.size_bytes)
            .bind(&file.sha256)
            .bind(&file.object_key)
            .bind(file.created_at)
            .execute(pool)
            .await?
            .rows_affected());
        if inserted == 1 {
            return Ok((file.clone(), true));
        }
        let existing = self.file_by_content(file.user_id, &file.sha256).await?;
        Ok((existing.ok_or(sqlx::Error::RowNotFound)?, false))
    }

    /// The user's file with this content, if any.
    pub async fn file_by_content(&self, user_id: Uuid, sha256: &str) -> StoreResult<Option<FileRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM files WHERE user_id = $1 AND sha256 = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).bind(sha256).fetch_optional(pool).await?))
    }

    /// The user's file `id`; another user's is `None`, as an unknown one is.
    pub async fn file(&self, user_id: Uuid, id: Uuid) -> StoreResult<Option<FileRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM files WHERE id = $1 AND user_id = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(user_id).fetch_optional(pool).await?))
    }

    /// A file by id alone, for a download whose signed URL already proved the right to it.
    pub async fn file_by_id(&self, id: Uuid) -> StoreResult<Option<FileRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM files WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?))
    }

    /// The user's files, newest first, at most `limit`.
    pub async fn list_files(&self, user_id: Uuid, limit: i64) -> StoreResult<Vec<FileRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM files WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).bind(limit).fetch_all(pool).await?))
    }

    /// Bytes the user's files take.
    pub async fn user_storage_bytes(&self, user_id: Uuid) -> StoreResult<i64> {
        // PostgreSQL sums BIGINTs into NUMERIC: cast back.
        let sql = "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM files WHERE user_id = $1";
        let (total,): (i64,) = on_pool!(self, pool => sqlx::query_as(sql).bind(user_id).fetch_one(pool).await?);
        Ok(total)
    }

    /// Deletes the user's file `id`, returning what it was (its object is the caller's to delete).
    pub async fn delete_file(&self, user_id: Uuid, id: Uuid) -> StoreResult<Option<FileRecord>> {
        let sql = format!("DELETE FROM files WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(user_id).fetch_optional(pool).await?))
    }
}
