//! RAG's model calls through the relay — `POST /v1/embeddings` and `POST /v1/rerank` — as an
//! internal service acting for the user (`OBLIVIOUS_INTERNAL_TOKEN` plus `x-oblivious-user-id`),
//! exactly as chat calls it: the user's quota, limits and bill apply, and lane routing is the
//! relay hop's. A 429 is waited out (its `Retry-After`, else exponential backoff) a few times;
//! any other refusal fails the call.

use std::sync::Arc;
use std::time::Duration;

use oblivious_core::edge::{Hops, USER_HEADER};
use oblivious_core::lane::LaneContext;
use serde_json::{Value, json};
use uuid::Uuid;

/// Why a batch could not be embedded; shown on the file as its failure reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("embedding failed: {message}")]
pub struct EmbedError {
    pub message: String,
    /// Worth trying again later (the relay unreachable, rate limited, a server error), as
    /// opposed to a refusal that will not change (an unknown model, no money).
    pub transient: bool,
}

impl EmbedError {
    fn lasting(message: impl Into<String>) -> Self {
        EmbedError { message: message.into(), transient: false }
    }

    fn transient(message: impl Into<String>) -> Self {
        EmbedError { message: message.into(), transient: true }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Wait before the first retry of a 429 without `Retry-After`; doubled each time.
    pub first: Duration,
    /// Longest single wait (also caps a `Retry-After`).
    pub max: Duration,
    pub retries: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { first: Duration::from_millis(500), max: Duration::from_secs(30), retries: 5 }
    }
}

/// Who a model call acts for: the user (whose quota and bill apply) and the lane of the request
/// that led to it (its headers go to the relay hop, so a canary's retrieval and ingestion stay
/// in the canary lane).
#[derive(Debug, Clone, Copy)]
pub struct ActingFor<'a> {
    pub user: Uuid,
    pub lane: &'a LaneContext,
}

#[derive(Clone)]
pub struct Embedder {
    http: reqwest::Client,
    relay_url: String,
    internal_token: String,
    hops: Arc<Hops>,
    pub backoff: Backoff,
}

impl Embedder {
    pub fn new(relay_url: &str, internal_token: &str, hops: Arc<Hops>) -> Self {
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build().unwrap_or_default();
        Embedder {
            http,
            relay_url: relay_url.trim_end_matches('/').to_string(),
            internal_token: internal_token.into(),
            hops,
            backoff: Backoff::default(),
        }
    }

    /// One vector per input, in order, embedded with `model`.
    pub async fn embed(&self, who: ActingFor<'_>, model: &str, inputs: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = json!({"model": model, "input": inputs, "encoding_format": "float"});
        vectors(&self.post(who, "embeddings", &body).await?, inputs.len())
    }

    /// The relevance of each of `documents` to `query` by the rerank `model`:
    /// `(index into documents, score)`, best first.
    pub async fn rerank(
        &self,
        who: ActingFor<'_>,
        model: &str,
        query: &str,
        documents: &[String],
    ) -> Result<Vec<(usize, f64)>, EmbedError> {
        let body = json!({"model": model, "query": query, "documents": documents, "return_documents": false});
        relevances(&self.post(who, "rerank", &body).await?, documents.len())
    }

    /// The relay's 200 answer to `POST /v1/{path}`, waiting out 429s.
    async fn post(&self, who: ActingFor<'_>, path: &str, body: &Value) -> Result<Value, EmbedError> {
        let mut wait = self.backoff.first;
        for attempt in 0..=self.backoff.retries {
            let build = |base: &str| {
                self.http
                    .post(format!("{base}/v1/{path}"))
                    .bearer_auth(&self.internal_token)
                    .header(USER_HEADER, who.user.to_string())
                    .json(body)
            };
            let response = self
                .hops
                .send("relay", &self.relay_url, who.lane, build)
                .await
                .map_err(|e| EmbedError::transient(format!("the model service is unreachable ({e})")))?;
            let status = response.status().as_u16();
            if status == 429 && attempt < self.backoff.retries {
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_secs);
                tokio::time::sleep(retry_after.unwrap_or(wait).min(self.backoff.max)).await;
                wait = (wait * 2).min(self.backoff.max);
                continue;
            }
            let value: Value =
                response.json().await.map_err(|e| EmbedError::transient(format!("unreadable answer ({e})")))?;
            if status != 200 {
                let message = format!(
                    "{} (HTTP {status})",
                    value["error"]["message"].as_str().unwrap_or("the model service refused")
                );
                let transient = status == 429 || status >= 500;
                return Err(EmbedError { message, transient });
            }
            return Ok(value);
        }
        Err(EmbedError::transient("rate limited; retries exhausted"))
    }
}

/// The `(index, relevance_score)` of a rerank answer, best first; an index out of range is an error.
fn relevances(answer: &Value, documents: usize) -> Result<Vec<(usize, f64)>, EmbedError> {
    let results = answer["results"].as_array().ok_or_else(|| EmbedError::lasting("the answer has no results"))?;
    let mut out = Vec::with_capacity(results.len());
    for result in results {
        let index = result["index"].as_u64().map(|i| i as usize).filter(|i| *i < documents);
        let score = result["relevance_score"].as_f64();
        match (index, score) {
            (Some(index), Some(score)) => out.push((index, score)),
            _ => return Err(EmbedError::lasting("a rerank result has no valid index or score")),
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(out)
}

/// The vectors of an OpenAI embeddings answer, ordered by `index`.
fn vectors(answer: &Value, expected: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    let data = answer["data"].as_array().ok_or_else(|| EmbedError::lasting("the answer has no data"))?;
    let mut out: Vec<(u64, Vec<f32>)> = Vec::with_capacity(data.len());
    for (position, item) in data.iter().enumerate() {
        let index = item["index"].as_u64().unwrap_or(position as u64);
        let vector = item["embedding"]
            .as_array()
            .ok_or_else(|| EmbedError::lasting("an embedding is not a list of numbers"))?
            .iter()
            .map(|x| x.as_f64().map(|x| x as f32))
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| EmbedError::lasting("an embedding is not a list of numbers"))?;
        out.push((index, vector));
    }
    if out.len() != expected {
        return Err(EmbedError::lasting(format!("{} vectors for {expected} inputs", out.len())));
    }
    out.sort_by_key(|(index, _)| *index);
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn vectors_come_back_in_input_order_and_a_short_answer_is_an_error() {
        let answer = json!({"data": [
            {"index": 1, "embedding": [0.5, 0.5]},
            {"index": 0, "embedding": [1.0, 0.0]},
        ]});
        assert_eq!(vectors(&answer, 2).unwrap(), vec![vec![1.0, 0.0], vec![0.5, 0.5]]);
        assert!(vectors(&answer, 3).is_err());
        assert!(vectors(&json!({"data": [{"embedding": "AAAA"}]}), 1).is_err());
    }

    #[test]
    fn rerank_results_come_back_best_first_and_a_foreign_index_is_an_error() {
        let answer = json!({"results": [
            {"index": 0, "relevance_score": 0.2},
            {"index": 2, "relevance_score": 0.9},
        ]});
        assert_eq!(relevances(&answer, 3).unwrap(), vec![(2, 0.9), (0, 0.2)]);
        assert!(relevances(&answer, 2).is_err(), "index 2 of two documents");
        assert!(relevances(&json!({}), 1).is_err());
    }
}
