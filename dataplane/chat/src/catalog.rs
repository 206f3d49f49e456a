//! What the active configuration offers a user: the chat models their group may use (with
//! prices) and the published agents (`Agent` resources). Both come from the config snapshot, so
//! they follow a GitOps change within a second like everything else.

use oblivious_config::{Agent, Snapshot};
use oblivious_runtime::ActiveConfig;
use serde::Serialize;
use uuid::Uuid;

use crate::context::context_window;
use crate::views::{AgentView, temperature};

/// Catalog agent ids are derived from the resource name, so they are stable across restarts
/// and pods without being stored.
const CATALOG_NAMESPACE: Uuid = Uuid::from_u128(0x6f62_6c69_7669_6f75_735f_6167_656e_7473);

#[derive(Debug, Clone, Serialize)]
pub struct ModelPriceView {
    pub input: String,
    pub output: String,
    pub currency: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelView {
    pub id: String,
    pub provider: String,
    pub context_window: u64,
    pub price: Option<ModelPriceView>,
}

/// Embedding models are served by the relay but are no partner for a conversation; nor are
/// image, speech, transcription and moderation models or OpenAI's legacy completion model
/// (`NOT_FOR_CHAT`), which the relay serves on their own endpoints.
fn is_chat_model(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !oblivious_rag::models::is_embedding_model_name(name) && !NOT_FOR_CHAT.iter().any(|part| lower.contains(part))
}

/// Parts of the names of OpenAI's models for the non-chat endpoints.
const NOT_FOR_CHAT: &[&str] =
    &["dall-e", "gpt-image", "tts", "whisper", "transcribe", "moderation", "gpt-3.5-turbo-instruct"];

/// The chat models users of `group` may use, in the configuration's order.
pub fn models_for_group(active: &ActiveConfig, group: &str, now_ms: i64) -> Vec<ModelView> {
    active
        .routes
        .model_names()
        .iter()
        .filter(|name| is_chat_model(name))
        .filter_map(|name| {
            let candidates = active.routes.candidates(&active.snapshot, name, group, None);
            let first = candidates.first()?;
            let provider = active.snapshot.channels[first.channel].provider.as_str().to_string();
            let price = active.snapshot.price(name, now_ms).map(|p| ModelPriceView {
                input: per_million(p.input),
                output: per_million(p.output),
                currency: p.currency.clone(),
            });
            Some(ModelView { id: name.clone(), provider, context_window: context_window(name), price })
        })
        .collect()
}

/// Whether `group` may chat with `model`.
pub fn group_may_use(active: &ActiveConfig, group: &str, model: &str) -> bool {
    is_chat_model(model) && !active.routes.candidates(&active.snapshot, model, group, None).is_empty()
}

/// A price per 1M tokens (micro-units) as the decimal string manifests use.
fn per_million(micros: u64) -> String {
    oblivious_runtime::money::format_micros(i64::try_from(micros).unwrap_or(i64::MAX))
}

/// The id of the catalog agent made from the resource `name`.
pub fn catalog_agent_id(name: &str) -> Uuid {
    Uuid::new_v5(&CATALOG_NAMESPACE, name.as_bytes())
}

/// The published agent whose id is `id`.
pub fn catalog_agent(snapshot: &Snapshot, id: Uuid) -> Option<&Agent> {
    snapshot.agents.iter().find(|a| catalog_agent_id(&a.name) == id)
}

/// The suggested first questions of the catalog agent a session was made from.
pub fn opening_questions(snapshot: &Snapshot, agent_id: Option<Uuid>) -> Vec<String> {
    agent_id.and_then(|id| catalog_agent(snapshot, id)).map(|a| a.opening_questions.clone()).unwrap_or_default()
}

/// The published agents users of `group` may see.
pub fn catalog_agents(snapshot: &Snapshot, group: &str) -> Vec<AgentView> {
    snapshot
        .agents
        .iter()
        .filter(|a| a.groups.is_empty() || a.groups.iter().any(|g| g == group))
        .map(|a| AgentView {
            id: catalog_agent_id(&a.name),
            source: "catalog",
            name: if a.display_name.is_empty() { a.name.clone() } else { a.display_name.clone() },
            avatar: a.avatar.clone().unwrap_or_default(),
            description: a.description.clone(),
            tags: a.tags.clone(),
            system_prompt: a.system_prompt.clone(),
            model: Some(a.model.clone()).filter(|m| !m.is_empty()),
            temperature: temperature(a.temperature_milli.and_then(|t| i32::try_from(t).ok())),
            opening_message: a.opening_message.clone(),
            opening_questions: a.opening_questions.clone(),
            knowledge_base_ids: a.knowledge_bases.iter().filter_map(|id| id.parse().ok()).collect(),
            created_at: 0,
            updated_at: 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn catalog_ids_are_stable_and_groups_filter_agents() {
        assert_eq!(catalog_agent_id("default/translator"), catalog_agent_id("default/translator"));
        assert_ne!(catalog_agent_id("default/translator"), catalog_agent_id("default/poet"));
        let snapshot = Snapshot {
            agents: vec![
                Agent { name: "default/open".into(), display_name: "Open".into(), ..Agent::default() },
                Agent { name: "default/vip".into(), groups: vec!["vip".into()], ..Agent::default() },
            ],
            ..Snapshot::default()
        };
        let names = |group| catalog_agents(&snapshot, group).into_iter().map(|a| a.name).collect::<Vec<_>>();
        assert_eq!(names("default"), ["Open"]);
        assert_eq!(names("vip"), ["Open", "default/vip"]);
    }

    #[test]
    fn embedding_image_audio_moderation_and_legacy_completion_models_are_not_chat_models() {
        assert!(!is_chat_model("text-embedding-3-small"));
        for name in ["dall-e-3", "gpt-image-1", "tts-1", "whisper-1", "gpt-4o-transcribe", "omni-moderation-latest"] {
            assert!(!is_chat_model(name), "{name}");
        }
        assert!(!is_chat_model("gpt-3.5-turbo-instruct"));
        assert!(is_chat_model("gpt-4o"));
        assert!(is_chat_model("Qwen2.5-7B-Instruct"), "an instruct-tuned chat model");
    }
}
