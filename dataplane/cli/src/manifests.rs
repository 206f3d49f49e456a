//! The configuration source of `oblivious dev`: compile a manifests directory, install the
//! snapshot, and recompile on every change. A change that does not compile is rejected with one
//! log line per problem (file, field path, reason) and the last good snapshot stays active.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use notify::{RecursiveMode, Watcher};
use oblivious_compile::compile;
use oblivious_config::Snapshot;
use oblivious_crds::{Manifests, load_dir, parse_documents};
use oblivious_relay::Relay;
use tokio::sync::mpsc;

/// Changes often arrive as bursts of events (editors write, rename, chmod): wait this long for
/// the burst to end before recompiling.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// The examples shipped in the binary, used when no manifests directory exists.
const EMBEDDED_EXAMPLES: &[(&str, &str)] = &[
    ("mock-secret.yaml", include_str!("../../../crds/examples/mock-secret.yaml")),
    ("mock-openai-channel.yaml", include_str!("../../../crds/examples/mock-openai-channel.yaml")),
    ("mock-anthropic-channel.yaml", include_str!("../../../crds/examples/mock-anthropic-channel.yaml")),
    ("mock-gemini-channel.yaml", include_str!("../../../crds/examples/mock-gemini-channel.yaml")),
    ("pricing.yaml", include_str!("../../../crds/examples/pricing.yaml")),
    ("toolservers.yaml", include_str!("../../../crds/examples/toolservers.yaml")),
];

/// Compiles a directory into a snapshot, or returns every problem as one error per line.
pub fn compile_dir(dir: &Path) -> Result<Snapshot, Vec<String>> {
    let manifests = load_dir(dir).map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    compile_manifests(&manifests)
}

fn compile_manifests(manifests: &Manifests) -> Result<Snapshot, Vec<String>> {
    for skipped in &manifests.skipped {
        tracing::debug!(skipped, "manifest kind not handled by this version; ignored");
    }
    compile(manifests).map_err(|errors| errors.iter().map(ToString::to_string).collect())
}

pub fn embedded_examples() -> Result<Snapshot, Vec<String>> {
    let mut manifests = Manifests::default();
    let mut errors = Vec::new();
    for (name, text) in EMBEDDED_EXAMPLES {
        parse_documents(Path::new(&format!("<built-in>/{name}")), text, &mut manifests, &mut errors);
    }
    if !errors.is_empty() {
        return Err(errors.iter().map(ToString::to_string).collect());
    }
    compile_manifests(&manifests)
}

/// Loads the initial configuration and, for a directory, keeps watching it.
pub async fn start(relay: Arc<Relay>, dir: Option<PathBuf>) -> anyhow::Result<()> {
    let Some(dir) = dir else {
        let snapshot = embedded_examples().map_err(|errors| anyhow::anyhow!(errors.join("\n")))?;
        eprintln!("manifests: the examples built into the binary (pass --manifests DIR to use your own)");
        relay.install(snapshot);
        return Ok(());
    };
    let dir = dir.canonicalize().with_context(|| format!("manifests directory {}", dir.display()))?;
    match compile_dir(&dir) {
        Ok(snapshot) => relay.install(snapshot),
        Err(errors) => {
            for error in &errors {
                eprintln!("config error: {error}");
            }
            bail!("the manifests in {} do not compile ({} problems)", dir.display(), errors.len());
        }
    }
    eprintln!("manifests: {} (watched; edits apply within a second)", dir.display());
    watch(relay, dir)
}

fn watch(relay: Arc<Relay>, dir: PathBuf) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.send(());
        }
    })
    .context("cannot watch the manifests directory")?;
    watcher.watch(&dir, RecursiveMode::Recursive).context("cannot watch the manifests directory")?;
    tokio::spawn(async move {
        let _watcher = watcher; // dropping it would stop the watch
        while rx.recv().await.is_some() {
            // Swallow the rest of the burst.
            while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {}
            reload(&relay, &dir);
        }
    });
    Ok(())
}

fn reload(relay: &Relay, dir: &Path) {
    match compile_dir(dir) {
        Ok(snapshot) if snapshot.version == relay.runtime.active().snapshot.version => {}
        Ok(snapshot) => relay.install(snapshot),
        Err(errors) => {
            for error in &errors {
                tracing::error!("config rejected: {error}");
            }
            tracing::warn!(
                version = relay.runtime.active().snapshot.version,
                "the change was rejected; the last good configuration stays active"
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_examples_compile_and_match_the_files_on_disk() {
        let embedded = embedded_examples().unwrap();
        let on_disk = compile_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crds/examples")).unwrap();
        assert_eq!(embedded.version, on_disk.version);
        assert_eq!(embedded.channels.len(), 3);
    }
}
