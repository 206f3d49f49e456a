//! The reflectors filling [`Stores`]: one watch per kind, each event also marking the caches
//! dirty for the compile loop. Secrets exclude Helm release and ServiceAccount token Secrets
//! (large, numerous, never a provider key); EndpointSlices are only those of lane Services.

use std::fmt::Debug;
use std::hash::Hash;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::store::Writer;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use oblivious_crds::{Agent, Channel, Lane, ModelPricing, Tenant, ToolServer};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::Writers;
use super::admission::DATA_PLANE_LABEL;
use super::sync_reports::SYNC_REPORT_LABEL;
use crate::controllers::lane::LANE_LABEL;

/// Secrets that can never hold a provider key.
const SECRET_FIELD_SELECTOR: &str = "type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token";

/// Starts every reflector; each change bumps `dirty`. The replicas' sync reports live in the
/// operator's own namespace and do not mark the caches dirty (they change no config).
pub fn spawn_reflectors(
    client: &Client,
    namespace: Option<&str>,
    operator_namespace: &str,
    writers: Writers,
    dirty: watch::Sender<u64>,
) {
    let channels: Api<Channel> = scoped(client, namespace);
    let pricings: Api<ModelPricing> = scoped(client, namespace);
    let agents: Api<Agent> = scoped(client, namespace);
    let tool_servers: Api<ToolServer> = scoped(client, namespace);
    let lanes: Api<Lane> = scoped(client, namespace);
    let secrets: Api<Secret> = scoped(client, namespace);
    let slices: Api<EndpointSlice> = scoped(client, namespace);
    let all = watcher::Config::default();
    reflect(channels, all.clone(), writers.channels, dirty.clone());
    reflect(pricings, all.clone(), writers.pricings, dirty.clone());
    reflect(agents, all.clone(), writers.agents, dirty.clone());
    reflect(tool_servers, all.clone(), writers.tool_servers, dirty.clone());
    reflect(lanes, all.clone(), writers.lanes, dirty.clone());
    // Tenants are cluster-scoped: watched cluster-wide even with a watch namespace.
    reflect(Api::<Tenant>::all(client.clone()), all.clone(), writers.tenants, dirty.clone());
    reflect(secrets, watcher::Config::default().fields(SECRET_FIELD_SELECTOR), writers.secrets, dirty.clone());
    reflect(slices, watcher::Config::default().labels(LANE_LABEL), writers.lane_endpoints, dirty);
    let reports: Api<ConfigMap> = Api::namespaced(client.clone(), operator_namespace);
    reflect_quietly(reports, watcher::Config::default().labels(SYNC_REPORT_LABEL), writers.sync_reports);
    let fleets: Api<EndpointSlice> = scoped(client, namespace);
    reflect_quietly(fleets, watcher::Config::default().labels(DATA_PLANE_LABEL), writers.data_plane_endpoints);
}

/// A plain reflector for a cache that changes no config.
fn reflect_quietly<K>(api: Api<K>, config: watcher::Config, writer: Writer<K>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    tokio::spawn(async move {
        watcher(api, config).default_backoff().reflect(writer).for_each(|_| std::future::ready(())).await;
    });
}

fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn reflect<K>(api: Api<K>, config: watcher::Config, writer: Writer<K>, dirty: watch::Sender<u64>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let kind = K::kind(&Default::default()).to_string();
    tokio::spawn(async move {
        watcher(api, config)
            .default_backoff()
            .reflect_shared(writer)
            .for_each(|event| {
                match event {
                    Ok(_) => {
                        dirty.send_modify(|n| *n = n.wrapping_add(1));
                    }
                    Err(error) => tracing::warn!(kind, %error, "watch failed; retrying with backoff"),
                }
                std::future::ready(())
            })
            .await;
    });
}
