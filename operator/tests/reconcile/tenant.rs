use std::sync::Arc;

use oblivious_operator::cluster::insert;
use oblivious_operator::controllers::tenant;
use serde_json::{Value, json};

use crate::fixtures::*;

fn acme(extra: Value) -> oblivious_crds::Tenant {
    let mut spec = json!({
        "namespace": "tenant-acme",
        "owners": [{"kind": "Group", "name": "acme-admins"}, {"kind": "User", "name": "ann", "role": "view"}],
        "quota": {"pods": "40", "requests.cpu": "8"},
        "fleet": {"roles": ["relay", "gateway"], "minReplicas": 2, "maxReplicas": 5, "targetInFlightPerPod": 32},
        "database": {"isolation": "Schema"}
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    object(
        json!({"apiVersion": "oblivious.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": "acme"}, "spec": spec}),
    )
}

fn platform_database() -> k8s_openapi::api::core::v1::Secret {
    secret(
        "oblivious-system",
        "oblivious-secrets",
        &[("DATABASE_URL", "postgres://oblivious@db.oblivious-system/oblivious")],
    )
}

fn owned_by_acme(body: &Value) {
    let owner = &body["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["name"].as_str(), owner["uid"].as_str()),
        (Some("Tenant"), Some("acme"), Some("uid-1")),
        "{body:#}"
    );
    assert_eq!(body["metadata"]["labels"]["oblivious.dev/tenant"], "acme");
}

#[tokio::test]
async fn tenant_creates_namespace_quota_and_fleet_with_owner_references() {
    let log = reconcile_once(acme(json!({}))).await;

    let ns = "/api/v1/namespaces/tenant-acme";
    let applied: Vec<String> = log.all().iter().filter(|r| r.method == "PATCH").map(|r| r.path.clone()).collect();
    let expected = [
        "/api/v1/namespaces/tenant-acme".to_string(),
        "/apis/rbac.authorization.k8s.io/v1/namespaces/tenant-acme/rolebindings/oblivious-admin".to_string(),
        "/apis/rbac.authorization.k8s.io/v1/namespaces/tenant-acme/rolebindings/oblivious-view".to_string(),
        format!("{ns}/resourcequotas/oblivious-quota"),
        "/apis/networking.k8s.io/v1/namespaces/tenant-acme/networkpolicies/oblivious-default-deny".to_string(),
        "/apis/networking.k8s.io/v1/namespaces/tenant-acme/networkpolicies/oblivious-data-plane".to_string(),
        format!("{ns}/secrets/oblivious-secrets"),
        "/apis/apps/v1/namespaces/tenant-acme/deployments/oblivious-relay".to_string(),
        format!("{ns}/services/oblivious-relay"),
        "/apis/autoscaling/v2/namespaces/tenant-acme/horizontalpodautoscalers/oblivious-relay".to_string(),
        "/apis/policy/v1/namespaces/tenant-acme/poddisruptionbudgets/oblivious-relay".to_string(),
        "/apis/apps/v1/namespaces/tenant-acme/deployments/oblivious-gateway".to_string(),
        format!("{ns}/services/oblivious-gateway"),
        "/apis/autoscaling/v2/namespaces/tenant-acme/horizontalpodautoscalers/oblivious-gateway".to_string(),
        "/apis/policy/v1/namespaces/tenant-acme/poddisruptionbudgets/oblivious-gateway".to_string(),
        "/apis/oblivious.dev/v1alpha1/tenants/acme/status".to_string(),
    ];
    assert_eq!(applied, expected);
    for request in log.all().iter().filter(|r| r.method == "PATCH" && !r.path.ends_with("/status")) {
        assert!(request.query.contains("fieldManager=oblivious-operator"), "{}", request.route());
        owned_by_acme(&request.body);
    }
    // The unused edit binding is removed, not left behind; the LimitRange is absent (no defaults set).
    assert!(log.routes().contains(
        &"DELETE /apis/rbac.authorization.k8s.io/v1/namespaces/tenant-acme/rolebindings/oblivious-edit".to_string()
    ));

    let admin =
        log.only("PATCH /apis/rbac.authorization.k8s.io/v1/namespaces/tenant-acme/rolebindings/oblivious-admin").body;
    assert_eq!(admin["roleRef"]["name"], "admin");
    assert_eq!(
        admin["subjects"][0],
        json!({"kind": "Group", "name": "acme-admins", "apiGroup": "rbac.authorization.k8s.io"})
    );

    let deny =
        log.only("PATCH /apis/networking.k8s.io/v1/namespaces/tenant-acme/networkpolicies/oblivious-default-deny").body;
    assert_eq!(deny["spec"], json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}));
    let allow =
        log.only("PATCH /apis/networking.k8s.io/v1/namespaces/tenant-acme/networkpolicies/oblivious-data-plane").body;
    let provider = &allow["spec"]["egress"][3];
    assert_eq!(provider["ports"], json!([{"port": 443, "protocol": "TCP"}]));
    assert!(
        provider["to"][0]["ipBlock"]["except"].as_array().unwrap().contains(&json!("10.0.0.0/8")),
        "the internet, not the cluster"
    );

    let secret = log.only(&format!("PATCH {ns}/secrets/oblivious-secrets")).body;
    let url = String::from_utf8(base64_decode(secret["data"]["DATABASE_URL"].as_str().unwrap())).unwrap();
    assert_eq!(
        url,
        "postgres://oblivious@db.oblivious-system/oblivious?options=-c%20search_path%3Dtenant_acme%2Cpublic"
    );
    let jwt = base64_decode(secret["data"]["OBLIVIOUS_JWT_SECRET"].as_str().unwrap());
    assert_eq!(jwt.len(), 64, "a tenant signs its tokens with a key of its own");
    let internal = base64_decode(secret["data"]["OBLIVIOUS_INTERNAL_TOKEN"].as_str().unwrap());
    assert_eq!(internal.len(), 64, "chat -> relay token of the tenant's own");
    assert_ne!(internal, jwt, "two keys, two values");
    let internal = String::from_utf8(internal).unwrap();
    let secret_route = format!("PATCH {ns}/secrets/oblivious-secrets");
    for request in log.all().iter().filter(|r| r.route() != secret_route) {
        assert!(!request.body.to_string().contains(&internal), "the token leaked into {}", request.route());
    }

    let relay = log.only("PATCH /apis/apps/v1/namespaces/tenant-acme/deployments/oblivious-relay").body;
    assert!(relay["spec"].get("replicas").is_none(), "replicas belong to the HPA");
    let container = &relay["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["command"], json!(["oblivious"]));
    assert_eq!(
        container["args"],
        json!([
            "relay",
            "--listen",
            "0.0.0.0:8080",
            "--config-server",
            "http://oblivious-operator.oblivious-system.svc:8081",
            "--state-dir",
            "/var/lib/oblivious/config"
        ])
    );
    let env: Vec<&str> = container["env"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(env.contains(&"OBLIVIOUS_POD_NAME") && env.contains(&"DATABASE_URL"), "{env:?}");
    let tenant_env = container["env"].as_array().unwrap().iter().find(|e| e["name"] == "OBLIVIOUS_TENANT").unwrap();
    assert_eq!(tenant_env["value"], "acme", "pods subscribe for their own tenant's config only");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert!(!env.contains(&"OBLIVIOUS_RELAY_URL"), "the relay calls no relay");

    // Every pod of the tenant reads the same internal token, and gateway (and chat) find the
    // tenant's own relay Service.
    let gateway = log.only("PATCH /apis/apps/v1/namespaces/tenant-acme/deployments/oblivious-gateway").body;
    for deployment in [&relay, &gateway] {
        let env = env_of(deployment);
        assert_eq!(
            env["OBLIVIOUS_INTERNAL_TOKEN"]["valueFrom"]["secretKeyRef"],
            json!({"name": "oblivious-secrets", "key": "OBLIVIOUS_INTERNAL_TOKEN", "optional": false}),
            "required: a pod must not make up a token its peers would refuse"
        );
        assert!(env["OBLIVIOUS_INTERNAL_TOKEN"].get("value").is_none(), "never a literal in the pod spec");
    }
    assert_eq!(env_of(&gateway)["OBLIVIOUS_RELAY_URL"]["value"], "http://oblivious-relay.tenant-acme.svc:8080");
    let relay_service = log.only(&format!("PATCH {ns}/services/oblivious-relay")).body;
    assert_eq!(relay_service["spec"]["ports"][0]["port"], 8080);
    assert_eq!(relay_service["spec"]["selector"]["app.kubernetes.io/component"], "relay");

    let hpa =
        log.only("PATCH /apis/autoscaling/v2/namespaces/tenant-acme/horizontalpodautoscalers/oblivious-relay").body;
    assert_eq!(hpa["spec"]["metrics"][0]["pods"]["metric"]["name"], "oblivious_inflight_requests");
    assert_eq!(hpa["spec"]["metrics"][0]["pods"]["target"]["averageValue"], "32");
    assert_eq!((hpa["spec"]["minReplicas"].as_i64(), hpa["spec"]["maxReplicas"].as_i64()), (Some(2), Some(5)));

    let status = log.only("PATCH /apis/oblivious.dev/v1alpha1/tenants/acme/status").body["status"].clone();
    assert_eq!(condition(&status, "NamespaceReady")["status"], "True");
    assert_eq!(condition(&status, "DatabaseReady")["status"], "True");
    assert_eq!(condition(&status, "FleetReady")["reason"], "Progressing", "no pod is ready yet");
    assert_eq!(condition(&status, "Ready")["reason"], "Progressing");
    assert_eq!(condition(&status, "Reconciling")["status"], "True", "kstatus: in progress, not failed");
    assert_eq!(status["replicas"], "0/4");
    assert!(status["configVersion"].as_str().is_some_and(|v| !v.is_empty()));
    assert!(!log.routes().iter().any(|r| r.contains("finalizers")), "no finalizer without preventDeletion");
}

/// The env of a Deployment body's only container, by name.
fn env_of(deployment: &Value) -> std::collections::BTreeMap<String, Value> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e.clone()))
        .collect()
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

#[tokio::test]
async fn tenant_whose_namespace_belongs_to_someone_else_touches_nothing_inside_it() {
    let object = acme(json!({}));
    let stores = stores(|w| insert(&mut w.tenants, object.clone()));
    let (client, log) = fake_api(|request| {
        (request.route() == "GET /api/v1/namespaces/tenant-acme")
            .then(|| (200, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tenant-acme"}})))
    });
    tenant::reconcile(Arc::new(object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;
    let writes: Vec<String> =
        log.all().iter().filter(|r| r.method != "GET" && !r.path.ends_with("/events")).map(|r| r.route()).collect();
    assert_eq!(writes, ["PATCH /apis/oblivious.dev/v1alpha1/tenants/acme/status"]);
    let status = log.only("PATCH /apis/oblivious.dev/v1alpha1/tenants/acme/status").body["status"].clone();
    assert_eq!(condition(&status, "Ready")["reason"], "NamespaceTaken");
}

#[tokio::test]
async fn tenant_with_prevent_deletion_gets_the_protection_finalizer() {
    let object = acme(json!({"preventDeletion": true}));
    let stores = stores(|w| insert(&mut w.tenants, object.clone()));
    let (client, log) = fake_api(|_| None);
    tenant::reconcile(Arc::new(object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;
    let patch = log.all().into_iter().find(|r| r.route() == "PATCH /apis/oblivious.dev/v1alpha1/tenants/acme").unwrap();
    assert_eq!(patch.body["metadata"]["finalizers"], json!(["oblivious.dev/prevent-deletion"]));
    assert_eq!(patch.body["metadata"]["resourceVersion"], "100", "guarded against concurrent finalizer edits");
    let status = log.only("PATCH /apis/oblivious.dev/v1alpha1/tenants/acme/status").body["status"].clone();
    assert_eq!(condition(&status, "DeletionProtected")["status"], "True");
    assert_eq!(condition(&status, "DatabaseReady")["reason"], "PlatformDatabaseMissing");
}

#[tokio::test]
async fn deleting_a_protected_tenant_is_blocked_and_status_says_how_to_let_it_go() {
    let mut object = acme(json!({"preventDeletion": true}));
    object.metadata.finalizers = Some(vec!["oblivious.dev/prevent-deletion".into()]);
    object.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
    let stores = stores(|w| insert(&mut w.tenants, object.clone()));
    let (client, log) = fake_api(|_| None);
    tenant::reconcile(Arc::new(object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;
    assert_eq!(log.routes(), ["PATCH /apis/oblivious.dev/v1alpha1/tenants/acme/status"]);
    let status = log.only("PATCH /apis/oblivious.dev/v1alpha1/tenants/acme/status").body["status"].clone();
    let protected = condition(&status, "DeletionProtected");
    assert_eq!(protected["reason"], "DeletionBlocked");
    assert!(protected["message"].as_str().unwrap().contains("set it to false"));
}

#[tokio::test]
async fn deleting_an_unprotected_tenant_releases_the_finalizer_and_leaves_the_rest_to_owner_references() {
    let mut object = acme(json!({"preventDeletion": false}));
    object.metadata.finalizers = Some(vec!["oblivious.dev/prevent-deletion".into(), "someone.else/keep".into()]);
    object.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
    let stores = stores(|w| insert(&mut w.tenants, object.clone()));
    let (client, log) = fake_api(|_| None);
    tenant::reconcile(Arc::new(object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;
    assert_eq!(log.routes(), ["PATCH /apis/oblivious.dev/v1alpha1/tenants/acme"]);
    assert_eq!(log.all()[0].body["metadata"]["finalizers"], json!(["someone.else/keep"]), "other finalizers stay");
}

#[tokio::test]
async fn a_failed_apply_is_an_error_the_controller_retries_with_backoff() {
    let object = acme(json!({}));
    let stores = stores(|w| insert(&mut w.tenants, object.clone()));
    let (client, _log) = fake_api(|request| {
        (request.method == "PATCH" && request.path.contains("resourcequotas")).then(|| {
            (403, json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403, "message": "forbidden"}))
        })
    });
    let ctx = context(client, stores, true, vec![]);
    let error = tenant::reconcile(Arc::new(object.clone()), ctx.clone()).await.unwrap_err();
    assert_eq!(error.metric_label(), "forbidden");
    let first = oblivious_operator::controllers::error_policy("tenant", &object, &error, &ctx);
    let second = oblivious_operator::controllers::error_policy("tenant", &object, &error, &ctx);
    assert_eq!(first, kube::runtime::controller::Action::requeue(std::time::Duration::from_secs(1)));
    assert_eq!(second, kube::runtime::controller::Action::requeue(std::time::Duration::from_secs(2)));
}

/// Reconciles `object` once against a server whose tenant Secret holds `data`, and returns the
/// applied Secret's data, decoded.
async fn reconcile_with_tenant_secret(
    object: oblivious_crds::Tenant,
    data: &'static [(&'static str, &'static str)],
) -> (std::collections::BTreeMap<String, String>, Log) {
    use base64::Engine;
    let stores = stores(|w| insert(&mut w.tenants, object.clone()));
    let (client, log) = fake_api(move |request| {
        (request.route() == "GET /api/v1/namespaces/tenant-acme/secrets/oblivious-secrets").then(|| {
            let data: serde_json::Map<String, Value> = data
                .iter()
                .map(|(k, v)| ((*k).to_string(), json!(base64::engine::general_purpose::STANDARD.encode(v))))
                .collect();
            (200, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "oblivious-secrets", "namespace": "tenant-acme"},
                "data": data}))
        })
    });
    tenant::reconcile(Arc::new(object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;
    let secret = log.only("PATCH /api/v1/namespaces/tenant-acme/secrets/oblivious-secrets").body;
    let data = secret["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), String::from_utf8(base64_decode(v.as_str().unwrap())).unwrap()))
        .collect();
    (data, log)
}

#[tokio::test]
async fn the_tenants_token_signing_key_and_internal_token_are_kept_across_reconciles() {
    let kept = &[("OBLIVIOUS_JWT_SECRET", "kept-key"), ("OBLIVIOUS_INTERNAL_TOKEN", "kept-internal-token")];
    let (data, log) = reconcile_with_tenant_secret(acme(json!({})), kept).await;
    assert_eq!(data["OBLIVIOUS_JWT_SECRET"], "kept-key");
    assert_eq!(
        data["OBLIVIOUS_INTERNAL_TOKEN"], "kept-internal-token",
        "a new token would have chat refused by relays"
    );
    for request in log.all().iter().filter(|r| !r.path.ends_with("/secrets/oblivious-secrets")) {
        assert!(!request.body.to_string().contains("kept-internal-token"), "the token leaked into {}", request.route());
    }
}

#[tokio::test]
async fn a_tenant_secret_from_before_the_internal_token_gets_one_and_keeps_its_signing_key() {
    let (data, _) = reconcile_with_tenant_secret(acme(json!({})), &[("OBLIVIOUS_JWT_SECRET", "kept-key")]).await;
    assert_eq!(data["OBLIVIOUS_JWT_SECRET"], "kept-key", "users stay signed in");
    let token = &data["OBLIVIOUS_INTERNAL_TOKEN"];
    assert!(token.len() == 64 && token.chars().all(|c| c.is_ascii_hexdigit()), "{token:?}");
}

#[tokio::test]
async fn a_fleet_whose_chat_has_no_relay_to_call_says_so() {
    let object = acme(json!({"fleet": {"roles": ["gateway", "chat"]}}));
    let stores = stores(|w| insert(&mut w.tenants, object.clone()));
    let (client, log) = fake_api(|_| None);
    tenant::reconcile(Arc::new(object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;
    for role in ["gateway", "chat"] {
        let deployment =
            log.only(&format!("PATCH /apis/apps/v1/namespaces/tenant-acme/deployments/oblivious-{role}")).body;
        assert_eq!(env_of(&deployment)["OBLIVIOUS_RELAY_URL"]["value"], "http://oblivious-relay.tenant-acme.svc:8080");
        assert_eq!(
            env_of(&deployment)["OBLIVIOUS_INTERNAL_TOKEN"]["valueFrom"]["secretKeyRef"]["key"],
            "OBLIVIOUS_INTERNAL_TOKEN"
        );
    }
    let status = log.only("PATCH /apis/oblivious.dev/v1alpha1/tenants/acme/status").body["status"].clone();
    let fleet = condition(&status, "FleetReady");
    assert_eq!((fleet["status"].as_str(), fleet["reason"].as_str()), (Some("False"), Some("RelayMissing")));
    let message = fleet["message"].as_str().unwrap();
    assert!(message.contains("gateway, chat") && message.contains("add `relay` to spec.fleet.roles"), "{message}");
    assert_eq!(condition(&status, "Stalled")["status"], "True", "a spec to fix, not a rollout to wait for");
    assert!(log.event_reasons().iter().any(|(_, reason)| reason == "RelayMissing"), "{:?}", log.event_reasons());
}

/// Reconciles `object` once (with the platform database) and returns the requests made.
async fn reconcile_once(object: oblivious_crds::Tenant) -> Log {
    let stores = stores(|w| {
        insert(&mut w.tenants, object.clone());
        insert(&mut w.secrets, platform_database());
    });
    let (client, log) = fake_api(|_| None);
    tenant::reconcile(Arc::new(object), context(client, stores, true, vec![])).await.unwrap();
    settle().await;
    log
}

#[tokio::test]
async fn a_tenants_file_roles_share_its_object_store_and_rag_scales_on_pending_files() {
    let store = json!({"url": "s3://acme-files/oblivious", "credentialsSecret": "acme-s3", "region": "eu-west-3",
        "endpoint": "http://minio.storage.svc:9000", "allowHttp": true});
    let log =
        reconcile_once(acme(json!({"objectStore": store, "fleet": {"roles": ["relay", "gateway", "rag"]}}))).await;
    let deployment =
        |role: &str| log.only(&format!("PATCH /apis/apps/v1/namespaces/tenant-acme/deployments/oblivious-{role}")).body;
    for role in ["gateway", "rag"] {
        let env = env_of(&deployment(role));
        assert_eq!(env["OBLIVIOUS_OBJECT_STORE"]["value"], "s3://acme-files/oblivious", "{role}");
        assert_eq!(env["AWS_ENDPOINT_URL"]["value"], "http://minio.storage.svc:9000");
        assert_eq!(
            (env["AWS_ALLOW_HTTP"]["value"].as_str(), env["AWS_REGION"]["value"].as_str()),
            (Some("true"), Some("eu-west-3"))
        );
        assert_eq!(
            env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"],
            json!({"name": "acme-s3", "key": "AWS_SECRET_ACCESS_KEY", "optional": true})
        );
    }
    assert!(!env_of(&deployment("relay")).contains_key("OBLIVIOUS_OBJECT_STORE"), "the relay never reads files");
    let rag_hpa =
        log.only("PATCH /apis/autoscaling/v2/namespaces/tenant-acme/horizontalpodautoscalers/oblivious-rag").body;
    let metric = &rag_hpa["spec"]["metrics"][0];
    assert_eq!(metric["type"], "External");
    assert_eq!(metric["external"]["metric"]["name"], "oblivious_rag_jobs_pending");
    assert_eq!(metric["external"]["target"], json!({"type": "AverageValue", "averageValue": "10"}));
    let status = log.only("PATCH /apis/oblivious.dev/v1alpha1/tenants/acme/status").body["status"].clone();
    assert_eq!(condition(&status, "FilesShared")["reason"], "ObjectStore");

    // Without a store, rag never sees an upload: FilesShared is false and holds Ready back (once
    // the fleet is up; here it is still progressing). Gateway alone: a warning after Ready.
    let log = reconcile_once(acme(json!({"fleet": {"roles": ["relay", "gateway", "rag"]}}))).await;
    let status = log.only("PATCH /apis/oblivious.dev/v1alpha1/tenants/acme/status").body["status"].clone();
    assert_eq!(condition(&status, "FilesShared")["reason"], "PodLocal");
    assert_eq!(condition(&status, "Ready")["status"], "False");
    assert!(condition(&status, "FilesShared")["message"].as_str().unwrap().contains("spec.objectStore"));
    let log = reconcile_once(acme(json!({}))).await;
    let status = log.only("PATCH /apis/oblivious.dev/v1alpha1/tenants/acme/status").body["status"].clone();
    assert_eq!(condition(&status, "FilesShared")["reason"], "PodLocal");
    assert_eq!(condition(&status, "Ready")["reason"], "Progressing", "a warning only");
}

#[tokio::test]
async fn a_tenants_pods_export_traces_to_the_platforms_collector_naming_their_role_and_tenant() {
    let log = reconcile_once(acme(json!({"fleet": {"roles": ["relay", "gateway"]}}))).await;
    for role in ["relay", "gateway"] {
        let deployment =
            log.only(&format!("PATCH /apis/apps/v1/namespaces/tenant-acme/deployments/oblivious-{role}")).body;
        let env = env_of(&deployment);
        assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"], "http://collector.observability:4317");
        assert_eq!(env["OTEL_SERVICE_NAME"]["value"], format!("oblivious-{role}"));
        assert_eq!(
            (env["OTEL_TRACES_SAMPLER"]["value"].as_str(), env["OTEL_TRACES_SAMPLER_ARG"]["value"].as_str()),
            (Some("parentbased_traceidratio"), Some("0.25"))
        );
        let attributes = env["OTEL_RESOURCE_ATTRIBUTES"]["value"].as_str().unwrap();
        assert!(attributes.contains("oblivious.tenant=acme") && attributes.contains("k8s.namespace.name=tenant-acme"));
        let names: Vec<&str> = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        let position = |name: &str| names.iter().position(|n| *n == name).unwrap();
        assert!(
            position("OBLIVIOUS_POD_NAME") < position("OTEL_RESOURCE_ATTRIBUTES"),
            "$(OBLIVIOUS_POD_NAME) must be defined first"
        );
    }
}

#[tokio::test]
async fn a_tenants_budget_shows_what_its_relays_report_spent_this_month() {
    let object = acme(json!({"budget": {"currency": "USD", "monthlyLimit": "200"}}));
    let stores = stores(|w| {
        insert(&mut w.tenants, object.clone());
        insert(&mut w.secrets, platform_database());
    });
    let now = k8s_openapi::jiff::Timestamp::now();
    let month = now.to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC).strftime("%Y-%m").to_string();
    let relay = |pod: &str, tenant: &str, spent_micros: i64| oblivious_operator::distribution::PodHealth {
        tenant: tenant.into(),
        pod: pod.into(),
        role: "relay".into(),
        lane: String::new(),
        received_at_ms: now.as_millisecond(),
        window_seconds: 300,
        served: Default::default(),
        channels: vec![],
        budget: Some(oblivious_config::health::BudgetSpend { month: month.clone(), spent_micros }),
    };
    let reports =
        vec![relay("relay-a", "acme", 185_000_000), relay("relay-b", "acme", 184_000_000), relay("x", "other", 1)];
    let (client, log) = fake_api(|_| None);
    let ctx = context_with_health(client, stores, true, vec![], reports);
    tenant::reconcile(Arc::new(object), ctx.clone()).await.unwrap();
    settle().await;

    let status = log.only("PATCH /apis/oblivious.dev/v1alpha1/tenants/acme/status").body["status"].clone();
    assert_eq!(
        status["budget"],
        json!({"month": month, "currency": "USD", "monthlyLimit": "200", "spent": "185", "used": "92.5%"})
    );
    let within = condition(&status, "WithinBudget");
    assert_eq!((within["status"].as_str(), within["reason"].as_str()), (Some("True"), Some("NearlySpent")));
    let mut registry = prometheus_client::registry::Registry::default();
    ctx.metrics.register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(text.contains("tenant_budget_used_ratio{tenant=\"acme\"} 0.925"), "{text}");
}

#[tokio::test]
async fn a_fleet_shares_the_platforms_redis_under_its_own_prefix_or_says_it_cannot() {
    let object = acme(json!({}));
    let stores = stores(|w| {
        insert(&mut w.tenants, object.clone());
        insert(
            &mut w.secrets,
            secret(
                "oblivious-system",
                "oblivious-secrets",
                &[
                    ("DATABASE_URL", "postgres://oblivious@db/oblivious"),
                    ("REDIS_URL", "redis://redis.oblivious-system:6379"),
                ],
            ),
        );
    });
    let (client, log) = fake_api(|_| None);
    tenant::reconcile(Arc::new(object.clone()), context(client, stores, true, vec![])).await.unwrap();
    settle().await;

    let secret = log.only("PATCH /api/v1/namespaces/tenant-acme/secrets/oblivious-secrets").body;
    let url = String::from_utf8(base64_decode(secret["data"]["REDIS_URL"].as_str().unwrap())).unwrap();
    assert_eq!(url, "redis://redis.oblivious-system:6379");
    for role in ["relay", "gateway"] {
        let deployment =
            log.only(&format!("PATCH /apis/apps/v1/namespaces/tenant-acme/deployments/oblivious-{role}")).body;
        let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"].as_array().unwrap().clone();
        let named = |name: &str| env.iter().find(|e| e["name"] == name).cloned().unwrap_or_default();
        assert_eq!(
            named("REDIS_URL")["valueFrom"]["secretKeyRef"],
            json!({"name": "oblivious-secrets", "key": "REDIS_URL", "optional": false})
        );
        assert_eq!(named("OBLIVIOUS_REDIS_PREFIX")["value"], "obl:t:acme:", "{role}: its own keys on the shared Redis");
    }
    let status = log.only("PATCH /apis/oblivious.dev/v1alpha1/tenants/acme/status").body["status"].clone();
    assert_eq!(condition(&status, "LimitsShared")["reason"], "Redis");

    let log = reconcile_once(object).await;
    let status = log.only("PATCH /apis/oblivious.dev/v1alpha1/tenants/acme/status").body["status"].clone();
    let shared = condition(&status, "LimitsShared");
    assert_eq!((shared["status"].as_str(), shared["reason"].as_str()), (Some("False"), Some("PodLocal")));
    assert_ne!(condition(&status, "Ready")["reason"], "PodLocal", "a warning, not what blocks Ready");
    let relay = log.only("PATCH /apis/apps/v1/namespaces/tenant-acme/deployments/oblivious-relay").body;
    assert!(!relay.to_string().contains("REDIS_URL"));
}
