//! `OBLIVIOUS_WATCH_NAMESPACE` with Tenants: the real reflectors (`cluster::spawn_reflectors`)
//! against a fake API server (tower-test) that answers lists from a table and holds watches
//! open, or plays a scripted watch once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use oblivious_operator::cluster::{Stores, compile_all, spawn_reflectors};
use serde_json::{Value, json};
use tokio::sync::watch;

const DEADLINE: Duration = Duration::from_secs(10);
const CRDS: &str = "/apis/oblivious.dev/v1alpha1";

/// How the fake server answers one request.
#[derive(Clone)]
enum Answer {
    /// A list of these items.
    List(Vec<Value>),
    /// A watch that sends these events, then ends (the watcher then watches again).
    Events(Vec<Value>),
    /// The answer, once the gate opens.
    After(watch::Receiver<bool>, Box<Answer>),
}

impl Answer {
    async fn body(mut self) -> String {
        loop {
            match self {
                Answer::List(items) => return list(items),
                Answer::Events(events) => return events.iter().map(|e| format!("{e}\n")).collect(),
                Answer::After(mut gate, answer) => {
                    gate.wait_for(|open| *open).await.unwrap();
                    self = *answer;
                }
            }
        }
    }
}

/// Requests seen, as `path?query`.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn contains(&self, path: &str, watch: bool) -> bool {
        self.0.lock().unwrap().iter().any(|r| {
            let (p, q) = r.split_once('?').unwrap_or((r, ""));
            p == path && q.contains("watch=true") == watch
        })
    }

    async fn wait_for_list(&self, path: &str) {
        tokio::time::timeout(DEADLINE, async {
            while !self.contains(path, false) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no list of {path} in {:#?}", self.0.lock().unwrap()));
    }
}

/// A fake API server: `script` answers by path and whether it is a watch (`None`: an empty list,
/// or a watch held open forever).
fn fake_api(script: impl Fn(&str, bool) -> Option<Answer> + Send + Sync + 'static) -> (Client, Log) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let log = Log::default();
    let seen = log.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some((request, send)) = handle.next_request().await {
            let path = request.uri().path().to_string();
            let query = request.uri().query().unwrap_or_default().to_string();
            let is_watch = query.contains("watch=true");
            seen.0.lock().unwrap().push(format!("{path}?{query}"));
            let answer = match script(&path, is_watch) {
                Some(answer) => answer,
                None if is_watch => {
                    held.push(send);
                    continue;
                }
                None => Answer::List(Vec::new()),
            };
            tokio::spawn(async move {
                let body = answer.body().await;
                send.send_response(Response::builder().status(200).body(Body::from(body.into_bytes())).unwrap());
            });
        }
    });
    (Client::new(service, "default"), log)
}

fn list(items: Vec<Value>) -> String {
    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "10"}, "items": items}).to_string()
}

fn tenant(name: &str, namespace: &str) -> Value {
    json!({"apiVersion": "oblivious.dev/v1alpha1", "kind": "Tenant",
           "metadata": {"name": name, "uid": format!("uid-{name}"), "generation": 1, "resourceVersion": "5"},
           "spec": {"namespace": namespace}})
}

fn channel(namespace: &str) -> Value {
    json!({"apiVersion": "oblivious.dev/v1alpha1", "kind": "Channel",
           "metadata": {"name": "openai", "namespace": namespace, "uid": format!("uid-{namespace}"), "generation": 1, "resourceVersion": "5"},
           "spec": {"provider": "openai", "baseUrl": "https://api.openai.com/v1",
                    "apiKeySecretRef": {"name": "keys", "key": "openai"}, "models": [{"name": "gpt-4o"}]}})
}

fn keys(namespace: &str, key: &str) -> Value {
    use base64::Engine;
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "keys", "namespace": namespace, "resourceVersion": "5"},
           "data": {"openai": base64::engine::general_purpose::STANDARD.encode(key)}})
}

fn start(client: &Client) -> Stores {
    let (stores, writers) = Stores::new();
    let (dirty, _) = watch::channel(0);
    spawn_reflectors(client, Some("team"), "oblivious-system", writers, dirty);
    stores
}

async fn ready(stores: &Stores) {
    tokio::time::timeout(DEADLINE, async {
        stores.tenants.wait_until_ready().await.unwrap();
        stores.channels.wait_until_ready().await.unwrap();
        stores.secrets.wait_until_ready().await.unwrap();
    })
    .await
    .expect("the caches fill");
}

#[tokio::test]
async fn with_a_watch_namespace_a_tenants_channel_is_compiled_into_its_snapshot_once_its_namespace_listed() {
    let (gate, gated) = watch::channel(false);
    let (client, log) = fake_api(move |path, is_watch| {
        let items = match (path, is_watch) {
            (_, true) => return None,
            (p, _) if p == format!("{CRDS}/tenants") => vec![tenant("acme", "tenant-acme")],
            (p, _) if p == format!("{CRDS}/namespaces/team/channels") => vec![channel("team")],
            (p, _) if p == format!("{CRDS}/namespaces/tenant-acme/channels") => {
                return Some(Answer::After(gated.clone(), Box::new(Answer::List(vec![channel("tenant-acme")]))));
            }
            ("/api/v1/namespaces/team/secrets", _) => vec![keys("team", "sk-platform")],
            ("/api/v1/namespaces/tenant-acme/secrets", _) => vec![keys("tenant-acme", "sk-acme")],
            _ => return None,
        };
        Some(Answer::List(items))
    });
    let stores = start(&client);

    log.wait_for_list(&format!("{CRDS}/namespaces/tenant-acme/channels")).await;
    log.wait_for_list(&format!("{CRDS}/namespaces/team/channels")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        stores.channels.state().is_empty()
            && tokio::time::timeout(Duration::from_millis(50), stores.channels.wait_until_ready()).await.is_err(),
        "the Channel cache is neither filled nor ready while the tenant's namespace has not listed"
    );

    gate.send_replace(true);
    ready(&stores).await;
    let (snapshots, _) = compile_all(&stores);
    assert_eq!(snapshots.keys().collect::<Vec<_>>(), ["acme", "default"]);
    assert_eq!(snapshots["acme"].channels.len(), 1);
    assert_eq!(snapshots["default"].channels.len(), 1);
    let acme = serde_json::to_string(&*snapshots["acme"]).unwrap();
    assert!(acme.contains("sk-acme") && !acme.contains("sk-platform"));
    let default = serde_json::to_string(&*snapshots["default"]).unwrap();
    assert!(default.contains("sk-platform") && !default.contains("sk-acme"));

    for cluster_wide in [format!("{CRDS}/channels"), "/api/v1/secrets".to_string()] {
        assert!(!log.contains(&cluster_wide, false), "{cluster_wide} is listed cluster-wide");
    }
}

#[tokio::test]
async fn a_tenant_created_later_is_watched_and_a_deleted_tenants_channels_leave_the_cache() {
    // Once the caches are filled, the Tenant watch adds `beta`, then deletes `acme`.
    let (gate, gated) = watch::channel(false);
    let (client, log) = fake_api(move |path, is_watch| {
        let items = match (path, is_watch) {
            (p, true) if p == format!("{CRDS}/tenants") => {
                static ONCE: std::sync::Once = std::sync::Once::new();
                let mut first = false;
                ONCE.call_once(|| first = true);
                return first.then(|| {
                    let mut deleted = tenant("acme", "tenant-acme");
                    deleted["metadata"]["resourceVersion"] = json!("12");
                    let mut added = tenant("beta", "tenant-beta");
                    added["metadata"]["resourceVersion"] = json!("11");
                    let events = Answer::Events(vec![
                        json!({"type": "ADDED", "object": added}),
                        json!({"type": "DELETED", "object": deleted}),
                    ]);
                    Answer::After(gated.clone(), Box::new(events))
                });
            }
            (_, true) => return None,
            (p, _) if p == format!("{CRDS}/tenants") => vec![tenant("acme", "tenant-acme")],
            (p, _) if p == format!("{CRDS}/namespaces/tenant-acme/channels") => vec![channel("tenant-acme")],
            (p, _) if p == format!("{CRDS}/namespaces/tenant-beta/channels") => vec![channel("tenant-beta")],
            ("/api/v1/namespaces/tenant-beta/secrets", _) => vec![keys("tenant-beta", "sk-beta")],
            _ => return None,
        };
        Some(Answer::List(items))
    });
    let stores = start(&client);
    ready(&stores).await;
    let namespaces = || {
        let mut all: Vec<String> =
            stores.channels.state().iter().filter_map(|c| c.metadata.namespace.clone()).collect();
        all.sort();
        all
    };
    assert_eq!(namespaces(), ["tenant-acme"]);

    gate.send_replace(true);
    log.wait_for_list(&format!("{CRDS}/namespaces/tenant-beta/channels")).await;
    tokio::time::timeout(DEADLINE, async {
        while namespaces() != ["tenant-beta"] {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("channels left in {:?}", namespaces()));
    let (snapshots, _) = compile_all(&stores);
    assert_eq!(snapshots.keys().collect::<Vec<_>>(), ["beta", "default"]);
    assert_eq!(snapshots["beta"].channels.len(), 1);
    assert!(snapshots["default"].channels.is_empty(), "the deleted tenant's channel did not fall to the platform");
}
