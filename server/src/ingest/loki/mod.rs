//! Loki's push API: `POST /loki/api/v1/push` and its legacy alias `/api/prom/push`, as
//! Promtail, Grafana Alloy and Loki's client libraries send it. Each entry becomes one
//! engine [`strata_engine::LogRecord`] in the tenant's logs (`docs/logql.md`, "Streams and
//! labels"), written through the same engine call, WAL durability and self-metrics as
//! OTLP log records.
//!
//! Bodies: `application/x-protobuf` (or no Content-Type), a snappy block-compressed
//! `logproto.PushRequest` ([`proto`]); `application/json` ([`json`]), optionally
//! `Content-Encoding: gzip`. Both are read within `server.max_body_bytes` and the ingest
//! memory budget with remote-write's and OTLP's helpers: a snappy header is checked before
//! its buffer is allocated, gzip is inflated by OTLP's bomb-safe [`inflate_charged`], and
//! the entries are counted before anything is decoded.
//!
//! Answers: 204 when every entry was stored; 400 when a stream's labels are invalid
//! ([`labels`]) or the engine refused entries (retention, no timestamp), with the counts
//! and first message per reason (the valid entries are stored); 429 with Retry-After over
//! the tenant's ingest rate; 422 for a request without streams, as Loki; 413, 415 and 400
//! for bodies too large, of another type or malformed, with nothing stored.

mod error;
mod json;
mod labels;
mod proto;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use prost::bytes::Bytes;
use strata_engine::{LogRecord, SignalOutcome, SignalReject};

use self::error::LokiError;
use self::labels::{PushStream, Stream, label_set, scope};
use crate::auth::WriteTenant;
use crate::http::error::{ApiError, RETRY_AFTER_SECS};
use crate::ingest::otlp::inflate_charged;
use crate::ingest::otlp::request_items::{self, MAX_RECORDS};
use crate::ingest::remote_write::{snappy_block, snappy_len};
use crate::runtime::inflight::request_cost;
use crate::runtime::ingest_handle::{Ingest, cpu_work};
use crate::runtime::self_metrics::Signal;
use crate::runtime::state::AppState;

/// The push routes, for the router (`router.rs`) to merge.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/loki/api/v1/push", post(push))
        .route("/api/prom/push", post(push))
}

/// What the 400 for a protobuf body that is not snappy says Loki's push needs.
const NEEDS_SNAPPY: &str = "Loki's protobuf push is snappy block-compressed, as Promtail sends it";

/// `PushRequest.streams` → `StreamAdapter.entries`: where [`request_items::check`] counts.
const ENTRIES: request_items::Path = &[&[1], &[2]];

/// A push body's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A snappy-compressed `logproto.PushRequest`.
    Protobuf,
    /// Loki's JSON.
    Json,
}

/// The body's type, and whether it is gzipped, from its headers (415 for what Loki's push
/// does not take). No Content-Type is protobuf, as in Loki; `Content-Encoding: snappy` is
/// what a protobuf body is anyway (Loki ignores it too).
fn framing(headers: &HeaderMap) -> Result<(Kind, bool), LokiError> {
    let text = |name| headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let ct = text(header::CONTENT_TYPE).unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    let kind = if media.is_empty() || media.eq_ignore_ascii_case("application/x-protobuf") {
        Kind::Protobuf
    } else if media.eq_ignore_ascii_case("application/json") {
        Kind::Json
    } else {
        return Err(LokiError::UnsupportedContentType(ct.to_owned()));
    };
    let ce = text(header::CONTENT_ENCODING).unwrap_or("").trim();
    let gzip = ce.eq_ignore_ascii_case("gzip") || ce.eq_ignore_ascii_case("x-gzip");
    let plain = ce.is_empty() || ce.eq_ignore_ascii_case("identity");
    match kind {
        _ if gzip || plain => Ok((kind, gzip)),
        Kind::Protobuf if ce.eq_ignore_ascii_case("snappy") => Ok((kind, false)),
        Kind::Protobuf => Err(LokiError::UnsupportedContentEncoding {
            encoding: ce.to_owned(),
            content_type: "protobuf",
            hint: "the body is snappy block-compressed; gzip around it is taken too",
        }),
        Kind::Json => Err(LokiError::UnsupportedContentEncoding {
            encoding: ce.to_owned(),
            content_type: "JSON",
            hint: "use gzip or none",
        }),
    }
}

/// The handler of `POST /loki/api/v1/push` and `/api/prom/push`.
async fn push(
    State(ingest): State<Ingest>,
    WriteTenant(tenant): WriteTenant,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let (kind, gzip) = framing(&headers)?;
    let compressed = gzip || kind == Kind::Protobuf;
    // Admitted into the ingest memory budget on its declared length, then charged for each
    // buffer before it is allocated, then for what it decodes to.
    let (wire, mut permit) = ingest.read_ingest_body(&headers, body, compressed).await?;
    let max = ingest.max_body_bytes();
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let encoding = gzip.then_some("gzip");
    let wire_len = wire.len() as u64;
    let body = match inflate_charged(&ingest, &mut permit, &wire, encoding, limit).await? {
        Some(inflated) => {
            drop(wire);
            Bytes::from(inflated)
        }
        None => wire,
    };
    let plain = match kind {
        Kind::Json => body,
        Kind::Protobuf => {
            // A header over the limit (a lie or not) is refused before its buffer exists.
            let size = snappy_len(&body, max, NEEDS_SNAPPY)?;
            let cost = request_cost(wire_len, size as u64, true, 0);
            ingest.resize_requeued(&mut permit, cost).await?;
            let raw = cpu_work(size, move || snappy_block(&body, max, NEEDS_SNAPPY));
            Bytes::from(raw.await??)
        }
    };
    let entries = match kind {
        Kind::Json => json::count_entries(&plain),
        Kind::Protobuf => {
            request_items::check(&plain, false, ENTRIES, "entries")?.unwrap_or_default()
        }
    };
    if entries > MAX_RECORDS {
        let (count, limit) = (entries, MAX_RECORDS);
        return Err(LokiError::TooManyEntries { count, limit }.into());
    }
    let cost = request_cost(wire_len, plain.len() as u64, compressed, entries as u64);
    ingest.resize(&mut permit, cost).await?;
    let observed_ns = now_ns();
    let mut mapped = cpu_work(plain.len(), move || {
        let streams = match kind {
            Kind::Json => json::decode(&plain)?,
            Kind::Protobuf => proto::decode(&plain)?,
        };
        if streams.is_empty() {
            return Err(LokiError::NoStreams);
        }
        Ok(map_streams(streams, observed_ns))
    })
    .await??;
    for (reason, r) in &mapped.rejected {
        ingest
            .metrics()
            .record_rejected(&tenant, Signal::Logs, reason, r.entries);
    }
    let records = std::mem::take(&mut mapped.records);
    let engine = if records.is_empty() {
        SignalOutcome::default()
    } else {
        ingest.write_logs(&tenant, records).await?
    };
    answer(&mapped, &engine)
}

/// The entries of invalid streams for one reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Rejected {
    /// Entries rejected.
    entries: u64,
    /// Streams they were in.
    streams: u64,
    /// The first stream's message.
    first: String,
}

/// A push request's records, and what its invalid streams held.
#[derive(Debug, Default)]
struct Mapped {
    /// The records of the valid streams, in request order.
    records: Vec<LogRecord>,
    /// Invalid streams by reason ([`LokiError::reason`]).
    rejected: BTreeMap<&'static str, Rejected>,
    /// Entries in the request.
    entries: u64,
}

/// The records of one request's streams, received at `observed_ns`: each valid stream's
/// entries mapped by [`Stream`], each invalid one's counted by reason.
fn map_streams(streams: Vec<PushStream>, observed_ns: i64) -> Mapped {
    let scope = scope();
    let mut out = Mapped::default();
    out.records
        .reserve(streams.iter().map(|s| s.entries.len()).sum());
    for s in streams {
        let n = s.entries.len() as u64;
        out.entries += n;
        match label_set(s.labels) {
            Ok(labels) => {
                let stream = Stream::new(labels);
                for e in s.entries {
                    out.records.push(stream.record(e, observed_ns, &scope));
                }
            }
            Err(e) => {
                let r = out.rejected.entry(e.reason()).or_default();
                if r.streams == 0 {
                    r.first = e.to_string();
                }
                r.entries += n;
                r.streams += 1;
            }
        }
    }
    out
}

/// Now, in nanoseconds since the Unix epoch: every entry's `observed_time`.
fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// 204 when every entry was stored; otherwise what was stored and rejected, by reason with
/// the first message: 429 with Retry-After when the tenant's rate refused any, else 400.
fn answer(mapped: &Mapped, engine: &SignalOutcome) -> Result<StatusCode, ApiError> {
    let invalid_streams: u64 = mapped.rejected.values().map(|r| r.streams).sum();
    if invalid_streams == 0 && engine.rejected_total() == 0 {
        return Ok(StatusCode::NO_CONTENT);
    }
    let invalid: u64 = mapped.rejected.values().map(|r| r.entries).sum();
    let mut m = format!(
        "stored {} of {} entries; rejected {}:",
        engine.accepted,
        mapped.entries,
        invalid + engine.rejected_total()
    );
    for (reason, r) in &mapped.rejected {
        let streams = if r.streams == 1 { "stream" } else { "streams" };
        let _ = write!(
            m,
            " {reason} {} in {} {streams} (first: {});",
            r.entries, r.streams, r.first
        );
    }
    for (reason, n) in &engine.rejected {
        let _ = write!(m, " {reason} {n}");
        if let Some(first) = engine.messages.get(reason) {
            let _ = write!(m, " (first: {first})");
        }
        m.push(';');
    }
    m.pop();
    if engine.rejected.contains_key(&SignalReject::RateLimited) {
        return Err(ApiError::RateLimited {
            message: format!(
                "over the tenant's ingest rate, retry the request later (its stored entries \
                 will be stored again): {m}"
            ),
            retry_after: RETRY_AFTER_SECS,
        });
    }
    Err(ApiError::BadRequest(format!(
        "{m} (the valid entries are stored: do not resend the request)"
    )))
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
