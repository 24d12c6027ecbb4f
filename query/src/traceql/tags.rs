//! Tempo's legacy search parameters (`tags=`, `minDuration`, `maxDuration`) as a TraceQL
//! [`Query`], so that both kinds of search run the same way.

use super::ast::{
    BinOp, Field, FieldExpr, Intrinsic, Pipeline, Query, Scope, SpansetExpr, Stage, Status, Value,
};

/// The query of a legacy search: one span must have every tag (`key=value`; `name` is the
/// span name, `status.code` the status (`ok`, `error`, `unset`), `error=true` an error
/// status, any other key a span or resource attribute whose value is that string, or that
/// number when the value is one) and a duration within the bounds given.
///
/// ```
/// use strata_query::traceql::{parse, query_from_tags};
/// let q = query_from_tags(&[("service.name".into(), "api".into())], Some(1_000_000), None);
/// assert_eq!(q, parse(r#"{ .service.name = "api" && duration >= 1ms }"#)?);
/// # Ok::<(), strata_query::traceql::Error>(())
/// ```
pub fn query_from_tags(
    tags: &[(String, String)],
    min_duration_ns: Option<i64>,
    max_duration_ns: Option<i64>,
) -> Query {
    let mut conds: Vec<FieldExpr> = tags.iter().map(|(k, v)| tag(k, v)).collect();
    let duration = || FieldExpr::Field(Field::Intrinsic(Intrinsic::Duration));
    if let Some(d) = min_duration_ns {
        conds.push(cmp(BinOp::Gte, duration(), Value::Duration(d)));
    }
    if let Some(d) = max_duration_ns {
        conds.push(cmp(BinOp::Lte, duration(), Value::Duration(d)));
    }
    let filter = conds
        .into_iter()
        .reduce(|a, b| FieldExpr::Binary(BinOp::And, Box::new(a), Box::new(b)))
        .unwrap_or(FieldExpr::Lit(Value::Bool(true)));
    Query {
        pipeline: Pipeline {
            stages: vec![Stage::Spanset(SpansetExpr::Filter(filter))],
        },
        metrics: None,
        math: None,
    }
}

fn cmp(op: BinOp, lhs: FieldExpr, v: Value) -> FieldExpr {
    FieldExpr::Binary(op, Box::new(lhs), Box::new(FieldExpr::Lit(v)))
}

fn tag(key: &str, value: &str) -> FieldExpr {
    let intrinsic = |i| FieldExpr::Field(Field::Intrinsic(i));
    match key {
        "name" => cmp(
            BinOp::Eq,
            intrinsic(Intrinsic::Name),
            Value::Str(value.into()),
        ),
        "status.code" | "status" => {
            let s = match value {
                "ok" | "OK" | "STATUS_CODE_OK" => Some(Status::Ok),
                "error" | "ERROR" | "STATUS_CODE_ERROR" => Some(Status::Error),
                "unset" | "UNSET" | "STATUS_CODE_UNSET" => Some(Status::Unset),
                _ => None,
            };
            match s {
                Some(s) => cmp(BinOp::Eq, intrinsic(Intrinsic::Status), Value::Status(s)),
                None => FieldExpr::Lit(Value::Bool(false)),
            }
        }
        "error" if value == "true" => cmp(
            BinOp::Eq,
            intrinsic(Intrinsic::Status),
            Value::Status(Status::Error),
        ),
        _ => {
            let attr = || FieldExpr::Field(Field::Attr(Scope::Any, key.to_owned()));
            let text = cmp(BinOp::Eq, attr(), Value::Str(value.into()));
            let number = value
                .parse::<i64>()
                .map(Value::Int)
                .ok()
                .or_else(|| value.parse::<f64>().ok().map(Value::Float))
                .or_else(|| value.parse::<bool>().ok().map(Value::Bool));
            match number {
                Some(n) => FieldExpr::Binary(
                    BinOp::Or,
                    Box::new(text),
                    Box::new(cmp(BinOp::Eq, attr(), n)),
                ),
                None => text,
            }
        }
    }
}
