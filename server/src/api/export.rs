//! `GET|POST /api/v1/export`: every sample of the series `match[]` selects within `start`
//! and `end`, as VictoriaMetrics's JSON lines (what `/api/v1/import` here and in
//! VictoriaMetrics takes back): `{"metric":{...},"values":[...],"timestamps":[...]}`.
//!
//! The answer streams: the range is read an hour at a time (clamped to the data the tenant
//! holds), each hour's series written as lines before the next is read, so an export of
//! any size takes one hour's series in memory. A series appears on one line per hour it
//! has samples in. Staleness markers are left out; NaN and infinities are written as the
//! strings `"NaN"`, `"+Inf"` and `"-Inf"`. Where a downsampled tier holds the data, the
//! last sample of each interval is exported ([retention.md](../../docs/retention.md)).

use std::fmt::Write as _;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use strata_engine::{Engine, Matcher, SeriesData, TenantId};
use strata_query::prom_api;

use crate::auth::ReadTenant;
use crate::http::params::request_params;
use crate::runtime::queries::Queries;
use crate::runtime::state::AppState;

/// The stretch read at a time.
const STEP_MS: i64 = 3_600_000;
/// Stale NaN, left out of exports.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/export", get(export).post(export))
}

async fn export(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match request_params(&method, uri.query(), &headers, &body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let selectors: Vec<String> = params
        .iter()
        .filter(|(n, _)| n == "match[]")
        .map(|(_, v)| v.clone())
        .collect();
    if selectors.is_empty() {
        return bad(
            "missing `match[]`: at least one series selector, e.g. match[]={__name__!=\"\"}",
        );
    }
    let sets = match prom_api::series_selectors(&selectors) {
        Ok(s) => s,
        Err(e) => return bad(&e.to_string()),
    };
    let (start, end) = match prom_api::time_window(&params) {
        Ok(w) => w,
        Err(e) => return bad(&e.to_string()),
    };
    let engine = match queries.engine() {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    let Some((start, end)) = clamp(&engine, &tenant, start, end) else {
        return lines(Body::empty());
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut from = start;
        while from <= end {
            let to = from.saturating_add(STEP_MS - 1).min(end);
            let mut out = String::new();
            match read(&engine, &tenant, &sets, from, to) {
                Ok(series) => {
                    for s in &series {
                        line(&mut out, s);
                    }
                }
                Err(e) => {
                    // The answer has started: the body ends with the error instead.
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            }
            if !out.is_empty() && tx.blocking_send(Ok(Bytes::from(out))).is_err() {
                return; // the client went away
            }
            from = to.saturating_add(1);
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    lines(Body::from_stream(stream))
}

/// The series of every selector in `[from, to]`, each once.
fn read(
    engine: &Engine,
    tenant: &TenantId,
    sets: &[Vec<Matcher>],
    from: i64,
    to: i64,
) -> strata_engine::Result<Vec<SeriesData>> {
    let mut out: Vec<SeriesData> = Vec::new();
    for set in sets {
        for s in engine.select(tenant, set, from, to)? {
            if !out.iter().any(|o| o.labels == s.labels) {
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// `[start, end]` cut to what the tenant may hold: from its oldest partition (raw or tier)
/// or its oldest sample still in memory (history backfilled or imported and not flushed
/// yet) to an hour from now; `None` when nothing is left.
fn clamp(engine: &Engine, tenant: &TenantId, start: i64, end: i64) -> Option<(i64, i64)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let oldest = engine
        .disk_partitions(tenant)
        .iter()
        .filter(|s| s.signal.starts_with("metrics"))
        .flat_map(|s| s.partitions.first().map(|p| p.start))
        .min()
        .unwrap_or(now)
        .min(engine.head_oldest_ms(tenant).unwrap_or(now))
        .min(now - STEP_MS * 24);
    let (start, end) = (start.max(oldest), end.min(now + STEP_MS));
    (start <= end).then_some((start, end))
}

/// One series as a JSON line.
fn line(out: &mut String, s: &SeriesData) {
    let samples: Vec<_> = s
        .samples
        .iter()
        .filter(|p| p.value.to_bits() != STALE_NAN)
        .collect();
    if samples.is_empty() {
        return;
    }
    out.push_str("{\"metric\":{");
    for (i, l) in s.labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(out, &l.name);
        out.push(':');
        json_string(out, &l.value);
    }
    out.push_str("},\"values\":[");
    for (i, p) in samples.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match p.value {
            v if v.is_nan() => out.push_str("\"NaN\""),
            v if v == f64::INFINITY => out.push_str("\"+Inf\""),
            v if v == f64::NEG_INFINITY => out.push_str("\"-Inf\""),
            v => {
                let _ = write!(out, "{v}");
            }
        }
    }
    out.push_str("],\"timestamps\":[");
    for (i, p) in samples.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}", p.ts);
    }
    out.push_str("]}\n");
}

fn json_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::String(s.to_owned()).to_string());
}

fn lines(body: Body) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/stream+json"),
    );
    r
}

fn bad(msg: &str) -> Response {
    let body = serde_json::json!({ "status": "error", "errorType": "bad_data", "error": msg });
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
