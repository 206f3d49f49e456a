//! Tests that need a real Kubernetes API server. They are `#[ignore]`d: nothing here runs one.
//!
//! To run them against a throwaway cluster (kind, k3d, minikube):
//!
//! ```text
//! kind create cluster --name oblivious
//! cargo run -p oblivious-operator -- crdgen && kubectl apply -f crds/manifests/
//! cargo test -p oblivious-operator --test cluster -- --ignored --test-threads=1
//! ```
//!
//! They use the current kubeconfig context and create (then delete) namespaced objects in
//! `oblivious-it`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kube::api::{Api, DeleteParams, PostParams};
use kube::{Client, CustomResourceExt};
use oblivious_crds::Channel;
use serde_json::json;

async fn client() -> Client {
    Client::try_default().await.expect("a kubeconfig pointing at a test cluster")
}

async fn namespace(client: &Client) -> Api<Channel> {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({"metadata": {"name": "oblivious-it"}})).unwrap();
    let _ = namespaces.create(&PostParams::default(), &ns).await;
    Api::namespaced(client.clone(), "oblivious-it")
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server"]
async fn the_api_server_accepts_every_generated_crd() {
    let client = client().await;
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client);
    for crd in oblivious_crds::crd::all() {
        let params = kube::api::PatchParams::apply("oblivious-it").force();
        crds.patch(crd.metadata.name.as_deref().unwrap(), &params, &kube::api::Patch::Apply(&crd)).await.unwrap();
    }
    let _ = Channel::crd();
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server"]
async fn the_api_server_refuses_a_channel_with_duplicate_model_names() {
    let channels = namespace(&client().await).await;
    let channel: Channel = serde_json::from_value(json!({
        "apiVersion": "oblivious.dev/v1alpha1", "kind": "Channel", "metadata": {"name": "dup"},
        "spec": {"provider": "openai", "baseUrl": "https://api.openai.com/v1", "apiKeySecretRef": {"name": "k", "key": "k"},
                 "models": [{"name": "m"}, {"name": "m"}]}
    }))
    .unwrap();
    let error = channels.create(&PostParams::default(), &channel).await.unwrap_err();
    assert!(error.to_string().contains("model names must be unique"), "{error}");
    let _ = channels.delete("dup", &DeleteParams::default()).await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server and `oblivious-operator run` in the cluster"]
async fn a_channel_without_its_secret_becomes_not_ready_with_reason_secret_not_found() {
    let channels = namespace(&client().await).await;
    let channel: Channel = serde_json::from_value(json!({
        "apiVersion": "oblivious.dev/v1alpha1", "kind": "Channel", "metadata": {"name": "no-secret"},
        "spec": {"provider": "openai", "baseUrl": "https://api.openai.com/v1", "apiKeySecretRef": {"name": "missing", "key": "k"},
                 "models": [{"name": "m"}]}
    }))
    .unwrap();
    channels.create(&PostParams::default(), &channel).await.unwrap();
    let ready = kube::runtime::wait::await_condition(channels.clone(), "no-secret", |c: Option<&Channel>| {
        c.and_then(|c| c.status.as_ref())
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.reason == "SecretNotFound")
    });
    tokio::time::timeout(std::time::Duration::from_secs(30), ready).await.unwrap().unwrap();
    let _ = channels.delete("no-secret", &DeleteParams::default()).await;
}
