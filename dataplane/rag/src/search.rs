//! Hybrid retrieval over one or more knowledge bases: the query's vector (embedded through the
//! relay, billed to the user) finds the nearest chunks of each base, its words find the chunks
//! that contain them, and reciprocal rank fusion merges the two lists — weighted by each base's
//! `vector_weight`. The score threshold (a minimum cosine similarity to the question) is applied
//! last, to the fused candidates, so a strong full-text match is judged by the same measure.

use std::collections::HashMap;

use oblivious_store::{ChunkHit, KnowledgeBase, Store};
use serde::Serialize;
use uuid::Uuid;

use crate::embed::{EmbedError, Embedder};

/// The rank constant of reciprocal rank fusion (the usual 60: ranks matter, their gaps less).
const RRF_K: f64 = 60.0;
/// Candidates each leg returns per result wanted.
const CANDIDATES_PER_RESULT: usize = 4;
/// Words of a question used for full-text search.
const MAX_QUERY_WORDS: usize = 32;

/// One retrieved chunk and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    #[serde(flatten)]
    pub chunk: ChunkHitView,
    /// Fused score, higher is better (not comparable across queries).
    pub score: f64,
    /// Cosine similarity of the chunk to the question.
    pub similarity: Option<f32>,
    /// 1-based ranks in each leg, when the chunk was found there.
    pub vector_rank: Option<usize>,
    pub text_rank: Option<usize>,
}

/// What a citation shows of a chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChunkHitView {
    pub chunk_id: Uuid,
    pub knowledge_base_id: Uuid,
    pub file_id: Uuid,
    pub file_name: String,
    pub heading: String,
    pub page: Option<i32>,
    pub text: String,
}

impl From<ChunkHit> for ChunkHitView {
    fn from(hit: ChunkHit) -> Self {
        ChunkHitView {
            chunk_id: hit.id,
            knowledge_base_id: hit.kb_id,
            file_id: hit.file_id,
            file_name: hit.file_name,
            heading: hit.heading,
            page: hit.page,
            text: hit.text,
        }
    }
}

/// Which legs a search runs: both (the default, and what chat uses), or one alone to compare
/// them (the knowledge-base test box, the retrieval-quality test).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    #[default]
    Hybrid,
    Vector,
    Text,
}

impl SearchMode {
    fn vector(self) -> bool {
        self != SearchMode::Text
    }

    fn text(self) -> bool {
        self != SearchMode::Vector
    }

    /// The vector leg's weight in fusion: the base's setting, or all of it for one leg alone.
    fn vector_weight(self, kb: &KnowledgeBase) -> f64 {
        match self {
            SearchMode::Hybrid => f64::from(kb.vector_weight_milli) / 1000.0,
            SearchMode::Vector => 1.0,
            SearchMode::Text => 0.0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Store(#[from] oblivious_store::StoreError),
}

/// A candidate from either leg, before fusion.
#[derive(Default)]
struct Candidate {
    similarity: Option<f32>,
    vector_rank: Option<usize>,
    text_rank: Option<usize>,
}

impl Candidate {
    /// Reciprocal rank fusion, the vector leg weighted by `vector_weight`, the text leg by the rest.
    fn fused(&self, vector_weight: f64) -> f64 {
        let leg = |rank: Option<usize>, weight: f64| rank.map_or(0.0, |r| weight / (RRF_K + r as f64));
        leg(self.vector_rank, vector_weight) + leg(self.text_rank, 1.0 - vector_weight)
    }
}

/// The `top_k` (else the largest of the bases' `top_k`) chunks of `bases` that best answer
/// `query`, best first, for `user` (who pays for the query's embedding). A one-leg `mode`
/// still embeds the query for text search when a threshold needs the similarity.
pub async fn search(
    store: &Store,
    embedder: &Embedder,
    user: Uuid,
    bases: &[KnowledgeBase],
    query: &str,
    top_k: Option<usize>,
    mode: SearchMode,
) -> Result<Vec<Hit>, SearchError> {
    let top_k = top_k.unwrap_or_else(|| bases.iter().map(|kb| kb.top_k.max(1) as usize).max().unwrap_or(5));
    let limit = (top_k * CANDIDATES_PER_RESULT) as i64;
    let by_id: HashMap<Uuid, &KnowledgeBase> = bases.iter().map(|kb| (kb.id, kb)).collect();
    let mut candidates: HashMap<Uuid, Candidate> = HashMap::new();

    // Vector leg: one query embedding per embedding model.
    let mut query_vectors: HashMap<&str, Vec<f32>> = HashMap::new();
    for kb in bases.iter().filter(|kb| kb.embedding_dims.is_some()) {
        if !query_vectors.contains_key(kb.embedding_model.as_str()) {
            let vector = embedder.embed(user, &kb.embedding_model, &[query.to_string()]).await?;
            query_vectors.insert(&kb.embedding_model, vector.into_iter().next().unwrap_or_default());
        }
        let vector = &query_vectors[kb.embedding_model.as_str()];
        let dims = kb.embedding_dims.unwrap_or_default();
        if !mode.vector() || vector.len() as i32 != dims {
            continue;
        }
        for (rank, (id, similarity)) in store.vector_search(kb.id, dims, vector, limit).await?.into_iter().enumerate() {
            let candidate = candidates.entry(id).or_default();
            candidate.similarity = Some(similarity);
            candidate.vector_rank = Some(rank + 1);
        }
    }

    // Full-text leg, across all bases at once.
    if mode.text() {
        let words = query_words(query);
        let kb_ids: Vec<Uuid> = bases.iter().map(|kb| kb.id).collect();
        for (rank, (id, _)) in store.text_search(&kb_ids, &words, limit).await?.into_iter().enumerate() {
            candidates.entry(id).or_default().text_rank = Some(rank + 1);
        }
    }

    let ids: Vec<Uuid> = candidates.keys().copied().collect();
    let chunks = store.chunks_by_id(&ids).await?;
    let mut hits = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        let Some(kb) = by_id.get(&chunk.kb_id) else { continue };
        let Some(mut candidate) = candidates.remove(&chunk.id) else { continue };
        if candidate.similarity.is_none()
            && let Some(vector) = query_vectors.get(kb.embedding_model.as_str())
        {
            candidate.similarity = store.chunk_similarities(&[chunk.id], vector).await?.get(&chunk.id).copied();
        }
        // The threshold last, on the same measure for every candidate.
        let threshold = kb.score_threshold_milli as f32 / 1000.0;
        if threshold > 0.0 && candidate.similarity.is_none_or(|s| s < threshold) {
            continue;
        }
        hits.push(Hit {
            score: candidate.fused(mode.vector_weight(kb)),
            chunk: chunk.into(),
            similarity: candidate.similarity,
            vector_rank: candidate.vector_rank,
            text_rank: candidate.text_rank,
        });
    }
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.chunk.chunk_id.cmp(&b.chunk.chunk_id)));
    hits.truncate(top_k);
    Ok(hits)
}

/// The distinct words of a question: lower-cased runs of letters and digits.
pub fn query_words(query: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in query.split(|c: char| !c.is_alphanumeric()) {
        let word = word.to_lowercase();
        if !word.is_empty() && !words.contains(&word) {
            words.push(word);
        }
        if words.len() == MAX_QUERY_WORDS {
            break;
        }
    }
    words
}
