//! Request records: one append-only row per relay request, inserted in batches by the relay's
//! background writer. Inserts are idempotent by `(created_at, id)`, so a batch retried after a
//! failed commit never duplicates rows. In PostgreSQL the table is partitioned by month.

use serde::Serialize;
use sqlx::{PgPool, QueryBuilder};
use uuid::Uuid;

use crate::backend::on_pool;
use crate::{Store, StoreResult};

/// Rows per INSERT statement: 25 columns x 400 rows stays far below both backends' bind limits.
const ROWS_PER_STATEMENT: usize = 400;
/// Largest page a listing returns.
const MAX_PAGE: i64 = 1000;

/// One request as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct RequestLog {
    pub id: Uuid,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub key_id: Option<Uuid>,
    /// Owner of the key, when it belongs to a user account.
    pub user_id: Option<Uuid>,
    pub key_prefix: String,
    /// Dialect the client spoke: openai | anthropic | gemini.
    pub ingress: String,
    /// chat | embeddings.
    pub endpoint: String,
    /// Public model name the client asked for.
    pub model: String,
    pub upstream_model: Option<String>,
    /// Channel of the last attempt.
    pub channel: Option<String>,
    pub provider: Option<String>,
    /// HTTP status the client got (499 when it went away first).
    pub status: i32,
    pub error_class: Option<String>,
    pub attempts: i32,
    pub stream: bool,
    pub latency_ms: i64,
    pub ttft_ms: Option<i64>,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub output_tokens: i64,
    pub reasoning_tokens: i64,
    /// Some token counts were made locally because the upstream reported none.
    pub usage_estimated: bool,
    pub cost_micros: i64,
    pub currency: Option<String>,
    pub lane: Option<String>,
    /// The hops the request went through, outermost first (`x-oblivious-route`).
    pub route: Option<String>,
}

/// Which records to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct RequestLogFilter {
    /// Page size, clamped to 1..=1000.
    pub limit: i64,
    pub key_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub model: Option<String>,
    /// A lane tag, or `baseline` for requests outside every lane.
    pub lane: Option<String>,
    /// Only records created strictly before this time (ms), for paging.
    pub before: Option<i64>,
}

const COLUMNS: &str = "id, created_at, key_id, user_id, key_prefix, ingress, endpoint, model, upstream_model, channel, provider, \
     status, error_class, attempts, stream, latency_ms, ttft_ms, input_tokens, cached_input_tokens, cache_write_tokens, \
     output_tokens, reasoning_tokens, usage_estimated, cost_micros, currency, lane, route";

impl Store {
    /// Inserts records; rows already present (same id and time) are skipped.
    pub async fn insert_request_logs(&self, logs: &[RequestLog]) -> StoreResult<()> {
        for chunk in logs.chunks(ROWS_PER_STATEMENT) {
            on_pool!(self, pool => {
                let mut insert = QueryBuilder::new(format!("INSERT INTO request_logs ({COLUMNS}) "));
                insert.push_values(chunk, |mut row, log| {
                    row.push_bind(log.id)
                        .push_bind(log.created_at)
                        .push_bind(log.key_id)
                        .push_bind(log.user_id)
                        .push_bind(&log.key_prefix)
                        .push_bind(&log.ingress)
                        .push_bind(&log.endpoint)
                        .push_bind(&log.model)
                        .push_bind(&log.upstream_model)
                        .push_bind(&log.channel)
                        .push_bind(&log.provider)
                        .push_bind(log.status)
                        .push_bind(&log.error_class)
                        .push_bind(log.attempts)
                        .push_bind(log.stream)
                        .push_bind(log.latency_ms)
                        .push_bind(log.ttft_ms)
                        .push_bind(log.input_tokens)
                        .push_bind(log.cached_input_tokens)
                        .push_bind(log.cache_write_tokens)
                        .push_bind(log.output_tokens)
                        .push_bind(log.reasoning_tokens)
                        .push_bind(log.usage_estimated)
                        .push_bind(log.cost_micros)
                        .push_bind(&log.currency)
                        .push_bind(&log.lane)
                        .push_bind(&log.route);
                });
                insert.push(" ON CONFLICT DO NOTHING");
                insert.build().execute(pool).await?;
            });
        }
        Ok(())
    }

    /// Records matching the filter, newest first.
    pub async fn list_request_logs(&self, filter: &RequestLogFilter) -> StoreResult<Vec<RequestLog>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM request_logs WHERE ($1 IS NULL OR key_id = $1) AND ($2 IS NULL OR model = $2) \
             AND ($3 IS NULL OR created_at < $3) AND ($5 IS NULL OR user_id = $5) \
             AND ($6 IS NULL OR COALESCE(lane, 'baseline') = $6) ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        let limit = filter.limit.clamp(1, MAX_PAGE);
        Ok(on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(filter.key_id)
            .bind(&filter.model)
            .bind(filter.before)
            .bind(limit)
            .bind(filter.user_id)
            .bind(&filter.lane)
            .fetch_all(pool)
            .await?))
    }

    /// Creates the monthly partitions around `now_ms` (PostgreSQL; a no-op on SQLite). The
    /// relay's writer calls this when the month changes; `migrate` calls it at start-up.
    pub async fn ensure_request_log_partitions(&self, now_ms: i64) -> StoreResult<()> {
        if let crate::backend::Backend::Postgres(pool) = &self.backend {
            ensure_partitions(pool, now_ms).await?;
        }
        Ok(())
    }
}

/// Creates the partitions of the month containing `now_ms` and of the two following months.
/// Rows outside every partition land in `request_logs_default`, so an insert never fails for
/// lack of a partition. A month whose rows already sit in the default partition cannot get
/// its own partition (PostgreSQL refuses); that is logged and the rows stay where they are.
pub(crate) async fn ensure_partitions(pool: &PgPool, now_ms: i64) -> StoreResult<()> {
    let (mut year, mut month) = year_month(now_ms);
    for _ in 0..3 {
        let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
        let from = month_start_ms(year, month);
        let to = month_start_ms(next_year, next_month);
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS request_logs_{year:04}_{month:02} PARTITION OF request_logs \
             FOR VALUES FROM ({from}) TO ({to})"
        );
        if let Err(error) = sqlx::query(&sql).execute(pool).await {
            tracing::warn!(%error, year, month, "could not create a request-log partition; rows stay in the default partition");
        }
        (year, month) = (next_year, next_month);
    }
    Ok(())
}

const MS_PER_DAY: i64 = 86_400_000;

/// (year, month 1..=12) of a UTC instant.
fn year_month(ms: i64) -> (i64, u32) {
    let (year, month, _) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    (year, month)
}

fn month_start_ms(year: i64, month: u32) -> i64 {
    days_from_civil(year, month, 1) * MS_PER_DAY
}

/// Days since 1970-01-01 -> (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) -> days since 1970-01-01.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_boundaries_are_computed_in_utc() {
        assert_eq!(month_start_ms(1970, 1), 0);
        // 2026-11-23T10:00:00Z
        let t = 1_795_428_000_000;
        assert_eq!(year_month(t), (2026, 11));
        assert_eq!(month_start_ms(2026, 11), 1_793_491_200_000);
        assert_eq!(month_start_ms(2024, 3) - month_start_ms(2024, 2), 29 * MS_PER_DAY, "leap February");
        for days in [-800_000, -1, 0, 59, 365 * 400, 20_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
