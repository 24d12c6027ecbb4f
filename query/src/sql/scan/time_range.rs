//! The time range a query's filters allow on a `ts` column, for partition pruning.
//!
//! Only conjuncts of the forms `ts <op> literal`, `literal <op> ts` and
//! `ts BETWEEN a AND b` narrow the range; anything else leaves it open. The range is
//! conservative (inclusive, rounded outwards to milliseconds): the filters themselves are
//! still applied to every row, so pruning can only skip data that no row could match.

use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};
use datafusion::scalar::ScalarValue;

/// An inclusive range of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeRange {
    pub(crate) start: i64,
    pub(crate) end: i64,
}

impl TimeRange {
    pub(crate) const ALL: Self = Self {
        start: i64::MIN,
        end: i64::MAX,
    };

    pub(crate) fn is_empty(&self) -> bool {
        self.start > self.end
    }

    fn at_least(&mut self, ms: i64) {
        self.start = self.start.max(ms);
    }

    fn at_most(&mut self, ms: i64) {
        self.end = self.end.min(ms);
    }
}

/// The range of column `ts` that every one of `filters` (ANDed) allows.
pub(crate) fn time_range(filters: &[Expr], ts: &str) -> TimeRange {
    let mut range = TimeRange::ALL;
    for f in filters {
        narrow(f, ts, &mut range);
    }
    range
}

fn narrow(e: &Expr, ts: &str, range: &mut TimeRange) {
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            if *op == Operator::And {
                narrow(left, ts, range);
                narrow(right, ts, range);
                return;
            }
            let (op, value) = if is_ts(left, ts) {
                (*op, right)
            } else if is_ts(right, ts) {
                match op.swap() {
                    Some(op) => (op, left),
                    None => return,
                }
            } else {
                return;
            };
            let Some((floor, ceil)) = millis(value) else {
                return;
            };
            match op {
                Operator::Eq => {
                    range.at_least(floor);
                    range.at_most(ceil);
                }
                Operator::Gt | Operator::GtEq => range.at_least(floor),
                Operator::Lt | Operator::LtEq => range.at_most(ceil),
                _ => {}
            }
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) if is_ts(expr, ts) => {
            if let Some((floor, _)) = millis(low) {
                range.at_least(floor);
            }
            if let Some((_, ceil)) = millis(high) {
                range.at_most(ceil);
            }
        }
        _ => {}
    }
}

/// Whether `e` is column `ts`, possibly cast (casts between timestamp units keep order).
fn is_ts(e: &Expr, ts: &str) -> bool {
    match e {
        Expr::Column(c) => c.name == ts,
        Expr::Cast(c) => is_ts(&c.expr, ts),
        Expr::TryCast(c) => is_ts(&c.expr, ts),
        _ => false,
    }
}

/// A timestamp literal as milliseconds, rounded down and up.
fn millis(e: &Expr) -> Option<(i64, i64)> {
    let Expr::Literal(v, _) = e else {
        return None;
    };
    let (v, per_ms) = match v {
        ScalarValue::TimestampSecond(Some(s), _) => return Some((s * 1000, s * 1000)),
        ScalarValue::TimestampMillisecond(Some(ms), _) => return Some((*ms, *ms)),
        ScalarValue::TimestampMicrosecond(Some(us), _) => (*us, 1_000),
        ScalarValue::TimestampNanosecond(Some(ns), _) => (*ns, 1_000_000),
        _ => return None,
    };
    let floor = v.div_euclid(per_ms);
    let ceil = floor + i64::from(v.rem_euclid(per_ms) != 0);
    Some((floor, ceil))
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::{col, lit};

    use super::*;

    fn ms(v: i64) -> Expr {
        lit(ScalarValue::TimestampMillisecond(
            Some(v),
            Some("UTC".into()),
        ))
    }

    #[test]
    fn comparisons_and_between_narrow_the_range() {
        let f = [col("ts").gt_eq(ms(100)), col("ts").lt(ms(200))];
        assert_eq!(
            time_range(&f, "ts"),
            TimeRange {
                start: 100,
                end: 200
            }
        );
        let f = [ms(150).lt_eq(col("ts")).and(col("value").gt(lit(1.0)))];
        assert_eq!(time_range(&f, "ts").start, 150);
        let f = [col("ts").between(ms(10), ms(20))];
        assert_eq!(time_range(&f, "ts"), TimeRange { start: 10, end: 20 });
        let f = [col("ts").eq(ms(7))];
        assert_eq!(time_range(&f, "ts"), TimeRange { start: 7, end: 7 });
    }

    #[test]
    fn other_shapes_leave_the_range_open() {
        let or = col("ts").gt(ms(100)).or(col("ts").lt(ms(50)));
        assert_eq!(time_range(&[or], "ts"), TimeRange::ALL);
        let not_between = col("ts").not_between(ms(10), ms(20));
        assert_eq!(time_range(&[not_between], "ts"), TimeRange::ALL);
        assert_eq!(time_range(&[col("value").gt(ms(5))], "ts"), TimeRange::ALL);
    }

    #[test]
    fn finer_units_round_outwards() {
        let ns = |v| lit(ScalarValue::TimestampNanosecond(Some(v), None));
        let f = [col("ts").gt(ns(1_500_000)), col("ts").lt(ns(3_000_001))];
        assert_eq!(time_range(&f, "ts"), TimeRange { start: 1, end: 4 });
        let f = [col("ts").gt(ms(10)), col("ts").lt(ms(5))];
        assert!(time_range(&f, "ts").is_empty());
    }
}
