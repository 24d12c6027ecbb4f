//! Prometheus's remote read (`POST /api/v1/read`): what Prometheus's `remote_read`, vmctl
//! and Grafana's remote-read users send. A snappy-compressed `ReadRequest` of queries
//! (a time range and label matchers each) is answered with every float sample of the
//! matching series in the range, staleness markers included (the reader's PromQL needs
//! them), as the client prefers: `STREAMED_XOR_CHUNKS` (frames of at most one series,
//! chunks of 120 samples in Prometheus's XOR encoding, each frame a varint length, its
//! CRC-32C and a `ChunkedReadResponse`), or `SAMPLES` (one snappy `ReadResponse`).
//! Native histograms are not sent.

pub(crate) mod proto;
pub(crate) mod xor;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use prost::Message as _;
use strata_engine::{Engine, MatchOp, Matcher, SeriesData, TenantId};

use crate::auth::ReadTenant;
use crate::http::error::ApiError;
use crate::runtime::queries::Queries;
use crate::runtime::state::AppState;
use proto::{
    Chunk, ChunkedReadResponse, ChunkedSeries, Label, QueryResult, ReadRequest, ReadResponse,
    Sample, TimeSeries,
};

/// Samples per XOR chunk, as Prometheus cuts them.
const CHUNK_SAMPLES: usize = 120;
/// The largest request body taken (a read request is small).
const MAX_REQUEST: usize = 4 << 20;
const STREAMED: i32 = 1;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/read", post(read))
}

async fn read(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    _headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match decode(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let engine = match queries.engine() {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    let streamed = request
        .accepted_response_types
        .first()
        .is_some_and(|&t| t == STREAMED);
    let answered =
        tokio::task::spawn_blocking(move || answer(&engine, &tenant, &request, streamed))
            .await
            .map_err(|e| ApiError::Internal(format!("read task failed: {e}")));
    match answered {
        Ok(Ok(r)) => r,
        Ok(Err(e)) | Err(e) => e.into_response(),
    }
}

fn decode(body: &[u8]) -> Result<ReadRequest, ApiError> {
    let len = snap::raw::decompress_len(body)
        .map_err(|e| ApiError::BadRequest(format!("snappy: {e}")))?;
    if len > MAX_REQUEST {
        return Err(ApiError::PayloadTooLarge(format!(
            "a read request of {len} bytes (at most {MAX_REQUEST})"
        )));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| ApiError::BadRequest(format!("snappy: {e}")))?;
    ReadRequest::decode(raw.as_slice())
        .map_err(|e| ApiError::BadRequest(format!("not a ReadRequest: {e}")))
}

fn answer(
    engine: &Engine,
    tenant: &TenantId,
    req: &ReadRequest,
    streamed: bool,
) -> Result<Response, ApiError> {
    let mut results: Vec<Vec<SeriesData>> = Vec::with_capacity(req.queries.len());
    for q in &req.queries {
        let matchers = q
            .matchers
            .iter()
            .map(|m| {
                let op = match m.r#type {
                    0 => MatchOp::Equal,
                    1 => MatchOp::NotEqual,
                    2 => MatchOp::Regex,
                    3 => MatchOp::NotRegex,
                    t => return Err(ApiError::BadRequest(format!("matcher type {t}"))),
                };
                Matcher::new(&m.name, op, &m.value)
                    .map_err(|e| ApiError::BadRequest(format!("matcher {}: {e}", m.name)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let series = engine
            .select(tenant, &matchers, q.start_timestamp_ms, q.end_timestamp_ms)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        results.push(series);
    }
    Ok(if streamed {
        chunked(results)
    } else {
        samples(results)
    })
}

fn labels(s: &SeriesData) -> Vec<Label> {
    s.labels
        .iter()
        .map(|l| Label {
            name: l.name.clone(),
            value: l.value.clone(),
        })
        .collect()
}

fn samples(results: Vec<Vec<SeriesData>>) -> Response {
    let resp = ReadResponse {
        results: results
            .iter()
            .map(|series| QueryResult {
                timeseries: series
                    .iter()
                    .filter(|s| !s.samples.is_empty())
                    .map(|s| TimeSeries {
                        labels: labels(s),
                        samples: s
                            .samples
                            .iter()
                            .map(|p| Sample {
                                value: p.value,
                                timestamp: p.ts,
                            })
                            .collect(),
                        histograms: Vec::new(),
                    })
                    .collect(),
            })
            .collect(),
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&resp.encode_to_vec())
        .unwrap_or_default();
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/x-protobuf"),
    );
    h.insert(
        header::CONTENT_ENCODING,
        header::HeaderValue::from_static("snappy"),
    );
    r
}

fn chunked(results: Vec<Vec<SeriesData>>) -> Response {
    let mut body = Vec::new();
    for (i, series) in results.iter().enumerate() {
        for s in series.iter().filter(|s| !s.samples.is_empty()) {
            let points: Vec<(i64, f64)> = s.samples.iter().map(|p| (p.ts, p.value)).collect();
            let chunks = points
                .chunks(CHUNK_SAMPLES)
                .map(|c| Chunk {
                    min_time_ms: c[0].0,
                    max_time_ms: c[c.len() - 1].0,
                    r#type: 1,
                    data: xor::encode(c),
                })
                .collect();
            let frame = ChunkedReadResponse {
                chunked_series: vec![ChunkedSeries {
                    labels: labels(s),
                    chunks,
                }],
                query_index: i as i64,
            }
            .encode_to_vec();
            prost::encoding::encode_varint(frame.len() as u64, &mut body);
            body.extend_from_slice(&crc32c::crc32c(&frame).to_be_bytes());
            body.extend_from_slice(&frame);
        }
    }
    let mut r = (StatusCode::OK, Body::from(body)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(
            "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse",
        ),
    );
    r
}
