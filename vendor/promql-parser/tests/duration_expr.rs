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

//! Duration expressions and the anchored/smoothed modifiers. The inputs and the
//! expected results come from Prometheus's promql/parser/parse_test.go and
//! promql/promqltest/testdata/{duration_expression,extended_vectors}.test.

use std::time::Duration;

use promql_parser::parser::{self, DurationExpr, Expr, Offset};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn matrix(q: &str) -> parser::MatrixSelector {
    match parser::parse(q) {
        Ok(Expr::MatrixSelector(ms)) => ms,
        other => panic!("{q}: expected a matrix selector, got {other:?}"),
    }
}

fn subquery(q: &str) -> parser::SubqueryExpr {
    match parser::parse(q) {
        Ok(Expr::Subquery(sq)) => sq,
        other => panic!("{q}: expected a subquery, got {other:?}"),
    }
}

fn vector(q: &str) -> parser::VectorSelector {
    match parser::parse(q) {
        Ok(Expr::VectorSelector(vs)) => vs,
        other => panic!("{q}: expected a vector selector, got {other:?}"),
    }
}

fn fails(q: &str) {
    assert!(parser::parse(q).is_err(), "{q} should not parse");
}

#[test]
fn constant_ranges_fold_to_thirty_minutes() {
    // duration_expression.test: every one of these is the same 30m range.
    for q in [
        "foo[30m]",
        "foo[26m+4m]",
        "foo[30m+0s]",
        "foo[1800]",
        "foo[60*30]",
        "foo[2m*15]",
        "foo[2m*(10+5)]",
        "foo[29m+60s]",
        "foo[-5m+35m]",
        "foo[1h/2]",
        "foo[1h30m % 1h]",
        "foo[30m1s-30m1s % 1m]",
        "foo[(9m30s+30s)*3]",
    ] {
        let ms = matrix(q);
        assert_eq!(ms.range, secs(1800), "{q}");
        assert_eq!(ms.range_expr, None, "{q}");
    }
    // 24m + (3m + 2m) is 29m (the .test file's result is the same over 29m).
    assert_eq!(matrix("foo[24m+((1.5*2m)+2m)]").range, secs(1740));
}

#[test]
fn subquery_range_and_step_fold() {
    let Ok(Expr::Call(call)) = parser::parse("sum_over_time(m[29s+1s:5s+5s])") else {
        panic!("call expected");
    };
    let Expr::Subquery(sq) = call.args.args[0].as_ref() else {
        panic!("subquery expected");
    };
    assert_eq!((sq.range, sq.step), (secs(30), Some(secs(10))));
    let sq = subquery("m[29s+1s:((((8 - 2) / 3) * 7s) % 4) + 8000ms]");
    assert_eq!((sq.range, sq.step), (secs(30), Some(secs(10))));
    let sq = subquery("m[29s+1s:20*500ms] offset (20*(((((8 - 2) / 3) * 7s) % 4) + 8000ms))");
    assert_eq!(sq.offset, Some(Offset::Pos(secs(200))));
    let sq = subquery("m[29s+1s:20*500ms] offset -(20*(((((8 - 2) / 3) * 7s) % 4) + 8000ms))");
    assert_eq!(sq.offset, Some(Offset::Neg(secs(200))));
    let sq = subquery("m[5m:]");
    assert_eq!((sq.range, sq.step, sq.step_expr), (secs(300), None, None));
}

#[test]
fn step_and_range_stay_as_expressions() {
    let ms = matrix("foo[step()]");
    assert_eq!(ms.range_expr, Some(DurationExpr::Step));
    let ms = matrix("foo[STep()+1ms]");
    assert!(ms.range_expr.is_some());
    let e = ms.range_expr.unwrap();
    assert_eq!(
        e.resolve_positive(secs(10), secs(0)),
        Ok(Duration::from_millis(10_001))
    );
    let ms = matrix("foo[((max_of(min_of((step()+1),((1h))),1ms)))]");
    let e = ms.range_expr.expect("step() is not constant");
    assert_eq!(e.resolve_positive(secs(5), secs(0)), Ok(secs(6)));
    let ms = matrix("foo[range()]");
    assert_eq!(ms.range_expr, Some(DurationExpr::Range));

    let sq = subquery("foo[5m:step()]");
    assert_eq!(
        (sq.range, sq.step, sq.step_expr),
        (secs(300), None, Some(DurationExpr::Step))
    );

    let vs = vector("foo offset -step()");
    assert_eq!(vs.offset, None);
    let e = vs.offset_expr.expect("offset expression");
    assert_eq!(e.resolve_offset(secs(5), secs(0)), Ok(Offset::Neg(secs(5))));
    let vs = vector("foo offset min_of(range(), 8s)");
    let e = vs.offset_expr.expect("offset expression");
    assert_eq!(
        e.resolve_offset(secs(5), secs(10)),
        Ok(Offset::Pos(secs(8)))
    );
    // A resolved expression that is not positive is refused where a range is needed.
    let ms = matrix("foo[step()-5s]");
    assert_eq!(
        ms.range_expr.unwrap().resolve_positive(secs(5), secs(0)),
        Err("duration must be greater than 0".into())
    );
}

#[test]
fn offset_takes_one_operand_unless_parenthesised() {
    // "metric1_total offset 100 + 2" is "(metric1_total offset 100) + 2".
    let Ok(Expr::Binary(b)) = parser::parse("foo offset 100 + 2") else {
        panic!("binary expected");
    };
    let Expr::VectorSelector(vs) = b.lhs.as_ref() else {
        panic!("selector expected");
    };
    assert_eq!(vs.offset, Some(Offset::Pos(secs(100))));
    // "offset -2 ^ 2" is "(offset -2) ^ 2".
    let Ok(Expr::Binary(b)) = parser::parse("foo offset -2 ^ 2") else {
        panic!("binary expected");
    };
    let Expr::VectorSelector(vs) = b.lhs.as_ref() else {
        panic!("selector expected");
    };
    assert_eq!(vs.offset, Some(Offset::Neg(secs(2))));
    // "offset -step()*2" is "(offset -step()) * 2".
    let Ok(Expr::Binary(b)) = parser::parse("foo offset -step()*2") else {
        panic!("binary expected");
    };
    assert!(matches!(b.lhs.as_ref(), Expr::VectorSelector(vs) if vs.offset_expr.is_some()));

    assert_eq!(
        vector("foo offset (100 + 2)").offset,
        Some(Offset::Pos(secs(102)))
    );
    assert_eq!(
        vector("foo offset (2 ^ 2)").offset,
        Some(Offset::Pos(secs(4)))
    );
    assert_eq!(
        vector("foo offset (-2 * 2)").offset,
        Some(Offset::Neg(secs(4)))
    );
    assert_eq!(
        vector("foo offset (-2 ^ 2)").offset,
        Some(Offset::Neg(secs(4)))
    );
    assert_eq!(vector("foo offset -4").offset, Some(Offset::Neg(secs(4))));
    let vs = vector("foo offset -(min_of(step(), 2s)-5)");
    let e = vs.offset_expr.expect("offset expression");
    assert_eq!(e.resolve_offset(secs(5), secs(0)), Ok(Offset::Pos(secs(3))));
}

#[test]
fn errors_prometheus_expects() {
    for (q, msg) in [
        ("foo[5s/0d]", "division by zero"),
        ("foo[5s%0d]", "modulo by zero"),
        ("foo[step()/0d]", "division by zero"),
        ("foo offset (4d/0)", "division by zero"),
        ("foo offset 9.5e10", "duration out of range"),
        ("foo[9.5e10]", "duration out of range"),
        ("foo[0m]", "duration must be greater than 0"),
        ("foo[5m-10m]", "duration must be greater than 0"),
        // Not finite: an error, not a panic in Duration::from_secs_f64.
        ("foo[1e400]", "duration out of range"),
        ("foo offset NaN", "duration out of range"),
        ("foo offset -Inf", "duration out of range"),
        ("foo[5m:1e400]", "duration out of range"),
    ] {
        let err = parser::parse(q).expect_err(q);
        assert!(err.contains(msg), "{q}: {err}");
    }
    for q in [
        "foo[step]",
        "foo[5m1h]",
        "foo[\"5m\"]",
        "foo[]",
        "some_metric offset step()[5m]",
        "some_metric OFFSET 1m[5m]",
        "(foo + bar)[5m]",
        "foo[5m:1m:1m]",
        "foo[5m + bar]",
        // Inside brackets only duration keywords are words, as in Prometheus's lexer.
        "foo[NaN]",
        "foo[Inf]",
    ] {
        fails(q);
    }
}

#[test]
fn anchored_and_smoothed_modifiers() {
    let ms = matrix("foo[5m] anchored");
    assert!(ms.vs.anchored && !ms.vs.smoothed);
    let ms = matrix("foo[5m] smoothed offset 1m");
    assert!(ms.vs.smoothed);
    assert_eq!(ms.vs.offset, Some(Offset::Pos(secs(60))));
    let vs = vector("foo smoothed");
    assert!(vs.smoothed);
    let vs = vector("foo anchored");
    assert!(vs.anchored);

    for (q, msg) in [
        (
            "foo[5m] anchored smoothed",
            "anchored and smoothed modifiers cannot be used together",
        ),
        (
            "foo[5m:1m] anchored",
            "anchored modifier is not supported for subqueries",
        ),
        (
            "foo[5m:1m] smoothed",
            "smoothed modifier is not supported for subqueries",
        ),
        ("1[5m] anchored", "ranges only allowed for vector selectors"),
        ("1[5m] smoothed", "ranges only allowed for vector selectors"),
    ] {
        let err = parser::parse(q).expect_err(q);
        assert!(err.contains(msg), "{q}: {err}");
    }
}

#[test]
fn new_keywords_stay_usable_as_names() {
    assert_eq!(
        vector("anchored{job=\"test\"}").name.as_deref(),
        Some("anchored")
    );
    assert_eq!(
        vector("smoothed{job=\"test\"}").name.as_deref(),
        Some("smoothed")
    );
    assert_eq!(vector("step").name.as_deref(), Some("step"));
    assert_eq!(vector("range{a=\"b\"}").name.as_deref(), Some("range"));
    assert!(parser::parse("sum by (anchored, smoothed, step, range) (some_metric)").is_ok());
    // The scalar functions of the same names still parse.
    assert!(matches!(parser::parse("max_of(1, 2)"), Ok(Expr::Call(_))));
    assert!(matches!(parser::parse("step()"), Ok(Expr::Call(_))));
}

#[test]
fn display_keeps_unresolved_expressions() {
    for (q, want) in [
        (
            "foo[step() + 1s] offset -step()",
            "foo[step() + 1s] offset -step()",
        ),
        ("foo[5m] anchored", "foo[5m] anchored"),
        ("foo[5m:min_of(step(), 1m)]", "foo[5m:min_of(step(), 1m)]"),
        ("foo[26m+4m]", "foo[30m]"),
    ] {
        let e = parser::parse(q).expect(q);
        assert_eq!(e.to_string(), want);
        // What is printed parses back to the same tree.
        assert_eq!(parser::parse(&e.to_string()), Ok(e));
    }
}
