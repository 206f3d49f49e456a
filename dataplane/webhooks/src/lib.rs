//! Delivering webhook events (issue 14 item 4): a worker that claims due deliveries from the
//! durable outbox (`oblivious_store::webhooks`), POSTs each event's JSON signed the Standard
//! Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<HMAC-SHA256>`), and
//! retries failures with exponential backoff and jitter until they are delivered or out of
//! attempts. Events are queued by `oblivious_runtime::Webhooks` in every role; the worker runs in
//! the roles that hold the gateway. See NOTES.md for the invariants.

mod signing;
mod target;
mod worker;

pub use signing::{SECRET_PREFIX, SigningKey, generate_secret};
pub use target::{MAX_URL_CHARS, Target, TargetRefusal, check_target};
pub use worker::{DeliverySettings, DeliveryWorker};
