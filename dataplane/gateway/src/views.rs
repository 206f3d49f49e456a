//! What the product API shows of stored records: money as decimal strings, never a secret.

use oblivious_store::{ApiKeyRecord, LedgerEntry, RedeemCodeRecord, UsageRow, UserRecord};
use serde::Serialize;
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
