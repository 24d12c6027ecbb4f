//! OTLP/HTTP: `POST /v1/metrics`, `/v1/traces` and `/v1/logs` (protobuf or JSON, gzip or
//! identity), read within the body limit and the ingest memory budget, exported
//! ([`super::export`]) and answered in the request's encoding, errors included (a
//! `google.rpc.Status`, as the OTLP specification asks).

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use prost::Message;
use prost::bytes::Bytes;

use super::export::{cost, export_logs, export_metrics, export_metrics_protobuf, export_traces};
use super::request_items;
use super::{
    Encoding, OtlpError, SignalKind, decode_logs, decode_metrics, decode_spans, encode_response,
    encode_signal_response, inflate_charged,
};
use crate::auth::WriteTenant;
use crate::http::error::ApiError;
use crate::runtime::inflight::InflightPermit;
use crate::runtime::ingest_handle::Ingest;
use crate::runtime::state::AppState;

/// The OTLP/HTTP routes, for the router (`router.rs`) to merge.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/metrics", post(http_metrics))
        .route("/v1/traces", post(http_traces))
        .route("/v1/logs", post(http_logs))
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
/// budget: admitted on its declared length before it is read, charged for each inflated
/// buffer before it is allocated ([`inflate_charged`]), then set to the estimate of what
/// it decodes to ([`super::export::cost`]: the records along `path` it holds).
async fn plain_body(
    ingest: &Ingest,
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
    let (raw, mut permit) = ingest.read_ingest_body(headers, body, compressed).await?;
    let limit = usize::try_from(ingest.max_body_bytes()).unwrap_or(usize::MAX);
    let inflated = inflate_charged(ingest, &mut permit, &raw, ce, limit).await?;
    let wire = raw.len();
    let body = inflated.map_or(raw, Bytes::from);
    ingest
        .resize(&mut permit, cost(&body, wire, enc, path))
        .await?;
    Ok((body, permit))
}

/// The encoding and the decoded message of an OTLP/HTTP request with its share of the
/// ingest memory budget, or the answer refusing it (415 for the content type; the body
/// limit, the budget, gzip and decoding errors in that encoding). The raw body is dropped
/// before the export runs.
async fn http_request<T>(
    ingest: &Ingest,
    headers: &HeaderMap,
    body: Body,
    decode: fn(&[u8], Encoding) -> Result<T, OtlpError>,
    path: request_items::Path,
) -> Result<(Encoding, T, InflightPermit), Response> {
    let enc = encoding(headers).map_err(IntoResponse::into_response)?;
    let decoded = async {
        let (body, permit) = plain_body(ingest, headers, body, enc, path).await?;
        Ok::<_, ApiError>((decode(&body, enc)?, permit))
    }
    .await;
    decoded
        .map(|(req, permit)| (enc, req, permit))
        .map_err(|e| otlp_error(&e, enc))
}

async fn http_metrics(
    State(ingest): State<Ingest>,
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
            &ingest,
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
            let resp = export_metrics(&ingest, &tenant, &req).await?;
            Ok::<_, ApiError>(encode_response(&resp, enc)?)
        }
        .await;
        return respond(result, enc);
    }
    let result = async {
        let (body, _permit) =
            plain_body(&ingest, &headers, body, enc, request_items::POINTS).await?;
        let resp = export_metrics_protobuf(&ingest, &tenant, body).await?;
        Ok::<_, ApiError>(encode_response(&resp, enc)?)
    }
    .await;
    respond(result, enc)
}

async fn http_traces(
    State(ingest): State<Ingest>,
    WriteTenant(tenant): WriteTenant,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (enc, req, _permit) =
        match http_request(&ingest, &headers, body, decode_spans, request_items::SPANS).await {
            Ok(r) => r,
            Err(refused) => return refused,
        };
    let result = async {
        let partial = export_traces(&ingest, &tenant, req).await?;
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
    State(ingest): State<Ingest>,
    WriteTenant(tenant): WriteTenant,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (enc, req, _permit) =
        match http_request(&ingest, &headers, body, decode_logs, request_items::LOGS).await {
            Ok(r) => r,
            Err(refused) => return refused,
        };
    let result = async {
        let partial = export_logs(&ingest, &tenant, req).await?;
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
