//! Who may subscribe for a tenant's config in a cluster. A stream carries the tenant's provider
//! keys, and every tenant's pods can reach the operator (their NetworkPolicy allows the
//! platform namespace), so the tenant a pod *claims* is not enough: [`PodAddressAdmission`]
//! accepts a stream only from an address that is an endpoint of a data-plane Service (or a lane
//! Service) in a namespace of the claimed tenant. EndpointSlices list a pod's address as soon as
//! it has one (ready or not), so a starting pod is admitted; a refused pod retries with backoff.

use std::net::IpAddr;

use kube::ResourceExt;

use super::{Stores, tenant_of_namespace};
use crate::distribution::{NodeAdmission, Subscription};

/// Label selector of the Services of every data-plane fleet (the chart's and the Tenants'; the
/// chart's `app.kubernetes.io/name` can be overridden, `part-of` cannot).
pub const DATA_PLANE_LABEL: &str = "app.kubernetes.io/part-of=oblivious";

/// Admits a stream when its peer address is a data-plane endpoint of the claimed tenant.
pub struct PodAddressAdmission {
    pub stores: Stores,
}

impl PodAddressAdmission {
    /// The namespaces whose data-plane or lane Services have `ip` as an endpoint.
    fn namespaces_of(&self, ip: IpAddr) -> Vec<String> {
        let text = ip.to_string();
        let mut namespaces: Vec<String> =
            [self.stores.data_plane_endpoints.state(), self.stores.lane_endpoints.state()]
                .into_iter()
                .flatten()
                .filter(|slice| slice.endpoints.iter().any(|e| e.addresses.contains(&text)))
                .filter_map(|slice| slice.namespace())
                .collect();
        namespaces.sort();
        namespaces.dedup();
        namespaces
    }
}

#[tonic::async_trait]
impl NodeAdmission for PodAddressAdmission {
    async fn admit(&self, subscription: &Subscription<'_>) -> Result<(), String> {
        let tenant = subscription.node.tenant.as_str();
        let Some(peer) = subscription.peer else {
            return Err("the peer address is unknown, so the tenant claim cannot be checked".into());
        };
        // An IPv4 peer may arrive as an IPv4-mapped IPv6 address on a dual-stack listener.
        let ip = match peer.ip() {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        let namespaces = self.namespaces_of(ip);
        if namespaces.iter().any(|ns| tenant_of_namespace(&self.stores, ns) == tenant) {
            return Ok(());
        }
        Err(format!(
            "{ip} is not a data-plane pod of tenant {tenant:?} (seen in namespaces: {})",
            if namespaces.is_empty() { "none".to_string() } else { namespaces.join(", ") }
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use oblivious_config::proto::Node;
    use serde_json::json;
    use tonic::metadata::MetadataMap;

    use super::*;
    use crate::cluster::insert;

    fn slice(namespace: &str, ip: &str) -> k8s_openapi::api::discovery::v1::EndpointSlice {
        serde_json::from_value(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("relay-{ip}"), "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "oblivious"}},
            "addressType": "IPv4", "endpoints": [{"addresses": [ip], "conditions": {"ready": false}}]
        }))
        .unwrap()
    }

    async fn admit(admission: &PodAddressAdmission, tenant: &str, peer: &str) -> Result<(), String> {
        let node = Node { tenant: tenant.into(), ..Node::default() };
        let metadata = MetadataMap::new();
        let subscription = Subscription { node: &node, peer: Some(peer.parse().unwrap()), metadata: &metadata };
        admission.admit(&subscription).await
    }

    #[tokio::test]
    async fn a_pod_may_subscribe_for_its_own_tenant_only() {
        let (stores, mut writers) = Stores::new();
        let tenant: oblivious_crds::Tenant = serde_json::from_value(json!({
            "apiVersion": "oblivious.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": "acme"}, "spec": {"namespace": "tenant-acme"}
        }))
        .unwrap();
        insert(&mut writers.tenants, tenant);
        insert(&mut writers.data_plane_endpoints, slice("tenant-acme", "10.1.0.5"));
        insert(&mut writers.data_plane_endpoints, slice("oblivious-system", "10.1.0.9"));
        let admission = PodAddressAdmission { stores };

        assert!(admit(&admission, "acme", "10.1.0.5:40000").await.is_ok(), "a starting (not ready) pod is admitted");
        assert!(admit(&admission, "default", "10.1.0.9:40000").await.is_ok());
        assert!(admit(&admission, "default", "[::ffff:10.1.0.9]:40000").await.is_ok(), "IPv4-mapped peers");
        let stolen = admit(&admission, "default", "10.1.0.5:40000").await.unwrap_err();
        assert!(
            stolen.contains("not a data-plane pod of tenant \"default\"") && stolen.contains("tenant-acme"),
            "{stolen}"
        );
        assert!(admit(&admission, "acme", "10.9.9.9:1").await.is_err(), "an address no Service knows");
    }
}
