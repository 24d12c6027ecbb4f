//! Parser tests: the forms of Tempo's documentation and precedence tests
//! (`pkg/traceql/parse_test.go`: `TestSpansetExpressionPrecedence`,
//! `TestSpansetFilterOperatorPrecedence`), and errors with their positions.

use crate::traceql::ast::{
    BinOp, Field, FieldExpr, Intrinsic, MetricsFn, Scope, SpansetExpr, SpansetOp, Stage, Status,
};
use crate::traceql::{Error, Value, parse};

fn filter(q: &str) -> FieldExpr {
    match parse(q)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .pipeline
        .stages
        .remove(0)
    {
        Stage::Spanset(SpansetExpr::Filter(f)) => f,
        other => panic!("{q}: {other:?}"),
    }
}

fn attr(scope: Scope, name: &str) -> FieldExpr {
    FieldExpr::Field(Field::Attr(scope, name.into()))
}

fn bin(op: BinOp, l: FieldExpr, r: FieldExpr) -> FieldExpr {
    FieldExpr::Binary(op, Box::new(l), Box::new(r))
}

fn lit(v: Value) -> FieldExpr {
    FieldExpr::Lit(v)
}

#[test]
fn attributes_scopes_and_quoted_names() {
    assert_eq!(
        filter(r#"{ span.http.url = "/a" }"#),
        bin(
            BinOp::Eq,
            attr(Scope::Span, "http.url"),
            lit(Value::Str("/a".into()))
        )
    );
    assert_eq!(
        filter(r#"{ resource.service.name="x" }"#),
        bin(
            BinOp::Eq,
            attr(Scope::Resource, "service.name"),
            lit(Value::Str("x".into()))
        )
    );
    assert_eq!(
        filter("{ .foo>1 }"),
        bin(BinOp::Gt, attr(Scope::Any, "foo"), lit(Value::Int(1)))
    );
    // "Quoted attribute names".
    assert_eq!(
        filter(r#"{ span."attribute name with space" = "value" }"#),
        bin(
            BinOp::Eq,
            attr(Scope::Span, "attribute name with space"),
            lit(Value::Str("value".into()))
        )
    );
    assert_eq!(
        filter(r#"{ span.attribute."attribute name with space" = "v" }"#),
        bin(
            BinOp::Eq,
            attr(Scope::Span, "attribute.attribute name with space"),
            lit(Value::Str("v".into()))
        )
    );
    assert_eq!(
        filter(r#"{ .a = "x \"y\" \\" }"#),
        bin(
            BinOp::Eq,
            attr(Scope::Any, "a"),
            lit(Value::Str(r#"x "y" \"#.into()))
        )
    );
}

#[test]
fn intrinsics_and_literals() {
    let d = |i| FieldExpr::Field(Field::Intrinsic(i));
    assert_eq!(
        filter("{ span:duration > 100ms }"),
        bin(
            BinOp::Gt,
            d(Intrinsic::Duration),
            lit(Value::Duration(100_000_000))
        )
    );
    assert_eq!(
        filter("{ duration < 1.5s }"),
        bin(
            BinOp::Lt,
            d(Intrinsic::Duration),
            lit(Value::Duration(1_500_000_000))
        )
    );
    assert_eq!(
        filter("{ traceDuration > 1h30m }"),
        bin(
            BinOp::Gt,
            d(Intrinsic::TraceDuration),
            lit(Value::Duration(5_400 * 1_000_000_000))
        )
    );
    assert_eq!(
        filter("{ trace:duration > 10us }"),
        bin(
            BinOp::Gt,
            d(Intrinsic::TraceDuration),
            lit(Value::Duration(10_000))
        )
    );
    assert_eq!(
        filter("{ status = error }"),
        bin(
            BinOp::Eq,
            d(Intrinsic::Status),
            lit(Value::Status(Status::Error))
        )
    );
    assert_eq!(
        filter("{ span:status != ok }"),
        bin(
            BinOp::Neq,
            d(Intrinsic::Status),
            lit(Value::Status(Status::Ok))
        )
    );
    assert_eq!(
        filter("{ kind = server }"),
        bin(
            BinOp::Eq,
            d(Intrinsic::Kind),
            lit(Value::Kind(crate::traceql::Kind::Server))
        )
    );
    assert_eq!(
        filter(r#"{ rootServiceName = "a" && trace:rootService = "a" }"#),
        bin(
            BinOp::And,
            bin(
                BinOp::Eq,
                d(Intrinsic::RootServiceName),
                lit(Value::Str("a".into()))
            ),
            bin(
                BinOp::Eq,
                d(Intrinsic::RootServiceName),
                lit(Value::Str("a".into()))
            )
        )
    );
    assert_eq!(
        filter("{ .x = nil }"),
        bin(BinOp::Eq, attr(Scope::Any, "x"), lit(Value::Nil))
    );
    assert_eq!(
        filter("{ .x != -1.5 }"),
        bin(BinOp::Neq, attr(Scope::Any, "x"), lit(Value::Float(-1.5)))
    );
    assert_eq!(
        filter("{ .x > -5s }"),
        bin(
            BinOp::Gt,
            attr(Scope::Any, "x"),
            lit(Value::Duration(-5_000_000_000))
        )
    );
    assert_eq!(
        filter("{ .x = true }"),
        bin(BinOp::Eq, attr(Scope::Any, "x"), lit(Value::Bool(true)))
    );
    assert_eq!(
        filter("{ .x != minInt }"),
        bin(BinOp::Neq, attr(Scope::Any, "x"), lit(Value::Int(i64::MIN)))
    );
    assert_eq!(filter("{}"), lit(Value::Bool(true)));
}

/// `TestSpansetFilterOperatorPrecedence`.
#[test]
fn filter_precedence() {
    let (a, b, c) = (
        attr(Scope::Any, "a"),
        attr(Scope::Any, "b"),
        attr(Scope::Any, "c"),
    );
    assert_eq!(
        filter("{ .a * .b + .c = 1 }"),
        bin(
            BinOp::Eq,
            bin(BinOp::Add, bin(BinOp::Mul, a.clone(), b.clone()), c.clone()),
            lit(Value::Int(1))
        )
    );
    assert_eq!(
        filter("{ .a + .b ^ .c = 1 }"),
        bin(
            BinOp::Eq,
            bin(BinOp::Add, a.clone(), bin(BinOp::Pow, b.clone(), c.clone())),
            lit(Value::Int(1))
        )
    );
    assert_eq!(
        filter("{ .a && .b = .c }"),
        bin(BinOp::And, a.clone(), bin(BinOp::Eq, b.clone(), c.clone()))
    );
    assert_eq!(
        filter("{ .a = !.b && .c }"),
        bin(
            BinOp::And,
            bin(BinOp::Eq, a.clone(), FieldExpr::Not(Box::new(b.clone()))),
            c.clone()
        )
    );
    assert_eq!(
        filter("{ .c - -.a + .b = 0 }"),
        bin(
            BinOp::Eq,
            bin(
                BinOp::Add,
                bin(BinOp::Sub, c.clone(), FieldExpr::Neg(Box::new(a.clone()))),
                b.clone()
            ),
            lit(Value::Int(0))
        )
    );
    let re = filter(r#"{ .a =~ "x.*" }"#);
    let FieldExpr::Regex {
        negated: false,
        pattern,
        ..
    } = re
    else {
        panic!("{re:?}")
    };
    assert!(pattern.re.is_match("xyz") && !pattern.re.is_match("axyz"));
}

/// `TestSpansetExpressionPrecedence`: structural operators bind tighter than `&&`/`||`.
#[test]
fn spanset_precedence_and_pipelines() {
    let q = parse("{ true } && { false } >> { .a }").expect("parse");
    let Stage::Spanset(SpansetExpr::Op(SpansetOp::And, _, r)) = &q.pipeline.stages[0] else {
        panic!("{q:?}")
    };
    assert!(matches!(**r, SpansetExpr::Op(SpansetOp::Descendant, ..)));
    let q = parse("{ true } >> { false } ~ { .a }").expect("parse");
    let Stage::Spanset(SpansetExpr::Op(SpansetOp::Sibling, l, _)) = &q.pipeline.stages[0] else {
        panic!("{q:?}")
    };
    assert!(matches!(**l, SpansetExpr::Op(SpansetOp::Descendant, ..)));
    for (text, op) in [
        ("{} > {}", SpansetOp::Child),
        ("{} < {}", SpansetOp::Parent),
        ("{} << {}", SpansetOp::Ancestor),
        ("{} !> {}", SpansetOp::NotChild),
        ("{} !< {}", SpansetOp::NotParent),
        ("{} !>> {}", SpansetOp::NotDescendant),
        ("{} !<< {}", SpansetOp::NotAncestor),
        ("{} !~ {}", SpansetOp::NotSibling),
        ("{} &> {}", SpansetOp::UnionChild),
        ("{} &< {}", SpansetOp::UnionParent),
        ("{} &>> {}", SpansetOp::UnionDescendant),
        ("{} &<< {}", SpansetOp::UnionAncestor),
        ("{} &~ {}", SpansetOp::UnionSibling),
        ("{} || {}", SpansetOp::Or),
    ] {
        let q = parse(text).expect(text);
        assert!(
            matches!(&q.pipeline.stages[0], Stage::Spanset(SpansetExpr::Op(o, ..)) if *o == op),
            "{text}"
        );
    }
    let q =
        parse("{ status = error } | by(resource.service.name) | count() > 1 | select(.a, name)")
            .expect("parse");
    assert_eq!(q.pipeline.stages.len(), 4);
    assert!(matches!(
        q.pipeline.stages[2],
        Stage::Scalar {
            cmp: BinOp::Gt,
            value: Value::Int(1),
            ..
        }
    ));
    assert!(!q.is_metrics());
    let q = parse("({ .a } | count() > 1) && { .b }").expect("parse");
    assert!(
        matches!(&q.pipeline.stages[0], Stage::Spanset(SpansetExpr::Op(SpansetOp::And, l, _)) if matches!(**l, SpansetExpr::Pipeline(_)))
    );
}

#[test]
fn metrics_functions() {
    for (text, by) in [
        ("{ } | rate()", 0),
        ("{ status = error } | rate() by (resource.service.name)", 1),
        (
            "{ } | count_over_time() by (resource.service.name, name)",
            2,
        ),
        (
            "{ } | histogram_over_time(duration) by (span.http.target)",
            1,
        ),
        ("{ } | avg_over_time(span.x)", 0),
    ] {
        let q = parse(text).expect(text);
        assert!(q.is_metrics(), "{text}");
        assert_eq!(q.metrics.as_ref().map(|m| m.by.len()), Some(by), "{text}");
    }
    let q = parse("{ } | quantile_over_time(duration, .9, .99, 0.5)").expect("parse");
    let Some(MetricsFn::QuantileOverTime(_, qs)) = q.metrics.map(|m| m.func) else {
        panic!()
    };
    assert_eq!(qs, vec![0.9, 0.99, 0.5]);
}

/// Malformed queries: `Error::Parse` with the offset, line and column of the problem.
#[test]
fn errors_carry_their_position() {
    let cases: &[(&str, usize, usize, usize, &str)] = &[
        ("{ name = }", 9, 1, 10, "expected a value, found `}`"),
        (
            "{ .a = 1",
            8,
            1,
            9,
            "expected `}` or an operator, found the end of the query",
        ),
        (r#"{ .a = "x }"#, 7, 1, 8, "unterminated string"),
        (
            "{ .a = 1 } | count() >",
            22,
            1,
            23,
            "expected a value, found the end of the query",
        ),
        (
            "{ .a = 1 }\n  | bogus()",
            15,
            2,
            5,
            "expected a spanset, aggregate, `by`, `select` or `coalesce`, found `bogus`",
        ),
        (r#"{ .a =~ "(" }"#, 8, 1, 9, "invalid regular expression"),
        ("{ .a = 5xs }", 8, 1, 9, "unknown duration unit \"xs\""),
        (
            "{ .a = 1 } | rate() | count() > 1",
            20,
            1,
            21,
            "nothing may follow a metrics function",
        ),
        (
            "{ span:bogus = 1 }",
            2,
            1,
            3,
            "unknown intrinsic `span:bogus`",
        ),
        (
            "{ 1 + 2 }",
            2,
            1,
            3,
            "a spanset filter must be a boolean expression",
        ),
        (
            "{ } | quantile_over_time(duration, 2)",
            35,
            1,
            36,
            "a quantile must be in [0, 1]",
        ),
        (
            "{ } }",
            4,
            1,
            5,
            "expected `|` or the end of the query, found `}`",
        ),
        ("", 0, 1, 1, "expected `{`, found the end of the query"),
        (
            "{ .a = 1 } && ",
            14,
            1,
            15,
            "expected `{`, found the end of the query",
        ),
        ("{ .é = 1 } @", 12, 1, 12, "unexpected character '@'"),
    ];
    for (text, offset, line, col, msg) in cases {
        let err = parse(text).expect_err(text);
        let Error::Parse(p) = &err else {
            panic!("{text}: {err:?}")
        };
        assert_eq!(
            (p.offset, p.line, p.col),
            (*offset, *line, *col),
            "{text}: {err}"
        );
        assert!(p.message.starts_with(msg), "{text}: {err}");
        assert_eq!(
            err.to_string(),
            format!("parse error at line {line}, col {col}: {}", p.message)
        );
        assert!(err.is_client_error());
    }
}
