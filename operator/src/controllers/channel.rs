//! Channel: resolves the Secret reference (and re-reconciles when the Secret changes, so a key
//! rotation shows up at once), reports what compile refused, and folds the data plane's
//! ACKs/NACKs of the tenant's config into status. A provider key never leaves the Secret
//! except inside the tenant's snapshot: status counts keys, messages name Secret keys only.
//!
//! Conditions: `Accepted` (the spec is valid), `ResolvedRefs` (the Secret and key exist and
//! hold a key), `Programmed` (in the published snapshot and not refused by a pod), `Ready`, and
//! `Healthy` (from the relay pods' health reports: not ejected, attempts mostly succeed). Ready
//! does not wait for Healthy: an upstream's outage is not a configuration error, and GitOps
//! tools would block on it.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use oblivious_compile::CompileError;
use oblivious_crds::status::{ChannelHealth, find_condition};
use oblivious_crds::{Channel, ChannelStatus, Condition};

use super::{
    Conditions, Context, Error, apply_status, describe_problems, error_policy, health, instrumented, namespace_of,
    publish_condition_events, resource_id,
};
use crate::cluster::{TenantCompile, tenant_of_namespace};

const NAME: &str = "channel";
/// Status is re-derived this often even without a change (clock-free, so only a safety net).
const RESYNC: Duration = Duration::from_secs(600);
/// Retry soon when the compile loop has not yet seen this generation.
const COMPILE_PENDING: Duration = Duration::from_millis(500);

/// Reconciles one Channel.
pub async fn reconcile(channel: Arc<Channel>, ctx: Arc<Context>) -> Result<Action, Error> {
    instrumented(NAME, &*channel, &ctx, reconcile_channel(&channel, &ctx)).await
}

async fn reconcile_channel(channel: &Channel, ctx: &Context) -> Result<Action, Error> {
    if !ctx.is_leader() {
        return Ok(Action::await_change());
    }
    let namespace = namespace_of(channel)?;
    let tenant = tenant_of_namespace(&ctx.stores, &namespace);
    let id = resource_id("Channel", channel);
    let Some(compile) = ctx.compiled.tenant(&tenant).filter(|c| c.saw(&id, channel.metadata.generation)) else {
        return Ok(Action::requeue(COMPILE_PENDING));
    };
    let status = desired_status(channel, &namespace, &tenant, &compile, ctx);
    let previous = channel.status.as_ref().map(|s| s.conditions.clone()).unwrap_or_default();
    if apply_status(&ctx.client, channel, channel.status.as_ref(), &status).await? {
        publish_condition_events(ctx, channel, &previous, &status.conditions).await;
    }
    Ok(Action::requeue(RESYNC))
}

/// The status `channel` should have given the latest compile, the Secret cache and the pods.
pub fn desired_status(
    channel: &Channel,
    namespace: &str,
    tenant: &str,
    compile: &TenantCompile,
    ctx: &Context,
) -> ChannelStatus {
    let id = resource_id("Channel", channel);
    let problems = compile.problems(&id);
    let (ref_problems, spec_problems): (Vec<&CompileError>, Vec<&CompileError>) =
        problems.iter().partition(|p| p.path.starts_with("spec.apiKeySecretRef"));
    let previous = channel.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let mut conditions = Conditions::new(previous, channel.metadata.generation);

    if spec_problems.is_empty() {
        conditions.set("Accepted", true, "Accepted", "the spec is valid");
    } else {
        conditions.set("Accepted", false, spec_reason(&spec_problems), describe_problems(&spec_problems));
    }

    let secret_ref = &channel.spec.api_key_secret_ref;
    let secret = ctx.stores.secrets.get(&ObjectRef::<Secret>::new(&secret_ref.name).within(namespace));
    let keys = secret.as_deref().and_then(|s| secret_value(s, &secret_ref.key)).map(|v| count_keys(&v));
    match (&secret, keys) {
        (None, _) => conditions.set(
            "ResolvedRefs",
            false,
            "SecretNotFound",
            format!("Secret {namespace}/{} not found (spec.apiKeySecretRef.name)", secret_ref.name),
        ),
        (Some(secret), None) => conditions.set(
            "ResolvedRefs",
            false,
            "SecretKeyNotFound",
            format!(
                "Secret {namespace}/{} has no key `{}` (it has: {})",
                secret_ref.name,
                secret_ref.key,
                secret_keys(secret).join(", ")
            ),
        ),
        (Some(_), Some(0)) => conditions.set(
            "ResolvedRefs",
            false,
            "SecretValueEmpty",
            format!("key `{}` of Secret {namespace}/{} is empty", secret_ref.key, secret_ref.name),
        ),
        (Some(_), Some(n)) => conditions.set(
            "ResolvedRefs",
            true,
            "Resolved",
            format!("{n} provider key(s) from Secret {namespace}/{}", secret_ref.name),
        ),
    };
    // The cache and compile agree except in a race with a Secret change; compile's verdict is
    // what was published, so it decides `Programmed` below.
    if !ref_problems.is_empty() && keys.is_some_and(|n| n > 0) {
        conditions.set("ResolvedRefs", false, "SecretChanging", describe_problems(&ref_problems));
    }

    let sync = ctx.sync_status(tenant, &compile.version);
    if !problems.is_empty() {
        conditions.set(
            "Programmed",
            false,
            "Invalid",
            format!("left out of tenant {tenant}'s config until fixed; the data plane routes without this channel"),
        );
    } else if sync.nacked_pods > 0 {
        conditions.set(
            "Programmed",
            false,
            "DataPlaneRejected",
            format!(
                "{} pod(s) refused config version {} and keep serving their previous one: {}",
                sync.nacked_pods,
                compile.version,
                sync.last_nack_message.clone().unwrap_or_default()
            ),
        );
    } else {
        conditions.set(
            "Programmed",
            true,
            "Programmed",
            format!("in config version {} of tenant {tenant}; running on {} pod(s)", compile.version, sync.acked_pods),
        );
    }
    if channel.spec.suspend {
        conditions.ready("Suspended", "valid and configured, but out of routing (spec.suspend)");
    } else {
        conditions.ready("Ready", "serving");
    }
    // After `ready`, which must not count it.
    let health = channel_health(channel, &id.1, tenant, ctx, previous);
    health::channel_verdict(health.as_ref(), channel.spec.suspend, tenant).set(&mut conditions, "Healthy");

    ChannelStatus {
        observed_generation: channel.metadata.generation,
        conditions: conditions.finish(),
        models: Some(model_summary(channel)),
        keys: keys.and_then(|n| u32::try_from(n).ok()),
        sync: Some(sync),
        health,
    }
}

/// The health to report: the pods' latest, or the numbers in status while they are recent and
/// the verdict holds (see `health`).
fn channel_health(
    channel: &Channel,
    key: &str,
    tenant: &str,
    ctx: &Context,
    previous_conditions: &[Condition],
) -> Option<ChannelHealth> {
    let now = Timestamp::now();
    let fresh = health::channel_health(&(ctx.health)(), tenant, key, now);
    let verdict = health::channel_verdict(fresh.as_ref(), channel.spec.suspend, tenant);
    health::throttled(
        channel.status.as_ref().and_then(|s| s.health.as_ref()),
        find_condition(previous_conditions, "Healthy"),
        fresh,
        &verdict,
        now,
    )
}

fn spec_reason(problems: &[&CompileError]) -> &'static str {
    let first = problems.first().map(|p| (p.path.as_str(), p.reason.as_str())).unwrap_or_default();
    match first {
        (path, _) if path.starts_with("spec.baseUrl") => "InvalidBaseUrl",
        (path, reason) if path.starts_with("spec.models") && reason.contains("duplicate") => "DuplicateModelName",
        (path, _) if path.starts_with("spec.models") => "InvalidModels",
        (path, _) if path.starts_with("spec.timeouts") => "InvalidTimeout",
        (path, _) if path.starts_with("spec.headers") => "InvalidHeader",
        _ => "InvalidSpec",
    }
}

/// A Secret value as text (`stringData` wins, as in the API server).
fn secret_value(secret: &Secret, key: &str) -> Option<String> {
    if let Some(value) = secret.string_data.as_ref().and_then(|d| d.get(key)) {
        return Some(value.clone());
    }
    secret.data.as_ref()?.get(key).map(|bytes| String::from_utf8_lossy(&bytes.0).into_owned())
}

fn secret_keys(secret: &Secret) -> Vec<String> {
    let mut keys: Vec<String> = secret.data.iter().flatten().map(|(k, _)| k.clone()).collect();
    keys.extend(secret.string_data.iter().flatten().map(|(k, _)| k.clone()));
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        keys.push("no keys".into());
    }
    keys
}

/// Keys in one value: one per line or comma separated (as compile splits them).
fn count_keys(value: &str) -> usize {
    value.split(['\n', ',']).filter(|k| !k.trim().is_empty()).count()
}

/// `a, b, c (+4)` for the Models column.
fn model_summary(channel: &Channel) -> String {
    let names: Vec<&str> = channel.spec.models.iter().map(|m| m.name.as_str()).collect();
    let shown = names.iter().take(3).copied().collect::<Vec<_>>().join(", ");
    match names.len().saturating_sub(3) {
        0 => shown,
        more => format!("{shown} (+{more})"),
    }
}

/// The Channels that reference `secret` (same namespace, same name).
pub fn channels_using_secret(
    ctx_channels: &kube::runtime::reflector::Store<Channel>,
    secret: &Secret,
) -> Vec<ObjectRef<Channel>> {
    let namespace = secret.namespace();
    let name = secret.name_any();
    ctx_channels
        .state()
        .iter()
        .filter(|c| c.namespace() == namespace && c.spec.api_key_secret_ref.name == name)
        .map(|c| ObjectRef::from_obj(&**c))
        .collect()
}

/// Runs the Channel controller until the streams end.
pub async fn run(
    ctx: Arc<Context>,
    channels: impl Stream<Item = Arc<Channel>> + Send + 'static,
    secrets: impl Stream<Item = Arc<Secret>> + Send + 'static,
    reconcile_all: impl Stream<Item = ()> + Send + 'static,
) {
    let store = ctx.stores.channels.clone();
    let by_secret = store.clone();
    Controller::for_shared_stream(channels, store)
        .watches_shared_stream(secrets, move |secret| channels_using_secret(&by_secret, &secret))
        .reconcile_all_on(reconcile_all)
        .run(reconcile, |object, error, ctx| error_policy(NAME, &*object, error, &ctx), ctx)
        .for_each(|_| std::future::ready(()))
        .await;
}
