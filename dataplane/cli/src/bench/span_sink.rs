//! An OTLP/gRPC trace receiver that counts spans and keeps none, for `bench relay`'s traced
//! relay: it answers every export at once, so the relay's measured cost is its own (creating,
//! batching, encoding and sending spans), never a slow collector pushing back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};

pub struct SpanSink {
    pub endpoint: String,
    received: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

struct Counter(Arc<AtomicUsize>);

#[tonic::async_trait]
impl TraceService for Counter {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans: usize =
            request.into_inner().resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
        self.0.fetch_add(spans, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

impl SpanSink {
    pub async fn start() -> anyhow::Result<SpanSink> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let received = Arc::new(AtomicUsize::new(0));
        let service = TraceServiceServer::new(Counter(received.clone()));
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let server = tokio::spawn(async move {
            if let Err(error) =
                tonic::transport::Server::builder().add_service(service).serve_with_incoming(incoming).await
            {
                eprintln!("the OTLP receiver stopped: {error}");
            }
        });
        Ok(SpanSink { endpoint, received, server })
    }

    pub fn received(&self) -> usize {
        self.received.load(Ordering::Relaxed)
    }
}

impl Drop for SpanSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}
