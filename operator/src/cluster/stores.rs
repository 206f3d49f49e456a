//! The informer caches every controller and the compile loop read: one reflector per kind,
//! shared (a kind is watched once, however many controllers need it).

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::{self, Store, store::Writer};
use oblivious_crds::{Agent, Channel, Lane, ModelPricing, Tenant, ToolServer};

/// Read handles of the caches.
#[derive(Clone)]
pub struct Stores {
    pub channels: Store<Channel>,
    pub pricings: Store<ModelPricing>,
    pub agents: Store<Agent>,
    pub tool_servers: Store<ToolServer>,
    pub lanes: Store<Lane>,
    pub tenants: Store<Tenant>,
    /// Secrets other than Helm releases and ServiceAccount tokens (see `cluster::watch`).
    pub secrets: Store<Secret>,
    /// Only the EndpointSlices of the Services the Lane controller made.
    pub lane_endpoints: Store<EndpointSlice>,
    /// Every replica's pod sync report (`cluster::sync_reports`).
    pub sync_reports: Store<ConfigMap>,
    /// EndpointSlices of the data-plane Services (who may subscribe for which tenant).
    pub data_plane_endpoints: Store<EndpointSlice>,
}

/// Write handles, given to the reflectors (or filled directly by tests).
pub struct Writers {
    pub channels: Writer<Channel>,
    pub pricings: Writer<ModelPricing>,
    pub agents: Writer<Agent>,
    pub tool_servers: Writer<ToolServer>,
    pub lanes: Writer<Lane>,
    pub tenants: Writer<Tenant>,
    pub secrets: Writer<Secret>,
    pub lane_endpoints: Writer<EndpointSlice>,
    pub sync_reports: Writer<ConfigMap>,
    pub data_plane_endpoints: Writer<EndpointSlice>,
}

/// Buffer of each shared store's subscriber channel.
const SUBSCRIBER_BUFFER: usize = 256;

impl Stores {
    /// Empty shared stores (their writers can be subscribed to by controllers).
    pub fn new() -> (Stores, Writers) {
        let (channels, channels_w) = reflector::store_shared(SUBSCRIBER_BUFFER);
        let (pricings, pricings_w) = reflector::store_shared(SUBSCRIBER_BUFFER);
        let (agents, agents_w) = reflector::store_shared(SUBSCRIBER_BUFFER);
        let (tool_servers, tool_servers_w) = reflector::store_shared(SUBSCRIBER_BUFFER);
        let (lanes, lanes_w) = reflector::store_shared(SUBSCRIBER_BUFFER);
        let (tenants, tenants_w) = reflector::store_shared(SUBSCRIBER_BUFFER);
        let (secrets, secrets_w) = reflector::store_shared(SUBSCRIBER_BUFFER);
        let (lane_endpoints, lane_endpoints_w) = reflector::store_shared(SUBSCRIBER_BUFFER);
        // Nobody subscribes to the reports: a plain store.
        let (sync_reports, sync_reports_w) = reflector::store();
        let (data_plane_endpoints, data_plane_endpoints_w) = reflector::store();
        (
            Stores {
                channels,
                pricings,
                agents,
                tool_servers,
                lanes,
                tenants,
                secrets,
                lane_endpoints,
                sync_reports,
                data_plane_endpoints,
            },
            Writers {
                channels: channels_w,
                pricings: pricings_w,
                agents: agents_w,
                tool_servers: tool_servers_w,
                lanes: lanes_w,
                tenants: tenants_w,
                secrets: secrets_w,
                lane_endpoints: lane_endpoints_w,
                sync_reports: sync_reports_w,
                data_plane_endpoints: data_plane_endpoints_w,
            },
        )
    }
}

/// Puts `object` into a store as a watch event would (for tests and fixtures).
pub fn insert<K>(writer: &mut Writer<K>, object: K)
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Default,
{
    writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(object));
}
