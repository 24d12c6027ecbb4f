//! [`Counted`]: counts every call of the Flight service in the self-metrics
//! (`strata_grpc_requests_total{service="arrow.flight.protocol.FlightService",code=...}`),
//! as the OTLP services count theirs.
//!
//! A call that fails before answering (auth, a bad ticket, bad SQL) is answered
//! trailers-only, its status in the response headers: counted at once. A call that answers
//! has its status in the trailers, after the last message: counted when they pass. A
//! response dropped before its trailers (the client went away or cancelled a `DoGet`) is
//! counted as `CANCELLED`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use http_body_util::{BodyStream, StreamBody};
use tonic::body::Body as TonicBody;
use tonic::codegen::{Body, BoxFuture, Bytes, Context, Poll, Service, StdError, http};
use tonic::server::NamedService;
use tonic::{Code, Status};

use super::SERVICE;
use crate::runtime::self_metrics::Metrics;

/// A gRPC service whose calls are counted (see the module docs).
#[derive(Clone)]
pub(crate) struct Counted<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Counted<S> {
    /// Counts the calls of `inner` in `metrics`.
    pub(crate) fn new(inner: S, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

impl<S: NamedService> NamedService for Counted<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<TonicBody>> for Counted<S>
where
    S: Service<http::Request<TonicBody>, Response = http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<TonicBody>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<TonicBody>) -> Self::Future {
        // The clone that was made ready is the one that is called (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let started = Instant::now();
            let resp = match inner.call(req).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            if let Some(status) = Status::from_header_map(resp.headers()) {
                record(&metrics, status.code(), started);
                return Ok(resp.map(TonicBody::new));
            }
            let mut guard = CallGuard {
                metrics,
                started,
                done: false,
            };
            Ok(resp.map(|body| {
                let frames = BodyStream::new(body).map(move |frame| {
                    if let Ok(frame) = &frame
                        && let Some(trailers) = frame.trailers_ref()
                    {
                        let code = Status::from_header_map(trailers).map_or(Code::Ok, |s| s.code());
                        guard.finish(code);
                    }
                    frame
                });
                TonicBody::new(StreamBody::new(frames))
            }))
        })
    }
}

fn record(metrics: &Metrics, code: Code, started: Instant) {
    metrics.record_grpc(SERVICE, code, started.elapsed());
}

/// Counts a call once: with the code of its trailers, or as `CANCELLED` when dropped
/// before them.
struct CallGuard {
    metrics: Arc<Metrics>,
    started: Instant,
    done: bool,
}

impl CallGuard {
    fn finish(&mut self, code: Code) {
        if !self.done {
            self.done = true;
            record(&self.metrics, code, self.started);
        }
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.done {
            tracing::debug!(
                took = ?self.started.elapsed(),
                "flight sql: the client went away before the end of a call"
            );
            self.finish(Code::Cancelled);
        }
    }
}
