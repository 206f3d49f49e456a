//! The dashboard's time series and channel failures over the request log, on SQLite and on
//! PostgreSQL (`both_backends!`): the same rows give the same buckets, sums and percentiles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use oblivious_store::usage_series::{DAY_MS, HOUR_MS};
use oblivious_store::{RequestLog, SeriesQuery, SeriesSplit, StatsGroup, Store, StoreError};
use uuid::Uuid;

oblivious_store::both_backends!(
    buckets_are_dense_and_sum_requests_errors_cancellations_tokens_and_cost,
    latency_percentiles_are_nearest_rank_over_answered_requests_and_ttft_over_streams,
    a_split_keeps_the_busiest_keys_and_folds_the_rest_into_other,
    users_and_lanes_split_with_accountless_and_baseline_requests_apart,
    series_totals_agree_with_the_statistics,
    ranges_steps_and_top_are_bounded,
    the_latest_failure_of_each_channel_is_found,
);

/// A whole hour, so hourly buckets start at `NOW`.
const NOW: i64 = 1_795_428_000_000;

fn log(created_at: i64, model: &str) -> RequestLog {
    RequestLog {
        id: Uuid::now_v7(),
        created_at,
        key_id: None,
        user_id: None,
        key_prefix: "sk-obl-abcdefg".into(),
        ingress: "openai".into(),
        endpoint: "chat".into(),
        model: model.into(),
        upstream_model: None,
        channel: Some("default/c".into()),
        provider: Some("openai".into()),
        status: 200,
        error_class: None,
        attempts: 1,
        stream: false,
        latency_ms: 100,
        ttft_ms: None,
        input_tokens: 10,
        cached_input_tokens: 0,
        cache_write_tokens: 0,
        output_tokens: 5,
        reasoning_tokens: 0,
        usage_estimated: false,
        cost_micros: 1_000,
        currency: Some("USD".into()),
        lane: None,
        route: None,
    }
}

fn hours(from: i64, count: i64) -> SeriesQuery {
    SeriesQuery { from, to: from + count * HOUR_MS, step_ms: HOUR_MS, split: None, top: 5 }
}

async fn buckets_are_dense_and_sum_requests_errors_cancellations_tokens_and_cost(store: Store) {
    let mut rows = Vec::new();
    for (offset, status) in [(0, 200), (10, 500), (20, 499), (HOUR_MS * 2 + 5, 429), (HOUR_MS * 2 + 6, 200)] {
        rows.push(RequestLog { status, ..log(NOW + offset, "a") });
    }
    rows.push(log(NOW - 1, "a")); // before the range
    rows.push(log(NOW + 3 * HOUR_MS, "a")); // at its exclusive end
    store.insert_request_logs(&rows).await.unwrap();

    let series = store.usage_series(&hours(NOW, 3)).await.unwrap();
    assert_eq!(series.buckets, [NOW, NOW + HOUR_MS, NOW + 2 * HOUR_MS]);
    assert_eq!(series.series.len(), 1, "unsplit: one series");
    let total = &series.series[0];
    assert_eq!((total.key.as_deref(), total.other, total.requests), (None, false, 5));
    let summary: Vec<(i64, i64, i64, i64, i64, i64)> = total
        .points
        .iter()
        .map(|p| (p.requests, p.errors, p.cancelled, p.input_tokens, p.output_tokens, p.cost_micros))
        .collect();
    assert_eq!(
        summary,
        [(3, 1, 1, 30, 15, 3_000), (0, 0, 0, 0, 0, 0), (2, 1, 0, 20, 10, 2_000)],
        "a 499 is a cancellation, not an error; the empty hour is there with zeros"
    );
    assert_eq!(total.points[1].latency_p50_ms, None, "no answer, no latency");

    let empty = store.usage_series(&hours(NOW - 10 * HOUR_MS, 2)).await.unwrap();
    assert_eq!(empty.series.len(), 1);
    assert_eq!(empty.series[0].points.len(), 2);
    assert!(empty.series[0].points.iter().all(|p| p.requests == 0));
}

async fn latency_percentiles_are_nearest_rank_over_answered_requests_and_ttft_over_streams(store: Store) {
    let mut rows = Vec::new();
    // Latencies 1..=100 ms answered; failures and cancellations are far slower and must not count.
    for latency in 1..=100 {
        rows.push(RequestLog { latency_ms: latency, ..log(NOW + latency, "a") });
    }
    for status in [500, 499, 404] {
        rows.push(RequestLog { status, latency_ms: 90_000, ..log(NOW + 200, "a") });
    }
    // Streams' first tokens: 10, 20, 30 (a failed stream's 999 does not count, nor a
    // non-streamed ttft).
    for ttft in [30, 10, 20] {
        rows.push(RequestLog { stream: true, ttft_ms: Some(ttft), latency_ms: 50, ..log(NOW + HOUR_MS + ttft, "a") });
    }
    rows.push(RequestLog { stream: true, ttft_ms: Some(999), status: 502, ..log(NOW + HOUR_MS, "a") });
    rows.push(RequestLog { stream: false, ttft_ms: Some(999), latency_ms: 50, ..log(NOW + HOUR_MS, "a") });
    store.insert_request_logs(&rows).await.unwrap();

    let series = store.usage_series(&hours(NOW, 2)).await.unwrap();
    let first = &series.series[0].points[0];
    assert_eq!((first.requests, first.errors, first.cancelled), (103, 2, 1));
    assert_eq!(
        (first.latency_p50_ms, first.latency_p95_ms, first.latency_p99_ms),
        (Some(50), Some(95), Some(99)),
        "the value at rank ceil(p·n) of the answered requests' latencies"
    );
    assert_eq!(first.ttft_p50_ms, None, "no stream in the first hour");
    let second = &series.series[0].points[1];
    assert_eq!(second.ttft_p50_ms, Some(20));
    assert_eq!((second.latency_p50_ms, second.latency_p99_ms), (Some(50), Some(50)));

    // One answered request: every percentile is its value.
    let single = store.usage_series(&hours(NOW + 3 * HOUR_MS, 1)).await.unwrap();
    assert_eq!(single.series[0].points[0].latency_p50_ms, None);
    store.insert_request_logs(&[RequestLog { latency_ms: 7, ..log(NOW + 3 * HOUR_MS, "a") }]).await.unwrap();
    let single = store.usage_series(&hours(NOW + 3 * HOUR_MS, 1)).await.unwrap();
    let point = &single.series[0].points[0];
    assert_eq!((point.latency_p50_ms, point.latency_p95_ms, point.latency_p99_ms), (Some(7), Some(7), Some(7)));
}

async fn a_split_keeps_the_busiest_keys_and_folds_the_rest_into_other(store: Store) {
    let mut rows = Vec::new();
    for (model, count, latency) in [("a", 5, 10), ("b", 4, 20), ("c", 3, 30), ("d", 1, 40)] {
        for i in 0..count {
            rows.push(RequestLog { latency_ms: latency, ..log(NOW + i, model) });
        }
    }
    rows.push(RequestLog { status: 500, ..log(NOW + HOUR_MS, "c") });
    // A request that reached no channel.
    rows.push(RequestLog { channel: None, status: 404, ..log(NOW + HOUR_MS, "missing") });
    store.insert_request_logs(&rows).await.unwrap();

    let query = SeriesQuery { split: Some(SeriesSplit::Model), top: 2, ..hours(NOW, 2) };
    let series = store.usage_series(&query).await.unwrap();
    let names: Vec<(Option<&str>, bool, i64)> =
        series.series.iter().map(|s| (s.key.as_deref(), s.other, s.requests)).collect();
    assert_eq!(names, [(Some("a"), false, 5), (Some("b"), false, 4), (None, true, 6)]);
    let other = &series.series[2];
    assert_eq!((other.points[0].requests, other.points[1].requests), (4, 2));
    assert_eq!(other.points[1].errors, 2, "the folded series keeps its failures");
    assert_eq!(other.points[0].latency_p50_ms, Some(30), "percentiles over the folded rows: 30, 30, 30, 40");
    assert_eq!(other.points[0].latency_p99_ms, Some(40));
    assert_eq!(series.series[0].points[1], Default::default(), "a quiet hour of a kept series is zero");

    let by_channel = SeriesQuery { split: Some(SeriesSplit::Channel), top: 5, ..hours(NOW, 2) };
    let series = store.usage_series(&by_channel).await.unwrap();
    let names: Vec<(Option<&str>, bool, i64)> =
        series.series.iter().map(|s| (s.key.as_deref(), s.other, s.requests)).collect();
    assert_eq!(names, [(Some("default/c"), false, 14), (None, false, 1)], "no channel is a series of its own");
}

async fn users_and_lanes_split_with_accountless_and_baseline_requests_apart(store: Store) {
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut rows = Vec::new();
    for (user, lane, count) in [(Some(alice), Some("gray"), 3), (Some(bob), None, 2), (None, None, 1)] {
        for i in 0..count {
            rows.push(RequestLog { user_id: user, lane: lane.map(Into::into), ..log(NOW + i, "a") });
        }
    }
    store.insert_request_logs(&rows).await.unwrap();

    let by_user = SeriesQuery { split: Some(SeriesSplit::User), top: 5, ..hours(NOW, 1) };
    let series = store.usage_series(&by_user).await.unwrap();
    let names: Vec<(Option<String>, i64)> = series.series.iter().map(|s| (s.key.clone(), s.requests)).collect();
    assert_eq!(names, [(Some(alice.to_string()), 3), (Some(bob.to_string()), 2), (None, 1)]);

    let by_lane = SeriesQuery { split: Some(SeriesSplit::Lane), top: 1, ..hours(NOW, 1) };
    let series = store.usage_series(&by_lane).await.unwrap();
    let names: Vec<(Option<&str>, bool, i64)> =
        series.series.iter().map(|s| (s.key.as_deref(), s.other, s.requests)).collect();
    assert_eq!(names, [(Some("gray"), false, 3), (None, true, 3)], "a tie keeps a named lane before baseline");
    let by_lane = SeriesQuery { top: 2, ..by_lane };
    let names: Vec<Option<String>> =
        store.usage_series(&by_lane).await.unwrap().series.into_iter().map(|s| s.key).collect();
    assert_eq!(names, [Some("baseline".to_string()), Some("gray".to_string())]);
}

async fn series_totals_agree_with_the_statistics(store: Store) {
    let rows: Vec<RequestLog> = (0..60)
        .map(|i| RequestLog {
            status: [200, 200, 500, 499][(i % 4) as usize],
            cost_micros: 1_234_567 + i,
            input_tokens: i,
            ..log(NOW + i * 3 * HOUR_MS, ["a", "b", "c"][(i % 3) as usize])
        })
        .collect();
    store.insert_request_logs(&rows).await.unwrap();
    let query = SeriesQuery::aligned(NOW, NOW + 8 * DAY_MS, None);
    assert_eq!((query.step_ms, query.buckets()), (DAY_MS, 9), "8 days from mid-day touch 9 UTC days");
    let query = SeriesQuery { split: Some(SeriesSplit::Model), ..query };
    let series = store.usage_series(&query).await.unwrap();
    let stats = store.usage_stats(StatsGroup::Model, query.from, query.to).await.unwrap();
    assert_eq!(series.series.len(), 3);
    for row in stats {
        let found = series.series.iter().find(|s| s.key.as_deref() == Some(row.bucket.as_str())).unwrap();
        let sum = |f: fn(&oblivious_store::SeriesPoint) -> i64| found.points.iter().map(f).sum::<i64>();
        assert_eq!(
            (
                sum(|p| p.requests),
                sum(|p| p.errors),
                sum(|p| p.cancelled),
                sum(|p| p.input_tokens),
                sum(|p| p.cost_micros)
            ),
            (row.requests, row.errors, row.cancelled, row.input_tokens, row.cost_micros),
            "{}",
            row.bucket
        );
    }
}

async fn ranges_steps_and_top_are_bounded(store: Store) {
    let refused = |query: SeriesQuery| {
        let store = store.clone();
        async move { matches!(store.usage_series(&query).await, Err(StoreError::Invalid(_))) }
    };
    assert!(refused(hours(NOW, 201)).await, "201 hourly buckets");
    assert!(refused(SeriesQuery { to: NOW, ..hours(NOW, 1) }).await, "an empty range");
    assert!(refused(SeriesQuery { step_ms: 0, ..hours(NOW, 1) }).await);
    assert!(refused(SeriesQuery { from: NOW - 92 * DAY_MS, to: NOW, step_ms: DAY_MS, split: None, top: 5 }).await);
    assert!(refused(SeriesQuery { split: Some(SeriesSplit::Model), top: 0, ..hours(NOW, 1) }).await);
    assert!(!refused(hours(NOW, 200)).await, "200 buckets are fine");
    let widened = SeriesQuery::aligned(NOW - 90 * DAY_MS, NOW, None);
    assert!(!refused(widened).await, "90 days widened to whole days are fine");

    // Two days or less: whole UTC hours; longer: whole days; the range widens to cover both ends.
    let day = SeriesQuery::aligned(NOW + 5, NOW + 2 * DAY_MS + 5, None);
    assert_eq!((day.from, day.to, day.step_ms), (NOW, NOW + 2 * DAY_MS + HOUR_MS, HOUR_MS));
    let week = SeriesQuery::aligned(NOW, NOW + 7 * DAY_MS, None);
    assert_eq!(week.step_ms, DAY_MS);
    assert_eq!(week.from % DAY_MS, 0);
    assert!(week.to >= NOW + 7 * DAY_MS && week.buckets() == 8, "7 days from mid-day span 8 UTC days");
    let forced = SeriesQuery::aligned(NOW, NOW + 7 * DAY_MS, Some(HOUR_MS));
    assert_eq!(forced.buckets(), 168);
}

async fn the_latest_failure_of_each_channel_is_found(store: Store) {
    let on = |channel: &str, at: i64, status: i32, class: Option<&str>| RequestLog {
        channel: Some(channel.into()),
        status,
        error_class: class.map(Into::into),
        ..log(at, "a")
    };
    store
        .insert_request_logs(&[
            on("x", NOW, 502, Some("upstream_error")),
            on("x", NOW + 10, 429, Some("rate_limited")),
            on("x", NOW + 20, 200, None),
            on("x", NOW + 30, 499, Some("client_closed")),
            on("y", NOW + 5, 401, Some("invalid_key")),
            on("y", NOW - DAY_MS, 500, Some("too_old")),
            on("z", NOW, 200, None),
        ])
        .await
        .unwrap();
    let failures = store.latest_channel_failures(NOW - HOUR_MS, NOW + HOUR_MS).await.unwrap();
    let seen: Vec<(&str, i32, Option<&str>, i64)> =
        failures.iter().map(|f| (f.channel.as_str(), f.status, f.error_class.as_deref(), f.created_at)).collect();
    assert_eq!(
        seen,
        [("x", 429, Some("rate_limited"), NOW + 10), ("y", 401, Some("invalid_key"), NOW + 5)],
        "a later success does not hide it; a cancellation is no failure; a quiet channel has none"
    );
}
