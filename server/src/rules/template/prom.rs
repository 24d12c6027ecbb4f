//! Prometheus's template functions (`template/template.go` and
//! `prometheus/common/helpers/templates`), with the same output formats.

use std::net::IpAddr;

use super::args::{arg, str_arg};
use super::escape::urlquery;
use super::gofmt::{format_float, go_type, quote, sprint};
use super::{MAX_OUTPUT, Value};

/// Calls a Prometheus function; the name and argument count are already checked.
pub(super) fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    let s = |i| str_arg(args, i);
    Ok(Value::Str(match name {
        "humanize" => humanize(to_float(arg(args, 0))?),
        "humanize1024" => humanize1024(to_float(arg(args, 0))?),
        "humanizeDuration" => humanize_duration(to_float(arg(args, 0))?),
        "humanizePercentage" => format!("{}%", g4(to_float(arg(args, 0))? * 100.0)),
        "humanizeTimestamp" => {
            let v = to_float(arg(args, 0))?;
            if v.is_finite() {
                time_string(v)?
            } else {
                g4(v)
            }
        }
        "toTime" => {
            let v = to_float(arg(args, 0))?;
            if v.is_finite() {
                time_string(v)?
            } else {
                return Err("value is NaN or Inf".into());
            }
        }
        "title" => title(s(0)?),
        "toUpper" => s(0)?.to_uppercase(),
        "toLower" => s(0)?.to_lowercase(),
        "match" => return Ok(Value::Bool(regex(s(0)?)?.is_match(s(1)?))),
        "reReplaceAll" => replace_all(&regex(s(0)?)?, s(2)?, s(1)?)?,
        "safeHtml" => s(0)?.to_string(),
        "stripPort" => strip_port(s(0)?),
        "stripDomain" => strip_domain(s(0)?),
        "parseDuration" => return parse_duration(s(0)?).map(Value::Num),
        "urlQueryEscape" => urlquery(s(0)?),
        _ => return Err(format!("function {} not defined", quote(name))),
    }))
}

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(MAX_OUTPUT)
        .build()
        .map_err(|e| e.to_string())
}

/// `Regex::replace_all` (same `$1`/`${name}` syntax as Go), stopping at `MAX_OUTPUT`.
fn replace_all(re: &regex::Regex, text: &str, repl: &str) -> Result<String, String> {
    let (mut out, mut last) = (String::new(), 0);
    for caps in re.captures_iter(text) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(text.get(last..m.start()).unwrap_or(""));
        caps.expand(repl, &mut out);
        last = m.end();
        if out.len() > MAX_OUTPUT {
            return Err(format!("result exceeds {MAX_OUTPUT} bytes"));
        }
    }
    out.push_str(text.get(last..).unwrap_or(""));
    Ok(out)
}

/// `fmt.Sprintf("%.4g", v)`.
fn g4(v: f64) -> String {
    format_float(v, 'g', Some(4))
}

/// Prometheus's `ConvertToFloat`: numbers, and strings parsed like `strconv.ParseFloat`.
fn to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Num(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => match s.parse::<f64>() {
            Ok(f) if f.is_infinite() && !s.to_ascii_lowercase().contains("inf") => Err(format!(
                "strconv.ParseFloat: parsing {}: value out of range",
                quote(s)
            )),
            Ok(f) => Ok(f),
            Err(_) => Err(format!(
                "strconv.ParseFloat: parsing {}: invalid syntax",
                quote(s)
            )),
        },
        v => Err(format!("can't convert {} to float", go_type(v))),
    }
}

fn humanize(mut v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return g4(v);
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", g4(v))
}

fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return g4(v);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

fn humanize_duration(mut v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        let d = v as i64;
        let (days, hours, minutes, seconds) = (d / 86400, d / 3600 % 24, d / 60 % 60, d % 60);
        return if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", g4(v))
        };
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Go's `time.Time.String()` in UTC of Unix seconds `v`, truncated to milliseconds like
/// Prometheus's `model.TimeFromUnixNano`.
fn time_string(v: f64) -> Result<String, String> {
    let nanos = v * 1e9;
    if nanos > i64::MAX as f64 || nanos < i64::MIN as f64 {
        let shown = sprint(&[Value::Num(v)]);
        return Err(format!(
            "{shown} cannot be represented as a nanoseconds timestamp since it overflows int64"
        ));
    }
    let millis = nanos as i64 / 1_000_000;
    let (secs, ms) = (millis.div_euclid(1000), millis.rem_euclid(1000));
    let (days, sod) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let frac = if ms == 0 {
        String::new()
    } else {
        format!(".{ms:03}").trim_end_matches('0').to_string()
    };
    let (h, m, s) = (sod / 3600, sod / 60 % 60, sod % 60);
    Ok(format!(
        "{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}{frac} +0000 UTC"
    ))
}

/// `cases.Title(language.AmericanEnglish, cases.NoLower)`: upper-cases the first letter of
/// each word and leaves the rest alone. Word breaks approximate Unicode's: `'`, `.` and
/// `:` between letters do not break a word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let (mut prev, mut prev2) = (None::<char>, None::<char>);
    for c in s.chars() {
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let joined =
            matches!(prev, Some('\'' | '.' | ':' | '’')) && word(prev2) && c.is_alphanumeric();
        if !word(prev) && !joined {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        (prev2, prev) = (prev, Some(c));
    }
    out
}

/// Go's `net.SplitHostPort`.
fn split_host_port(hp: &str) -> Option<(&str, &str)> {
    let colon = hp.rfind(':')?;
    let (host, from) = if let Some(rest) = hp.strip_prefix('[') {
        let end = rest.find(']')? + 1;
        if end + 1 != colon {
            return None;
        }
        (hp.get(1..end)?, end + 1)
    } else {
        let host = hp.get(..colon)?;
        if host.contains(':') {
            return None;
        }
        (host, 0)
    };
    let open_from = usize::from(from > 0);
    if hp.get(open_from..)?.contains('[') || hp.get(from..)?.contains(']') {
        return None;
    }
    Some((host, hp.get(colon + 1..)?))
}

fn strip_port(hp: &str) -> String {
    split_host_port(hp).map_or(hp, |(h, _)| h).to_string()
}

fn strip_domain(hp: &str) -> String {
    let (host, port) = split_host_port(hp).unwrap_or((hp, ""));
    if host.parse::<IpAddr>().is_ok() {
        return hp.to_string();
    }
    let host = host.split('.').next().unwrap_or(host);
    match (port, host.contains(':')) {
        ("", _) => host.to_string(),
        (p, true) => format!("[{host}]:{p}"),
        (p, false) => format!("{host}:{p}"),
    }
}

/// Prometheus's `model.ParseDurationAllowNegative`, in seconds: units `y w d h m s ms`
/// in decreasing order, e.g. `1h30m`, or `0`.
fn parse_duration(s: &str) -> Result<f64, String> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let invalid = || format!("not a valid duration string: {}", quote(s));
    if body == "0" {
        return Ok(0.0);
    }
    if body.is_empty() {
        return Err("empty duration string".into());
    }
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let (mut rest, mut total_ms, mut last) = (body, 0u64, 0usize);
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: u64 = rest
            .get(..digits)
            .unwrap_or("")
            .parse()
            .map_err(|_| invalid())?;
        rest = rest.get(digits..).unwrap_or("");
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = rest.get(..unit_len).unwrap_or("");
        rest = rest.get(unit_len..).unwrap_or("");
        let Some(pos) = UNITS.iter().position(|u| u.0 == unit) else {
            return Err(if unit.is_empty() {
                invalid()
            } else {
                format!("unknown unit {} in duration {}", quote(unit), quote(s))
            });
        };
        if pos < last {
            return Err(invalid());
        }
        last = pos + 1;
        let add = n
            .checked_mul(UNITS.get(pos).map_or(1, |u| u.1))
            .filter(|&a| a <= i64::MAX as u64 / 1_000_000);
        total_ms = add
            .and_then(|a| total_ms.checked_add(a))
            .filter(|&t| t <= i64::MAX as u64 / 1_000_000)
            .ok_or("duration out of range")?;
    }
    let secs = total_ms as f64 / 1000.0;
    Ok(if neg { -secs } else { secs })
}
