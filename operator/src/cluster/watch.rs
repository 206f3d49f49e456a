//! The reflectors filling [`Stores`]: one watch per kind (with a watch namespace, one merged
//! watch per kind: see `cluster::namespaces`), each event also marking the caches dirty for
//! the compile loop. Secrets exclude Helm release and ServiceAccount token Secrets
//! (large, numerous, never a provider key); EndpointSlices are only those of lane Services.

use std::fmt::Debug;
use std::hash::Hash;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::reflector::store::Writer;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use oblivious_crds::Tenant;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::Writers;
use super::admission::DATA_PLANE_LABEL;
use super::namespaces::{self, EventStream, NamespaceSet, TenantNamespaces};
use super::sync_reports::SYNC_REPORT_LABEL;
use crate::controllers::lane::LANE_LABEL;

/// Secrets that can never hold a provider key.
const SECRET_FIELD_SELECTOR: &str = "type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token";

/// Starts every reflector; each change bumps `dirty`. The replicas' sync reports live in the
/// operator's own namespace and do not mark the caches dirty (they change no config).
///
/// With a watch `namespace`, each namespaced kind is watched in it and in every Tenant's
/// namespace (`cluster::namespaces`); without, cluster-wide. Tenants are cluster-scoped and
/// always watched cluster-wide.
pub fn spawn_reflectors(
    client: &Client,
    namespace: Option<&str>,
    operator_namespace: &str,
    writers: Writers,
    dirty: watch::Sender<u64>,
) {
    let (tenant_namespaces, namespaces) = watch::channel(None);
    let scope = Scope { client: client.clone(), namespaces: namespace.map(|_| namespaces) };
    let all = watcher::Config::default();
    let secrets = watcher::Config::default().fields(SECRET_FIELD_SELECTOR);
    let lane_slices = watcher::Config::default().labels(LANE_LABEL);
    let fleet_slices = watcher::Config::default().labels(DATA_PLANE_LABEL);
    reflect(scope.watch(&writers.channels, &all), writers.channels, dirty.clone(), |_| {});
    reflect(scope.watch(&writers.pricings, &all), writers.pricings, dirty.clone(), |_| {});
    reflect(scope.watch(&writers.agents, &all), writers.agents, dirty.clone(), |_| {});
    reflect(scope.watch(&writers.tool_servers, &all), writers.tool_servers, dirty.clone(), |_| {});
    reflect(scope.watch(&writers.lanes, &all), writers.lanes, dirty.clone(), |_| {});
    reflect(scope.watch(&writers.secrets, &secrets), writers.secrets, dirty.clone(), |_| {});
    reflect(scope.watch(&writers.lane_endpoints, &lane_slices), writers.lane_endpoints, dirty.clone(), |_| {});
    reflect_quietly(scope.watch(&writers.data_plane_endpoints, &fleet_slices), writers.data_plane_endpoints);
    // The Tenant watch also moves the namespace set the other kinds follow.
    let mut follow = namespace.map(|watch_namespace| TenantNamespaces {
        watch_namespace: watch_namespace.to_string(),
        tenants: writers.tenants.as_reader(),
        set: tenant_namespaces,
        listed: false,
    });
    let tenants = watcher(Api::<Tenant>::all(client.clone()), all).default_backoff().boxed();
    reflect(tenants, writers.tenants, dirty, move |event| {
        if let Some(follow) = follow.as_mut() {
            follow.observe(event);
        }
    });
    let reports: Api<ConfigMap> = Api::namespaced(client.clone(), operator_namespace);
    let reports = watcher(reports, watcher::Config::default().labels(SYNC_REPORT_LABEL)).default_backoff().boxed();
    reflect_quietly(reports, writers.sync_reports);
}

/// Where the namespaced kinds are watched.
struct Scope {
    client: Client,
    /// The namespace set to follow when there is a watch namespace; `None`: cluster-wide.
    namespaces: Option<watch::Receiver<NamespaceSet>>,
}

impl Scope {
    /// The watch of kind `K` for the reflector writing `writer`.
    fn watch<K>(&self, writer: &Writer<K>, config: &watcher::Config) -> EventStream<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + Sync
            + 'static,
        K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
    {
        let Some(namespaces) = &self.namespaces else {
            return watcher(Api::<K>::all(self.client.clone()), config.clone()).default_backoff().boxed();
        };
        let (client, config) = (self.client.clone(), config.clone());
        namespaces::merged(namespaces.clone(), writer.as_reader(), move |namespace: &str| {
            watcher(Api::<K>::namespaced(client.clone(), namespace), config.clone()).default_backoff().boxed()
        })
        .boxed()
    }
}

/// A plain reflector for a cache that changes no config.
fn reflect_quietly<K>(stream: EventStream<K>, writer: Writer<K>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    tokio::spawn(async move {
        stream.reflect(writer).for_each(|_| std::future::ready(())).await;
    });
}

/// A shared reflector: each event (already applied to the store) is shown to `observe` and
/// marks the caches dirty.
fn reflect<K>(
    stream: EventStream<K>,
    writer: Writer<K>,
    dirty: watch::Sender<u64>,
    mut observe: impl FnMut(&watcher::Event<K>) + Send + 'static,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let kind = K::kind(&Default::default()).to_string();
    tokio::spawn(async move {
        stream
            .reflect_shared(writer)
            .for_each(|event| {
                match event {
                    Ok(event) => {
                        observe(&event);
                        dirty.send_modify(|n| *n = n.wrapping_add(1));
                    }
                    Err(error) => tracing::warn!(kind, %error, "watch failed; retrying with backoff"),
                }
                std::future::ready(())
            })
            .await;
    });
}
