//! VictoriaMetrics's import APIs, as its clients (vmctl, scripts) call them:
//! `POST /api/v1/import` (JSON lines, [`vm_json`]) and `POST /api/v1/import/prometheus`
//! (the text exposition format with timestamps; a sample without one is stored at the
//! time the request arrived). Both read the body as it streams in (gzip when
//! `Content-Encoding: gzip`), a batch of whole lines at a time, each batch written
//! through the server's write path (caps, `[relabel]`, counted in `/metrics`) before the
//! next is read, so a body of any size takes bounded memory.
//!
//! A line that does not parse is skipped, counted (`strata_rejected_samples_total{reason=
//! "malformed_line"}`, one per line) and named in the answer; the other lines are stored. Answers: 204
//! when every line was stored; 400 with the count and the first lines' reasons otherwise
//! (what was stored stays stored: a client must not resend the body); 413 for a line over
//! 16 MiB; 429 with Retry-After as soon as the tenant's ingest rate refuses a sample (the
//! import stops there: resend the body, what was stored comes back as duplicates); 503 as
//! for remote-write.
//!
//! `?backfill=true` (a Strata extension) writes with [`strata_engine::Engine::backfill`]:
//! history further behind a series' newest sample than the out-of-order window is placed
//! too, for an import into series that are already scraped or written live.

mod vm_json;

use std::io::Write;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt as _;
use strata_engine::{Sample, SeriesSamples, TenantId};

use crate::auth::WriteTenant;
use crate::http::error::ApiError;
use crate::http::params::request_params;
use crate::ingest::exposition::{self, Format};
use crate::runtime::ingest_handle::Ingest;
use crate::runtime::self_metrics::Signal;
use crate::runtime::state::AppState;

/// Decoded bytes gathered before a batch of whole lines is parsed and written.
const BATCH_BYTES: usize = 1 << 20;
/// The longest line taken.
const MAX_LINE: usize = 16 << 20;
/// Reasons named in a 400 answer; the rest are counted.
const REASONS_SHOWN: usize = 10;
/// The self-metrics reason of a line that does not parse.
const MALFORMED: &str = "malformed_line";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/import", post(json))
        .route("/api/v1/import/prometheus", post(text))
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Json,
    Text,
}

/// How a request's lines are read and written.
#[derive(Debug, Clone, Copy)]
struct Mode {
    kind: Kind,
    /// `?backfill=true`: past the out-of-order window too.
    backfill: bool,
}

impl Mode {
    /// The mode of a request to `uri` for lines of `kind`.
    fn of(kind: Kind, uri: &Uri, headers: &HeaderMap) -> Result<Mode, ApiError> {
        let params = request_params(&Method::GET, uri.query(), headers, &[])?;
        let mut backfill = false;
        for (_, v) in params.iter().filter(|(n, _)| n == "backfill") {
            backfill = match v.as_str() {
                "false" | "0" => false,
                "true" | "1" => true,
                v => {
                    return Err(ApiError::BadRequest(format!(
                        "backfill={v:?}: true or false"
                    )));
                }
            };
        }
        Ok(Mode { kind, backfill })
    }
}

async fn json(
    State(ingest): State<Ingest>,
    WriteTenant(tenant): WriteTenant,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match Mode::of(Kind::Json, &uri, &headers) {
        Ok(mode) => import(ingest, tenant, &headers, body, mode).await,
        Err(e) => e.into_response(),
    }
}

async fn text(
    State(ingest): State<Ingest>,
    WriteTenant(tenant): WriteTenant,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match Mode::of(Kind::Text, &uri, &headers) {
        Ok(mode) => import(ingest, tenant, &headers, body, mode).await,
        Err(e) => e.into_response(),
    }
}

/// What an import did so far.
#[derive(Debug, Default)]
struct Report {
    /// Lines read (the next line's number is this plus one).
    lines: u64,
    stored: u64,
    rejected: u64,
    bad_lines: u64,
    reasons: Vec<String>,
}

async fn import(
    ingest: Ingest,
    tenant: TenantId,
    headers: &HeaderMap,
    body: Body,
    mode: Mode,
) -> Response {
    let gzip = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let now = now_ms();
    let mut report = Report::default();
    match stream(&ingest, &tenant, body, gzip, mode, now, &mut report).await {
        Ok(()) => {}
        Err(e) => return e.into_response(),
    }
    ingest
        .metrics()
        .record_rejected(&tenant, Signal::Metrics, MALFORMED, report.bad_lines);
    if report.bad_lines == 0 && report.rejected == 0 {
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut msg = format!(
        "stored {} samples; {} lines did not parse; {} samples were refused",
        report.stored, report.bad_lines, report.rejected
    );
    for r in &report.reasons {
        msg.push_str("\n  ");
        msg.push_str(r);
    }
    (StatusCode::BAD_REQUEST, msg + "\n").into_response()
}

#[allow(clippy::too_many_arguments)]
async fn stream(
    ingest: &Ingest,
    tenant: &TenantId,
    body: Body,
    gzip: bool,
    mode: Mode,
    now: i64,
    report: &mut Report,
) -> Result<(), ApiError> {
    let mut decoder = gzip.then(|| flate2::write::GzDecoder::new(Vec::new()));
    let mut pending: Vec<u8> = Vec::new();
    let mut chunks = body.into_data_stream();
    let bad_gzip = |e: std::io::Error| ApiError::BadRequest(format!("gzip: {e}"));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        match &mut decoder {
            Some(d) => {
                d.write_all(&chunk).map_err(bad_gzip)?;
                pending.append(d.get_mut());
            }
            None => pending.extend_from_slice(&chunk),
        }
        while pending.len() >= BATCH_BYTES {
            let Some(cut) = pending.iter().rposition(|&b| b == b'\n') else {
                if pending.len() > MAX_LINE {
                    return Err(ApiError::PayloadTooLarge(format!(
                        "line {} is over {MAX_LINE} bytes",
                        report.lines + 1
                    )));
                }
                break;
            };
            let batch: Vec<u8> = pending.drain(..=cut).collect();
            write_batch(ingest, tenant, &batch, mode, now, report).await?;
        }
    }
    if let Some(d) = decoder {
        pending.extend(d.finish().map_err(bad_gzip)?);
    }
    if !pending.is_empty() {
        if pending.last() != Some(&b'\n') {
            pending.push(b'\n');
        }
        write_batch(ingest, tenant, &pending, mode, now, report).await?;
    }
    Ok(())
}

/// Parses the whole lines of `batch` and writes their series.
async fn write_batch(
    ingest: &Ingest,
    tenant: &TenantId,
    batch: &[u8],
    mode: Mode,
    now: i64,
    report: &mut Report,
) -> Result<(), ApiError> {
    let first = report.lines + 1;
    let (series, bad) = parse_batch(batch, mode.kind, now, first);
    report.lines += batch.iter().filter(|&&b| b == b'\n').count() as u64;
    report.bad_lines += bad.len() as u64;
    for (line, reason) in bad {
        if report.reasons.len() < REASONS_SHOWN {
            report.reasons.push(format!("line {line}: {reason}"));
        }
    }
    if series.is_empty() {
        return Ok(());
    }
    let outcome = match mode.backfill {
        true => ingest.write_metrics_history(tenant, series).await?,
        false => ingest.write_metrics(tenant, series).await?,
    };
    report.stored += outcome.accepted + outcome.duplicates;
    // Over the tenant's ingest rate: stop here with a 429, what was stored named; the
    // client sends the body again later (what was stored comes back as duplicates).
    if outcome
        .rejected
        .contains_key(&strata_engine::RejectReason::RateLimited)
    {
        return Err(ApiError::RateLimited {
            message: format!(
                "over the tenant's ingest rate at line {}: stored {} samples so far; send the body again later",
                first, report.stored
            ),
            retry_after: crate::http::error::RETRY_AFTER_SECS,
        });
    }
    report.rejected += outcome.rejected_total();
    if let Some(m) = outcome.messages.values().next()
        && report.reasons.len() < REASONS_SHOWN
    {
        report.reasons.push(m.clone());
    }
    Ok(())
}

/// The series of a batch of whole lines, and the lines refused (number, reason).
fn parse_batch(
    batch: &[u8],
    kind: Kind,
    now: i64,
    first: u64,
) -> (Vec<SeriesSamples>, Vec<(u64, String)>) {
    let mut series = Vec::new();
    let mut bad = Vec::new();
    match kind {
        Kind::Json => {
            for (i, line) in batch.split(|&b| b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match vm_json::parse_line(line) {
                    Ok(s) if !s.samples.is_empty() => series.push(s),
                    Ok(_) => {}
                    Err(e) => bad.push((first + i as u64, e)),
                }
            }
        }
        Kind::Text => match exposition::parse(batch, Format::Text) {
            Ok(parsed) => series.extend(parsed.samples.into_iter().map(|s| text_series(s, now))),
            // Some line is wrong: each line on its own, to store the others.
            Err(_) => {
                for (i, line) in batch.split(|&b| b == b'\n').enumerate() {
                    if line.iter().all(u8::is_ascii_whitespace) || line.first() == Some(&b'#') {
                        continue;
                    }
                    match exposition::parse(line, Format::Text) {
                        Ok(p) => series.extend(p.samples.into_iter().map(|s| text_series(s, now))),
                        Err(e) => bad.push((first + i as u64, e.reason)),
                    }
                }
            }
        },
    }
    (series, bad)
}

fn text_series(s: exposition::ParsedSample, now: i64) -> SeriesSamples {
    let mut labels = Vec::with_capacity(s.labels.len() + 1);
    labels.push(("__name__".to_owned(), s.name));
    // An empty value is no label, as Prometheus stores it.
    labels.extend(s.labels.into_iter().filter(|(_, v)| !v.is_empty()));
    SeriesSamples {
        labels,
        samples: vec![Sample {
            ts: s.timestamp_ms.unwrap_or(now),
            value: s.value,
        }],
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
