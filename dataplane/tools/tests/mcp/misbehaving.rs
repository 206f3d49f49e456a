//! Tiny local servers that are not (good) MCP servers: what the hub reports for each, and that it
//! reports it quickly and without buffering what it refuses.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use oblivious_config::ToolServer;
use oblivious_tools::{HubSettings, ServerOrigin, ToolError, ToolHub};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const FIFTY_MB: usize = 50 * 1024 * 1024;
const LIMIT: usize = 1024 * 1024;

fn server(url: String) -> ToolServer {
    ToolServer { name: "test/misbehaving".into(), url, ..ToolServer::default() }
}

fn hub() -> ToolHub {
    ToolHub::new(HubSettings {
        connect_timeout: Duration::from_millis(500),
        max_response_bytes: LIMIT,
        ..HubSettings::default()
    })
}

/// Serves one fixed answer to every request.
async fn answering(status: StatusCode, content_type: &'static str, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let app = Router::new()
        .fallback(move || async move { (status, [(header::CONTENT_TYPE, content_type)], body).into_response() });
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn answers_that_are_not_mcp_are_classified() {
    let cases = [
        (StatusCode::OK, "text/html", "<html>a web page</html>", "protocol"),
        (StatusCode::OK, "application/json", r#"{"hello": "world"}"#, "protocol"),
        (StatusCode::OK, "application/json", "not json at all", "protocol"),
        (StatusCode::NOT_FOUND, "text/plain", "not found", "protocol"),
        (StatusCode::UNAUTHORIZED, "text/plain", "who are you", "unreachable"),
        (StatusCode::INTERNAL_SERVER_ERROR, "text/plain", "boom", "unreachable"),
    ];
    for (status, content_type, body, code) in cases {
        let hub = hub();
        let url = answering(status, content_type, body).await;
        let error = hub.list_tools(&server(url), ServerOrigin::Platform).await.unwrap_err();
        assert_eq!(error.code(), code, "{status} {content_type} {body}: {error}");
        assert!(!error.to_string().contains("127.0.0.1"), "no address in user-facing messages: {error}");
    }
}

#[tokio::test]
async fn garbage_is_a_protocol_error_and_the_message_names_no_secret() {
    let hub = hub();
    let url = answering(StatusCode::OK, "text/html", "<html>hi</html>").await;
    let mut server = server(url.replace("http://", "http://user:hunter2@"));
    server.headers.insert("authorization".into(), "Bearer s3cret-token".into());
    let error = hub.call_tool(&server, ServerOrigin::Platform, "echo", Default::default()).await.unwrap_err();
    assert!(matches!(error, ToolError::Protocol { .. }), "{error:?}");
    let shown = format!("{error} {error:?}");
    for secret in ["hunter2", "s3cret-token", "127.0.0.1"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[tokio::test]
async fn a_server_that_accepts_and_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    // Accept and hold every connection without reading or writing a byte.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let hub = hub();
    let started = Instant::now();
    let error = hub.list_tools(&server(url), ServerOrigin::Platform).await.unwrap_err();
    assert_eq!(error, ToolError::Timeout { after_ms: 500 });
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}

/// Answers every request with `head` and then up to 50 MB of `filler`, counting what it
/// managed to write before the client went away.
async fn huge(head: &'static str, filler: u8) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(write_huge_answer(socket, head, filler, counter.clone()));
        }
    });
    (url, written)
}

async fn write_huge_answer(mut socket: TcpStream, head: &'static str, filler: u8, written: Arc<AtomicUsize>) {
    let mut request = [0u8; 16 * 1024];
    let _ = socket.read(&mut request).await;
    if socket.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let chunk = vec![filler; 64 * 1024];
    while written.load(Ordering::Relaxed) < FIFTY_MB {
        if socket.write_all(&chunk).await.is_err() {
            return;
        }
        written.fetch_add(chunk.len(), Ordering::Relaxed);
    }
}

async fn assert_refused_quickly_without_buffering(url: String, written: &AtomicUsize) {
    let hub = hub();
    let started = Instant::now();
    let error = hub.list_tools(&server(url), ServerOrigin::Platform).await.unwrap_err();
    assert_eq!(error, ToolError::TooLarge { limit_bytes: LIMIT });
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    // What the server got out is the limit plus socket buffers, far from 50 MB.
    let sent = written.load(Ordering::Relaxed);
    assert!(sent < FIFTY_MB / 4, "the server wrote {sent} bytes: the client kept reading");
}

#[tokio::test]
async fn a_50_mb_json_answer_without_a_length_is_refused_while_streaming() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n\
                {\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"padding\":\"";
    let (url, written) = huge(head, b'a').await;
    assert_refused_quickly_without_buffering(url, &written).await;
}

#[tokio::test]
async fn a_50_mb_json_answer_is_refused_by_its_declared_length() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 52428800\r\n\r\n";
    let (url, written) = huge(head, b' ').await;
    assert_refused_quickly_without_buffering(url, &written).await;
}

#[tokio::test]
async fn a_50_mb_sse_event_is_refused_while_streaming() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: ";
    let (url, written) = huge(head, b'x').await;
    assert_refused_quickly_without_buffering(url, &written).await;
}
