//! Template function table: Loki's `functionMap`, the sprig subset Loki
//! registers, and Go's builtins (except `and`/`or`, which are evaluated lazily
//! by the executor).

use super::printf::{sprint, sprintf, sprintln};
use super::timefmt::{self, GoTime};
use super::value::{Value, to_float64, to_int64};
use crate::logql::stages::regexp::compile_go;
use crate::logql::stages::units::{parse_bytes, parse_duration_seconds};

/// Parameter kinds (Go parameter types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum P {
    /// string
    S,
    /// int
    I,
    /// float64
    F,
    /// interface{}
    A,
    /// time.Time
    T,
}

/// A function signature.
#[derive(Debug)]
pub(super) struct Spec {
    pub(super) name: &'static str,
    pub(super) params: &'static [P],
    pub(super) variadic: Option<P>,
}

const fn f(name: &'static str, params: &'static [P]) -> Spec {
    Spec {
        name,
        params,
        variadic: None,
    }
}

const fn v(name: &'static str, params: &'static [P], rest: P) -> Spec {
    Spec {
        name,
        params,
        variadic: Some(rest),
    }
}

use P::{A, F, I, S, T};

/// Every supported function (see the table in the module docs of `template`).
pub(super) const SPECS: &[Spec] = &[
    // Go builtins (`and`/`or` are special-cased by the executor).
    v("and", &[A], A),
    v("or", &[A], A),
    f("not", &[A]),
    f("len", &[A]),
    v("index", &[A], A),
    v("print", &[], A),
    v("println", &[], A),
    v("printf", &[S], A),
    v("eq", &[A], A),
    f("ne", &[A, A]),
    f("lt", &[A, A]),
    f("le", &[A, A]),
    f("gt", &[A, A]),
    f("ge", &[A, A]),
    // Loki functionMap
    f("ToLower", &[S]),
    f("ToUpper", &[S]),
    f("Replace", &[S, S, S, I]),
    f("Trim", &[S, S]),
    f("TrimLeft", &[S, S]),
    f("TrimRight", &[S, S]),
    f("TrimPrefix", &[S, S]),
    f("TrimSuffix", &[S, S]),
    f("TrimSpace", &[S]),
    f("regexReplaceAll", &[S, S, S]),
    f("regexReplaceAllLiteral", &[S, S, S]),
    f("count", &[S, S]),
    f("urldecode", &[S]),
    f("urlencode", &[S]),
    f("bytes", &[S]),
    f("duration", &[S]),
    f("duration_seconds", &[S]),
    f("unixEpochMillis", &[T]),
    f("unixEpochNanos", &[T]),
    f("toDateInZone", &[S, S, S]),
    f("unixToTime", &[S]),
    f("alignLeft", &[I, S]),
    f("alignRight", &[I, S]),
    f("b64dec", &[S]),
    f("__line__", &[]),
    f("__timestamp__", &[]),
    // sprig subset
    f("b64enc", &[S]),
    f("lower", &[S]),
    f("upper", &[S]),
    f("title", &[S]),
    f("trunc", &[I, S]),
    f("substr", &[I, I, S]),
    f("contains", &[S, S]),
    f("hasPrefix", &[S, S]),
    f("hasSuffix", &[S, S]),
    f("indent", &[I, S]),
    f("nindent", &[I, S]),
    f("replace", &[S, S, S]),
    f("repeat", &[I, S]),
    f("trim", &[S]),
    f("trimAll", &[S, S]),
    f("trimSuffix", &[S, S]),
    f("trimPrefix", &[S, S]),
    f("int", &[A]),
    f("float64", &[A]),
    v("add", &[], A),
    f("sub", &[A, A]),
    v("mul", &[A], A),
    f("div", &[A, A]),
    f("mod", &[A, A]),
    v("addf", &[], A),
    v("subf", &[A], A),
    v("mulf", &[A], A),
    v("divf", &[A], A),
    v("max", &[A], A),
    v("min", &[A], A),
    v("maxf", &[A], A),
    v("minf", &[A], A),
    f("ceil", &[A]),
    f("floor", &[A]),
    v("round", &[A, I], F),
    f("date", &[S, A]),
    f("toDate", &[S, S]),
    f("now", &[]),
    f("unixEpoch", &[T]),
    v("default", &[A], A),
];

/// Looks a function up by name.
pub(super) fn spec(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.name == name)
}

/// What functions can see of the entry being formatted.
pub(super) struct Env<'a> {
    pub(super) labels: &'a [(String, String)],
    pub(super) line: &'a str,
    pub(super) ts_ns: i64,
}

/// Largest string a function may build (`repeat`, `indent`).
const MAX_STRING: usize = 16 << 20;

fn s(a: &[Value], i: usize) -> &str {
    match a.get(i) {
        Some(Value::Str(s)) => s,
        _ => "",
    }
}

fn n(a: &[Value], i: usize) -> i64 {
    match a.get(i) {
        Some(Value::Int(v)) => *v,
        _ => 0,
    }
}

fn arg(a: &[Value], i: usize) -> &Value {
    a.get(i).unwrap_or(&Value::Nil)
}

fn rest(a: &[Value], from: usize) -> &[Value] {
    a.get(from..).unwrap_or(&[])
}

fn t(a: &[Value], i: usize) -> GoTime {
    match a.get(i) {
        Some(Value::Time(t)) => *t,
        _ => GoTime::zero(),
    }
}

#[path = "decimal.rs"]
mod decimal;

#[path = "strfuncs.rs"]
mod strfuncs;
use strfuncs::{
    align, b64dec, b64enc, map_case, query_escape, query_unescape, substring, title, trunc,
    unix_to_time,
};

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x
            .partial_cmp(y)
            .ok_or_else(|| "invalid comparison".to_string()),
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (Value::Bool(_), Value::Bool(_)) | (Value::Nil, _) | (_, Value::Nil) => {
            Err("invalid type for comparison".into())
        }
        (x, y) if x.type_name() == y.type_name() => Err("invalid type for comparison".into()),
        _ => Err("incompatible types for comparison".into()),
    }
}

fn equal(a: &Value, b: &Value) -> Result<bool, String> {
    match (a, b) {
        (Value::Nil, _) | (_, Value::Nil) => Ok(false),
        (x, y) if x.type_name() != y.type_name() => Err("incompatible types for comparison".into()),
        (Value::Labels, _) => Err("non-comparable type map[string]string".into()),
        (x, y) => Ok(x == y),
    }
}

/// Calls function `name` with arguments already converted to its parameter
/// kinds. Errors are the messages Go would wrap as `error calling <name>`.
pub(super) fn call(name: &str, a: &[Value], env: &Env<'_>) -> Result<Value, String> {
    builtin(name, a, env)
        .or_else(|| string_fn(name, a))
        .or_else(|| time_fn(name, a, env))
        .or_else(|| number_fn(name, a))
        .unwrap_or_else(|| Err(format!("function {name:?} not implemented")))
}

/// Go's builtins (truth, length, indexing, printing, comparisons) and sprig's `default`;
/// `None` when `name` is not one of them.
fn builtin(name: &str, a: &[Value], env: &Env<'_>) -> Option<Result<Value, String>> {
    use Value::{Bool, Int, Str};
    let str_ = |v: String| Ok(Str(v));
    Some(match name {
        "not" => Ok(Bool(!a.first().is_some_and(|x| x.truth(env.labels)))),
        "len" => match a.first() {
            Some(Str(s)) => Ok(Int(s.len() as i64)),
            Some(Value::Labels) => Ok(Int(env.labels.len() as i64)),
            Some(other) => Err(format!("len of type {}", other.type_name())),
            None => Err("len of nil pointer".into()),
        },
        "index" => index(a, env),
        "print" => str_(sprint(a, env.labels)),
        "println" => str_(sprintln(a, env.labels)),
        "printf" => str_(sprintf(s(a, 0), rest(a, 1), env.labels)),
        "eq" => eq(a),
        "ne" => equal(arg(a, 0), arg(a, 1)).map(|e| Bool(!e)),
        "lt" => compare(arg(a, 0), arg(a, 1)).map(|o| Bool(o.is_lt())),
        "le" => compare(arg(a, 0), arg(a, 1)).map(|o| Bool(o.is_le())),
        "gt" => compare(arg(a, 0), arg(a, 1)).map(|o| Bool(o.is_gt())),
        "ge" => compare(arg(a, 0), arg(a, 1)).map(|o| Bool(o.is_ge())),
        "default" => {
            let given = a.get(1);
            Ok(match given {
                Some(g) if !g.is_empty_value(env.labels) => g.clone(),
                _ => arg(a, 0).clone(),
            })
        }
        _ => return None,
    })
}

/// Go's `index`: the first argument indexed by each of the others in turn (the labels
/// by name, a string by byte position).
fn index(a: &[Value], env: &Env<'_>) -> Result<Value, String> {
    use Value::{Int, Str};
    let mut cur = a.first().cloned().unwrap_or(Value::Nil);
    for key in a.iter().skip(1) {
        cur = match (&cur, key) {
            (Value::Labels, Str(k)) => Str(env
                .labels
                .iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()),
            (Str(s), Int(i)) => match usize::try_from(*i).ok().and_then(|i| s.as_bytes().get(i)) {
                Some(b) => Int(i64::from(*b)),
                None => return Err(format!("index out of range: {i}")),
            },
            (c, _) => return Err(format!("can't index item of type {}", c.type_name())),
        };
    }
    Ok(cur)
}

/// Go's `eq`: whether the first argument equals any of the others.
fn eq(a: &[Value]) -> Result<Value, String> {
    if a.len() < 2 {
        return Err("missing argument for comparison".into());
    }
    for other in rest(a, 1) {
        if equal(arg(a, 0), other)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

/// String functions of Loki's `functionMap` and sprig: case, trimming, replacing, regexps,
/// URL and base64 coding, alignment, substrings, tests, indentation and repetition;
/// `None` when `name` is not one of them.
fn string_fn(name: &str, a: &[Value]) -> Option<Result<Value, String>> {
    use Value::{Bool, Int, Str};
    let str_ = |v: String| Ok(Str(v));
    Some(match name {
        "ToLower" | "lower" => str_(map_case(s(a, 0), false)),
        "ToUpper" | "upper" => str_(map_case(s(a, 0), true)),
        "title" => str_(title(s(a, 0))),
        "Replace" => {
            let (src, old, new, cnt) = (s(a, 0), s(a, 1), s(a, 2), n(a, 3));
            str_(if cnt < 0 {
                src.replace(old, new)
            } else {
                src.replacen(old, new, cnt as usize)
            })
        }
        "replace" => str_(s(a, 2).replace(s(a, 0), s(a, 1))),
        "Trim" => str_(s(a, 0).trim_matches(|c| s(a, 1).contains(c)).to_string()),
        "trimAll" => str_(s(a, 1).trim_matches(|c| s(a, 0).contains(c)).to_string()),
        "TrimLeft" => str_(
            s(a, 0)
                .trim_start_matches(|c| s(a, 1).contains(c))
                .to_string(),
        ),
        "TrimRight" => str_(
            s(a, 0)
                .trim_end_matches(|c| s(a, 1).contains(c))
                .to_string(),
        ),
        "TrimPrefix" => str_(s(a, 0).strip_prefix(s(a, 1)).unwrap_or(s(a, 0)).to_string()),
        "trimPrefix" => str_(s(a, 1).strip_prefix(s(a, 0)).unwrap_or(s(a, 1)).to_string()),
        "TrimSuffix" => str_(s(a, 0).strip_suffix(s(a, 1)).unwrap_or(s(a, 0)).to_string()),
        "trimSuffix" => str_(s(a, 1).strip_suffix(s(a, 0)).unwrap_or(s(a, 1)).to_string()),
        "TrimSpace" | "trim" => str_(s(a, 0).trim().to_string()),
        "regexReplaceAll" | "regexReplaceAllLiteral" => {
            regex_replace_all(a, name == "regexReplaceAllLiteral")
        }
        "count" => compile_go(s(a, 0))
            .map_err(|e| e.to_string())
            .map(|re| Int(re.find_iter(s(a, 1)).count() as i64)),
        "urldecode" => query_unescape(s(a, 0)).map(Str),
        "urlencode" => str_(query_escape(s(a, 0))),
        "alignLeft" => str_(align(n(a, 0), s(a, 1), true)),
        "alignRight" => str_(align(n(a, 0), s(a, 1), false)),
        "b64dec" => str_(b64dec(s(a, 0))),
        "b64enc" => str_(b64enc(s(a, 0))),
        "trunc" => str_(trunc(n(a, 0), s(a, 1))),
        "substr" => str_(substring(n(a, 0), n(a, 1), s(a, 2))),
        "contains" => Ok(Bool(s(a, 1).contains(s(a, 0)))),
        "hasPrefix" => Ok(Bool(s(a, 1).starts_with(s(a, 0)))),
        "hasSuffix" => Ok(Bool(s(a, 1).ends_with(s(a, 0)))),
        "indent" | "nindent" => indent(a, name == "nindent"),
        "repeat" => repeat(a),
        _ => return None,
    })
}

/// `regexReplaceAll` (`$1` expanded) or, when `literal`, `regexReplaceAllLiteral`.
fn regex_replace_all(a: &[Value], literal: bool) -> Result<Value, String> {
    let re = compile_go(s(a, 0)).map_err(|e| e.to_string())?;
    let out = if literal {
        re.replace_all(s(a, 1), regex::NoExpand(s(a, 2)))
    } else {
        re.replace_all(s(a, 1), s(a, 2))
    };
    Ok(Value::Str(out.into_owned()))
}

/// sprig's `indent` (every line padded) or, when `newline`, `nindent` (and a newline
/// first), refusing results over [`MAX_STRING`].
fn indent(a: &[Value], newline: bool) -> Result<Value, String> {
    let width = usize::try_from(n(a, 0)).unwrap_or(0);
    let lines = s(a, 1).matches('\n').count() + 1;
    if width.saturating_mul(lines).saturating_add(s(a, 1).len()) > MAX_STRING {
        return Err("result too large".into());
    }
    let pad = " ".repeat(width);
    let body = format!("{pad}{}", s(a, 1).replace('\n', &format!("\n{pad}")));
    if body.len() > MAX_STRING {
        return Err("result too large".into());
    }
    Ok(Value::Str(if newline { format!("\n{body}") } else { body }))
}

/// sprig's `repeat`, refusing results over [`MAX_STRING`].
fn repeat(a: &[Value]) -> Result<Value, String> {
    let count =
        usize::try_from(n(a, 0)).map_err(|_| "strings: negative Repeat count".to_string())?;
    if count.saturating_mul(s(a, 1).len()) > MAX_STRING {
        return Err("strings: Repeat output length overflow".into());
    }
    Ok(Value::Str(s(a, 1).repeat(count)))
}

/// Time functions, and the entry's own line and timestamp; `None` when `name` is not one
/// of them.
fn time_fn(name: &str, a: &[Value], env: &Env<'_>) -> Option<Result<Value, String>> {
    use Value::{Int, Str, Time};
    let str_ = |v: String| Ok(Str(v));
    Some(match name {
        "unixEpochMillis" => str_(t(a, 0).unix_millis().to_string()),
        "unixEpochNanos" => str_(t(a, 0).unix_nanos().to_string()),
        "unixEpoch" => str_(t(a, 0).secs.to_string()),
        "toDateInZone" => Ok(Time(
            timefmt::parse(s(a, 0), s(a, 2)).unwrap_or_else(GoTime::zero),
        )),
        "toDate" => Ok(Time(
            timefmt::parse(s(a, 0), s(a, 1)).unwrap_or_else(GoTime::zero),
        )),
        "unixToTime" => unix_to_time(s(a, 0)).map(Time),
        "now" => Ok(Time(GoTime::now())),
        "date" => {
            let when = match a.get(1) {
                Some(Time(t)) => *t,
                Some(Int(secs)) => GoTime {
                    secs: *secs,
                    nanos: 0,
                },
                _ => GoTime::now(),
            };
            str_(timefmt::format(s(a, 0), when))
        }
        "__line__" => str_(env.line.to_string()),
        "__timestamp__" => Ok(Time(GoTime::from_unix_nanos(env.ts_ns))),
        _ => return None,
    })
}

/// Numbers: units parsed from strings (`bytes`, `duration`), conversions, and sprig's
/// integer and float arithmetic; `None` when `name` is not one of them.
fn number_fn(name: &str, a: &[Value]) -> Option<Result<Value, String>> {
    use Value::{Float, Int};
    Some(match name {
        "bytes" => parse_bytes(s(a, 0))
            .map(Float)
            .ok_or_else(|| format!("cannot parse {:?} as bytes", s(a, 0))),
        "duration" | "duration_seconds" => parse_duration_seconds(s(a, 0))
            .map(Float)
            .ok_or_else(|| format!("time: invalid duration {:?}", s(a, 0))),
        "int" => Ok(Int(to_int64(arg(a, 0)))),
        "float64" => Ok(Float(to_float64(arg(a, 0)))),
        "add" => Ok(Int(a
            .iter()
            .fold(0i64, |acc, x| acc.wrapping_add(to_int64(x))))),
        "sub" => Ok(Int(to_int64(arg(a, 0)).wrapping_sub(to_int64(arg(a, 1))))),
        "mul" => Ok(Int(a
            .iter()
            .fold(1i64, |acc, x| acc.wrapping_mul(to_int64(x))))),
        "div" | "mod" => div_mod(a, name == "div"),
        "max" => Ok(Int(a.iter().map(to_int64).max().unwrap_or(0))),
        "min" => Ok(Int(a.iter().map(to_int64).min().unwrap_or(0))),
        "maxf" => Ok(Float(
            a.iter().map(to_float64).fold(f64::NEG_INFINITY, go_max),
        )),
        "minf" => Ok(Float(a.iter().map(to_float64).fold(f64::INFINITY, go_min))),
        "addf" => decimal::op(0.0, a, decimal::Op::Add).map(Float),
        "subf" | "mulf" | "divf" => {
            let op = match name {
                "subf" => decimal::Op::Sub,
                "mulf" => decimal::Op::Mul,
                _ => decimal::Op::Div,
            };
            decimal::op(to_float64(arg(a, 0)), rest(a, 1), op).map(Float)
        }
        "ceil" => Ok(Float(to_float64(arg(a, 0)).ceil())),
        "floor" => Ok(Float(to_float64(arg(a, 0)).floor())),
        "round" => Ok(Float(round(a))),
        _ => return None,
    })
}

/// sprig's integer `div` (when `div`) or `mod`, failing on a zero divisor as Go does.
fn div_mod(a: &[Value], div: bool) -> Result<Value, String> {
    let (x, y) = (to_int64(arg(a, 0)), to_int64(arg(a, 1)));
    if y == 0 {
        return Err("runtime error: integer divide by zero".into());
    }
    Ok(Value::Int(if div {
        x.wrapping_div(y)
    } else {
        x.wrapping_rem(y)
    }))
}

/// sprig's `round`: the first argument to the second's number of decimals, rounded up
/// from the third's fraction (0.5 by default).
fn round(a: &[Value]) -> f64 {
    let round_on = match a.get(2) {
        Some(Value::Float(r)) => *r,
        _ => 0.5,
    };
    let pow = 10f64.powf(n(a, 1) as f64);
    let digit = pow * to_float64(arg(a, 0));
    let rounded = if digit.fract() >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    rounded / pow
}

/// Go's `math.Max` (NaN wins).
fn go_max(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else {
        x.max(y)
    }
}

/// Go's `math.Min` (NaN wins).
fn go_min(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else {
        x.min(y)
    }
}

/// Names of all functions.
pub(super) fn names() -> impl Iterator<Item = &'static str> {
    SPECS.iter().map(|s| s.name)
}
