//! Answers with sources: when a session has knowledge bases, the job searches them for the
//! user's question before asking the model, publishes the `sources` event (before the first
//! token), and gives the model the passages as numbered sources to cite as `[n]`. The sources
//! are stored on the reply, so they come back on reload and in exports.
//!
//! A reply searches the session's knowledge bases, those of the published agent the session
//! was started from (bases an administrator made, named by id in the `Agent` resource), and the
//! topic's own base of attached documents.

use oblivious_store::chat::ChatSession;
use oblivious_store::{KnowledgeBase, StoreResult};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Chat;

/// Characters of a passage shown in a citation (the model gets the whole passage).
const SNIPPET_CHARS: usize = 300;

/// What a reply retrieves from.
#[derive(Debug, Clone)]
pub struct Retrieval {
    pub bases: Vec<KnowledgeBase>,
    /// The user's question.
    pub query: String,
}

/// The bases a reply of `session` searches: its own, its published agent's, and the topic's
/// (`topic_base`); only those that hold vectors, each once.
pub async fn knowledge_bases(
    chat: &Chat,
    session: &ChatSession,
    topic_base: Option<KnowledgeBase>,
) -> StoreResult<Vec<KnowledgeBase>> {
    let store = chat.store();
    let mut bases = Vec::new();
    for id in store.chat_session_knowledge_bases(session.user_id, session.id).await? {
        bases.extend(store.knowledge_base(session.user_id, id).await?);
    }
    for id in published_agent_bases(chat, session.agent_id) {
        match store.published_knowledge_base(id).await? {
            Some(kb) => bases.push(kb),
            None => tracing::warn!(kb = %id, "an Agent names a knowledge base no administrator has; skipped"),
        }
    }
    bases.extend(topic_base);
    bases.retain(|kb| kb.embedding_dims.is_some());
    let mut seen = std::collections::HashSet::new();
    bases.retain(|kb| seen.insert(kb.id));
    Ok(bases)
}

/// The knowledge bases the published agent `agent_id` names (none for a private agent).
fn published_agent_bases(chat: &Chat, agent_id: Option<Uuid>) -> Vec<Uuid> {
    let Some(agent_id) = agent_id else { return Vec::new() };
    let active = chat.gateway.runtime.active();
    crate::catalog::catalog_agent(&active.snapshot, agent_id)
        .map(|agent| agent.knowledge_bases.iter().filter_map(|id| id.parse().ok()).collect())
        .unwrap_or_default()
}

/// The sources for a reply (API.md `Source`) and the prompt block that numbers them; no
/// sources when retrieval fails (the reply goes on without them; the failure is logged).
pub async fn retrieve(
    chat: &Chat,
    user_id: Uuid,
    lane: &oblivious_core::lane::LaneContext,
    retrieval: &Retrieval,
) -> (Vec<Value>, Option<String>) {
    let Some(rag) = &chat.rag else { return (Vec::new(), None) };
    let hits = match oblivious_rag::search::search(
        rag.store(),
        &rag.embedder,
        oblivious_rag::ActingFor { user: user_id, lane },
        &retrieval.bases,
        &retrieval.query,
        None,
        oblivious_rag::search::SearchMode::Hybrid,
    )
    .await
    {
        Ok(hits) => hits,
        Err(error) => {
            tracing::warn!(%error, "retrieval failed; answering without sources");
            return (Vec::new(), None);
        }
    };
    if hits.is_empty() {
        return (Vec::new(), None);
    }
    let mut block = String::from(
        "Answer from the numbered sources below when they are relevant, citing them inline as [1], [2], \
         and so on. If they do not answer the question, say so before answering otherwise.\n",
    );
    let sources = hits
        .iter()
        .enumerate()
        .map(|(i, hit)| {
            let index = i + 1;
            let chunk = &hit.chunk;
            let title = if chunk.heading.is_empty() {
                chunk.file_name.clone()
            } else {
                format!("{} — {}", chunk.file_name, chunk.heading)
            };
            block.push_str(&format!("\n[{index}] {title}\n{}\n", chunk.text.trim()));
            json!({
                "index": index,
                "title": title,
                "url": null,
                "snippet": snippet(&chunk.text),
                "file_id": chunk.file_id,
                "chunk_id": chunk.chunk_id,
                "knowledge_base_id": chunk.knowledge_base_id,
                "heading": chunk.heading,
                "page": chunk.page,
                "score": hit.similarity,
            })
        })
        .collect();
    (sources, Some(block))
}

/// The request with the sources block as a system message before the conversation (after the
/// session's own system prompt).
pub fn with_sources(request: &Value, block: Option<String>) -> Value {
    let Some(block) = block else { return request.clone() };
    let mut request = request.clone();
    if let Some(messages) = request["messages"].as_array_mut() {
        let at = messages.iter().take_while(|m| m["role"] == "system").count();
        messages.insert(at, json!({"role": "system", "content": block}));
    }
    request
}

fn snippet(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_sources_block_follows_the_sessions_system_prompt() {
        let request = json!({"model": "m", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Refunds?"},
        ]});
        let augmented = with_sources(&request, Some("[1] policies".into()));
        let roles: Vec<&str> =
            augmented["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["system", "system", "user"]);
        assert_eq!(augmented["messages"][1]["content"], "[1] policies");
        assert_eq!(with_sources(&request, None), request);
        assert_eq!(snippet(&"é".repeat(400)).chars().count(), SNIPPET_CHARS + 1);
    }
}
