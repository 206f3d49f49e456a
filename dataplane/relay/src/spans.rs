//! The relay's trace spans (DESIGN §8): the routing decision and each upstream attempt, named
//! and attributed by the OpenTelemetry GenAI semantic conventions, so a trace viewer shows which
//! channel was chosen, which attempts failed and why, and what the answer cost in tokens.

use oblivious_config::{Channel, Provider};
use tracing::Span;
use tracing::field::Empty;

use crate::request_log::RequestRecord;

/// The span of one request's channel selection and attempts.
pub(crate) fn route(candidates: usize) -> Span {
    tracing::info_span!(
        "route",
        oblivious.candidates = candidates,
        oblivious.channel = Empty,
        oblivious.attempts = Empty
    )
}

/// The span of one attempt against one channel: `chat gpt-4o` in GenAI terms, a client span.
pub(crate) fn upstream_attempt(record: &RequestRecord, channel: &Channel, upstream_model: &str) -> Span {
    let operation = record.endpoint;
    tracing::info_span!(
        "upstream",
        otel.name = format!("{operation} {upstream_model}"),
        otel.kind = "client",
        otel.status_code = Empty,
        gen_ai.operation.name = operation,
        gen_ai.provider.name = provider_name(channel.provider),
        gen_ai.request.model = upstream_model,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.usage.cache_read.input_tokens = Empty,
        oblivious.channel = channel.name.as_str(),
        oblivious.attempt = record.attempts,
        oblivious.time_to_first_token_ms = Empty,
        error.type = Empty,
    )
}

/// Marks a failed attempt with its failure class (`rate_limited`, `timeout`, …).
pub(crate) fn attempt_failed(span: &Span, class: &str) {
    span.record("error.type", class);
    span.record("otel.status_code", "ERROR");
}

/// What the answering attempt produced, once the request is over (a stream's usage is known
/// only at its end, which is also when its attempt span ends).
pub(crate) fn attempt_finished(span: &Span, record: &RequestRecord) {
    span.record("gen_ai.usage.input_tokens", record.usage.input_tokens);
    span.record("gen_ai.usage.output_tokens", record.usage.output_tokens);
    if record.usage.cached_input_tokens > 0 {
        span.record("gen_ai.usage.cache_read.input_tokens", record.usage.cached_input_tokens);
    }
    if let Some(ttft) = record.ttft {
        span.record("oblivious.time_to_first_token_ms", ttft.as_secs_f64() * 1000.0);
    }
    if record.status >= 500 {
        attempt_failed(span, record.error_class.as_deref().unwrap_or("error"));
    }
}

/// `gen_ai.provider.name` as the conventions spell it, where they name the provider.
fn provider_name(provider: Provider) -> &'static str {
    match provider {
        Provider::Openai => "openai",
        Provider::AzureOpenai => "azure.ai.openai",
        Provider::Anthropic => "anthropic",
        Provider::Gemini => "gcp.gemini",
        Provider::VertexAi => "gcp.vertex_ai",
        Provider::OpenaiCompatible => "openai-compatible",
    }
}
