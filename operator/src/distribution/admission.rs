//! Who may subscribe for which tenant. A stream carries the tenant's provider keys, so a pod
//! that claims a tenant must be allowed to: the claim is checked here, before anything is sent.

use std::net::SocketAddr;

use oblivious_config::proto::Node;
use tonic::metadata::MetadataMap;

/// What is known about a subscriber when it connects.
pub struct Subscription<'a> {
    /// The identity the pod announced.
    pub node: &'a Node,
    /// Its address, when the transport knows it.
    pub peer: Option<SocketAddr>,
    /// Request headers (e.g. `authorization` with a projected ServiceAccount token).
    pub metadata: &'a MetadataMap,
}

/// Decides whether a subscription may receive its tenant's snapshots.
#[tonic::async_trait]
pub trait NodeAdmission: Send + Sync + 'static {
    /// `Err(reason)` refuses the stream with `PERMISSION_DENIED`.
    async fn admit(&self, subscription: &Subscription<'_>) -> Result<(), String>;
}

/// Trusts the tenant a pod announces. Right for `serve-local` and for a cluster whose
/// NetworkPolicy only lets a tenant's own data plane reach its operator's stream; a shared
/// operator serving several tenants should verify a ServiceAccount token instead.
#[derive(Debug, Default, Clone, Copy)]
pub struct TrustDeclaredTenant;

#[tonic::async_trait]
impl NodeAdmission for TrustDeclaredTenant {
    async fn admit(&self, _subscription: &Subscription<'_>) -> Result<(), String> {
        Ok(())
    }
}
