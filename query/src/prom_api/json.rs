//! The JSON text of Prometheus's API, written by hand so numbers and strings come out byte
//! for byte as Prometheus (Go's `encoding/json`, jsoniter and `util/jsonutil`) writes them.
//!
//! Three number formats exist side by side in Prometheus's responses:
//! - sample timestamps of vectors and matrices ([`timestamp`]): whole seconds, then `.` and
//!   exactly three digits when the millisecond part is not zero (`1.500`, not `1.5`);
//! - sample values of vectors and matrices ([`sample_value`]): Go's shortest `'f'` format,
//!   switching to `'e'` (`1e+21`, `1e-07`) below 1e-6 and from 1e21 on, `NaN`, `+Inf`, `-Inf`;
//! - scalars and strings ([`float_seconds`], [`scalar_value`]): the timestamp as a float
//!   (`1.5`) and the value always in `'f'` format (`1000000000000000000000`).

use std::fmt::Write as _;

use crate::promql::Labels;
use crate::promql::native::FloatHistogram;

/// Which Go encoder a string goes through: the two differ only for `\b` and `\f`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escape {
    /// Go's `encoding/json` (Go 1.22 and later): `\b` and `\f` as short escapes. Prometheus
    /// marshals label sets with it.
    Std,
    /// jsoniter's standard-compatible config: every control byte but `\n`, `\r`, `\t` as
    /// `\u00XX`. Everything else in a response (errors, warnings, label name lists).
    Jsoniter,
}

/// Appends `s` as a JSON string: quotes, backslashes and control bytes escaped, and, as both
/// Go encoders do by default, `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes.
pub(crate) fn string(out: &mut String, s: &str, esc: Escape) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let short = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' if esc == Escape::Std => Some("\\b"),
            '\u{c}' if esc == Escape::Std => Some("\\f"),
            _ => None,
        };
        let needs_u = matches!(
            c,
            '\u{0}'..='\u{1f}' | '<' | '>' | '&' | '\u{2028}' | '\u{2029}'
        );
        if short.is_none() && !needs_u {
            continue;
        }
        out.push_str(&s[start..i]);
        match short {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends a label set as a JSON object in label order (sorted by name), as Prometheus's
/// `labels.Labels` marshals.
pub(crate) fn labels(out: &mut String, l: &Labels) {
    out.push('{');
    for (i, (n, v)) in l.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, n, Escape::Std);
        out.push(':');
        string(out, v, Escape::Std);
    }
    out.push('}');
}

/// Appends a millisecond timestamp the way `jsonutil.MarshalTimestamp` does: seconds, and
/// when the millisecond part is not zero, `.` and three digits (`1.500`, `-0.001`).
pub(crate) fn timestamp(out: &mut String, ms: i64) {
    if ms < 0 {
        out.push('-');
    }
    let abs = ms.unsigned_abs();
    push_u64(out, abs / 1000);
    let frac = abs % 1000;
    if frac != 0 {
        out.push('.');
        for d in [frac / 100, frac / 10 % 10, frac % 10] {
            out.push(char::from(b'0' + d as u8));
        }
    }
}

/// Appends `n` in decimal without going through the formatting machinery.
fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(char::from(b));
    }
}

/// Appends a millisecond timestamp as Go's `encoding/json` writes `float64(ms) / 1000`
/// (scalars and strings): the shortest decimal that reads back as the same float.
pub(crate) fn float_seconds(out: &mut String, ms: i64) {
    // Go's float encoder switches to exponent form only below 1e-6 or from 1e21 on, which a
    // millisecond timestamp over 1000 never reaches; Rust's `Display` is the same shortest
    // round-trip decimal without exponent.
    let _ = write!(out, "{}", ms as f64 / 1000.0);
}

/// A float as Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits, no
/// exponent, `NaN`, `+Inf`, `-Inf`, `-0`.
#[cfg(test)]
pub(crate) fn format_f(v: f64) -> String {
    let mut s = String::new();
    push_f(&mut s, v);
    s
}

/// Appends [`format_f`]'s text of `v` to `out`.
fn push_f(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 && (v != 0.0 || v.is_sign_positive()) {
        // A whole number (most counters and gauges): its digits, as `Display` prints them.
        if v < 0.0 {
            out.push('-');
        }
        push_u64(out, v.abs() as u64);
    } else {
        // Rust's `Display` for f64 prints the shortest round-trip digits without exponent,
        // the same text as Go's 'f' format with precision -1.
        let _ = write!(out, "{v}");
    }
}

/// A float as Go's `strconv.FormatFloat(v, 'e', -1, 64)`: shortest digits, `e`, a sign and
/// at least two exponent digits (`1e+21`, `1.5e-07`).
fn format_e(v: f64) -> String {
    let s = format!("{v:e}"); // shortest digits: "1e21", "1.5e-7"
    let Some((mantissa, exp)) = s.split_once('e') else {
        return s;
    };
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    if digits.len() < 2 {
        format!("{mantissa}e{sign}0{digits}")
    } else {
        format!("{mantissa}e{sign}{digits}")
    }
}

/// Appends a sample value of a vector or matrix as `jsonutil.MarshalFloat` does: a JSON
/// string of Go's `'f'` format, or `'e'` when the magnitude is below 1e-6 or at least 1e21.
pub(crate) fn sample_value(out: &mut String, v: f64) {
    let abs = v.abs();
    out.push('"');
    if abs != 0.0 && abs.is_finite() && !(1e-6..1e21).contains(&abs) {
        out.push_str(&format_e(v));
    } else {
        push_f(out, v);
    }
    out.push('"');
}

/// Appends a native histogram as `jsonutil.MarshalHistogram` does:
/// `{"count":"..","sum":"..","buckets":[[b,"lo","hi","n"],..]}`, `b` saying which
/// boundaries are inclusive (0: upper, 1: lower, 2: neither, 3: both), empty buckets left
/// out, and no `buckets` key when all are empty.
pub(crate) fn histogram(out: &mut String, h: &FloatHistogram) {
    out.push_str("{\"count\":");
    sample_value(out, h.count);
    out.push_str(",\"sum\":");
    sample_value(out, h.sum);
    let mut found = false;
    for b in h.all_buckets() {
        if b.count == 0.0 {
            continue;
        }
        out.push_str(if found { "," } else { ",\"buckets\":[" });
        found = true;
        let code = match (b.lower_inclusive, b.upper_inclusive) {
            (true, true) => '3',
            (true, false) => '1',
            (false, true) => '0',
            (false, false) => '2',
        };
        out.push('[');
        out.push(code);
        out.push(',');
        sample_value(out, b.lower);
        out.push(',');
        sample_value(out, b.upper);
        out.push(',');
        sample_value(out, b.count);
        out.push(']');
    }
    if found {
        out.push(']');
    }
    out.push('}');
}

/// Appends a scalar's value as `promql.Scalar` marshals it: a JSON string in `'f'` format
/// whatever the magnitude.
pub(crate) fn scalar_value(out: &mut String, v: f64) {
    out.push('"');
    push_f(out, v);
    out.push('"');
}

/// Appends a list of strings as a JSON array.
pub(crate) fn string_array(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, s, Escape::Jsoniter);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(v: f64) -> String {
        let mut s = String::new();
        sample_value(&mut s, v);
        s
    }

    fn ts(ms: i64) -> String {
        let mut s = String::new();
        timestamp(&mut s, ms);
        s
    }

    #[test]
    fn sample_values_format_like_jsonutil() {
        // Expected texts: Go's strconv.AppendFloat with the format jsonutil picks.
        let cases: &[(f64, &str)] = &[
            (1.5, "\"1.5\""),
            (0.0, "\"0\""),
            (-0.0, "\"-0\""),
            (f64::NAN, "\"NaN\""),
            (f64::INFINITY, "\"+Inf\""),
            (f64::NEG_INFINITY, "\"-Inf\""),
            (1e21, "\"1e+21\""),
            (-1e21, "\"-1e+21\""),
            (999_999_999_999_999_900_000.0, "\"999999999999999900000\""),
            (1e20, "\"100000000000000000000\""),
            (1e-6, "\"0.000001\""),
            (1e-7, "\"1e-07\""),
            (1.5e-7, "\"1.5e-07\""),
            (1e100, "\"1e+100\""),
            (5e-324, "\"5e-324\""),
            (0.1 + 0.2, "\"0.30000000000000004\""),
            (123456789.0, "\"123456789\""),
            (f64::MAX, "\"1.7976931348623157e+308\""),
        ];
        for (v, want) in cases {
            assert_eq!(value(*v), *want, "value {v:e}");
        }
    }

    /// `TestJsonCodec_Encode`'s float points (Prometheus `web/api/v1/json_codec_test.go`).
    #[test]
    fn prometheus_codec_golden_points() {
        let cases: &[(i64, f64, &str)] = &[
            (0, 0.0, r#"[0,"0"]"#),
            (1, 20.0, r#"[0.001,"20"]"#),
            (10, 20.0, r#"[0.010,"20"]"#),
            (100, 20.0, r#"[0.100,"20"]"#),
            (1001, 20.0, r#"[1.001,"20"]"#),
            (1010, 20.0, r#"[1.010,"20"]"#),
            (1100, 20.0, r#"[1.100,"20"]"#),
            (12345678123456555, 20.0, r#"[12345678123456.555,"20"]"#),
            (-1, 20.0, r#"[-0.001,"20"]"#),
            (0, f64::NAN, r#"[0,"NaN"]"#),
            (0, f64::INFINITY, r#"[0,"+Inf"]"#),
            (0, f64::NEG_INFINITY, r#"[0,"-Inf"]"#),
            (0, 1.2345678e6, r#"[0,"1234567.8"]"#),
            (0, 1.2345678e-6, r#"[0,"0.0000012345678"]"#),
            (0, 1.2345678e-67, r#"[0,"1.2345678e-67"]"#),
        ];
        for (t, v, want) in cases {
            let mut s = String::from("[");
            timestamp(&mut s, *t);
            s.push(',');
            sample_value(&mut s, *v);
            s.push(']');
            assert_eq!(s, *want);
        }
    }

    #[test]
    fn whole_numbers_print_as_display_does() {
        let mut vals = vec![0.0, 1.0, -1.0, 9.0, 10.0, 1e14, 1e15 - 1.0, -123456789.0];
        let mut x = 1u64;
        for _ in 0..60 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            vals.push((x >> 14) as f64);
            vals.push(-((x >> 30) as f64));
        }
        for v in vals {
            assert_eq!(format_f(v), format!("{v}"), "value {v}");
        }
    }

    #[test]
    fn scalar_values_never_use_exponents() {
        assert_eq!(format_f(1e21), "1000000000000000000000");
        assert_eq!(format_f(1e-7), "0.0000001");
        assert_eq!(format_f(-0.0), "-0");
        assert_eq!(format_f(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn sample_timestamps_keep_three_digits() {
        assert_eq!(ts(1_700_000_000_123), "1700000000.123");
        assert_eq!(ts(1_500), "1.500");
        assert_eq!(ts(1_050), "1.050");
        assert_eq!(ts(1_001), "1.001");
        assert_eq!(ts(2_000), "2");
        assert_eq!(ts(0), "0");
        assert_eq!(ts(-1), "-0.001");
        assert_eq!(ts(-1_500), "-1.500");
        assert_eq!(ts(i64::MIN), "-9223372036854775.808");
    }

    #[test]
    fn scalar_timestamps_are_shortest_floats() {
        let f = |ms| {
            let mut s = String::new();
            float_seconds(&mut s, ms);
            s
        };
        assert_eq!(f(1_500), "1.5");
        assert_eq!(f(0), "0");
        assert_eq!(f(1_700_000_000_123), "1700000000.123");
        assert_eq!(f(-1_000), "-1");
    }

    #[test]
    fn strings_escape_like_go() {
        let esc = |s: &str, e| {
            let mut o = String::new();
            string(&mut o, s, e);
            o
        };
        assert_eq!(esc("a\"b\\c", Escape::Std), r#""a\"b\\c""#);
        assert_eq!(esc("<a&b>", Escape::Std), r#""\u003ca\u0026b\u003e""#);
        assert_eq!(esc("\n\r\t\u{1}", Escape::Std), r#""\n\r\t\u0001""#);
        assert_eq!(esc("\u{8}\u{c}", Escape::Std), r#""\b\f""#);
        assert_eq!(esc("\u{8}\u{c}", Escape::Jsoniter), r#""\u0008\u000c""#);
        assert_eq!(
            esc("x\u{2028}y\u{2029}", Escape::Std),
            r#""x\u2028y\u2029""#
        );
        assert_eq!(esc("héllo ☃", Escape::Std), "\"héllo ☃\"");
        assert_eq!(esc("\u{7f}", Escape::Std), "\"\u{7f}\"");
    }
}
