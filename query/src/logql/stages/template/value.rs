//! Values flowing through a template, with Go's printing, truthiness and
//! sprig/cast conversion rules.

use std::fmt::Write as _;

use super::timefmt::{GoTime, time_string};
use crate::logql::stages::units::{parse_go_float, parse_go_int};

/// A template value (Go's dynamic `interface{}` as seen by text/template).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    /// Untyped nil.
    Nil,
    /// bool
    Bool(bool),
    /// int / int64
    Int(i64),
    /// float64
    Float(f64),
    /// string
    Str(String),
    /// time.Time (UTC)
    Time(GoTime),
    /// The data root: the entry's labels (`map[string]string`).
    Labels,
}

impl Value {
    /// Go type name used in error messages.
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Time(_) => "time.Time",
            Value::Labels => "map[string]string",
        }
    }

    /// Go template truthiness (`if`, `with`, `and`, `or`, `not`).
    pub(super) fn truth(&self, labels: &[(String, String)]) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Time(_) => true,
            Value::Labels => !labels.is_empty(),
        }
    }

    /// sprig's `empty` (used by `default`): zero values are empty.
    pub(super) fn is_empty_value(&self, labels: &[(String, String)]) -> bool {
        match self {
            Value::Time(_) => false,
            other => !other.truth(labels),
        }
    }

    /// `fmt.Sprint`-style rendering (`%v`).
    pub(super) fn to_go_string(&self, labels: &[(String, String)]) -> String {
        match self {
            Value::Nil => "<nil>".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_float(*f, 'g', None),
            Value::Str(s) => s.clone(),
            Value::Time(t) => time_string(*t),
            Value::Labels => {
                let mut sorted: Vec<&(String, String)> = labels.iter().collect();
                sorted.sort();
                let mut out = String::from("map[");
                for (i, (k, v)) in sorted.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    let _ = write!(out, "{k}:{v}");
                }
                out.push(']');
                out
            }
        }
    }
}

/// spf13/cast `ToInt64` (used by sprig math): numbers convert (floats
/// truncate), strings parse with `ParseInt(s, 0, 64)` after dropping an
/// all-zero fraction (`"2.0"`), bools are 0/1, anything else is 0.
pub(super) fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => parse_go_int(trim_zero_decimal(s)).unwrap_or(0),
        Value::Nil | Value::Time(_) | Value::Labels => 0,
    }
}

fn trim_zero_decimal(s: &str) -> &str {
    let b = s.as_bytes();
    let mut found_zero = false;
    for i in (0..b.len()).rev() {
        match b[i] {
            b'.' => return if found_zero { &s[..i] } else { s },
            b'0' => found_zero = true,
            _ => return s,
        }
    }
    s
}

/// spf13/cast `ToFloat64`.
pub(super) fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => parse_go_float(s).unwrap_or(0.0),
        Value::Nil | Value::Time(_) | Value::Labels => 0.0,
    }
}

/// Decimal digits of `f` and the position of the decimal point, either the
/// shortest round-trip digits (`sig = None`) or rounded to `sig` significant
/// digits (trailing zeros trimmed). `f` must be finite and non-negative.
fn digits(f: f64, sig: Option<usize>) -> (Vec<u8>, i32) {
    let s = match sig {
        None => format!("{f:e}"),
        Some(n) => format!("{:.*e}", n.saturating_sub(1), f),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    while d.len() > 1 && d.last() == Some(&0) {
        d.pop();
    }
    if d == [0] {
        return (Vec::new(), 0);
    }
    (d, exp + 1)
}

fn fmt_e(d: &[u8], dp: i32, prec: usize, upper: bool) -> String {
    let mut out = String::new();
    out.push(char::from(b'0' + d.first().copied().unwrap_or(0)));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(char::from(b'0' + d.get(i).copied().unwrap_or(0)));
        }
    }
    let exp = if d.is_empty() { 0 } else { dp - 1 };
    out.push(if upper { 'E' } else { 'e' });
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", exp.unsigned_abs());
    out
}

fn fmt_f(d: &[u8], dp: i32, prec: usize) -> String {
    let mut out = String::new();
    if dp > 0 {
        for i in 0..dp as usize {
            out.push(char::from(b'0' + d.get(i).copied().unwrap_or(0)));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec as i64 {
            let idx = i64::from(dp) + i;
            let digit = usize::try_from(idx)
                .ok()
                .and_then(|k| d.get(k))
                .copied()
                .unwrap_or(0);
            out.push(char::from(b'0' + digit));
        }
    }
    out
}

/// Go's `strconv.FormatFloat(f, verb, prec, 64)` for verbs `e E f F g G`
/// (`prec = None` is Go's `-1`, shortest representation).
pub(super) fn format_float(f: f64, verb: char, prec: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let neg = f.is_sign_negative();
    let a = f.abs();
    let body = match verb {
        'e' | 'E' => {
            let (d, dp) = digits(a, prec.map(|p| p + 1));
            let p = prec.unwrap_or(d.len().saturating_sub(1));
            fmt_e(&d, dp, p, verb == 'E')
        }
        'f' | 'F' => match prec {
            Some(p) => format!("{a:.p$}"),
            None => {
                let (d, dp) = digits(a, None);
                fmt_f(&d, dp, usize::try_from(d.len() as i32 - dp).unwrap_or(0))
            }
        },
        _ => {
            let shortest = prec.is_none();
            let (d, dp) = digits(a, prec.map(|p| p.max(1)));
            let mut p = prec.map_or(d.len(), |p| p.max(1));
            let mut eprec = p as i32;
            if eprec > d.len() as i32 && d.len() as i32 >= dp {
                eprec = d.len() as i32;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            if !d.is_empty() && (exp < -4 || exp >= eprec) {
                p = p.min(d.len());
                fmt_e(&d, dp, p.saturating_sub(1), verb == 'G')
            } else {
                if p as i32 > dp {
                    p = d.len();
                }
                fmt_f(&d, dp, usize::try_from(p as i32 - dp).unwrap_or(0))
            }
        }
    };
    if neg { format!("-{body}") } else { body }
}
