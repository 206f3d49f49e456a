//! ToolServer: reports what compile refused (a bad transport, a missing Secret), asks an HTTP
//! server for its tools through the injected [`ToolProbe`] (throttled by the [`ProbeLedger`]),
//! and folds the data plane's uptake of the config into status. Header values never leave the
//! compiled snapshot: status names Secrets and keys, and probe messages are scrubbed.
//!
//! Conditions: `Accepted` (the spec is valid), `ResolvedRefs` (every header's Secret and key
//! exist), `Connected` (the server answered a tools listing; `Unknown` for a stdio server,
//! which only `oblivious dev` starts, and without a probe), and `Ready` = Accepted and
//! ResolvedRefs and Connected not `False`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use kube::runtime::controller::{Action, Controller};
use oblivious_compile::CompileError;
use oblivious_crds::{DiscoveredTool, ToolServer, ToolServerStatus};

use super::tool_probe::{Probe, ProbeLedger, ToolProbe};
use super::{
    Conditions, Context, Error, apply_status, describe_problems, error_policy, instrumented, namespace_of,
    publish_condition_events, resource_id, truncate,
};
use crate::cluster::{TenantCompile, tenant_of_namespace};

const NAME: &str = "toolserver";
const RESYNC: Duration = Duration::from_secs(600);
const COMPILE_PENDING: Duration = Duration::from_millis(500);
/// Status lists at most this many tools (the CRD's bound).
const MAX_LISTED_TOOLS: usize = 256;

/// The ToolServer controller's context: the shared one plus the probe and its ledger.
pub struct ToolServerContext {
    /// The context every controller shares.
    pub ctx: Arc<Context>,
    /// Lists a server's tools; `None` in a build without an MCP client.
    tool_probe: Option<Arc<dyn ToolProbe>>,
    /// The last probe of each server.
    probes: ProbeLedger,
}

impl ToolServerContext {
    /// `tool_probe` is the MCP client that lists a server's tools (`None`: `Connected` stays
    /// `Unknown`, reason `ProbeNotConfigured`).
    pub fn new(ctx: Arc<Context>, tool_probe: Option<Arc<dyn ToolProbe>>) -> Self {
        ToolServerContext { ctx, tool_probe, probes: ProbeLedger::default() }
    }
}

/// What is known about reaching the server.
pub enum Connection {
    /// Left out of the config: nothing to probe until the spec is fixed.
    NotCompiled,
    /// A stdio server: the operator does not start programs.
    Stdio,
    /// No MCP client in this operator.
    NotConfigured,
    /// The latest probe.
    Probed(Probe),
}

/// Reconciles one ToolServer.
pub async fn reconcile(server: Arc<ToolServer>, tctx: Arc<ToolServerContext>) -> Result<Action, Error> {
    instrumented(NAME, &*server, &tctx.ctx, reconcile_tool_server(&server, &tctx)).await
}

async fn reconcile_tool_server(server: &ToolServer, tctx: &ToolServerContext) -> Result<Action, Error> {
    let ctx = &*tctx.ctx;
    if !ctx.is_leader() {
        return Ok(Action::await_change());
    }
    let namespace = namespace_of(server)?;
    let tenant = tenant_of_namespace(&ctx.stores, &namespace);
    let id = resource_id("ToolServer", server);
    let Some(compile) = ctx.compiled.tenant(&tenant).filter(|c| c.saw(&id, server.metadata.generation)) else {
        return Ok(Action::requeue(COMPILE_PENDING));
    };
    let connection = connect(&id.1, &compile, tctx).await;
    let next = match &connection {
        Connection::Probed(probe) => probe.due_in().min(RESYNC),
        _ => RESYNC,
    };
    let status = desired_status(server, &tenant, &compile, &connection, ctx);
    let previous = server.status.as_ref().map(|s| s.conditions.clone()).unwrap_or_default();
    if apply_status(&ctx.client, server, server.status.as_ref(), &status).await? {
        publish_condition_events(ctx, server, &previous, &status.conditions).await;
    }
    Ok(Action::requeue(next))
}

/// The last probe while it is fresh, else a new one. Only HTTP servers are probed.
async fn connect(key: &str, compile: &TenantCompile, tctx: &ToolServerContext) -> Connection {
    let Some(target) = compile.tool_servers.0.get(key) else {
        return Connection::NotCompiled;
    };
    if target.url.is_empty() {
        return Connection::Stdio;
    }
    let Some(tool_probe) = &tctx.tool_probe else {
        return Connection::NotConfigured;
    };
    match tctx.probes.fresh(key, target) {
        Some(probe) => Connection::Probed(probe),
        None => Connection::Probed(tctx.probes.probe(key, target.clone(), tool_probe.as_ref()).await),
    }
}

/// The status `server` should have given the latest compile of its tenant and `connection`.
pub fn desired_status(
    server: &ToolServer,
    tenant: &str,
    compile: &TenantCompile,
    connection: &Connection,
    ctx: &Context,
) -> ToolServerStatus {
    let problems = compile.problems(&resource_id("ToolServer", server));
    let (ref_problems, spec_problems): (Vec<&CompileError>, Vec<&CompileError>) =
        problems.iter().partition(|p| p.path.contains(".valueFrom.secretKeyRef"));
    let previous = server.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let mut conditions = Conditions::new(previous, server.metadata.generation);
    if spec_problems.is_empty() {
        conditions.set("Accepted", true, "Accepted", "the spec is valid");
    } else {
        conditions.set("Accepted", false, "InvalidSpec", describe_problems(&spec_problems));
    }
    if ref_problems.is_empty() {
        conditions.set("ResolvedRefs", true, "Resolved", "every header's Secret and key exist");
    } else {
        conditions.set("ResolvedRefs", false, ref_reason(&ref_problems), describe_problems(&ref_problems));
    }
    // Connected blocks Ready only when False: a server nobody could ask yet is not broken.
    let (tools, tool_count, last_probe_time) = match connection {
        Connection::Probed(probe) => match &probe.outcome {
            Ok(listed) => {
                conditions.set("Connected", true, "Connected", connected_message(listed, &probe.target));
                conditions.ready("Ready", "offered to agents");
                let count = u32::try_from(listed.len()).unwrap_or(u32::MAX);
                (status_tools(listed), Some(count), Some(probe.at_rfc3339.clone()))
            }
            Err(message) => {
                conditions.set("Connected", false, "ProbeFailed", message.clone());
                conditions.ready("Ready", "offered to agents");
                (Vec::new(), None, Some(probe.at_rfc3339.clone()))
            }
        },
        other => {
            conditions.ready("Ready", "offered to agents");
            let (reason, message) = match other {
                Connection::Stdio => ("StdioNotProbed", "stdio runs only inside `oblivious dev`"),
                Connection::NotConfigured => ("ProbeNotConfigured", "this operator has no MCP client to list tools"),
                _ => ("NotProbed", "not probed until the spec is accepted and its Secrets resolve"),
            };
            conditions.unknown("Connected", reason, message);
            (Vec::new(), None, None)
        }
    };
    let sync = problems.is_empty().then(|| ctx.sync_status(tenant, &compile.version));
    ToolServerStatus {
        observed_generation: server.metadata.generation,
        conditions: conditions.finish(),
        tools,
        tool_count,
        last_probe_time,
        sync,
    }
}

fn ref_reason(problems: &[&CompileError]) -> &'static str {
    match problems.first().map(|p| p.path.as_str()) {
        Some(path) if path.ends_with(".name") => "SecretNotFound",
        Some(_) if problems.iter().any(|p| p.reason.contains("has no key")) => "SecretKeyNotFound",
        _ => "SecretValueInvalid",
    }
}

/// `12 tools listed, 3 offered to agents`, plus allowed tools the server does not have.
fn connected_message(listed: &[(String, String)], target: &oblivious_config::ToolServer) -> String {
    let offered = listed.iter().filter(|(name, _)| target.allows(name)).count();
    let mut message = format!("{} tool(s) listed, {offered} offered to agents", listed.len());
    let missing: Vec<&str> = target
        .allowed_tools
        .iter()
        .filter(|allowed| !listed.iter().any(|(name, _)| name == *allowed))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        message.push_str(&format!("; allowedTools the server does not list: {}", missing.join(", ")));
    }
    message
}

/// The listed tools sorted by name, one per name, within the CRD's bounds.
fn status_tools(listed: &[(String, String)]) -> Vec<DiscoveredTool> {
    let mut tools: Vec<DiscoveredTool> = listed
        .iter()
        .map(|(name, description)| DiscoveredTool {
            name: truncate(name.clone(), 256),
            description: truncate(description.clone(), 1024),
        })
        .collect();
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    tools.dedup_by(|a, b| a.name == b.name);
    tools.truncate(MAX_LISTED_TOOLS);
    tools
}

/// Runs the ToolServer controller until the streams end.
pub async fn run(
    tctx: Arc<ToolServerContext>,
    tool_servers: impl Stream<Item = Arc<ToolServer>> + Send + 'static,
    reconcile_all: impl Stream<Item = ()> + Send + 'static,
) {
    Controller::for_shared_stream(tool_servers, tctx.ctx.stores.tool_servers.clone())
        .reconcile_all_on(reconcile_all)
        .run(reconcile, |object, error, tctx| error_policy(NAME, &*object, error, &tctx.ctx), tctx)
        .for_each(|_| std::future::ready(()))
        .await;
}
