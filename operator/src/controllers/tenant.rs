//! Tenant: an isolated deployment. Applies (server-side, Tenant as owner of everything) the
//! namespace, owner RoleBindings, ResourceQuota, LimitRange, NetworkPolicies, tenant Secret
//! (database URL, token signing key, internal token) and the data-plane fleet, then reports how
//! far it got. Deleting a Tenant deletes all of it through owner references — except while
//! `preventDeletion` holds the protection finalizer.
//! No finalizer is needed otherwise: nothing the operator makes lives outside the cluster
//! (a `Schema`'s tables live in the shared database and are kept, on purpose, for retention).
//!
//! Conditions: `NamespaceReady`, `DatabaseReady`, `FleetReady`, `Ready`, `DeletionProtected`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use oblivious_crds::{DataPlaneService, DatabaseIsolation, Tenant, TenantSpec, TenantStatus};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    Conditions, Context, Error, FIELD_MANAGER, apply_status, budget, error_policy, instrumented,
    publish_condition_events,
};
use crate::distribution::TenantLabels;
use crate::fleet::{
    self, DATABASE_URL_KEY, FleetMember, INTERNAL_TOKEN_KEY, JWT_SECRET_KEY, REDIS_URL_KEY, TENANT_LABEL,
    TENANT_SECRET, isolation,
};

const NAME: &str = "tenant";
const RESYNC: Duration = Duration::from_secs(300);
/// Holds a Tenant with `preventDeletion: true` (and only then) while it is being deleted.
pub const PROTECTION_FINALIZER: &str = "oblivious.dev/prevent-deletion";

/// Reconciles one Tenant.
pub async fn reconcile(tenant: Arc<Tenant>, ctx: Arc<Context>) -> Result<Action, Error> {
    instrumented(NAME, &*tenant, &ctx, reconcile_tenant(&tenant, &ctx)).await
}

async fn reconcile_tenant(tenant: &Tenant, ctx: &Context) -> Result<Action, Error> {
    if !ctx.is_leader() {
        return Ok(Action::await_change());
    }
    let api: Api<Tenant> = Api::all(ctx.client.clone());
    let name = tenant.name_any();
    let protected = tenant.finalizers().iter().any(|f| f == PROTECTION_FINALIZER);
    let previous = tenant.status.as_ref().map(|s| s.conditions.clone()).unwrap_or_default();
    let mut conditions = Conditions::new(&previous, tenant.metadata.generation);

    if tenant.metadata.deletion_timestamp.is_some() {
        if tenant.spec.prevent_deletion {
            conditions.set(
                "DeletionProtected",
                true,
                "DeletionBlocked",
                "deletion requested but spec.preventDeletion is true; set it to false to let the deletion finish",
            );
            let status = TenantStatus { conditions: conditions.finish(), ..tenant.status.clone().unwrap_or_default() };
            apply_status(&ctx.client, tenant, tenant.status.as_ref(), &status).await?;
            return Ok(Action::await_change());
        }
        if protected {
            set_finalizers(&api, tenant, false).await?;
        }
        // Owner references delete everything else.
        return Ok(Action::await_change());
    }
    if tenant.spec.prevent_deletion != protected {
        set_finalizers(&api, tenant, tenant.spec.prevent_deletion).await?;
    }

    let owner = tenant.controller_owner_ref(&()).ok_or(Error::MissingField("metadata.uid"))?;
    let spec = &tenant.spec;
    let ns = spec.namespace.as_str();

    // The namespace first: if it already belongs to someone else, touch nothing inside it.
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    if let Some(existing) = namespaces.get_opt(ns).await? {
        let ours = existing.owner_references().iter().any(|o| Some(&o.uid) == tenant.metadata.uid.as_ref());
        if !ours {
            conditions.set(
                "NamespaceReady",
                false,
                "NamespaceTaken",
                format!("namespace {ns} already exists and is not owned by this Tenant; choose another spec.namespace"),
            );
            conditions.ready("Ready", "");
            return write_status(ctx, tenant, &previous, conditions, None).await;
        }
    }
    apply(&namespaces, &isolation::namespace(&name, spec, &owner)).await?;
    conditions.set("NamespaceReady", true, "Applied", format!("namespace {ns} with RBAC, quota and network policy"));

    let bindings: Api<RoleBinding> = Api::namespaced(ctx.client.clone(), ns);
    for (binding_name, binding) in isolation::role_bindings(&name, spec, &owner) {
        match binding {
            Some(binding) => {
                apply(&bindings, &binding).await?;
            }
            None => delete_if_present(&bindings, &binding_name).await?,
        }
    }
    let quotas: Api<ResourceQuota> = Api::namespaced(ctx.client.clone(), ns);
    match isolation::quota(&name, spec, &owner) {
        Some(quota) => {
            apply(&quotas, &quota).await?;
        }
        None => delete_if_present(&quotas, "oblivious-quota").await?,
    }
    let limit_ranges: Api<LimitRange> = Api::namespaced(ctx.client.clone(), ns);
    match isolation::limit_range(&name, spec, &owner) {
        Some(limits) => {
            apply(&limit_ranges, &limits).await?;
        }
        None => delete_if_present(&limit_ranges, "oblivious-defaults").await?,
    }
    let policies: Api<NetworkPolicy> = Api::namespaced(ctx.client.clone(), ns);
    for policy in isolation::network_policies(&name, spec, &ctx.settings.namespace, &owner) {
        apply(&policies, &policy).await?;
    }

    let TenantSecretRefs { database, redis } = tenant_secret(ctx, tenant, &owner, &mut conditions).await?;

    let mut ready = 0;
    let mut desired = 0;
    for role in &spec.fleet.roles {
        let member = FleetMember {
            tenant: name.clone(),
            namespace: ns.to_string(),
            role: *role,
            image: spec.fleet.image.clone().unwrap_or_else(|| ctx.settings.data_plane_image.clone()),
            config_server: ctx.settings.config_server.clone(),
            min_replicas: spec.fleet.min_replicas,
            max_replicas: spec.fleet.max_replicas,
            target_in_flight_per_pod: spec.fleet.target_in_flight_per_pod,
            pending_jobs_per_pod: spec.fleet.pending_jobs_per_pod,
            requests: spec.fleet.resources.requests.clone(),
            limits: spec.fleet.resources.limits.clone(),
            database: database.clone(),
            redis,
            object_store: spec.object_store.clone(),
            tracing: ctx.settings.fleet_tracing.clone(),
            owner: owner.clone(),
        };
        let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), ns);
        let applied = apply(&deployments, &fleet::deployment(&member)).await?;
        let status = applied.status.unwrap_or_default();
        ready += status.ready_replicas.unwrap_or(0);
        desired += status.replicas.unwrap_or(0).max(i32::try_from(member.min_replicas).unwrap_or(i32::MAX));
        apply(&Api::<Service>::namespaced(ctx.client.clone(), ns), &fleet::service(&member)).await?;
        apply(&Api::<HorizontalPodAutoscaler>::namespaced(ctx.client.clone(), ns), &fleet::autoscaler(&member)).await?;
        apply(&Api::<PodDisruptionBudget>::namespaced(ctx.client.clone(), ns), &fleet::disruption_budget(&member))
            .await?;
    }
    let calls_relay = spec.fleet.roles.iter().any(|r| *r != DataPlaneService::Relay);
    if calls_relay && !spec.fleet.roles.contains(&DataPlaneService::Relay) {
        // Their pods start and turn Ready, but every chat request would fail to connect.
        conditions.set(
            "FleetReady",
            false,
            "RelayMissing",
            format!(
                "the {} role(s) call the relay at {}, which this fleet does not run; add `relay` to spec.fleet.roles",
                spec.fleet.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
                fleet::relay_url(ns)
            ),
        );
    } else if ready >= desired && desired > 0 {
        conditions.set("FleetReady", true, "Available", format!("{ready} data-plane pod(s) ready"));
    } else {
        conditions.set(
            "FleetReady",
            false,
            "Progressing",
            format!("{ready} of {desired} data-plane pod(s) ready (a pod is ready once it holds its config)"),
        );
    }
    // Without an object store a rag pod never sees an upload: that blocks Ready. Gateway and
    // chat alone still work with one pod each, so for them it is a warning set after Ready.
    let rag_without_store = spec.object_store.is_none() && spec.fleet.roles.contains(&DataPlaneService::Rag);
    if rag_without_store {
        files_shared(spec, &mut conditions);
    }
    conditions.ready("Ready", "namespace, guardrails and fleet are in place");
    if !rag_without_store {
        files_shared(spec, &mut conditions);
    }
    limits_shared(&name, redis, &mut conditions);
    conditions.set(
        "DeletionProtected",
        spec.prevent_deletion,
        if spec.prevent_deletion { "PreventDeletion" } else { "NotProtected" },
        if spec.prevent_deletion { "kubectl delete waits until spec.preventDeletion is false" } else { "deletable" },
    );
    write_status(ctx, tenant, &previous, conditions, Some(format!("{ready}/{desired}"))).await
}

/// `FilesShared`: whether the fleet's file roles keep users' files where all their pods see them.
fn files_shared(spec: &TenantSpec, conditions: &mut Conditions<'_>) {
    let file_roles: Vec<&str> =
        spec.fleet.roles.iter().filter(|r| fleet::reads_files(**r)).map(|r| r.as_str()).collect();
    let (shared, reason, message) = match (&spec.object_store, file_roles.is_empty()) {
        (_, true) => (true, "NoFileRoles", "no role of the fleet reads users' files".to_string()),
        (Some(store), false) => (true, "ObjectStore", format!("users' files are kept in {}", store.url)),
        (None, false) => (
            false,
            "PodLocal",
            format!(
                "the {} role(s) keep users' files in each pod's emptyDir: a file is seen only by the pod it was \
                 uploaded to, never indexed by rag, and lost with the pod; set spec.objectStore",
                file_roles.join(", ")
            ),
        ),
    };
    conditions.set("FilesShared", shared, reason, message);
}

/// `LimitsShared`: whether the fleet's pods share rate limits, quota holds and chat streams
/// through Redis. A warning only: without it each pod enforces `limit / minReplicas` alone and
/// a chat stream is followed only on the pod that runs it.
fn limits_shared(tenant: &str, redis: bool, conditions: &mut Conditions<'_>) {
    if redis {
        let prefix = fleet::redis_prefix(tenant);
        conditions.set("LimitsShared", true, "Redis", format!("the platform's Redis, keys under {prefix}"));
    } else {
        conditions.set(
            "LimitsShared",
            false,
            "PodLocal",
            "the platform Secret has no REDIS_URL: each pod keeps its own rate limits, quota holds and chat streams",
        );
    }
}

async fn write_status(
    ctx: &Context,
    tenant: &Tenant,
    previous: &[oblivious_crds::Condition],
    conditions: Conditions<'_>,
    replicas: Option<String>,
) -> Result<Action, Error> {
    let name = tenant.name_any();
    let version = ctx.compiled.tenant(&name).map(|c| c.version.clone());
    let mut conditions = conditions;
    let budget = tenant.spec.budget.as_ref().map(|spec| {
        let folded = budget::fold(spec, &(ctx.health)(), &name, Timestamp::now());
        if let Some(ratio) = folded.ratio {
            ctx.metrics.budget_used.get_or_create(&TenantLabels { tenant: name.clone() }).set(ratio);
        }
        folded.verdict.set(&mut conditions, "WithinBudget");
        folded.status
    });
    let status = TenantStatus {
        observed_generation: tenant.metadata.generation,
        conditions: conditions.finish(),
        replicas,
        config_version: version,
        budget,
    };
    if apply_status(&ctx.client, tenant, tenant.status.as_ref(), &status).await? {
        publish_condition_events(ctx, tenant, previous, &status.conditions).await;
    }
    Ok(Action::requeue(RESYNC))
}

/// What the tenant's pods read from Secrets besides their keys.
struct TenantSecretRefs {
    /// The Secret and key of `DATABASE_URL`, if any.
    database: Option<(String, String)>,
    /// The tenant Secret holds the platform's `REDIS_URL`.
    redis: bool,
}

/// Applies the tenant's Secret (its own token signing key and internal token, both kept across
/// reconciles, for shared or schema isolation the `DATABASE_URL`, and the platform's
/// `REDIS_URL`) and returns where the pods' `DATABASE_URL` comes from and whether they have Redis.
/// Neither key is ever logged, nor put in status or events.
async fn tenant_secret(
    ctx: &Context,
    tenant: &Tenant,
    owner: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
    conditions: &mut Conditions<'_>,
) -> Result<TenantSecretRefs, Error> {
    let spec = &tenant.spec;
    let name = tenant.name_any();
    let read = |namespace: &str, secret: &str, key: &str| {
        ctx.stores
            .secrets
            .get(&ObjectRef::new(secret).within(namespace))
            .and_then(|s| s.data.as_ref()?.get(key).map(|b| String::from_utf8_lossy(&b.0).into_owned()))
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &spec.namespace);
    let mut values = BTreeMap::new();
    // Generated once and kept: read from the API, not the cache, which does not see the
    // tenant's namespace when the operator watches one namespace only (a new JWT key would sign
    // every user out; a new internal token would have chat refused by relays not yet restarted).
    // A Secret written before a key existed gets that key generated and keeps the others.
    let existing = secrets.get_opt(TENANT_SECRET).await?.and_then(|s| s.data).unwrap_or_default();
    for key in [JWT_SECRET_KEY, INTERNAL_TOKEN_KEY] {
        let value = existing.get(key).map(|b| String::from_utf8_lossy(&b.0).into_owned()).unwrap_or_else(|| {
            let mut bytes = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            hex::encode(bytes)
        });
        values.insert(key.to_string(), value);
    }

    let platform_secret = &ctx.settings.platform_secret;
    let database = match spec.database.isolation {
        DatabaseIsolation::Database => match &spec.database.connection_secret_ref {
            None => {
                conditions.set(
                    "DatabaseReady",
                    false,
                    "ConnectionSecretMissing",
                    "set spec.database.connectionSecretRef",
                );
                None
            }
            Some(reference) => {
                let found = read(&spec.namespace, &reference.name, &reference.key).is_some();
                let message = if found {
                    format!("own database from Secret {}/{}", spec.namespace, reference.name)
                } else {
                    format!("Secret {}/{} with key `{}` not found", spec.namespace, reference.name, reference.key)
                };
                conditions.set(
                    "DatabaseReady",
                    found,
                    if found { "OwnDatabase" } else { "ConnectionSecretMissing" },
                    message,
                );
                Some((reference.name.clone(), reference.key.clone()))
            }
        },
        isolation => match read(&ctx.settings.namespace, platform_secret, DATABASE_URL_KEY) {
            None => {
                conditions.set(
                    "DatabaseReady",
                    false,
                    "PlatformDatabaseMissing",
                    format!(
                        "Secret {}/{platform_secret} has no {DATABASE_URL_KEY}; the pods run on their embedded store",
                        ctx.settings.namespace
                    ),
                );
                None
            }
            Some(url) => {
                let (url, how) = if isolation == DatabaseIsolation::Schema {
                    (isolation::schema_url(&url, &name), "own schema in the platform database")
                } else {
                    (url, "shared platform database")
                };
                values.insert(DATABASE_URL_KEY.to_string(), url);
                conditions.set("DatabaseReady", true, "Applied", how);
                Some((TENANT_SECRET.to_string(), DATABASE_URL_KEY.to_string()))
            }
        },
    };
    // Limits, quota holds and chat streams are shared through Redis: the platform's, each
    // tenant under its own key prefix (`fleet::redis_prefix`).
    let redis = match read(&ctx.settings.namespace, platform_secret, REDIS_URL_KEY) {
        Some(url) => {
            values.insert(REDIS_URL_KEY.to_string(), url);
            true
        }
        None => false,
    };
    apply(&secrets, &isolation::tenant_secret(&name, spec, values, owner)).await?;
    Ok(TenantSecretRefs { database, redis })
}

/// Server-side apply of `object`, returning what the API server now holds.
async fn apply<K>(api: &Api<K>, object: &K) -> Result<K, Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let name = object.meta().name.clone().ok_or(Error::MissingField("metadata.name"))?;
    let mut value = serde_json::to_value(object)?;
    // SSA needs apiVersion and kind in the body; k8s-openapi types do not serialize them.
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), K::api_version(&()).into());
        map.insert("kind".into(), K::kind(&()).into());
    }
    Ok(api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&value)).await?)
}

async fn delete_if_present<K>(api: &Api<K>, name: &str) -> Result<(), Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Adds or removes the protection finalizer (a merge patch of the whole list, guarded by the
/// resourceVersion so a concurrent change to other finalizers is never lost).
async fn set_finalizers(api: &Api<Tenant>, tenant: &Tenant, protect: bool) -> Result<(), Error> {
    let mut finalizers: Vec<String> =
        tenant.finalizers().iter().filter(|f| *f != PROTECTION_FINALIZER).cloned().collect();
    if protect {
        finalizers.push(PROTECTION_FINALIZER.into());
    }
    let patch = serde_json::json!({
        "metadata": {"finalizers": finalizers, "resourceVersion": tenant.resource_version()}
    });
    api.patch_metadata(&tenant.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
    Ok(())
}

/// The Tenant a labelled child object belongs to.
pub fn tenant_of_child<K: Resource>(child: &K) -> Option<ObjectRef<Tenant>> {
    child.meta().labels.as_ref()?.get(TENANT_LABEL).map(|name| ObjectRef::new(name))
}

/// Runs the Tenant controller until the streams end. `deployments` are the fleets' Deployments
/// (selected by [`TENANT_LABEL`]), so readiness changes reach status.
pub async fn run(
    ctx: Arc<Context>,
    tenants: impl Stream<Item = Arc<Tenant>> + Send + 'static,
    deployments: Api<Deployment>,
    reconcile_all: impl Stream<Item = ()> + Send + 'static,
) {
    let children = kube::runtime::watcher::Config::default().labels(TENANT_LABEL);
    Controller::for_shared_stream(tenants, ctx.stores.tenants.clone())
        .watches(deployments, children, |deployment| tenant_of_child(&deployment))
        .reconcile_all_on(reconcile_all)
        .run(reconcile, |object, error, ctx| error_policy(NAME, &*object, error, &ctx), ctx)
        .for_each(|_| std::future::ready(()))
        .await;
}
