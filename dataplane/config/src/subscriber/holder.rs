//! The snapshot a pod runs on, and the only two ways it changes: a validated snapshot from the
//! stream, or — while the pod holds nothing — its on-disk last-known-good copy.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::Snapshot;
use crate::last_known_good::LastKnownGood;
use crate::payload::{self, Decoded, Payload, Refusal};
use crate::proto::DiscoveryResponse;

/// Extra checks the application runs before a snapshot is accepted (a failure is a NACK).
pub type Validator = Arc<dyn Fn(&Snapshot) -> Result<(), String> + Send + Sync>;
/// Called with each accepted snapshot before it is ACKed, e.g. to swap it into a relay.
pub type ApplyHook = Arc<dyn Fn(Arc<Snapshot>) + Send + Sync>;

/// Where the active snapshot came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Received from the config stream, validated and ACKed.
    Stream,
    /// Loaded from the state directory because the operator could not be reached.
    Disk,
}

/// The snapshot in use.
#[derive(Debug, Clone)]
pub struct Active {
    pub snapshot: Arc<Snapshot>,
    pub source: Source,
}

pub(super) struct Holder {
    tenant: String,
    validator: Option<Validator>,
    on_apply: Option<ApplyHook>,
    disk: Option<LastKnownGood>,
    current: watch::Sender<Option<Active>>,
    /// Serialises installs so a late disk load can never replace a snapshot from the stream.
    install_lock: Mutex<()>,
}

impl Holder {
    pub(super) fn new(
        tenant: String,
        validator: Option<Validator>,
        on_apply: Option<ApplyHook>,
        disk: Option<LastKnownGood>,
    ) -> Self {
        let (current, _) = watch::channel(None);
        Holder { tenant, validator, on_apply, disk, current, install_lock: Mutex::new(()) }
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<Option<Active>> {
        self.current.subscribe()
    }

    /// The version in use, empty when none.
    pub(super) fn version(&self) -> String {
        self.current.borrow().as_ref().map(|active| active.snapshot.version.clone()).unwrap_or_default()
    }

    /// Decodes and validates a response for this pod; the error is the NACK message.
    pub(super) fn check(&self, response: &DiscoveryResponse) -> Result<Decoded, Refusal> {
        if response.tenant != self.tenant {
            return Err(Refusal::WrongTenant { got: response.tenant.clone(), expected: self.tenant.clone() });
        }
        let decoded = payload::decode(Payload {
            version: &response.version_info,
            schema: response.schema,
            content_type: &response.content_type,
            content_encoding: &response.content_encoding,
            bytes: &response.snapshot,
        })?;
        self.run_validator(&decoded.snapshot)?;
        Ok(decoded)
    }

    fn run_validator(&self, snapshot: &Snapshot) -> Result<(), Refusal> {
        match &self.validator {
            Some(validate) => validate(snapshot).map_err(Refusal::Rejected),
            None => Ok(()),
        }
    }

    /// Makes a snapshot from the stream the active one. Returns false when that version was
    /// already active (then only its source is updated: a disk copy confirmed by the stream).
    pub(super) fn install_from_stream(&self, snapshot: Snapshot) -> bool {
        let _guard = self.install_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.version() == snapshot.version {
            self.current.send_if_modified(|current| match current {
                Some(active) if active.source != Source::Stream => {
                    active.source = Source::Stream;
                    true
                }
                _ => false,
            });
            return false;
        }
        self.install(Active { snapshot: Arc::new(snapshot), source: Source::Stream });
        true
    }

    fn install(&self, active: Active) {
        if let Some(on_apply) = &self.on_apply {
            on_apply(active.snapshot.clone());
        }
        tracing::info!(version = active.snapshot.version, source = ?active.source, "config snapshot applied");
        self.current.send_replace(Some(active));
    }

    /// Writes the accepted snapshot to the state directory. A failure is logged, not fatal: the
    /// copy is only a fallback for the next start.
    pub(super) async fn persist(self: &Arc<Self>, version: String, json: Vec<u8>) {
        let Some(disk) = self.disk.clone() else { return };
        let tenant = self.tenant.clone();
        let saved = tokio::task::spawn_blocking(move || disk.save(&tenant, &version, &json)).await;
        match saved {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "cannot write the last-known-good snapshot"),
            Err(error) => tracing::warn!(%error, "writing the last-known-good snapshot panicked"),
        }
    }

    /// Boots from the on-disk copy when nothing is active yet. Returns whether it did.
    pub(super) async fn boot_from_disk_if_empty(self: &Arc<Self>) -> bool {
        if self.current.borrow().is_some() {
            return false;
        }
        let Some(disk) = self.disk.clone() else { return false };
        let tenant = self.tenant.clone();
        let loaded = match tokio::task::spawn_blocking(move || disk.load(&tenant)).await {
            Ok(loaded) => loaded,
            Err(error) => {
                tracing::warn!(%error, "reading the last-known-good snapshot panicked");
                return false;
            }
        };
        let snapshot = match loaded {
            Ok(Some(snapshot)) => snapshot,
            Ok(None) => {
                tracing::warn!("config server unreachable and no last-known-good snapshot on disk; not ready yet");
                return false;
            }
            Err(error) => {
                tracing::warn!(%error, "config server unreachable and the last-known-good snapshot is unusable");
                return false;
            }
        };
        if let Err(refusal) = self.run_validator(&snapshot) {
            tracing::warn!(%refusal, "the last-known-good snapshot on disk is refused");
            return false;
        }
        let _guard = self.install_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.current.borrow().is_some() {
            return false; // the stream won the race
        }
        tracing::warn!(
            version = snapshot.version,
            "config server unreachable: starting from the last-known-good snapshot on disk"
        );
        self.install(Active { snapshot: Arc::new(snapshot), source: Source::Disk });
        true
    }
}
