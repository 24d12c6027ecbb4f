//! `GET /api/v1/logs`: log search for the common case, without writing SQL. Parameters:
//!
//! | parameter | meaning |
//! |---|---|
//! | `service` | `service_name` equals it |
//! | `start`, `end` | time range, RFC 3339 or Unix seconds (default: the last hour) |
//! | `severity` | at least this severity: a number 1-24 or a name (`trace`, `debug`, `info`, `warn`, `error`, `fatal`) |
//! | `contains` | the body contains this text (case-sensitive) |
//! | `regex` | the body matches this regular expression (Rust `regex` syntax) |
//! | `trace_id` | 32 hex digits: records with that trace id; when there are none, Loki-pushed records whose structured metadata `trace_id`, `traceID` or `traceId` is that id (or its last 16 digits, a 64-bit id) |
//! | `limit` | at most this many records, newest first (default 100, at most 10,000) |
//!
//! The answer is `{"status":"success","data":[...]}`, one JSON object per record in the
//! `/api/v1/sql` JSON row encoding (docs/sql.md): times in RFC 3339, attributes as objects,
//! ids in hex. It runs as SQL over the tenant's `logs` table, so it gets that table's time
//! pruning, statistics and the trace id bloom filter.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use strata_engine::{Clock, SystemClock, TenantId};
use strata_query::sql::{self, SqlStream};

use crate::api::sql::output::{Format, ResultWriter};
use crate::api::sql::sql_error;
use crate::auth::ReadTenant;
use crate::http::error::ApiError;
use crate::runtime::queries::Queries;
use crate::runtime::state::AppState;

/// The route, for the router (`router.rs`) to merge.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/logs", get(search))
}

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 10_000;
const DEFAULT_RANGE_NS: i64 = 3_600 * 1_000_000_000;

/// A parsed search.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct LogSearch {
    service: Option<String>,
    start_ns: i64,
    end_ns: i64,
    min_severity: Option<i32>,
    contains: Option<String>,
    regex: Option<String>,
    trace_id: Option<String>,
    /// Look for `trace_id` in Loki pushes' structured metadata instead of the trace id
    /// column (the second try, when the column found nothing).
    trace_in_metadata: bool,
    limit: usize,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// RFC 3339 or Unix seconds (with a fraction), as nanoseconds.
fn time_ns(name: &str, text: &str) -> Result<i64, ApiError> {
    let bad = || ApiError::BadRequest(format!("invalid {name} {text:?}: RFC 3339 or Unix seconds"));
    if let Ok(secs) = text.parse::<f64>() {
        let ns = secs * 1e9;
        return if ns.is_finite() && ns.abs() < i64::MAX as f64 {
            Ok(ns as i64)
        } else {
            Err(bad())
        };
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(bad)
}

/// The lowest severity number of a level name or number.
fn severity(text: &str) -> Result<i32, ApiError> {
    if let Ok(n) = text.parse::<i32>()
        && (1..=24).contains(&n)
    {
        return Ok(n);
    }
    match text.to_ascii_lowercase().as_str() {
        "trace" => Ok(1),
        "debug" => Ok(5),
        "info" => Ok(9),
        "warn" | "warning" => Ok(13),
        "error" => Ok(17),
        "fatal" => Ok(21),
        _ => Err(ApiError::BadRequest(format!(
            "invalid severity {text:?}: 1-24 or trace, debug, info, warn, error, fatal"
        ))),
    }
}

pub(crate) fn parse(pairs: &[(String, String)], now_ns: i64) -> Result<LogSearch, ApiError> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let end_ns = get("end").map_or(Ok(now_ns), |t| time_ns("end", t))?;
    let start_ns = get("start").map_or(Ok(end_ns.saturating_sub(DEFAULT_RANGE_NS)), |t| {
        time_ns("start", t)
    })?;
    if start_ns > end_ns {
        return Err(ApiError::BadRequest("start is after end".into()));
    }
    let trace_id = match get("trace_id") {
        Some(t) if t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(t.to_ascii_lowercase())
        }
        Some(t) => {
            return Err(ApiError::BadRequest(format!(
                "invalid trace_id {t:?}: 32 hex digits"
            )));
        }
        None => None,
    };
    if let Some(re) = get("regex") {
        regex_syntax_check(re)?;
    }
    let limit = match get("limit") {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| ApiError::BadRequest(format!("invalid limit {l:?}")))?
            .clamp(1, MAX_LIMIT),
        None => DEFAULT_LIMIT,
    };
    Ok(LogSearch {
        service: get("service").map(str::to_owned),
        start_ns,
        end_ns,
        min_severity: get("severity").map(severity).transpose()?,
        contains: get("contains").map(str::to_owned),
        regex: get("regex").map(str::to_owned),
        trace_id,
        trace_in_metadata: false,
        limit,
    })
}

/// Refuses a pattern DataFusion's regex functions would fail on, before running anything.
fn regex_syntax_check(re: &str) -> Result<(), ApiError> {
    regex::Regex::new(re)
        .map(|_| ())
        .map_err(|e| ApiError::BadRequest(format!("invalid regex: {e}")))
}

/// The SQL of a search.
pub(crate) fn search_sql(s: &LogSearch) -> String {
    let mut cond = vec![
        format!("time >= to_timestamp_nanos({})", s.start_ns),
        format!("time <= to_timestamp_nanos({})", s.end_ns),
    ];
    if let Some(svc) = &s.service {
        cond.push(format!("service_name = {}", quote(svc)));
    }
    if let Some(n) = s.min_severity {
        cond.push(format!("severity_number >= {n}"));
    }
    if let Some(text) = &s.contains {
        cond.push(format!("strpos(body, {}) > 0", quote(text)));
    }
    if let Some(re) = &s.regex {
        cond.push(format!("regexp_like(body, {})", quote(re)));
    }
    if let Some(id) = &s.trace_id {
        if s.trace_in_metadata {
            // A Loki push keeps a trace id in its structured metadata (`trace_id`,
            // `traceID` or `traceId`, as sent): the id in either case, or its last 16
            // digits when it is a 64-bit id.
            let id = id.to_ascii_lowercase();
            let mut forms = vec![quote(&id)];
            if let Some(short) = id.strip_prefix("0000000000000000") {
                forms.push(quote(short));
            }
            let forms = forms.join(", ");
            let meta: Vec<String> = ["trace_id", "traceID", "traceId"]
                .iter()
                .map(|k| format!("lower(attributes['{k}']) IN ({forms})"))
                .collect();
            cond.push(format!(
                "scope_name = 'loki.push' AND ({})",
                meta.join(" OR ")
            ));
        } else {
            // `id` is 32 checked hex digits: a hex literal, which the logs table turns
            // into a bloom filter lookup.
            cond.push(format!("trace_id = X'{id}'"));
        }
    }
    format!(
        "SELECT time, observed_time, severity_number, severity_text, body, body_type, \
         service_name, encode(trace_id, 'hex') AS trace_id, \
         encode(span_id, 'hex') AS span_id, flags, attributes, \
         attribute_types, resource_attributes, scope_name, scope_version \
         FROM logs WHERE {} ORDER BY time DESC LIMIT {}",
        cond.join(" AND "),
        s.limit
    )
}

async fn search(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("malformed query string: {e}")))?;
    let now_ns = SystemClock.now_ms().saturating_mul(1_000_000);
    let mut s = parse(&pairs, now_ns)?;
    let mut rows = run(&queries, &tenant, &search_sql(&s)).await?;
    // Nothing by the trace id column (its bloom filter keeps that cheap): Loki-pushed
    // records carry the id in their metadata.
    if s.trace_id.is_some() && rows.trim_ascii() == b"[]" {
        s.trace_in_metadata = true;
        rows = run(&queries, &tenant, &search_sql(&s)).await?;
    }
    let mut body = Vec::with_capacity(rows.len() + 32);
    body.extend_from_slice(br#"{"status":"success","data":"#);
    body.extend_from_slice(&rows);
    body.push(b'}');
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// The rows of `q` as a JSON array, bounded like `/api/v1/sql` answers.
async fn run(queries: &Queries, tenant: &TenantId, q: &str) -> Result<Vec<u8>, ApiError> {
    let engine = queries.engine()?;
    let settings = queries.sql();
    let ctx = sql::tenant_session(engine, tenant, &settings.query).map_err(sql_error)?;
    let mut stream = SqlStream::start(&ctx, q, &settings.query)
        .await
        .map_err(sql_error)?;
    let mut out = ResultWriter::new(Format::Json, &stream.schema(), settings.max_result_bytes)
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    while let Some(batch) = stream.next_batch().await.map_err(sql_error)? {
        out.write(&batch)
            .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    }
    out.finish()
        .map_err(|e| ApiError::Unprocessable(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::params::owned as p;

    #[test]
    fn parameters_and_sql() {
        let s = parse(
            &p(&[
                ("service", "o'k"),
                ("start", "2026-11-22T10:00:00Z"),
                ("end", "1795400000.5"),
                ("severity", "warn"),
                ("contains", "timeout"),
                ("regex", "^GET .*5\\d\\d$"),
                ("trace_id", &"AB".repeat(16)),
                ("limit", "99999"),
            ]),
            0,
        )
        .expect("valid");
        assert_eq!(s.start_ns, 1_795_341_600_000_000_000);
        assert_eq!(s.end_ns, 1_795_400_000_500_000_000);
        assert_eq!((s.min_severity, s.limit), (Some(13), MAX_LIMIT));
        let q = search_sql(&s);
        assert!(q.contains("service_name = 'o''k'"), "{q}");
        assert!(q.contains("severity_number >= 13"), "{q}");
        assert!(q.contains(&"ab".repeat(16)), "{q}");
        assert!(q.ends_with("LIMIT 10000"), "{q}");

        let d = parse(&p(&[]), 10 * DEFAULT_RANGE_NS).expect("defaults");
        assert_eq!(
            (d.start_ns, d.end_ns, d.limit),
            (9 * DEFAULT_RANGE_NS, 10 * DEFAULT_RANGE_NS, DEFAULT_LIMIT)
        );

        for bad in [
            p(&[("start", "yesterday")]),
            p(&[("severity", "loud")]),
            p(&[("trace_id", "abc")]),
            p(&[("regex", "(")]),
            p(&[("limit", "-1")]),
            p(&[("start", "20"), ("end", "10")]),
        ] {
            assert!(parse(&bad, 0).is_err(), "{bad:?}");
        }
    }
}
