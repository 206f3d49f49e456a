//! Upload, read and delete, with the rules every caller gets: the type sniffed from the bytes,
//! the size and the user's storage quota checked before anything is stored, identical content
//! stored once per user (SHA-256), and no row without its object: the object (keyed by file id)
//! is written first and removed again if its row cannot be.

use bytes::Bytes;
use oblivious_store::{FileRecord, Store, StoreError};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::objects::{ObjectStorage, StorageError};
use crate::signing::UrlSigner;
use crate::sniff::sniff;

/// Longest file name kept (longer ones are cut).
const MAX_NAME_CHARS: usize = 255;

#[derive(Debug, Clone, Copy)]
pub struct FileLimits {
    /// Largest single file (`OBLIVIOUS_MAX_FILE_BYTES`).
    pub max_file_bytes: u64,
    /// What all of one user's files may take together (`OBLIVIOUS_USER_STORAGE_BYTES`).
    pub user_quota_bytes: u64,
}

impl Default for FileLimits {
    fn default() -> Self {
        FileLimits { max_file_bytes: 20 * 1024 * 1024, user_quota_bytes: 1024 * 1024 * 1024 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("storing this file would use {needed} bytes of a {quota}-byte storage quota")]
    QuotaExceeded { needed: u64, quota: u64 },
    #[error("{0}")]
    Unsupported(String),
    #[error("file not found")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of an upload: the file, and whether it is new (else the user had it already).
#[derive(Debug, Clone)]
pub struct Upload {
    pub file: FileRecord,
    pub created: bool,
}

#[derive(Debug, Clone)]
pub struct Files {
    pub objects: ObjectStorage,
    store: Store,
    pub limits: FileLimits,
    pub signer: UrlSigner,
}

impl Files {
    pub fn new(objects: ObjectStorage, store: Store, limits: FileLimits, signer: UrlSigner) -> Self {
        Files { objects, store, limits, signer }
    }

    /// Stores `bytes` as the user's file `name`. Uploading content the user already has returns
    /// that file (its first name kept).
    pub async fn upload(&self, user_id: Uuid, name: &str, bytes: Bytes) -> Result<Upload, FileError> {
        let size = bytes.len() as u64;
        if size > self.limits.max_file_bytes {
            return Err(FileError::TooLarge { limit: self.limits.max_file_bytes });
        }
        let name = clean_name(name);
        let sniffed = sniff(&bytes, &name).map_err(FileError::Unsupported)?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if let Some(existing) = self.store.file_by_content(user_id, &sha256).await? {
            return Ok(Upload { file: existing, created: false });
        }
        let used = u64::try_from(self.store.user_storage_bytes(user_id).await?).unwrap_or(0);
        if used + size > self.limits.user_quota_bytes {
            return Err(FileError::QuotaExceeded { needed: used + size, quota: self.limits.user_quota_bytes });
        }
        // Keyed by file, not by content: a delete racing a re-upload of the same content, or two
        // racing uploads, can then never remove an object another row points to.
        let id = Uuid::now_v7();
        let object_key = format!("files/{user_id}/{id}");
        self.objects.put(&object_key, bytes).await?;
        let record = FileRecord {
            id,
            user_id,
            name,
            media_type: sniffed.media_type.to_string(),
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            sha256,
            object_key,
            created_at: oblivious_store::now_ms(),
        };
        let inserted = self.store.insert_file(&record).await;
        // Unless our row now owns our object (the same content raced in first, or the row
        // failed), the object is ours alone to remove.
        if !matches!(inserted, Ok((_, true)))
            && let Err(cleanup) = self.objects.delete(&record.object_key).await
        {
            tracing::warn!(%cleanup, "could not remove the object of a file that was not stored");
        }
        let (file, created) = inserted?;
        Ok(Upload { file, created })
    }

    /// The user's file `id` (another user's is not found, as an unknown one is).
    pub async fn get(&self, user_id: Uuid, id: Uuid) -> Result<FileRecord, FileError> {
        self.store.file(user_id, id).await?.ok_or(FileError::NotFound)
    }

    /// The bytes of `file`.
    pub async fn content(&self, file: &FileRecord) -> Result<Bytes, FileError> {
        Ok(self.objects.get(&file.object_key).await?)
    }

    /// Deletes the user's file `id`: its row, then its object.
    pub async fn delete(&self, user_id: Uuid, id: Uuid) -> Result<FileRecord, FileError> {
        let file = self.store.delete_file(user_id, id).await?.ok_or(FileError::NotFound)?;
        if let Err(error) = self.objects.delete(&file.object_key).await {
            // The row is gone, so nothing can reach the object; an uploader re-creates it.
            tracing::warn!(%error, file_id = %file.id, "could not remove a deleted file's object");
        }
        Ok(file)
    }

    /// The query of a download URL for `file_id` valid until `expires` (Unix seconds).
    pub fn signed_query(&self, file_id: Uuid, expires: i64) -> String {
        format!("expires={expires}&signature={}", self.signer.sign(file_id, expires))
    }
}

/// The name as shown: its last path component, without control characters, at most 255
/// characters; "file" when nothing is left.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(MAX_NAME_CHARS).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() { "file".to_string() } else { cleaned.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\me\\report.pdf"), "report.pdf");
        assert_eq!(clean_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(clean_name("  "), "file");
        assert_eq!(clean_name(&"x".repeat(300)).chars().count(), 255);
    }
}
