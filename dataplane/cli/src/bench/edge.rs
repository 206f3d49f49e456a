//! The edge layer's own cost, measured in-process where the end-to-end runs are too noisy to see
//! microseconds: the same request through `edge::layer` in front of a handler that does nothing,
//! with no lanes and with the benchmark's three lanes (one of which asks who the caller is; the
//! lookup answers at once, as the relay's key cache does for a known key).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::routing::post;
use oblivious_core::edge::{Caller, CallerLookup, Edge, EdgeConfig, Hop, Hops};
use oblivious_core::lane::rules::LaneTable;
use prometheus_client::metrics::gauge::Gauge;
use tower::ServiceExt;

/// Requests per measurement (after as many for warm-up).
const REQUESTS: usize = 100_000;

struct KnownCaller;

impl CallerLookup for KnownCaller {
    fn lookup<'a>(&'a self, _: &'a http::request::Parts, _: bool) -> Pin<Box<dyn Future<Output = Caller> + Send + 'a>> {
        Box::pin(async {
            Caller { user_id: Some("0190d2c4-0000-7000-8000-000000000001".into()), may_pick_lane: false }
        })
    }
}

/// p50 and mean time of one request through the edge, without and with `lanes_yaml`.
pub async fn measure(lanes_yaml: &str) -> anyhow::Result<[(Duration, Duration); 2]> {
    let mut manifests = oblivious_crds::Manifests::default();
    let mut errors = Vec::new();
    oblivious_crds::parse_documents(Path::new("lanes.yaml"), lanes_yaml, &mut manifests, &mut errors);
    anyhow::ensure!(errors.is_empty(), "the benchmark's lanes do not parse: {errors:?}");
    let snapshot = oblivious_compile::compile(&manifests).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let with_lanes = Arc::new(LaneTable::new(&snapshot.lanes));
    anyhow::ensure!(with_lanes.needs_user(), "one benchmark lane should look at the caller");
    let without = time(Arc::new(LaneTable::default())).await?;
    let with = time(with_lanes).await?;
    Ok([without, with])
}

async fn time(lanes: Arc<LaneTable>) -> anyhow::Result<(Duration, Duration)> {
    let hops = Hops::new(Arc::new(move || lanes.clone()), Some("bench-hop-token".into()));
    let hop = Hop { role: "relay".into(), lane: String::new(), instance: "bench".into(), tenant: "default".into() };
    let edge = Edge::new(EdgeConfig {
        hop,
        hops,
        callers: Arc::new(KnownCaller),
        in_flight: Gauge::default(),
        max_body_bytes: 1 << 20,
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(|| async { "ok" }))
        .layer(axum::middleware::from_fn_with_state(edge, oblivious_core::edge::layer));
    let mut samples = Vec::with_capacity(REQUESTS);
    for round in 0..2 {
        for _ in 0..REQUESTS {
            let request = http::Request::post("/v1/chat/completions?x=1")
                .header("authorization", "Bearer sk-obl-benchmarkbenchmarkbenchmark")
                .header("content-type", "application/json")
                .header("cookie", "session=abc; theme=dark")
                .body(Body::from("{}"))
                .context("building a request")?;
            let started = Instant::now();
            let response = app.clone().oneshot(request).await.context("the edge failed")?;
            drop(response);
            if round == 1 {
                samples.push(started.elapsed());
            }
        }
    }
    let mean = samples.iter().sum::<Duration>() / samples.len().max(1) as u32;
    samples.sort_unstable();
    Ok((samples[samples.len() / 2], mean))
}
