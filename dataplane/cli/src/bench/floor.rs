//! The floor for `bench relay`: one bare pass-through proxy hop to the same mock upstream, so the
//! relay can be reported as a ratio to the least any proxy hop costs on this machine. nginx
//! (`proxy_pass` with pooled upstream connections) when it is on PATH, else a minimal hyper
//! pass-through run as a child `oblivious` process: a pooled keep-alive client, bodies streamed
//! through and never parsed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use clap::{Args, ValueEnum};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::processes::{ChildProcess, spawn_command, wait_ready, wrapped};

/// Which pass-through proxy serves as the floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FloorKind {
    /// nginx when `nginx` is on PATH, else hyper.
    Auto,
    Nginx,
    Hyper,
}

/// `oblivious bench pass-through`: the hyper floor, started by `bench relay` as a child process.
#[derive(Args)]
pub struct PassThroughArgs {
    #[arg(long)]
    pub listen: SocketAddr,
    /// The upstream every request is forwarded to, path and query unchanged.
    #[arg(long)]
    pub upstream: SocketAddr,
}

/// A running floor proxy; stopped when dropped.
pub struct Floor {
    pub kind: FloorKind,
    pub addr: SocketAddr,
    process: ChildProcess,
    /// nginx's workers outlive a killed master, so nginx is stopped through its own signal command.
    stop: Option<std::process::Command>,
}

impl Floor {
    pub fn pid(&self) -> Option<u32> {
        self.process.child.id()
    }

    pub fn describe(&self) -> String {
        match self.kind {
            FloorKind::Nginx => "nginx proxy_pass (keep-alive upstream pool, access log off)".into(),
            _ => {
                "hyper pass-through (`oblivious bench pass-through`: pooled keep-alive client, bodies streamed)".into()
            }
        }
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.as_mut()
            && stop.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
        {
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline && matches!(self.process.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// How a floor process is started: directly, or under a wrapper such as valgrind.
pub struct FloorStart<'a> {
    pub kind: FloorKind,
    pub upstream: SocketAddr,
    pub addr: SocketAddr,
    /// A program and its arguments to run the floor under (e.g. valgrind); nginx then runs as one
    /// process (`master_process off`) so the wrapper sees every request.
    pub wrapper: &'a [String],
    pub dir: &'a Path,
}

/// Resolves `Auto` to the floor this machine can run.
pub fn resolve(kind: FloorKind) -> FloorKind {
    match kind {
        FloorKind::Auto if nginx_on_path() => FloorKind::Nginx,
        FloorKind::Auto => FloorKind::Hyper,
        other => other,
    }
}

fn nginx_on_path() -> bool {
    std::process::Command::new("nginx")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub async fn start(options: FloorStart<'_>) -> anyhow::Result<Floor> {
    let FloorStart { kind, upstream, addr, wrapper, dir } = options;
    let listen = addr.to_string();
    let upstream_arg = upstream.to_string();
    let kind = resolve(kind);
    let ready = Duration::from_secs(if wrapper.is_empty() { 30 } else { 300 });
    match kind {
        FloorKind::Nginx => {
            let prefix = dir.join(format!("nginx-{}", addr.port()));
            std::fs::create_dir_all(prefix.join("tmp"))?;
            let conf = prefix.join("nginx.conf");
            std::fs::write(&conf, nginx_config(&prefix, addr, upstream, !wrapper.is_empty()))?;
            let args = nginx_args(&prefix, &conf)?;
            let process = spawn_command(&wrapped(wrapper, "nginx", &args), &[], dir)?;
            let mut stop = std::process::Command::new("nginx");
            stop.args(&args).args(["-s", "stop"]);
            // Single-process nginx under a wrapper has no master to signal: killing it is enough.
            let stop = wrapper.is_empty().then_some(stop);
            // Made before waiting, so a failed start still stops whatever nginx did start.
            let floor = Floor { kind, addr, process, stop };
            wait_ready(addr, "/_mock/requests", ready).await.with_context(|| {
                let log = std::fs::read_to_string(prefix.join("error.log")).unwrap_or_default();
                format!("nginx did not start; its error log:\n{log}")
            })?;
            Ok(floor)
        }
        _ => {
            let args = ["bench", "pass-through", "--listen", &listen, "--upstream", &upstream_arg];
            let exe = path_string(&std::env::current_exe().context("cannot find the oblivious binary")?)?;
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let process = spawn_command(&wrapped(wrapper, &exe, &args), &[], dir)?;
            wait_ready(addr, "/_mock/requests", ready).await?;
            Ok(Floor { kind: FloorKind::Hyper, addr, process, stop: None })
        }
    }
}

fn nginx_args(prefix: &Path, conf: &Path) -> anyhow::Result<Vec<String>> {
    Ok(vec![
        "-p".into(),
        path_string(prefix)?,
        "-c".into(),
        path_string(conf)?,
        "-e".into(),
        path_string(&prefix.join("error.log"))?,
    ])
}

fn path_string(path: &Path) -> anyhow::Result<String> {
    Ok(path.to_str().context("temporary path is not UTF-8")?.to_string())
}

/// As many workers as the relay's runtime has threads; no access log; HTTP/1.1 keep-alive to the
/// upstream; no request or response buffering (bodies pass through as the relay streams them).
fn nginx_config(prefix: &Path, listen: SocketAddr, upstream: SocketAddr, single_process: bool) -> String {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let tmp: PathBuf = prefix.join("tmp");
    let tmp = tmp.display();
    let master = if single_process { "off" } else { "on" };
    format!(
        "worker_processes {workers};\ndaemon off;\nmaster_process {master};\npid {pid};\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n\
         fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n\
         upstream mock {{ server {upstream}; keepalive 256; keepalive_requests 100000000; }}\n\
         server {{\n    listen {listen};\n    keepalive_requests 100000000;\n    location / {{\n\
         proxy_pass http://mock;\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n\
         proxy_buffering off;\n      proxy_request_buffering off;\n    }}\n  }}\n}}\n",
        pid = prefix.join("nginx.pid").display(),
    )
}

type PassThroughClient = Client<HttpConnector, Body>;

/// Serves the hyper floor until the process is killed.
pub async fn serve_pass_through(args: PassThroughArgs) -> anyhow::Result<()> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: PassThroughClient = Client::builder(TokioExecutor::new()).build(connector);
    let app = Router::new().fallback(forward).with_state((client, args.upstream));
    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("bind {}", args.listen))?;
    axum::serve(oblivious_core::serve::without_nagle(listener), app).await?;
    Ok(())
}

async fn forward(State((client, upstream)): State<(PassThroughClient, SocketAddr)>, mut request: Request) -> Response {
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let uri = match Uri::builder().scheme("http").authority(upstream.to_string()).path_and_query(path).build() {
        Ok(uri) => uri,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    };
    *request.uri_mut() = uri;
    match client.request(request).await {
        Ok(response) => response.map(Body::new).into_response(),
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}
