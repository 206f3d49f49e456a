//! Time series over the request log for the admin dashboard: per hour or day bucket, requests,
//! errors, cancellations, tokens, cost and latency percentiles, optionally split by model,
//! channel, user or lane (the top series by requests, the rest folded into one "other" series);
//! and the latest failure of each channel, for channel health.
//!
//! Percentiles are exact nearest-rank values (the value at rank ⌈p·n⌉ of the sorted latencies),
//! computed inside the database with `ROW_NUMBER()` and `COUNT() OVER` window functions, which
//! SQLite (3.25+) and PostgreSQL both have: the same statement runs on both backends and gives
//! the same answer, and only one row per bucket and series leaves the database. PostgreSQL's
//! `percentile_cont` would interpolate and SQLite has no equivalent, so the two would disagree.
//! The cost is a sort of the range's rows, which the bounds below keep in check (a 90-day range
//! on a busy platform is still a large sort: a rollup table is the next step if that hurts).

use std::collections::HashMap;

use uuid::Uuid;

use crate::backend::on_pool;
use crate::{Store, StoreError, StoreKind, StoreResult};

/// One hour in milliseconds: the bucket of ranges up to two days.
pub const HOUR_MS: i64 = 3_600_000;
/// One day in milliseconds: the bucket of longer ranges.
pub const DAY_MS: i64 = 86_400_000;
/// The longest range a series may be asked for; aligning it to whole buckets may add one step.
pub const MAX_SERIES_RANGE_MS: i64 = 90 * DAY_MS;
/// The most buckets one series may have.
pub const MAX_SERIES_BUCKETS: i64 = 200;
/// The most series a split may keep apart before folding the rest into "other".
pub const MAX_SERIES_TOP: i64 = 200;

/// What a series can be split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesSplit {
    Model,
    Channel,
    User,
    Lane,
}

impl SeriesSplit {
    pub fn parse(text: &str) -> Option<SeriesSplit> {
        Some(match text {
            "model" => SeriesSplit::Model,
            "channel" => SeriesSplit::Channel,
            "user" => SeriesSplit::User,
            "lane" => SeriesSplit::Lane,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SeriesSplit::Model => "model",
            SeriesSplit::Channel => "channel",
            SeriesSplit::User => "user",
            SeriesSplit::Lane => "lane",
        }
    }

    fn column(self) -> &'static str {
        match self {
            SeriesSplit::Model => "model",
            SeriesSplit::Channel => "channel",
            SeriesSplit::User => "user_id",
            SeriesSplit::Lane => "lane",
        }
    }
}

/// A series request: buckets of `step_ms` from `from` (bucket `i` is
/// `[from + i·step, from + (i+1)·step)`) up to `to` (ms, exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesQuery {
    pub from: i64,
    pub to: i64,
    pub step_ms: i64,
    pub split: Option<SeriesSplit>,
    /// Series kept apart when split (by requests over the range); the rest become "other".
    pub top: i64,
}

impl SeriesQuery {
    /// Whole UTC hours (ranges up to two days) or days (longer ones), unless `step_ms` says,
    /// covering `[from, to)`: the range widens to bucket boundaries so every bucket is complete.
    pub fn aligned(from: i64, to: i64, step_ms: Option<i64>) -> SeriesQuery {
        let step = step_ms.unwrap_or(if to - from <= 2 * DAY_MS { HOUR_MS } else { DAY_MS }).max(1);
        let start = from.div_euclid(step) * step;
        let end = (to - 1).div_euclid(step) * step + step;
        SeriesQuery { from: start, to: end.max(start + step), step_ms: step, split: None, top: 5 }
    }

    /// How many buckets the range holds.
    pub fn buckets(&self) -> i64 {
        if self.step_ms <= 0 { 0 } else { (self.to - self.from + self.step_ms - 1) / self.step_ms }
    }

    fn check(&self) -> StoreResult<()> {
        let invalid = |reason: &str| Err(StoreError::Invalid(reason.to_string()));
        if self.step_ms <= 0 {
            return invalid("the step must be positive");
        }
        if self.from >= self.to {
            return invalid("`from` must be before `to`");
        }
        if self.to - self.from > MAX_SERIES_RANGE_MS + self.step_ms {
            return invalid("a series may cover at most 90 days");
        }
        if self.buckets() > MAX_SERIES_BUCKETS {
            return invalid("a series may have at most 200 buckets: choose a longer step or a shorter range");
        }
        if self.split.is_some() && !(1..=MAX_SERIES_TOP).contains(&self.top) {
            return invalid("`top` must be between 1 and 200");
        }
        Ok(())
    }
}

/// One bucket of one series. Money is integer micro-units of the price list's currency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesPoint {
    pub requests: i64,
    /// Failed requests (status 400 and up), not counting the client going away (499).
    pub errors: i64,
    /// Requests the client went away from (status 499).
    pub cancelled: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
    /// Latency percentiles of the answered requests (status below 400): a refusal answered in a
    /// millisecond or a client that gave up says nothing about how fast answers are. `None`
    /// when the bucket answered nothing.
    pub latency_p50_ms: Option<i64>,
    pub latency_p95_ms: Option<i64>,
    pub latency_p99_ms: Option<i64>,
    /// Median time to the first token of answered streams.
    pub ttft_p50_ms: Option<i64>,
}

/// One series: every bucket of the range, zero where nothing happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// The model, channel, user id or lane; `None` for requests without one (no channel was
    /// reached, no account; an unsplit series). Requests outside every lane are `baseline`.
    pub key: Option<String>,
    /// The series folding every key beyond the top ones.
    pub other: bool,
    /// Requests over the whole range.
    pub requests: i64,
    pub points: Vec<SeriesPoint>,
}

/// A time series answer: bucket start times and the series over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSeries {
    pub from: i64,
    pub to: i64,
    pub step_ms: i64,
    /// Start of each bucket (ms).
    pub buckets: Vec<i64>,
    /// Unsplit: exactly one series (key `None`). Split: the top series by requests, then
    /// "other"; only series with requests.
    pub series: Vec<Series>,
}

/// The latest failure (status 400 and up, not 499) of a channel.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChannelFailure {
    pub channel: String,
    pub status: i32,
    pub error_class: Option<String>,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct RawPoint {
    slot: i64,
    kept: i64,
    key_text: Option<String>,
    key_id: Option<Uuid>,
    requests: i64,
    errors: i64,
    cancelled: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost_micros: i64,
    latency_p50: Option<i64>,
    latency_p95: Option<i64>,
    latency_p99: Option<i64>,
    ttft_p50: Option<i64>,
}

/// The sums of a bucket; the same definitions as the statistics of `usage_stats`.
const SUMS: &str = "CAST(COUNT(*) AS BIGINT) AS requests, \
     CAST(SUM(CASE WHEN status >= 400 AND status <> 499 THEN 1 ELSE 0 END) AS BIGINT) AS errors, \
     CAST(SUM(CASE WHEN status = 499 THEN 1 ELSE 0 END) AS BIGINT) AS cancelled, \
     CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
     CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
     CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost_micros";

/// Nearest-rank percentile `p` (in percent) of the ranked latencies: the value whose rank is
/// ⌈p·n/100⌉, in integer arithmetic.
fn latency_percentile(p: u8) -> String {
    format!("MAX(CASE WHEN answered = 1 AND latency_rank = (answered_n * {p} + 99) / 100 THEN latency_ms END)")
}

impl Store {
    /// The series of `query` (see `SeriesQuery`); refuses ranges and steps beyond the bounds.
    pub async fn usage_series(&self, query: &SeriesQuery) -> StoreResult<UsageSeries> {
        query.check()?;
        let sql = series_sql(query.split, self.kind());
        let rows: Vec<RawPoint> = on_pool!(self, pool => {
            let mut statement = sqlx::query_as(&sql).bind(query.from).bind(query.to).bind(query.step_ms);
            if query.split.is_some() {
                statement = statement.bind(query.top);
            }
            statement.fetch_all(pool).await?
        });
        Ok(assemble(query, rows))
    }

    /// Each channel's latest failure in `[from, to)`, by channel name.
    pub async fn latest_channel_failures(&self, from: i64, to: i64) -> StoreResult<Vec<ChannelFailure>> {
        let sql = "SELECT channel, status, error_class, created_at FROM ( \
             SELECT channel, status, error_class, created_at, \
                    ROW_NUMBER() OVER (PARTITION BY channel ORDER BY created_at DESC, id DESC) AS latest \
             FROM request_logs \
             WHERE created_at >= $1 AND created_at < $2 AND channel IS NOT NULL AND status >= 400 AND status <> 499 \
           ) failures WHERE latest = 1 ORDER BY channel LIMIT 1000";
        let rows: Vec<ChannelFailure> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(from).bind(to).fetch_all(pool).await?);
        Ok(rows)
    }
}

/// The statement: `$1` from, `$2` to, `$3` step, and with a split `$4` how many keys to keep.
/// Rows are grouped by bucket (`slot`), whether their key is kept apart (`kept`) and the key.
fn series_sql(split: Option<SeriesSplit>, kind: StoreKind) -> String {
    let uuid = match kind {
        StoreKind::Postgres => "uuid",
        StoreKind::Sqlite => "BLOB",
    };
    let (top, kept, key, join, key_columns) = match split {
        None => (
            String::new(),
            "CAST(1 AS BIGINT)".to_string(),
            "CAST(NULL AS TEXT)".to_string(),
            String::new(),
            format!("k AS key_text, CAST(NULL AS {uuid}) AS key_id"),
        ),
        Some(split) => {
            let column = split.column();
            // Nulls order differently on the two backends: put them last by hand, then by key,
            // so ties fold the same way everywhere.
            let top = format!(
                "top AS (SELECT {column} AS k, CAST(1 AS BIGINT) AS kept FROM request_logs \
                 WHERE created_at >= $1 AND created_at < $2 GROUP BY {column} \
                 ORDER BY COUNT(*) DESC, CASE WHEN {column} IS NULL THEN 1 ELSE 0 END, {column} LIMIT $4), "
            );
            let join = format!("LEFT JOIN top ON (top.k = r.{column} OR (top.k IS NULL AND r.{column} IS NULL))");
            let key_columns = match split {
                SeriesSplit::User => "CAST(NULL AS TEXT) AS key_text, k AS key_id".to_string(),
                _ => format!("k AS key_text, CAST(NULL AS {uuid}) AS key_id"),
            };
            (top, "COALESCE(top.kept, 0)".to_string(), "top.k".to_string(), join, key_columns)
        }
    };
    let (p50, p95, p99) = (latency_percentile(50), latency_percentile(95), latency_percentile(99));
    format!(
        "WITH {top}base AS ( \
           SELECT (r.created_at - $1) / $3 AS slot, {kept} AS kept, {key} AS k, \
                  r.status, r.input_tokens, r.output_tokens, r.cost_micros, r.latency_ms, \
                  CASE WHEN r.status < 400 THEN 1 ELSE 0 END AS answered, \
                  CASE WHEN r.stream AND r.status < 400 THEN r.ttft_ms END AS ttft_ms \
           FROM request_logs r {join} \
           WHERE r.created_at >= $1 AND r.created_at < $2 \
         ), ranked AS ( \
           SELECT base.*, \
                  ROW_NUMBER() OVER (PARTITION BY slot, kept, k, answered ORDER BY latency_ms) AS latency_rank, \
                  SUM(answered) OVER (PARTITION BY slot, kept, k) AS answered_n, \
                  ROW_NUMBER() OVER (PARTITION BY slot, kept, k, ttft_ms IS NULL ORDER BY ttft_ms) AS ttft_rank, \
                  COUNT(ttft_ms) OVER (PARTITION BY slot, kept, k) AS ttft_n \
           FROM base \
         ) \
         SELECT slot, kept, {key_columns}, {SUMS}, \
                {p50} AS latency_p50, {p95} AS latency_p95, {p99} AS latency_p99, \
                MAX(CASE WHEN ttft_ms IS NOT NULL AND ttft_rank = (ttft_n * 50 + 99) / 100 THEN ttft_ms END) AS ttft_p50 \
         FROM ranked GROUP BY slot, kept, k ORDER BY slot"
    )
}

/// Dense series from the grouped rows: every bucket present, kept series by requests, "other"
/// last.
fn assemble(query: &SeriesQuery, rows: Vec<RawPoint>) -> UsageSeries {
    let count = usize::try_from(query.buckets()).unwrap_or(0);
    let buckets: Vec<i64> = (0..query.buckets()).map(|i| query.from + i * query.step_ms).collect();
    let mut series: Vec<Series> = Vec::new();
    let mut index: HashMap<(bool, Option<String>), usize> = HashMap::new();
    for row in rows {
        let other = row.kept == 0;
        let key = match (other, row.key_text, row.key_id) {
            (true, _, _) => None,
            (false, Some(text), _) => Some(text),
            (false, None, Some(id)) => Some(id.to_string()),
            (false, None, None) if query.split == Some(SeriesSplit::Lane) => Some("baseline".to_string()),
            (false, None, None) => None,
        };
        let at = *index.entry((other, key.clone())).or_insert_with(|| {
            series.push(Series { key, other, requests: 0, points: vec![SeriesPoint::default(); count] });
            series.len() - 1
        });
        let Some(slot) = usize::try_from(row.slot).ok().filter(|slot| *slot < count) else { continue };
        let entry = &mut series[at];
        entry.requests += row.requests;
        entry.points[slot] = SeriesPoint {
            requests: row.requests,
            errors: row.errors,
            cancelled: row.cancelled,
            input_tokens: row.input_tokens,
            output_tokens: row.output_tokens,
            cost_micros: row.cost_micros,
            latency_p50_ms: row.latency_p50,
            latency_p95_ms: row.latency_p95,
            latency_p99_ms: row.latency_p99,
            ttft_p50_ms: row.ttft_p50,
        };
    }
    if query.split.is_none() && series.is_empty() {
        series.push(Series { key: None, other: false, requests: 0, points: vec![SeriesPoint::default(); count] });
    }
    series.sort_by(|a, b| a.other.cmp(&b.other).then(b.requests.cmp(&a.requests)).then_with(|| a.key.cmp(&b.key)));
    UsageSeries { from: query.from, to: query.to, step_ms: query.step_ms, buckets, series }
}
