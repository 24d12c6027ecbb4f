//! Go's builtin template functions plus the Strata `json` function; the Prometheus
//! functions live in `prom.rs`, the escaping functions in `escape.rs`. `and` and `or` are
//! evaluated lazily by the executor.

use std::collections::BTreeMap;

use super::args::{arg, str_arg};
use super::escape::{html, js, json, urlquery};
use super::gofmt::{go_type, print_value, sprint, sprintf, sprintln};
use super::{Value, prom};

const ANY: usize = usize::MAX;

/// Every function with its minimum and maximum argument count.
const FUNCS: &[(&str, usize, usize)] = &[
    ("and", 1, ANY),
    ("or", 1, ANY),
    ("not", 1, 1),
    ("len", 1, 1),
    ("index", 1, ANY),
    ("print", 0, ANY),
    ("printf", 1, ANY),
    ("println", 0, ANY),
    ("eq", 1, ANY),
    ("ne", 2, 2),
    ("lt", 2, 2),
    ("le", 2, 2),
    ("gt", 2, 2),
    ("ge", 2, 2),
    ("html", 0, ANY),
    ("js", 0, ANY),
    ("urlquery", 0, ANY),
    ("json", 1, 1),
    ("humanize", 1, 1),
    ("humanize1024", 1, 1),
    ("humanizeDuration", 1, 1),
    ("humanizePercentage", 1, 1),
    ("humanizeTimestamp", 1, 1),
    ("title", 1, 1),
    ("toUpper", 1, 1),
    ("toLower", 1, 1),
    ("match", 2, 2),
    ("reReplaceAll", 3, 3),
    ("safeHtml", 1, 1),
    ("stripPort", 1, 1),
    ("stripDomain", 1, 1),
    ("parseDuration", 1, 1),
    ("toTime", 1, 1),
    ("urlQueryEscape", 1, 1),
];

/// The argument count range of a function, or `None` if it is not defined.
pub(super) fn arity(name: &str) -> Option<(usize, usize)> {
    FUNCS.iter().find(|f| f.0 == name).map(|f| (f.1, f.2))
}

/// Checks the argument count like Go's "wrong number of args" error.
pub(super) fn check_arity(name: &str, got: usize) -> Result<(), String> {
    match arity(name) {
        Some((min, max)) if got >= min && got <= max => Ok(()),
        Some((min, ANY)) => Err(format!(
            "wrong number of args for {name}: want at least {min} got {got}"
        )),
        Some((min, _)) => Err(format!(
            "wrong number of args for {name}: want {min} got {got}"
        )),
        None => Err(format!("function {name:?} not defined")),
    }
}

/// Go's truthiness: false, 0, nil and empty strings, lists and maps are false.
pub(super) fn truth(v: &Value) -> bool {
    match v {
        Value::Nil => false,
        Value::Bool(b) => *b,
        Value::Num(f) => *f != 0.0,
        Value::Int(i) => *i != 0,
        Value::Str(s) => !s.is_empty(),
        Value::List(l) => !l.is_empty(),
        Value::Map(m) => !m.is_empty(),
    }
}

/// The value of a missing map key under Prometheus's `missingkey=zero`: the zero value
/// of the map's element type, i.e. `""` for string maps like `$labels`, else nil.
pub(super) fn missing(m: &BTreeMap<String, Value>) -> Value {
    if m.values().all(|v| matches!(v, Value::Str(_))) {
        Value::Str(String::new())
    } else {
        Value::Nil
    }
}

/// Calls function `name` (other than `and`/`or`) with evaluated arguments.
pub(super) fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    let a0 = arg(args, 0);
    let rest = args.get(1..).unwrap_or(&[]);
    Ok(match name {
        "not" => Value::Bool(!truth(a0)),
        "len" => Value::Int(match a0 {
            Value::Str(s) => s.len(),
            Value::List(l) => l.len(),
            Value::Map(m) => m.len(),
            Value::Nil => return Err("len of untyped nil".into()),
            v => return Err(format!("len of type {}", go_type(v))),
        } as i64),
        "index" => index(a0, rest)?,
        "print" => Value::Str(sprint(args)),
        "println" => Value::Str(sprintln(args)),
        "printf" => Value::Str(sprintf(str_arg(args, 0)?, rest)),
        "eq" => Value::Bool(eq(a0, rest)?),
        "ne" => Value::Bool(!eq(a0, rest)?),
        "lt" => Value::Bool(lt(a0, arg(args, 1))?),
        "le" => Value::Bool(lt(a0, arg(args, 1))? || eq(a0, rest)?),
        "gt" => Value::Bool(!(lt(a0, arg(args, 1))? || eq(a0, rest)?)),
        "ge" => Value::Bool(!lt(a0, arg(args, 1))?),
        "html" => Value::Str(html(&text_of(args))),
        "js" => Value::Str(js(&text_of(args))),
        "urlquery" => Value::Str(urlquery(&text_of(args))),
        "json" => Value::Str(json(&text_of(args))),
        _ => prom::call(name, args)?,
    })
}

/// Go's `index`: successive list positions (ints), map keys (strings) or string bytes.
fn index(item: &Value, keys: &[Value]) -> Result<Value, String> {
    let mut cur = item.clone();
    for key in keys {
        let pos = |len: usize| match key {
            Value::Int(i) => usize::try_from(*i)
                .ok()
                .filter(|&i| i < len)
                .ok_or(format!("index out of range: {i}")),
            Value::Nil => Err("cannot index slice/array with nil".into()),
            k => Err(format!("cannot index slice/array with type {}", go_type(k))),
        };
        cur = match (&cur, key) {
            (Value::List(l), _) => l.get(pos(l.len())?).cloned().unwrap_or(Value::Nil),
            (Value::Str(s), _) => Value::Int(
                s.as_bytes()
                    .get(pos(s.len())?)
                    .copied()
                    .map_or(0, i64::from),
            ),
            (Value::Map(m), Value::Str(k)) => m.get(k).cloned().unwrap_or_else(|| missing(m)),
            (Value::Map(_), k) => {
                return Err(format!("value has type {}; should be string", go_type(k)));
            }
            (Value::Nil, _) => return Err("index of untyped nil".into()),
            (v, _) => return Err(format!("can't index item of type {}", go_type(v))),
        };
    }
    Ok(cur)
}

/// Go's `eq arg1 arg2...`: true if arg1 equals any of the others. Like Go, an int and a
/// float64 (e.g. `eq $value 1`, where `$value` is a float64) are "incompatible types for
/// comparison"; write `eq $value 1.0` instead.
fn eq(a: &Value, others: &[Value]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".into());
    }
    for b in others {
        let equal = match (a, b) {
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Num(x), Value::Num(y)) => x == y,
            (Value::Str(x), Value::Str(y)) => x == y,
            (Value::Nil, Value::Nil) => true,
            (Value::Nil, _) | (_, Value::Nil) => false,
            (v @ (Value::List(_) | Value::Map(_)), _)
            | (_, v @ (Value::List(_) | Value::Map(_))) => {
                return Err(format!(
                    "non-comparable type {}: {}",
                    sprint(std::slice::from_ref(v)),
                    go_type(v)
                ));
            }
            _ => return Err("incompatible types for comparison".into()),
        };
        if equal {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `lt`: numbers of the same type compare numerically, strings bytewise; int versus
/// float64 is an error, as in Go (`gt $value 10` fails; write `gt $value 10.0`).
fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    let invalid = |v: &Value| matches!(v, Value::Nil | Value::List(_) | Value::Map(_));
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x < y),
        (Value::Num(x), Value::Num(y)) => Ok(x < y),
        (Value::Str(x), Value::Str(y)) => Ok(x < y),
        (Value::Bool(_), Value::Bool(_)) => Err("invalid type for comparison".into()),
        _ if invalid(a) || invalid(b) => Err("invalid type for comparison".into()),
        _ => Err("incompatible types for comparison".into()),
    }
}

/// The text the escaping functions work on: a lone string, else `Sprint` of the
/// arguments with nil shown as `<no value>` (Go's `evalArgs`).
fn text_of(args: &[Value]) -> String {
    match args {
        [Value::Str(s)] => s.clone(),
        _ => {
            let shown: Vec<Value> = args
                .iter()
                .map(|a| {
                    if *a == Value::Nil {
                        Value::Str(print_value(a))
                    } else {
                        a.clone()
                    }
                })
                .collect();
            sprint(&shown)
        }
    }
}
