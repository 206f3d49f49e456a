//! Config-stream protocol tests: the operator's real server on 127.0.0.1:0 against the data
//! plane's real subscriber (and, where the client's behaviour must be observed from outside, a
//! raw gRPC client or a scripted fake server).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use oblivious_config::health::{BudgetSpend, ChannelTotals, HealthTotals, RequestTotals};
use oblivious_config::payload::{self, SCHEMA};
use oblivious_config::proto::config_discovery_client::ConfigDiscoveryClient;
use oblivious_config::proto::config_discovery_server::{ConfigDiscovery, ConfigDiscoveryServer};
use oblivious_config::proto::{DiscoveryRequest, DiscoveryResponse, HealthReport, Node, ReportReceipt};
use oblivious_config::subscriber::{Backoff, NodeIdentity, Source, Subscriber, SubscriberConfig, SubscriberHandle};
use oblivious_config::{ApiKey, Channel, Snapshot};
use oblivious_operator::distribution::{
    Distribution, DistributionConfig, NodeAdmission, REPORT_STALE_AFTER, Subscription, SyncOutcome, SyncReport,
    TenantSnapshots, serve,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

const DEADLINE: Duration = Duration::from_secs(10);

fn snapshot(version: &str, channels: &[&str], key: &str) -> Arc<Snapshot> {
    Arc::new(Snapshot {
        version: version.into(),
        channels: channels
            .iter()
            .map(|name| Channel {
                name: (*name).into(),
                base_url: "https://example.test".into(),
                api_keys: vec![ApiKey(key.into())],
                ..Channel::default()
            })
            .collect(),
        ..Snapshot::default()
    })
}

fn tenants(entries: &[(&str, Arc<Snapshot>)]) -> TenantSnapshots {
    entries.iter().map(|(tenant, snapshot)| (tenant.to_string(), snapshot.clone())).collect::<BTreeMap<_, _>>()
}

/// The real server on an ephemeral port.
struct Server {
    url: String,
    addr: std::net::SocketAddr,
    snapshots: watch::Sender<TenantSnapshots>,
    reports: mpsc::Receiver<SyncReport>,
    distribution: Distribution,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(initial: TenantSnapshots) -> Server {
        Self::start_with(initial, DistributionConfig::default(), "127.0.0.1:0").await
    }

    async fn start_with(initial: TenantSnapshots, config: DistributionConfig, addr: &str) -> Server {
        let (snapshots, source) = watch::channel(initial);
        let (report_tx, reports) = mpsc::channel(1024);
        let distribution = Distribution::spawn(source, report_tx, config);
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn({
            let distribution = distribution.clone();
            async move {
                serve(listener, distribution, None, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            }
        });
        Server { url: format!("http://{addr}"), addr, snapshots, reports, distribution, stop: Some(stop), task }
    }

    fn publish(&self, tenant: &str, snapshot: Arc<Snapshot>) {
        self.snapshots.send_modify(|all| {
            all.insert(tenant.to_string(), snapshot);
        });
    }

    /// The next report matching `predicate`, skipping others.
    async fn report(&mut self, predicate: impl Fn(&SyncReport) -> bool) -> SyncReport {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let report = tokio::time::timeout(remaining, self.reports.recv())
                .await
                .expect("no matching report before the deadline")
                .expect("report channel closed");
            if predicate(&report) {
                return report;
            }
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(DEADLINE, &mut self.task).await.expect("server did not stop").unwrap();
    }
}

fn node(pod: &str, tenant: &str) -> NodeIdentity {
    NodeIdentity { pod: pod.into(), role: "relay".into(), tenant: tenant.into(), lane: String::new() }
}

fn config(server: &str, pod: &str, tenant: &str) -> SubscriberConfig {
    let mut config = SubscriberConfig::new(server, node(pod, tenant));
    config.backoff = Backoff { initial: Duration::from_millis(50), max: Duration::from_millis(400) };
    config
}

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn version(handle: &SubscriberHandle) -> Option<String> {
    handle.current().map(|active| active.snapshot.version.clone())
}

/// A raw client: the hello is sent, responses can be read one by one.
async fn raw_stream(
    url: &str,
    hello: DiscoveryRequest,
) -> (mpsc::Sender<DiscoveryRequest>, Streaming<DiscoveryResponse>) {
    let mut client = ConfigDiscoveryClient::connect(url.to_string()).await.unwrap().max_decoding_message_size(64 << 20);
    let (requests, outbound) = mpsc::channel(8);
    requests.send(hello).await.unwrap();
    let inbound = client.stream(ReceiverStream::new(outbound)).await.unwrap().into_inner();
    (requests, inbound)
}

fn hello(pod: &str, tenant: &str) -> DiscoveryRequest {
    DiscoveryRequest {
        node: Some(Node { pod: pod.into(), tenant: tenant.into(), role: "relay".into(), ..Node::default() }),
        supported_schemas: vec![SCHEMA],
        ..DiscoveryRequest::default()
    }
}

async fn next(inbound: &mut Streaming<DiscoveryResponse>) -> DiscoveryResponse {
    tokio::time::timeout(DEADLINE, inbound.message()).await.expect("no response in time").unwrap().unwrap()
}

#[tokio::test]
async fn a_new_subscriber_receives_the_complete_snapshot_first_and_its_ack_is_reported() {
    let mut server = Server::start(tenants(&[("acme", snapshot("v1", &["acme/a", "acme/b"], "sk-acme"))])).await;
    let handle = Subscriber::new(config(&server.url, "relay-0", "acme")).spawn().unwrap();
    eventually("the subscriber holds v1", || version(&handle).as_deref() == Some("v1")).await;
    let active = handle.current().unwrap();
    assert_eq!(active.source, Source::Stream);
    assert_eq!(active.snapshot.channels.len(), 2, "the complete snapshot, not a delta");

    let ack = server.report(|r| r.outcome == SyncOutcome::Acked).await;
    assert_eq!((ack.pod.as_str(), ack.tenant.as_str(), ack.version.as_str()), ("relay-0", "acme", "v1"));
    let ledger = server.distribution.ledger().pods();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].running_version, "v1");
}

#[tokio::test]
async fn a_change_reaches_every_connected_subscriber_and_convergence_is_measured() {
    let mut server = Server::start(tenants(&[("acme", snapshot("v1", &["acme/a"], "sk"))])).await;
    let pods: Vec<_> =
        (0..3).map(|i| Subscriber::new(config(&server.url, &format!("relay-{i}"), "acme")).spawn().unwrap()).collect();
    eventually("all hold v1", || pods.iter().all(|p| version(p).as_deref() == Some("v1"))).await;
    for _ in 0..3 {
        server.report(|r| r.outcome == SyncOutcome::Acked && r.version == "v1").await;
    }
    // v1 may or may not count as a convergence (pods may connect before it is first published).
    let before = convergences(&server.distribution, "acme");

    server.publish("acme", snapshot("v2", &["acme/a", "acme/new"], "sk"));
    eventually("all hold v2", || pods.iter().all(|p| version(p).as_deref() == Some("v2"))).await;
    for _ in 0..3 {
        server.report(|r| r.outcome == SyncOutcome::Acked && r.version == "v2").await;
    }
    assert_eq!(convergences(&server.distribution, "acme"), before + 1, "one observation at the last ACK of v2");
}

#[tokio::test]
async fn a_pods_health_reports_reach_the_operator_each_replacing_the_last_until_they_go_stale() {
    let server = Server::start(tenants(&[("acme", snapshot("v1", &["acme/a"], "sk"))])).await;
    let totals = Arc::new(Mutex::new(HealthTotals::default()));
    let mut config = config(&server.url, "relay-0", "acme");
    config.node.lane = "canary".into();
    config.report_every = Duration::from_millis(50);
    let source = totals.clone();
    let handle = Subscriber::new(config).health(Arc::new(move || source.lock().unwrap().clone())).spawn().unwrap();
    eventually("the subscriber holds v1", || version(&handle).as_deref() == Some("v1")).await;

    let mut attempts = RequestTotals::default();
    attempts.add_success(Duration::from_millis(40));
    attempts.add_failure();
    *totals.lock().unwrap() = HealthTotals {
        served: attempts,
        channels: vec![ChannelTotals {
            channel: "acme/a".into(),
            attempts,
            ejections: 1,
            ejected: true,
            last_error: Some(("server_error".into(), 1_700_000_000_000)),
        }],
        budget: Some(BudgetSpend { month: "2026-12".into(), spent_micros: 4_200 }),
    };
    let ledger = server.distribution.health();
    eventually("the counts are reported", || {
        ledger.reports(SystemTime::now()).iter().any(|r| r.channels.first().is_some_and(|c| c.ejected))
    })
    .await;
    let report = ledger.reports(SystemTime::now()).remove(0);
    assert_eq!(
        (report.tenant.as_str(), report.pod.as_str(), report.role.as_str(), report.lane.as_str()),
        ("acme", "relay-0", "relay", "canary"),
        "the node announced on the first report names every later one"
    );
    assert_eq!((report.served.requests, report.served.failures), (2, 1));
    assert_eq!(report.channels[0].last_error, Some(("server_error".into(), 1_700_000_000_000)));
    assert_eq!(report.budget, Some(BudgetSpend { month: "2026-12".into(), spent_micros: 4_200 }));

    totals.lock().unwrap().channels[0].ejected = false;
    eventually("the next report replaces it", || {
        ledger.reports(SystemTime::now()).iter().all(|r| r.channels.iter().all(|c| !c.ejected))
    })
    .await;
    assert_eq!(ledger.reports(SystemTime::now()).len(), 1, "one entry per pod");

    drop(handle);
    let later = SystemTime::now() + REPORT_STALE_AFTER + Duration::from_secs(1);
    assert!(ledger.reports(later).is_empty(), "a pod that stopped reporting no longer counts");
    server.stop().await;
}

/// `config_convergence_seconds_count` of a tenant.
fn convergences(distribution: &Distribution, tenant: &str) -> u64 {
    let mut registry = prometheus_client::registry::Registry::default();
    distribution.metrics().register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    let prefix = format!("config_convergence_seconds_count{{tenant=\"{tenant}\"}} ");
    text.lines().find_map(|line| line.strip_prefix(&prefix)).map_or(0, |count| count.parse().unwrap())
}

#[tokio::test]
async fn a_nack_keeps_the_last_known_good_snapshot_and_its_message_is_reported() {
    let mut server = Server::start(tenants(&[("acme", snapshot("v1", &["acme/good"], "sk"))])).await;
    let handle = Subscriber::new(config(&server.url, "relay-0", "acme"))
        .validator(|snapshot| match snapshot.channels.iter().find(|c| c.name.contains("bad")) {
            Some(channel) => Err(format!("channel {} has no usable provider", channel.name)),
            None => Ok(()),
        })
        .spawn()
        .unwrap();
    eventually("v1 applied", || version(&handle).as_deref() == Some("v1")).await;

    server.publish("acme", snapshot("v2", &["acme/bad"], "sk"));
    let nack = server.report(|r| matches!(r.outcome, SyncOutcome::Nacked { .. })).await;
    assert_eq!(nack.version, "v2", "the refused version");
    assert_eq!(nack.running_version, "v1", "the kept version");
    let SyncOutcome::Nacked { message } = &nack.outcome else { unreachable!() };
    assert!(message.contains("channel acme/bad has no usable provider"), "{message}");
    assert_eq!(version(&handle).as_deref(), Some("v1"), "the pod keeps its last-known-good snapshot");
    let ledger = server.distribution.ledger().pods();
    assert_eq!(ledger[0].running_version, "v1");
    assert_eq!(ledger[0].last_nack.as_ref().map(|(v, _)| v.as_str()), Some("v2"));

    // A NACK does not wedge the stream: the next good version is applied and clears it.
    server.publish("acme", snapshot("v3", &["acme/good", "acme/fine"], "sk"));
    eventually("v3 applied", || version(&handle).as_deref() == Some("v3")).await;
    server.report(|r| r.outcome == SyncOutcome::Acked && r.version == "v3").await;
    assert_eq!(server.distribution.ledger().pods()[0].last_nack, None);
}

#[tokio::test]
async fn a_subscriber_keeps_its_snapshot_while_the_server_is_down_and_reconnects_with_backoff() {
    let server = Server::start(tenants(&[("acme", snapshot("v1", &["acme/a"], "sk"))])).await;
    let addr = server.addr;
    let url = server.url.clone();
    let handle = Subscriber::new(config(&url, "relay-0", "acme")).spawn().unwrap();
    eventually("v1 applied", || version(&handle).as_deref() == Some("v1")).await;

    server.stop().await;
    // Several reconnect attempts fail meanwhile; the snapshot stays.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(version(&handle).as_deref(), Some("v1"));
    assert!(handle.is_ready(), "still ready on the last-known-good snapshot");

    let restarted = Server::start_with(
        tenants(&[("acme", snapshot("v2", &["acme/a", "acme/b"], "sk"))]),
        DistributionConfig::default(),
        &addr.to_string(),
    )
    .await;
    eventually("v2 received after reconnecting", || version(&handle).as_deref() == Some("v2")).await;
    restarted.stop().await;
}

#[tokio::test]
async fn a_subscriber_boots_from_its_state_dir_when_the_server_is_unreachable() {
    let state = tempfile::tempdir().unwrap();
    let server = Server::start(tenants(&[("acme", snapshot("v7", &["acme/a"], "sk-persisted"))])).await;
    let url = server.url.clone();
    {
        let mut config = config(&url, "relay-0", "acme");
        config.state_dir = Some(state.path().to_path_buf());
        let handle = Subscriber::new(config).spawn().unwrap();
        eventually("v7 applied", || version(&handle).as_deref() == Some("v7")).await;
        // The copy is written before the ACK; wait for the file rather than the ACK.
        let file = state.path().join(oblivious_config::last_known_good::FILE_NAME);
        eventually("the snapshot is on disk", || file.exists()).await;
    }
    server.stop().await;

    let applied = Arc::new(Mutex::new(Vec::new()));
    let mut config = config(&url, "relay-0", "acme");
    config.state_dir = Some(state.path().to_path_buf());
    let started = Instant::now();
    let handle = Subscriber::new(config)
        .on_apply({
            let applied = applied.clone();
            move |snapshot| applied.lock().unwrap().push(snapshot.version.clone())
        })
        .spawn()
        .unwrap();
    eventually("ready from disk", || handle.is_ready()).await;
    let active = handle.current().unwrap();
    assert_eq!(active.source, Source::Disk);
    assert_eq!(active.snapshot.version, "v7");
    assert_eq!(active.snapshot.channels[0].api_keys[0].expose(), "sk-persisted");
    assert_eq!(*applied.lock().unwrap(), vec!["v7".to_string()], "the apply hook saw the disk copy");
    assert!(started.elapsed() < Duration::from_secs(2), "an unreachable server triggers the disk copy at once");

    // A pod of another tenant sharing the directory must not boot on acme's keys.
    let mut other = self::config(&url, "relay-9", "globex");
    other.state_dir = Some(state.path().to_path_buf());
    other.disk_fallback_after = Duration::from_millis(50);
    let other = Subscriber::new(other).spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!other.is_ready(), "another tenant's copy is refused");
}

#[tokio::test]
async fn a_pod_of_one_tenant_never_receives_another_tenants_snapshot() {
    let server = Server::start(tenants(&[
        ("acme", snapshot("a1", &["acme/a"], "sk-acme-secret")),
        ("globex", snapshot("g1", &["globex/g"], "sk-globex-secret")),
    ]))
    .await;
    let (_requests, mut acme) = raw_stream(&server.url, hello("acme-relay", "acme")).await;
    let first = next(&mut acme).await;
    assert_eq!((first.tenant.as_str(), first.version_info.as_str()), ("acme", "a1"));
    assert!(!String::from_utf8_lossy(&first.snapshot).contains("globex"), "no trace of the other tenant");

    // globex changes; its pod converges, acme's stream stays silent.
    let globex = Subscriber::new(config(&server.url, "globex-relay", "globex")).spawn().unwrap();
    server.publish("globex", snapshot("g2", &["globex/g", "globex/h"], "sk-globex-secret"));
    eventually("globex holds g2", || version(&globex).as_deref() == Some("g2")).await;
    let silent = tokio::time::timeout(Duration::from_millis(300), acme.message()).await;
    assert!(silent.is_err(), "acme's pod received something after globex changed: {silent:?}");

    // A tenant nobody has configured yet gets nothing (not someone else's snapshot).
    let (_requests, mut unknown) = raw_stream(&server.url, hello("stray", "initech")).await;
    let nothing = tokio::time::timeout(Duration::from_millis(300), unknown.message()).await;
    assert!(nothing.is_err(), "a pod of an unconfigured tenant received {nothing:?}");
    server.publish("initech", snapshot("i1", &["initech/x"], "sk-initech"));
    assert_eq!(next(&mut unknown).await.tenant, "initech");
}

#[tokio::test]
async fn a_stream_that_does_not_announce_a_valid_node_is_refused() {
    let server = Server::start(tenants(&[("acme", snapshot("v1", &["acme/a"], "sk"))])).await;
    for hello in [
        DiscoveryRequest::default(),
        DiscoveryRequest { node: Some(Node { pod: "p".into(), ..Node::default() }), ..DiscoveryRequest::default() },
        DiscoveryRequest {
            node: Some(Node { pod: "p".into(), tenant: "../acme".into(), ..Node::default() }),
            ..DiscoveryRequest::default()
        },
    ] {
        let mut client = ConfigDiscoveryClient::connect(server.url.clone()).await.unwrap();
        let (requests, outbound) = mpsc::channel(1);
        requests.send(hello).await.unwrap();
        let status = client.stream(ReceiverStream::new(outbound)).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    }
}

/// Admits only pods whose name starts with their tenant's.
struct PodNamePrefix;

#[tonic::async_trait]
impl NodeAdmission for PodNamePrefix {
    async fn admit(&self, subscription: &Subscription<'_>) -> Result<(), String> {
        let node = subscription.node;
        if node.pod.starts_with(&format!("{}-", node.tenant)) {
            Ok(())
        } else {
            Err(format!("pod {} may not subscribe for tenant {}", node.pod, node.tenant))
        }
    }
}

#[tokio::test]
async fn probes_and_metrics_beside_the_stream_answer_plain_http1() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_snapshots, source) = watch::channel(tenants(&[]));
    let (reports, _report_rx) = mpsc::channel(16);
    let distribution = Distribution::spawn(source, reports, DistributionConfig::default());
    let extra = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, distribution, Some(extra), std::future::pending()));

    // What a kubelet probe sends: HTTP/1.1, no upgrade.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nhost: operator\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");
}

#[tokio::test]
async fn a_subscription_refused_by_admission_receives_nothing() {
    let (_snapshots, source) = watch::channel(tenants(&[("acme", snapshot("v1", &["acme/a"], "sk-acme"))]));
    let (reports, _report_rx) = mpsc::channel(16);
    let distribution =
        Distribution::spawn_with_admission(source, reports, DistributionConfig::default(), Box::new(PodNamePrefix));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, distribution, None, std::future::pending()));

    let mut client = ConfigDiscoveryClient::connect(url.clone()).await.unwrap();
    let (requests, outbound) = mpsc::channel(1);
    requests.send(hello("globex-relay", "acme")).await.unwrap();
    let status = client.stream(ReceiverStream::new(outbound)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");

    let (_requests, mut admitted) = raw_stream(&url, hello("acme-relay", "acme")).await;
    assert_eq!(next(&mut admitted).await.version_info, "v1");
}

#[tokio::test]
async fn a_burst_of_changes_is_published_once_after_the_debounce() {
    let config = DistributionConfig { debounce: Duration::from_millis(300), max_hold: Duration::from_secs(10) };
    let server =
        Server::start_with(tenants(&[("acme", snapshot("v0", &["acme/a"], "sk"))]), config, "127.0.0.1:0").await;
    let (requests, mut inbound) = raw_stream(&server.url, hello("relay-0", "acme")).await;
    let first = next(&mut inbound).await;
    requests
        .send(DiscoveryRequest { version_info: first.version_info, response_nonce: first.nonce, ..Default::default() })
        .await
        .unwrap();
    for i in 1..=5 {
        server.publish("acme", snapshot(&format!("v{i}"), &["acme/a"], "sk"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let published = next(&mut inbound).await;
    assert_eq!(published.version_info, "v5", "intermediate versions are skipped");
    let more = tokio::time::timeout(Duration::from_millis(500), inbound.message()).await;
    assert!(more.is_err(), "a second publication followed: {more:?}");
}

#[tokio::test]
async fn a_source_that_never_settles_is_still_published_within_the_max_hold() {
    let config = DistributionConfig { debounce: Duration::from_millis(200), max_hold: Duration::from_millis(600) };
    let server =
        Server::start_with(tenants(&[("acme", snapshot("v0", &["acme/a"], "sk"))]), config, "127.0.0.1:0").await;
    let (_requests, mut inbound) = raw_stream(&server.url, hello("relay-0", "acme")).await;
    next(&mut inbound).await;
    let started = Instant::now();
    let publisher = tokio::spawn({
        let snapshots = server.snapshots.clone();
        async move {
            // A change every 50 ms for 3 s: the debounce alone would never fire.
            for i in 1..=60 {
                snapshots.send_modify(|all| {
                    all.insert("acme".into(), snapshot(&format!("v{i}"), &["acme/a"], "sk"));
                });
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    let published = next(&mut inbound).await;
    let waited = started.elapsed();
    assert!(waited < Duration::from_millis(2_000), "held for {waited:?}");
    assert_ne!(published.version_info, "v60", "published while changes were still arriving");
    publisher.abort();
}

/// A scripted server: sends the given responses in order, one after each answer, and records
/// what the pod answered.
struct ScriptedServer {
    responses: Mutex<Option<Vec<DiscoveryResponse>>>,
    answers: mpsc::UnboundedSender<DiscoveryRequest>,
}

#[tonic::async_trait]
impl ConfigDiscovery for ScriptedServer {
    type StreamStream = Pin<Box<dyn Stream<Item = Result<DiscoveryResponse, Status>> + Send>>;

    async fn stream(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamStream>, Status> {
        let script = self.responses.lock().unwrap().take().unwrap_or_default();
        let answers = self.answers.clone();
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let _hello = inbound.message().await;
            for response in script {
                tx.send(Ok(response)).await.unwrap();
                match inbound.message().await {
                    Ok(Some(answer)) => answers.send(answer).unwrap(),
                    _ => return,
                }
            }
            // Keep the stream open so the client does not reconnect.
            std::future::pending::<()>().await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    /// Like an operator from before health reports.
    async fn report(&self, _: Request<Streaming<HealthReport>>) -> Result<Response<ReportReceipt>, Status> {
        Err(Status::unimplemented("no health reports here"))
    }
}

async fn scripted(responses: Vec<DiscoveryResponse>) -> (String, mpsc::UnboundedReceiver<DiscoveryRequest>) {
    let (answers, answered) = mpsc::unbounded_channel();
    let service = ScriptedServer { responses: Mutex::new(Some(responses)), answers };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ConfigDiscoveryServer::new(service))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    (url, answered)
}

fn response(tenant: &str, snapshot: &Snapshot, nonce: &str) -> DiscoveryResponse {
    let encoded = payload::encode(snapshot).unwrap();
    DiscoveryResponse {
        version_info: encoded.version,
        nonce: nonce.into(),
        schema: encoded.schema,
        content_type: encoded.content_type.into(),
        content_encoding: encoded.content_encoding.into(),
        snapshot: encoded.bytes.into(),
        tenant: tenant.into(),
    }
}

async fn answer(answered: &mut mpsc::UnboundedReceiver<DiscoveryRequest>) -> DiscoveryRequest {
    tokio::time::timeout(DEADLINE, answered.recv()).await.expect("no answer in time").unwrap()
}

#[tokio::test]
async fn a_snapshot_of_an_unknown_schema_from_a_newer_operator_is_refused_as_version_skew() {
    let v1 = snapshot("v1", &["acme/a"], "sk");
    let mut future = response("acme", &snapshot("v2", &["acme/a", "acme/b"], "sk"), "n2");
    future.schema = SCHEMA + 1;
    let (url, mut answered) = scripted(vec![response("acme", &v1, "n1"), future]).await;
    let handle = Subscriber::new(config(&url, "relay-0", "acme")).spawn().unwrap();

    let ack = answer(&mut answered).await;
    assert_eq!((ack.response_nonce.as_str(), ack.version_info.as_str(), ack.error_message.as_str()), ("n1", "v1", ""));
    let nack = answer(&mut answered).await;
    assert_eq!(nack.response_nonce, "n2");
    assert_eq!(nack.version_info, "v1", "the NACK names the version kept");
    assert!(nack.error_message.starts_with("version skew refused"), "{}", nack.error_message);
    assert_eq!(version(&handle).as_deref(), Some("v1"));
}

#[tokio::test]
async fn fields_added_by_a_newer_operator_do_not_stop_an_older_pod() {
    let json =
        br#"{"version":"v9","channels":[{"name":"acme/a","provider":"openai","circuitBreaker":{"x":1}}],"lanes":[]}"#;
    let newer = DiscoveryResponse {
        version_info: "v9".into(),
        nonce: "n1".into(),
        schema: SCHEMA,
        content_type: payload::CONTENT_TYPE_JSON.into(),
        content_encoding: String::new(),
        snapshot: json.to_vec().into(),
        tenant: "acme".into(),
    };
    let (url, mut answered) = scripted(vec![newer]).await;
    let handle = Subscriber::new(config(&url, "relay-0", "acme")).spawn().unwrap();
    let ack = answer(&mut answered).await;
    assert_eq!(ack.error_message, "");
    assert_eq!(version(&handle).as_deref(), Some("v9"));
}

#[tokio::test]
async fn a_snapshot_addressed_to_another_tenant_is_refused_by_the_pod() {
    let (url, mut answered) = scripted(vec![response("globex", &snapshot("g1", &["globex/g"], "sk-g"), "n1")]).await;
    let handle = Subscriber::new(config(&url, "relay-0", "acme")).spawn().unwrap();
    let nack = answer(&mut answered).await;
    assert!(nack.error_message.contains("tenant \"globex\""), "{}", nack.error_message);
    assert!(!handle.is_ready(), "nothing valid is held, so the pod is not ready");
}
