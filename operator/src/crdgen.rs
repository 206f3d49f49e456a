//! `oblivious-operator crdgen`: renders the CustomResourceDefinitions from the Rust types into
//! `crds/manifests/` (plain YAML for `kubectl apply`) and `charts/oblivious-crds/templates/` (the
//! same plus the chart's metadata hook: labels, annotations, the `keep` policy; see
//! charts/NOTES.md). The test `checked_in_crds_are_up_to_date` fails when a type changed and
//! this was not re-run.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Where the plain CRDs go, relative to the repository root.
pub const MANIFESTS_DIR: &str = "crds/manifests";
/// Where the chart's copies go.
pub const CHART_DIR: &str = "charts/oblivious-crds/templates";
/// Turns a plain CRD into one directory's copy of it.
pub type Copy = fn(&str) -> String;
/// Both directories, each with its copy function.
pub const OUTPUT_DIRS: [(&str, Copy); 2] = [(MANIFESTS_DIR, plain_copy), (CHART_DIR, chart_copy)];

fn plain_copy(yaml: &str) -> String {
    yaml.to_string()
}

/// The chart's copy: Helm renders templates verbatim except for actions, so the chart's labels,
/// annotations and `helm.sh/resource-policy: keep` come from one include under `metadata:`.
pub fn chart_copy(yaml: &str) -> String {
    yaml.replacen("\nmetadata:\n", "\nmetadata:\n  {{- include \"oblivious-crds.metadata\" . | nindent 2 }}\n", 1)
}

/// Every CRD as `(file name, YAML)`.
pub fn render() -> anyhow::Result<Vec<(String, String)>> {
    oblivious_crds::crd::all()
        .iter()
        .map(|crd| Ok((oblivious_crds::crd::file_name(crd), oblivious_crds::crd::to_yaml(crd)?)))
        .collect()
}

/// Writes every CRD under `root`'s output directories, removing stale generated files.
pub fn write(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let files = render()?;
    let mut written = Vec::new();
    for (dir, copy) in OUTPUT_DIRS {
        let dir = root.join(dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // A kind that was removed or renamed must not linger as a stale CRD.
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.ends_with(".oblivious.dev.yaml") && !files.iter().any(|(f, _)| f == name) {
                std::fs::remove_file(&path)?;
            }
        }
        for (name, yaml) in &files {
            let path = dir.join(name);
            std::fs::write(&path, copy(yaml)).with_context(|| format!("cannot write {}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Runs the subcommand: writes the files, or prints them all as one YAML stream.
pub fn run(root: &Path, stdout: bool) -> anyhow::Result<()> {
    if stdout {
        for (_, yaml) in render()? {
            println!("---\n{yaml}");
        }
        return Ok(());
    }
    for path in write(root)? {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
