//! Resolves the duration expressions that depend on the query, `step()` and `range()`,
//! before evaluation. The parser folds every other duration expression.
//!
//! Derived from prometheus/promql/durations.go (`durationVisitor`) and the call in
//! `PreprocessExpr` (prometheus/promql/engine.go): `step()` is the range query's step and
//! `range()` its end minus its start, both 0 for an instant query.

use std::time::Duration;

use promql_parser::parser::Expr;

use super::error::{Error, Result};

/// Replaces every `range_expr`, `step_expr` and `offset_expr` in `expr` by its value for a
/// query with this step and range (ms).
pub(crate) fn resolve(expr: &mut Expr, step_ms: i64, range_ms: i64) -> Result<()> {
    let step = Duration::from_millis(step_ms.max(0).unsigned_abs());
    let range = Duration::from_millis(range_ms.max(0).unsigned_abs());
    walk(expr, step, range)
}

fn walk(expr: &mut Expr, step: Duration, range: Duration) -> Result<()> {
    let err = |e: String| Error::Parse(e);
    match expr {
        Expr::VectorSelector(vs) => {
            if let Some(e) = vs.offset_expr.take() {
                vs.offset = Some(e.resolve_offset(step, range).map_err(err)?);
            }
        }
        Expr::MatrixSelector(ms) => {
            if let Some(e) = ms.vs.offset_expr.take() {
                ms.vs.offset = Some(e.resolve_offset(step, range).map_err(err)?);
            }
            if let Some(e) = ms.range_expr.take() {
                ms.range = e.resolve_positive(step, range).map_err(err)?;
            }
        }
        Expr::Subquery(sq) => {
            if let Some(e) = sq.offset_expr.take() {
                sq.offset = Some(e.resolve_offset(step, range).map_err(err)?);
            }
            if let Some(e) = sq.range_expr.take() {
                sq.range = e.resolve_positive(step, range).map_err(err)?;
            }
            if let Some(e) = sq.step_expr.take() {
                sq.step = Some(e.resolve_positive(step, range).map_err(err)?);
            }
            walk(&mut sq.expr, step, range)?;
        }
        Expr::Aggregate(a) => {
            walk(&mut a.expr, step, range)?;
            if let Some(p) = a.param.as_mut() {
                walk(p, step, range)?;
            }
        }
        Expr::Unary(u) => walk(&mut u.expr, step, range)?,
        Expr::Binary(b) => {
            walk(&mut b.lhs, step, range)?;
            walk(&mut b.rhs, step, range)?;
        }
        Expr::Paren(p) => walk(&mut p.expr, step, range)?,
        Expr::Call(c) => {
            for a in &mut c.args.args {
                walk(a, step, range)?;
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use promql_parser::parser::{Offset, parse};

    use super::*;

    #[test]
    fn step_and_range_take_the_query_values() {
        // duration_expression.test: a range query from 50s to 60s step 5s.
        let mut e = parse("count_over_time(m[min_of(step()+1, 1h)]) + m offset -range()").unwrap();
        resolve(&mut e, 5_000, 10_000).unwrap();
        let Expr::Binary(b) = &e else {
            panic!("binary")
        };
        let Expr::Call(c) = b.lhs.as_ref() else {
            panic!("call")
        };
        let Expr::MatrixSelector(ms) = c.args.args[0].as_ref() else {
            panic!("matrix")
        };
        assert_eq!(
            (ms.range, ms.range_expr.is_none()),
            (Duration::from_secs(6), true)
        );
        let Expr::VectorSelector(vs) = b.rhs.as_ref() else {
            panic!("selector")
        };
        assert_eq!(vs.offset, Some(Offset::Neg(Duration::from_secs(10))));
    }

    #[test]
    fn subquery_step_and_instant_query() {
        let mut e = parse("max_over_time(m[range()+1m:step()] offset step())").unwrap();
        assert!(
            resolve(&mut e.clone(), 0, 0).is_err(),
            "step() is 0 in an instant query"
        );
        resolve(&mut e, 15_000, 60_000).unwrap();
        let Expr::Call(c) = &e else { panic!("call") };
        let Expr::Subquery(sq) = c.args.args[0].as_ref() else {
            panic!("subquery")
        };
        assert_eq!(sq.range, Duration::from_secs(120));
        assert_eq!(sq.step, Some(Duration::from_secs(15)));
        assert_eq!(sq.offset, Some(Offset::Pos(Duration::from_secs(15))));
        let mut e = parse("m offset range()").unwrap();
        resolve(&mut e, 0, 0).unwrap();
        let Expr::VectorSelector(vs) = &e else {
            panic!("selector")
        };
        assert_eq!(vs.offset, Some(Offset::Pos(Duration::ZERO)));
    }
}
