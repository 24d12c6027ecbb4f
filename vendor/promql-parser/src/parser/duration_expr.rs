// Copyright 2026 Greptime Team
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//! Duration expressions: arithmetic in `offset`, range `[..]` and subquery `[..:..]`
//! positions, as Prometheus 3 parses them (`promql-duration-expr`, on by default since
//! Prometheus 3.5).
//!
//! The shape follows Prometheus's `DurationExpr` (promql/parser/ast.go) and its evaluation
//! follows `promql/durations.go`. Expressions without `step()` or `range()` are folded to a
//! plain [`Duration`]/[`Offset`] by the parser, so only those two leave an expression in the
//! AST (`offset_expr`, `range_expr`, `step_expr`), to be resolved per query with
//! [`DurationExpr::resolve_offset`]/[`DurationExpr::resolve_positive`].

use std::fmt;
use std::time::Duration;

use crate::parser::token::{
    TokenId, TokenType, T_ADD, T_DIV, T_MIN_OF, T_MOD, T_MUL, T_POW, T_SUB,
};
use crate::parser::Offset;
use crate::util::display_duration;

/// Largest duration, in seconds, that fits Prometheus's nanosecond `time.Duration`.
const MAX_SECONDS: f64 = 9_223_372_036.854_775;

/// An arithmetic expression that evaluates to a duration, in seconds.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "ser", derive(serde::Serialize))]
pub enum DurationExpr {
    /// A number (seconds) or a duration literal, in seconds.
    Number(f64),
    /// `step()`: the query's resolution step (0 for an instant query).
    Step,
    /// `range()`: the query's range, end minus start (0 for an instant query).
    Range,
    /// Unary `+` or `-`.
    Unary {
        op: TokenType,
        expr: Box<DurationExpr>,
    },
    /// `+ - * / % ^` between two duration expressions.
    Binary {
        op: TokenType,
        lhs: Box<DurationExpr>,
        rhs: Box<DurationExpr>,
    },
    /// `min_of(a, b)` or `max_of(a, b)`.
    Call {
        op: TokenType,
        lhs: Box<DurationExpr>,
        rhs: Box<DurationExpr>,
    },
    /// An expression in parentheses.
    Paren(Box<DurationExpr>),
}

impl DurationExpr {
    pub(crate) fn unary(op: TokenId, expr: DurationExpr) -> Self {
        DurationExpr::Unary {
            op: TokenType::new(op),
            expr: Box::new(expr),
        }
    }

    pub(crate) fn binary(
        op: TokenId,
        lhs: DurationExpr,
        rhs: DurationExpr,
    ) -> Result<Self, String> {
        // Prometheus refuses a literal zero divisor at parse time.
        if let DurationExpr::Number(v) = rhs {
            if v == 0.0 && op == T_DIV {
                return Err("division by zero".into());
            }
            if v == 0.0 && op == T_MOD {
                return Err("modulo by zero".into());
            }
        }
        Ok(DurationExpr::Binary {
            op: TokenType::new(op),
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        })
    }

    pub(crate) fn call(op: TokenId, lhs: DurationExpr, rhs: DurationExpr) -> Self {
        DurationExpr::Call {
            op: TokenType::new(op),
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }

    /// Whether the expression has no `step()` or `range()`, so it folds at parse time.
    pub fn is_constant(&self) -> bool {
        match self {
            DurationExpr::Number(_) => true,
            DurationExpr::Step | DurationExpr::Range => false,
            DurationExpr::Unary { expr, .. } | DurationExpr::Paren(expr) => expr.is_constant(),
            DurationExpr::Binary { lhs, rhs, .. } | DurationExpr::Call { lhs, rhs, .. } => {
                lhs.is_constant() && rhs.is_constant()
            }
        }
    }

    /// The value in seconds, with `step()` and `range()` taken from the arguments.
    pub fn evaluate(&self, step: Duration, range: Duration) -> Result<f64, String> {
        Ok(match self {
            DurationExpr::Number(v) => *v,
            DurationExpr::Step => step.as_secs_f64(),
            DurationExpr::Range => range.as_secs_f64(),
            DurationExpr::Paren(e) => e.evaluate(step, range)?,
            DurationExpr::Unary { op, expr } => {
                let v = expr.evaluate(step, range)?;
                if op.id() == T_SUB {
                    -v
                } else {
                    v
                }
            }
            DurationExpr::Call { op, lhs, rhs } => {
                let (l, r) = (lhs.evaluate(step, range)?, rhs.evaluate(step, range)?);
                if op.id() == T_MIN_OF {
                    l.min(r)
                } else {
                    l.max(r)
                }
            }
            DurationExpr::Binary { op, lhs, rhs } => {
                let (l, r) = (lhs.evaluate(step, range)?, rhs.evaluate(step, range)?);
                match op.id() {
                    T_ADD => l + r,
                    T_SUB => l - r,
                    T_MUL => l * r,
                    T_DIV if r == 0.0 => return Err("division by zero".into()),
                    T_DIV => l / r,
                    T_MOD if r == 0.0 => return Err("modulo by zero".into()),
                    T_MOD => l % r,
                    T_POW => l.powf(r),
                    _ => return Err(format!("unexpected duration expression operator {op}")),
                }
            }
        })
    }

    /// The signed duration in milliseconds, checked as Prometheus's `calculateDuration`.
    fn millis(&self, step: Duration, range: Duration, allow_negative: bool) -> Result<i64, String> {
        let v = self.evaluate(step, range)?;
        if v.is_nan() || v.is_infinite() {
            return Err("duration is NaN or infinite".into());
        }
        if v <= 0.0 && !allow_negative {
            return Err("duration must be greater than 0".into());
        }
        if v.abs() > MAX_SECONDS {
            return Err("duration is out of range".into());
        }
        // Prometheus: time.Duration(duration*1000) * time.Millisecond (truncates).
        Ok((v * 1000.0) as i64)
    }

    /// Resolves an offset expression (negative values allowed).
    pub fn resolve_offset(&self, step: Duration, range: Duration) -> Result<Offset, String> {
        let ms = self.millis(step, range, true)?;
        let d = Duration::from_millis(ms.unsigned_abs());
        Ok(if ms < 0 {
            Offset::Neg(d)
        } else {
            Offset::Pos(d)
        })
    }

    /// Resolves a range or a subquery step (must be greater than 0).
    pub fn resolve_positive(&self, step: Duration, range: Duration) -> Result<Duration, String> {
        let ms = self.millis(step, range, false)?;
        Ok(Duration::from_millis(ms.unsigned_abs()))
    }

    /// Folds a constant range or step at parse time; a lone literal keeps its exact value.
    pub(crate) fn fold_positive(&self) -> Result<Duration, String> {
        match self {
            DurationExpr::Number(v) if *v <= 0.0 => Err("duration must be greater than 0".into()),
            DurationExpr::Number(v) if v.is_nan() || *v > MAX_SECONDS => {
                Err("duration out of range".into())
            }
            DurationExpr::Number(v) => Ok(Duration::from_secs_f64(*v)),
            e => e.resolve_positive(Duration::ZERO, Duration::ZERO),
        }
    }

    /// Folds a constant offset at parse time; a lone (signed) literal keeps its exact value.
    pub(crate) fn fold_offset(&self) -> Result<Offset, String> {
        let literal = match self {
            DurationExpr::Number(v) => Some(*v),
            DurationExpr::Unary { op, expr } => match **expr {
                DurationExpr::Number(v) if op.id() == T_SUB => Some(-v),
                DurationExpr::Number(v) => Some(v),
                _ => None,
            },
            _ => None,
        };
        match literal {
            Some(v) if v.abs() > MAX_SECONDS || v.is_nan() => Err("duration out of range".into()),
            Some(v) if v < 0.0 => Ok(Offset::Neg(Duration::from_secs_f64(-v))),
            Some(v) => Ok(Offset::Pos(Duration::from_secs_f64(v))),
            None => self.resolve_offset(Duration::ZERO, Duration::ZERO),
        }
    }
}

/// A duration literal in seconds. Unlike [`crate::util::parse_duration`], zero is a value
/// here (`30m+0s`): whether the whole expression is positive is checked after evaluation.
pub(crate) fn duration_literal_seconds(s: &str) -> Result<f64, String> {
    match crate::util::parse_duration(s) {
        Ok(d) => Ok(d.as_secs_f64()),
        Err(_) if s.chars().all(|c| c == '0' || c.is_ascii_alphabetic()) => Ok(0.0),
        Err(e) if e.contains("overflow") => Err("duration out of range".into()),
        Err(e) => Err(e),
    }
}

/// A constant range or step folded to its value, or zero and the expression to resolve.
pub(crate) fn fold_positive(e: DurationExpr) -> Result<(Duration, Option<DurationExpr>), String> {
    if e.is_constant() {
        Ok((e.fold_positive()?, None))
    } else {
        Ok((Duration::ZERO, Some(e)))
    }
}

impl fmt::Display for DurationExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationExpr::Number(v) => {
                if *v > 0.0 && v.fract() == 0.0 && *v <= MAX_SECONDS {
                    write!(f, "{}", display_duration(&Duration::from_secs_f64(*v)))
                } else {
                    write!(f, "{v}")
                }
            }
            DurationExpr::Step => write!(f, "step()"),
            DurationExpr::Range => write!(f, "range()"),
            DurationExpr::Paren(e) => write!(f, "({e})"),
            DurationExpr::Unary { op, expr } => write!(f, "{op}{expr}"),
            DurationExpr::Binary { op, lhs, rhs } => write!(f, "{lhs} {op} {rhs}"),
            DurationExpr::Call { op, lhs, rhs } => write!(f, "{op}({lhs}, {rhs})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::token::T_MAX_OF;

    fn num(v: f64) -> DurationExpr {
        DurationExpr::Number(v)
    }

    #[test]
    fn evaluates_arithmetic_like_prometheus() {
        let secs = Duration::from_secs;
        let e = DurationExpr::binary(T_MOD, num(5400.0), num(3600.0)).unwrap();
        assert_eq!(e.evaluate(secs(0), secs(0)), Ok(1800.0));
        let e = DurationExpr::call(T_MIN_OF, DurationExpr::Step, num(1.0));
        assert_eq!(e.evaluate(secs(5), secs(0)), Ok(1.0));
        let e = DurationExpr::call(T_MAX_OF, DurationExpr::Range, num(1.0));
        assert_eq!(e.evaluate(secs(5), secs(10)), Ok(10.0));
        let e = DurationExpr::binary(T_POW, num(2.0), num(3.0)).unwrap();
        assert_eq!(e.evaluate(secs(0), secs(0)), Ok(8.0));
        assert!(!DurationExpr::Step.is_constant());
        assert!(e.is_constant());
    }

    #[test]
    fn zero_divisors_and_signs_are_errors() {
        assert_eq!(
            DurationExpr::binary(T_DIV, num(1.0), num(0.0)),
            Err("division by zero".into())
        );
        assert_eq!(
            DurationExpr::binary(T_MOD, num(1.0), num(0.0)),
            Err("modulo by zero".into())
        );
        let e = DurationExpr::binary(T_DIV, num(1.0), DurationExpr::Step).unwrap();
        assert_eq!(
            e.resolve_positive(Duration::ZERO, Duration::ZERO),
            Err("division by zero".into())
        );
        let neg = DurationExpr::unary(T_SUB, DurationExpr::Step);
        assert_eq!(
            neg.resolve_positive(Duration::from_secs(5), Duration::ZERO),
            Err("duration must be greater than 0".into())
        );
        assert_eq!(
            neg.resolve_offset(Duration::from_secs(5), Duration::ZERO),
            Ok(Offset::Neg(Duration::from_secs(5)))
        );
    }
}
