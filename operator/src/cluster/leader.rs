//! Leader election on a `coordination.k8s.io/v1` Lease, the way client-go's leaderelection does
//! it: the holder renews `renewTime` every `renew_every`; a candidate takes the Lease once
//! `renewTime + leaseDurationSeconds` has passed. Writes are optimistic (`resourceVersion`), so
//! two candidates racing for an expired Lease cannot both win. Only the leader writes status
//! and child objects; every replica keeps serving config streams.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use tokio::sync::watch;

/// How a replica competes for the Lease.
#[derive(Debug, Clone)]
pub struct LeaderElection {
    pub api: Api<Lease>,
    pub lease_name: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_every: Duration,
}

impl LeaderElection {
    /// Defaults as client-go: a 15 s lease renewed every 5 s.
    pub fn new(api: Api<Lease>, lease_name: String, identity: String) -> Self {
        LeaderElection {
            api,
            lease_name,
            identity,
            lease_duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
    }

    /// Competes until `shutdown`, publishing leadership on `leader`; releases the Lease on the
    /// way out so another replica takes over at once instead of after the lease duration.
    pub async fn run(self, leader: watch::Sender<bool>, mut shutdown: watch::Receiver<bool>) {
        let mut last_renewed: Option<tokio::time::Instant> = None;
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    last_renewed = Some(tokio::time::Instant::now());
                    if !*leader.borrow() {
                        tracing::info!(identity = self.identity, lease = self.lease_name, "became the leader");
                    }
                    leader.send_replace(true);
                }
                Ok(false) => {
                    if *leader.borrow() {
                        tracing::warn!(identity = self.identity, "lost the Lease to another replica");
                    }
                    leader.send_replace(false);
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot reach the leader Lease");
                    // Step down before the Lease can expire under us: another replica may take it.
                    let safe = self.lease_duration.saturating_sub(self.renew_every);
                    if last_renewed.is_none_or(|at| at.elapsed() >= safe) {
                        leader.send_replace(false);
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.renew_every) => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
        if *leader.borrow() {
            leader.send_replace(false);
            if let Err(error) = self.release().await {
                tracing::warn!(%error, "could not release the leader Lease");
            }
        }
    }

    /// One round: `Ok(true)` if this replica holds the Lease afterwards.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let current = match self.api.get_opt(&self.lease_name).await? {
            Some(lease) => lease,
            None => {
                let lease = Lease {
                    metadata: ObjectMeta { name: Some(self.lease_name.clone()), ..ObjectMeta::default() },
                    spec: Some(self.held_spec(now, now, 0)),
                };
                return match self.api.create(&PostParams::default(), &lease).await {
                    Ok(_) => Ok(true),
                    Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                    Err(error) => Err(error),
                };
            }
        };
        let spec = current.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let transitions = spec.lease_transitions.unwrap_or(0);
        let next = if holder == self.identity {
            let acquired = spec.acquire_time.map(|t| t.0).unwrap_or(now);
            self.held_spec(acquired, now, transitions)
        } else if holder.is_empty() || expired(&spec, now) {
            self.held_spec(now, now, transitions.saturating_add(1))
        } else {
            return Ok(false);
        };
        let mut lease = current;
        lease.spec = Some(next);
        match self.api.replace(&self.lease_name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            // Someone else wrote the Lease since we read it: they won this round.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Gives the Lease up (holder cleared), if this replica still holds it.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.lease_name).await? else { return Ok(()) };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        self.api.replace(&self.lease_name, &PostParams::default(), &lease).await.map(|_| ())
    }

    fn held_spec(&self, acquired: Timestamp, renewed: Timestamp, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(i32::try_from(self.lease_duration.as_secs()).unwrap_or(15)),
            acquire_time: Some(MicroTime(acquired)),
            renew_time: Some(MicroTime(renewed)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }
}

/// Whether the holder failed to renew within the lease duration.
fn expired(spec: &LeaseSpec, now: Timestamp) -> bool {
    let Some(renewed) = spec.renew_time.as_ref().map(|t| t.0) else { return true };
    let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(15)));
    renewed.saturating_add(duration).is_ok_and(|deadline| deadline < now)
}
