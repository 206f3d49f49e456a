//! What isolates a tenant, as pure builders: its Namespace, owner RoleBindings, ResourceQuota,
//! LimitRange, default-deny NetworkPolicies with the egress the data plane needs, and the
//! tenant's Secret (database URL, token signing key, internal token).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, ResourceQuota, ResourceQuotaSpec, Secret,
};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;
use oblivious_crds::{OwnerKind, OwnerRole, TenantSpec};

use super::{TENANT_LABEL, TENANT_SECRET};
use crate::controllers::FIELD_MANAGER;

/// Private ranges a provider is never reached at; excluded from a `0.0.0.0/0` provider CIDR so
/// "the internet" does not also open the cluster network.
const PRIVATE_RANGES: [&str; 4] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"];

/// Metadata of a tenant object named `name` (namespaced unless `namespace` is `None`).
pub fn metadata(tenant: &str, namespace: Option<&str>, name: &str, owner: &OwnerReference) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(Into::into),
        labels: Some(BTreeMap::from([
            (TENANT_LABEL.to_string(), tenant.to_string()),
            ("app.kubernetes.io/managed-by".to_string(), FIELD_MANAGER.to_string()),
        ])),
        owner_references: Some(vec![owner.clone()]),
        ..ObjectMeta::default()
    }
}

/// The tenant's namespace, owned by the Tenant (deleting the Tenant deletes it and everything in it).
pub fn namespace(tenant: &str, spec: &TenantSpec, owner: &OwnerReference) -> Namespace {
    Namespace { metadata: metadata(tenant, None, &spec.namespace, owner), ..Namespace::default() }
}

/// One RoleBinding per ClusterRole with every owner given that role (`oblivious-admin`, ...).
pub fn role_bindings(tenant: &str, spec: &TenantSpec, owner: &OwnerReference) -> Vec<(String, Option<RoleBinding>)> {
    [OwnerRole::Admin, OwnerRole::Edit, OwnerRole::View]
        .into_iter()
        .map(|role| {
            let name = format!("oblivious-{}", role.as_str());
            let subjects: Vec<Subject> = spec
                .owners
                .iter()
                .filter(|o| o.role == role)
                .map(|o| match o.kind {
                    OwnerKind::ServiceAccount => Subject {
                        kind: "ServiceAccount".into(),
                        name: o.name.clone(),
                        namespace: Some(o.namespace.clone().unwrap_or_else(|| spec.namespace.clone())),
                        api_group: None,
                    },
                    kind => Subject {
                        kind: if kind == OwnerKind::User { "User" } else { "Group" }.into(),
                        name: o.name.clone(),
                        namespace: None,
                        api_group: Some("rbac.authorization.k8s.io".into()),
                    },
                })
                .collect();
            // `None`: no owner has this role, so a binding left from an earlier spec is removed.
            let binding = (!subjects.is_empty()).then(|| RoleBinding {
                metadata: metadata(tenant, Some(&spec.namespace), &name, owner),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "ClusterRole".into(),
                    name: role.as_str().into(),
                },
                subjects: Some(subjects),
            });
            (name, binding)
        })
        .collect()
}

/// The ResourceQuota, if the spec sets any limit.
pub fn quota(tenant: &str, spec: &TenantSpec, owner: &OwnerReference) -> Option<ResourceQuota> {
    (!spec.quota.is_empty()).then(|| ResourceQuota {
        metadata: metadata(tenant, Some(&spec.namespace), "oblivious-quota", owner),
        spec: Some(ResourceQuotaSpec {
            hard: Some(spec.quota.iter().map(|(k, v)| (k.clone(), Quantity(v.clone()))).collect()),
            ..ResourceQuotaSpec::default()
        }),
        status: None,
    })
}

/// The LimitRange of container defaults, if the spec sets any.
pub fn limit_range(tenant: &str, spec: &TenantSpec, owner: &OwnerReference) -> Option<LimitRange> {
    let limits = &spec.limits;
    if limits.default_request.is_empty() && limits.default_limit.is_empty() {
        return None;
    }
    let quantities = |m: &BTreeMap<String, String>| {
        (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), Quantity(v.clone()))).collect())
    };
    Some(LimitRange {
        metadata: metadata(tenant, Some(&spec.namespace), "oblivious-defaults", owner),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".into(),
                default_request: quantities(&limits.default_request),
                default: quantities(&limits.default_limit),
                ..LimitRangeItem::default()
            }],
        }),
    })
}

/// Default deny for every pod of the namespace, then what the data plane needs: ingress from
/// its own namespace and the platform namespace; egress to DNS, the platform namespace (config
/// stream, PostgreSQL, Redis), its own namespace, and providers.
pub fn network_policies(
    tenant: &str,
    spec: &TenantSpec,
    platform_namespace: &str,
    owner: &OwnerReference,
) -> [NetworkPolicy; 2] {
    let all_pods = LabelSelector::default();
    let deny = NetworkPolicy {
        metadata: metadata(tenant, Some(&spec.namespace), "oblivious-default-deny", owner),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(all_pods.clone()),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ..NetworkPolicySpec::default()
        }),
    };
    let namespace_peer = |name: &str| NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([("kubernetes.io/metadata.name".to_string(), name.to_string())])),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    };
    let port = |protocol: &str, port: i32| NetworkPolicyPort {
        protocol: Some(protocol.into()),
        port: Some(IntOrString::Int(port)),
        ..NetworkPolicyPort::default()
    };
    let cidr_peer = |cidr: &str| NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: cidr.into(),
            except: (cidr == "0.0.0.0/0").then(|| PRIVATE_RANGES.iter().map(|r| r.to_string()).collect()),
        }),
        ..NetworkPolicyPeer::default()
    };
    let mut egress = vec![
        NetworkPolicyEgressRule { to: None, ports: Some(vec![port("UDP", 53), port("TCP", 53)]) },
        NetworkPolicyEgressRule { to: Some(vec![namespace_peer(platform_namespace)]), ports: None },
        NetworkPolicyEgressRule { to: Some(vec![namespace_peer(&spec.namespace)]), ports: None },
    ];
    if !spec.network.provider_cidrs.is_empty() {
        egress.push(NetworkPolicyEgressRule {
            to: Some(spec.network.provider_cidrs.iter().map(|c| cidr_peer(c)).collect()),
            ports: Some(spec.network.provider_ports.iter().map(|p| port("TCP", i32::from(*p))).collect()),
        });
    }
    if !spec.network.extra_egress_cidrs.is_empty() {
        egress.push(NetworkPolicyEgressRule {
            to: Some(
                spec.network
                    .extra_egress_cidrs
                    .iter()
                    .map(|c| NetworkPolicyPeer {
                        ip_block: Some(IPBlock { cidr: c.clone(), except: None }),
                        ..NetworkPolicyPeer::default()
                    })
                    .collect(),
            ),
            ports: None,
        });
    }
    let allow = NetworkPolicy {
        metadata: metadata(tenant, Some(&spec.namespace), "oblivious-data-plane", owner),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(all_pods),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![namespace_peer(&spec.namespace), namespace_peer(platform_namespace)]),
                ports: None,
            }]),
            egress: Some(egress),
        }),
    };
    [deny, allow]
}

/// `DATABASE_URL` for `Schema` isolation: the platform URL with the tenant's schema first in
/// the `search_path` (the data plane creates and migrates it at start), then `public` for the
/// `vector` extension's types.
pub fn schema_url(platform_url: &str, tenant: &str) -> String {
    let schema = format!("tenant_{}", tenant.replace('-', "_"));
    let separator = if platform_url.contains('?') { '&' } else { '?' };
    format!("{platform_url}{separator}options=-c%20search_path%3D{schema}%2Cpublic")
}

/// The tenant's Secret: `values` are its keys (`DATABASE_URL`, `OBLIVIOUS_JWT_SECRET`).
pub fn tenant_secret(
    tenant: &str,
    spec: &TenantSpec,
    values: BTreeMap<String, String>,
    owner: &OwnerReference,
) -> Secret {
    Secret {
        metadata: metadata(tenant, Some(&spec.namespace), TENANT_SECRET, owner),
        // `data`, not `stringData`: server-side apply tracks `data`, and a write-only field
        // would look changed on every apply.
        data: Some(values.into_iter().map(|(k, v)| (k, k8s_openapi::ByteString(v.into_bytes()))).collect()),
        type_: Some("Opaque".into()),
        ..Secret::default()
    }
}
