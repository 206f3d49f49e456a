//! Serving a process's router until it is asked to stop, then draining it without losing a
//! request or a charge (DESIGN §5, "lossless rollout"; the order is `oblivious_core::shutdown`'s):
//! unready at once; still serving through the pre-stop pause; chat jobs finish (they may call this
//! very process's relay); the listener closes and in-flight requests and streams finish; at the
//! grace deadline what is left is cancelled (jobs checkpoint their replies); then the settler
//! writes every charge and the request log is flushed.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use oblivious_relay::Relay;
use tokio::time::Instant;

/// After the grace period, what is still running is cancelled; this is how long the cancelled
/// work gets to write what it has (a chat job its reply so far) before the connections close.
const CHECKPOINT_TIME: Duration = Duration::from_secs(5);
/// The longest a shutdown keeps retrying charges the database does not take.
const FLUSH_TIME: Duration = Duration::from_secs(10);

/// How a process drains when asked to stop.
#[derive(Debug, Clone, Copy)]
pub struct DrainSettings {
    /// The pre-stop pause: unready but still serving, while endpoints stop sending here
    /// (`OBLIVIOUS_SHUTDOWN_DELAY`, default 0; the chart sets a few seconds).
    pub delay: Duration,
    /// How long in-flight requests, streams and chat jobs may take to finish
    /// (`OBLIVIOUS_SHUTDOWN_GRACE`, default 30 s; keep the pod's termination grace period above
    /// delay + grace + 15 s).
    pub grace: Duration,
}

impl DrainSettings {
    pub fn from_env() -> anyhow::Result<Self> {
        let duration = |name: &str, default: Duration| -> anyhow::Result<Duration> {
            match std::env::var(name).ok().filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(text) => humantime::parse_duration(&text)
                    .with_context(|| format!("{name}: `{text}` is not a duration such as 5s")),
            }
        };
        Ok(DrainSettings {
            delay: duration("OBLIVIOUS_SHUTDOWN_DELAY", Duration::ZERO)?,
            grace: duration("OBLIVIOUS_SHUTDOWN_GRACE", Duration::from_secs(30))?,
        })
    }
}

/// Serves `app` until SIGINT/SIGTERM, then drains.
pub async fn serve(listener: tokio::net::TcpListener, app: Router, relay: &Relay, drain: DrainSettings) {
    serve_until(listener, app, relay, drain, oblivious_core::shutdown::signal()).await
}

/// Serves `app` until `stop` resolves, then drains.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    app: Router,
    relay: &Relay,
    drain: DrainSettings,
    stop: impl Future<Output = ()>,
) {
    let lifecycle = relay.runtime.lifecycle.clone();
    let (stop_accepting, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(oblivious_core::serve::without_nagle(listener), app).with_graceful_shutdown(async move {
        let _ = stop_rx.await;
    });
    let mut server = tokio::spawn(async move { server.await });
    let stopped_on_its_own = tokio::select! {
        _ = stop => false,
        ended = &mut server => {
            eprintln!("the server stopped on its own: {ended:?}");
            true
        }
    };
    let deadline = Instant::now() + drain.delay + drain.grace;
    lifecycle.start_draining();
    tokio::time::sleep(drain.delay).await;

    if tokio::time::timeout_at(deadline, lifecycle.jobs_done()).await.is_err() {
        eprintln!("{} chat jobs outlived the grace period; they keep what they wrote", lifecycle.jobs_running());
        lifecycle.grace_expired();
        let _ = tokio::time::timeout(CHECKPOINT_TIME, lifecycle.jobs_done()).await;
    }
    let _ = stop_accepting.send(());
    let deadline = deadline.max(Instant::now() + CHECKPOINT_TIME);
    if !stopped_on_its_own && tokio::time::timeout_at(deadline, &mut server).await.is_err() {
        eprintln!("in-flight requests did not finish within the grace period; closing them");
        server.abort();
        // Aborting drops the handlers, whose request guards record and settle what they served.
        let _ = server.await;
    }
    relay.flush_for_shutdown(Instant::now() + FLUSH_TIME).await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::routing::get;

    use super::*;

    async fn relay() -> (Arc<Relay>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = oblivious_store::Store::connect(None, dir.path()).await.unwrap();
        store.migrate().await.unwrap();
        let runtime = oblivious_runtime::Runtime::local(oblivious_runtime::RuntimeConfig::default(), store);
        let relay = Relay::new(oblivious_relay::RelayConfig::default(), runtime);
        relay.install(oblivious_config::Snapshot { version: "v".into(), ..Default::default() });
        (relay, dir)
    }

    /// The drain in order: unready but serving during the pause, a running job finishes (and can
    /// still call this process), an in-flight request is answered, and only then the listener
    /// closes.
    #[tokio::test]
    async fn a_drain_turns_unready_first_lets_jobs_and_requests_finish_then_closes() {
        let (relay, _dir) = relay().await;
        let arrived = Arc::new(tokio::sync::Notify::new());
        let app = oblivious_relay::http::probes_router(relay.clone()).route(
            "/slow",
            get({
                let arrived = arrived.clone();
                || async move {
                    arrived.notify_one();
                    tokio::time::sleep(Duration::from_millis(600)).await;
                    "slow answer"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let drain = DrainSettings { delay: Duration::from_millis(300), grace: Duration::from_secs(10) };
        let serving = {
            let relay = relay.clone();
            tokio::spawn(async move {
                serve_until(listener, app, &relay, drain, async {
                    let _ = stopped.await;
                })
                .await
            })
        };
        let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        assert_eq!(http.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);

        let events = Arc::new(Mutex::new(Vec::<&str>::new()));
        let job = {
            let (http, base, events) = (http.clone(), base.clone(), events.clone());
            async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let status = http.get(format!("{base}/healthz")).send().await.map(|r| r.status().as_u16()).ok();
                events.lock().unwrap().push(if status == Some(200) { "job called the process" } else { "job failed" });
            }
        };
        relay.runtime.lifecycle.spawn_job(job);
        let in_flight = tokio::spawn({
            let (http, base) = (http.clone(), base.clone());
            async move { http.get(format!("{base}/slow")).send().await.unwrap().text().await.unwrap() }
        });
        arrived.notified().await;
        stop.send(()).unwrap();

        // Unready within the pause, and still answering while it lasts.
        let pause_ends = tokio::time::Instant::now() + drain.delay;
        loop {
            let status = http.get(format!("{base}/readyz")).send().await.expect("still serving in the pause").status();
            if status == 503 {
                break;
            }
            assert!(tokio::time::Instant::now() < pause_ends, "still ready when the pause was over");
            tokio::task::yield_now().await;
        }
        assert_eq!(in_flight.await.unwrap(), "slow answer");
        serving.await.unwrap();
        assert_eq!(*events.lock().unwrap(), ["job called the process"]);
        assert!(http.get(format!("{base}/healthz")).send().await.is_err(), "closed once drained");
    }
}
