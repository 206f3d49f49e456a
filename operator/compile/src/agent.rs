//! Agent resources -> the published agents of the snapshot. An agent must name a model some
//! Channel serves (so the catalog never offers an assistant that cannot answer) and tools of
//! accepted ToolServers (`agent_tools`); sampling parameters are decimal strings turned into
//! thousandths.

use std::collections::{BTreeMap, BTreeSet};

use oblivious_config::{Agent, Channel, ToolServer};
use oblivious_crds::{AgentSpec, Sourced};

use crate::CompileError;

const MAX_PROMPT_BYTES: usize = 64 * 1024;

pub(crate) fn compile_agents(
    agents: &[Sourced<AgentSpec>],
    channels: &[Channel],
    tool_servers: &[ToolServer],
    errors: &mut Vec<CompileError>,
) -> Vec<Agent> {
    let served: BTreeSet<&str> = channels.iter().flat_map(|c| c.models.iter().map(|m| m.name.as_str())).collect();
    let servers: BTreeMap<&str, &ToolServer> = tool_servers.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut out: Vec<Agent> = Vec::new();
    for source in agents {
        let name = source.metadata.key();
        let mut ok = true;
        let mut error = |path: &str, reason: String| {
            ok = false;
            errors.push(CompileError {
                origin: source.origin(),
                resource: format!("Agent {name}"),
                path: path.into(),
                reason,
            })
        };
        let spec = &source.spec;
        if spec.display_name.trim().is_empty() {
            error("spec.displayName", "must not be empty".into());
        }
        if !served.contains(spec.model.as_str()) {
            error("spec.model", format!("no Channel serves model `{}`", spec.model));
        }
        for (i, model) in spec.fallback_models.iter().enumerate() {
            if !served.contains(model.as_str()) {
                error(&format!("spec.fallbackModels[{i}]"), format!("no Channel serves model `{model}`"));
            }
        }
        for (i, id) in spec.knowledge_bases.iter().enumerate() {
            if uuid::Uuid::try_parse(id).is_err() {
                error(
                    &format!("spec.knowledgeBases[{i}]"),
                    format!("`{id}` is not a knowledge base id (the UUID on the base's page in the web UI)"),
                );
            }
        }
        let tools = crate::agent_tools::resolve_tools(&spec.tools, source.metadata.namespace(), &servers)
            .unwrap_or_else(|problems| {
                for (i, reason) in problems {
                    error(&format!("spec.tools[{i}]"), reason);
                }
                Vec::new()
            });
        if spec.system_prompt.len() > MAX_PROMPT_BYTES {
            error("spec.systemPrompt", format!("longer than {MAX_PROMPT_BYTES} bytes"));
        }
        let temperature =
            milli(spec.parameters.temperature.as_deref(), 2000, "spec.parameters.temperature", &mut error);
        let top_p = milli(spec.parameters.top_p.as_deref(), 1000, "spec.parameters.topP", &mut error);
        if out.iter().any(|a| a.name == name) {
            error("metadata.name", "another Agent has the same namespace/name".into());
        }
        if !ok {
            continue;
        }
        out.push(Agent {
            name,
            display_name: spec.display_name.trim().to_string(),
            avatar: spec.avatar.clone(),
            description: spec.description.clone(),
            system_prompt: spec.system_prompt.clone(),
            model: spec.model.clone(),
            fallback_models: spec.fallback_models.clone(),
            temperature_milli: temperature,
            top_p_milli: top_p,
            max_tokens: spec.parameters.max_tokens,
            opening_message: spec.opening_message.clone(),
            opening_questions: spec.opening_questions.clone(),
            tools,
            knowledge_bases: spec.knowledge_bases.clone(),
            groups: spec.groups.clone(),
            tags: spec.tags.clone(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A decimal string in `0..=max/1000` as thousandths (`"0.7"` -> 700).
fn milli(text: Option<&str>, max: u32, path: &str, error: &mut dyn FnMut(&str, String)) -> Option<u32> {
    let text = text?;
    match crate::parse_price_micros(text) {
        Ok(micros) if micros % 1000 == 0 && micros / 1000 <= u64::from(max) => u32::try_from(micros / 1000).ok(),
        Ok(_) => {
            error(path, format!("`{text}` must be between 0 and {} with at most 3 decimals", f64::from(max) / 1000.0));
            None
        }
        Err(reason) => {
            error(path, reason);
            None
        }
    }
}
