//! Selectors whose histograms only reach `histogram_count`, `histogram_sum` or
//! `histogram_avg`: Prometheus reads those through its `HistogramStatsIterator`, which sets
//! counter-reset hints on the fly, and the hints decide some annotations.
//!
//! Derived from prometheus/promql/engine.go (`detectHistogramStatsDecoding`) and
//! prometheus/promql/histogram_stats_iterator.go (`getResetHint`).

use std::collections::HashSet;
use std::sync::Arc;

use promql_parser::parser::{Expr, VectorSelector};

use crate::promql::native::{FloatHistogram, ResetHint};
use crate::promql::value::is_stale_histogram;

/// The addresses of the selectors of `e` read only for histogram statistics: below a
/// `histogram_count`, `histogram_sum` or `histogram_avg`, with no subquery and no
/// `histogram_quantile`, `histogram_quantiles` or `histogram_fraction` anywhere above.
pub(crate) fn stats_only_selectors(e: &Expr) -> HashSet<usize> {
    let mut out = HashSet::new();
    walk(e, false, false, &mut out);
    out
}

fn walk(e: &Expr, stats: bool, blocked: bool, out: &mut HashSet<usize>) {
    let mut sel = |vs: &VectorSelector| {
        if stats && !blocked {
            out.insert(vs as *const VectorSelector as usize);
        }
    };
    match e {
        Expr::VectorSelector(vs) => sel(vs),
        Expr::MatrixSelector(ms) => sel(&ms.vs),
        Expr::Subquery(sq) => walk(&sq.expr, stats, true, out),
        Expr::Paren(p) => walk(&p.expr, stats, blocked, out),
        Expr::Unary(u) => walk(&u.expr, stats, blocked, out),
        Expr::Binary(b) => {
            walk(&b.lhs, stats, blocked, out);
            walk(&b.rhs, stats, blocked, out);
        }
        Expr::Aggregate(a) => {
            walk(&a.expr, stats, blocked, out);
            if let Some(p) = &a.param {
                walk(p, stats, blocked, out);
            }
        }
        Expr::Call(c) => {
            let (stats, blocked) = match c.func.name {
                "histogram_count" | "histogram_sum" | "histogram_avg" => (true, blocked),
                "histogram_quantile" | "histogram_quantiles" | "histogram_fraction" => {
                    (stats, true)
                }
                _ => (stats, blocked),
            };
            for a in &c.args.args {
                walk(a, stats, blocked, out);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Sets the hints of one series' histograms as the stats iterator reads them: a known hint
/// stays; an unknown one becomes `Reset` or `NotReset` by comparison with the previous
/// histogram (stale markers skipped), and stays unknown for the first.
pub(crate) fn stats_hints(hs: &mut [(i64, Arc<FloatHistogram>)]) {
    let mut last: Option<Arc<FloatHistogram>> = None;
    for (_, h) in hs.iter_mut() {
        if is_stale_histogram(h) {
            continue;
        }
        if h.reset_hint == ResetHint::Unknown
            && let Some(prev) = &last
        {
            let hint = if h.detect_reset(prev) {
                ResetHint::Reset
            } else {
                ResetHint::NotReset
            };
            Arc::make_mut(h).reset_hint = hint;
        }
        last = Some(h.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_selectors_under_the_stats_functions_qualify() {
        let count = |q: &str| stats_only_selectors(&crate::promql::parse(q).unwrap()).len();
        assert_eq!(count("histogram_count(sum(x))"), 1);
        assert_eq!(count("histogram_sum(rate(x[5m])) + y"), 1);
        assert_eq!(count("histogram_count(rate(x[5m:1m]))"), 0);
        assert_eq!(count("histogram_quantile(0.5, histogram_count(x))"), 0);
        assert_eq!(count("sum(x)"), 0);
    }

    /// native_histograms.test's `reset{timing="early"}`: counts 3, 2, 2, 3.
    #[test]
    fn unknown_hints_are_worked_out() {
        let h = |count: f64, hint| {
            Arc::new(FloatHistogram {
                count,
                reset_hint: hint,
                ..FloatHistogram::default()
            })
        };
        use ResetHint::*;
        let mut hs = vec![
            (0, h(3.0, Unknown)),
            (1, h(2.0, Unknown)),
            (2, h(2.0, NotReset)),
            (3, h(3.0, Unknown)),
        ];
        stats_hints(&mut hs);
        let hints: Vec<ResetHint> = hs.iter().map(|(_, h)| h.reset_hint).collect();
        assert_eq!(hints, vec![Unknown, Reset, NotReset, NotReset]);
    }
}
