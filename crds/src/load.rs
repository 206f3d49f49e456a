//! Reading manifests from a directory the way `kubectl apply -f DIR -R` would: every `.yaml` /
//! `.yml` file, multi-document, in path order. Every problem is reported with its file, the
//! document index inside the file, the field path and the reason — and all problems are
//! collected, not just the first, so one pass shows everything a GitOps change broke.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::secret::decode_data_value;
use crate::{
    API_VERSION, AgentSpec, ChannelSpec, LaneSpec, ModelPricingSpec, ObjectMeta, Secret, TenantSpec, ToolServerSpec,
};

/// A resource together with where it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Sourced<T> {
    pub file: PathBuf,
    /// 0-based index of the YAML document inside `file`.
    pub document: usize,
    pub metadata: ObjectMeta,
    pub spec: T,
}

impl<T> Sourced<T> {
    /// `file (document N)` for error messages.
    pub fn origin(&self) -> String {
        origin(&self.file, self.document)
    }
}

fn origin(file: &Path, document: usize) -> String {
    if document == 0 { file.display().to_string() } else { format!("{} (document {})", file.display(), document + 1) }
}

/// Everything found in a manifests directory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifests {
    pub channels: Vec<Sourced<ChannelSpec>>,
    pub pricings: Vec<Sourced<ModelPricingSpec>>,
    pub agents: Vec<Sourced<AgentSpec>>,
    pub tool_servers: Vec<Sourced<ToolServerSpec>>,
    pub lanes: Vec<Sourced<LaneSpec>>,
    /// Cluster-scoped: `metadata.namespace` is empty. Outside a cluster they are only checked.
    pub tenants: Vec<Sourced<TenantSpec>>,
    pub secrets: Vec<Sourced<Secret>>,
    /// `file: kind/name` of documents this version does not handle (other Kubernetes kinds,
    /// Oblivious kinds of later versions), so callers can mention them.
    pub skipped: Vec<String>,
}

/// One problem in one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: PathBuf,
    pub document: usize,
    /// Field path inside the document (`spec.models[1].name`), empty for whole-document problems.
    pub path: String,
    pub reason: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = origin(&self.file, self.document);
        if self.path.is_empty() {
            write!(f, "{origin}: {}", self.reason)
        } else {
            write!(f, "{origin}: {}: {}", self.path, self.reason)
        }
    }
}

impl std::error::Error for LoadError {}

/// Loads every manifest under `dir`, recursively.
pub fn load_dir(dir: &Path) -> Result<Manifests, Vec<LoadError>> {
    let mut files = Vec::new();
    collect_yaml_files(dir, &mut files).map_err(|e| {
        vec![LoadError { file: dir.to_path_buf(), document: 0, path: String::new(), reason: e.to_string() }]
    })?;
    files.sort();
    let mut manifests = Manifests::default();
    let mut errors = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => parse_documents(&file, &text, &mut manifests, &mut errors),
            Err(e) => errors.push(LoadError { file, document: 0, path: String::new(), reason: e.to_string() }),
        }
    }
    if errors.is_empty() { Ok(manifests) } else { Err(errors) }
}

fn collect_yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue; // editor swap files, .git
        }
        if path.is_dir() {
            collect_yaml_files(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Parses the YAML documents of one file into `manifests`, appending problems to `errors`.
pub fn parse_documents(file: &Path, text: &str, manifests: &mut Manifests, errors: &mut Vec<LoadError>) {
    for (document, deserializer) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let error = |path: &str, reason: String| LoadError {
            file: file.to_path_buf(),
            document,
            path: path.to_string(),
            reason,
        };
        let value = match serde_yaml::Value::deserialize(deserializer) {
            Ok(serde_yaml::Value::Null) => continue, // empty document, e.g. a trailing `---`
            Ok(value) => value,
            Err(e) => {
                errors.push(error("", format!("invalid YAML: {e}")));
                // A syntax error leaves the document stream in an unknown state.
                return;
            }
        };
        let api_version = value.get("apiVersion").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let kind = value.get("kind").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        match (api_version.as_str(), kind.as_str()) {
            (API_VERSION, "Channel") => match typed::<ChannelSpec>(value) {
                Ok((metadata, spec)) => {
                    manifests.channels.push(Sourced { file: file.into(), document, metadata, spec })
                }
                Err((path, reason)) => errors.push(error(&path, reason)),
            },
            (API_VERSION, "ModelPricing") => match typed::<ModelPricingSpec>(value) {
                Ok((metadata, spec)) => {
                    manifests.pricings.push(Sourced { file: file.into(), document, metadata, spec })
                }
                Err((path, reason)) => errors.push(error(&path, reason)),
            },
            (API_VERSION, "Agent") => match typed::<AgentSpec>(value) {
                Ok((metadata, spec)) => manifests.agents.push(Sourced { file: file.into(), document, metadata, spec }),
                Err((path, reason)) => errors.push(error(&path, reason)),
            },
            (API_VERSION, "ToolServer") => match typed::<ToolServerSpec>(value) {
                Ok((metadata, spec)) => {
                    manifests.tool_servers.push(Sourced { file: file.into(), document, metadata, spec })
                }
                Err((path, reason)) => errors.push(error(&path, reason)),
            },
            (API_VERSION, "Lane") => match typed::<LaneSpec>(value) {
                Ok((metadata, spec)) => manifests.lanes.push(Sourced { file: file.into(), document, metadata, spec }),
                Err((path, reason)) => errors.push(error(&path, reason)),
            },
            (API_VERSION, "Tenant") => match typed::<TenantSpec>(value) {
                Ok((metadata, spec)) => manifests.tenants.push(Sourced { file: file.into(), document, metadata, spec }),
                Err((path, reason)) => errors.push(error(&path, reason)),
            },
            ("v1", "Secret") => match secret(value) {
                Ok(secret) => manifests.secrets.push(Sourced {
                    file: file.into(),
                    document,
                    metadata: secret.metadata.clone(),
                    spec: secret,
                }),
                Err((path, reason)) => errors.push(error(&path, reason)),
            },
            ("", _) => errors.push(error("apiVersion", "missing".into())),
            (_, "") => errors.push(error("kind", "missing".into())),
            _ => manifests.skipped.push(format!("{}: {api_version} {kind}", origin(file, document))),
        }
    }
}

/// A resource with `metadata` and a typed `spec`; unknown top-level fields other than the usual
/// Kubernetes ones are refused so `sepc:` is caught.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // apiVersion/kind/status are read only to be accepted
struct Typed<S> {
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    spec: S,
    #[serde(default)]
    status: Option<serde_yaml::Value>,
}

type FieldError = (String, String);

fn typed<S: DeserializeOwned + Serialize>(value: serde_yaml::Value) -> Result<(ObjectMeta, S), FieldError> {
    let written = value.get("spec").cloned();
    let parsed: Typed<S> = match serde_path_to_error::deserialize(value.clone()) {
        Ok(parsed) => parsed,
        Err(error) => {
            let (path, reason) = field_error(error);
            return Err(misspelled_required_field(&value, &path, &reason).unwrap_or((path, reason)));
        }
    };
    check_name(&parsed.metadata)?;
    // The spec types accept unknown fields (an operator must not choke on a field of a newer
    // CRD); a manifest must not have any, so a typo is caught here: whatever the typed spec does
    // not write back was not understood.
    if let Some(written) = written {
        let understood = serde_yaml::to_value(&parsed.spec).map_err(|e| ("spec".to_string(), e.to_string()))?;
        if let Some((path, field)) = unknown_field(&written, &understood, "spec") {
            return Err((path, format!("unknown field `{field}`")));
        }
    }
    Ok((parsed.metadata, parsed.spec))
}

/// A required field reported missing because it was misspelled (`baseURL` for `baseUrl`):
/// name the misspelling, which is what the author has to fix.
fn misspelled_required_field(document: &serde_yaml::Value, path: &str, reason: &str) -> Option<FieldError> {
    let missing = reason.strip_prefix("missing field `")?.split('`').next()?;
    let mut node = document;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        node = node.get(name)?;
        if let Some(index) = index {
            node = node.get(index)?;
        }
    }
    let normalize = |s: &str| s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    let written = node
        .as_mapping()?
        .keys()
        .filter_map(|k| k.as_str())
        .find(|k| *k != missing && normalize(k) == normalize(missing))?;
    Some((format!("{path}.{written}"), format!("unknown field `{written}` (did you mean `{missing}`?)")))
}

/// The first field of `written` (path and name) that `understood` lacks. A `null` counts as
/// absent: serializing leaves out unset optional fields.
fn unknown_field(written: &serde_yaml::Value, understood: &serde_yaml::Value, path: &str) -> Option<(String, String)> {
    use serde_yaml::Value;
    match (written, understood) {
        (Value::Mapping(written), Value::Mapping(understood)) => {
            for (key, value) in written {
                if value.is_null() {
                    continue;
                }
                let name = key.as_str().map(str::to_string).unwrap_or_else(|| format!("{key:?}"));
                let child = format!("{path}.{name}");
                match understood.get(key) {
                    None => return Some((child, name)),
                    Some(known) => {
                        if let Some(found) = unknown_field(value, known, &child) {
                            return Some(found);
                        }
                    }
                }
            }
            None
        }
        (Value::Sequence(written), Value::Sequence(understood)) => written
            .iter()
            .zip(understood)
            .enumerate()
            .find_map(|(i, (w, u))| unknown_field(w, u, &format!("{path}[{i}]"))),
        _ => None,
    }
}

fn field_error(error: serde_path_to_error::Error<serde_yaml::Error>) -> FieldError {
    let path = error.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let reason = error.into_inner().to_string();
    // serde_yaml appends " at line N column M" for the whole document; keep it, it helps.
    (path, reason)
}

fn check_name(metadata: &ObjectMeta) -> Result<(), FieldError> {
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 253
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && !s.starts_with('-')
    };
    if !valid(&metadata.name) {
        return Err(("metadata.name".into(), format!("`{}` is not a valid DNS subdomain name", metadata.name)));
    }
    if !valid(metadata.namespace()) {
        return Err(("metadata.namespace".into(), format!("`{}` is not a valid namespace", metadata.namespace())));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct SecretManifest {
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    #[serde(default)]
    data: BTreeMap<String, String>,
    #[serde(default)]
    string_data: BTreeMap<String, String>,
    #[serde(default, rename = "type")]
    secret_type: Option<String>,
    #[serde(default)]
    immutable: Option<bool>,
}

fn secret(value: serde_yaml::Value) -> Result<Secret, FieldError> {
    let parsed: SecretManifest = serde_path_to_error::deserialize(value).map_err(field_error)?;
    check_name(&parsed.metadata)?;
    let mut values = BTreeMap::new();
    for (key, encoded) in parsed.data {
        let decoded = decode_data_value(&encoded).map_err(|reason| (format!("data.{key}"), reason))?;
        values.insert(key, decoded);
    }
    values.extend(parsed.string_data);
    Ok(Secret { metadata: parsed.metadata, values })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Manifests, Vec<LoadError>) {
        let mut manifests = Manifests::default();
        let mut errors = Vec::new();
        parse_documents(Path::new("m.yaml"), text, &mut manifests, &mut errors);
        (manifests, errors)
    }

    const CHANNEL: &str = r#"
apiVersion: oblivious.dev/v1alpha1
kind: Channel
metadata: {name: a}
spec:
  provider: openai
  baseUrl: https://api.openai.com/v1
  apiKeySecretRef: {name: s, key: k}
  models: [{name: gpt-4o}]
"#;

    #[test]
    fn a_channel_gets_defaults_for_everything_optional() {
        let (m, errors) = parse(CHANNEL);
        assert!(errors.is_empty(), "{errors:?}");
        let c = &m.channels[0];
        assert_eq!(c.metadata.key(), "default/a");
        assert_eq!((c.spec.priority, c.spec.weight, c.spec.suspend), (0, 100, false));
    }

    #[test]
    fn a_typo_in_a_spec_field_is_reported_with_its_path() {
        let text = CHANNEL.replace("baseUrl", "baseURL");
        let (_, errors) = parse(&text);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "spec.baseURL", "the path names the unknown field itself");
        assert!(errors[0].reason.contains("baseURL"), "{}", errors[0].reason);
    }

    #[test]
    fn a_typo_deep_in_a_list_is_reported_with_its_path() {
        let text = CHANNEL.replace("models: [{name: gpt-4o}]", "models: [{name: gpt-4o}, {name: b, upstream: c}]");
        let (_, errors) = parse(&text);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "spec.models[1].upstream");
        assert_eq!(errors[0].reason, "unknown field `upstream`");
    }

    #[test]
    fn explicit_nulls_and_map_keys_are_not_unknown_fields() {
        let text = CHANNEL.replace(
            "models: [{name: gpt-4o}]",
            "models: [{name: gpt-4o, upstreamModel: null}]\n  headers: {X-Anything: v}",
        );
        let (m, errors) = parse(&text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(m.channels[0].spec.headers["X-Anything"], "v");
    }

    #[test]
    fn a_wrong_type_deep_in_a_list_names_the_element() {
        let text = CHANNEL.replace("models: [{name: gpt-4o}]", "models: [{name: gpt-4o}, {name: [x]}]");
        let (_, errors) = parse(&text);
        assert_eq!(errors[0].path, "spec.models[1].name");
        assert!(errors[0].to_string().starts_with("m.yaml: spec.models[1].name: "));
    }

    #[test]
    fn a_tool_server_loads_and_a_typo_inside_a_header_is_reported_with_its_path() {
        let text = "apiVersion: oblivious.dev/v1alpha1\nkind: ToolServer\nmetadata: {name: gh, namespace: team}\nspec:\n  \
                    url: https://mcp.example.com\n  headers: [{name: Authorization, valueFrom: {secretKeyRef: {name: s, key: k}}}]\n";
        let (m, errors) = parse(text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(m.tool_servers[0].metadata.key(), "team/gh");
        assert!(m.tool_servers[0].spec.allowed_tools.is_empty() && m.tool_servers[0].spec.timeouts.call.is_none());
        let (_, errors) = parse(&text.replace("valueFrom", "valueFromSecret"));
        assert_eq!(errors[0].path, "spec.headers[0].valueFromSecret", "{errors:?}");
    }

    #[test]
    fn secrets_decode_data_and_let_string_data_win() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: c2stb2xk, j: aGk=}\nstringData: {k: sk-new}\n";
        let (m, errors) = parse(text);
        assert!(errors.is_empty(), "{errors:?}");
        let s = &m.secrets[0].spec;
        assert_eq!(s.values["k"], "sk-new");
        assert_eq!(s.values["j"], "hi");
        assert!(!format!("{s:?}").contains("sk-new"));
    }

    #[test]
    fn other_kinds_are_skipped_and_every_document_is_read() {
        let text = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n---\n{CHANNEL}\n---\n");
        let (m, errors) = parse(&text);
        assert!(errors.is_empty());
        assert_eq!(m.channels.len(), 1);
        assert_eq!(m.channels[0].document, 1);
        assert_eq!(m.skipped.len(), 1);
    }

    #[test]
    fn every_broken_document_is_reported_not_just_the_first() {
        let bad = CHANNEL.replace("weight", "x").replace("provider: openai", "provider: nope");
        let text = format!("{bad}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ndata: {{k: '!!'}}\n");
        let (_, errors) = parse(&text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[1].path, "data.k");
        assert_eq!(errors[1].document, 1);
    }

    #[test]
    fn directories_are_read_recursively_skipping_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("team")).unwrap();
        std::fs::write(dir.path().join("team/c.yaml"), CHANNEL).unwrap();
        std::fs::write(dir.path().join(".c.yaml.swp"), "garbage: [").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let m = load_dir(dir.path()).unwrap();
        assert_eq!(m.channels.len(), 1);
    }
}
