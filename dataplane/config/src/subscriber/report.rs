//! The pod's health reports (config.proto's `Report`): every interval, sample the pod's totals
//! into the trailing window and send the window on one long client stream, reconnecting with
//! the config stream's backoff. The window survives reconnects, so a new operator replica gets
//! a full five minutes at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tonic::transport::Endpoint;

use super::Backoff;
use crate::health::{HealthTotals, Window};
use crate::proto::Node;
use crate::proto::config_discovery_client::ConfigDiscoveryClient;

/// Where a pod's totals come from (its relay's channel book, its edge's counters).
pub type HealthSource = Arc<dyn Fn() -> HealthTotals + Send + Sync>;

/// An operator without the `Report` method is asked again this much later.
const UNSUPPORTED_RETRY: Duration = Duration::from_secs(300);

pub(super) async fn report_forever(
    endpoint: Endpoint,
    node: Node,
    source: HealthSource,
    every: Duration,
    backoff: Backoff,
) {
    let mut window = Window::default();
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut attempt = 0u32;
    loop {
        let (sent, ended) = session(&endpoint, &node, &source, &mut window, &mut ticks).await;
        if sent > 1 {
            attempt = 0;
        }
        let delay = match ended.code() {
            Code::Unimplemented => {
                tracing::info!("the operator takes no health reports; channel health stays out of status");
                UNSUPPORTED_RETRY
            }
            _ => {
                tracing::debug!(reason = ended.message(), "health report stream ended");
                backoff.delay(attempt)
            }
        };
        attempt = attempt.saturating_add(1);
        let deadline = tokio::time::Instant::now() + delay;
        // Keep sampling while away, so the window is whole when the stream is back.
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                at = ticks.tick() => window.push(at.into_std(), source()),
            }
        }
    }
}

/// One stream: reports until the server or the connection ends it. Returns how many reports
/// went out and why it ended.
async fn session(
    endpoint: &Endpoint,
    node: &Node,
    source: &HealthSource,
    window: &mut Window,
    ticks: &mut tokio::time::Interval,
) -> (usize, tonic::Status) {
    let channel = match endpoint.connect().await {
        Ok(channel) => channel,
        Err(error) => return (0, tonic::Status::unavailable(format!("cannot connect: {error}"))),
    };
    let mut client = ConfigDiscoveryClient::new(channel);
    let (reports, outbound) = mpsc::channel(2);
    let call = client.report(ReceiverStream::new(outbound));
    tokio::pin!(call);
    let mut sent = 0usize;
    loop {
        tokio::select! {
            ended = &mut call => {
                return (sent, ended.err().unwrap_or_else(|| tonic::Status::ok("the operator closed the report stream")));
            }
            at = ticks.tick() => {
                window.push(at.into_std(), source());
                let announce = (sent == 0).then(|| node.clone());
                // Each report replaces the last: with the stream backed up, skipping one loses
                // nothing (the node is announced again by the next).
                match reports.try_send(window.report().to_proto(announce)) {
                    Ok(()) => sent += 1,
                    Err(mpsc::error::TrySendError::Full(_)) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        return (sent, tonic::Status::cancelled("the report stream closed"));
                    }
                }
            }
        }
    }
}
