//! What the product API shows of stored records: money as decimal strings, never a secret.

use oblivious_store::webhooks::status as delivery_status;
use oblivious_store::{
    ApiKeyRecord, LedgerEntry, RedeemCodeRecord, UsageRow, UserRecord, WebhookDelivery, WebhookRecord,
};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use oblivious_runtime::money::format_micros;

#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub group: String,
    pub disabled: bool,
    /// May name a canary lane with `x-oblivious-lane`.
    pub lane_select: bool,
    pub balance: String,
    pub currency: String,
    pub created_at: i64,
}

impl UserView {
    pub fn new(user: &UserRecord, currency: &str) -> Self {
        UserView {
            id: user.id,
            username: user.username.clone(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            role: user.role.clone(),
            group: user.group.clone(),
            disabled: user.disabled,
            lane_select: user.lane_select,
            balance: format_micros(user.balance_micros),
            currency: currency.to_string(),
            created_at: user.created_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct KeyView {
    pub id: Uuid,
    pub name: String,
    /// The visible start of the key; the rest is never shown again.
    pub prefix: String,
    pub models: Vec<String>,
    pub group: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub rpm: Option<i64>,
    pub tpm: Option<i64>,
    pub max_spend: Option<String>,
    pub spent: String,
}

impl From<&ApiKeyRecord> for KeyView {
    fn from(key: &ApiKeyRecord) -> Self {
        KeyView {
            id: key.id,
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            models: key.models.clone(),
            group: key.group.clone(),
            created_at: key.created_at,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
            rpm: key.rpm,
            tpm: key.tpm,
            max_spend: key.max_spend_micros.map(format_micros),
            spent: format_micros(key.spent_micros),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct LedgerView {
    pub id: Uuid,
    pub kind: String,
    pub amount: String,
    pub balance_after: String,
    pub request_id: Option<Uuid>,
    pub model: Option<String>,
    pub note: String,
    pub created_at: i64,
}

impl From<&LedgerEntry> for LedgerView {
    fn from(entry: &LedgerEntry) -> Self {
        LedgerView {
            id: entry.id,
            kind: entry.kind.clone(),
            amount: format_micros(entry.amount_micros),
            balance_after: format_micros(entry.balance_after),
            request_id: entry.request_id,
            model: entry.model.clone(),
            note: entry.note.clone(),
            created_at: entry.created_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct UsageView {
    pub bucket: String,
    pub model: Option<String>,
    pub requests: i64,
    pub errors: i64,
    pub cancelled: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost: String,
}

impl From<&UsageRow> for UsageView {
    fn from(row: &UsageRow) -> Self {
        UsageView {
            bucket: row.bucket.clone(),
            model: row.model.clone(),
            requests: row.requests,
            errors: row.errors,
            cancelled: row.cancelled,
            input_tokens: row.input_tokens,
            output_tokens: row.output_tokens,
            cost: format_micros(row.cost_micros),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RedeemCodeView {
    pub id: Uuid,
    pub prefix: String,
    pub amount: String,
    pub note: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub redeemed_by: Option<Uuid>,
    pub redeemed_at: Option<i64>,
}

impl From<&RedeemCodeRecord> for RedeemCodeView {
    fn from(code: &RedeemCodeRecord) -> Self {
        RedeemCodeView {
            id: code.id,
            prefix: code.prefix.clone(),
            amount: format_micros(code.amount_micros),
            note: code.note.clone(),
            created_at: code.created_at,
            expires_at: code.expires_at,
            redeemed_by: code.redeemed_by,
            redeemed_at: code.redeemed_at,
        }
    }
}

/// A webhook, without its secret (shown once, at creation).
#[derive(Debug, Serialize)]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: String,
    pub enabled: bool,
    /// `user` (the owner's events) or `platform` (every user's events).
    pub scope: &'static str,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&WebhookRecord> for WebhookView {
    fn from(hook: &WebhookRecord) -> Self {
        WebhookView {
            id: hook.id,
            url: hook.url.clone(),
            event_types: hook.event_types.clone(),
            description: hook.description.clone(),
            enabled: hook.enabled,
            scope: if hook.user_id.is_some() { "user" } else { "platform" },
            created_at: hook.created_at,
            updated_at: hook.updated_at,
        }
    }
}

/// One event for one webhook and how sending it went.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The `webhook-id` header: the same on every attempt and replay.
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `delivering`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    /// When it is tried next (pending only).
    pub next_attempt_at: Option<i64>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
    /// The body sent.
    pub payload: Value,
}

impl From<&WebhookDelivery> for DeliveryView {
    fn from(delivery: &WebhookDelivery) -> Self {
        DeliveryView {
            id: delivery.id,
            webhook_id: delivery.webhook_id,
            event_id: delivery.event_id,
            event_type: delivery.event_type.clone(),
            status: delivery.status.clone(),
            attempts: delivery.attempts,
            next_attempt_at: (delivery.status == delivery_status::PENDING).then_some(delivery.next_attempt_at),
            last_status_code: delivery.last_status_code,
            last_error: delivery.last_error.clone(),
            last_attempt_at: delivery.last_attempt_at,
            delivered_at: delivery.delivered_at,
            created_at: delivery.created_at,
            payload: serde_json::from_str(&delivery.payload).unwrap_or(Value::Null),
        }
    }
}
