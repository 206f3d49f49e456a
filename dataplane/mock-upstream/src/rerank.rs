//! `POST /v1/rerank`: the Cohere/Jina rerank shape, scored lexically so tests can say which
//! document must come first: a document's relevance is the share of the query's distinct words
//! it contains (0 to 1), ties kept in input order. Answers as Jina does: `results` best first
//! (`index`, `relevance_score`, the `document` when `return_documents` is true), `usage`.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::answer::count_words;
use crate::embeddings::words_of;
use crate::errors::{self, Provider};
use crate::prelude;

pub async fn rerank(headers: &HeaderMap, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return errors::bad_request(Provider::OpenAi, "We could not parse the JSON body of your request.")
            .into_response();
    };
    let key = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let Some(model) = request.get("model").and_then(Value::as_str) else {
        return errors::bad_request(Provider::OpenAi, "you must provide a model parameter").into_response();
    };
    if let Err(response) = prelude(Provider::OpenAi, key, model, headers).await {
        return response;
    }
    let (Some(query), Some(documents)) =
        (request.get("query").and_then(Value::as_str), request.get("documents").and_then(Value::as_array))
    else {
        return errors::bad_request(Provider::OpenAi, "'query' and 'documents' are required").into_response();
    };
    let texts: Vec<String> = documents
        .iter()
        .map(|d| d.as_str().or_else(|| d.get("text").and_then(Value::as_str)).unwrap_or_default().to_string())
        .collect();
    let mut results: Vec<(usize, f64)> = texts.iter().enumerate().map(|(i, t)| (i, relevance(query, t))).collect();
    results.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if let Some(top_n) = request.get("top_n").and_then(Value::as_u64) {
        results.truncate(top_n as usize);
    }
    let with_documents = request.get("return_documents").and_then(Value::as_bool) == Some(true);
    let results: Vec<Value> = results
        .into_iter()
        .map(|(index, score)| {
            let mut result = json!({"index": index, "relevance_score": score});
            if with_documents {
                result["document"] = json!({"text": texts[index]});
            }
            result
        })
        .collect();
    let tokens: u64 = texts.iter().map(|t| count_words(query) + count_words(t)).sum();
    axum::Json(json!({"model": model, "results": results, "usage": {"total_tokens": tokens}})).into_response()
}

/// The share of the query's distinct words that `text` contains.
fn relevance(query: &str, text: &str) -> f64 {
    let mut wanted = words_of(query);
    wanted.sort();
    wanted.dedup();
    if wanted.is_empty() {
        return 0.0;
    }
    let present = words_of(text);
    wanted.iter().filter(|w| present.contains(w)).count() as f64 / wanted.len() as f64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn relevance_is_the_share_of_query_words_present() {
        assert_eq!(relevance("refund days", "Refunds take 14 days"), 0.5);
        assert_eq!(relevance("refund days", "A refund within days"), 1.0);
        assert_eq!(relevance("", "anything"), 0.0);
    }
}
