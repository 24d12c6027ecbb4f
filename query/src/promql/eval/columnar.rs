//! Selectors whose histograms may stay column by column ([`crate::promql::native::HistBlock`]):
//! those read only as the range of `rate`, `increase` or `delta`, whose windows
//! `range_block.rs` computes from the columns. Every other selector's blocks are expanded
//! when prefetched, so the rest of the evaluator sees one histogram per sample.

use std::collections::HashSet;

use promql_parser::parser::{Expr, VectorSelector};

use super::extended::extended_arg;
use super::unparen;

/// The functions whose windows are read from blocks.
pub(crate) const BLOCK_FUNCTIONS: [&str; 3] = ["rate", "increase", "delta"];

/// The addresses of the selectors of `e` read only as the plain (neither anchored nor
/// smoothed) range argument of a [`BLOCK_FUNCTIONS`] call.
pub(crate) fn block_selectors(e: &Expr) -> HashSet<usize> {
    let mut out = HashSet::new();
    walk(e, &mut out);
    out
}

fn walk(e: &Expr, out: &mut HashSet<usize>) {
    match e {
        Expr::Call(c) => {
            if BLOCK_FUNCTIONS.contains(&c.func.name)
                && extended_arg(c).is_none()
                && let Some(Expr::MatrixSelector(ms)) = c.args.args.first().map(|a| unparen(a))
            {
                out.insert(&ms.vs as *const VectorSelector as usize);
            }
            for a in &c.args.args {
                walk(a, out);
            }
        }
        Expr::Subquery(sq) => walk(&sq.expr, out),
        Expr::Paren(p) => walk(&p.expr, out),
        Expr::Unary(u) => walk(&u.expr, out),
        Expr::Binary(b) => {
            walk(&b.lhs, out);
            walk(&b.rhs, out);
        }
        Expr::Aggregate(a) => {
            walk(&a.expr, out);
            if let Some(p) = &a.param {
                walk(p, out);
            }
        }
        Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::Extension(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ranges_of_rate_increase_and_delta_qualify() {
        let count = |q: &str| block_selectors(&crate::promql::parse(q).unwrap()).len();
        assert_eq!(
            count("histogram_quantile(0.9, sum(rate(x[5m]))) / sum(increase(y[1h]))"),
            2
        );
        assert_eq!(count("delta((x[5m]))"), 1);
        assert_eq!(count("rate(x[5m:1m])"), 0);
        assert_eq!(count("irate(x[5m]) + sum_over_time(x[5m])"), 0);
        assert_eq!(count("rate(x[5m] anchored)"), 0);
        assert_eq!(count("x + last_over_time(x[5m])"), 0);
    }
}
