//! Go's `fmt` formatting of template values: `%v` printing, `Sprint`, `Sprintln`,
//! `Sprintf` with the common verbs and flags, and `strconv`-style float formatting.

use super::{MAX_DEPTH, MAX_OUTPUT, Value};

/// Go's name of a value's dynamic type, as shown by `%T` and in error messages.
pub(super) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Num(_) => "float64",
        Value::Int(_) => "int",
        Value::Str(_) => "string",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
    }
}

/// Go's `%#U` for error messages, e.g. `U+0023 '#'`.
pub(super) fn rune_name(c: char) -> String {
    if printable(c) {
        format!("U+{:04X} '{c}'", c as u32)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

fn printable(c: char) -> bool {
    !c.is_control() && (c == ' ' || !c.is_whitespace())
}

/// Go's `strconv.Quote`.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x80 && !printable(c) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// What an action prints for a value: nil is `<no value>`, the rest is `%v`.
pub(super) fn print_value(v: &Value) -> String {
    match v {
        Value::Nil => "<no value>".into(),
        v => sprint(std::slice::from_ref(v)),
    }
}

/// Go's `fmt.Sprint`: spaces between operands when neither is a string.
pub(super) fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_str = true;
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, Value::Str(_));
        if i > 0 && !is_str && !prev_str {
            out.push(' ');
        }
        format_value(&mut out, a, 'v', &Spec::default(), 0);
        prev_str = is_str;
    }
    out
}

/// Go's `fmt.Sprintln`: operands separated by spaces, then a newline.
pub(super) fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        format_value(&mut out, a, 'v', &Spec::default(), 0);
    }
    out.push('\n');
    out
}

/// Flags, width and precision of one `%` directive.
#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    sharp: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf`, including its `%!verb(type=value)` error notation.
pub(super) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() > MAX_OUTPUT {
            break; // the caller rejects the oversized result
        }
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut s = Spec::default();
        while let Some(f) = chars.next_if(|f| "-+ 0#".contains(*f)) {
            match f {
                '-' => s.minus = true,
                '+' => s.plus = true,
                ' ' => s.space = true,
                '0' => s.zero = true,
                _ => s.sharp = true,
            }
        }
        let mut number =
            |chars: &mut std::iter::Peekable<std::str::Chars>, out: &mut String, bad| {
                if chars.next_if_eq(&'*').is_some() {
                    let arg = args.get(next);
                    next += 1;
                    return match arg {
                        Some(Value::Int(n)) if n.unsigned_abs() < 1_000_000 => Some(*n),
                        _ => {
                            out.push_str(bad);
                            None
                        }
                    };
                }
                let mut n: Option<i64> = None;
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    n = Some(
                        n.unwrap_or(0)
                            .saturating_mul(10)
                            .saturating_add(i64::from(d as u8 - b'0')),
                    );
                }
                if n.is_some_and(|n| n >= 1_000_000) {
                    out.push_str(bad);
                    return None;
                }
                n
            };
        if let Some(w) = number(&mut chars, &mut out, "%!(BADWIDTH)") {
            s.minus |= w < 0;
            s.width = usize::try_from(w.unsigned_abs()).ok();
        }
        if chars.next_if_eq(&'.').is_some() {
            let p = number(&mut chars, &mut out, "%!(BADPREC)");
            s.prec = p.and_then(|p| usize::try_from(p).ok()).or(Some(0));
        }
        s.zero &= !s.minus;
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            Some(v) => format_value(&mut out, v, verb, &s, 0),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
        next += 1;
    }
    if let Some(extra) = args.get(next..).filter(|e| !e.is_empty()) {
        out.push_str("%!(EXTRA ");
        for (i, v) in extra.iter().enumerate() {
            let sep = if i > 0 { ", " } else { "" };
            out.push_str(&format!(
                "{sep}{}={}",
                go_type(v),
                sprint(std::slice::from_ref(v))
            ));
        }
        out.push(')');
    }
    out
}

/// Pads `s` to the width with spaces (or `fill` on the left).
fn pad(out: &mut String, s: &str, spec: &Spec) {
    let fill = spec.width.unwrap_or(0).saturating_sub(s.chars().count());
    if !spec.minus {
        out.extend(std::iter::repeat_n(' ', fill));
    }
    out.push_str(s);
    if spec.minus {
        out.extend(std::iter::repeat_n(' ', fill));
    }
}

/// Formats one value with one verb, recursing into lists and maps like Go.
fn format_value(out: &mut String, v: &Value, verb: char, s: &Spec, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("...");
        return;
    }
    match (v, verb) {
        (_, 'T') => pad(out, go_type(v), s),
        (Value::List(items), _) => {
            out.push('[');
            for (i, e) in items.iter().enumerate() {
                if out.len() > MAX_OUTPUT {
                    break;
                }
                if i > 0 {
                    out.push(' ');
                }
                format_value(out, e, verb, s, depth + 1);
            }
            out.push(']');
        }
        (Value::Map(m), _) => {
            out.push_str("map[");
            for (i, (k, e)) in m.iter().enumerate() {
                if out.len() > MAX_OUTPUT {
                    break;
                }
                if i > 0 {
                    out.push(' ');
                }
                format_value(out, &Value::Str(k.clone()), verb, s, depth + 1);
                out.push(':');
                format_value(out, e, verb, s, depth + 1);
            }
            out.push(']');
        }
        (Value::Nil, 'v') => pad(out, "<nil>", s),
        (Value::Nil, _) => out.push_str(&format!("%!{verb}(<nil>)")),
        (Value::Bool(b), 'v' | 't') => pad(out, if *b { "true" } else { "false" }, s),
        (Value::Int(i), 'v' | 'd' | 'b' | 'o' | 'x' | 'X') => pad(out, &fmt_int(*i, verb, s), s),
        (Value::Int(i), 'c' | 'U') => {
            let c = u32::try_from(*i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            let text = if verb == 'c' {
                c.to_string()
            } else {
                format!("U+{:04X}", c as u32)
            };
            pad(out, &text, s);
        }
        (Value::Num(f), 'v' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G') => fmt_float(out, *f, verb, s),
        (Value::Str(t), 'v' | 's') => match s.prec.and_then(|p| t.char_indices().nth(p)) {
            Some((i, _)) => pad(out, t.get(..i).unwrap_or(""), s),
            None => pad(out, t, s),
        },
        (Value::Str(t), 'q') => pad(out, &quote(t), s),
        (Value::Str(t), 'x' | 'X') => {
            let hex: String = t.bytes().map(|b| format!("{b:02x}")).collect();
            pad(out, &if verb == 'X' { hex.to_uppercase() } else { hex }, s);
        }
        _ => {
            let shown = sprint(std::slice::from_ref(v));
            out.push_str(&format!("%!{verb}({}={shown})", go_type(v)));
        }
    }
}

/// Go's integer formatting: sign, `#` prefix, precision as minimum digits, zero padding.
fn fmt_int(i: i64, verb: char, s: &Spec) -> String {
    let u = i.unsigned_abs();
    let mut digits = match verb {
        'b' => format!("{u:b}"),
        'o' => format!("{u:o}"),
        'x' => format!("{u:x}"),
        'X' => format!("{u:X}"),
        _ => u.to_string(),
    };
    let sign = if i < 0 {
        "-"
    } else if s.plus {
        "+"
    } else if s.space {
        " "
    } else {
        ""
    };
    let prefix = match (s.sharp, verb) {
        (true, 'x') => "0x",
        (true, 'X') => "0X",
        (true, 'o') => "0",
        (true, 'b') => "0b",
        _ => "",
    };
    let min = match (s.prec, s.width) {
        (Some(0), _) if u == 0 => {
            digits.clear();
            0
        }
        (Some(p), _) => p,
        (None, Some(w)) if s.zero => w.saturating_sub(sign.len()),
        _ => 0,
    };
    format!("{sign}{prefix}{digits:0>min$}")
}

/// Go's float formatting through `fmt`: flags, padding, `%E`/`%G` upper case.
fn fmt_float(out: &mut String, f: f64, verb: char, s: &Spec) {
    let lower = verb.to_ascii_lowercase();
    let num = match lower {
        'e' | 'f' => format_float(f, lower, Some(s.prec.unwrap_or(6))),
        _ => format_float(f, 'g', s.prec),
    };
    let num = if verb == 'E' || verb == 'G' {
        num.replace('e', "E")
    } else {
        num
    };
    let (sign, body) = match num.strip_prefix(['-', '+']) {
        Some(body) => (num.get(..1).unwrap_or(""), body),
        None => ("+", num.as_str()),
    };
    let sign = match sign {
        "+" if s.plus => "+",
        "+" if s.space => " ",
        "+" if f.is_infinite() => "+",
        "+" => "",
        other => other,
    };
    if s.zero && f.is_finite() {
        let width = s.width.unwrap_or(0).saturating_sub(sign.len());
        pad(out, &format!("{sign}{body:0>width$}"), s);
    } else {
        pad(out, &format!("{sign}{body}"), s);
    }
}

/// Go's `strconv.FormatFloat(f, verb, prec, 64)` for verbs `e`, `f`, `g`; `None` is the
/// shortest representation (for `g`, with exponent form below 1e-4 or from 1e+6 on).
pub(super) fn format_float(f: f64, verb: char, prec: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let a = f.abs();
    let p = prec.unwrap_or(0);
    let sci = match (verb, prec) {
        ('f', _) => return format!("{sign}{a:.p$}"),
        ('e', _) => format!("{a:.p$e}"),
        (_, Some(p)) => format!("{a:.*e}", p.max(1) - 1),
        (_, None) => format!("{a:e}"),
    };
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let e_form = |m: &str| {
        format!(
            "{sign}{m}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    };
    if verb == 'e' {
        return e_form(mant);
    }
    let digits = mant.replace('.', "");
    let digits = match digits.trim_end_matches('0') {
        "" => "0",
        d => d,
    };
    let eprec = prec.map_or(6, |p| p.max(1) as i32);
    if exp < -4 || exp >= eprec {
        let (first, rest) = digits.split_at_checked(1).unwrap_or((digits, ""));
        let dot = if rest.is_empty() { "" } else { "." };
        return e_form(&format!("{first}{dot}{rest}"));
    }
    let dp = exp + 1;
    let nd = digits.len() as i32;
    if dp <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat(dp.unsigned_abs() as usize))
    } else if dp >= nd {
        format!("{sign}{digits}{}", "0".repeat((dp - nd) as usize))
    } else {
        let (int, frac) = digits.split_at_checked(dp as usize).unwrap_or((digits, ""));
        format!("{sign}{int}.{frac}")
    }
}
