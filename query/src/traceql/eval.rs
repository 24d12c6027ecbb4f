//! Field expressions evaluated on one span of a trace, with Tempo's semantics: a missing
//! attribute is `nil`, which equals only `nil` and compares false with anything else
//! (`!=` included: only `x != nil` holds, when `x` is present);
//! values of different types compare false; ints, floats and durations compare as numbers;
//! strings in byte order.
//!
//! A span has many events and links: a condition that reads `event.`/`event:` or
//! `link.`/`link:` fields holds when it holds for one of them (Tempo's "any"), each
//! comparison on its own (`{event.a = 1 && event.b = 2}` may match on two events). A span
//! without events reads them as `nil`. `parent.` fields read the parent span, `nil` for a
//! root or a parent not in the trace. `instrumentation.` fields read the attributes of the
//! span's instrumentation scope (`nil` for spans stored before they were).

use std::cmp::Ordering;

use strata_engine::{AnyValue, SpanRecord};

use super::ast::{BinOp, Field, FieldExpr, Intrinsic, Kind, Scope, Status, Value};
use super::trace::TraceView;

/// An attribute value as TraceQL sees it (arrays, maps and bytes as their text form).
pub(crate) fn from_any(v: &AnyValue) -> Value {
    match v {
        AnyValue::String(s) => Value::Str(s.clone()),
        AnyValue::Int(i) => Value::Int(*i),
        AnyValue::Double(d) => Value::Float(*d),
        AnyValue::Bool(b) => Value::Bool(*b),
        other => Value::Str(other.to_text()),
    }
}

fn lookup<'a>(attrs: &'a [(String, AnyValue)], key: &str) -> Option<&'a AnyValue> {
    attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// A resource attribute of span `s`; `service.name` falls back to the span's service.
fn resource_attr(s: &SpanRecord, key: &str) -> Value {
    match lookup(&s.resource_attributes, key) {
        Some(v) => from_any(v),
        None if key == "service.name" && !s.service_name.is_empty() => {
            Value::Str(s.service_name.clone())
        }
        None => Value::Nil,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Which event and link of a span multi-valued fields read (`None`: the span has none).
#[derive(Debug, Clone, Copy, Default)]
struct Elem {
    event: Option<usize>,
    link: Option<usize>,
}

/// Which of a span's many-valued parts a field reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Many {
    Events,
    Links,
}

fn many_of(f: &Field) -> Option<Many> {
    match f {
        Field::Attr(Scope::Event, _)
        | Field::Intrinsic(Intrinsic::EventName | Intrinsic::EventTimeSinceStart) => {
            Some(Many::Events)
        }
        Field::Attr(Scope::Link, _)
        | Field::Intrinsic(Intrinsic::LinkTraceId | Intrinsic::LinkSpanId) => Some(Many::Links),
        _ => None,
    }
}

/// The value of `field` for span `i` of trace `t` (an event's or link's field: the
/// first one's).
pub(crate) fn field_value(t: &TraceView, i: usize, field: &Field) -> Value {
    let first = Elem {
        event: (!t.spans[i].events.is_empty()).then_some(0),
        link: (!t.spans[i].links.is_empty()).then_some(0),
    };
    field_at(t, i, field, first)
}

fn field_at(t: &TraceView, i: usize, field: &Field, at: Elem) -> Value {
    let s = &t.spans[i];
    let parent = || t.parent[i].map(|p| &t.spans[p]);
    let event = || at.event.and_then(|k| s.events.get(k));
    let link = || at.link.and_then(|k| s.links.get(k));
    match field {
        Field::Attr(Scope::Span, k) => lookup(&s.attributes, k).map_or(Value::Nil, from_any),
        Field::Attr(Scope::Resource, k) => resource_attr(s, k),
        Field::Attr(Scope::Any, k) => any_attr(s, k),
        Field::Attr(Scope::ParentSpan, k) => parent()
            .and_then(|p| lookup(&p.attributes, k))
            .map_or(Value::Nil, from_any),
        Field::Attr(Scope::ParentResource, k) => {
            parent().map_or(Value::Nil, |p| resource_attr(p, k))
        }
        Field::Attr(Scope::ParentAny, k) => parent().map_or(Value::Nil, |p| any_attr(p, k)),
        Field::Attr(Scope::Event, k) => event()
            .and_then(|e| lookup(&e.attributes, k))
            .map_or(Value::Nil, from_any),
        Field::Attr(Scope::Link, k) => link()
            .and_then(|l| lookup(&l.attributes, k))
            .map_or(Value::Nil, from_any),
        Field::Attr(Scope::Instrumentation, k) => {
            lookup(&s.scope.attributes, k).map_or(Value::Nil, from_any)
        }
        Field::Intrinsic(x) => match x {
            Intrinsic::EventName => event().map_or(Value::Nil, |e| Value::Str(e.name.clone())),
            Intrinsic::EventTimeSinceStart => event().map_or(Value::Nil, |e| {
                Value::Duration(e.time_ns.saturating_sub(s.start_ns))
            }),
            Intrinsic::LinkTraceId => link().map_or(Value::Nil, |l| Value::Str(hex(&l.trace_id))),
            Intrinsic::LinkSpanId => link().map_or(Value::Nil, |l| Value::Str(hex(&l.span_id))),
            Intrinsic::Name => Value::Str(s.name.clone()),
            Intrinsic::Status => Value::Status(Status::from_code(s.status_code)),
            Intrinsic::StatusMessage => Value::Str(s.status_message.clone()),
            Intrinsic::Kind => Value::Kind(Kind::from_code(s.kind)),
            Intrinsic::Duration => Value::Duration(s.end_ns.saturating_sub(s.start_ns)),
            Intrinsic::SpanId => Value::Str(hex(&s.span_id)),
            Intrinsic::ParentId => s.parent_span_id.map_or(Value::Nil, |p| Value::Str(hex(&p))),
            Intrinsic::ChildCount => Value::Int(t.children[i].len() as i64),
            Intrinsic::RootServiceName => t
                .root
                .map_or(Value::Nil, |r| Value::Str(t.spans[r].service_name.clone())),
            Intrinsic::RootName => t
                .root
                .map_or(Value::Nil, |r| Value::Str(t.spans[r].name.clone())),
            Intrinsic::TraceDuration => Value::Duration(t.end_ns.saturating_sub(t.start_ns)),
            Intrinsic::TraceId => Value::Str(hex(&s.trace_id)),
            Intrinsic::ScopeName => Value::Str(s.scope.name.clone()),
            Intrinsic::ScopeVersion => Value::Str(s.scope.version.clone()),
        },
    }
}

/// The span's attribute `k`, else its resource's.
fn any_attr(s: &SpanRecord, k: &str) -> Value {
    match lookup(&s.attributes, k) {
        Some(v) => from_any(v),
        None => resource_attr(s, k),
    }
}

/// Whether `e` is true for span `i` of `t`.
pub(crate) fn matches(t: &TraceView, i: usize, e: &FieldExpr) -> bool {
    eval(t, i, e) == Value::Bool(true)
}

/// The value of `e` for span `i` of `t`: `&&`, `||` and `!` combine their operands'
/// values; any other expression that reads events or links is `true` when it is for one
/// of them, else its value for the first.
pub(crate) fn eval(t: &TraceView, i: usize, e: &FieldExpr) -> Value {
    match e {
        FieldExpr::Binary(BinOp::And, l, r) => Value::Bool(matches(t, i, l) && matches(t, i, r)),
        FieldExpr::Binary(BinOp::Or, l, r) => Value::Bool(matches(t, i, l) || matches(t, i, r)),
        FieldExpr::Not(e) => match eval(t, i, e) {
            Value::Bool(b) => Value::Bool(!b),
            _ => Value::Nil,
        },
        leaf => {
            // Most spans have neither events nor links: then nothing is walked.
            let s = &t.spans[i];
            let count = |n: usize, m| if n > 0 && reads(leaf, m) { n } else { 0 };
            let (events, links) = (
                count(s.events.len(), Many::Events),
                count(s.links.len(), Many::Links),
            );
            if events == 0 && links == 0 {
                return eval_at(t, i, leaf, Elem::default());
            }
            // Each event (link), or none when the expression does not read them.
            let each = |n: usize| (0..n.max(1)).map(move |k| (n > 0).then_some(k));
            let mut first = None;
            for event in each(events) {
                for link in each(links) {
                    let v = eval_at(t, i, leaf, Elem { event, link });
                    if v == Value::Bool(true) {
                        return v;
                    }
                    first.get_or_insert(v);
                }
            }
            first.unwrap_or(Value::Nil)
        }
    }
}

/// Whether `e` reads a field of the span's events (links), by [`many_of`].
fn reads(e: &FieldExpr, m: Many) -> bool {
    match e {
        FieldExpr::Lit(_) => false,
        FieldExpr::Field(f) => many_of(f) == Some(m),
        FieldExpr::Not(e) | FieldExpr::Neg(e) => reads(e, m),
        FieldExpr::Regex { lhs, .. } => reads(lhs, m),
        FieldExpr::Binary(_, l, r) => reads(l, m) || reads(r, m),
    }
}

/// The value of `e` for span `i` of `t`, its events' and links' fields read at `at`.
fn eval_at(t: &TraceView, i: usize, e: &FieldExpr, at: Elem) -> Value {
    let eval = |e: &FieldExpr| eval_at(t, i, e, at);
    let matches = |e: &FieldExpr| eval_at(t, i, e, at) == Value::Bool(true);
    match e {
        FieldExpr::Lit(v) => v.clone(),
        FieldExpr::Field(f) => field_at(t, i, f, at),
        FieldExpr::Not(e) => match eval(e) {
            Value::Bool(b) => Value::Bool(!b),
            _ => Value::Nil,
        },
        FieldExpr::Neg(e) => match eval(e) {
            Value::Int(x) => x.checked_neg().map_or(Value::Nil, Value::Int),
            Value::Float(x) => Value::Float(-x),
            Value::Duration(x) => x.checked_neg().map_or(Value::Nil, Value::Duration),
            _ => Value::Nil,
        },
        FieldExpr::Regex {
            lhs,
            negated,
            pattern,
        } => match eval(lhs) {
            Value::Str(s) => Value::Bool(pattern.re.is_match(&s) != *negated),
            _ => Value::Bool(false),
        },
        FieldExpr::Binary(BinOp::And, l, r) => Value::Bool(matches(l) && matches(r)),
        FieldExpr::Binary(BinOp::Or, l, r) => Value::Bool(matches(l) || matches(r)),
        FieldExpr::Binary(op, l, r) => binary(*op, &eval(l), &eval(r)),
    }
}

/// `a op b` for a comparison or arithmetic operator.
pub(crate) fn binary(op: BinOp, a: &Value, b: &Value) -> Value {
    match op {
        BinOp::Eq | BinOp::Neq | BinOp::Lt | BinOp::Lte | BinOp::Gt | BinOp::Gte => {
            Value::Bool(compare(op, a, b))
        }
        _ => arithmetic(op, a, b),
    }
}

/// A number's value as a float, for ints, floats and durations (ns).
pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) | Value::Duration(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// The order of two values of comparable types, `None` when they are not comparable.
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x) | Value::Duration(x), Value::Int(y) | Value::Duration(y)) => Some(x.cmp(y)),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Status(x), Value::Status(y)) => Some(x.cmp(y)),
        (Value::Kind(x), Value::Kind(y)) => Some(x.cmp(y)),
        _ => as_f64(a)?.partial_cmp(&as_f64(b)?),
    }
}

/// Whether `a op b` holds for a comparison operator.
pub(crate) fn compare(op: BinOp, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => return op == BinOp::Eq,
        // `x != nil`: x is present. A missing value compares false with any other.
        (_, Value::Nil) => return op == BinOp::Neq,
        (Value::Nil, _) => return false,
        _ => {}
    }
    let Some(ord) = order(a, b) else {
        return false;
    };
    let ordered = !matches!(
        (a, b),
        (Value::Bool(_), _) | (Value::Status(_), _) | (Value::Kind(_), _)
    );
    match op {
        BinOp::Eq => ord == Ordering::Equal,
        BinOp::Neq => ord != Ordering::Equal,
        BinOp::Lt => ordered && ord == Ordering::Less,
        BinOp::Lte => ordered && ord != Ordering::Greater,
        BinOp::Gt => ordered && ord == Ordering::Greater,
        BinOp::Gte => ordered && ord != Ordering::Less,
        _ => false,
    }
}

fn arithmetic(op: BinOp, a: &Value, b: &Value) -> Value {
    use Value::{Duration, Float, Int};
    let int = |x: i64, y: i64| -> Option<i64> {
        match op {
            BinOp::Add => x.checked_add(y),
            BinOp::Sub => x.checked_sub(y),
            BinOp::Mul => x.checked_mul(y),
            BinOp::Div => x.checked_div(y),
            BinOp::Mod => x.checked_rem(y),
            BinOp::Pow => u32::try_from(y).ok().and_then(|y| x.checked_pow(y)),
            _ => None,
        }
    };
    match (a, b) {
        (Int(x), Int(y)) => int(*x, *y).map_or(Value::Nil, Int),
        (Duration(x), Duration(y)) if matches!(op, BinOp::Add | BinOp::Sub) => {
            int(*x, *y).map_or(Value::Nil, Duration)
        }
        (Duration(x), Int(y)) | (Int(y), Duration(x))
            if matches!(op, BinOp::Mul)
                || (matches!(op, BinOp::Div) && matches!(a, Duration(_))) =>
        {
            int(*x, *y).map_or(Value::Nil, Duration)
        }
        _ => {
            let (Some(x), Some(y)) = (as_f64(a), as_f64(b)) else {
                return Value::Nil;
            };
            let v = match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                BinOp::Mod => x % y,
                BinOp::Pow => x.powf(y),
                _ => return Value::Nil,
            };
            Float(v)
        }
    }
}

/// Every field `e` reads, in the order written.
pub(crate) fn fields_of(e: &FieldExpr, out: &mut Vec<Field>) {
    match e {
        FieldExpr::Lit(_) => {}
        FieldExpr::Field(f) => {
            if !out.contains(f) {
                out.push(f.clone());
            }
        }
        FieldExpr::Not(e) | FieldExpr::Neg(e) => fields_of(e, out),
        FieldExpr::Regex { lhs, .. } => fields_of(lhs, out),
        FieldExpr::Binary(_, l, r) => {
            fields_of(l, out);
            fields_of(r, out);
        }
    }
}
