//! Which models embed, and what a new knowledge base starts with.

use oblivious_config::Provider;
use oblivious_runtime::ActiveConfig;
use oblivious_store::KnowledgeBase;
use uuid::Uuid;

/// Whether a model's name says it embeds (`text-embedding-3-small`, `jina-embed-v3`): such a
/// model is no partner for a conversation, and is what a topic's documents are embedded with
/// when nothing else says which. (`bge-m3` or `e5-small` are not recognised: typed in, they work.)
pub fn is_embedding_model_name(name: &str) -> bool {
    name.to_ascii_lowercase().contains("embed")
}

/// Whether `group` reaches `model` through an OpenAI-family channel: the only ones the relay
/// sends `/v1/embeddings` and `/v1/rerank` to (it translates no other dialect for them).
pub fn reaches_openai_family(active: &ActiveConfig, group: &str, model: &str) -> bool {
    active.routes.candidates(&active.snapshot, model, group, None).iter().any(|c| {
        matches!(
            active.snapshot.channels[c.channel].provider,
            Provider::Openai | Provider::AzureOpenai | Provider::OpenaiCompatible
        )
    })
}

/// The models named as embedding models that `group` can embed with, in the configuration's order.
pub fn embedding_models(active: &ActiveConfig, group: &str) -> Vec<String> {
    active
        .routes
        .model_names()
        .iter()
        .filter(|name| is_embedding_model_name(name) && reaches_openai_family(active, group, name))
        .cloned()
        .collect()
}

/// A new knowledge base of `user_id` embedding with `embedding_model`, with the default
/// settings: 512-token chunks overlapping by 64, five results, no threshold, both legs weighed
/// alike.
pub fn new_knowledge_base(user_id: Uuid, embedding_model: String, now: i64) -> KnowledgeBase {
    KnowledgeBase {
        id: Uuid::now_v7(),
        user_id,
        name: String::new(),
        description: String::new(),
        embedding_model,
        embedding_dims: None,
        chunk_tokens: 512,
        chunk_overlap: 64,
        top_k: 5,
        score_threshold_milli: 0,
        vector_weight_milli: 500,
        rerank_model: None,
        topic_id: None,
        created_at: now,
        updated_at: now,
    }
}
