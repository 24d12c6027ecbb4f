//! LogQL over the `logs` table: Grafana Loki's query language, parsed and evaluated here
//! (`docs/logql.md` lists what is supported and every known difference from Loki).
//!
//! - [`parse`] turns a query into an [`ast::Expr`]: a log query (stream selector and
//!   pipeline) or a metric query over log queries.
//! - [`select_logs`] answers a log query: entries read by SQL scans of the tenant's `logs`
//!   table ([`scan`]; time and what SQL can check pushed down), each record mapped to a
//!   stream ([`streams`]) and run through the pipeline ([`pipeline`], whose stages are in
//!   [`stages`]).
//! - [`query_metric`] answers a metric query on a step grid ([`metric`]).
//! - [`streams_in_range`] lists the streams of a range with their entry counts and bytes,
//!   for the label, series and index endpoints.
//!
//! The server's Loki API (`server/src/api/loki/`) renders the answers as Loki's JSON.

pub mod ast;
mod detected;
pub mod error;
mod eval;
mod fast;
mod index;
pub mod lexer;
mod logs;
pub mod metric;
pub mod parser;
pub mod pipeline;
mod scan;
pub mod stages;
pub mod streams;
mod summary;

pub use ast::{Expr, LogExpr, Matcher, MetricExpr};
pub use detected::{DetectedField, Pattern, detect_fields, patterns};
pub use error::{Error, ParseError, Result};
pub use eval::query_metric;
pub use index::{Steps, StreamStats, streams as streams_in_range};
pub use logs::{LogOptions, Stream, StreamEntry, select_logs};
pub use metric::{Grid, Series, Value};
pub use parser::parse;
pub use scan::ScanStats;
pub use streams::Labels;

/// Which entries a log query returns first when there are more than its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// The newest first (Loki's default).
    #[default]
    Backward,
    /// The oldest first.
    Forward,
}

/// Bounds on what one query may read and return (Loki's names where it has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `max_query_series`: series a metric query may produce.
    pub max_query_series: usize,
    /// `max_query_bytes_read`: bytes of lines a query may read (0: no bound).
    pub max_query_bytes_read: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_query_series: 500,
            max_query_bytes_read: 0,
        }
    }
}

impl Limits {
    fn series_error(&self) -> Error {
        Error::Limit(format!(
            "maximum number of series ({}) reached for a single query; consider reducing query \
             cardinality by adding more specific stream selectors, reducing the time range, \
             or aggregating results with functions like sum(), count() or topk()",
            self.max_query_series
        ))
    }

    /// Series one range aggregation may hold while it reads, whatever the query's result
    /// limit: a bound on memory, not Loki's `max_query_series` (which counts the answer).
    fn working_series(&self) -> usize {
        self.max_query_series.saturating_mul(100).max(100_000)
    }

    fn working_series_error(&self) -> Error {
        Error::Limit(format!(
            "a range aggregation of this query holds more than {} series; aggregate it \
             (sum by (...)) or select fewer streams",
            self.working_series()
        ))
    }

    fn check_bytes(&self, read: u64) -> Result<()> {
        if self.max_query_bytes_read > 0 && read > self.max_query_bytes_read {
            return Err(Error::Limit(format!(
                "the query would read too many bytes (query: {}, limit: {}); consider adding \
                 more specific stream selectors or reduce the time range of the query",
                read, self.max_query_bytes_read
            )));
        }
        Ok(())
    }
}

/// Labels as LogQL writes them: `{a="b", c="d"}`.
pub fn labels_text(labels: &[(String, String)]) -> String {
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}
