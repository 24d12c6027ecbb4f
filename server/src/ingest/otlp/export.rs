//! OTLP ingest over the network: `/v1/metrics`, `/v1/traces`, `/v1/logs` on the HTTP port
//! (protobuf or JSON, gzip or identity) and the three collector services on the gRPC port,
//! all through [`crate::ingest::otlp`] into the engine, with the same body limit, auth and tenant.
//! Items over the tenant's ingest rate fail the request as retryable (429 with Retry-After
//! / UNAVAILABLE with `RetryInfo`); other rejections, and for spans and logs the truncations
//! the attribute caps made, are reported in `partial_success`.

use std::borrow::Cow;

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
use strata_engine::{
    LogRecord, RejectReason, SignalOutcome, SignalReject, SpanRecord, TenantId, WriteOutcome,
};

use crate::auth::{Scope, WriteTenant};
use crate::http::error::ApiError;
use crate::ingest::otlp::grpc::{Export, ExportService};
use crate::ingest::otlp::metrics::fast as metrics_fast;
use crate::ingest::otlp::{
    Batch, Encoding, OtlpError, PartialSuccess, SignalKind, TranslateOptions, Translated,
    decode_logs, decode_metrics, decode_spans, decompress, encode_response, encode_signal_response,
    partial_success, request_items, signal_partial_success, signal_response_protobuf,
    translate_metrics,
};
use crate::runtime::inflight::{InflightPermit, PermitSlot, request_cost};
use crate::runtime::metrics::Signal;
use crate::runtime::state::{AppState, RETRY_AFTER_SECS};

/// Counted as the rejection reason of OTLP points the Prometheus mapping cannot store.
const UNMAPPED: &str = "otlp_unmapped";

impl From<OtlpError> for ApiError {
    fn from(e: OtlpError) -> Self {
        match e {
            OtlpError::BodyTooLarge { .. } | OtlpError::TooManyItems { .. } => {
                Self::PayloadTooLarge(e.to_string())
            }
            OtlpError::UnsupportedContentEncoding { .. } => {
                Self::UnsupportedMediaType(e.to_string())
            }
            OtlpError::EncodeJson { .. } => Self::Internal(e.to_string()),
            _ => Self::BadRequest(e.to_string()),
        }
    }
}

/// The OTLP/HTTP routes, for [`crate::router::router`] to merge.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/metrics", post(http_metrics))
        .route("/v1/traces", post(http_traces))
        .route("/v1/logs", post(http_logs))
}

/// The OTLP gRPC services, for [`crate::ingest::otlp::grpc::routes`].
pub(crate) fn grpc_routes(state: &AppState) -> tonic::service::Routes {
    tonic::service::Routes::new(ExportService::new(GrpcMetrics(state.clone()), state))
        .add_service(ExportService::new(GrpcSignal::<true>(state.clone()), state))
        .add_service(ExportService::new(
            GrpcSignal::<false>(state.clone()),
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

/// The body without its Content-Encoding, at most `max_body_bytes` once inflated (an
/// uncompressed body as it was read, not copied), holding its share of the ingest memory
/// budget: admitted on its declared length before it is read, then set to the estimate
/// of what it decodes to ([`request_cost`], with the records along `path` it holds).
async fn plain_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    enc: Encoding,
    path: request_items::Path,
) -> Result<(Bytes, InflightPermit), ApiError> {
    let ce = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let compressed = ce.is_some_and(|v| {
        let v = v.trim();
        !v.is_empty() && !v.eq_ignore_ascii_case("identity")
    });
    let (raw, mut permit) = state.read_ingest_body(headers, body, compressed).await?;
    let limit = usize::try_from(state.max_body_bytes()).unwrap_or(usize::MAX);
    let inflated = match decompress(&raw, ce, limit)? {
        Cow::Borrowed(_) => None,
        Cow::Owned(v) => Some(v),
    };
    let wire = raw.len();
    let body = inflated.map_or(raw, Bytes::from);
    state
        .resize(&mut permit, cost(&body, wire, enc, path))
        .await?;
    Ok((body, permit))
}

/// The ingest memory budget's estimate ([`request_cost`]) of an uncompressed OTLP body
/// (`wire` bytes as received): its records along `path` are counted from the protobuf
/// framing (a JSON body is estimated from its size alone).
fn cost(plain: &[u8], wire: usize, enc: Encoding, path: request_items::Path) -> u64 {
    let records = match enc {
        Encoding::Protobuf => request_items::protobuf_records(plain, path).unwrap_or(0),
        Encoding::Json => 0,
    };
    let compressed = wire != plain.len();
    request_cost(wire as u64, plain.len() as u64, compressed, records as u64)
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
    let mut translated = translate_metrics(req, &TranslateOptions::default());
    state.metrics().record_rejected(
        tenant,
        Signal::Metrics,
        UNMAPPED,
        translated.rejected_points,
    );
    let series = std::mem::take(&mut translated.series);
    let outcome = if series.is_empty() {
        WriteOutcome::default()
    } else {
        state.write_metrics(tenant, series).await?
    };
    metrics_answer(&translated, &outcome)
}

/// [`export_metrics`] for a protobuf body: the fast path ([`metrics_fast`]) when it takes
/// the request, else the body decoded with prost and [`export_metrics`]. Both store and
/// answer the same.
async fn export_metrics_protobuf(
    state: &AppState,
    tenant: &TenantId,
    body: Bytes,
) -> Result<ExportMetricsServiceResponse, ApiError> {
    request_items::check(&body, false, request_items::POINTS, "data points")?;
    if let Ok(engine) = state.engine() {
        let t = tenant.clone();
        let body2 = body.clone();
        let fast = AppState::cpu_work(body.len(), move || {
            let opts = TranslateOptions::default();
            let fast = metrics_fast::translate(&body2, &opts, |keys| {
                engine
                    .known_series(&t, keys)
                    .unwrap_or_else(|_| vec![None; keys.len()])
            })?;
            let result =
                (!fast.is_empty()).then(|| fast.with_series(|s| engine.submit_keyed(&t, s)));
            Some((fast.translated, result))
        })
        .await?;
        if let Some((translated, result)) = fast {
            state.metrics().record_rejected(
                tenant,
                Signal::Metrics,
                UNMAPPED,
                translated.rejected_points,
            );
            let outcome = match result {
                None => WriteOutcome::default(),
                Some(result) => {
                    state
                        .finish_pending(tenant, Signal::Metrics, result)
                        .await?
                }
            };
            return metrics_answer(&translated, &outcome);
        }
    }
    let req = decode_metrics(&body, Encoding::Protobuf)?;
    drop(body);
    export_metrics(state, tenant, &req).await
}

/// The answer to a metrics export once written: `partial_success`, or retryable when the
/// tenant's ingest rate refused any sample (see [`export_metrics`]).
fn metrics_answer(
    translated: &Translated,
    outcome: &WriteOutcome,
) -> Result<ExportMetricsServiceResponse, ApiError> {
    let resp = partial_success(translated, outcome);
    if outcome.rejected.contains_key(&RejectReason::RateLimited) {
        let detail = resp
            .partial_success
            .map(|p| p.error_message)
            .unwrap_or_default();
        let submitted = outcome.rejected_total() + outcome.accepted + outcome.duplicates;
        return Err(rate_limited(
            "samples",
            outcome.rejected_total(),
            submitted,
            &detail,
        ));
    }
    Ok(resp)
}

/// The retryable answer to a write the tenant's ingest rate refused in part: 429 with
/// Retry-After over HTTP, `UNAVAILABLE` with `RetryInfo` over gRPC, instead of reporting
/// the refused items in `partial_success`, which OTLP clients must not retry. `detail` is
/// the `partial_success` message the request would have had.
fn rate_limited(unit: &str, refused: u64, submitted: u64, detail: &str) -> ApiError {
    ApiError::RateLimited {
        message: format!(
            "over the tenant's ingest rate, retry the request: {refused} of {submitted} {unit} \
             were not stored ({detail})"
        ),
        retry_after: RETRY_AFTER_SECS,
    }
}

/// Translates, writes and answers one traces export; shared by HTTP and gRPC. Over the
/// rate, the request fails as retryable, as for metrics; a retry stores the spans that
/// were stored again (spans are not deduplicated).
async fn export_traces(
    state: &AppState,
    tenant: &TenantId,
    mut batch: Batch<SpanRecord>,
) -> Result<Option<PartialSuccess>, ApiError> {
    count_refused(state, tenant, Signal::Traces, &batch);
    let records = std::mem::take(&mut batch.records);
    let engine = if records.is_empty() {
        SignalOutcome::default()
    } else {
        state.write_spans(tenant, records).await?
    };
    answer(SignalKind::Traces, &batch, engine)
}

/// [`export_traces`] for log records.
async fn export_logs(
    state: &AppState,
    tenant: &TenantId,
    mut batch: Batch<LogRecord>,
) -> Result<Option<PartialSuccess>, ApiError> {
    count_refused(state, tenant, Signal::Logs, &batch);
    let records = std::mem::take(&mut batch.records);
    let engine = if records.is_empty() {
        SignalOutcome::default()
    } else {
        state.write_logs(tenant, records).await?
    };
    answer(SignalKind::Logs, &batch, engine)
}

/// Counts what translation refused in the self-metrics (the engine's outcome is counted by
/// the write).
fn count_refused<R>(state: &AppState, tenant: &TenantId, signal: Signal, batch: &Batch<R>) {
    for (reason, n) in &batch.rejected.rejected {
        state
            .metrics()
            .record_rejected(tenant, signal, reason.as_str(), *n);
    }
}

/// The `partial_success` of a spans or logs export, or the retryable error when the rate
/// refused any record.
fn answer<R>(
    kind: SignalKind,
    batch: &Batch<R>,
    engine: SignalOutcome,
) -> Result<Option<PartialSuccess>, ApiError> {
    let outcome = batch.outcome(engine);
    let partial = signal_partial_success(kind, &outcome, batch.empty_values);
    if outcome.rejected.contains_key(&SignalReject::RateLimited) {
        let detail = partial.map(|p| p.message).unwrap_or_default();
        let refused = outcome.rejected_total();
        return Err(rate_limited(
            kind.unit(),
            refused,
            refused + outcome.accepted,
            &detail,
        ));
    }
    Ok(partial)
}

/// The encoding and the decoded message of an OTLP/HTTP request with its share of the
/// ingest memory budget, or the answer refusing it (415 for the content type; the body
/// limit, the budget, gzip and decoding errors in that encoding). The raw body is dropped
/// before the export runs.
async fn http_request<T>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    decode: fn(&[u8], Encoding) -> Result<T, OtlpError>,
    path: request_items::Path,
) -> Result<(Encoding, T, InflightPermit), Response> {
    let enc = encoding(headers).map_err(IntoResponse::into_response)?;
    let decoded = async {
        let (body, permit) = plain_body(state, headers, body, enc, path).await?;
        Ok::<_, ApiError>((decode(&body, enc)?, permit))
    }
    .await;
    decoded
        .map(|(req, permit)| (enc, req, permit))
        .map_err(|e| otlp_error(&e, enc))
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
    if enc == Encoding::Json {
        let (enc, req, _permit) = match http_request(
            &state,
            &headers,
            body,
            decode_metrics,
            request_items::POINTS,
        )
        .await
        {
            Ok(r) => r,
            Err(refused) => return refused,
        };
        let result = async {
            let resp = export_metrics(&state, &tenant, &req).await?;
            Ok::<_, ApiError>(encode_response(&resp, enc)?)
        }
        .await;
        return respond(result, enc);
    }
    let result = async {
        let (body, _permit) =
            plain_body(&state, &headers, body, enc, request_items::POINTS).await?;
        let resp = export_metrics_protobuf(&state, &tenant, body).await?;
        Ok::<_, ApiError>(encode_response(&resp, enc)?)
    }
    .await;
    respond(result, enc)
}

async fn http_traces(
    State(state): State<AppState>,
    WriteTenant(tenant): WriteTenant,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (enc, req, _permit) =
        match http_request(&state, &headers, body, decode_spans, request_items::SPANS).await {
            Ok(r) => r,
            Err(refused) => return refused,
        };
    let result = async {
        let partial = export_traces(&state, &tenant, req).await?;
        Ok::<_, ApiError>(encode_signal_response(
            SignalKind::Traces,
            partial.as_ref(),
            enc,
        )?)
    }
    .await;
    respond(result, enc)
}

async fn http_logs(
    State(state): State<AppState>,
    WriteTenant(tenant): WriteTenant,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (enc, req, _permit) =
        match http_request(&state, &headers, body, decode_logs, request_items::LOGS).await {
            Ok(r) => r,
            Err(refused) => return refused,
        };
    let result = async {
        let partial = export_logs(&state, &tenant, req).await?;
        Ok::<_, ApiError>(encode_signal_response(
            SignalKind::Logs,
            partial.as_ref(),
            enc,
        )?)
    }
    .await;
    respond(result, enc)
}

/// 200 with the encoded response, or the OTLP error.
fn respond(result: Result<Vec<u8>, ApiError>, enc: Encoding) -> Response {
    match result {
        Ok(bytes) => encoded(StatusCode::OK, enc, bytes),
        Err(e) => otlp_error(&e, enc),
    }
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
                let estimate = cost(
                    request.get_ref(),
                    request.get_ref().len(),
                    Encoding::Protobuf,
                    request_items::POINTS,
                );
                let _permit = grpc_permit(&state, &request, estimate).await?;
                let body = request.into_inner();
                Ok::<_, ApiError>(
                    export_metrics_protobuf(&state, &tenant, body)
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
/// the service admitted its message with before reading it (`grpc.rs`), resized; or, for
/// a request that came without one, a new admission.
async fn grpc_permit(
    state: &AppState,
    request: &tonic::Request<Bytes>,
    estimate: u64,
) -> Result<InflightPermit, ApiError> {
    match request
        .extensions()
        .get::<PermitSlot>()
        .and_then(PermitSlot::take)
    {
        Some(mut permit) => {
            state.resize(&mut permit, estimate).await?;
            Ok(permit)
        }
        None => state.admit(estimate).await,
    }
}

/// `TraceService/Export` and `LogsService/Export`: decoded, translated and stored as over
/// HTTP; the response is the same `partial_success`.
#[derive(Clone)]
struct GrpcSignal<const TRACES: bool>(AppState);

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
        let state = self.0.clone();
        async move {
            let tenant = grpc_tenant(&state, &request)?;
            let result = async {
                let body = request.get_ref();
                let path = if TRACES {
                    request_items::SPANS
                } else {
                    request_items::LOGS
                };
                let estimate = cost(body, body.len(), Encoding::Protobuf, path);
                let _permit = grpc_permit(&state, &request, estimate).await?;
                let (kind, partial) = if TRACES {
                    let batch = decode_spans(request.get_ref(), Encoding::Protobuf)?;
                    drop(request);
                    (
                        SignalKind::Traces,
                        export_traces(&state, &tenant, batch).await?,
                    )
                } else {
                    let batch = decode_logs(request.get_ref(), Encoding::Protobuf)?;
                    drop(request);
                    (SignalKind::Logs, export_logs(&state, &tenant, batch).await?)
                };
                Ok::<_, ApiError>(signal_response_protobuf(kind, partial.as_ref()))
            }
            .await;
            result.map_err(|e| e.to_grpc_status())
        }
    }
}
