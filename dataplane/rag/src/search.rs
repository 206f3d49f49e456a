//! Hybrid retrieval over one or more knowledge bases: the query's vector (embedded through the
//! relay, billed to the user) finds the nearest chunks of each base, its words (English function
//! words left out, see `stopwords`) find the chunks that contain them, and the two legs are fused
//! by a convex combination of their scores, each scaled to [0, 1] over its own candidates and
//! weighted by each base's `vector_weight`. The score threshold (a minimum cosine similarity to the
//! question) is applied last, to the fused candidates, so a strong full-text match is judged by
//! the same measure.
//!
//! Why scores and not reciprocal rank fusion (which the design first named): RRF sees only ranks,
//! so a chunk both legs found at middling ranks beats the vector leg's clear first, and the
//! incidental word matches of a paraphrase push answers out; scaled scores keep how far apart the
//! candidates are. Bruch et al., "An Analysis of Fusion Functions for Hybrid Retrieval" (2022),
//! found this convex combination better than RRF and less sensitive to its parameter. Measured on
//! `e2e/rag` (58 documents, 68 labelled questions, multilingual-e5-small, SQLite's bm25; recall@5
//! / MRR): vector alone 0.993/0.942, text alone 0.858/0.834; RRF (k = 60) 0.958/0.912 with
//! function words in the text query and 0.978/0.933 without; this fusion 0.973/0.961 (0.973/0.939
//! with function words). Its MRR stays above both legs' at every weight from 0.4 to 0.7 and
//! candidate depth from 10 to 40, and with PostgreSQL's `ts_rank` (0.978/0.958). The gain is on
//! questions that hinge on a rare token (MRR 1.000, the vector leg 0.940); the loss is on
//! paraphrases, where the text leg has only incidental words to offer (0.879/0.803, the vector
//! leg 1.000/0.859): an answer the vector leg ranks fifth by a cosine margin of 0.001 gives way to
//! chunks both legs found. e2e/rag/NOTES.md has the variants tried.

use std::collections::HashMap;

use oblivious_store::{ChunkHit, KnowledgeBase, Store};
use serde::Serialize;
use tracing::Instrument;
use uuid::Uuid;

use crate::embed::{ActingFor, EmbedError, Embedder};
use crate::stopwords::is_stopword;

/// Candidates each leg returns per result wanted.
const CANDIDATES_PER_RESULT: usize = 4;
/// Words of a question used for full-text search.
const MAX_QUERY_WORDS: usize = 32;

/// One retrieved chunk and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    #[serde(flatten)]
    pub chunk: ChunkHitView,
    /// Fused score in [0, 1], higher is better (not comparable across queries).
    pub score: f64,
    /// Cosine similarity of the chunk to the question.
    pub similarity: Option<f32>,
    /// 1-based ranks in each leg, when the chunk was found there.
    pub vector_rank: Option<usize>,
    pub text_rank: Option<usize>,
    /// The rerank model's relevance, when a base has one and it answered.
    pub rerank_score: Option<f64>,
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
    /// The text leg's relevance, on the backend's own scale (bm25 or `ts_rank`).
    text_score: Option<f64>,
}

impl Candidate {
    /// The vector leg's scaled score weighted by `vector_weight` plus the text leg's weighted by
    /// the rest; a leg that did not find the chunk gives it 0, except that the vector leg scores a
    /// text-only chunk by its similarity (usually below the leg's last candidate, so 0 too).
    fn fused(&self, vector_weight: f64, vector: Option<Range>, text: Option<Range>) -> f64 {
        let vector_score = match (self.similarity, vector) {
            (Some(similarity), Some(range)) => range.scale(f64::from(similarity)),
            _ => 0.0,
        };
        let text_score = match (self.text_score, text) {
            (Some(score), Some(range)) => range.scale(score),
            _ => 0.0,
        };
        vector_weight * vector_score + (1.0 - vector_weight) * text_score
    }
}

/// The lowest and highest score of one leg's candidates, to scale its scores to [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Range {
    low: f64,
    high: f64,
}

impl Range {
    /// The range of `scores`, `None` when there are none.
    fn of(scores: impl IntoIterator<Item = f64>) -> Option<Range> {
        scores.into_iter().map(|score| Range { low: score, high: score }).reduce(Range::union)
    }

    fn union(self, other: Range) -> Range {
        Range { low: self.low.min(other.low), high: self.high.max(other.high) }
    }

    /// `score` scaled so that the leg's best candidate is 1 and its last 0, clamped outside them.
    /// Candidates that all score alike are all 1: each is as good a match as the leg found.
    fn scale(self, score: f64) -> f64 {
        let width = self.high - self.low;
        if width > 0.0 {
            ((score - self.low) / width).clamp(0.0, 1.0)
        } else if score >= self.low {
            1.0
        } else {
            0.0
        }
    }
}

/// The `top_k` (else the largest of the bases' `top_k`) chunks of `bases` that best answer
/// `query`, best first, for `user` (who pays for the query's embedding). A one-leg `mode`
/// still embeds the query for text search when a threshold needs the similarity.
#[tracing::instrument(name = "rag.search", skip_all, fields(oblivious.bases = bases.len(), oblivious.mode = ?mode))]
pub async fn search(
    store: &Store,
    embedder: &Embedder,
    who: ActingFor<'_>,
    bases: &[KnowledgeBase],
    query: &str,
    top_k: Option<usize>,
    mode: SearchMode,
) -> Result<Vec<Hit>, SearchError> {
    let top_k = top_k.unwrap_or_else(|| bases.iter().map(|kb| kb.top_k.max(1) as usize).max().unwrap_or(5));
    let limit = (top_k * CANDIDATES_PER_RESULT) as i64;
    let by_id: HashMap<Uuid, &KnowledgeBase> = bases.iter().map(|kb| (kb.id, kb)).collect();
    let mut candidates: HashMap<Uuid, Candidate> = HashMap::new();

    // Vector leg: one query embedding per embedding model. Similarities under one model compare
    // across bases, so the leg's range is per model.
    let mut query_vectors: HashMap<&str, Vec<f32>> = HashMap::new();
    let mut vector_ranges: HashMap<&str, Range> = HashMap::new();
    for kb in bases.iter().filter(|kb| kb.embedding_dims.is_some()) {
        if !query_vectors.contains_key(kb.embedding_model.as_str()) {
            let embedding = tracing::info_span!("rag.embed_query");
            let vector = embedder.embed(who, &kb.embedding_model, &[query.to_string()]).instrument(embedding).await?;
            query_vectors.insert(&kb.embedding_model, vector.into_iter().next().unwrap_or_default());
        }
        let vector = &query_vectors[kb.embedding_model.as_str()];
        let dims = kb.embedding_dims.unwrap_or_default();
        if !mode.vector() || vector.len() as i32 != dims {
            continue;
        }
        let found =
            store.vector_search(kb.id, dims, vector, limit).instrument(tracing::info_span!("rag.vector")).await?;
        if let Some(range) = Range::of(found.iter().map(|(_, similarity)| f64::from(*similarity))) {
            vector_ranges.entry(&kb.embedding_model).and_modify(|known| *known = known.union(range)).or_insert(range);
        }
        for (rank, (id, similarity)) in found.into_iter().enumerate() {
            let candidate = candidates.entry(id).or_default();
            candidate.similarity = Some(similarity);
            candidate.vector_rank = Some(rank + 1);
        }
    }

    // Full-text leg, across all bases at once.
    let mut text_range = None;
    if mode.text() {
        let words = query_words(query);
        let kb_ids: Vec<Uuid> = bases.iter().map(|kb| kb.id).collect();
        let found = store.text_search(&kb_ids, &words, limit).instrument(tracing::info_span!("rag.text")).await?;
        text_range = Range::of(found.iter().map(|(_, score)| *score));
        for (rank, (id, score)) in found.into_iter().enumerate() {
            let candidate = candidates.entry(id).or_default();
            candidate.text_rank = Some(rank + 1);
            candidate.text_score = Some(score);
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
            score: candidate.fused(
                mode.vector_weight(kb),
                vector_ranges.get(kb.embedding_model.as_str()).copied(),
                text_range,
            ),
            chunk: chunk.into(),
            similarity: candidate.similarity,
            vector_rank: candidate.vector_rank,
            text_rank: candidate.text_rank,
            rerank_score: None,
        });
    }
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.chunk.chunk_id.cmp(&b.chunk.chunk_id)));
    if mode == SearchMode::Hybrid
        && let Some(model) = bases.iter().find_map(|kb| kb.rerank_model.as_deref())
    {
        hits = rerank(embedder, who, model, query, hits).instrument(tracing::info_span!("rag.rerank")).await;
    }
    hits.truncate(top_k);
    Ok(hits)
}

/// The fused candidates in the order of the rerank `model` (the first base's that has one; one
/// call for all bases, so their passages compete on one scale). A reranker that fails leaves the
/// fused order: retrieval does not fail because an optional model is down.
async fn rerank(embedder: &Embedder, who: ActingFor<'_>, model: &str, query: &str, hits: Vec<Hit>) -> Vec<Hit> {
    if hits.len() < 2 {
        return hits;
    }
    let documents: Vec<String> = hits
        .iter()
        .map(|h| {
            if h.chunk.heading.is_empty() {
                h.chunk.text.clone()
            } else {
                format!("{}\n\n{}", h.chunk.heading, h.chunk.text)
            }
        })
        .collect();
    let order = match embedder.rerank(who, model, query, &documents).await {
        Ok(order) => order,
        Err(error) => {
            tracing::warn!(%error, model, "rerank failed; keeping the fused order");
            return hits;
        }
    };
    let mut slots: Vec<Option<Hit>> = hits.into_iter().map(Some).collect();
    let mut reranked = Vec::with_capacity(slots.len());
    for (index, score) in order {
        if let Some(mut hit) = slots.get_mut(index).and_then(Option::take) {
            hit.rerank_score = Some(score);
            reranked.push(hit);
        }
    }
    // Candidates the model left out (a `top_n`, a short answer) follow in fused order.
    reranked.extend(slots.into_iter().flatten());
    reranked
}

/// The words the full-text leg looks for: the question's distinct lower-cased runs of letters and
/// digits, without English function words — unless the question has nothing else.
pub fn query_words(query: &str) -> Vec<String> {
    let (mut content, mut function): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for word in query.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()) {
        let word = word.to_lowercase();
        let words = if is_stopword(&word) { &mut function } else { &mut content };
        if words.len() < MAX_QUERY_WORDS && !words.contains(&word) {
            words.push(word);
        }
        if content.len() == MAX_QUERY_WORDS {
            break;
        }
    }
    if content.is_empty() { function } else { content }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn query_words_leave_out_function_words_and_keep_codes_and_other_languages() {
        assert_eq!(
            query_words("What should I do about E-3302 on a customer's Gate?"),
            ["e", "3302", "customer", "gate"]
        );
        assert_eq!(query_words("Was bedeutet der Fehler E-4471?"), ["bedeutet", "der", "fehler", "e", "4471"]);
        assert_eq!(query_words("家用电池的保修期是多久？"), ["家用电池的保修期是多久"]);
    }

    #[test]
    fn a_question_of_function_words_alone_still_searches_them() {
        assert_eq!(query_words("Who are they, and who were they?"), ["who", "are", "they", "and", "were"]);
        assert!(query_words(" ?! ").is_empty());
    }

    #[test]
    fn query_words_are_distinct_and_capped() {
        let long: String = (0..100).map(|i| format!("word{} the word{} ", i, i)).collect();
        let words = query_words(&long);
        assert_eq!(words.len(), MAX_QUERY_WORDS);
        assert_eq!(words[..2], ["word0", "word1"]);
    }

    #[test]
    fn a_range_scales_the_best_candidate_to_one_and_the_last_to_zero() {
        let range = Range::of([0.80, 0.86, 0.83]).unwrap();
        assert_eq!((range.scale(0.86), range.scale(0.80)), (1.0, 0.0));
        assert!((range.scale(0.83) - 0.5).abs() < 1e-9);
        assert_eq!((range.scale(0.5), range.scale(0.9)), (0.0, 1.0), "clamped outside the candidates");
        let alike = Range::of([2.0, 2.0]).unwrap();
        assert_eq!((alike.scale(2.0), alike.scale(1.0)), (1.0, 0.0));
        assert_eq!(Range::of([]), None);
    }

    fn candidate(similarity: f32, text_score: Option<f64>) -> Candidate {
        Candidate { similarity: Some(similarity), text_score, ..Candidate::default() }
    }

    #[test]
    fn the_vector_legs_clear_first_beats_a_chunk_both_legs_found_in_the_middle() {
        // What reciprocal rank fusion got wrong: found by both legs, a middling chunk outranked
        // the one the vector leg clearly preferred.
        let vector = Range::of([0.70, 0.90]);
        let text = Range::of([1.0, 9.0]);
        let clear_first = candidate(0.90, None);
        let middling = candidate(0.75, Some(4.0));
        assert!(clear_first.fused(0.5, vector, text) > middling.fused(0.5, vector, text));
        // A strong word match (a rare code) still lifts a chunk the vector leg ranked lower.
        let code = candidate(0.85, Some(9.0));
        assert!(code.fused(0.5, vector, text) > clear_first.fused(0.5, vector, text));
    }

    #[test]
    fn a_weight_of_zero_or_one_ranks_by_one_leg_alone() {
        let (vector, text) = (Range::of([0.70, 0.90]), Range::of([1.0, 9.0]));
        let near = candidate(0.90, Some(1.0));
        let wordy = candidate(0.70, Some(9.0));
        assert!(near.fused(1.0, vector, text) > wordy.fused(1.0, vector, text));
        assert!(wordy.fused(0.0, vector, text) > near.fused(0.0, vector, text));
        assert_eq!(wordy.fused(0.0, None, text), 1.0, "text mode has no vector range");
    }
}
