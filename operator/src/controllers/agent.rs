//! Agent: the catalog only offers assistants that can answer, so an Agent whose model (or a
//! fallback) no accepted Channel of its tenant serves is left out of the config and says so.
//!
//! Conditions: `Accepted` (prompt and parameters valid), `ResolvedRefs` (every model is served
//! and every `tools` entry names an accepted ToolServer and a tool it allows), `Ready`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use kube::runtime::controller::{Action, Controller};
use oblivious_compile::CompileError;
use oblivious_crds::{Agent, AgentStatus};

use super::{
    Conditions, Context, Error, apply_status, describe_problems, error_policy, instrumented, namespace_of,
    publish_condition_events, resource_id,
};
use crate::cluster::{TenantCompile, tenant_of_namespace};

const NAME: &str = "agent";
const RESYNC: Duration = Duration::from_secs(600);
const COMPILE_PENDING: Duration = Duration::from_millis(500);

/// Reconciles one Agent.
pub async fn reconcile(agent: Arc<Agent>, ctx: Arc<Context>) -> Result<Action, Error> {
    instrumented(NAME, &*agent, &ctx, reconcile_agent(&agent, &ctx)).await
}

async fn reconcile_agent(agent: &Agent, ctx: &Context) -> Result<Action, Error> {
    if !ctx.is_leader() {
        return Ok(Action::await_change());
    }
    let namespace = namespace_of(agent)?;
    let tenant = tenant_of_namespace(&ctx.stores, &namespace);
    let id = resource_id("Agent", agent);
    let Some(compile) = ctx.compiled.tenant(&tenant).filter(|c| c.saw(&id, agent.metadata.generation)) else {
        return Ok(Action::requeue(COMPILE_PENDING));
    };
    let status = desired_status(agent, &tenant, &compile, ctx);
    let previous = agent.status.as_ref().map(|s| s.conditions.clone()).unwrap_or_default();
    if apply_status(&ctx.client, agent, agent.status.as_ref(), &status).await? {
        publish_condition_events(ctx, agent, &previous, &status.conditions).await;
    }
    Ok(Action::requeue(RESYNC))
}

/// The status `agent` should have given the latest compile of its tenant.
pub fn desired_status(agent: &Agent, tenant: &str, compile: &TenantCompile, ctx: &Context) -> AgentStatus {
    let problems = compile.problems(&resource_id("Agent", agent));
    let (ref_problems, spec_problems): (Vec<&CompileError>, Vec<&CompileError>) = problems.iter().partition(|p| {
        p.path.starts_with("spec.model")
            || p.path.starts_with("spec.fallbackModels")
            || p.path.starts_with("spec.tools")
    });
    let previous = agent.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let mut conditions = Conditions::new(previous, agent.metadata.generation);
    if spec_problems.is_empty() {
        conditions.set("Accepted", true, "Accepted", "the spec is valid");
    } else {
        conditions.set("Accepted", false, "InvalidSpec", describe_problems(&spec_problems));
    }
    if ref_problems.is_empty() {
        conditions.set(
            "ResolvedRefs",
            true,
            "ModelsServed",
            "every model is served by a Channel and every tool resolves",
        );
    } else {
        // A model problem is named first: without a model the agent cannot answer at all.
        let reason = if ref_problems.iter().any(|p| !p.path.starts_with("spec.tools")) {
            "ModelNotServed"
        } else {
            "ToolNotResolved"
        };
        conditions.set(
            "ResolvedRefs",
            false,
            reason,
            format!("{} (left out of tenant {tenant}'s catalog)", describe_problems(&ref_problems)),
        );
    }
    conditions.ready("Ready", "published in the catalog");
    let sync = problems.is_empty().then(|| ctx.sync_status(tenant, &compile.version));
    AgentStatus { observed_generation: agent.metadata.generation, conditions: conditions.finish(), sync }
}

/// Runs the Agent controller until the streams end.
pub async fn run(
    ctx: Arc<Context>,
    agents: impl Stream<Item = Arc<Agent>> + Send + 'static,
    reconcile_all: impl Stream<Item = ()> + Send + 'static,
) {
    Controller::for_shared_stream(agents, ctx.stores.agents.clone())
        .reconcile_all_on(reconcile_all)
        .run(reconcile, |object, error, ctx| error_policy(NAME, &*object, error, &ctx), ctx)
        .for_each(|_| std::future::ready(()))
        .await;
}
