//! PromQL: parse with `promql-parser`, evaluate here with Prometheus 3.x semantics.
//!
//! Instant and range queries read series through a [`SeriesSource`] (the engine's is
//! [`EngineSource`]) and return typed [`Value`]s with Prometheus's label semantics and the
//! warnings and infos Prometheus would attach, so an HTTP layer can render the Prometheus API
//! JSON exactly.
//!
//! Semantics implemented: 5 m lookback (configurable), left-open range selectors
//! `(t - r, t]`, staleness markers ([`STALE_NAN_BITS`]) ending a series for instant
//! selection and dropped from ranges, `offset` (also negative) and `@` (with `start()` and
//! `end()`), subqueries aligned to absolute multiples of their step, Prometheus's
//! extrapolated `rate`/`increase`/`delta`, all aggregations, all binary operators with
//! vector matching, and the classic functions. Functions and operators that drop the metric
//! name drop it where Prometheus does by default: at their own node, so an enclosing
//! `label_replace` no longer sees it. Prometheus 3's opt-in delayed removal (its
//! `promql-delayed-name-removal` feature: names kept to the end of evaluation) is
//! [`QueryOptions::delayed_name_removal`]. Native histograms ([`native::FloatHistogram`]) flow through selectors, subqueries, `@` and
//! offset, the `histogram_*` functions, `timestamp`, the label functions and `sort`.
//!
//! ```
//! use strata_query::promql::{LabelMatcher, PromqlEngine, QueryOptions, Result, SeriesSource,
//!     SourceSeries, Value, Labels};
//!
//! struct Fixed(Vec<SourceSeries>);
//! impl SeriesSource for Fixed {
//!     fn select(&self, _: &[LabelMatcher], _: i64, _: i64) -> Result<Vec<SourceSeries>> {
//!         Ok(self.0.clone())
//!     }
//! }
//! let up = SourceSeries {
//!     block: None,
//!     intervals: Vec::new(),
//!     labels: Labels::from_pairs([("__name__", "requests_total"), ("job", "api")]),
//!     samples: (0..=10).map(|i| (i * 10_000, i as f64 * 10.0)).collect(),
//!     histograms: Vec::new(),
//! };
//! let promql = PromqlEngine::new(QueryOptions::default());
//! let res = promql.instant(&Fixed(vec![up]), "rate(requests_total[1m])", 100_000)?;
//! let Value::Vector(v) = res.value else { panic!("not a vector") };
//! assert_eq!(v[0].labels, Labels::from_pairs([("job", "api")])); // name dropped
//! assert!((v[0].value - 1.0).abs() < 1e-9);
//! # Ok::<(), strata_query::promql::Error>(())
//! ```

mod annotations;
mod durations;
mod error;
mod escapes;
mod eval;
mod label_cache;
pub mod native;
mod range;
mod source;
mod stats;
mod value;

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use promql_parser::parser::Expr;

pub use error::{Error, Result};
pub use source::{EngineSource, LabelMatcher, MatchOp, SeriesSource, SourceSeries};
pub use value::{
    Labels, METRIC_NAME, QueryResult, STALE_NAN_BITS, Sample, Series, Value, is_stale_histogram,
    is_stale_nan,
};

pub(crate) use eval::selector_matchers;
use eval::{EvalSettings, Evaluator, NameUse, Val};
use label_cache::WordMap;
use value::drop_name;

use crate::memory::QueryBudget;

/// Most points per series a range query may return (Prometheus's limit).
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// Settings of PromQL evaluation. Defaults are Prometheus's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryOptions {
    /// How far back an instant selector looks for a sample. Default 5 min.
    pub lookback: Duration,
    /// Most samples a query may hold at once. Default 50,000,000.
    pub max_samples: usize,
    /// Longest a query may run. Default 2 min.
    pub timeout: Duration,
    /// Step of subqueries written without one (`[1h:]`). Default 1 min.
    pub subquery_step: Duration,
    /// Prometheus 3's delayed name removal (`--enable-feature=promql-delayed-name-removal`):
    /// functions and operators that drop `__name__` only mark it, and it is removed at the
    /// end of evaluation, so `label_replace(rate(m[5m]), "x", "$1", "__name__", "(.*)")`
    /// still reads it. Default `false`, as in Prometheus: the name is dropped at the
    /// function or operator itself.
    pub delayed_name_removal: bool,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            lookback: Duration::from_secs(300),
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            subquery_step: Duration::from_secs(60),
            delayed_name_removal: false,
        }
    }
}

/// Parses a PromQL expression.
///
/// `promql-parser` 0.11 panics on a number-of-seconds duration that is not finite or does
/// not fit a `Duration` (`x[1e400]`, `x offset NaN`); the parser holds no shared state, so
/// the panic is caught here and returned as the parse error Prometheus gives. Byte escapes
/// in string literals (`"\xc3\xbf"`) are decoded as the UTF-8 bytes they are in Prometheus
/// first (see `escapes.rs`).
///
/// Parsed expressions are kept (at most [`CACHED_EXPRS`]) for the next parse of the same
/// text: rules and dashboards send the same queries again and again, and the parser cost
/// a sixth of the rules benchmark's CPU.
pub fn parse(query: &str) -> Result<Expr> {
    let cached = |q: &str| {
        let cache = PARSED.lock().unwrap_or_else(PoisonError::into_inner);
        cache.as_ref().and_then(|c| c.get(q).cloned())
    };
    if let Some(expr) = cached(query) {
        return Ok(expr);
    }
    let expr = parse_uncached(query)?;
    let mut cache = PARSED.lock().unwrap_or_else(PoisonError::into_inner);
    let c = cache.get_or_insert_with(HashMap::new);
    if c.len() >= CACHED_EXPRS {
        c.clear();
    }
    c.insert(query.to_owned(), expr.clone());
    Ok(expr)
}

/// Query texts whose parsed expressions [`parse`] keeps; past this many it starts over.
pub const CACHED_EXPRS: usize = 512;

static PARSED: Mutex<Option<HashMap<String, Expr>>> = Mutex::new(None);

fn parse_uncached(query: &str) -> Result<Expr> {
    let query = escapes::decode_byte_escapes(query).map_err(Error::Parse)?;
    let parsed = std::panic::catch_unwind(|| promql_parser::parser::parse(&query));
    match parsed {
        Ok(res) => res.map_err(Error::Parse),
        Err(_) => Err(Error::Parse(
            "invalid duration: a number of seconds must be finite and fit 64 bits".into(),
        )),
    }
}

/// The PromQL evaluator. Cheap to create; holds its options and, when given one, the
/// query's memory budget.
#[derive(Debug, Clone, Default)]
pub struct PromqlEngine {
    options: QueryOptions,
    memory: Option<QueryBudget>,
}

impl PromqlEngine {
    /// An evaluator with `options`.
    pub fn new(options: QueryOptions) -> Self {
        Self {
            options,
            memory: None,
        }
    }

    /// The evaluator charging `budget` for the series and samples a query loads and the
    /// points it answers: a query over the budget's share fails with
    /// [`Error::OverMemory`]. Without one a query is bounded by `max_samples` alone.
    pub fn with_memory(mut self, budget: QueryBudget) -> Self {
        self.memory = Some(budget);
        self
    }

    fn evaluator<'q>(&self, query: &'q str, start: i64, end: i64, step: i64) -> Evaluator<'q> {
        let mut ev = Evaluator::new(query, start, end, step, self.settings());
        ev.charge = self.memory.as_ref().map(|b| b.charge("promql"));
        ev.tables = self
            .memory
            .as_ref()
            .map(|b| b.charge("promql range tables"));
        ev
    }

    fn settings(&self) -> EvalSettings {
        EvalSettings {
            lookback_ms: eval::duration_ms(&self.options.lookback),
            subquery_step_ms: eval::duration_ms(&self.options.subquery_step).max(1),
            max_samples: self.options.max_samples,
            deadline: Instant::now() + self.options.timeout,
            delayed_name_removal: self.options.delayed_name_removal,
        }
    }

    /// Evaluates `query` at `t_ms` (an instant query).
    pub fn instant(
        &self,
        source: &dyn SeriesSource,
        query: &str,
        t_ms: i64,
    ) -> Result<QueryResult> {
        let mut expr = parse(query)?;
        durations::resolve(&mut expr, 0, 0)?;
        let mut ev = self.evaluator(query, t_ms, t_ms, 0);
        ev.prefetch(&expr, source)?;
        ev.begin_step()?;
        let value = match ev.eval_for(&expr, t_ms, NameUse::Result)? {
            Val::Scalar(v) => Value::Scalar { ts: t_ms, value: v },
            Val::Str(s) => Value::String { ts: t_ms, value: s },
            Val::Vector(v) => Value::Vector(finish_vector(v)?),
            Val::Matrix(m) => {
                let mut out = Vec::with_capacity(m.len());
                let mut seen = HashSet::new();
                for mut s in m {
                    if s.drop_name {
                        drop_name(&mut s.labels);
                        s.drop_name = false;
                    }
                    if !seen.insert(s.labels.clone()) {
                        return Err(Error::Execution(
                            "vector cannot contain metrics with the same labelset".into(),
                        ));
                    }
                    out.push(s);
                }
                Value::Matrix(out)
            }
        };
        Ok(QueryResult {
            value,
            warnings: ev.warnings,
            infos: ev.infos,
        })
    }

    /// Evaluates `query` at every `step_ms` from `start_ms` to `end_ms` (a range query). The
    /// result is a matrix sorted by labels.
    pub fn range(
        &self,
        source: &dyn SeriesSource,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult> {
        if step_ms <= 0 {
            return Err(Error::Parse(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end_ms < start_ms {
            return Err(Error::Parse(
                "end timestamp must not be before start time".into(),
            ));
        }
        if (end_ms - start_ms) / step_ms > MAX_POINTS_PER_SERIES {
            return Err(Error::TooManyPoints);
        }
        let mut expr = parse(query)?;
        durations::resolve(&mut expr, step_ms, end_ms - start_ms)?;
        let ty = expr.value_type().to_string();
        if ty.contains("matrix") || ty.contains("string") {
            let name = if ty.contains("matrix") {
                "range vector"
            } else {
                "string"
            };
            return Err(Error::Parse(format!(
                "invalid expression type \"{name}\" for range query, must be Scalar or instant Vector"
            )));
        }
        let mut ev = self.evaluator(query, start_ms, end_ms, step_ms);
        ev.prefetch(&expr, source)?;
        let mut out: Vec<Series> = Vec::new();
        // Keyed by the address of the interned final label set, which is one per label set
        // and, for a series read from storage, the same at every step.
        let mut index: WordMap<usize, usize> = WordMap::default();
        let mut t = start_ms;
        while t <= end_ms {
            ev.begin_step()?;
            let samples = match ev.eval_for(&expr, t, NameUse::Result)? {
                Val::Scalar(v) => vec![Sample {
                    labels: Labels::default(),
                    ts: t,
                    value: v,
                    h: None,
                    drop_name: false,
                }],
                Val::Vector(v) => v,
                other => {
                    return Err(Error::Execution(format!(
                        "invalid expression type {:?} for range query",
                        other.type_name()
                    )));
                }
            };
            // The answer's points are held to the end.
            ev.hold(samples.len() * source::POINT_BYTES)?;
            for s in samples {
                let labels = ev.final_labels(&s);
                let i = *index.entry(labels.ptr()).or_insert_with(|| {
                    out.push(Series {
                        labels,
                        points: Vec::new(),
                        hpoints: Vec::new(),
                        drop_name: false,
                    });
                    out.len() - 1
                });
                let series = &mut out[i];
                // Two samples of one step with one label set (after name removal).
                if series.points.last().is_some_and(|p| p.0 == t)
                    || series.hpoints.last().is_some_and(|p| p.0 == t)
                {
                    return Err(Error::Execution(
                        "vector cannot contain metrics with the same labelset".into(),
                    ));
                }
                match s.h {
                    Some(h) => series.hpoints.push((t, h)),
                    None => series.points.push((t, s.value)),
                }
            }
            t += step_ms;
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(QueryResult {
            value: Value::Matrix(out),
            warnings: ev.warnings,
            infos: ev.infos,
        })
    }
}

/// Applies delayed name removal (samples marked to drop their name carry it only with
/// [`QueryOptions::delayed_name_removal`]) and rejects duplicate label sets.
fn finish_vector(v: Vec<Sample>) -> Result<Vec<Sample>> {
    let mut seen = HashSet::with_capacity(v.len());
    let mut out = Vec::with_capacity(v.len());
    for mut s in v {
        if s.drop_name {
            drop_name(&mut s.labels);
            s.drop_name = false;
        }
        if !seen.insert(s.labels.clone()) {
            return Err(Error::Execution(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
        out.push(s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parse_from_the_cache_is_the_parse_and_errors_are_not_kept() {
        let q = r#"sum by (instance) (rate(http_requests_total{code=~"5.."}[5m]))"#;
        let first = parse(q).expect("parses");
        assert_eq!(parse(q).expect("parses again"), first);
        assert_eq!(parse_uncached(q).expect("parses"), first);
        for _ in 0..2 {
            assert!(matches!(parse("sum(("), Err(Error::Parse(_))));
        }
        // Past the cache's size it starts over, holding at most CACHED_EXPRS.
        for i in 0..CACHED_EXPRS + 5 {
            let text = format!("up + {i}");
            assert_eq!(
                parse(&text).expect("parses"),
                parse_uncached(&text).expect("parses")
            );
        }
        let kept = PARSED.lock().map(|c| c.as_ref().map_or(0, HashMap::len));
        assert!(kept.is_ok_and(|n| n <= CACHED_EXPRS));
    }
}
