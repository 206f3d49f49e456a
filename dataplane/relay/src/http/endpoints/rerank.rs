//! `POST /v1/rerank`: the Cohere/Jina shape (`query`, `documents`, `top_n`) that Jina, Cohere's
//! compatibility API, vLLM, TEI and LiteLLM serve at `{base}/rerank`; knowledge-base retrieval
//! uses it. Billed by input tokens — the upstream's `usage.total_tokens` (Jina, vLLM), else
//! estimated from the text (Cohere reports search units only) — and by search units
//! (`perSearch`): Cohere's `meta.billed_units.search_units` when reported, else one per query
//! and started hundred documents, as Cohere counts them.

use oblivious_core::ApiError;
use serde_json::Value;

use super::{Answered, BodyKind, Endpoint, Measured, Plan, Request};
use crate::billing::{Estimate, Units, estimate_text_tokens};
use crate::ir::Usage;

pub(super) const RERANK: Endpoint =
    Endpoint { name: "rerank", path: "rerank", body: BodyKind::Json, default_model: None, check, measure };

/// Most documents one rerank request may carry (Cohere's limit).
const MAX_RERANK_DOCUMENTS: usize = 1_000;
/// Documents one search unit covers (Cohere).
const DOCUMENTS_PER_SEARCH: u64 = 100;

fn check(request: &Request) -> Result<Plan, ApiError> {
    let json = request.json();
    let field = |name: &str| json.and_then(|j| j.get(name));
    let Some(query) = field("query").and_then(Value::as_str).filter(|q| !q.trim().is_empty()) else {
        return Err(ApiError::invalid_field("query", "is required: a non-empty string"));
    };
    let Some(documents) = field("documents").and_then(Value::as_array).filter(|d| !d.is_empty()) else {
        return Err(ApiError::invalid_field("documents", "is required: a non-empty array"));
    };
    if documents.len() > MAX_RERANK_DOCUMENTS {
        return Err(ApiError::invalid_field("documents", format!("at most {MAX_RERANK_DOCUMENTS} documents")));
    }
    // Each document is scored against the query, so each is input with it.
    let mut bytes = 0;
    for document in documents {
        // A string, or an object with `text` (Jina's and Cohere's structured form).
        let text = document.as_str().or_else(|| document.get("text").and_then(Value::as_str));
        let Some(text) = text else {
            return Err(ApiError::invalid_field("documents", "each must be a string or an object with `text`"));
        };
        bytes += query.len() + text.len();
    }
    if let Some(top_n) = field("top_n")
        && top_n.as_u64().is_none_or(|n| n == 0)
    {
        return Err(ApiError::invalid_field("top_n", "must be a positive integer"));
    }
    let units = Units { searches: (documents.len() as u64).div_ceil(DOCUMENTS_PER_SEARCH), ..Units::default() };
    let estimate = Estimate { input_tokens: estimate_text_tokens(bytes), units: units.clone(), ..Estimate::default() };
    Ok(Plan { estimate, units, ..Plan::default() })
}

fn measure(plan: &Plan, answer: Answered<'_>) -> Measured {
    let Answered::Json(answer) = answer else {
        return Measured { usage: plan.estimate.as_usage(), units: plan.units.clone(), estimated: true };
    };
    let reported = answer.pointer("/usage/total_tokens").and_then(Value::as_u64);
    let searches = answer.pointer("/meta/billed_units/search_units").and_then(Value::as_u64);
    let units = Units { searches: searches.unwrap_or(plan.units.searches), ..Units::default() };
    let input_tokens = reported.unwrap_or(plan.estimate.input_tokens);
    Measured { usage: Usage { input_tokens, ..Usage::default() }, units, estimated: reported.is_none() }
}
