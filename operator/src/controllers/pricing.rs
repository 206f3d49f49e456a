//! ModelPricing: which price list is in effect. For each model of a list, the list in effect
//! is the latest `effectiveFrom` not in the future among the tenant's accepted lists pricing
//! it (the relay decides the same at request time from the snapshot). A scheduled list is
//! reconciled again the moment it takes effect.
//!
//! Conditions: `Accepted`, `Ready` (= Accepted), `Active` (True when the list prices at least
//! one model right now; `Scheduled` or `Superseded` otherwise).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::{Stream, StreamExt};
use kube::ResourceExt;
use kube::runtime::controller::{Action, Controller};
use oblivious_crds::{ModelPricing, ModelPricingStatus};

use super::{
    Conditions, Context, Error, apply_status, describe_problems, error_policy, instrumented, namespace_of,
    publish_condition_events, resource_id,
};
use crate::cluster::{TenantCompile, tenant_of_namespace};

const NAME: &str = "modelpricing";
const RESYNC: Duration = Duration::from_secs(600);
const COMPILE_PENDING: Duration = Duration::from_millis(500);

/// Reconciles one ModelPricing.
pub async fn reconcile(pricing: Arc<ModelPricing>, ctx: Arc<Context>) -> Result<Action, Error> {
    instrumented(NAME, &*pricing, &ctx, reconcile_pricing(&pricing, &ctx)).await
}

async fn reconcile_pricing(pricing: &ModelPricing, ctx: &Context) -> Result<Action, Error> {
    if !ctx.is_leader() {
        return Ok(Action::await_change());
    }
    let namespace = namespace_of(pricing)?;
    let tenant = tenant_of_namespace(&ctx.stores, &namespace);
    let id = resource_id("ModelPricing", pricing);
    let Some(compile) = ctx.compiled.tenant(&tenant).filter(|c| c.saw(&id, pricing.metadata.generation)) else {
        return Ok(Action::requeue(COMPILE_PENDING));
    };
    let (status, next_change) = desired_status(pricing, &tenant, &compile, ctx, SystemTime::now());
    let previous = pricing.status.as_ref().map(|s| s.conditions.clone()).unwrap_or_default();
    if apply_status(&ctx.client, pricing, pricing.status.as_ref(), &status).await? {
        publish_condition_events(ctx, pricing, &previous, &status.conditions).await;
    }
    Ok(Action::requeue(next_change.map_or(RESYNC, |d| d.min(RESYNC))))
}

/// The status of `pricing` at `now`, and how long until the answer can change (a list of the
/// tenant taking effect).
pub fn desired_status(
    pricing: &ModelPricing,
    tenant: &str,
    compile: &TenantCompile,
    ctx: &Context,
    now: SystemTime,
) -> (ModelPricingStatus, Option<Duration>) {
    let id = resource_id("ModelPricing", pricing);
    let problems: Vec<_> = compile.problems(&id).iter().collect();
    let previous = pricing.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let mut conditions = Conditions::new(previous, pricing.metadata.generation);
    if problems.is_empty() {
        conditions.set("Accepted", true, "Accepted", "the price list is valid");
    } else {
        conditions.set("Accepted", false, "InvalidPrices", describe_problems(&problems));
    }
    conditions.ready("Ready", "the price list is valid");

    // The tenant's accepted lists with their start times.
    let lists: Vec<(String, SystemTime, Arc<ModelPricing>)> = ctx
        .stores
        .pricings
        .state()
        .into_iter()
        .filter(|p| tenant_of_namespace(&ctx.stores, &p.namespace().unwrap_or_default()) == tenant)
        .filter(|p| compile.problems(&resource_id("ModelPricing", &**p)).is_empty())
        .map(|p| (super::object_key(&*p), effective_from(&p), p))
        .collect();
    let me = super::object_key(pricing);
    let mine = effective_from(pricing);
    let mut active = 0u32;
    let mut superseded_by = Vec::new();
    for model in &pricing.spec.models {
        // Latest start not after now; ties cannot happen among accepted lists (compile refuses them).
        let winner = lists
            .iter()
            .filter(|(_, from, p)| *from <= now && p.spec.models.iter().any(|m| m.name == model.name))
            .max_by_key(|(_, from, _)| *from);
        match winner {
            Some((key, _, _)) if *key == me => active += 1,
            Some((key, _, _)) if mine <= now => superseded_by.push(key.clone()),
            _ => {}
        }
    }
    let superseded = u32::try_from(superseded_by.len()).unwrap_or(u32::MAX);
    let total = pricing.spec.models.len();
    if !problems.is_empty() {
        conditions.set("Active", false, "Invalid", "an invalid list prices nothing");
    } else if mine > now {
        conditions.set(
            "Active",
            false,
            "Scheduled",
            format!("takes effect at {}", humantime::format_rfc3339_seconds(mine)),
        );
    } else if active > 0 {
        conditions.set("Active", true, "Active", format!("the price in effect for {active} of {total} model(s)"));
    } else {
        superseded_by.sort();
        superseded_by.dedup();
        conditions.set(
            "Active",
            false,
            "Superseded",
            format!("every model is priced by a newer list: {}", superseded_by.join(", ")),
        );
    }
    // The earliest future start among the tenant's lists changes some answer.
    let next_change =
        lists.iter().filter_map(|(_, from, _)| from.duration_since(now).ok()).filter(|d| !d.is_zero()).min();
    let status = ModelPricingStatus {
        observed_generation: pricing.metadata.generation,
        conditions: conditions.finish(),
        active_models: active,
        superseded_models: superseded,
    };
    (status, next_change)
}

fn effective_from(pricing: &ModelPricing) -> SystemTime {
    pricing
        .spec
        .effective_from
        .as_deref()
        .and_then(|t| humantime::parse_rfc3339(t.trim()).ok())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Runs the ModelPricing controller until the streams end.
pub async fn run(
    ctx: Arc<Context>,
    pricings: impl Stream<Item = Arc<ModelPricing>> + Send + 'static,
    reconcile_all: impl Stream<Item = ()> + Send + 'static,
) {
    Controller::for_shared_stream(pricings, ctx.stores.pricings.clone())
        .reconcile_all_on(reconcile_all)
        .run(reconcile, |object, error, ctx| error_policy(NAME, &*object, error, &ctx), ctx)
        .for_each(|_| std::future::ready(()))
        .await;
}
