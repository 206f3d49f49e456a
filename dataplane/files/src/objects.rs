//! The object store behind files: `OBLIVIOUS_OBJECT_STORE` names it as a URL.
//!
//! - unset: the local filesystem under `{data_dir}/files` (`oblivious dev`);
//! - `file:///absolute/path`: the local filesystem there;
//! - `s3://bucket[/prefix]`: S3 or any S3-compatible store (MinIO, RustFS, moto), configured by
//!   the standard AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//!   `AWS_ENDPOINT_URL` for a non-AWS endpoint, `AWS_ALLOW_HTTP=true` for a plain-HTTP one).

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid OBLIVIOUS_OBJECT_STORE: {0}")]
    Config(String),
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
}

/// An object store and the key prefix everything of ours lives under.
#[derive(Clone)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    /// For logs and `/readyz`: `file:///…` or `s3://bucket/prefix`, never credentials.
    pub describe: String,
}

impl std::fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStorage").field("describe", &self.describe).finish_non_exhaustive()
    }
}

impl ObjectStorage {
    /// The store `url` names (see the module docs), or the local default under `data_dir`.
    pub fn from_url(url: Option<&str>, data_dir: &Path) -> Result<ObjectStorage, StorageError> {
        let Some(url) = url.filter(|u| !u.trim().is_empty()) else {
            return Self::local(&data_dir.join("files"));
        };
        let parsed = Url::parse(url).map_err(|e| StorageError::Config(format!("{url}: {e}")))?;
        match parsed.scheme() {
            "file" => {
                let path =
                    parsed.to_file_path().map_err(|()| StorageError::Config(format!("{url}: not a local path")))?;
                Self::local(&path)
            }
            "s3" => {
                let bucket = parsed.host_str().ok_or_else(|| StorageError::Config(format!("{url}: no bucket")))?;
                let store = AmazonS3Builder::from_env().with_bucket_name(bucket).build()?;
                let prefix = parsed.path().trim_matches('/').to_string();
                let describe = format!("s3://{bucket}/{prefix}");
                Ok(ObjectStorage { store: Arc::new(store), prefix, describe })
            }
            other => Err(StorageError::Config(format!("{url}: unsupported scheme `{other}` (use s3:// or file://)"))),
        }
    }

    /// The local filesystem under `root` (created if missing).
    pub fn local(root: &Path) -> Result<ObjectStorage, StorageError> {
        std::fs::create_dir_all(root).map_err(|e| StorageError::Config(format!("{}: {e}", root.display())))?;
        // Cleanup removes a user's directory once their last file is deleted.
        let store = LocalFileSystem::new_with_prefix(root)?.with_automatic_cleanup(true);
        Ok(ObjectStorage {
            store: Arc::new(store),
            prefix: String::new(),
            describe: format!("file://{}", root.display()),
        })
    }

    fn path(&self, key: &str) -> ObjectPath {
        if self.prefix.is_empty() { ObjectPath::from(key) } else { ObjectPath::from(format!("{}/{key}", self.prefix)) }
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        self.store.put(&self.path(key), PutPayload::from_bytes(bytes)).await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        Ok(self.store.get(&self.path(key)).await?.bytes().await?)
    }

    /// Deletes `key`; deleting what is not there is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        match self.store.head(&self.path(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}
