//! Trace by id: `GET /api/traces/{id}` (v1: a `Trace`, `{"batches":[...]}` in JSON) and
//! `GET /api/v2/traces/{id}` (a `TraceByIDResponse`, `{"trace":{"resourceSpans":[...]}}`),
//! with optional `start`/`end` in Unix seconds. `Accept: application/protobuf` gets the
//! protobuf message (what Grafana asks for), anything else Tempo's JSON ([`super::json`]).
//! The spans come from the engine's bloom-filtered lookup, as the Jaeger API's do; a trace
//! with no spans (in the range) is a 404, after which Grafana retries v1 and shows "not
//! found". Tempo's v2 filter parameters (`q`, `span_pruning`, ...) are ignored: the whole
//! trace is returned, with status COMPLETE.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, TracesData};
use prost::Message;

use super::params::Params;
use super::{Answer, Error, bad, internal, json_response};
use crate::auth::ReadTenant;
use crate::runtime::queries::Queries;

/// Tempo's `TraceByIDResponse` on the wire: `trace` (1), `status` (3, 0 = COMPLETE),
/// `message` (4). `metrics` (2) is left out: we have no inspected-bytes count to report.
#[derive(Clone, PartialEq, prost::Message)]
struct TraceByIdResponse {
    #[prost(message, optional, tag = "1")]
    trace: Option<TracesData>,
    #[prost(int32, tag = "3")]
    status: i32,
    #[prost(string, tag = "4")]
    message: String,
}

/// A trace id in hex as Tempo takes it: 1 to 32 digits, left-padded with zeros.
pub(crate) fn parse_trace_id(text: &str) -> Result<[u8; 16], Error> {
    let invalid = || bad(format!("invalid trace id {text:?}: 1 to 32 hex digits"));
    if text.is_empty() || text.len() > 32 {
        return Err(invalid());
    }
    let mut id = [0u8; 16];
    hex::decode_to_slice(format!("{text:0>32}"), &mut id).map_err(|_| invalid())?;
    Ok(id)
}

/// Whether the client asked for protobuf (Tempo: `Accept` contains `application/protobuf`).
fn wants_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/protobuf"))
}

/// The OTLP resource spans of trace `id` for the request's range; 404 when it has none.
async fn find(
    queries: &Queries,
    tenant: strata_engine::TenantId,
    trace_id: &str,
    raw: Option<String>,
) -> Result<Vec<ResourceSpans>, Error> {
    let id = parse_trace_id(trace_id)?;
    let p = Params::parse(raw.as_deref())?;
    let (from, to) = match (p.seconds("start")?, p.seconds("end")?) {
        (Some(s), Some(e)) if s > 0 && e > 0 => p.range(0, 0)?,
        _ => (i64::MIN, i64::MAX),
    };
    let engine = queries.engine()?;
    let spans = tokio::task::spawn_blocking(move || engine.find_trace(&tenant, id, from, to))
        .await
        .map_err(|e| internal("trace lookup task failed", e))?
        .map_err(|e| internal("reading traces", e))?;
    if spans.is_empty() {
        return Err(Error::NotFound);
    }
    Ok(super::otlp::resource_spans(&spans))
}

fn protobuf(bytes: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/protobuf")],
        bytes,
    )
        .into_response()
}

/// `GET /api/traces/{id}`.
pub(crate) async fn v1(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    Path(trace_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let rs = find(&queries, tenant, &trace_id, raw).await?;
    Ok(if wants_protobuf(&headers) {
        protobuf(TracesData { resource_spans: rs }.encode_to_vec())
    } else {
        json_response(&super::json::trace_v1(&rs))
    })
}

/// `GET /api/v2/traces/{id}`.
pub(crate) async fn v2(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    Path(trace_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let rs = find(&queries, tenant, &trace_id, raw).await?;
    Ok(if wants_protobuf(&headers) {
        protobuf(
            TraceByIdResponse {
                trace: Some(TracesData { resource_spans: rs }),
                status: 0,
                message: String::new(),
            }
            .encode_to_vec(),
        )
    } else {
        json_response(&super::json::trace_v2(&rs))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_are_left_padded_hex() {
        let id = parse_trace_id("abc").expect("short id");
        assert_eq!((id[14], id[15]), (0x0a, 0xbc));
        assert!(parse_trace_id("").is_err());
        assert!(parse_trace_id("xyz").is_err());
        assert!(parse_trace_id(&"a".repeat(33)).is_err());
    }

    #[test]
    fn accept_picks_protobuf() {
        let mut h = HeaderMap::new();
        assert!(!wants_protobuf(&h));
        h.insert(
            header::ACCEPT,
            "application/protobuf".parse().expect("value"),
        );
        assert!(wants_protobuf(&h));
        h.insert(header::ACCEPT, "application/json".parse().expect("value"));
        assert!(!wants_protobuf(&h));
    }
}
