//! Human-readable unit conversions used by `unwrap bytes(...)`,
//! `unwrap duration(...)`, label-filter comparisons on bytes/durations and the
//! `bytes` / `duration` template functions.
//!
//! * [`parse_bytes`] follows go-humanize `ParseBytes` (what Loki calls in
//!   `convertBytes`): SI (`kB` = 1000) and IEC (`KiB` = 1024) suffixes, case
//!   insensitive, optional `B`, optional space, `,` digit grouping, result
//!   truncated to an integer number of bytes.
//! * [`parse_duration_seconds`] follows Go's `time.ParseDuration` (what Loki
//!   calls in `convertDuration`): `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with units
//!   `ns`, `us`/`µs`/`μs`, `ms`, `s`, `m`, `h`, integer-nanosecond precision.

/// Parses a humanized byte size (`"10KB"` = 10000, `"1.5KiB"` = 1536,
/// `"3 kB"` = 3000, `"42"` = 42) like go-humanize `ParseBytes`.
///
/// Returns `None` for anything go-humanize rejects: no leading number,
/// negative values, unknown suffixes, or results of 2^64 bytes or more.
pub fn parse_bytes(s: &str) -> Option<f64> {
    // Leading run of digits, '.' and ',' (go-humanize also accepts Unicode
    // digits here, which then make ParseFloat fail; stopping early gives the
    // same rejection).
    let end = s
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.' || c == ','))
        .map_or(s.len(), |(i, _)| i);
    let (num, rest) = s.split_at(end);
    let num: String = num.chars().filter(|&c| c != ',').collect();
    let value = parse_plain_decimal(&num)?;
    let unit = rest.trim().to_ascii_lowercase();
    let mult: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "p" | "pb" => 1e15,
        "e" | "eb" => 1e18,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024f64.powi(2),
        "gi" | "gib" => 1024f64.powi(3),
        "ti" | "tib" => 1024f64.powi(4),
        "pi" | "pib" => 1024f64.powi(5),
        "ei" | "eib" => 1024f64.powi(6),
        _ => return None,
    };
    let bytes = value * mult;
    // go-humanize: `if f >= math.MaxUint64 { error }`, then uint64(f).
    if !bytes.is_finite() || bytes >= 18_446_744_073_709_551_615.0 {
        return None;
    }
    Some(bytes.trunc())
}

/// Parses a decimal float the way `strconv.ParseFloat` does for the inputs
/// `parse_bytes` can hand it (digits and dots only): `"1.5"`, `".5"`, `"5."`.
fn parse_plain_decimal(s: &str) -> Option<f64> {
    if s.is_empty() || s == "." || s.matches('.').count() > 1 {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Go's `strconv.ParseFloat(s, 64)`: decimal and hexadecimal (`0x1p-2`)
/// floats with optional sign and exponent, `inf`/`infinity`/`nan` in any
/// case (a sign is not allowed before `nan`). Out-of-range values (which Go
/// reports as `ErrRange`) give `None`.
pub fn parse_go_float(s: &str) -> Option<f64> {
    let (neg, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = unsigned.to_ascii_lowercase();
    let sign = if neg { -1.0 } else { 1.0 };
    match lower.as_str() {
        "nan" if unsigned.len() == s.len() => return Some(f64::NAN),
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        _ => {}
    }
    if let Some(hex) = lower.strip_prefix("0x") {
        let (mant, exp) = hex.split_once('p')?;
        let exp: i32 = exp.parse().ok()?;
        let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
        let digits: String = format!("{int_part}{frac_part}").replace('_', "");
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut m = 0f64;
        for b in digits.bytes() {
            m = m * 16.0 + f64::from((b as char).to_digit(16)?);
        }
        let shift = exp.checked_sub(4 * i32::try_from(frac_part.replace('_', "").len()).ok()?)?;
        let v = m * 2f64.powi(shift);
        return v.is_finite().then_some(sign * v);
    }
    if unsigned.is_empty()
        || !unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Go's `strconv.ParseInt(s, 0, 64)`: optional sign, `0x`/`0o`/`0b` or
/// leading-`0` octal prefixes, `_` between digits.
pub fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = unsigned.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    // Underscores only between digits (or right after a base prefix).
    let b = digits.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let prev_ok = if i == 0 { prefixed } else { b[i - 1] != b'_' };
            if !prev_ok || i + 1 == b.len() {
                return None;
            }
        }
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    let mag = u64::from_str_radix(&clean, radix).ok()?;
    if neg {
        if mag == 1 << 63 {
            Some(i64::MIN)
        } else {
            i64::try_from(mag).ok().map(|v| -v)
        }
    } else {
        i64::try_from(mag).ok()
    }
}

const NANOS_PER_UNIT: [(&str, u64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000), // U+00B5 micro sign
    ("μs", 1_000), // U+03BC Greek small letter mu
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

fn unit_nanos(unit: &str) -> Option<u64> {
    NANOS_PER_UNIT
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|&(_, n)| n)
}

/// Parses a Go duration string into integer nanoseconds, exactly like
/// `time.ParseDuration` (including its overflow rules). Returns `None` on any
/// input Go rejects.
pub fn parse_duration_nanos(s: &str) -> Option<i64> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut neg = false;
    if let Some(&c) = bytes.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        i = 1;
    }
    let rest = &s[i..];
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if !(c == b'.' || c.is_ascii_digit()) {
            return None;
        }
        // Integer part.
        let start = i;
        let mut v: u64 = 0;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            if v > LIMIT / 10 {
                return None;
            }
            v = v * 10 + u64::from(bytes[i] - b'0');
            if v > LIMIT {
                return None;
            }
            i += 1;
        }
        let pre = i != start;
        // Fraction part: keep digits while they still add precision.
        let mut f: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            let fstart = i;
            let mut overflow = false;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                if !overflow {
                    if f > (LIMIT - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + u64::from(bytes[i] - b'0');
                        if y > LIMIT {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            post = i != fstart;
        }
        if !pre && !post {
            return None;
        }
        // Unit: everything up to the next digit or '.'.
        let ustart = i;
        while i < bytes.len() && !(bytes[i] == b'.' || bytes[i].is_ascii_digit()) {
            i += 1;
        }
        if i == ustart {
            return None;
        }
        let unit = unit_nanos(s.get(ustart..i)?)?;
        if v > LIMIT / unit {
            return None;
        }
        v *= unit;
        if f > 0 {
            // Go truncates the float product toward zero (uint64 conversion).
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return None;
            }
        }
        total = total.checked_add(v)?;
        if total > LIMIT {
            return None;
        }
    }
    if neg {
        // -(1<<63) is representable.
        Some(0i64.wrapping_sub_unsigned(total))
    } else if total > LIMIT - 1 {
        None
    } else {
        i64::try_from(total).ok()
    }
}

/// Parses a Go duration string and returns it in seconds, as Loki's
/// `convertDuration` (`time.ParseDuration(v).Seconds()`): `"1h2m3.5s"` =
/// 3723.5, `"250ms"` = 0.25, `"-1.5h"` = -5400.
pub fn parse_duration_seconds(s: &str) -> Option<f64> {
    let d = parse_duration_nanos(s)?;
    // Go's Duration.Seconds: whole seconds plus the fractional remainder.
    let sec = d / 1_000_000_000;
    let nsec = d % 1_000_000_000;
    Some(sec as f64 + nsec as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    // go-humanize bytes_test.go TestParseBytes expectations, plus Loki's
    // fmt_test.go "bytes 1" ("3 kB" -> 3000) and "bytes 2" ("3MB" -> 3e6).
    #[test]
    fn bytes_table() {
        let cases: [(&str, Option<f64>); 26] = [
            ("42", Some(42.0)),
            ("42MB", Some(42e6)),
            ("42MiB", Some(42.0 * 1024.0 * 1024.0)),
            ("42mib", Some(42.0 * 1024.0 * 1024.0)),
            ("42 MB", Some(42e6)),
            ("42 MiB", Some(42.0 * 1024.0 * 1024.0)),
            ("42 mib", Some(42.0 * 1024.0 * 1024.0)),
            ("42.5MB", Some(42.5e6)),
            ("42.5MiB", Some(42.5 * 1024.0 * 1024.0)),
            ("0.5KiB", Some(512.0)),
            ("1.5KiB", Some(1536.0)),
            ("10KB", Some(10_000.0)),
            ("10kb", Some(10_000.0)),
            ("3 kB", Some(3000.0)),
            ("3MB", Some(3e6)),
            ("42M", Some(42e6)),
            ("42mi", Some(42.0 * 1024.0 * 1024.0)),
            ("1,005.03 MB", Some(1_005_030_000.0)),
            ("5 B", Some(5.0)),
            ("1.5", Some(1.0)), // truncated to whole bytes
            // errors
            ("", None),
            ("B", None),
            ("-5KB", None),
            ("1 kib2", None),
            ("10 XB", None),
            ("18446744073709551616", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_bytes(input), want, "input {input:?}");
        }
    }

    // Go time/time_test.go parseDurationTests (subset) and Loki fmt_test.go
    // "duration 1" ("3ms" -> 0.003) / "duration 2" ("3m10s" -> 190).
    #[test]
    fn duration_table() {
        let cases: [(&str, Option<i64>); 28] = [
            ("0", Some(0)),
            ("5s", Some(5_000_000_000)),
            ("30s", Some(30_000_000_000)),
            ("1478s", Some(1_478_000_000_000)),
            ("-5s", Some(-5_000_000_000)),
            ("+5s", Some(5_000_000_000)),
            ("-0", Some(0)),
            ("+0", Some(0)),
            ("5.0s", Some(5_000_000_000)),
            ("5.6s", Some(5_600_000_000)),
            ("5.s", Some(5_000_000_000)),
            (".5s", Some(500_000_000)),
            ("1.0s", Some(1_000_000_000)),
            ("1.004s", Some(1_004_000_000)),
            ("100.00100s", Some(100_001_000_000)),
            ("10ns", Some(10)),
            ("11us", Some(11_000)),
            ("12µs", Some(12_000)),
            ("12μs", Some(12_000)),
            ("13ms", Some(13_000_000)),
            ("14s", Some(14_000_000_000)),
            ("15m", Some(900_000_000_000)),
            ("16h", Some(57_600_000_000_000)),
            ("3h30m", Some(12_600_000_000_000)),
            ("10.5s4m", Some(250_500_000_000)),
            ("-2m3.4s", Some(-123_400_000_000)),
            ("1h2m3s4ms5us6ns", Some(3_723_004_005_006)),
            ("9223372036854775807ns", Some(i64::MAX)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration_nanos(input), want, "input {input:?}");
        }
        let errors = [
            "",
            "3",
            "-",
            "s",
            ".",
            "-.",
            ".s",
            "+.s",
            "1d",
            "1.1.1s",
            "3000000h",
            "9223372036854775808ns",
            "9223372036854775.808us",
            " 5s",
            "5s ",
            "1e3s",
        ];
        for input in errors {
            assert_eq!(parse_duration_nanos(input), None, "input {input:?}");
        }
        assert_eq!(
            parse_duration_nanos("-9223372036854775808ns"),
            Some(i64::MIN)
        );
    }

    // Go strconv ParseFloat / ParseInt(s, 0, 64) behaviour used by templates
    // (sprig's cast.ToFloat64 / cast.ToInt64) and detected field types.
    #[test]
    fn go_numbers() {
        assert_eq!(parse_go_float("1.5"), Some(1.5));
        assert_eq!(parse_go_float("-2e3"), Some(-2000.0));
        assert_eq!(parse_go_float(".5"), Some(0.5));
        assert_eq!(parse_go_float("Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("-infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_go_float("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_go_float("+nan"), None);
        assert_eq!(parse_go_float("0x1p-2"), Some(0.25));
        assert_eq!(parse_go_float("0x1.8p1"), Some(3.0));
        assert_eq!(parse_go_float("1e400"), None);
        assert_eq!(parse_go_float("1_0"), None);
        assert_eq!(parse_go_float(""), None);
        assert_eq!(parse_go_float("abc"), None);
        assert_eq!(parse_go_int("42"), Some(42));
        assert_eq!(parse_go_int("-0x1F"), Some(-31));
        assert_eq!(parse_go_int("010"), Some(8));
        assert_eq!(parse_go_int("08"), None);
        assert_eq!(parse_go_int("0b101"), Some(5));
        assert_eq!(parse_go_int("1_000"), Some(1000));
        assert_eq!(parse_go_int("1__0"), None);
        assert_eq!(parse_go_int("_1"), None);
        assert_eq!(parse_go_int("0x_1F"), Some(31));
        assert_eq!(parse_go_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_go_int("9223372036854775808"), None);
        assert_eq!(parse_go_int("2.5"), None);
        assert_eq!(parse_go_int("0"), Some(0));
    }

    #[test]
    fn duration_seconds() {
        let cases = [
            ("3ms", 0.003),
            ("3m10s", 190.0),
            ("1h2m3.5s", 3723.5),
            ("250ms", 0.25),
            ("1us", 1e-6),
            ("-1.5h", -5400.0),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration_seconds(input), Some(want), "input {input:?}");
        }
        assert_eq!(parse_duration_seconds("fast"), None);
    }
}
