//! A topic's own knowledge base: the documents attached to its messages are ingested there (a
//! hidden base, made on the first document, gone with the topic), so every later answer of the
//! topic can search them — also a document too long to give the model whole, and one attached
//! further back than the newest messages whose files are sent.
//!
//! Its embedding model is the one the session's knowledge bases use (known to work for this
//! user), else the first model named as an embedding model that the user's group can reach.
//! With neither, or without a RAG service, documents are only given whole (cut when long).

use std::collections::HashSet;

use oblivious_core::telemetry::propagation;
use oblivious_store::chat::ChatSession;
use oblivious_store::knowledge::status;
use oblivious_store::{KnowledgeBase, QueuedBy, StoreResult, UserRecord, now_ms};
use serde_json::Value;
use uuid::Uuid;

use crate::Chat;

/// What a reply knows of its topic's files.
#[derive(Debug, Default)]
pub struct TopicFiles {
    /// The topic's base, once a document was attached and it could be made.
    pub base: Option<KnowledgeBase>,
    /// The files of the base that are indexed (searchable).
    pub indexed: HashSet<Uuid>,
}

impl TopicFiles {
    /// The topic's base and which of its files are indexed.
    pub async fn of(chat: &Chat, user_id: Uuid, topic_id: Uuid) -> StoreResult<Self> {
        let Some(base) = chat.store().topic_knowledge_base(user_id, topic_id).await? else {
            return Ok(TopicFiles::default());
        };
        let files = chat.store().knowledge_files(user_id, base.id).await?;
        let indexed = files.into_iter().filter(|f| f.status == status::INDEXED).map(|f| f.file_id).collect();
        Ok(TopicFiles { base: Some(base), indexed })
    }
}

/// Queues the documents among `attachments` (API.md `Attachment`s) for the topic's base, making
/// the base on first use. Best effort: a failure is logged and the documents are still given to
/// the model whole.
pub async fn add_documents(
    chat: &Chat,
    user: &UserRecord,
    session: &ChatSession,
    topic_id: Uuid,
    attachments: &Value,
    lane: &oblivious_core::lane::LaneContext,
) {
    let Some(rag) = &chat.rag else { return };
    let documents: Vec<Uuid> = attachments
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["kind"] == "document")
        .filter_map(|a| a["file_id"].as_str()?.parse().ok())
        .collect();
    if documents.is_empty() {
        return;
    }
    let result = async {
        let Some(base) = topic_base(chat, user, session, topic_id).await? else {
            tracing::info!(topic = %topic_id, "no embedding model for the topic's documents; they are given whole");
            return Ok(());
        };
        let traceparent = propagation::current_traceparent();
        let queued_by = QueuedBy { lane: lane.tag(), traceparent: traceparent.as_deref() };
        for file_id in documents {
            chat.store().add_knowledge_file(user.id, base.id, file_id, queued_by, now_ms()).await?;
        }
        rag.ingestor.wake();
        Ok::<(), oblivious_store::StoreError>(())
    }
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, topic = %topic_id, "cannot queue the topic's documents for search");
    }
}

/// The topic's base, made now if it has none; `None` when no embedding model can make one.
async fn topic_base(
    chat: &Chat,
    user: &UserRecord,
    session: &ChatSession,
    topic_id: Uuid,
) -> StoreResult<Option<KnowledgeBase>> {
    if let Some(base) = chat.store().topic_knowledge_base(user.id, topic_id).await? {
        return Ok(Some(base));
    }
    let Some(model) = embedding_model(chat, user, session).await? else { return Ok(None) };
    let mut base = oblivious_rag::models::new_knowledge_base(user.id, model, now_ms());
    base.name = "Topic files".into();
    base.topic_id = Some(topic_id);
    chat.store().ensure_topic_knowledge_base(&base).await.map(Some)
}

/// The session's bases' model the user can still embed with, else the first embedding model
/// of their group.
async fn embedding_model(chat: &Chat, user: &UserRecord, session: &ChatSession) -> StoreResult<Option<String>> {
    let active = chat.gateway.runtime.active();
    for id in chat.store().chat_session_knowledge_bases(user.id, session.id).await? {
        if let Some(kb) = chat.store().knowledge_base(user.id, id).await?
            && oblivious_rag::models::reaches_openai_family(&active, &user.group, &kb.embedding_model)
        {
            return Ok(Some(kb.embedding_model));
        }
    }
    Ok(oblivious_rag::models::embedding_models(&active, &user.group).into_iter().next())
}
