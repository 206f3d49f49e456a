//! `POST /v1/completions`: OpenAI's legacy text completion (`gpt-3.5-turbo-instruct`, and the
//! `/v1/completions` vLLM, llama.cpp and Ollama still serve), whole or streamed (SSE relayed
//! event by event). Billed like chat: the upstream's usage (always asked for in a stream), else a
//! local count of the prompt and the text, marked estimated.

use oblivious_core::ApiError;
use oblivious_runtime::usage::count_text_tokens;
use serde_json::Value;

use super::{AnswerKind, Answered, BodyKind, Endpoint, Measured, Plan, Request};
use crate::billing::{Estimate, estimate_text_tokens};

pub(super) const COMPLETIONS: Endpoint =
    Endpoint { name: "completions", path: "completions", body: BodyKind::Json, default_model: None, check, measure };

/// Output tokens of a completion without `max_tokens` (OpenAI's default for this endpoint).
const DEFAULT_MAX_TOKENS: u64 = 16;
/// Most completions (`n`, `best_of`) one request may ask for (OpenAI's bound).
const MAX_CHOICES: u64 = 128;

fn check(request: &Request) -> Result<Plan, ApiError> {
    let Some(json) = request.json() else { return Err(ApiError::invalid_request("Expected a JSON body.")) };
    let mut prompt = String::new();
    let mut token_ids = 0u64;
    match json.get("prompt") {
        Some(Value::String(text)) if !text.is_empty() => prompt.push_str(text),
        Some(Value::Array(items)) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(text) => prompt.push_str(text),
                    Value::Number(_) => token_ids += 1,
                    Value::Array(tokens) if tokens.iter().all(Value::is_u64) => token_ids += tokens.len() as u64,
                    _ => {
                        return Err(ApiError::invalid_field(
                            format!("prompt[{i}]"),
                            "must be a string, a token id or an array of token ids",
                        ));
                    }
                }
            }
        }
        _ => return Err(ApiError::invalid_field("prompt", "is required: a non-empty string or array")),
    }
    if let Some(suffix) = json.get("suffix").and_then(Value::as_str) {
        prompt.push_str(suffix);
    }
    let number = |name: &str, min: u64, max: u64| -> Result<Option<u64>, ApiError> {
        match json.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => match value.as_u64().filter(|n| (min..=max).contains(n)) {
                Some(n) => Ok(Some(n)),
                None => Err(ApiError::invalid_field(name, format!("must be an integer from {min} to {max}"))),
            },
        }
    };
    let max_tokens = number("max_tokens", 0, u64::from(u32::MAX))?.unwrap_or(DEFAULT_MAX_TOKENS);
    let n = number("n", 1, MAX_CHOICES)?.unwrap_or(1);
    let best_of = number("best_of", 1, MAX_CHOICES)?.unwrap_or(n);
    if best_of < n {
        return Err(ApiError::invalid_field("best_of", "must be at least n"));
    }
    let stream = match json.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(stream)) => *stream,
        Some(_) => return Err(ApiError::invalid_field("stream", "must be a boolean")),
    };
    let include_usage = match json.get("stream_options").and_then(|o| o.get("include_usage")) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(include)) => *include,
        Some(_) => return Err(ApiError::invalid_field("stream_options.include_usage", "must be a boolean")),
    };
    let estimate = Estimate {
        input_tokens: estimate_text_tokens(prompt.len()) + token_ids * 4,
        max_output_tokens: max_tokens.saturating_mul(best_of),
        ..Estimate::default()
    };
    let answer = if stream { AnswerKind::Events } else { AnswerKind::Json };
    Ok(Plan { estimate, answer, prompt, prompt_token_ids: token_ids, include_usage, ..Plan::default() })
}

fn measure(plan: &Plan, answer: Answered<'_>) -> Measured {
    let (reported, output) = match answer {
        Answered::Json(answer) => {
            let usage = answer.get("usage").filter(|u| u.is_object()).map(crate::dialect::openai::usage_from_json);
            let text: String = answer
                .get("choices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("text").and_then(Value::as_str))
                .collect();
            (usage, text)
        }
        Answered::Stream { usage, output } => (usage, output.to_string()),
        Answered::Text(text) => (None, text.to_string()),
    };
    match reported {
        Some(usage) if usage.input_tokens > 0 && usage.output_tokens > 0 => Measured { usage, ..Measured::default() },
        // The half the upstream did not report is counted here (chat's rule, `usage::settle_usage`).
        reported => {
            let mut usage = reported.unwrap_or_default();
            if usage.input_tokens == 0 {
                usage.input_tokens = count_text_tokens(&plan.prompt) + plan.prompt_token_ids;
            }
            if usage.output_tokens == 0 {
                usage.output_tokens = count_text_tokens(&output);
            }
            Measured { usage, estimated: true, ..Measured::default() }
        }
    }
}
