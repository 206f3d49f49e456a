//! The Deployment and Service of one role.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, HTTPGetAction, Lifecycle,
    LifecycleHandler, ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    SeccompProfile, SecretKeySelector, SecurityContext, Service, ServicePort, ServiceSpec, SleepAction, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;
use oblivious_crds::DataPlaneService;

use super::{
    FleetMember, HTTP_PORT, INTERNAL_TOKEN_KEY, JWT_SECRET_KEY, REDIS_URL_KEY, TENANT_SECRET, reads_files,
    redis_prefix, relay_url,
};

/// Where the pod keeps its last-known-good snapshot: an emptyDir, so a container restart
/// (not a new pod) boots from it while the operator is down.
const STATE_DIR: &str = "/var/lib/oblivious";

/// The role's Deployment. `replicas` is left to the HPA (never set here, or every apply would
/// fight the autoscaler).
pub fn deployment(member: &FleetMember) -> Deployment {
    let env_from_field = |name: &str, path: &str| EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector { field_path: path.into(), ..ObjectFieldSelector::default() }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    };
    let value = |name: &str, value: &str| EnvVar { name: name.into(), value: Some(value.into()), ..EnvVar::default() };
    let from_secret = |name: &str, secret: &str, key: &str, optional: bool| EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector { name: secret.into(), key: key.into(), optional: Some(optional) }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    };
    let mut env = vec![
        value("OBLIVIOUS_TENANT", &member.tenant),
        env_from_field("OBLIVIOUS_POD_NAME", "metadata.name"),
        value("OBLIVIOUS_LANE", ""),
        // After the 5 s preStop pause below, requests, streams and chat jobs get this long; the
        // rest of the 60 s termination grace period is for checkpoints and the billing flush.
        value("OBLIVIOUS_SHUTDOWN_GRACE", "35s"),
        // While Redis is unreachable (or absent) each pod enforces limit / replicas.
        value("OBLIVIOUS_REPLICAS", &member.min_replicas.to_string()),
        value("OBLIVIOUS_BUILTIN_MOCK", "false"),
        from_secret(JWT_SECRET_KEY, TENANT_SECRET, JWT_SECRET_KEY, true),
        // Applied into the tenant Secret before any Deployment, so required: a pod never runs
        // with a token of its own making that its peers would refuse.
        from_secret(INTERNAL_TOKEN_KEY, TENANT_SECRET, INTERNAL_TOKEN_KEY, false),
    ];
    if member.role != DataPlaneService::Relay {
        // Gateway and chat (and RAG, for embeddings) reach models through the tenant's relay.
        env.push(value("OBLIVIOUS_RELAY_URL", &relay_url(&member.namespace)));
    }
    if let Some((secret, key)) = &member.database {
        env.push(from_secret("DATABASE_URL", secret, key, false));
    }
    if member.redis {
        env.push(from_secret(REDIS_URL_KEY, TENANT_SECRET, REDIS_URL_KEY, false));
        env.push(value("OBLIVIOUS_REDIS_PREFIX", &redis_prefix(&member.tenant)));
    }
    if let Some(tracing) = &member.tracing {
        // After OBLIVIOUS_POD_NAME: Kubernetes expands $(VAR) only from variables defined before.
        env.extend([
            value("OTEL_EXPORTER_OTLP_ENDPOINT", &tracing.endpoint),
            value("OTEL_SERVICE_NAME", &format!("oblivious-{}", member.role.as_str())),
            value("OTEL_TRACES_SAMPLER", &tracing.sampler),
            value("OTEL_TRACES_SAMPLER_ARG", &tracing.sampler_arg),
            value(
                "OTEL_RESOURCE_ATTRIBUTES",
                &format!(
                    "service.namespace={},k8s.namespace.name={},k8s.pod.name=$(OBLIVIOUS_POD_NAME),oblivious.tenant={}",
                    member.namespace, member.namespace, member.tenant
                ),
            ),
        ]);
    }
    if let Some(store) = member.object_store.as_ref().filter(|_| reads_files(member.role)) {
        // All three file roles use the same store (see `TenantSpec::object_store`).
        env.push(value("OBLIVIOUS_OBJECT_STORE", &store.url));
        if let Some(region) = &store.region {
            env.push(value("AWS_REGION", region));
        }
        if let Some(endpoint) = &store.endpoint {
            env.push(value("AWS_ENDPOINT_URL", endpoint));
        }
        if store.allow_http {
            env.push(value("AWS_ALLOW_HTTP", "true"));
        }
        if let Some(secret) = &store.credentials_secret {
            // Absent keys leave the S3 client to the pod's identity (IRSA, instance role).
            for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
                env.push(from_secret(key, secret, key, true));
            }
        }
    }
    let probe = |path: &str, period: i32, failures: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("http".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(3),
        failure_threshold: Some(failures),
        ..Probe::default()
    };
    let quantities = |map: &std::collections::BTreeMap<String, String>| {
        (!map.is_empty()).then(|| map.iter().map(|(k, v)| (k.clone(), Quantity(v.clone()))).collect())
    };
    let container = Container {
        name: member.role.as_str().into(),
        image: Some(member.image.clone()),
        command: Some(vec!["oblivious".into()]),
        args: Some(vec![
            member.role.as_str().into(),
            "--listen".into(),
            format!("0.0.0.0:{HTTP_PORT}"),
            "--config-server".into(),
            member.config_server.clone(),
            "--state-dir".into(),
            format!("{STATE_DIR}/config"),
        ]),
        // Without DATABASE_URL the embedded store lives in the working directory: the emptyDir.
        working_dir: Some(STATE_DIR.into()),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: HTTP_PORT,
            ..ContainerPort::default()
        }]),
        env: Some(env),
        // Not Ready until it holds a valid snapshot (`/readyz`), so a rollout never routes to a
        // pod without config.
        readiness_probe: Some(probe("/readyz", 5, 3)),
        // Let the endpoints drop the pod before SIGTERM, so no new request lands on a stopping pod.
        lifecycle: Some(Lifecycle {
            pre_stop: Some(LifecycleHandler { sleep: Some(SleepAction { seconds: 5 }), ..LifecycleHandler::default() }),
            ..Lifecycle::default()
        }),
        liveness_probe: Some(probe("/healthz", 10, 6)),
        resources: Some(ResourceRequirements {
            requests: quantities(&member.requests),
            limits: quantities(&member.limits),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), ..Capabilities::default() }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![
            VolumeMount { name: "state".into(), mount_path: STATE_DIR.into(), ..VolumeMount::default() },
            VolumeMount { name: "tmp".into(), mount_path: "/tmp".into(), ..VolumeMount::default() },
        ]),
        ..Container::default()
    };
    Deployment {
        metadata: member.metadata(),
        spec: Some(DeploymentSpec {
            selector: LabelSelector { match_labels: Some(member.selector_labels()), ..LabelSelector::default() },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(0)),
                    max_surge: Some(IntOrString::String("25%".into())),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(member.labels()), ..ObjectMeta::default() }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    // Streams may run for minutes; give them time to finish on a rollout (the
                    // pause, grace and flush above fit inside it).
                    termination_grace_period_seconds: Some(60),
                    // The data plane never talks to the Kubernetes API.
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(65532),
                        run_as_group: Some(65532),
                        fs_group: Some(65532),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".into(),
                            ..SeccompProfile::default()
                        }),
                        ..PodSecurityContext::default()
                    }),
                    volumes: Some(vec![
                        Volume {
                            name: "state".into(),
                            empty_dir: Some(EmptyDirVolumeSource {
                                size_limit: Some(Quantity("1Gi".into())),
                                ..EmptyDirVolumeSource::default()
                            }),
                            ..Volume::default()
                        },
                        Volume {
                            name: "tmp".into(),
                            empty_dir: Some(EmptyDirVolumeSource {
                                size_limit: Some(Quantity("64Mi".into())),
                                ..EmptyDirVolumeSource::default()
                            }),
                            ..Volume::default()
                        },
                    ]),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

/// The role's ClusterIP Service.
pub fn service(member: &FleetMember) -> Service {
    Service {
        metadata: member.metadata(),
        spec: Some(ServiceSpec {
            selector: Some(member.selector_labels()),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: HTTP_PORT,
                target_port: Some(IntOrString::String("http".into())),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}
