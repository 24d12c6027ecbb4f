//! The gRPC listener's services: the OTLP collector services for metrics, traces and logs
//! (what an export does is in [`super::export`], the same as over HTTP).
//!
//! They are served by [`ExportService`], not by opentelemetry-proto's generated servers, so
//! that failures get the codes the OTLP specification asks for instead of tonic's defaults:
//! a message that is not valid protobuf is `INVALID_ARGUMENT` (tonic's prost codec says
//! `INTERNAL`), and a message over `server.max_body_bytes` is `RESOURCE_EXHAUSTED` (tonic
//! says `OUT_OF_RANGE`). The service hands the handler the message's bytes; the handler
//! decodes them with the same code as OTLP/HTTP.
//!
//! The service reads the message itself: as soon as its 5-byte prefix has arrived, the
//! request is admitted into the ingest memory budget on the length the prefix declares
//! ([`crate::runtime::inflight`]), so that messages being read count against it as HTTP
//! bodies do.
//!
//! Compressed messages (`grpc-encoding: gzip`, what the OpenTelemetry Collector's gRPC
//! exporter sends by default) are inflated here, with the same bounded decoder as OTLP/HTTP
//! ([`super::inflate`]: into at most `server.max_body_bytes`, charged to the ingest memory
//! budget), and handed on uncompressed: tonic's own `gzip` feature would switch flate2 to another
//! backend and rebuild parquet and DataFusion for a few lines of framing.

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::SERVICE_NAME as LOGS_SERVICE_NAME;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::SERVICE_NAME as METRICS_SERVICE_NAME;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::SERVICE_NAME as TRACE_SERVICE_NAME;
use prost::Message;
use prost::bytes::{Buf, BufMut, Bytes};
use strata_engine::TenantId;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{Body, BoxFuture, Context, Poll, Service, StdError, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::service::Routes;
use tonic::{Code, Status};

use super::export::{cost, export_logs, export_metrics_protobuf, export_traces};
use super::request_items;
use super::{
    Encoding, SignalKind, decode_logs, decode_spans, inflate_charged, signal_response_protobuf,
};
use crate::auth::Auth;
use crate::config::tokens::Scope;
use crate::http::error::ApiError;
use crate::runtime::inflight::{InflightPermit, PermitSlot, declared_cost};
use crate::runtime::ingest_handle::Ingest;
use crate::runtime::state::AppState;

/// The gRPC services served on `server.grpc_addr`: the OTLP collector services for
/// metrics, traces and logs.
/// Each takes the ingest handle and the tokens from `state`.
pub fn routes(state: &AppState) -> Routes {
    let (ingest, auth) = (&state.ingest, &state.auth);
    Routes::new(ExportService::new(
        GrpcMetrics(ingest.clone(), auth.clone()),
        ingest,
    ))
    .add_service(ExportService::new(
        GrpcSignal::<true>(ingest.clone(), auth.clone()),
        ingest,
    ))
    .add_service(ExportService::new(
        GrpcSignal::<false>(ingest.clone(), auth.clone()),
        ingest,
    ))
}

/// One OTLP collector service: its name and what its one method, `Export`, does.
pub(crate) trait Export: Clone + Send + Sync + 'static {
    /// The fully qualified service name, e.g.
    /// `opentelemetry.proto.collector.metrics.v1.MetricsService`.
    const SERVICE: &'static str;

    /// Answers one `Export` call: the request message's protobuf bytes (and metadata) in,
    /// the response message's protobuf bytes out.
    fn export(
        &self,
        request: tonic::Request<Bytes>,
    ) -> impl Future<Output = Result<Vec<u8>, Status>> + Send + 'static;
}

/// Serves an [`Export`] as a unary gRPC method taking messages of at most
/// `server.max_body_bytes`, and counts every call by status code in the self-metrics.
#[derive(Clone)]
pub(crate) struct ExportService<E> {
    export: E,
    limit: usize,
    ingest: Ingest,
}

impl<E: Export> ExportService<E> {
    /// The service, refusing request messages over the body limit.
    pub(crate) fn new(export: E, ingest: &Ingest) -> Self {
        let limit = usize::try_from(ingest.max_body_bytes()).unwrap_or(usize::MAX);
        Self {
            export,
            limit,
            ingest: ingest.clone(),
        }
    }
}

impl<E: Export> NamedService for ExportService<E> {
    const NAME: &'static str = E::SERVICE;
}

impl<E, B> Service<http::Request<B>> for ExportService<E>
where
    E: Export,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let export = self.export.clone();
        let limit = self.limit;
        let ingest = self.ingest.clone();
        Box::pin(async move {
            let started = std::time::Instant::now();
            let method = req
                .uri()
                .path()
                .strip_prefix('/')
                .and_then(|p| p.strip_prefix(E::SERVICE))
                .unwrap_or("");
            let resp = if method == "/Export" {
                match read_request(req, limit, &ingest).await {
                    Ok(req) => {
                        let mut grpc = Grpc::new(RawCodec).max_decoding_message_size(limit);
                        let resp = grpc.unary(Method(export), req).await;
                        over_limit_is_resource_exhausted(resp, limit)
                    }
                    Err(status) => status.into_http(),
                }
            } else {
                let msg = format!("{} has no method {method:?}; it has /Export", E::SERVICE);
                Status::unimplemented(msg).into_http()
            };
            // A failed call is answered trailers-only, its status in the headers; a call
            // that succeeded has no status header yet (it comes in the trailers).
            let code = Status::from_header_map(resp.headers()).map_or(Code::Ok, |s| s.code());
            ingest
                .metrics()
                .record_grpc(E::SERVICE, code, started.elapsed());
            Ok(resp)
        })
    }
}

/// The gRPC message prefix: a compressed flag and a big-endian length.
const PREFIX: usize = 5;

/// Reads a unary request's message, admitted into the ingest memory budget
/// ([`crate::runtime::inflight`]) as soon as its 5-byte prefix has arrived, on the length the prefix
/// declares (a compressed message assumed to inflate as an HTTP body is), before the rest
/// is read; the permit travels to the handler in the request's extensions
/// ([`PermitSlot`]), which sets it to the real estimate. A message declared over `limit`
/// bytes is `RESOURCE_EXHAUSTED` at once, without waiting for budget. With `grpc-encoding:
/// gzip` the message is inflated to at most `limit` bytes and the header removed; without
/// one (or with `identity`) it is taken as it came. Other encodings are `UNIMPLEMENTED`, as
/// the gRPC spec asks. The message goes to the handler in a [`MessageSlot`], tonic
/// decoding an empty one in its place.
async fn read_request<B>(
    req: http::Request<B>,
    limit: usize,
    ingest: &Ingest,
) -> Result<http::Request<tonic::body::Body>, Status>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    use http_body_util::BodyExt;

    let encoding = req
        .headers()
        .get("grpc-encoding")
        .map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase());
    let gzip = match encoding.as_deref() {
        None | Some("identity") => false,
        Some("gzip") => true,
        Some(other) => {
            return Err(Status::unimplemented(format!(
                "grpc-encoding {other:?} is not supported; send gzip or identity"
            )));
        }
    };
    let too_large = |declared: Option<usize>| {
        let size = declared.map_or(String::new(), |n| format!(" of {n} bytes"));
        ApiError::PayloadTooLarge(format!(
            "request message{size} is over the limit of {limit} bytes (server.max_body_bytes)"
        ))
        .to_grpc_status()
    };
    let (mut parts, body) = req.into_parts();
    let mut body = std::pin::pin!(body);
    let mut framed: Vec<u8> = Vec::new();
    let mut permit = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Status::invalid_argument(format!("reading the request body: {}", e.into()))
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if framed.len() + data.len() > limit.saturating_add(PREFIX) {
            return Err(too_large(None));
        }
        framed.extend_from_slice(&data);
        if permit.is_none()
            && let Some(prefix) = framed.first_chunk::<PREFIX>()
        {
            let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
            if len > limit {
                return Err(too_large(Some(len)));
            }
            let cost = declared_cost(len as u64, prefix[0] == 1);
            permit = Some(ingest.admit(cost).await.map_err(|e| e.to_grpc_status())?);
            framed.reserve((PREFIX + len).saturating_sub(framed.len()));
        }
    }
    if framed.is_empty() {
        // No message (and no permit): tonic answers that as it does.
        let body = http_body_util::Full::new(Bytes::new());
        return Ok(http::Request::from_parts(
            parts,
            tonic::body::Body::new(body),
        ));
    }
    let (flag, _) = split_message(&framed)?;
    let wire = Bytes::from(framed).slice(PREFIX..);
    let message = match (flag, gzip) {
        (0, _) => wire,
        (_, true) => {
            // A message with its prefix was admitted; a new admission does not happen.
            let held = match permit.take() {
                Some(held) => held,
                None => ingest.admit(0).await.map_err(|e| e.to_grpc_status())?,
            };
            inflate_message(wire, permit.insert(held), limit, ingest).await?
        }
        (_, false) => {
            return Err(Status::internal(
                "protocol error: received message with compressed-flag but no grpc-encoding \
                 was specified",
            ));
        }
    };
    parts.headers.remove("grpc-encoding");
    if let Some(permit) = permit {
        parts.extensions.insert(PermitSlot::new(permit));
    }
    parts.extensions.insert(MessageSlot::new(message));
    // tonic decodes an empty message; `Method` puts this one in its place.
    let body = http_body_util::Full::new(Bytes::from_static(&[0; PREFIX]));
    Ok(http::Request::from_parts(
        parts,
        tonic::body::Body::new(body),
    ))
}

/// A gzip message (`wire`), inflated into at most `limit` bytes (as over HTTP: over it is
/// `RESOURCE_EXHAUSTED`), its buffer charged to `permit` before it is allocated
/// ([`inflate_charged`]); the compressed bytes are dropped once it is inflated.
async fn inflate_message(
    wire: Bytes,
    permit: &mut InflightPermit,
    limit: usize,
    ingest: &Ingest,
) -> Result<Bytes, Status> {
    inflate_charged(ingest, permit, &wire, Some("gzip"), limit)
        .await
        .map_err(|e| e.to_grpc_status())?
        .map(Bytes::from)
        .ok_or_else(|| Status::internal("a gzip message was not inflated"))
}

/// A request's message, carried from [`read_request`] to [`Method`] beside tonic's
/// decoding: tonic copies the message it decodes into its own buffer, which would hold it
/// twice; it decodes an empty one instead. An `http` extension must be `Clone`, so the
/// first [`MessageSlot::take`] has it.
#[derive(Clone, Debug)]
struct MessageSlot(Arc<Mutex<Option<Bytes>>>);

impl MessageSlot {
    fn new(message: Bytes) -> Self {
        Self(Arc::new(Mutex::new(Some(message))))
    }

    fn take(&self) -> Option<Bytes> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The one message of a unary request: its compressed flag and its bytes.
fn split_message(framed: &[u8]) -> Result<(u8, &[u8]), Status> {
    let bad = |what: &str| Status::invalid_argument(format!("malformed gRPC message: {what}"));
    let (prefix, rest) = framed
        .split_first_chunk::<PREFIX>()
        .ok_or_else(|| bad("shorter than its 5-byte prefix"))?;
    let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    if rest.len() != len {
        return Err(bad(&format!(
            "the prefix declares {len} bytes, the body holds {}",
            rest.len()
        )));
    }
    match prefix[0] {
        flag @ (0 | 1) => Ok((flag, rest)),
        flag => Err(bad(&format!("compressed flag {flag}"))),
    }
}

/// tonic refuses a message longer than the decoding limit with `OUT_OF_RANGE` before reading
/// it; nothing else here answers `OUT_OF_RANGE`, so such a response is the body limit, which
/// OTLP (like every other size limit) reports as `RESOURCE_EXHAUSTED` without `RetryInfo`
/// (not retryable).
fn over_limit_is_resource_exhausted(
    resp: http::Response<tonic::body::Body>,
    limit: usize,
) -> http::Response<tonic::body::Body> {
    match Status::from_header_map(resp.headers()) {
        Some(s) if s.code() == Code::OutOfRange => ApiError::PayloadTooLarge(format!(
            "request message is over the limit of {limit} bytes (server.max_body_bytes): {}",
            s.message()
        ))
        .to_grpc_status()
        .into_http(),
        _ => resp,
    }
}

/// The `Export` method of an [`Export`], for tonic's unary call handling.
struct Method<E>(E);

impl<E: Export> UnaryService<Bytes> for Method<E> {
    type Response = Vec<u8>;
    type Future = BoxFuture<tonic::Response<Vec<u8>>, Status>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let (metadata, extensions, decoded) = request.into_parts();
        let message = extensions
            .get::<MessageSlot>()
            .and_then(MessageSlot::take)
            .unwrap_or(decoded);
        let fut = self
            .0
            .export(tonic::Request::from_parts(metadata, extensions, message));
        Box::pin(async move { fut.await.map(tonic::Response::new) })
    }
}

/// Messages as bytes both ways: decoding is the handler's, so its errors are ours.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// Authorizes a gRPC call for writing, from its metadata (the same rules as HTTP headers).
fn grpc_tenant<T>(auth: &Auth, req: &tonic::Request<T>) -> Result<TenantId, tonic::Status> {
    auth.authorize(&req.metadata().clone().into_headers(), Scope::Write)
        .map_err(|e| ApiError::from(e).to_grpc_status())
}

/// `MetricsService/Export`: decoded and stored as over HTTP; the response is the same
/// `partial_success`.
#[derive(Clone)]
struct GrpcMetrics(Ingest, Auth);

impl Export for GrpcMetrics {
    const SERVICE: &'static str = METRICS_SERVICE_NAME;

    fn export(
        &self,
        request: tonic::Request<Bytes>,
    ) -> impl Future<Output = Result<Vec<u8>, tonic::Status>> + Send + 'static {
        let (ingest, auth) = (self.0.clone(), self.1.clone());
        async move {
            let tenant = grpc_tenant(&auth, &request)?;
            let result = async {
                let estimate = cost(
                    request.get_ref(),
                    request.get_ref().len(),
                    Encoding::Protobuf,
                    request_items::POINTS,
                );
                let _permit = grpc_permit(&ingest, &request, estimate).await?;
                let body = request.into_inner();
                Ok::<_, ApiError>(
                    export_metrics_protobuf(&ingest, &tenant, body)
                        .await?
                        .encode_to_vec(),
                )
            }
            .await;
            result.map_err(|e| e.to_grpc_status())
        }
    }
}

/// A gRPC request's share of the ingest memory budget, set to `estimate` bytes: the permit
/// the service admitted its message with before reading it ([`read_request`]), resized;
/// or, for a request that came without one, a new admission.
async fn grpc_permit(
    ingest: &Ingest,
    request: &tonic::Request<Bytes>,
    estimate: u64,
) -> Result<InflightPermit, ApiError> {
    match request
        .extensions()
        .get::<PermitSlot>()
        .and_then(PermitSlot::take)
    {
        Some(mut permit) => {
            ingest.resize(&mut permit, estimate).await?;
            Ok(permit)
        }
        None => ingest.admit(estimate).await,
    }
}

/// `TraceService/Export` and `LogsService/Export`: decoded, translated and stored as over
/// HTTP; the response is the same `partial_success`.
#[derive(Clone)]
struct GrpcSignal<const TRACES: bool>(Ingest, Auth);

impl<const TRACES: bool> Export for GrpcSignal<TRACES> {
    const SERVICE: &'static str = if TRACES {
        TRACE_SERVICE_NAME
    } else {
        LOGS_SERVICE_NAME
    };

    fn export(
        &self,
        request: tonic::Request<Bytes>,
    ) -> impl Future<Output = Result<Vec<u8>, tonic::Status>> + Send + 'static {
        let (ingest, auth) = (self.0.clone(), self.1.clone());
        async move {
            let tenant = grpc_tenant(&auth, &request)?;
            let result = async {
                let body = request.get_ref();
                let path = if TRACES {
                    request_items::SPANS
                } else {
                    request_items::LOGS
                };
                let estimate = cost(body, body.len(), Encoding::Protobuf, path);
                let _permit = grpc_permit(&ingest, &request, estimate).await?;
                let (kind, partial) = if TRACES {
                    let batch = decode_spans(request.get_ref(), Encoding::Protobuf)?;
                    drop(request);
                    (
                        SignalKind::Traces,
                        export_traces(&ingest, &tenant, batch).await?,
                    )
                } else {
                    let batch = decode_logs(request.get_ref(), Encoding::Protobuf)?;
                    drop(request);
                    (
                        SignalKind::Logs,
                        export_logs(&ingest, &tenant, batch).await?,
                    )
                };
                Ok::<_, ApiError>(signal_response_protobuf(kind, partial.as_ref()))
            }
            .await;
            result.map_err(|e| e.to_grpc_status())
        }
    }
}
