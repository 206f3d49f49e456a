//! A generation job: streams one reply from the relay into the bus and the placeholder row,
//! and ends it exactly once — complete, stopped or failed — with usage and cost. It runs on its
//! own task, so the reply is finished and stored even when every reader has gone away.

use std::sync::Arc;
use std::time::Duration;

use oblivious_core::lane::LaneContext;
use oblivious_runtime::Usage;
use oblivious_runtime::usage::{cost_micros, count_text_tokens};
use oblivious_store::chat::FinalMessage;
use serde_json::{Value, json};
use tracing::Instrument;
use uuid::Uuid;

use crate::Chat;
use crate::events::{EventKind, StreamEvent};
use crate::relay_client::{RelayChunk, RelayFailure};
use crate::running::StopSignal;
use crate::sources::{self, Retrieval};
use crate::titles;
use crate::views::message_view;

/// How often progress is written to the placeholder row while text arrives.
const SAVE_EVERY: Duration = Duration::from_millis(750);
/// Without new text, the row is still touched this often: its `updated_at` is the job's
/// heartbeat, which the reaper uses to find replies whose process died.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(20);
/// A relay stream silent for this long is given up (the relay's own idle timeouts are shorter).
const IDLE_LIMIT: Duration = Duration::from_secs(300);
/// Tokens each prompt message costs beyond its text, for the local count of a stopped reply.
const PER_MESSAGE_OVERHEAD: u64 = 4;

/// Everything a job needs; built by the send / edit / regenerate handlers.
pub struct JobSpec {
    /// The assistant message being generated; also the stream id.
    pub message_id: Uuid,
    pub user_id: Uuid,
    pub group: String,
    pub model: String,
    /// A Chat Completions request (`model`, `messages`, sampling parameters).
    pub request: Value,
    pub lane: LaneContext,
    /// The first question of a new topic, which gets a generated title when the reply is done.
    pub title_from: Option<(Uuid, String)>,
    /// The session's knowledge bases and the question to search them for.
    pub retrieval: Option<Retrieval>,
}

/// How the reply ended.
enum Outcome {
    Complete,
    Stopped,
    Failed(RelayFailure),
}

/// What the reply has so far.
#[derive(Default)]
struct Progress {
    content: String,
    reasoning: String,
    usage: Option<Usage>,
    /// The reply's sources (API.md `Source`), stored with it.
    sources: Vec<Value>,
    next_event: u64,
}

impl Progress {
    fn next_id(&mut self) -> u64 {
        self.next_event += 1;
        self.next_event
    }
}

/// Runs the job to its end. Never fails: every failure becomes the message's `error` status.
/// Traced as `chat.generation`, a child of the request that started it.
pub async fn run(chat: Arc<Chat>, spec: JobSpec, stop: StopSignal) {
    let span = tracing::info_span!(
        "chat.generation",
        oblivious.message_id = %spec.message_id,
        gen_ai.request.model = spec.model.as_str(),
        oblivious.outcome = tracing::field::Empty,
    );
    run_to_end(chat, spec, stop).instrument(span).await
}

async fn run_to_end(chat: Arc<Chat>, spec: JobSpec, mut stop: StopSignal) {
    let mut progress = Progress::default();
    let outcome = if chat.bus.stop_requested(spec.message_id).await {
        Outcome::Stopped
    } else {
        generate(&chat, &spec, &mut stop, &mut progress).await
    };
    let outcome_name = match &outcome {
        Outcome::Complete => "complete",
        Outcome::Stopped => "stopped",
        Outcome::Failed(_) => "failed",
    };
    tracing::Span::current().record("oblivious.outcome", outcome_name);
    let completed = matches!(outcome, Outcome::Complete);
    finish(&chat, &spec, outcome, &mut progress).await;
    chat.bus.jobs().finished(spec.message_id);
    // Only a finished first answer is worth naming the topic after (and paying for the title).
    if let Some((topic_id, question)) = spec.title_from.filter(|_| completed) {
        let reply = progress.content;
        let (user_id, model, lane) = (spec.user_id, spec.model, spec.lane);
        let lifecycle = chat.lifecycle.clone();
        lifecycle.spawn_job(async move {
            titles::generate(&chat, topic_id, user_id, &model, &lane, &question, &reply).await
        });
    }
}

async fn generate(chat: &Chat, spec: &JobSpec, stop: &mut StopSignal, progress: &mut Progress) -> Outcome {
    let mut request = std::borrow::Cow::Borrowed(&spec.request);
    if let Some(retrieval) = &spec.retrieval {
        let (sources, block) = tokio::select! {
            found = sources::retrieve(chat, spec.user_id, &spec.lane, retrieval) => found,
            _ = stopped(stop) => return Outcome::Stopped,
            _ = chat.lifecycle.deadline() => return Outcome::Failed(cut_by_shutdown()),
        };
        // Before the first token, so the UI can show what the answer draws on as it streams.
        publish(chat, spec, progress, EventKind::Sources, json!({"sources": sources})).await;
        progress.sources = sources;
        request = std::borrow::Cow::Owned(sources::with_sources(&spec.request, block));
    }
    let started = tokio::select! {
        started = chat.relay.stream(spec.user_id, &spec.lane, spec.message_id, &request) => started,
        _ = stopped(stop) => return Outcome::Stopped,
        _ = chat.lifecycle.deadline() => return Outcome::Failed(cut_by_shutdown()),
    };
    let mut stream = match started {
        Ok(stream) => stream,
        Err(failure) => return Outcome::Failed(failure),
    };
    let mut saved_len = 0;
    let mut save = tokio::time::interval(SAVE_EVERY);
    let mut last_save = tokio::time::Instant::now();
    loop {
        tokio::select! {
            biased;
            _ = stopped(stop) => return Outcome::Stopped,
            // The process is going away and its grace period is over: keep what was written.
            _ = chat.lifecycle.deadline() => return Outcome::Failed(cut_by_shutdown()),
            chunk = tokio::time::timeout(IDLE_LIMIT, stream.next()) => {
                let Ok(chunk) = chunk else {
                    return Outcome::Failed(RelayFailure {
                        status: 0, code: "timeout".into(), message: "The model stopped answering.".into(),
                    });
                };
                match chunk {
                    None => return Outcome::Complete,
                    Some(Err(failure)) => return Outcome::Failed(failure),
                    Some(Ok(RelayChunk::Usage(usage))) => progress.usage = Some(usage),
                    Some(Ok(RelayChunk::Text(text))) => {
                        progress.content.push_str(&text);
                        publish(chat, spec, progress, EventKind::Text, json!({"delta": text})).await;
                    }
                    Some(Ok(RelayChunk::Reasoning(text))) => {
                        progress.reasoning.push_str(&text);
                        publish(chat, spec, progress, EventKind::Reasoning, json!({"delta": text})).await;
                    }
                }
            }
            _ = save.tick() => {
                let grown = progress.content.len() + progress.reasoning.len();
                if grown != saved_len || last_save.elapsed() >= HEARTBEAT_EVERY {
                    save_progress(chat, spec, progress).await;
                    saved_len = grown;
                    last_save = tokio::time::Instant::now();
                }
            }
        }
    }
}

fn cut_by_shutdown() -> RelayFailure {
    RelayFailure {
        status: 0,
        code: "interrupted".into(),
        message: "The reply was interrupted by a restart of the service; regenerate to continue.".into(),
    }
}

/// Resolves once a stop was signalled (never, if the signal's sender is gone).
async fn stopped(stop: &mut StopSignal) {
    if stop.wait_for(|stopped| *stopped).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn save_progress(chat: &Chat, spec: &JobSpec, progress: &Progress) {
    let saved = chat.store().update_streaming_chat_message(spec.message_id, &progress.content, &progress.reasoning);
    if let Err(error) = saved.await {
        tracing::warn!(%error, message = %spec.message_id, "cannot save reply progress; the final write retries");
    }
}

/// Publishes to the bus; a bus failure is logged, never fatal: readers fall back to the row.
async fn publish(chat: &Chat, spec: &JobSpec, progress: &mut Progress, kind: EventKind, data: Value) {
    let event = StreamEvent { id: progress.next_id(), kind, data };
    if let Err(error) = chat.bus.publish(spec.message_id, &event).await {
        tracing::warn!(%error, message = %spec.message_id, "cannot publish a chat event");
    }
}

/// The usage of the reply: the relay's report, or — when it sent none (stopped, broken) — a
/// local count of the prompt and of what was received.
fn settle_usage(spec: &JobSpec, progress: &Progress) -> Usage {
    if let Some(usage) = progress.usage {
        return usage;
    }
    let prompt = spec.request["messages"].as_array().map_or(0, |messages| {
        messages
            .iter()
            .map(|m| count_text_tokens(m["content"].as_str().unwrap_or_default()) + PER_MESSAGE_OVERHEAD)
            .sum()
    });
    let output = count_text_tokens(&progress.content) + count_text_tokens(&progress.reasoning);
    Usage { input_tokens: prompt, output_tokens: output, ..Usage::default() }
}

async fn finish(chat: &Chat, spec: &JobSpec, outcome: Outcome, progress: &mut Progress) {
    let produced = !progress.content.is_empty() || !progress.reasoning.is_empty() || progress.usage.is_some();
    let (status, error) = match &outcome {
        Outcome::Complete => ("complete", None),
        Outcome::Stopped => ("stopped", None),
        Outcome::Failed(failure) => ("error", Some(failure.clone())),
    };
    // A reply that never started cost nothing (the relay bills nothing either).
    let usage = produced.then(|| settle_usage(spec, progress));
    let active = chat.gateway.runtime.active();
    let price = active.snapshot.price(&spec.model, oblivious_store::now_ms());
    let cost =
        usage.as_ref().map(|u| price.map_or(0, |p| i64::try_from(cost_micros(u, p, &spec.group)).unwrap_or(i64::MAX)));
    let last = FinalMessage {
        content: progress.content.clone(),
        reasoning: progress.reasoning.clone(),
        status: status.to_string(),
        error_code: error.as_ref().map(|e| e.code.clone()),
        error_message: error.as_ref().map(|e| e.message.clone()),
        model: Some(spec.model.clone()),
        input_tokens: usage.map(|u| to_i64(u.input_tokens)),
        output_tokens: usage.map(|u| to_i64(u.output_tokens)),
        cached_input_tokens: usage.map(|u| to_i64(u.cached_input_tokens)),
        reasoning_tokens: usage.map(|u| to_i64(u.reasoning_tokens)),
        cost_micros: cost,
        currency: price.map(|p| p.currency.clone()).or_else(|| cost.map(|_| chat.gateway.currency())),
        sources: Value::Array(progress.sources.clone()),
    };
    let stored = finalize_with_retry(chat, spec.message_id, &last).await;
    let message = match &stored {
        Some(message) => message_view(message, None),
        None => json!({"id": spec.message_id, "status": status, "content": last.content}),
    };
    if let Some(usage) = usage {
        let data = json!({
            "usage": {
                "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                "cached_input_tokens": usage.cached_input_tokens, "reasoning_tokens": usage.reasoning_tokens,
            },
            "cost": cost.map(oblivious_runtime::money::format_micros),
            "currency": last.currency,
        });
        publish(chat, spec, progress, EventKind::Usage, data).await;
    }
    match error {
        None => publish(chat, spec, progress, EventKind::Done, json!({"message": message})).await,
        Some(failure) => {
            let data = json!({"code": failure.code, "message": failure.message, "message_record": message});
            publish(chat, spec, progress, EventKind::Error, data).await;
        }
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The final write matters most (it is what a reader finds later): retried through a short
/// database outage before giving up; the reaper then ends the row as interrupted.
async fn finalize_with_retry(chat: &Chat, id: Uuid, last: &FinalMessage) -> Option<oblivious_store::chat::ChatMessage> {
    let mut delay = Duration::from_millis(200);
    for _ in 0..6 {
        match chat.store().finalize_chat_message(id, last).await {
            Ok(message) => return message,
            Err(error) => {
                tracing::warn!(%error, message = %id, "cannot store the finished reply; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
    tracing::error!(message = %id, "gave up storing the finished reply");
    None
}
