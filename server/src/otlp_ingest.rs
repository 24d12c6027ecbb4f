//! OTLP ingest over the network: `/v1/metrics`, `/v1/traces`, `/v1/logs` on the HTTP port
//! (protobuf or JSON, gzip or identity) and the three collector services on the gRPC port.
//! Metrics go through [`crate::otlp`] into the engine; spans and logs are decoded (a
//! malformed body is a 400 / INVALID_ARGUMENT) and then refused as not yet supported
//! (501 / UNIMPLEMENTED), never acknowledged, until the traces-and-logs issue stores them.
//! Samples over the tenant's ingest rate fail the request as retryable (429 with Retry-After
//! / UNAVAILABLE with `RetryInfo`); other rejections are reported in `partial_success`.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::SERVICE_NAME as LOGS_SERVICE_NAME;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::SERVICE_NAME as METRICS_SERVICE_NAME;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::SERVICE_NAME as TRACE_SERVICE_NAME;
use prost::Message;
use prost::bytes::Bytes;
use strata_engine::{RejectReason, TenantId, WriteOutcome};

use crate::api_error::ApiError;
use crate::auth::{Scope, WriteTenant};
use crate::grpc::{Export, ExportService};
use crate::metrics::Signal;
use crate::otlp::{
    Encoding, OtlpError, TranslateOptions, decode_logs, decode_metrics, decode_traces, decompress,
    encode_response, partial_success, translate_metrics,
};
use crate::state::{AppState, RETRY_AFTER_SECS};

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
    tonic::service::Routes::new(ExportService::new(GrpcMetrics(state.clone()), state))
        .add_service(ExportService::new(GrpcNotYet::<true>(state.clone()), state))
        .add_service(ExportService::new(
            GrpcNotYet::<false>(state.clone()),
            state,
        ))
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
///
/// When the tenant's ingest rate refused any sample, the whole request fails as retryable
/// (429 with Retry-After over HTTP, `UNAVAILABLE` with `RetryInfo` over gRPC) instead of
/// reporting those samples in `partial_success`, which OTLP clients must not retry. A retry
/// is harmless: the samples that were stored are stored again as duplicates.
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
    let resp = partial_success(&translated, &outcome);
    if outcome.rejected.contains_key(&RejectReason::RateLimited) {
        let detail = resp
            .partial_success
            .map(|p| p.error_message)
            .unwrap_or_default();
        return Err(ApiError::RateLimited {
            message: format!(
                "over the tenant's ingest rate, retry the request: {} of {} samples were not stored ({detail})",
                outcome.rejected_total(),
                outcome.rejected_total() + outcome.accepted + outcome.duplicates
            ),
            retry_after: RETRY_AFTER_SECS,
        });
    }
    Ok(resp)
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

/// Authorizes a gRPC call for writing, from its metadata (the same rules as HTTP headers).
fn grpc_tenant<T>(state: &AppState, req: &tonic::Request<T>) -> Result<TenantId, tonic::Status> {
    state
        .auth()
        .authorize(&req.metadata().clone().into_headers(), Scope::Write)
        .map_err(|e| ApiError::from(e).to_grpc_status())
}

/// `MetricsService/Export`: decoded and stored as over HTTP; the response is the same
/// `partial_success`.
#[derive(Clone)]
struct GrpcMetrics(AppState);

impl Export for GrpcMetrics {
    const SERVICE: &'static str = METRICS_SERVICE_NAME;

    fn export(
        &self,
        request: tonic::Request<Bytes>,
    ) -> impl Future<Output = Result<Vec<u8>, tonic::Status>> + Send + 'static {
        let state = self.0.clone();
        async move {
            let tenant = grpc_tenant(&state, &request)?;
            let result = async {
                let req = decode_metrics(request.get_ref(), Encoding::Protobuf)?;
                drop(request);
                Ok::<_, ApiError>(export_metrics(&state, &tenant, &req).await?.encode_to_vec())
            }
            .await;
            result.map_err(|e| e.to_grpc_status())
        }
    }
}

/// `TraceService/Export` and `LogsService/Export`: decoded (`INVALID_ARGUMENT` when
/// malformed), then refused with `UNIMPLEMENTED`.
#[derive(Clone)]
struct GrpcNotYet<const TRACES: bool>(AppState);

impl<const TRACES: bool> Export for GrpcNotYet<TRACES> {
    const SERVICE: &'static str = if TRACES {
        TRACE_SERVICE_NAME
    } else {
        LOGS_SERVICE_NAME
    };

    fn export(
        &self,
        request: tonic::Request<Bytes>,
    ) -> impl Future<Output = Result<Vec<u8>, tonic::Status>> + Send + 'static {
        let state = self.0.clone();
        async move {
            grpc_tenant(&state, &request)?;
            let body = request.get_ref();
            let (signal, decoded) = if TRACES {
                let decoded = decode_traces(body, Encoding::Protobuf).map(drop);
                (Signal::Traces, decoded)
            } else {
                (
                    Signal::Logs,
                    decode_logs(body, Encoding::Protobuf).map(drop),
                )
            };
            let e = match decoded {
                Ok(()) => not_supported(signal),
                Err(e) => ApiError::from(e),
            };
            Err(e.to_grpc_status())
        }
    }
}
