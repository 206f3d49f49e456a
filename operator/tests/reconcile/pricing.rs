use std::sync::Arc;

use oblivious_operator::cluster::insert;
use oblivious_operator::controllers::pricing;
use serde_json::json;

use crate::fixtures::*;

fn list(name: &str, effective_from: Option<&str>, models: &[&str]) -> oblivious_crds::ModelPricing {
    let mut spec = json!({"currency": "USD", "models": models.iter().map(|m| json!({"name": m, "input": "1", "output": "2"})).collect::<Vec<_>>()});
    if let Some(from) = effective_from {
        spec["effectiveFrom"] = json!(from);
    }
    object(
        json!({"apiVersion": "oblivious.dev/v1alpha1", "kind": "ModelPricing", "metadata": {"name": name, "namespace": "team"}, "spec": spec}),
    )
}

#[tokio::test]
async fn a_newer_price_list_supersedes_the_older_one_and_a_future_one_is_scheduled() {
    let old = list("old", None, &["gpt-4o"]);
    let current = list("current", Some("2025-01-01T00:00:00Z"), &["gpt-4o", "gpt-4o-mini"]);
    let future = list("future", Some("2099-01-01T00:00:00Z"), &["gpt-4o"]);
    let stores = stores(|w| {
        insert(&mut w.pricings, old.clone());
        insert(&mut w.pricings, current.clone());
        insert(&mut w.pricings, future.clone());
    });
    let (client, log) = fake_api(|_| None);
    let ctx = context(client, stores, true, vec![]);
    for object in [&old, &current, &future] {
        pricing::reconcile(Arc::new(object.clone()), ctx.clone()).await.unwrap();
    }
    settle().await;

    let status = |name: &str| {
        log.only(&format!("PATCH /apis/oblivious.dev/v1alpha1/namespaces/team/modelpricings/{name}/status")).body["status"].clone()
    };
    let old = status("old");
    assert_eq!(condition(&old, "Active")["reason"], "Superseded");
    assert!(condition(&old, "Active")["message"].as_str().unwrap().contains("team/current"));
    assert_eq!(condition(&old, "Ready")["status"], "True", "a superseded list is still a valid list");
    let current = status("current");
    assert_eq!(condition(&current, "Active")["status"], "True");
    assert_eq!(current["activeModels"], 2);
    let future = status("future");
    assert_eq!(condition(&future, "Active")["reason"], "Scheduled");
    assert!(condition(&future, "Active")["message"].as_str().unwrap().contains("2099-01-01T00:00:00Z"));
}

#[tokio::test]
async fn a_list_pricing_a_model_twice_from_the_same_instant_is_not_accepted() {
    let first = list("a", None, &["gpt-4o"]);
    let second = list("b", None, &["gpt-4o"]);
    let stores = stores(|w| {
        insert(&mut w.pricings, first);
        insert(&mut w.pricings, second.clone());
    });
    let (client, log) = fake_api(|_| None);
    pricing::reconcile(Arc::new(second), context(client, stores, true, vec![])).await.unwrap();
    settle().await;
    let status =
        log.only("PATCH /apis/oblivious.dev/v1alpha1/namespaces/team/modelpricings/b/status").body["status"].clone();
    let accepted = condition(&status, "Accepted");
    assert_eq!(accepted["reason"], "InvalidPrices");
    assert!(
        accepted["message"].as_str().unwrap().contains("already priced from the same instant by ModelPricing team/a")
    );
    assert_eq!(condition(&status, "Active")["reason"], "Invalid");
}
