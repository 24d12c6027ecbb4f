//! Go `fmt.Sprintf` / `Sprint` / `Sprintln` for template values: flags
//! `- + # 0 space`, width and precision (also `*`), verbs
//! `v s q d b o O x X c U e E f F g G t T %`, and Go's error forms
//! (`%!d(string=x)`, `%!d(MISSING)`, `%!(EXTRA ...)`).

use super::value::{Value, format_float};
use crate::go::quote as go_quote;

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

const MAX_WIDTH: usize = 1 << 20;

fn pad(s: String, spec: &Spec, numeric: bool) -> String {
    let len = s.chars().count();
    let Some(w) = spec.width.filter(|w| *w > len) else {
        return s;
    };
    let fill = w - len;
    if spec.minus {
        return s + &" ".repeat(fill);
    }
    if spec.zero {
        // Zeros go after a sign for numbers.
        if numeric && (s.starts_with('-') || s.starts_with('+') || s.starts_with(' ')) {
            let (sign, digits) = s.split_at(1);
            return format!("{sign}{}{digits}", "0".repeat(fill));
        }
        return "0".repeat(fill) + &s;
    }
    " ".repeat(fill) + &s
}

fn bad_verb(verb: char, v: &Value, labels: &[(String, String)]) -> String {
    match v {
        Value::Nil => format!("%!{verb}(<nil>)"),
        other => format!(
            "%!{verb}({}={})",
            other.type_name(),
            other.to_go_string(labels)
        ),
    }
}

fn signed(s: String, neg: bool, spec: &Spec) -> String {
    if neg {
        format!("-{s}")
    } else if spec.plus {
        format!("+{s}")
    } else if spec.space {
        format!(" {s}")
    } else {
        s
    }
}

fn fmt_int(i: i64, verb: char, spec: &Spec) -> Option<String> {
    let neg = i < 0;
    let u = i.unsigned_abs();
    let body = match verb {
        'd' | 'v' => u.to_string(),
        'b' => format!("{u:b}"),
        'o' => format!("{}{u:o}", if spec.sharp { "0" } else { "" }),
        'O' => format!("0o{u:o}"),
        'x' => format!("{}{u:x}", if spec.sharp { "0x" } else { "" }),
        'X' => format!("{}{u:X}", if spec.sharp { "0X" } else { "" }),
        'c' => {
            return Some(
                char::from_u32(u32::try_from(i).ok()?)
                    .unwrap_or('\u{FFFD}')
                    .to_string(),
            );
        }
        'q' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            let q = go_quote(&c.to_string());
            return Some(format!(
                "'{}'",
                &q[1..q.len() - 1].replace("\\\"", "\"").replace('\'', "\\'")
            ));
        }
        'U' => return Some(format!("U+{u:04X}")),
        _ => return None,
    };
    // Precision on integers is a minimum digit count.
    let body = match spec.prec {
        Some(p) if body.len() < p => "0".repeat(p - body.len()) + &body,
        _ => body,
    };
    Some(signed(body, neg, spec))
}

fn fmt_float(f: f64, verb: char, spec: &Spec) -> Option<String> {
    let prec = spec.prec;
    let s = match verb {
        'v' | 'g' | 'G' => format_float(f, if verb == 'G' { 'G' } else { 'g' }, prec),
        'e' | 'E' | 'f' | 'F' => format_float(f, verb, Some(prec.unwrap_or(6))),
        _ => return None,
    };
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, s.strip_prefix('+').map_or(s.clone(), str::to_string)),
    };
    if body == "Inf" && !neg && !spec.plus && !spec.space {
        return Some("+Inf".to_string());
    }
    Some(signed(body, neg, spec))
}

fn fmt_str(s: &str, verb: char, spec: &Spec) -> Option<String> {
    let s = match spec.prec {
        Some(p) if matches!(verb, 's' | 'v' | 'q') => s.chars().take(p).collect::<String>(),
        _ => s.to_string(),
    };
    match verb {
        's' | 'v' => Some(s),
        'q' => Some(go_quote(&s)),
        'x' => Some(s.bytes().map(|b| format!("{b:02x}")).collect()),
        'X' => Some(s.bytes().map(|b| format!("{b:02X}")).collect()),
        _ => None,
    }
}

fn format_one(verb: char, v: &Value, spec: &Spec, labels: &[(String, String)]) -> String {
    if verb == 'T' {
        return pad(v.type_name().to_string(), spec, false);
    }
    let (out, numeric) = match v {
        Value::Int(i) => (fmt_int(*i, verb, spec), true),
        Value::Float(f) => (fmt_float(*f, verb, spec), true),
        Value::Str(s) => (fmt_str(s, verb, spec), false),
        Value::Bool(b) if matches!(verb, 't' | 'v') => (Some(b.to_string()), false),
        Value::Nil if verb == 'v' => (Some("<nil>".to_string()), false),
        Value::Time(_) | Value::Labels if matches!(verb, 'v' | 's') => {
            (Some(v.to_go_string(labels)), false)
        }
        _ => (None, false),
    };
    match out {
        Some(s) => pad(s, spec, numeric),
        None => bad_verb(verb, v, labels),
    }
}

/// Go's `fmt.Sprintf`.
pub(super) fn sprintf(format: &str, args: &[Value], labels: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                _ => break,
            }
            chars.next();
        }
        let mut number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| -> Option<usize> {
            if chars.peek() == Some(&'*') {
                chars.next();
                let v = match args.get(next) {
                    Some(Value::Int(i)) => usize::try_from(*i).ok(),
                    _ => None,
                };
                next += 1;
                return v.map(|v| v.min(MAX_WIDTH));
            }
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some((n.unwrap_or(0) * 10 + d as usize).min(MAX_WIDTH));
                chars.next();
            }
            n
        };
        spec.width = number(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            Some(v) => out.push_str(&format_one(verb, v, &spec, labels)),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
        next += 1;
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|v| match v {
                Value::Nil => "<nil>".to_string(),
                v => format!("{}={}", v.type_name(), v.to_go_string(labels)),
            })
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

/// Go's `fmt.Sprint`: spaces only between operands that are not strings.
pub(super) fn sprint(args: &[Value], labels: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, v) in args.iter().enumerate() {
        let is_str = matches!(v, Value::Str(_));
        if i > 0 && !is_str && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&v.to_go_string(labels));
    }
    out
}

/// Go's `fmt.Sprintln`: always spaces, trailing newline.
pub(super) fn sprintln(args: &[Value], labels: &[(String, String)]) -> String {
    let parts: Vec<String> = args.iter().map(|v| v.to_go_string(labels)).collect();
    parts.join(" ") + "\n"
}
