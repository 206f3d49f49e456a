//! Files users upload (DESIGN §5 "RAG", issue "Files and knowledge bases"): the bytes in an
//! object store through the `object_store` crate (the local filesystem under the data directory
//! in `oblivious dev`, any S3-compatible store in a cluster), their metadata in the relational
//! store. Shared by the gateway (the `/api/v1/files` API), chat (attachments) and RAG (ingestion).
//!
//! - `objects`: which object store, from `OBLIVIOUS_OBJECT_STORE`.
//! - `sniff`: a file's type from its bytes, and whether it is one we accept.
//! - `signing`: expiring signed download URLs.
//! - `service`: upload (dedup by SHA-256, size and per-user quota), read, delete.

mod objects;
mod service;
mod signing;
mod sniff;

pub use objects::{ObjectStorage, StorageError};
pub use service::{FileError, FileLimits, Files, Upload};
pub use signing::UrlSigner;
pub use sniff::{Sniffed, sniff};
