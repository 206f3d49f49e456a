//! The delivery worker: a loop on the process's `Lifecycle` that claims due deliveries while it
//! has free slots, sends each on a task of its own (so a receiver that hangs holds one slot, not
//! the others), and writes how each attempt ended. It wakes at once for an event queued in this
//! process, at the next retry that falls due, and every `poll` for other processes' events.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oblivious_core::shutdown::Lifecycle;
use oblivious_runtime::Webhooks;
use oblivious_store::{AttemptOutcome, ClaimedDelivery, StoreResult, now_ms};
use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::signing::SigningKey;
use crate::target::{Target, check_target};

/// The longest wait a receiver's `Retry-After` may ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// The shortest wait between two looks at the outbox (a due delivery another worker holds).
const MIN_WAIT: Duration = Duration::from_millis(10);
/// How often ended deliveries past their retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Longest `last_error` kept.
const MAX_ERROR_CHARS: usize = 200;

/// How deliveries are sent and retried.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Attempts in flight at once in this process (also the most claimed at once).
    pub concurrency: usize,
    /// How often an idle worker looks for deliveries other processes queued.
    pub poll: Duration,
    /// The wait after the n-th failed attempt (the last one repeats), before jitter.
    pub backoff: Vec<Duration>,
    /// Each wait is scaled by a random factor within ± this many percent, so receivers that
    /// failed together are not retried together.
    pub jitter_percent: u32,
    pub connect_timeout: Duration,
    /// The whole attempt: connecting, sending, and the answer's status line.
    pub timeout: Duration,
    /// How long a claim holds; well over `timeout`, so only a dead worker's claims run out.
    pub lease: Duration,
    /// Delivered and failed deliveries are deleted this long after they ended.
    pub retention: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        DeliverySettings {
            concurrency: 16,
            poll: Duration::from_secs(2),
            // With the default 8 attempts: retried over about four hours.
            backoff: vec![
                Duration::from_secs(5),
                Duration::from_secs(30),
                minutes(2),
                minutes(10),
                minutes(30),
                minutes(60),
                minutes(120),
            ],
            jitter_percent: 20,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            lease: Duration::from_secs(60),
            retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl DeliverySettings {
    /// The wait after failed attempt `attempt` (1 for the first), jitter applied.
    pub fn backoff_after(&self, attempt: i32) -> Duration {
        let index = usize::try_from(attempt.max(1) - 1).unwrap_or(0);
        let Some(base) = self.backoff.get(index).or(self.backoff.last()) else { return Duration::ZERO };
        let jitter = i64::from(self.jitter_percent.min(100));
        let percent = 100 + rand::rng().random_range(-jitter..=jitter);
        let millis = i64::try_from(base.as_millis()).unwrap_or(i64::MAX).saturating_mul(percent) / 100;
        Duration::from_millis(u64::try_from(millis).unwrap_or(0))
    }
}

/// Sends the outbox's deliveries; one per process that holds the gateway.
pub struct DeliveryWorker {
    webhooks: Webhooks,
    settings: DeliverySettings,
    /// For platform webhooks (trusted): one pooled client.
    trusted: reqwest::Client,
}

/// Why an attempt failed: what the delivery shows, never a URL or a secret.
struct Failure {
    status_code: Option<u16>,
    reason: String,
    retry_after: Option<Duration>,
}

impl Failure {
    fn new(reason: impl Into<String>) -> Self {
        Failure { status_code: None, reason: reason.into(), retry_after: None }
    }

    /// reqwest's own messages name the URL (which may carry credentials): say what kind of
    /// failure it was instead.
    fn of_request(error: &reqwest::Error) -> Self {
        let reason = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "could not connect"
        } else {
            "the request failed"
        };
        Failure::new(reason)
    }
}

impl DeliveryWorker {
    pub fn new(webhooks: Webhooks, settings: DeliverySettings) -> Result<Arc<Self>, reqwest::Error> {
        let trusted = client_builder(&settings).build()?;
        Ok(Arc::new(DeliveryWorker { webhooks, settings, trusted }))
    }

    /// Runs the worker until the process drains; tracked, so shutdown waits for the attempts in
    /// flight (each bounded by `timeout`). What is still due then stays in the outbox.
    pub fn spawn(self: &Arc<Self>, lifecycle: Arc<Lifecycle>) {
        let worker = self.clone();
        let tracked = lifecycle.clone();
        // A root span: deliveries run apart from the requests that caused their events.
        let span = tracing::info_span!(parent: None, "webhooks.worker");
        tracked.spawn_job(async move { worker.run(lifecycle).await }.instrument(span));
    }

    async fn run(self: Arc<Self>, lifecycle: Arc<Lifecycle>) {
        let slots = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let mut in_flight = JoinSet::new();
        let mut pruned_at: Option<Instant> = None;
        while !lifecycle.is_draining() {
            // Forget the attempts that ended (their slots are free already).
            while in_flight.try_join_next().is_some() {}
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                self.prune().await;
                pruned_at = Some(Instant::now());
            }
            let free = slots.available_permits();
            if free > 0 {
                match self.claim(free).await {
                    Ok(claimed) => {
                        let full = claimed.len() == free;
                        for delivery in claimed {
                            let Ok(slot) = slots.clone().try_acquire_owned() else { break };
                            in_flight.spawn(self.clone().deliver(delivery, slot));
                        }
                        if full {
                            continue;
                        }
                    }
                    Err(error) => tracing::warn!(%error, "webhooks: cannot claim deliveries; retrying"),
                }
            }
            // With every slot busy, the next attempt to end is what frees one.
            let wait = if slots.available_permits() == 0 { self.settings.poll } else { self.until_next_due().await };
            tokio::select! {
                _ = self.webhooks.woken() => {}
                _ = tokio::time::sleep(wait) => {}
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                _ = lifecycle.stopping() => break,
            }
        }
        while in_flight.join_next().await.is_some() {}
    }

    async fn claim(&self, free: usize) -> StoreResult<Vec<ClaimedDelivery>> {
        let now = now_ms();
        let lease = i64::try_from(self.settings.lease.as_millis()).unwrap_or(i64::MAX);
        let limit = i64::try_from(free).unwrap_or(i64::MAX);
        self.webhooks.store().claim_webhook_deliveries(now, now.saturating_add(lease), limit).await
    }

    /// Until the next retry falls due, at most `poll`.
    async fn until_next_due(&self) -> Duration {
        match self.webhooks.store().next_webhook_delivery_due().await {
            Ok(Some(due)) => {
                let millis = u64::try_from(due.saturating_sub(now_ms())).unwrap_or(0);
                Duration::from_millis(millis).clamp(MIN_WAIT, self.settings.poll.max(MIN_WAIT))
            }
            Ok(None) => self.settings.poll,
            Err(error) => {
                tracing::warn!(%error, "webhooks: cannot read when the next delivery is due");
                self.settings.poll
            }
        }
    }

    async fn prune(&self) {
        let retention = i64::try_from(self.settings.retention.as_millis()).unwrap_or(i64::MAX);
        match self.webhooks.store().prune_webhook_deliveries(now_ms().saturating_sub(retention)).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "webhooks: deleted deliveries past their retention"),
            Err(error) => tracing::warn!(%error, "webhooks: cannot delete old deliveries"),
        }
    }

    /// Makes one attempt and records how it went; the slot is free again when it returns.
    async fn deliver(self: Arc<Self>, delivery: ClaimedDelivery, _slot: OwnedSemaphorePermit) {
        let span = tracing::info_span!(
            "webhooks.deliver",
            oblivious.delivery_id = %delivery.id,
            oblivious.webhook_id = %delivery.webhook_id,
            oblivious.event_type = delivery.event_type.as_str(),
            oblivious.attempt = delivery.attempts,
        );
        async {
            let result = self.attempt(&delivery).await;
            let outcome = self.outcome(&delivery, result);
            match &outcome {
                AttemptOutcome::Delivered { status_code } => tracing::info!(status_code, "webhook delivered"),
                AttemptOutcome::Retry { status_code, error, .. } => {
                    tracing::info!(status_code, error, "webhook attempt failed; it will be retried")
                }
                AttemptOutcome::Failed { status_code, error } => {
                    tracing::warn!(status_code, error, "webhook delivery failed for good")
                }
            }
            let store = self.webhooks.store();
            match store.record_webhook_attempt(delivery.id, delivery.attempts, &outcome, now_ms()).await {
                Ok(true) => {}
                Ok(false) => tracing::info!("webhook delivery was taken over by another worker; result dropped"),
                // The claim runs out and the delivery is sent again: at least once, never lost.
                Err(error) => tracing::warn!(%error, "could not record a webhook attempt; it will be retried"),
            }
        }
        .instrument(span)
        .await
    }

    fn outcome(&self, delivery: &ClaimedDelivery, result: Result<u16, Failure>) -> AttemptOutcome {
        let failure = match result {
            Ok(status_code) => return AttemptOutcome::Delivered { status_code: i32::from(status_code) },
            Err(failure) => failure,
        };
        let status_code = failure.status_code.map(i32::from);
        let error: String = failure.reason.chars().take(MAX_ERROR_CHARS).collect();
        if delivery.attempts >= delivery.max_attempts {
            return AttemptOutcome::Failed { status_code, error };
        }
        let mut wait = self.settings.backoff_after(delivery.attempts);
        if let Some(asked) = failure.retry_after {
            wait = wait.max(asked.min(MAX_RETRY_AFTER));
        }
        let next_attempt_at = now_ms().saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
        AttemptOutcome::Retry { status_code, error, next_attempt_at }
    }

    /// Sends the delivery once: the answer's status when it was 2xx.
    async fn attempt(&self, delivery: &ClaimedDelivery) -> Result<u16, Failure> {
        let key = SigningKey::from_secret(&delivery.secret).ok_or_else(|| Failure::new("the secret is malformed"))?;
        let trusted = delivery.owner_id.is_none();
        let allow_private = self.webhooks.settings().allow_private_targets;
        let Target { url, pinned } = check_target(&delivery.url, trusted, allow_private)
            .await
            .map_err(|refusal| Failure::new(format!("the URL was refused: {refusal}")))?;
        let client = if trusted { self.trusted.clone() } else { self.pinned_client(pinned)? };
        let id = delivery.event_id.to_string();
        let timestamp = now_ms() / 1000;
        let response = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", key.sign(&id, timestamp, delivery.payload.as_bytes()))
            .body(delivery.payload.clone())
            .send()
            .await
            .map_err(|error| Failure::of_request(&error))?;
        let status = response.status();
        if status.is_success() {
            return Ok(status.as_u16());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let reason = if status.is_redirection() {
            format!("HTTP {} (redirects are not followed)", status.as_u16())
        } else {
            format!("HTTP {}", status.as_u16())
        };
        Err(Failure { status_code: Some(status.as_u16()), reason, retry_after })
    }

    /// A client that connects only to the addresses the user's URL was checked against, never
    /// through a proxy (which would resolve the name again).
    fn pinned_client(&self, pinned: Option<(String, Vec<std::net::SocketAddr>)>) -> Result<reqwest::Client, Failure> {
        let mut builder = client_builder(&self.settings).no_proxy();
        if let Some((host, addrs)) = &pinned {
            builder = builder.resolve_to_addrs(host, addrs);
        }
        builder.build().map_err(|_| Failure::new("the HTTP client cannot be built"))
    }
}

/// No redirects (one could lead a checked URL anywhere), bounded connect and total time.
fn client_builder(settings: &DeliverySettings) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .user_agent(concat!("Oblivious-Webhooks/", env!("CARGO_PKG_VERSION")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_along_the_schedule_within_the_jitter_and_then_repeats_its_last_step() {
        let settings = DeliverySettings::default();
        for (attempt, base) in [(1, 5_u128), (2, 30), (3, 120), (4, 600), (7, 7200), (9, 7200), (0, 5)] {
            for _ in 0..20 {
                let wait = settings.backoff_after(attempt).as_millis();
                let base = base * 1000;
                assert!(wait >= base * 80 / 100 && wait <= base * 120 / 100, "attempt {attempt}: {wait} ms");
            }
        }
        let exact = DeliverySettings { jitter_percent: 0, ..DeliverySettings::default() };
        assert_eq!(exact.backoff_after(3), Duration::from_secs(120));
        let none = DeliverySettings { backoff: Vec::new(), ..DeliverySettings::default() };
        assert_eq!(none.backoff_after(1), Duration::ZERO);
    }
}
