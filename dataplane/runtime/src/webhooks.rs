//! Events for bots and integrations (issue 14 item 4): what happened to a user — a reply ended, a
//! balance ran low, a key was created or revoked, a file was indexed — queued for the user's
//! webhooks and the platform's in the durable outbox (`oblivious_store::webhooks`).
//!
//! Every role emits (the relay settles charges, the gateway manages keys, chat ends replies, RAG
//! indexes files), so the handle lives on the `Runtime` they share; the gateway roles deliver
//! (`oblivious-webhooks`). Emitting is one database write and never waits for a delivery; a
//! failure to queue is logged and never fails the request that caused the event.

use std::sync::Arc;

use arc_swap::ArcSwap;
use oblivious_store::chat::ChatMessage;
use oblivious_store::{Store, StoreResult, WebhookEvent};
use serde_json::{Value, json};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::ActiveConfig;
use crate::money::format_micros;

/// What a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A chat reply ended without an error (`status`: `complete`, or `stopped` by the user).
    ReplyCompleted,
    /// A chat reply ended with an error.
    ReplyFailed,
    /// A settled charge took the balance below the threshold (`OBLIVIOUS_BALANCE_LOW`).
    BalanceLow,
    KeyCreated,
    KeyRevoked,
    /// A file in a knowledge base finished indexing.
    FileIndexed,
    /// Sent on request to one webhook (`POST …/test`); nobody subscribes to it.
    Ping,
}

impl EventType {
    /// The types a webhook may subscribe to.
    pub const SUBSCRIBABLE: [EventType; 6] = [
        EventType::ReplyCompleted,
        EventType::ReplyFailed,
        EventType::BalanceLow,
        EventType::KeyCreated,
        EventType::KeyRevoked,
        EventType::FileIndexed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ReplyCompleted => "reply.completed",
            EventType::ReplyFailed => "reply.failed",
            EventType::BalanceLow => "balance.low",
            EventType::KeyCreated => "key.created",
            EventType::KeyRevoked => "key.revoked",
            EventType::FileIndexed => "file.indexed",
            EventType::Ping => "ping",
        }
    }

    /// A type a webhook may subscribe to, by name.
    pub fn subscribable(name: &str) -> Option<EventType> {
        Self::SUBSCRIBABLE.into_iter().find(|t| t.as_str() == name)
    }
}

/// Webhook settings shared by the roles that emit and the ones that deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// `balance.low` fires when a charge takes a balance from at least this to below it
    /// (`OBLIVIOUS_BALANCE_LOW`, micro-units of the price list's currency; default 1.00).
    pub balance_low_micros: i64,
    /// Users' webhooks may target loopback, private and CGNAT addresses
    /// (`OBLIVIOUS_WEBHOOK_PRIVATE_ADDRESSES`, development and tests only; link-local never).
    pub allow_private_targets: bool,
    /// Attempts before a delivery fails for good.
    pub max_attempts: i32,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings { balance_low_micros: 1_000_000, allow_private_targets: false, max_attempts: 8 }
    }
}

/// Emits events into the outbox; cheap to clone. Clones share one wake-up, so a worker in this
/// process sends a fresh event at once instead of at its next poll.
#[derive(Clone)]
pub struct Webhooks {
    store: Store,
    settings: WebhookSettings,
    wake: Arc<Notify>,
    /// The active configuration, for the currency money is named in.
    active: Arc<ArcSwap<ActiveConfig>>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Webhooks {
    /// A handle on `store`; money in payloads is named in the currency of `active`'s price list.
    pub fn new(store: Store, settings: WebhookSettings, active: Arc<ArcSwap<ActiveConfig>>) -> Self {
        Webhooks { store, settings, wake: Arc::new(Notify::new()), active }
    }

    pub fn settings(&self) -> &WebhookSettings {
        &self.settings
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Queues `event` of `user_id` with `data` for every webhook that subscribes to it. Never
    /// fails and never waits for a delivery: a failure to queue is logged.
    pub async fn emit(&self, event: EventType, user_id: Uuid, data: Value) {
        let event = self.event(event, Some(user_id), data);
        match self.store.enqueue_webhook_event(&event).await {
            Ok(0) => {}
            Ok(queued) => {
                tracing::debug!(event_type = event.event_type, event_id = %event.id, queued, "webhook event queued");
                self.wake.notify_one();
            }
            Err(error) => {
                tracing::warn!(%error, event_type = event.event_type, "could not queue a webhook event; it is lost")
            }
        }
    }

    /// Queues a `ping` for webhook `webhook_id` alone (of `user_id`, none for a platform hook).
    /// Returns the event id, or `None` when the hook is gone or disabled.
    pub async fn ping(&self, webhook_id: Uuid, user_id: Option<Uuid>) -> StoreResult<Option<Uuid>> {
        let event = self.event(EventType::Ping, user_id, json!({"webhook_id": webhook_id}));
        let queued = self.store.enqueue_webhook_delivery(webhook_id, &event).await?;
        if queued {
            self.wake.notify_one();
        }
        Ok(queued.then_some(event.id))
    }

    /// Tells this process's delivery worker that something is due now (a replay).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves when an event was queued in this process since the last call.
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    /// A charge took `user_id`'s balance from `before` to `after` (micro-units): emits
    /// `balance.low` when that crossed the threshold — once per crossing, not per request.
    pub async fn balance_charged(&self, user_id: Uuid, before: i64, after: i64) {
        let threshold = self.settings.balance_low_micros;
        if !crosses_below(threshold, before, after) {
            return;
        }
        let data = json!({
            "user_id": user_id,
            "balance": format_micros(after),
            "threshold": format_micros(threshold),
            "currency": self.currency(),
        });
        self.emit(EventType::BalanceLow, user_id, data).await;
    }

    /// A chat reply ended (its final row): `reply.failed` when it ended in an error, else
    /// `reply.completed` (`status` says whether it was complete or stopped). Other messages and
    /// replies still streaming emit nothing.
    pub async fn reply_finished(&self, message: &ChatMessage) {
        if let Some(event) = reply_event(&message.role, &message.status) {
            self.emit(event, message.user_id, reply_data(&ReplyEnd::from(message))).await;
        }
    }

    fn event(&self, event: EventType, user_id: Option<Uuid>, data: Value) -> WebhookEvent {
        let id = Uuid::now_v7();
        let created_at = oblivious_store::now_ms();
        let envelope = json!({"id": id, "type": event.as_str(), "created_at": created_at, "data": data});
        WebhookEvent {
            id,
            event_type: event.as_str().to_string(),
            user_id,
            payload: envelope.to_string(),
            created_at,
            max_attempts: self.settings.max_attempts,
        }
    }

    fn currency(&self) -> String {
        let active = self.active.load();
        active.snapshot.prices.first().map_or_else(|| "USD".to_string(), |p| p.currency.clone())
    }
}

/// The event of a message that ended with `status`: only assistant replies have one.
pub fn reply_event(role: &str, status: &str) -> Option<EventType> {
    match (role, status) {
        ("assistant", "error") => Some(EventType::ReplyFailed),
        ("assistant", "complete" | "stopped") => Some(EventType::ReplyCompleted),
        _ => None,
    }
}

/// Whether a balance went from at least `threshold` to below it. Each charge is applied
/// atomically, so of the charges that take a balance down past the threshold exactly one does.
pub fn crosses_below(threshold: i64, before: i64, after: i64) -> bool {
    before >= threshold && after < threshold
}

/// What a reply event tells of a reply: never its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyEnd<'a> {
    pub user_id: Uuid,
    pub message_id: Uuid,
    pub session_id: Uuid,
    pub topic_id: Uuid,
    pub model: Option<&'a str>,
    /// `complete`, `stopped` or `error`.
    pub status: &'a str,
    pub error_code: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_input_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub cost_micros: Option<i64>,
    pub currency: Option<&'a str>,
}

impl<'a> From<&'a ChatMessage> for ReplyEnd<'a> {
    fn from(message: &'a ChatMessage) -> Self {
        ReplyEnd {
            user_id: message.user_id,
            message_id: message.id,
            session_id: message.session_id,
            topic_id: message.topic_id,
            model: message.model.as_deref(),
            status: &message.status,
            error_code: message.error_code.as_deref(),
            error_message: message.error_message.as_deref(),
            input_tokens: message.input_tokens,
            output_tokens: message.output_tokens,
            cached_input_tokens: message.cached_input_tokens,
            reasoning_tokens: message.reasoning_tokens,
            cost_micros: message.cost_micros,
            currency: message.currency.as_deref(),
        }
    }
}

/// The `data` of a reply event: ids, model, how it ended, usage and cost.
pub fn reply_data(reply: &ReplyEnd<'_>) -> Value {
    let usage = match (reply.input_tokens, reply.output_tokens) {
        (None, None) => Value::Null,
        (input, output) => json!({
            "input_tokens": input.unwrap_or(0),
            "output_tokens": output.unwrap_or(0),
            "cached_input_tokens": reply.cached_input_tokens.unwrap_or(0),
            "reasoning_tokens": reply.reasoning_tokens.unwrap_or(0),
        }),
    };
    let error = match reply.error_code {
        Some(code) => json!({"code": code, "message": reply.error_message.unwrap_or_default()}),
        None => Value::Null,
    };
    json!({
        "user_id": reply.user_id,
        "message_id": reply.message_id,
        "session_id": reply.session_id,
        "topic_id": reply.topic_id,
        "model": reply.model,
        "status": reply.status,
        "error": error,
        "usage": usage,
        "cost": reply.cost_micros.map(format_micros),
        "currency": reply.currency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_charge_that_crosses_the_threshold_is_low() {
        let cases = [
            (1_000_000, 1_500_000, 999_999, true),
            (1_000_000, 1_000_000, 999_999, true),
            (1_000_000, 999_999, 500_000, false),
            (1_000_000, 1_500_000, 1_000_000, false),
            (1_000_000, 1_500_000, -20, true),
            (0, 10, -1, true),
            (1_000_000, 900_000, 900_000, false),
        ];
        for (threshold, before, after, low) in cases {
            assert_eq!(crosses_below(threshold, before, after), low, "{threshold}: {before} -> {after}");
        }
    }

    #[test]
    fn only_ended_replies_have_an_event_and_a_stopped_one_counts_as_completed() {
        let cases = [
            ("assistant", "complete", Some(EventType::ReplyCompleted)),
            ("assistant", "stopped", Some(EventType::ReplyCompleted)),
            ("assistant", "error", Some(EventType::ReplyFailed)),
            ("assistant", "streaming", None),
            ("user", "complete", None),
            ("system", "error", None),
        ];
        for (role, status, event) in cases {
            assert_eq!(reply_event(role, status), event, "{role} {status}");
        }
    }

    #[test]
    fn subscribable_types_parse_by_name_and_ping_is_not_one() {
        for event in EventType::SUBSCRIBABLE {
            assert_eq!(EventType::subscribable(event.as_str()), Some(event));
        }
        assert_eq!(EventType::subscribable("ping"), None);
        assert_eq!(EventType::subscribable("reply.*"), None);
    }

    #[test]
    fn reply_data_names_the_reply_usage_and_cost() {
        let reply = ReplyEnd {
            message_id: Uuid::now_v7(),
            model: Some("m"),
            status: "error",
            error_code: Some("upstream_error"),
            error_message: Some("failed"),
            input_tokens: Some(3),
            output_tokens: Some(4),
            cost_micros: Some(1_500),
            currency: Some("EUR"),
            ..ReplyEnd::default()
        };
        let data = reply_data(&reply);
        assert_eq!(data["message_id"], json!(reply.message_id));
        let usage = json!({"input_tokens": 3, "output_tokens": 4, "cached_input_tokens": 0, "reasoning_tokens": 0});
        assert_eq!(data["usage"], usage);
        assert_eq!((data["cost"].as_str(), data["currency"].as_str()), (Some("0.0015"), Some("EUR")));
        assert_eq!(data["error"], json!({"code": "upstream_error", "message": "failed"}));
        let unused = reply_data(&ReplyEnd { status: "complete", ..ReplyEnd::default() });
        assert_eq!(
            (unused["usage"].clone(), unused["cost"].clone(), unused["error"].clone()),
            (Value::Null, Value::Null, Value::Null)
        );
    }
}
