//! `/api/v1/admin/series` and `/api/v1/admin/channels/health`: the admin dashboard's charts over
//! time, and channel health as the request log tells it. Every relay writes that log to the
//! shared database, so both answers are cluster-wide — unlike `/admin/channels`, which shows the
//! in-memory view of this process's relay (a gateway pod in a cluster runs none).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use oblivious_runtime::money::format_micros;
use oblivious_store::usage_series::{DAY_MS, HOUR_MS, MAX_SERIES_BUCKETS, MAX_SERIES_RANGE_MS};
use oblivious_store::{Series, SeriesPoint, SeriesQuery, SeriesSplit, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::Gateway;
use crate::error::{ApiResult, ProductError};
use crate::identity::AdminIdentity;
use crate::routes::user::Range;

/// Series kept apart by default when split; more than `MAX_TOP` makes an unreadable chart.
const DEFAULT_TOP: i64 = 5;
const MAX_TOP: i64 = 10;
/// The windows of channel health: what is happening now, and the day around it.
const SHORT_WINDOW_MS: i64 = 15 * 60_000;
const LONG_WINDOW_MS: i64 = DAY_MS;
/// Channels told apart in channel health; a larger fleet's quietest ones are left out.
const HEALTH_CHANNELS: i64 = 200;

/// Query of `/admin/series`. Every field is text so that a bad value is answered in the product
/// error shape, naming the parameter (axum's own rejection is plain text).
#[derive(Deserialize)]
pub struct SeriesParams {
    /// `hour` or `day`; by default hours up to two days, days beyond.
    step: Option<String>,
    /// `model`, `channel`, `user` or `lane`; none for one total series.
    split: Option<String>,
    /// Series kept apart when split (1 to 10, default 5); the rest are folded into "other".
    top: Option<String>,
    #[serde(flatten)]
    range: Range,
}

/// One bucket as the API shows it: money as a decimal string, like `/admin/stats`.
#[derive(Serialize)]
struct PointView {
    requests: i64,
    errors: i64,
    cancelled: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost: String,
    latency_p50_ms: Option<i64>,
    latency_p95_ms: Option<i64>,
    latency_p99_ms: Option<i64>,
    ttft_p50_ms: Option<i64>,
}

impl From<&SeriesPoint> for PointView {
    fn from(point: &SeriesPoint) -> Self {
        PointView {
            requests: point.requests,
            errors: point.errors,
            cancelled: point.cancelled,
            input_tokens: point.input_tokens,
            output_tokens: point.output_tokens,
            cost: format_micros(point.cost_micros),
            latency_p50_ms: point.latency_p50_ms,
            latency_p95_ms: point.latency_p95_ms,
            latency_p99_ms: point.latency_p99_ms,
            ttft_p50_ms: point.ttft_p50_ms,
        }
    }
}

#[derive(Serialize)]
struct SeriesView {
    /// The model, channel, user id or lane (`baseline` outside every lane); null for requests
    /// without one and for the folded series.
    key: Option<String>,
    /// A user's username, for a split by user.
    name: Option<String>,
    /// The series folding every key beyond the top ones.
    other: bool,
    requests: i64,
    points: Vec<PointView>,
}

fn parse_step(text: Option<&str>) -> ApiResult<Option<i64>> {
    match text.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some("hour") => Ok(Some(HOUR_MS)),
        Some("day") => Ok(Some(DAY_MS)),
        Some(_) => Err(ProductError::invalid("step", "must be `hour` or `day`")),
    }
}

fn parse_split(text: Option<&str>) -> ApiResult<Option<SeriesSplit>> {
    match text.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(text) => SeriesSplit::parse(text)
            .map(Some)
            .ok_or_else(|| ProductError::invalid("split", "must be `model`, `channel`, `user` or `lane`")),
    }
}

fn parse_top(text: Option<&str>) -> ApiResult<i64> {
    match text.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_TOP),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|top| (1..=MAX_TOP).contains(top))
            .ok_or_else(|| ProductError::invalid("top", format!("must be a whole number from 1 to {MAX_TOP}"))),
    }
}

/// The validated query: the range widened to whole buckets.
fn series_query(params: &SeriesParams) -> ApiResult<SeriesQuery> {
    let step = parse_step(params.step.as_deref())?;
    let split = parse_split(params.split.as_deref())?;
    let top = parse_top(params.top.as_deref())?;
    let (from, to) = params.range.resolve()?;
    if to - from > MAX_SERIES_RANGE_MS {
        return Err(ProductError::invalid("from", "the range may span at most 90 days"));
    }
    let query = SeriesQuery { split, top, ..SeriesQuery::aligned(from, to, step) };
    if query.buckets() > MAX_SERIES_BUCKETS {
        return Err(ProductError::invalid(
            "step",
            format!(
                "this range has {} buckets of that step, more than {MAX_SERIES_BUCKETS}: use `day` or a shorter range",
                query.buckets()
            ),
        ));
    }
    Ok(query)
}

/// Requests, errors, cancellations, tokens, cost and latency per hour or day, in one total
/// series and, with `split`, one series per top key (plus "other"); `summary` is the whole
/// range as one bucket (its percentiles are over every request of the range, which the buckets'
/// cannot be combined into).
pub async fn series(
    State(gateway): State<Arc<Gateway>>,
    _admin: AdminIdentity,
    Query(params): Query<SeriesParams>,
) -> ApiResult<Response> {
    let query = series_query(&params)?;
    let store = gateway.store();
    let whole = SeriesQuery { step_ms: query.to - query.from, split: None, ..query };
    let summary = store.usage_series(&whole).await?;
    let total = store.usage_series(&SeriesQuery { split: None, ..query }).await?;
    let split = match query.split {
        Some(_) => store.usage_series(&query).await?.series,
        None => Vec::new(),
    };
    let names = usernames(store, query.split, &split).await?;
    let view = |series: &Series| SeriesView {
        key: series.key.clone(),
        name: series.key.as_ref().and_then(|key| names.get(key).cloned()),
        other: series.other,
        requests: series.requests,
        points: series.points.iter().map(PointView::from).collect(),
    };
    let summary = summary.series.first().and_then(|s| s.points.first()).map(PointView::from);
    Ok(Json(json!({
        "from": query.from,
        "to": query.to,
        "step": if query.step_ms == HOUR_MS { "hour" } else { "day" },
        "step_ms": query.step_ms,
        "split": query.split.map(SeriesSplit::as_str),
        "currency": gateway.currency(),
        "buckets": total.buckets,
        "summary": summary,
        "total": total.series.first().map(view),
        "series": split.iter().map(view).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// Usernames of a split by user's series (at most `MAX_TOP` lookups).
async fn usernames(
    store: &Store,
    split: Option<SeriesSplit>,
    series: &[Series],
) -> ApiResult<BTreeMap<String, String>> {
    let mut names = BTreeMap::new();
    if split != Some(SeriesSplit::User) {
        return Ok(names);
    }
    for key in series.iter().filter_map(|s| s.key.as_ref()) {
        if let Ok(id) = Uuid::parse_str(key)
            && let Some(user) = store.get_user(id).await?
        {
            names.insert(key.clone(), user.username);
        }
    }
    Ok(names)
}

/// One channel over one window.
#[derive(Serialize, Default)]
struct WindowView {
    requests: i64,
    errors: i64,
    cancelled: i64,
    /// Answered requests over those not cancelled by their client; null without any.
    success_rate: Option<f64>,
    latency_p50_ms: Option<i64>,
    latency_p99_ms: Option<i64>,
}

impl From<&SeriesPoint> for WindowView {
    fn from(point: &SeriesPoint) -> Self {
        let decided = point.requests - point.cancelled;
        let answered = decided - point.errors;
        // A ratio for display, not money: a float is fine. Four decimals are plenty.
        let success_rate = (decided > 0).then(|| (answered as f64 / decided as f64 * 10_000.0).round() / 10_000.0);
        WindowView {
            requests: point.requests,
            errors: point.errors,
            cancelled: point.cancelled,
            success_rate,
            latency_p50_ms: point.latency_p50_ms,
            latency_p99_ms: point.latency_p99_ms,
        }
    }
}

#[derive(Serialize)]
struct FailureView {
    at: i64,
    status: i32,
    error_class: Option<String>,
}

#[derive(Serialize, Default)]
struct ChannelHealthView {
    channel: String,
    last_15m: WindowView,
    last_24h: WindowView,
    /// The latest failure of the last 24 hours.
    last_error: Option<FailureView>,
}

/// Each channel's requests, success rate and latency over the last 15 minutes and 24 hours,
/// and its latest failure, from the shared request log. Channels without traffic in the last
/// 24 hours are absent.
pub async fn channel_health(State(gateway): State<Arc<Gateway>>, _admin: AdminIdentity) -> ApiResult<Response> {
    let store = gateway.store();
    let to = oblivious_store::now_ms() + 1;
    let mut channels: BTreeMap<String, ChannelHealthView> = BTreeMap::new();
    for (window, long) in [(SHORT_WINDOW_MS, false), (LONG_WINDOW_MS, true)] {
        let query = SeriesQuery {
            from: to - window,
            to,
            step_ms: window,
            split: Some(SeriesSplit::Channel),
            top: HEALTH_CHANNELS,
        };
        for series in store.usage_series(&query).await?.series {
            let (Some(name), false, Some(point)) = (series.key, series.other, series.points.first()) else {
                continue;
            };
            let entry = channels
                .entry(name.clone())
                .or_insert_with(|| ChannelHealthView { channel: name, ..Default::default() });
            if long {
                entry.last_24h = WindowView::from(point);
            } else {
                entry.last_15m = WindowView::from(point);
            }
        }
    }
    for failure in store.latest_channel_failures(to - LONG_WINDOW_MS, to).await? {
        if let Some(entry) = channels.get_mut(&failure.channel) {
            entry.last_error =
                Some(FailureView { at: failure.created_at, status: failure.status, error_class: failure.error_class });
        }
    }
    let data: Vec<ChannelHealthView> = channels.into_values().collect();
    Ok(Json(json!({
        "now": to - 1,
        "windows_ms": {"last_15m": SHORT_WINDOW_MS, "last_24h": LONG_WINDOW_MS},
        "data": data,
    }))
    .into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn params(step: Option<&str>, split: Option<&str>, top: Option<&str>) -> SeriesParams {
        SeriesParams {
            step: step.map(Into::into),
            split: split.map(Into::into),
            top: top.map(Into::into),
            range: serde_json::from_value(json!({"from": "0", "to": "86400000"})).unwrap(),
        }
    }

    #[test]
    fn bad_parameters_are_refused_naming_the_parameter() {
        let message = |p: SeriesParams| series_query(&p).err().map(|e| e.message).unwrap_or_default();
        assert!(message(params(Some("week"), None, None)).starts_with("step:"));
        assert!(message(params(None, Some("key"), None)).starts_with("split:"));
        assert!(message(params(None, None, Some("11"))).starts_with("top:"));
        assert!(message(params(None, None, Some("many"))).starts_with("top:"));
        let query = series_query(&params(Some(" day "), Some("lane"), Some("3"))).unwrap();
        assert_eq!((query.step_ms, query.split, query.top, query.buckets()), (DAY_MS, Some(SeriesSplit::Lane), 3, 1));
    }

    #[test]
    fn success_rate_leaves_out_cancellations_and_is_null_without_requests() {
        let point = SeriesPoint { requests: 10, errors: 1, cancelled: 2, ..Default::default() };
        assert_eq!(WindowView::from(&point).success_rate, Some(0.875));
        let cancelled = SeriesPoint { requests: 2, cancelled: 2, ..Default::default() };
        assert_eq!(WindowView::from(&cancelled).success_rate, None);
    }
}
