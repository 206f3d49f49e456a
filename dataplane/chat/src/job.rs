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
use crate::relay_client::{RelayChunk, RelayFailure, ToolCallRequest};
use crate::running::StopSignal;
use crate::sources::{self, Retrieval};
use crate::titles;
use crate::tools::{self, CallStatus, ToolCallRecord, ToolGrant, Toolbox};
use crate::views::message_view;

/// How often progress is written to the placeholder row while text arrives.
const SAVE_EVERY: Duration = Duration::from_millis(750);
/// Without new text, the row is still touched this often: its `updated_at` is the job's
/// heartbeat, which the reaper uses to find replies whose process died.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(20);
/// A relay stream silent for this long is given up (the relay's own idle timeouts are shorter).
const IDLE_LIMIT: Duration = Duration::from_secs(300);
/// How long a tool call waits for the user's approval before it counts as declined.
const APPROVAL_WAIT: Duration = Duration::from_secs(30 * 60);
/// How often a waiting call looks for the user's decision.
const APPROVAL_POLL: Duration = Duration::from_millis(250);
/// Tokens each prompt message costs beyond its text, for the local count of a stopped reply.
const PER_MESSAGE_OVERHEAD: u64 = 4;

/// Everything a job needs; built by the send / edit / regenerate handlers.
pub struct JobSpec {
    /// The assistant message being generated; also the stream id.
    pub message_id: Uuid,
    pub user_id: Uuid,
    pub group: String,
    pub model: String,
    /// Tried in order when the model fails before its first token (the agent's
    /// `fallbackModels` the user's group may use).
    pub fallback_models: Vec<String>,
    /// A Chat Completions request (`model`, `messages`, sampling parameters).
    pub request: Value,
    pub lane: LaneContext,
    /// The first question of a new topic, which gets a generated title when the reply is done.
    pub title_from: Option<(Uuid, String)>,
    /// The session's knowledge bases and the question to search them for.
    pub retrieval: Option<Retrieval>,
    /// The MCP tools the reply may call.
    pub tools: Vec<ToolGrant>,
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
    /// The model answering: the job's, or the fallback that took over.
    model: String,
    content: String,
    reasoning: String,
    /// What the model calls that ended reported, added up (each was billed on its own).
    usage: Option<Usage>,
    /// What the running model call reported so far (cumulative: the last report wins).
    call_usage: Option<Usage>,
    /// The reply's tool calls (API.md `ToolCall`), stored with it.
    tool_calls: Vec<Value>,
    /// The reply's sources (API.md `Source`), stored with it.
    sources: Vec<Value>,
    next_event: u64,
}

impl Progress {
    fn next_id(&mut self) -> u64 {
        self.next_event += 1;
        self.next_event
    }

    /// Adds the ended call's usage to the reply's.
    fn finish_call(&mut self) {
        if let Some(call) = self.call_usage.take() {
            self.usage.get_or_insert_with(Usage::default).add(&call);
        }
    }

    /// The usage reported for the reply so far, the running call's included.
    fn reported_usage(&self) -> Option<Usage> {
        match (self.usage, self.call_usage) {
            (None, None) => None,
            (total, call) => {
                let mut sum = total.unwrap_or_default();
                sum.add(&call.unwrap_or_default());
                Some(sum)
            }
        }
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
    let mut progress = Progress { model: spec.model.clone(), ..Progress::default() };
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
        let (user_id, model, lane) = (spec.user_id, progress.model, spec.lane);
        let lifecycle = chat.lifecycle.clone();
        lifecycle.spawn_job(async move {
            titles::generate(&chat, topic_id, user_id, &model, &lane, &question, &reply).await
        });
    }
}

async fn generate(chat: &Chat, spec: &JobSpec, stop: &mut StopSignal, progress: &mut Progress) -> Outcome {
    let mut request = spec.request.clone();
    if let Some(retrieval) = &spec.retrieval {
        let (sources, block) = tokio::select! {
            found = sources::retrieve(chat, spec.user_id, &spec.lane, retrieval) => found,
            _ = stopped(stop) => return Outcome::Stopped,
            _ = chat.lifecycle.deadline() => return Outcome::Failed(cut_by_shutdown()),
        };
        // Before the first token, so the UI can show what the answer draws on as it streams.
        publish(chat, spec, progress, EventKind::Sources, json!({"sources": sources})).await;
        progress.sources = sources;
        request = sources::with_sources(&request, block);
    }
    let toolbox = if spec.tools.is_empty() {
        Toolbox::default()
    } else {
        tokio::select! {
            toolbox = Toolbox::open(&chat.tools, &spec.tools) => toolbox,
            _ = stopped(stop) => return Outcome::Stopped,
            _ = chat.lifecycle.deadline() => return Outcome::Failed(cut_by_shutdown()),
        }
    };
    if !toolbox.is_empty() {
        request["tools"] = toolbox.openai_tools();
    }
    let mut fallbacks = spec.fallback_models.iter();
    let mut request_id = spec.message_id;
    let mut rounds = 0;
    loop {
        let text_before = progress.content.len();
        match call_model(chat, spec, stop, progress, &request, request_id).await {
            // Calls of tools nobody offered (a confused model) are not followed: it answered.
            CallEnd::Answered(calls) if calls.is_empty() || toolbox.is_empty() => return Outcome::Complete,
            CallEnd::Answered(calls) => {
                rounds += 1;
                let turn = tools::assistant_turn(&progress.content[text_before..], &calls);
                push_message(&mut request, turn);
                for call in &calls {
                    let record = tokio::select! {
                        record = run_tool(chat, spec, progress, &toolbox, call) => record,
                        _ = stopped(stop) => return Outcome::Stopped,
                        _ = chat.lifecycle.deadline() => return Outcome::Failed(cut_by_shutdown()),
                    };
                    push_message(&mut request, record.tool_message());
                }
                // Enough rounds: the model must answer from what the tools gave it.
                if rounds >= chat.config.max_tool_steps {
                    request["tool_choice"] = json!("none");
                }
                request_id = Uuid::now_v7();
            }
            CallEnd::Ended(outcome) => return outcome,
            CallEnd::FailedBeforeAnswer(failure) => {
                // Once tools ran, the reply has begun: its model is the one that called them.
                let next = fallbacks.next().filter(|_| rounds == 0 && failure.may_fall_back());
                let Some(next) = next else { return Outcome::Failed(failure) };
                tracing::info!(
                    from = %progress.model, to = %next, code = %failure.code,
                    "the model failed before answering; trying the agent's fallback model"
                );
                progress.model = next.clone();
                request["model"] = json!(next);
                request_id = Uuid::now_v7();
            }
        }
    }
}

/// Appends a message to a Chat Completions request.
fn push_message(request: &mut Value, message: Value) {
    if let Some(messages) = request["messages"].as_array_mut() {
        messages.push(message);
    }
}

/// Runs one tool call, streaming its start and its end, and keeps its record for the reply. A
/// call that needs the user's approval waits for it first. The row's heartbeat goes on
/// throughout: a tool may take minutes, longer than the reaper waits for a silent reply.
async fn run_tool(
    chat: &Chat,
    spec: &JobSpec,
    progress: &mut Progress,
    toolbox: &Toolbox,
    call: &ToolCallRequest,
) -> ToolCallRecord {
    let running = ToolCallRecord::running(call, toolbox);
    let record = if toolbox.needs_approval(call) {
        let mut waiting = running.clone();
        waiting.status = CallStatus::AwaitingApproval;
        publish(chat, spec, progress, EventKind::ToolCall, json!(waiting)).await;
        match with_heartbeat(chat, spec, progress, await_approval(chat, spec.message_id, &call.id)).await {
            Approval::Approved => {
                publish(chat, spec, progress, EventKind::ToolCall, json!(running)).await;
                with_heartbeat(chat, spec, progress, toolbox.run(&chat.tools, call)).await
            }
            Approval::Rejected => running.rejected("rejected", "The user declined this tool call."),
            Approval::TimedOut => running.rejected("approval_timeout", "The user did not approve this call in time."),
        }
    } else {
        publish(chat, spec, progress, EventKind::ToolCall, json!(running)).await;
        with_heartbeat(chat, spec, progress, toolbox.run(&chat.tools, call)).await
    };
    if let Some(error) = &record.error {
        tracing::info!(tool = %record.tool, server = %record.server, code = %error.code, "a tool call did not run to success");
    }
    publish(chat, spec, progress, EventKind::ToolResult, json!(record)).await;
    progress.tool_calls.push(json!(record));
    record
}

/// Awaits `work` (a tool call, an approval: minutes, maybe), touching the row every
/// [`HEARTBEAT_EVERY`] meanwhile so the reaper knows the job is alive.
async fn with_heartbeat<T>(
    chat: &Chat,
    spec: &JobSpec,
    progress: &Progress,
    work: impl std::future::Future<Output = T>,
) -> T {
    tokio::pin!(work);
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT_EVERY, HEARTBEAT_EVERY);
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = beat.tick() => save_progress(chat, spec, progress).await,
        }
    }
}

enum Approval {
    Approved,
    Rejected,
    TimedOut,
}

/// Waits for the user's decision on a call (`POST …/tool-calls/{id}/approval`, on any pod).
async fn await_approval(chat: &Chat, message_id: Uuid, call_id: &str) -> Approval {
    let started = tokio::time::Instant::now();
    loop {
        match chat.bus.take_tool_call_decision(message_id, call_id).await {
            Ok(Some(true)) => return Approval::Approved,
            Ok(Some(false)) => return Approval::Rejected,
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, message = %message_id, "cannot read a tool call's approval"),
        }
        if started.elapsed() >= APPROVAL_WAIT {
            return Approval::TimedOut;
        }
        tokio::time::sleep(APPROVAL_POLL).await;
    }
}

/// How one model call ended.
enum CallEnd {
    /// The model answered to the end, asking for these tool calls (none: the reply is done).
    Answered(Vec<ToolCallRequest>),
    /// It failed before producing anything, so another model may still answer.
    FailedBeforeAnswer(RelayFailure),
    /// Stopped, interrupted, or failed after producing output: the reply ends here.
    Ended(Outcome),
}

/// Streams one model call into the reply, saving progress as it grows.
async fn call_model(
    chat: &Chat,
    spec: &JobSpec,
    stop: &mut StopSignal,
    progress: &mut Progress,
    request: &Value,
    request_id: Uuid,
) -> CallEnd {
    let started = tokio::select! {
        started = chat.relay.stream(spec.user_id, &spec.lane, request_id, request) => started,
        _ = stopped(stop) => return CallEnd::Ended(Outcome::Stopped),
        _ = chat.lifecycle.deadline() => return CallEnd::Ended(Outcome::Failed(cut_by_shutdown())),
    };
    let mut stream = match started {
        Ok(stream) => stream,
        Err(failure) => return CallEnd::FailedBeforeAnswer(failure),
    };
    let mut produced = false;
    let mut saved_len = 0;
    let mut save = tokio::time::interval(SAVE_EVERY);
    let mut last_save = tokio::time::Instant::now();
    loop {
        tokio::select! {
            biased;
            _ = stopped(stop) => return CallEnd::Ended(Outcome::Stopped),
            // The process is going away and its grace period is over: keep what was written.
            _ = chat.lifecycle.deadline() => return CallEnd::Ended(Outcome::Failed(cut_by_shutdown())),
            chunk = tokio::time::timeout(IDLE_LIMIT, stream.next()) => {
                let Ok(chunk) = chunk else {
                    return CallEnd::Ended(Outcome::Failed(RelayFailure {
                        status: 0, code: "timeout".into(), message: "The model stopped answering.".into(),
                    }));
                };
                match chunk {
                    None => {
                        progress.finish_call();
                        return CallEnd::Answered(stream.tool_calls().to_vec());
                    }
                    Some(Err(failure)) if !produced => return CallEnd::FailedBeforeAnswer(failure),
                    Some(Err(failure)) => return CallEnd::Ended(Outcome::Failed(failure)),
                    Some(Ok(RelayChunk::Usage(usage))) => progress.call_usage = Some(usage),
                    Some(Ok(RelayChunk::Text(text))) => {
                        produced = true;
                        progress.content.push_str(&text);
                        publish(chat, spec, progress, EventKind::Text, json!({"delta": text})).await;
                    }
                    Some(Ok(RelayChunk::Reasoning(text))) => {
                        produced = true;
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
    if let Some(usage) = progress.reported_usage() {
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
    let produced = !progress.content.is_empty()
        || !progress.reasoning.is_empty()
        || !progress.tool_calls.is_empty()
        || progress.reported_usage().is_some();
    let (status, error) = match &outcome {
        Outcome::Complete => ("complete", None),
        Outcome::Stopped => ("stopped", None),
        Outcome::Failed(failure) => ("error", Some(failure.clone())),
    };
    // A reply that never started cost nothing (the relay bills nothing either).
    let usage = produced.then(|| settle_usage(spec, progress));
    let active = chat.gateway.runtime.active();
    let price = active.snapshot.price(&progress.model, oblivious_store::now_ms());
    let cost =
        usage.as_ref().map(|u| price.map_or(0, |p| i64::try_from(cost_micros(u, p, &spec.group)).unwrap_or(i64::MAX)));
    let last = FinalMessage {
        content: progress.content.clone(),
        reasoning: progress.reasoning.clone(),
        status: status.to_string(),
        error_code: error.as_ref().map(|e| e.code.clone()),
        error_message: error.as_ref().map(|e| e.message.clone()),
        model: Some(progress.model.clone()),
        input_tokens: usage.map(|u| to_i64(u.input_tokens)),
        output_tokens: usage.map(|u| to_i64(u.output_tokens)),
        cached_input_tokens: usage.map(|u| to_i64(u.cached_input_tokens)),
        reasoning_tokens: usage.map(|u| to_i64(u.reasoning_tokens)),
        cost_micros: cost,
        currency: price.map(|p| p.currency.clone()).or_else(|| cost.map(|_| chat.gateway.currency())),
        sources: Value::Array(progress.sources.clone()),
        tool_calls: Value::Array(progress.tool_calls.clone()),
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
    // `reply.completed` / `reply.failed` for webhooks: written to the outbox (a failure is only
    // logged); the delivery is the worker's, never this job's.
    if let Some(message) = &stored {
        chat.gateway.runtime.webhooks.reply_finished(message).await;
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
