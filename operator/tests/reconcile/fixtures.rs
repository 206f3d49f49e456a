//! A fake API server (tower-test `mock::pair`) that answers by route and records every
//! request, and builders for the objects and contexts the scenarios start from.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use oblivious_operator::cluster::{CompiledState, Stores, Writers, compile_all};
use oblivious_operator::controllers::{Context, PodView, Settings};
use oblivious_operator::distribution::PodHealth;
use oblivious_operator::fleet::FleetTracing;
use serde_json::{Value, json};
use tokio::sync::watch;

/// One request the operator made.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path without the query.
    pub path: String,
    pub query: String,
    pub body: Value,
}

impl Recorded {
    /// `METHOD path`, for readable assertions.
    pub fn route(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// What the fake server saw.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Recorded>>>);

impl Log {
    pub fn all(&self) -> Vec<Recorded> {
        self.0.lock().unwrap().clone()
    }

    pub fn routes(&self) -> Vec<String> {
        self.all().iter().map(Recorded::route).collect()
    }

    /// The one request to `route`.
    pub fn only(&self, route: &str) -> Recorded {
        let matching: Vec<Recorded> = self.all().into_iter().filter(|r| r.route() == route).collect();
        assert_eq!(matching.len(), 1, "expected one `{route}` in {:#?}", self.routes());
        matching.into_iter().next().unwrap()
    }

    /// Reasons of the events published.
    pub fn event_reasons(&self) -> Vec<(String, String)> {
        self.all()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/events"))
            .map(|r| {
                (r.body["type"].as_str().unwrap_or("").to_string(), r.body["reason"].as_str().unwrap_or("").to_string())
            })
            .collect()
    }
}

pub fn not_found() -> (u16, Value) {
    (
        404,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"}),
    )
}

/// The default answers: a PATCH echoes the applied object, POST echoes, GET is 404, a LIST is
/// empty, DELETE succeeds. `custom` answers first.
pub fn fake_api(custom: impl Fn(&Recorded) -> Option<(u16, Value)> + Send + Sync + 'static) -> (Client, Log) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let log = Log::default();
    let seen = log.clone();
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let method = request.method().to_string();
            let path = request.uri().path().to_string();
            let query = request.uri().query().unwrap_or_default().to_string();
            let bytes = request.into_body().collect_bytes().await.unwrap();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let recorded = Recorded { method, path, query, body };
            seen.0.lock().unwrap().push(recorded.clone());
            let (status, body) = custom(&recorded).unwrap_or_else(|| default_answer(&recorded));
            let response =
                Response::builder().status(status).body(Body::from(serde_json::to_vec(&body).unwrap())).unwrap();
            send.send_response(response);
        }
    });
    (Client::new(service, "default"), log)
}

fn default_answer(request: &Recorded) -> (u16, Value) {
    match request.method.as_str() {
        "PATCH" | "POST" | "PUT" => {
            let mut body = request.body.clone();
            if body.get("metadata").is_none() {
                body["metadata"] = json!({"name": request.path.rsplit('/').nth(usize::from(request.path.ends_with("/status"))).unwrap_or("x")});
            }
            (200, body)
        }
        "DELETE" => (200, json!({"kind": "Status", "apiVersion": "v1", "status": "Success"})),
        "GET" if request.path.rsplit('/').next().is_some_and(|last| last.ends_with('s')) && is_list(&request.path) => {
            (200, json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": []}))
        }
        _ => not_found(),
    }
}

/// `/api/v1/namespaces/x/services` (a collection) rather than `/api/v1/namespaces/x/services/y`.
fn is_list(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // api/v1/<plural> | api/v1/namespaces/<ns>/<plural> | apis/<g>/<v>/... likewise
    let core = segments.first() == Some(&"api");
    let rest = if core { &segments[2..] } else { &segments[3.min(segments.len())..] };
    matches!(rest.len(), 1 | 3)
}

/// A context on `client` with the given caches, pods and leadership.
pub fn context(client: Client, stores: Stores, leader: bool, pods: Vec<PodView>) -> Arc<Context> {
    context_with_health(client, stores, leader, pods, Vec::new())
}

/// [`context`] with the pods' health reports.
pub fn context_with_health(
    client: Client,
    stores: Stores,
    leader: bool,
    pods: Vec<PodView>,
    health: Vec<PodHealth>,
) -> Arc<Context> {
    // A receiver keeps reading the last value after its sender is gone.
    let (_, leader_rx) = watch::channel(leader);
    let compiled = Arc::new(CompiledState::default());
    let (_, results) = compile_all(&stores);
    compiled.replace(results);
    let settings = Settings {
        namespace: "oblivious-system".into(),
        pod_name: "operator-0".into(),
        data_plane_image: "example.test/oblivious:1.0".into(),
        config_server: "http://oblivious-operator.oblivious-system.svc:8081".into(),
        platform_secret: "oblivious-secrets".into(),
        fleet_tracing: Some(FleetTracing {
            endpoint: "http://collector.observability:4317".into(),
            sampler: "parentbased_traceidratio".into(),
            sampler_arg: "0.25".into(),
        }),
    };
    Arc::new(Context::new(
        client,
        leader_rx,
        stores,
        compiled,
        Arc::new(move || pods.clone()),
        Arc::new(move || Arc::new(health.clone())),
        settings,
    ))
}

/// Caches filled with `fill`.
pub fn stores(fill: impl FnOnce(&mut Writers)) -> Stores {
    let (stores, mut writers) = Stores::new();
    fill(&mut writers);
    stores
}

/// Waits until the fake server has been quiet a moment (events are sent after the reconcile's
/// main writes, but within it; this only guards against a request still in flight).
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(20)).await;
}

/// A typed object from JSON, with the uid and generation an API server would have set.
pub fn object<K: serde::de::DeserializeOwned>(mut value: Value) -> K {
    value["metadata"]["uid"] = json!("uid-1");
    if value["metadata"].get("generation").is_none() {
        value["metadata"]["generation"] = json!(1);
    }
    value["metadata"]["resourceVersion"] = json!("100");
    serde_json::from_value(value).unwrap()
}

pub fn channel(spec: Value) -> oblivious_crds::Channel {
    object(
        json!({"apiVersion": "oblivious.dev/v1alpha1", "kind": "Channel", "metadata": {"name": "openai", "namespace": "team"}, "spec": spec}),
    )
}

pub fn channel_spec() -> Value {
    json!({
        "provider": "openai", "baseUrl": "https://api.openai.com/v1",
        "apiKeySecretRef": {"name": "keys", "key": "openai"},
        "models": [{"name": "gpt-4o"}, {"name": "gpt-4o-mini"}]
    })
}

pub fn secret(namespace: &str, name: &str, data: &[(&str, &str)]) -> k8s_openapi::api::core::v1::Secret {
    use base64::Engine;
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(base64::engine::general_purpose::STANDARD.encode(v))))
        .collect();
    serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": data}),
    )
    .unwrap()
}

/// The condition of `type_` in a status body.
pub fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == type_))
        .unwrap_or_else(|| panic!("no {type_} condition in {status:#}"))
}
