//! Lane: gives each selector member a Service (`<service>-lane-<tag>`, owned by the Lane),
//! reads member readiness from that Service's EndpointSlices, and reports it. The compile loop
//! puts the same readiness into the snapshot, so a hop only enters the lane where it has a
//! ready member, and otherwise falls back (or fails, for `Strict`).
//!
//! Conditions: `Accepted`, `MembersReady`, `Ready`, and `Expired` (after `expiresAt`; an expired
//! lane dyes nothing but is not broken, so it does not affect `Ready`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use oblivious_crds::{Lane, LaneFallback, LaneMemberStatus, LaneStatus};

use super::{
    Conditions, Context, Error, FIELD_MANAGER, apply_status, describe_problems, error_policy, health, instrumented,
    namespace_of, publish_condition_events, resource_id,
};
use crate::cluster::{TenantCompile, lane_service_name, ready_endpoints, tenant_of_namespace};
use crate::distribution::PodHealth;

const NAME: &str = "lane";
const RESYNC: Duration = Duration::from_secs(300);
const COMPILE_PENDING: Duration = Duration::from_millis(500);
/// Label on every Service the Lane controller makes; the EndpointSlice watch selects on it.
pub const LANE_LABEL: &str = "oblivious.dev/lane";

/// Reconciles one Lane.
pub async fn reconcile(lane: Arc<Lane>, ctx: Arc<Context>) -> Result<Action, Error> {
    instrumented(NAME, &*lane, &ctx, reconcile_lane(&lane, &ctx)).await
}

async fn reconcile_lane(lane: &Lane, ctx: &Context) -> Result<Action, Error> {
    if !ctx.is_leader() {
        return Ok(Action::await_change());
    }
    let namespace = namespace_of(lane)?;
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &namespace);
    let wanted = member_services(lane)?;
    for service in &wanted {
        let name = service.metadata.name.as_deref().ok_or(Error::MissingField("metadata.name"))?;
        services.patch(name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(service)).await?;
    }
    // A member removed from the spec leaves its Service behind: remove those we made.
    let selector = format!("{LANE_LABEL}={}", lane.name_any());
    for existing in services.list(&ListParams::default().labels(&selector)).await? {
        let name = existing.name_any();
        if !wanted.iter().any(|s| s.metadata.name.as_deref() == Some(name.as_str())) {
            services.delete(&name, &DeleteParams::background()).await?;
        }
    }

    let tenant = tenant_of_namespace(&ctx.stores, &namespace);
    let id = resource_id("Lane", lane);
    let Some(compile) = ctx.compiled.tenant(&tenant).filter(|c| c.saw(&id, lane.metadata.generation)) else {
        return Ok(Action::requeue(COMPILE_PENDING));
    };
    let (status, expires_in) = desired_status(lane, &namespace, &tenant, &compile, ctx, SystemTime::now());
    let previous = lane.status.as_ref().map(|s| s.conditions.clone()).unwrap_or_default();
    if apply_status(&ctx.client, lane, lane.status.as_ref(), &status).await? {
        publish_condition_events(ctx, lane, &previous, &status.conditions).await;
    }
    Ok(Action::requeue(expires_in.map_or(RESYNC, |d| d.min(RESYNC))))
}

/// The Services of the Lane's selector members, owned by the Lane.
pub fn member_services(lane: &Lane) -> Result<Vec<Service>, Error> {
    let owner = lane.controller_owner_ref(&()).ok_or(Error::MissingField("metadata.uid"))?;
    let mut out = Vec::new();
    for member in &lane.spec.members {
        let Some(selector) = &member.selector else { continue };
        let labels = BTreeMap::from([
            (LANE_LABEL.to_string(), lane.name_any()),
            ("oblivious.dev/lane-tag".to_string(), lane.spec.tag.clone()),
            ("app.kubernetes.io/component".to_string(), member.service.as_str().to_string()),
            ("app.kubernetes.io/managed-by".to_string(), FIELD_MANAGER.to_string()),
        ]);
        out.push(Service {
            metadata: ObjectMeta {
                name: Some(lane_service_name(lane, member.service)),
                namespace: lane.namespace(),
                labels: Some(labels),
                owner_references: Some(vec![owner.clone()]),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                selector: Some(selector.clone()),
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: i32::from(member.port),
                    target_port: Some(IntOrString::Int(i32::from(member.port))),
                    ..ServicePort::default()
                }]),
                ..ServiceSpec::default()
            }),
            status: None,
        });
    }
    Ok(out)
}

/// The Lane's status at `now`, and how long until it expires.
pub fn desired_status(
    lane: &Lane,
    namespace: &str,
    tenant: &str,
    compile: &TenantCompile,
    ctx: &Context,
    now: SystemTime,
) -> (LaneStatus, Option<Duration>) {
    let problems: Vec<_> = compile.problems(&resource_id("Lane", lane)).iter().collect();
    let previous = lane.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let mut conditions = Conditions::new(previous, lane.metadata.generation);
    if problems.is_empty() {
        conditions.set("Accepted", true, "Accepted", "the lane's rules and members are valid");
    } else {
        conditions.set("Accepted", false, "InvalidSpec", describe_problems(&problems));
    }
    let reports = (ctx.health)();
    let members: Vec<LaneMemberStatus> = lane
        .spec
        .members
        .iter()
        .map(|member| match &member.endpoint {
            Some(endpoint) => LaneMemberStatus {
                service: member.service.as_str().into(),
                endpoint: endpoint.trim_end_matches('/').into(),
                ready: true,
                ready_endpoints: 1,
                ..LaneMemberStatus::default()
            },
            None => {
                let service = lane_service_name(lane, member.service);
                let ready = ready_endpoints(&ctx.stores, namespace, &service);
                LaneMemberStatus {
                    service: member.service.as_str().into(),
                    endpoint: format!("http://{service}.{namespace}.svc:{}", member.port),
                    ready: ready > 0,
                    ready_endpoints: ready,
                    ..LaneMemberStatus::default()
                }
            }
        })
        .map(|member| with_health(member, lane, tenant, &reports))
        .collect();
    let not_ready: Vec<&str> = members.iter().filter(|m| !m.ready).map(|m| m.service.as_str()).collect();
    let ready_count = members.len() - not_ready.len();
    if not_ready.is_empty() {
        conditions.set("MembersReady", true, "MembersReady", "every lane version has a ready endpoint");
    } else {
        let consequence = match lane.spec.fallback {
            LaneFallback::Baseline => "dyed requests use the baseline there",
            LaneFallback::Strict => "dyed requests fail there (fallback: Strict)",
        };
        conditions.set(
            "MembersReady",
            false,
            "MembersNotReady",
            format!("no ready endpoint for {}; {consequence}", not_ready.join(", ")),
        );
    }
    let status_word = if lane.spec.enabled { "dyeing requests" } else { "disabled" };
    conditions.ready("Ready", status_word);

    let expires_at = lane.spec.expires_at.as_deref().and_then(|t| humantime::parse_rfc3339(t.trim()).ok());
    let expires_in = expires_at.and_then(|at| at.duration_since(now).ok());
    match expires_at {
        Some(at) if at <= now => conditions.set(
            "Expired",
            true,
            "Expired",
            format!("expired at {}; the lane dyes nothing", humantime::format_rfc3339_seconds(at)),
        ),
        Some(at) => conditions.set(
            "Expired",
            false,
            "NotExpired",
            format!("expires at {}", humantime::format_rfc3339_seconds(at)),
        ),
        None => conditions.set("Expired", false, "NoExpiry", "no expiresAt"),
    };
    let sync = problems.is_empty().then(|| ctx.sync_status(tenant, &compile.version));
    let status = LaneStatus {
        observed_generation: lane.metadata.generation,
        conditions: conditions.finish(),
        members_ready: Some(format!("{ready_count}/{}", members.len())),
        falling_back: !not_ready.is_empty() && lane.spec.fallback == LaneFallback::Baseline,
        members,
        sync,
    };
    (status, expires_in)
}

/// `member` with the traffic its lane version and its baseline served, from the pods' health
/// reports (the numbers in status are kept while recent; see `health`).
fn with_health(mut member: LaneMemberStatus, lane: &Lane, tenant: &str, reports: &[PodHealth]) -> LaneMemberStatus {
    let now = Timestamp::now();
    let previous = lane.status.as_ref().and_then(|s| s.members.iter().find(|m| m.service == member.service));
    let fresh = health::served_health(reports, tenant, &lane.spec.tag, &member.service, now);
    member.health = health::recent_or(previous.and_then(|p| p.health.as_ref()), fresh, now);
    let fresh = health::served_health(reports, tenant, "", &member.service, now);
    member.baseline_health = health::recent_or(previous.and_then(|p| p.baseline_health.as_ref()), fresh, now);
    member
}

/// The Lane an EndpointSlice of one of its Services belongs to.
pub fn lane_of_slice(slice: &EndpointSlice) -> Option<ObjectRef<Lane>> {
    let lane = slice.labels().get(LANE_LABEL)?;
    Some(ObjectRef::new(lane).within(&slice.namespace()?))
}

/// Runs the Lane controller until the streams end.
pub async fn run(
    ctx: Arc<Context>,
    lanes: impl Stream<Item = Arc<Lane>> + Send + 'static,
    slices: impl Stream<Item = Arc<EndpointSlice>> + Send + 'static,
    reconcile_all: impl Stream<Item = ()> + Send + 'static,
) {
    Controller::for_shared_stream(lanes, ctx.stores.lanes.clone())
        .watches_shared_stream(slices, |slice| lane_of_slice(&slice))
        .reconcile_all_on(reconcile_all)
        .run(reconcile, |object, error, ctx| error_policy(NAME, &*object, error, &ctx), ctx)
        .for_each(|_| std::future::ready(()))
        .await;
}
