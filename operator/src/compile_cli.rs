//! `oblivious-operator compile --manifests DIR`: compiles a directory of manifests exactly as the
//! operator and `oblivious dev` would, and prints the snapshot as JSON — or every problem with
//! its file, resource, field path and reason, exiting non-zero. A GitOps pipeline runs it before
//! merging. Provider keys and ToolServer header values (resolved from Secrets) are never
//! printed: each is replaced by a fingerprint.

use std::path::Path;

use oblivious_config::Snapshot;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Compiles `dir`; `Err` holds one line per problem.
pub fn compile_dir(dir: &Path) -> Result<Snapshot, Vec<String>> {
    let manifests =
        oblivious_crds::load_dir(dir).map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    oblivious_compile::compile(&manifests).map_err(|errors| errors.iter().map(ToString::to_string).collect())
}

/// The snapshot as pretty JSON with every provider key and every ToolServer header value
/// replaced by `sha256:<first 12 hex>`, so two outputs still differ when a key changed, without
/// revealing it. Header values are all redacted: the snapshot no longer says which came from a
/// Secret.
pub fn redacted_json(snapshot: &Snapshot) -> String {
    let mut value = serde_json::to_value(snapshot).unwrap_or(Value::Null);
    for channel in value.get_mut("channels").and_then(Value::as_array_mut).into_iter().flatten() {
        channel.get_mut("apiKeys").and_then(Value::as_array_mut).into_iter().flatten().for_each(fingerprint);
    }
    for server in value.get_mut("toolServers").and_then(Value::as_array_mut).into_iter().flatten() {
        server
            .get_mut("headers")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flatten()
            .for_each(|(_, v)| fingerprint(v));
    }
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

fn fingerprint(secret: &mut Value) {
    let digest = hex::encode(&Sha256::digest(secret.as_str().unwrap_or_default().as_bytes())[..6]);
    *secret = Value::String(format!("sha256:{digest}"));
}

/// Runs the subcommand: prints the snapshot, or the problems on stderr.
pub fn run(dir: &Path) -> std::process::ExitCode {
    match compile_dir(dir) {
        Ok(snapshot) => {
            println!("{}", redacted_json(&snapshot));
            std::process::ExitCode::SUCCESS
        }
        Err(errors) => {
            for error in &errors {
                eprintln!("error: {error}");
            }
            eprintln!("{} problem(s); nothing would be applied", errors.len());
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_compile_and_their_keys_are_not_printed() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds/examples");
        let snapshot = compile_dir(&dir).unwrap();
        let printed = redacted_json(&snapshot);
        assert!(!printed.contains("sk-mock-offline-demo"));
        assert!(printed.contains("sha256:"));
        assert!(printed.contains(&snapshot.version));
    }

    /// The commented-out manifests of `crds/examples/toolservers.yaml`, uncommented.
    fn uncommented_tool_server_examples() -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds/examples/toolservers.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let start = text.find("# ---").unwrap();
        text[start..]
            .lines()
            .map(|l| l.strip_prefix("# ").or(l.strip_prefix('#')).unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_commented_out_tool_server_examples_compile_once_uncommented() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.yaml"), uncommented_tool_server_examples()).unwrap();
        let snapshot = compile_dir(dir.path()).unwrap();
        let names: Vec<&str> = snapshot.tool_servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["default/everything", "default/github"]);
        assert!(!redacted_json(&snapshot).contains("github_pat_replace-me"));
    }

    #[test]
    fn tool_server_header_values_are_not_printed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.yaml"),
            "apiVersion: v1\nkind: Secret\nmetadata: {name: gh}\nstringData: {token: Bearer ghp-secret}\n---\n\
             apiVersion: oblivious.dev/v1alpha1\nkind: ToolServer\nmetadata: {name: github}\nspec:\n  \
             url: https://mcp.example.com\n  \
             headers: [{name: Authorization, valueFrom: {secretKeyRef: {name: gh, key: token}}}]\n",
        )
        .unwrap();
        let printed = redacted_json(&compile_dir(dir.path()).unwrap());
        assert!(!printed.contains("ghp-secret"), "{printed}");
        assert!(printed.contains("\"authorization\": \"sha256:"), "{printed}");
    }

    #[test]
    fn a_broken_directory_reports_file_field_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("c.yaml"),
            "apiVersion: oblivious.dev/v1alpha1\nkind: Channel\nmetadata: {name: a}\nspec:\n  provider: openai\n  \
             baseUrl: https://x\n  apiKeySecretRef: {name: nope, key: k}\n  models: [{name: m}]\n",
        )
        .unwrap();
        let errors = compile_dir(dir.path()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("c.yaml") && errors[0].contains("spec.apiKeySecretRef.name"), "{}", errors[0]);
    }
}
