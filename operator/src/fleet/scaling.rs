//! The HorizontalPodAutoscaler and PodDisruptionBudget of one role.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, ExternalMetricSource, HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricIdentifier, MetricSpec, MetricTarget,
    PodsMetricSource,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use oblivious_crds::DataPlaneService;

use super::{FleetMember, IN_FLIGHT_METRIC, PENDING_JOBS_METRIC};

/// Scales on in-flight requests per pod: streams are long and CPU-light, so CPU says little
/// about how loaded a relay is. The metric comes through a custom-metrics adapter (e.g.
/// prometheus-adapter) from each pod's `/metrics`. A `rag` pod serves no requests: it scales on
/// the files waiting for ingestion, an External metric (every rag pod reports the same global
/// count, so per-pod averaging of a Pods metric would be wrong).
pub fn autoscaler(member: &FleetMember) -> HorizontalPodAutoscaler {
    let metric = if member.role == DataPlaneService::Rag {
        MetricSpec {
            type_: "External".into(),
            external: Some(ExternalMetricSource {
                metric: MetricIdentifier { name: PENDING_JOBS_METRIC.into(), selector: None },
                target: average_value(member.pending_jobs_per_pod),
            }),
            ..MetricSpec::default()
        }
    } else {
        MetricSpec {
            type_: "Pods".into(),
            pods: Some(PodsMetricSource {
                metric: MetricIdentifier { name: IN_FLIGHT_METRIC.into(), selector: None },
                target: average_value(member.target_in_flight_per_pod),
            }),
            ..MetricSpec::default()
        }
    };
    HorizontalPodAutoscaler {
        metadata: member.metadata(),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: member.name(),
            },
            min_replicas: Some(i32::try_from(member.min_replicas).unwrap_or(i32::MAX)),
            max_replicas: i32::try_from(member.max_replicas.max(member.min_replicas)).unwrap_or(i32::MAX),
            metrics: Some(vec![metric]),
            // Scale in slowly: a removed pod ends its streams (as the chart's default fleet).
            behavior: Some(HorizontalPodAutoscalerBehavior {
                scale_down: Some(HPAScalingRules {
                    stabilization_window_seconds: Some(300),
                    policies: Some(vec![HPAScalingPolicy { type_: "Percent".into(), value: 25, period_seconds: 60 }]),
                    ..HPAScalingRules::default()
                }),
                scale_up: None,
            }),
        }),
        status: None,
    }
}

fn average_value(per_pod: u32) -> MetricTarget {
    MetricTarget {
        type_: "AverageValue".into(),
        average_value: Some(Quantity(per_pod.to_string())),
        ..MetricTarget::default()
    }
}

/// Keeps all but one pod of the role up through voluntary disruptions (node drains); with a
/// single replica it allows the drain rather than block it forever.
pub fn disruption_budget(member: &FleetMember) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: member.metadata(),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector { match_labels: Some(member.selector_labels()), ..LabelSelector::default() }),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    }
}
