//! OTLP ingest over the network: `/v1/metrics`, `/v1/traces`, `/v1/logs` on the HTTP port
//! (protobuf or JSON, gzip or identity) and the three collector services on the gRPC port.
//! Metrics go through [`crate::otlp`] into the engine; spans and logs are decoded (a
//! malformed body is a 400 / INVALID_ARGUMENT) and then refused as not yet supported
//! (501 / UNIMPLEMENTED), never acknowledged, until the traces-and-logs issue stores them.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use strata_engine::{TenantId, WriteOutcome};

use crate::api_error::ApiError;
use crate::auth::{Scope, WriteTenant};
use crate::metrics::Signal;
use crate::otlp::{
    Encoding, OtlpError, TranslateOptions, decode_logs, decode_metrics, decode_traces, decompress,
    encode_response, partial_success, translate_metrics,
};
use crate::state::AppState;

/// Counted as the rejection reason of OTLP points the Prometheus mapping cannot store.
const UNMAPPED: &str = "otlp_unmapped";

impl From<OtlpError> for ApiError {
    fn from(e: OtlpError) -> Self {
        match e {
            OtlpError::BodyTooLarge { .. } => Self::PayloadTooLarge(e.to_string()),
            OtlpError::UnsupportedContentEncoding { .. } => {
                Self::UnsupportedMediaType(e.to_string())
            }
            OtlpError::EncodeJson { .. } => Self::Internal(e.to_string()),
            _ => Self::BadRequest(e.to_string()),
        }
    }
}

/// The OTLP/HTTP routes, for [`crate::http::router`] to merge.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/metrics", post(http_metrics))
        .route("/v1/traces", post(http_traces))
        .route("/v1/logs", post(http_logs))
}

/// The OTLP gRPC services, for [`crate::grpc::routes`].
pub(crate) fn grpc_routes(state: &AppState) -> tonic::service::Routes {
    let limit = usize::try_from(state.max_body_bytes()).unwrap_or(usize::MAX);
    tonic::service::Routes::new(
        MetricsServiceServer::new(Grpc(state.clone())).max_decoding_message_size(limit),
    )
    .add_service(TraceServiceServer::new(Grpc(state.clone())).max_decoding_message_size(limit))
    .add_service(LogsServiceServer::new(Grpc(state.clone())).max_decoding_message_size(limit))
}

/// The request's encoding from its Content-Type (415 for anything OTLP/HTTP does not define).
fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Encoding::from_content_type(ct).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "OTLP/HTTP takes application/x-protobuf or application/json, got {ct:?}"
        ))
    })
}

/// The body without its Content-Encoding, at most `max_body_bytes` once inflated.
async fn plain_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<u8>, ApiError> {
    let raw = state.read_body(headers, body).await?;
    let ce = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let limit = usize::try_from(state.max_body_bytes()).unwrap_or(usize::MAX);
    Ok(decompress(&raw, ce, limit)?.into_owned())
}

/// Maps, writes and answers one metrics export; shared by HTTP and gRPC.
async fn export_metrics(
    state: &AppState,
    tenant: &TenantId,
    req: &ExportMetricsServiceRequest,
) -> Result<ExportMetricsServiceResponse, ApiError> {
    let translated = translate_metrics(req, &TranslateOptions::default());
    state.metrics().record_rejected(
        tenant,
        Signal::Metrics,
        UNMAPPED,
        translated.rejected_points,
    );
    let outcome = if translated.series.is_empty() {
        WriteOutcome::default()
    } else {
        state
            .write_metrics(tenant, translated.series.clone())
            .await?
    };
    Ok(partial_success(&translated, &outcome))
}

async fn http_metrics(
    State(state): State<AppState>,
    WriteTenant(tenant): WriteTenant,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let enc = match encoding(&headers) {
        Ok(enc) => enc,
        Err(e) => return e.into_response(),
    };
    let result = async {
        let body = plain_body(&state, &headers, body).await?;
        let req = decode_metrics(&body, enc)?;
        drop(body);
        let resp = export_metrics(&state, &tenant, &req).await?;
        Ok::<_, ApiError>(encode_response(&resp, enc)?)
    }
    .await;
    match result {
        Ok(bytes) => encoded(StatusCode::OK, enc, bytes),
        Err(e) => otlp_error(&e, enc),
    }
}

async fn http_traces(
    State(state): State<AppState>,
    WriteTenant(_): WriteTenant,
    headers: HeaderMap,
    body: Body,
) -> Response {
    not_yet(&state, headers, body, Signal::Traces, |b, enc| {
        decode_traces(b, enc).map(drop)
    })
    .await
}

async fn http_logs(
    State(state): State<AppState>,
    WriteTenant(_): WriteTenant,
    headers: HeaderMap,
    body: Body,
) -> Response {
    not_yet(&state, headers, body, Signal::Logs, |b, enc| {
        decode_logs(b, enc).map(drop)
    })
    .await
}

/// Decodes a traces or logs body (400 when malformed), then refuses it with 501.
async fn not_yet(
    state: &AppState,
    headers: HeaderMap,
    body: Body,
    signal: Signal,
    decode: impl FnOnce(&[u8], Encoding) -> Result<(), OtlpError>,
) -> Response {
    let enc = match encoding(&headers) {
        Ok(enc) => enc,
        Err(e) => return e.into_response(),
    };
    let result = async {
        let body = plain_body(state, &headers, body).await?;
        decode(&body, enc)?;
        Err::<(), _>(not_supported(signal))
    }
    .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => otlp_error(&e, enc),
    }
}

fn not_supported(signal: Signal) -> ApiError {
    ApiError::NotImplemented(format!(
        "OTLP {} are not stored by this version of Strata yet; nothing was accepted",
        signal.as_str()
    ))
}

/// `google.rpc.Status`, the body of an OTLP/HTTP error (in the request's encoding).
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// An OTLP/HTTP error response: the status and headers of [`ApiError`], the body a
/// `google.rpc.Status` in the request's encoding, as the OTLP specification asks.
fn otlp_error(e: &ApiError, enc: Encoding) -> Response {
    let status = e.to_grpc_status();
    let msg = RpcStatus {
        code: status.code() as i32,
        message: e.to_string(),
    };
    let body = match enc {
        Encoding::Protobuf => msg.encode_to_vec(),
        Encoding::Json => serde_json::json!({ "code": msg.code, "message": msg.message })
            .to_string()
            .into_bytes(),
    };
    let mut resp = encoded(e.status(), enc, body);
    if let Some(secs) = e.retry_after() {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if matches!(e, ApiError::Unauthorized(_)) {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}

fn encoded(status: StatusCode, enc: Encoding, body: Vec<u8>) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(enc.content_type()),
    );
    resp
}

/// The gRPC services, holding the server state.
#[derive(Clone)]
struct Grpc(AppState);

impl Grpc {
    fn tenant<T>(&self, req: &tonic::Request<T>) -> Result<TenantId, tonic::Status> {
        self.0
            .auth()
            .authorize(&req.metadata().clone().into_headers(), Scope::Write)
            .map_err(|e| ApiError::from(e).to_grpc_status())
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let tenant = self.tenant(&request)?;
        let req = request.into_inner();
        export_metrics(&self.0, &tenant, &req)
            .await
            .map(tonic::Response::new)
            .map_err(|e| e.to_grpc_status())
    }
}

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.tenant(&request)?;
        Err(not_supported(Signal::Traces).to_grpc_status())
    }
}

#[tonic::async_trait]
impl LogsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.tenant(&request)?;
        Err(not_supported(Signal::Logs).to_grpc_status())
    }
}
