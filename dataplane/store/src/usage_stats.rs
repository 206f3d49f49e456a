//! Usage aggregates over the request log: a user's usage by day and model, and the
//! administrators' statistics grouped by user, key, model, channel or day. Days are UTC.

use serde::Serialize;
use uuid::Uuid;

use crate::backend::on_pool;
use crate::{Store, StoreResult};

/// One aggregate row. `bucket` is the group value (a day as `YYYY-MM-DD` for day groupings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    pub bucket: String,
    /// Second dimension where there is one (the model, in per-day-and-model usage).
    pub model: Option<String>,
    pub requests: i64,
    /// Requests that failed (status 400 and up), not counting those the client gave up on.
    pub errors: i64,
    /// Requests the client went away from before the answer ended (status 499): a stopped
    /// reply, a closed tab; not a failure of the platform.
    pub cancelled: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
}

/// What administrators can group statistics by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsGroup {
    User,
    Key,
    Model,
    Channel,
    Day,
}

impl StatsGroup {
    pub fn parse(text: &str) -> Option<StatsGroup> {
        Some(match text {
            "user" => StatsGroup::User,
            "key" => StatsGroup::Key,
            "model" => StatsGroup::Model,
            "channel" => StatsGroup::Channel,
            "day" => StatsGroup::Day,
            _ => return None,
        })
    }

    fn column(self) -> &'static str {
        match self {
            StatsGroup::User => "user_id",
            StatsGroup::Key => "key_id",
            StatsGroup::Model => "model",
            StatsGroup::Channel => "channel",
            StatsGroup::Day => "created_at / 86400000",
        }
    }
}

#[derive(sqlx::FromRow)]
struct RawRow {
    day: Option<i64>,
    id: Option<Uuid>,
    text: Option<String>,
    model: Option<String>,
    requests: i64,
    errors: i64,
    cancelled: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost_micros: i64,
}

const SUMS: &str = "CAST(COUNT(*) AS BIGINT) AS requests, \
     CAST(SUM(CASE WHEN status >= 400 AND status <> 499 THEN 1 ELSE 0 END) AS BIGINT) AS errors, \
     CAST(SUM(CASE WHEN status = 499 THEN 1 ELSE 0 END) AS BIGINT) AS cancelled, \
     CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
     CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
     CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost_micros";

impl Store {
    /// One user's usage per UTC day and model in `[from, to)` (ms), newest day first.
    pub async fn user_usage(&self, user_id: Uuid, from: i64, to: i64) -> StoreResult<Vec<UsageRow>> {
        let sql = format!(
            "SELECT created_at / 86400000 AS day, CAST(NULL AS {uuid}) AS id, CAST(NULL AS TEXT) AS text, model, {SUMS} \
             FROM request_logs WHERE user_id = $1 AND created_at >= $2 AND created_at < $3 \
             GROUP BY created_at / 86400000, model ORDER BY day DESC, model",
            uuid = self.uuid_type()
        );
        let rows: Vec<RawRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).bind(from).bind(to).fetch_all(pool).await?);
        Ok(rows.into_iter().map(RawRow::into_usage).collect())
    }

    /// Statistics over every request in `[from, to)` grouped by `group`, largest cost first.
    pub async fn usage_stats(&self, group: StatsGroup, from: i64, to: i64) -> StoreResult<Vec<UsageRow>> {
        let column = group.column();
        let uuid = self.uuid_type();
        let (day, id, text) = match group {
            StatsGroup::Day => (column.to_string(), format!("CAST(NULL AS {uuid})"), "CAST(NULL AS TEXT)".to_string()),
            StatsGroup::User | StatsGroup::Key => {
                ("CAST(NULL AS BIGINT)".into(), column.to_string(), "CAST(NULL AS TEXT)".into())
            }
            StatsGroup::Model | StatsGroup::Channel => {
                ("CAST(NULL AS BIGINT)".into(), format!("CAST(NULL AS {uuid})"), column.to_string())
            }
        };
        let sql = format!(
            "SELECT {day} AS day, {id} AS id, {text} AS text, CAST(NULL AS TEXT) AS model, {SUMS} FROM request_logs \
             WHERE created_at >= $1 AND created_at < $2 GROUP BY {column} ORDER BY cost_micros DESC, requests DESC LIMIT 1000"
        );
        let rows: Vec<RawRow> = on_pool!(self, pool => sqlx::query_as(&sql).bind(from).bind(to).fetch_all(pool).await?);
        Ok(rows.into_iter().map(RawRow::into_usage).collect())
    }

    /// The SQL type name of a UUID column in this backend, for typed NULLs.
    fn uuid_type(&self) -> &'static str {
        match self.kind() {
            crate::StoreKind::Postgres => "uuid",
            crate::StoreKind::Sqlite => "BLOB",
        }
    }
}

impl RawRow {
    fn into_usage(self) -> UsageRow {
        let bucket = match (self.day, self.id, self.text) {
            (Some(day), _, _) => format_day(day),
            (None, Some(id), _) => id.to_string(),
            (None, None, Some(text)) => text,
            (None, None, None) => String::new(),
        };
        UsageRow {
            bucket,
            model: self.model,
            requests: self.requests,
            errors: self.errors,
            cancelled: self.cancelled,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cost_micros: self.cost_micros,
        }
    }
}

/// Days since the epoch as `YYYY-MM-DD`.
pub(crate) fn format_day(days: i64) -> String {
    let (year, month, day) = crate::request_logs::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}
