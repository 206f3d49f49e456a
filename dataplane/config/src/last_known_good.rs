//! The pod's last-known-good snapshot on local disk, so it can start while the operator is down.
//!
//! The file is replaced atomically (write a temporary file, fsync, rename, fsync the directory):
//! a crash mid-write leaves the previous copy, never half of one. It holds provider keys, so it
//! is created readable by its owner only. It records the tenant and schema it was written for; a
//! pod of another tenant, or a build that cannot read the schema, refuses it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::Snapshot;
use crate::payload::{self, Refusal};

/// File name inside the state directory.
pub const FILE_NAME: &str = "config-snapshot.json";

/// Why the on-disk copy cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is refused: {refusal}")]
    Refused { path: PathBuf, refusal: Refusal },
}

/// The on-disk copy in one state directory.
#[derive(Debug, Clone)]
pub struct LastKnownGood {
    dir: PathBuf,
}

/// The fields read before trusting the rest of the file.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    schema: u32,
    #[serde(default)]
    tenant: String,
}

/// The whole file, read once the header is known to be readable.
#[derive(Deserialize)]
struct Body {
    snapshot: Snapshot,
}

impl LastKnownGood {
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        LastKnownGood { dir: dir.into() }
    }

    /// Path of the snapshot file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// Replaces the stored copy with `snapshot_json` (the exact JSON that was received and
    /// validated) for `tenant`.
    pub fn save(&self, tenant: &str, version: &str, snapshot_json: &[u8]) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        let saved_at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
        let header = format!(
            "{{\"schema\":{},\"tenant\":{},\"version\":{},\"savedAtUnixMs\":{saved_at},\"snapshot\":",
            payload::SCHEMA,
            serde_json::to_string(tenant)?,
            serde_json::to_string(version)?,
        );
        let final_path = self.path();
        let temp_path = self.dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
        let written = (|| {
            let mut file = create_private_file(&temp_path)?;
            file.write_all(header.as_bytes())?;
            file.write_all(snapshot_json)?;
            file.write_all(b"}\n")?;
            file.sync_all()?;
            fs::rename(&temp_path, &final_path)?;
            sync_dir(&self.dir)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temp_path);
        }
        written
    }

    /// The stored snapshot for `tenant`, `Ok(None)` when there is none.
    pub fn load(&self, tenant: &str) -> Result<Option<Snapshot>, LoadError> {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(LoadError::Io { path, source }),
        };
        let refused = |refusal| LoadError::Refused { path: path.clone(), refusal };
        let header: Header = serde_json::from_slice(&bytes)
            .map_err(|error| refused(Refusal::Parse { path: "<file>".into(), reason: error.to_string() }))?;
        payload::check_schema(header.schema).map_err(refused)?;
        if header.tenant != tenant {
            return Err(refused(Refusal::WrongTenant { got: header.tenant, expected: tenant.to_string() }));
        }
        // Parse again, now into the snapshot type, naming the field path of a problem.
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let body: Body = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            refused(Refusal::Parse { path: error.path().to_string(), reason: error.inner().to_string() })
        })?;
        let snapshot = body.snapshot;
        payload::check_invariants(&snapshot).map_err(refused)?;
        Ok(Some(snapshot))
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn create_private_file(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes the rename durable: without it a power loss can forget the new directory entry.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::{ApiKey, Channel};

    fn snapshot() -> Snapshot {
        Snapshot {
            version: "abc".into(),
            channels: vec![Channel {
                name: "default/a".into(),
                api_keys: vec![ApiKey("sk-on-disk".into())],
                ..Channel::default()
            }],
            ..Snapshot::default()
        }
    }

    #[test]
    fn a_saved_snapshot_loads_back_for_the_same_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let store = LastKnownGood::in_dir(dir.path().join("state"));
        assert!(store.load("default").unwrap().is_none(), "nothing saved yet");
        store.save("default", "abc", &serde_json::to_vec(&snapshot()).unwrap()).unwrap();
        assert_eq!(store.load("default").unwrap(), Some(snapshot()));
    }

    #[test]
    fn a_copy_written_for_another_tenant_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LastKnownGood::in_dir(dir.path());
        store.save("tenant-b", "abc", &serde_json::to_vec(&snapshot()).unwrap()).unwrap();
        let error = store.load("tenant-a").unwrap_err();
        assert!(matches!(error, LoadError::Refused { refusal: Refusal::WrongTenant { .. }, .. }), "{error}");
    }

    #[test]
    fn a_copy_with_an_unknown_schema_is_refused_as_version_skew() {
        let dir = tempfile::tempdir().unwrap();
        let store = LastKnownGood::in_dir(dir.path());
        fs::write(store.path(), br#"{"schema":99,"tenant":"default","snapshot":{"version":"x"}}"#).unwrap();
        let error = store.load("default").unwrap_err();
        assert!(error.to_string().contains("version skew refused"), "{error}");
    }

    #[test]
    fn saving_replaces_the_file_atomically_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = LastKnownGood::in_dir(dir.path());
        store.save("default", "one", br#"{"version":"one"}"#).unwrap();
        store.save("default", "two", br#"{"version":"two"}"#).unwrap();
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from(FILE_NAME)]);
        assert_eq!(store.load("default").unwrap().unwrap().version, "two");
    }

    #[cfg(unix)]
    #[test]
    fn the_file_holding_provider_keys_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = LastKnownGood::in_dir(dir.path());
        store.save("default", "abc", &serde_json::to_vec(&snapshot()).unwrap()).unwrap();
        let mode = fs::metadata(store.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    }

    #[test]
    fn a_truncated_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LastKnownGood::in_dir(dir.path());
        fs::write(store.path(), br#"{"schema":1,"tenant":"default","snapshot":{"vers"#).unwrap();
        assert!(store.load("default").is_err());
    }
}
