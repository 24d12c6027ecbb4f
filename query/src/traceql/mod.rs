//! TraceQL over the `spans` table: Grafana Tempo's trace query language, parsed and
//! evaluated here (`docs/traceql.md` lists what is supported and the known differences
//! from Tempo).
//!
//! - [`parse`] turns a query into a [`Query`]: a pipeline of spanset expressions
//!   (`{ span.http.status_code >= 500 } >> { status = error } | count() > 1`), optionally
//!   ending in a metrics function (`| rate() by (resource.service.name)`).
//! - [`search`] finds the newest traces that match: each spanset filter is compiled to a
//!   necessary SQL condition over the tenant's `spans` table ([`prefilter`]), which picks
//!   candidate traces hour partition by hour partition, newest first; the candidates are
//!   then read whole through the engine's bloom-filtered trace lookup and the query is
//!   evaluated exactly in memory. A lone filter whose conditions SQL checks
//!   exactly skips the in-memory pass for its matches.
//! - [`metrics_range`] answers a metrics query on a step grid, with Tempo's alignment and
//!   bucketing.
//!
//! The server's Tempo API (`server/src/api/tempo/`) renders the answers as Tempo's JSON.

pub mod ast;
mod compare;
mod counts;
pub mod error;
mod eval;
pub mod lexer;
mod math;
mod metrics;
pub mod parser;
pub mod prefilter;
mod search;
mod spanset;
mod tags;
mod trace;

pub use ast::{Kind, Query, Status, Value};
pub use error::{Error, ParseError, Result};
pub use metrics::{MAX_STEPS, metrics_range};
pub use parser::parse;
pub use prefilter::Cond;
pub use search::{SearchStats, search, search_with_stats};
pub use tags::query_from_tags;

#[cfg(test)]
mod tests;

/// The 16-byte id of a trace.
pub type TraceId = strata_engine::TraceId;

/// The bounds of a search ([`search`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchParams {
    /// Spans starting at or after this time (ns since the epoch) are searched.
    pub start_ns: i64,
    /// Spans starting at or before this time (ns since the epoch) are searched.
    pub end_ns: i64,
    /// The most traces returned (Tempo's `limit`; 0 returns none).
    pub limit: usize,
    /// The most spans returned per spanset (Tempo's `spss`); `matched` still counts all.
    pub spans_per_spanset: usize,
}

/// A trace a search found.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceMatch {
    /// The trace.
    pub trace_id: TraceId,
    /// The service of its root span, if the root span was found.
    pub root_service_name: Option<String>,
    /// The name of its root span, if the root span was found.
    pub root_span_name: Option<String>,
    /// Its earliest span's start (ns since the epoch).
    pub start_ns: i64,
    /// From its earliest start to its latest end, in ns.
    pub duration_ns: i64,
    /// The spansets the query returned for it.
    pub spansets: Vec<SpanSetMatch>,
}

/// One spanset of a found trace.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanSetMatch {
    /// Its spans, at most [`SearchParams::spans_per_spanset`], earliest first.
    pub spans: Vec<SpanMatch>,
    /// How many spans it holds.
    pub matched: usize,
    /// Its attributes: `by(...)` values and aggregate results, keyed as Tempo does
    /// (`by(resource.service.name)`, `count()`).
    pub attributes: Vec<(String, Value)>,
}

/// One span of a spanset.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanMatch {
    /// The span.
    pub span_id: [u8; 8],
    /// Its name.
    pub name: String,
    /// Its start (ns since the epoch).
    pub start_ns: i64,
    /// Its duration in ns.
    pub duration_ns: i64,
    /// The fields the query's conditions and `select()` read, by name without scope
    /// (`http.status_code`, `service.name`, `status`), as Tempo returns them.
    pub attributes: Vec<(String, Value)>,
}

/// The grid of a metrics query ([`metrics_range`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsParams {
    /// Start of the range (ns since the epoch).
    pub start_ns: i64,
    /// End of the range (ns since the epoch).
    pub end_ns: i64,
    /// Step (ns, > 0).
    pub step_ns: i64,
}

/// One series of a metrics query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSeries {
    /// Its labels: the `by (...)` values keyed by the field as written
    /// (`resource.service.name`), then `p` for a quantile or `__bucket` for a histogram.
    pub labels: Vec<(String, Value)>,
    /// (time in ms, value), in time order; each time is the end of its step.
    pub points: Vec<(i64, f64)>,
}
