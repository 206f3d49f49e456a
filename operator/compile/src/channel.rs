//! Channel resources -> snapshot channels: resolve Secret refs, validate URLs, timeouts and
//! model lists, and sort everything so the result is deterministic.

use std::collections::{BTreeMap, BTreeSet};

use oblivious_config::{ApiKey, Channel, ModelRoute, Provider, Quirks, Timeouts, VertexTarget};
use oblivious_crds::{ChannelSpec, ProviderKind, Secret, Sourced};

use crate::{CompileError, parse_duration_ms};

/// The scheme of the base URL that means "the mock upstream built into this process".
pub const BUILTIN_SCHEME: &str = "builtin";

/// Limits that keep a snapshot sane (the CRD schema enforces the same bounds in a cluster).
const MAX_MODELS_PER_CHANNEL: usize = 256;
const MAX_WEIGHT: u32 = 1_000_000;

pub(crate) fn compile_channels(
    channels: &[Sourced<ChannelSpec>],
    secrets: &[Sourced<Secret>],
    errors: &mut Vec<CompileError>,
) -> Vec<Channel> {
    let secrets_by_key: BTreeMap<String, &Secret> = secrets.iter().map(|s| (s.metadata.key(), &s.spec)).collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for source in channels {
        let name = source.metadata.key();
        let mut error = |path: &str, reason: String| {
            errors.push(CompileError {
                origin: source.origin(),
                resource: format!("Channel {name}"),
                path: path.to_string(),
                reason,
            })
        };
        if !seen.insert(name.clone()) {
            error("metadata.name", "another Channel has the same namespace/name".into());
            continue;
        }
        if let Some(channel) = compile_one(source, &secrets_by_key, &mut error) {
            out.push(channel);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn compile_one(
    source: &Sourced<ChannelSpec>,
    secrets: &BTreeMap<String, &Secret>,
    error: &mut dyn FnMut(&str, String),
) -> Option<Channel> {
    let spec = &source.spec;
    let mut ok = true;

    let vertex =
        spec.vertex.as_ref().map(|v| VertexTarget { project: v.project.clone(), location: v.location.clone() });
    match (spec.provider, &vertex) {
        (ProviderKind::VertexAi, None) => {
            error("spec.vertex", "provider vertex-ai needs vertex (project and location)".into());
            ok = false;
        }
        (ProviderKind::VertexAi, Some(target)) if target.project.is_empty() || target.location.is_empty() => {
            error("spec.vertex", "project and location must not be empty".into());
            ok = false;
        }
        (ProviderKind::VertexAi, _) => {}
        (_, Some(_)) => {
            error("spec.vertex", "vertex is only used by provider vertex-ai".into());
            ok = false;
        }
        (_, None) => {}
    }
    let mut base_url = spec.base_url.trim_end_matches('/').to_string();
    if base_url.is_empty()
        && let Some(target) = &vertex
    {
        base_url = vertex_endpoint(&target.location);
    }
    if let Err(reason) = validate_base_url(&base_url) {
        error("spec.baseUrl", reason);
        ok = false;
    }

    let secret_key = format!("{}/{}", source.metadata.namespace(), spec.api_key_secret_ref.name);
    let api_keys = match secrets.get(&secret_key) {
        None => {
            error("spec.apiKeySecretRef.name", format!("Secret `{secret_key}` not found"));
            ok = false;
            Vec::new()
        }
        Some(secret) => match secret.values.get(&spec.api_key_secret_ref.key) {
            None => {
                let key = &spec.api_key_secret_ref.key;
                error("spec.apiKeySecretRef.key", format!("Secret `{secret_key}` has no key `{key}`"));
                ok = false;
                Vec::new()
            }
            Some(value) => {
                // A service-account JSON is one key, commas and newlines included.
                let keys = if spec.provider == ProviderKind::VertexAi {
                    Some(value.trim()).filter(|v| !v.is_empty()).map(|v| ApiKey(v.to_string())).into_iter().collect()
                } else {
                    split_keys(value)
                };
                if keys.is_empty() {
                    error("spec.apiKeySecretRef.key", format!("Secret `{secret_key}` holds an empty value"));
                    ok = false;
                }
                keys
            }
        },
    };

    let models = compile_models(spec, error);
    ok &= models.is_some();

    if spec.weight > MAX_WEIGHT {
        error("spec.weight", format!("must be at most {MAX_WEIGHT}"));
        ok = false;
    }

    let timeouts = compile_timeouts(spec, error);
    ok &= timeouts.is_some();

    for (header, value) in &spec.headers {
        if http_header_invalid(header, value) {
            error(&format!("spec.headers.{header}"), "not a valid HTTP header name and value".into());
            ok = false;
        }
    }

    if let Some(lane) = &spec.lane
        && (!crate::lane::is_dns_label(lane) || lane == "baseline")
    {
        error("spec.lane", format!("`{lane}` is not a lane tag (a lowercase DNS label other than `baseline`)"));
        ok = false;
    }

    if !ok {
        return None;
    }
    Some(Channel {
        name: source.metadata.key(),
        provider: provider(spec.provider),
        base_url,
        api_keys,
        models: models.unwrap_or_default(),
        priority: spec.priority,
        weight: spec.weight,
        groups: sorted_unique(&spec.groups),
        timeouts: timeouts.unwrap_or_default(),
        suspend: spec.suspend,
        quirks: Quirks {
            rejects_stream_options: spec.quirks.rejects_stream_options,
            legacy_max_tokens: spec.quirks.legacy_max_tokens,
            no_system_role: spec.quirks.no_system_role,
        },
        headers: spec.headers.clone(),
        api_version: spec.api_version.clone(),
        lane: spec.lane.clone().unwrap_or_default(),
        propagate_trace: spec.propagate_trace,
        vertex,
    })
}

/// Vertex AI's regional endpoint (the `global` location has no region prefix).
fn vertex_endpoint(location: &str) -> String {
    if location == "global" {
        "https://aiplatform.googleapis.com".to_string()
    } else {
        format!("https://{location}-aiplatform.googleapis.com")
    }
}

fn validate_base_url(base_url: &str) -> Result<(), String> {
    let url = url::Url::parse(base_url).map_err(|e| format!("`{base_url}` is not a valid URL: {e}"))?;
    match url.scheme() {
        "http" | "https" => {}
        BUILTIN_SCHEME if url.host_str() == Some("mock-upstream") => {}
        other => return Err(format!("scheme `{other}` is not supported (use https, http or builtin://mock-upstream)")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials in the URL are not allowed; use apiKeySecretRef".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("a base URL must not have a query or fragment".into());
    }
    Ok(())
}

/// One Secret value may hold several keys, separated by newlines or commas.
fn split_keys(value: &str) -> Vec<ApiKey> {
    value.split(['\n', ',']).map(str::trim).filter(|k| !k.is_empty()).map(|k| ApiKey(k.to_string())).collect()
}

fn compile_models(spec: &ChannelSpec, error: &mut dyn FnMut(&str, String)) -> Option<Vec<ModelRoute>> {
    if spec.models.is_empty() {
        error("spec.models", "must list at least one model".into());
        return None;
    }
    if spec.models.len() > MAX_MODELS_PER_CHANNEL {
        error("spec.models", format!("at most {MAX_MODELS_PER_CHANNEL} models per channel"));
        return None;
    }
    let mut names = BTreeSet::new();
    let mut ok = true;
    let mut routes = Vec::new();
    for (i, model) in spec.models.iter().enumerate() {
        let name = model.name.trim();
        if name.is_empty() || name.len() > 256 {
            error(&format!("spec.models[{i}].name"), "must be 1 to 256 characters".into());
            ok = false;
            continue;
        }
        if !names.insert(name) {
            error(&format!("spec.models[{i}].name"), format!("duplicate model name `{name}`"));
            ok = false;
            continue;
        }
        let upstream = model.upstream_model.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or(name);
        routes.push(ModelRoute { name: name.to_string(), upstream_model: upstream.to_string() });
    }
    routes.sort_by(|a, b| a.name.cmp(&b.name));
    ok.then_some(routes)
}

fn compile_timeouts(spec: &ChannelSpec, error: &mut dyn FnMut(&str, String)) -> Option<Timeouts> {
    let defaults = Timeouts::default();
    let mut ok = true;
    let mut field = |path: &str, value: &Option<String>, default: u64| match value {
        None => default,
        Some(text) => match parse_duration_ms(text) {
            Ok(0) => {
                error(path, "must be greater than zero".into());
                ok = false;
                default
            }
            Ok(ms) => ms,
            Err(reason) => {
                error(path, reason);
                ok = false;
                default
            }
        },
    };
    let timeouts = Timeouts {
        connect_ms: field("spec.timeouts.connect", &spec.timeouts.connect, defaults.connect_ms),
        first_byte_ms: field("spec.timeouts.firstByte", &spec.timeouts.first_byte, defaults.first_byte_ms),
        stream_idle_ms: field("spec.timeouts.streamIdle", &spec.timeouts.stream_idle, defaults.stream_idle_ms),
    };
    ok.then_some(timeouts)
}

fn http_header_invalid(name: &str, value: &str) -> bool {
    let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let value_ok = value.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
    !(name_ok && value_ok)
}

fn provider(kind: ProviderKind) -> Provider {
    match kind {
        ProviderKind::Openai => Provider::Openai,
        ProviderKind::AzureOpenai => Provider::AzureOpenai,
        ProviderKind::OpenaiCompatible => Provider::OpenaiCompatible,
        ProviderKind::Anthropic => Provider::Anthropic,
        ProviderKind::Gemini => Provider::Gemini,
        ProviderKind::VertexAi => Provider::VertexAi,
    }
}

fn sorted_unique(items: &[String]) -> Vec<String> {
    items.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect()
}
