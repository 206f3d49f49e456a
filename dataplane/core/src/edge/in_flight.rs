//! Counts requests in flight (`oblivious_inflight_requests`) for every route of a process: a
//! request counts from its arrival until its response body ends or is dropped, so a chat stream
//! or an SSE reader counts for as long as it is open — the load the HPA should scale on. The
//! request's span lives as long too (a stream's span ends with the stream), and is entered while
//! the body is produced, so what a stream logs names its request.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
#[cfg(test)]
use axum::extract::{Request, State};
#[cfg(test)]
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::metrics::gauge::Gauge;

/// Decrements the gauge when dropped.
struct Counted(Gauge);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A response body that keeps its request counted, and its span open, until it is finished.
struct CountedBody {
    inner: Body,
    _counted: Counted,
    span: tracing::Span,
}

impl HttpBody for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Counts a request from now until the body of its response ends or is dropped.
pub struct InFlight(Counted);

impl InFlight {
    pub fn start(gauge: &Gauge) -> Self {
        gauge.inc();
        InFlight(Counted(gauge.clone()))
    }

    /// Hands the count, and the request's span, over to the response body.
    pub fn until_body_ends(self, response: Response, span: tracing::Span) -> Response {
        response.map(|inner| Body::new(CountedBody { inner, _counted: self.0, span }))
    }
}

#[cfg(test)]
async fn count_in_flight(State(gauge): State<Gauge>, request: Request, next: Next) -> Response {
    let counted = InFlight::start(&gauge);
    counted.until_body_ends(next.run(request).await, tracing::Span::none())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::Router;
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_request_counts_until_its_streamed_body_is_done() {
        let gauge = Gauge::default();
        let (chunks, body) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let body = std::sync::Arc::new(std::sync::Mutex::new(Some(body)));
        let app = Router::new()
            .route(
                "/stream",
                get(move || {
                    let body = body.lock().unwrap().take().unwrap();
                    async move { Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(body)) }
                }),
            )
            .layer(axum::middleware::from_fn_with_state(gauge.clone(), count_in_flight));
        let response = app.oneshot(Request::get("/stream").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(gauge.get(), 1, "the handler returned, but the stream is still open");
        chunks.send(Ok(Bytes::from_static(b"data"))).await.unwrap();
        drop(chunks);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"data");
        assert_eq!(gauge.get(), 0, "finished streams no longer count");
    }
}
