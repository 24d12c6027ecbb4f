//! Request parameters with Prometheus's parsing rules and error texts
//! (`web/api/v1/api.go`: `parseTime`, `parseDuration`, `parseLimitParam`,
//! `parseMatchersParam`).

use std::time::Duration;

use chrono::DateTime;
use promql_parser::parser::Expr;
use strata_engine::Matcher;

use super::error::ApiError;
use crate::promql::{LabelMatcher, selector_matchers};

/// Earliest time `/series`, `/labels` and `/label/<name>/values` look at when no `start` is
/// given: Prometheus's `MinTime` (`-292273086-05-16T16:47:06Z`) in milliseconds.
pub const MIN_TIME_MS: i64 = -9_223_309_901_257_974_000;
/// Latest time those endpoints look at when no `end` is given: Prometheus's `MaxTime`
/// (`292277025-08-18T07:12:54.999999999Z`) in milliseconds.
pub const MAX_TIME_MS: i64 = 9_223_309_901_257_974_999;

const MIN_TIME_FORMATTED: &str = "-292273086-05-16T16:47:06Z";
const MAX_TIME_FORMATTED: &str = "292277025-08-18T07:12:54.999999999Z";
const NS_PER_SEC: i128 = 1_000_000_000;
const NS_PER_MS: i128 = 1_000_000;

/// The parameters of one request: (name, value) pairs from the query string and the
/// form-encoded body, merged by the caller. Where a name repeats, single-valued parameters
/// take the first value (Go's `FormValue`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params<'a>(&'a [(String, String)]);

impl<'a> Params<'a> {
    /// Wraps the pairs.
    pub(crate) fn new(pairs: &'a [(String, String)]) -> Self {
        Self(pairs)
    }

    /// The first value of `name`, or `""` when absent (as Go's `FormValue`).
    pub(crate) fn value(&self, name: &str) -> &'a str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub(crate) fn values(&self, name: &str) -> Vec<&'a str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A point in time with Prometheus's precision: nanoseconds (RFC 3339 keeps them; the
/// comparisons `end before start` and the 11,000-points check use them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Time {
    ns: i128,
}

impl Time {
    pub(crate) fn from_ms(ms: i64) -> Self {
        Self {
            ns: i128::from(ms) * NS_PER_MS,
        }
    }

    /// Milliseconds as Prometheus's `timestamp.FromTime`: rounded down.
    pub(crate) fn ms(self) -> i64 {
        let ms = self.ns.div_euclid(NS_PER_MS);
        i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
    }

    pub(crate) fn ns(self) -> i128 {
        self.ns
    }
}

/// Parses a timestamp as Prometheus's `parseTime`: Unix seconds with decimals (rounded to
/// the millisecond) or RFC 3339, plus the two formatted bounds.
pub(crate) fn parse_time(s: &str) -> Result<Time, String> {
    let bad = || format!("cannot parse {} to a valid timestamp", go_quote(s));
    if let Some(t) = parse_go_float(s) {
        if !t.is_finite() {
            return Err(bad());
        }
        // Go: s, ns := math.Modf(t); ns = math.Round(ns*1000)/1000;
        // time.Unix(int64(s), int64(ns*1e9)).
        let whole = t.trunc();
        let frac = ((t - whole) * 1000.0).round() / 1000.0;
        if whole.abs() >= 9.2e18 {
            return Err(bad());
        }
        let ns = i128::from(whole as i64) * NS_PER_SEC + i128::from((frac * 1e9) as i64);
        return Ok(Time { ns });
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        let ns = i128::from(dt.timestamp()) * NS_PER_SEC + i128::from(dt.timestamp_subsec_nanos());
        return Ok(Time { ns });
    }
    match s {
        MIN_TIME_FORMATTED => Ok(Time::from_ms(MIN_TIME_MS)),
        MAX_TIME_FORMATTED => Ok(Time {
            ns: i128::from(MAX_TIME_MS / 1000) * NS_PER_SEC + 999_999_999,
        }),
        _ => Err(bad()),
    }
}

/// Parses a time parameter as Prometheus's `parseTimeParam`: absent or empty means
/// `default`; the error names the parameter twice, as Prometheus's does.
pub(crate) fn time_param(p: &Params<'_>, name: &str, default: Time) -> Result<Time, ApiError> {
    let v = p.value(name);
    if v.is_empty() {
        return Ok(default);
    }
    parse_time(v)
        .map_err(|e| ApiError::invalid_param(name, format!("invalid time value for '{name}': {e}")))
}

/// Parses a duration as Prometheus's `parseDuration`: float seconds or a Prometheus
/// duration (`1h30m`, `15s`, `100ms`). Returns nanoseconds, which may be zero or negative.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if let Some(d) = parse_go_float(s) {
        let ns = d * 1e9;
        if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
            return Err(format!(
                "cannot parse {} to a valid duration. It overflows int64",
                go_quote(s)
            ));
        }
        return Ok(ns as i64);
    }
    prom_duration_ns(s).ok_or_else(|| format!("cannot parse {} to a valid duration", go_quote(s)))
}

/// A Prometheus duration string (`model.ParseDuration`): units y, w, d, h, m, s, ms, each at
/// most once, largest first; `0` alone is allowed. `None` when invalid or over ~292 years.
fn prom_duration_ns(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3_600 * 1_000_000_000),
        ("w", 7 * 24 * 3_600 * 1_000_000_000),
        ("d", 24 * 3_600 * 1_000_000_000),
        ("h", 3_600 * 1_000_000_000),
        ("m", 60 * 1_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ];
    let mut rest = s.as_bytes();
    let mut total: u64 = 0;
    let mut last_pos = 0;
    while !rest.is_empty() {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let v: u64 = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
        rest = &rest[digits..];
        let ulen = rest.iter().take_while(|b| !b.is_ascii_digit()).count();
        let unit = std::str::from_utf8(&rest[..ulen]).ok()?;
        rest = &rest[ulen..];
        let pos = UNITS.iter().position(|(u, _)| *u == unit)? + 1;
        if pos <= last_pos {
            return None;
        }
        last_pos = pos;
        let mult = UNITS[pos - 1].1;
        if v > (1u64 << 63) / mult {
            return None;
        }
        total = total.checked_add(v * mult)?;
        if total > i64::MAX as u64 {
            return None;
        }
    }
    i64::try_from(total).ok()
}

/// A float as Go's `strconv.ParseFloat` reads it, near enough: decimal and exponent forms,
/// `Inf`/`NaN` in any case. Out-of-range values are errors in Go, so `None` here.
fn parse_go_float(s: &str) -> Option<f64> {
    let v: f64 = s.parse().ok()?;
    let lower = s.to_ascii_lowercase();
    let literal_special = lower.contains("inf") || lower.contains("nan");
    if !v.is_finite() && !literal_special {
        return None; // "1e400": Go reports a range error
    }
    Some(v)
}

/// Parses `limit` as Prometheus's `parseLimitParam`: empty is 0 (no limit), negative is an
/// error.
pub(crate) fn limit_param(p: &Params<'_>) -> Result<usize, ApiError> {
    let s = p.value("limit");
    if s.is_empty() {
        return Ok(0);
    }
    let n = go_atoi(s).map_err(|e| ApiError::invalid_param("limit", e))?;
    usize::try_from(n).map_err(|_| ApiError::invalid_param("limit", "limit must be non-negative"))
}

/// Go's `strconv.Atoi`, with its error texts.
pub(crate) fn go_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            go_quote(s)
        ));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

/// Parses the `timeout` parameter: `None` when absent.
pub(crate) fn timeout_param(p: &Params<'_>) -> Result<Option<Duration>, ApiError> {
    let s = p.value("timeout");
    if s.is_empty() {
        return Ok(None);
    }
    let ns = parse_duration(s).map_err(|e| ApiError::invalid_param("timeout", e))?;
    // A zero or negative timeout is a deadline already passed.
    Ok(Some(Duration::from_nanos(u64::try_from(ns).unwrap_or(0))))
}

/// Parses `lookback_delta` (Prometheus 3's per-query lookback): `None` when absent or zero.
pub(crate) fn lookback_param(p: &Params<'_>) -> Result<Option<Duration>, ApiError> {
    let s = p.value("lookback_delta");
    if s.is_empty() {
        return Ok(None);
    }
    let ns = parse_duration(s)
        .map_err(|e| ApiError::BadData(format!("error parsing lookback delta duration: {e}")))?;
    Ok(u64::try_from(ns)
        .ok()
        .filter(|&n| n > 0)
        .map(Duration::from_nanos))
}

const NO_NON_EMPTY: &str = "match[] must contain at least one non-empty matcher";

/// Parses the `match[]` series selectors as Prometheus's `parseMatchersParam`: each must be
/// a plain selector with at least one matcher that does not match the empty string.
/// `/series` words its errors `invalid parameter "match[]": ...`; `/labels` and
/// `/label/<name>/values` give the reason alone (`prefixed` false), as Prometheus does.
pub(crate) fn matcher_sets(
    p: &Params<'_>,
    prefixed: bool,
) -> Result<Vec<Vec<LabelMatcher>>, ApiError> {
    let fail = |reason: String| {
        if prefixed {
            ApiError::invalid_param("match[]", reason)
        } else {
            ApiError::BadData(reason)
        }
    };
    let mut sets = Vec::new();
    for s in p.values("match[]") {
        let expr = promql_parser::parser::parse(s).map_err(|e| {
            // Prometheus parses `match[]` without the parser's own check for a non-empty
            // matcher and then words the failure its way.
            if e.contains("at least one non-empty matcher") {
                fail(NO_NON_EMPTY.into())
            } else {
                fail(e)
            }
        })?;
        let Expr::VectorSelector(vs) = expr else {
            return Err(fail(format!(
                "parse error: {} is not a series selector",
                go_quote(s)
            )));
        };
        let set = selector_matchers(&vs);
        let mut any_non_empty = false;
        for m in &set {
            let em = Matcher::new(&m.name, m.op, &m.value).map_err(|e| fail(e.to_string()))?;
            any_non_empty |= !em.matches_value("");
        }
        if !any_non_empty {
            return Err(fail(NO_NON_EMPTY.into()));
        }
        sets.push(set);
    }
    Ok(sets)
}

/// Parses series selectors (`match[]` values) into the engine's matchers, with the checks
/// and wording of `/api/v1/series` (`invalid parameter "match[]": ...`): each must be a
/// plain selector with at least one matcher that does not match the empty string. For
/// endpoints outside this module (the server's `/api/v1/status/tsdb`).
pub fn series_selectors(values: &[String]) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let pairs: Vec<(String, String)> = values
        .iter()
        .map(|v| ("match[]".to_owned(), v.clone()))
        .collect();
    matcher_sets(&Params::new(&pairs), true)?
        .iter()
        .map(|set| engine_matchers(set))
        .collect()
}

/// A request's `start` and `end` (RFC 3339 or Unix seconds), in ms; all time where one is
/// missing.
pub fn time_window(params: &[(String, String)]) -> Result<(i64, i64), ApiError> {
    let p = Params::new(params);
    let start = time_param(&p, "start", Time::from_ms(MIN_TIME_MS))?;
    let end = time_param(&p, "end", Time::from_ms(MAX_TIME_MS))?;
    if end.ms() < start.ms() {
        return Err(ApiError::invalid_param(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    Ok((start.ms(), end.ms()))
}

/// The engine's matchers for `set` (the parser validated the regexes already).
pub(crate) fn engine_matchers(set: &[LabelMatcher]) -> Result<Vec<Matcher>, ApiError> {
    set.iter()
        .map(|m| {
            Matcher::new(&m.name, m.op, &m.value)
                .map_err(|e| ApiError::invalid_param("match[]", e.to_string()))
        })
        .collect()
}

pub(crate) use crate::go::quote as go_quote;

/// Decodes a label name written in Prometheus's `U__` value-encoding escaping
/// (`U__my_2e_label` is `my.label`; `__` is `_`). A name without the prefix, or one that is
/// not valid escaping, is returned unchanged (as `model.UnescapeName`).
pub(crate) fn unescape_name(name: &str) -> String {
    let Some(esc) = name.strip_prefix("U__") else {
        return name.to_owned();
    };
    let b = esc.as_bytes();
    let mut out = String::with_capacity(esc.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'_' {
            // Multi-byte characters pass through whole.
            let Some(c) = esc[i..].chars().next() else {
                return name.to_owned();
            };
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        i += 1;
        if i >= b.len() {
            return name.to_owned();
        }
        if b[i] == b'_' {
            out.push('_');
            i += 1;
            continue;
        }
        let mut val: u32 = 0;
        let mut j = 0;
        loop {
            if i >= b.len() || j >= 6 {
                return name.to_owned();
            }
            if b[i] == b'_' {
                let Some(c) = char::from_u32(val) else {
                    return name.to_owned();
                };
                out.push(c);
                i += 1;
                break;
            }
            let Some(d) = (b[i] as char).to_digit(16) else {
                return name.to_owned();
            };
            val = val * 16 + d;
            i += 1;
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use strata_engine::MatchOp;

    use super::*;

    fn pairs(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn times_parse_like_prometheus() {
        let ms = |s| parse_time(s).map(Time::ms);
        assert_eq!(ms("1700000000"), Ok(1_700_000_000_000));
        assert_eq!(ms("1700000000.123"), Ok(1_700_000_000_123));
        assert_eq!(ms("1.5"), Ok(1_500));
        assert_eq!(ms("1.0625"), Ok(1_063)); // rounded to the millisecond, half away
        assert_eq!(ms("-1.0625"), Ok(-1_063));
        assert_eq!(ms("1.0004"), Ok(1_000));
        assert_eq!(ms("-1.5"), Ok(-1_500));
        assert_eq!(ms("1e3"), Ok(1_000_000));
        assert_eq!(ms("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        assert_eq!(ms("2023-11-14T22:13:20.123Z"), Ok(1_700_000_000_123));
        assert_eq!(ms("2023-11-14T23:13:20.5+01:00"), Ok(1_700_000_000_500));
        // RFC 3339 keeps nanoseconds; milliseconds are rounded down.
        assert_eq!(ms("2023-11-14T22:13:20.0019Z"), Ok(1_700_000_000_001));
        assert_eq!(ms("1969-12-31T23:59:59.9995Z"), Ok(-1));
        assert_eq!(ms(MIN_TIME_FORMATTED), Ok(MIN_TIME_MS));
        assert_eq!(ms(MAX_TIME_FORMATTED), Ok(MAX_TIME_MS));
        for bad in ["x", "", "1e400", "NaN", "Inf", "2023-11-14", "12:00:00"] {
            assert_eq!(
                ms(bad),
                Err(format!(
                    "cannot parse {} to a valid timestamp",
                    go_quote(bad)
                )),
                "{bad}"
            );
        }
    }

    #[test]
    fn durations_parse_like_prometheus() {
        let s = 1_000_000_000;
        assert_eq!(parse_duration("15"), Ok(15 * s));
        assert_eq!(parse_duration("0.5"), Ok(s / 2));
        assert_eq!(parse_duration("-1"), Ok(-s));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("15s"), Ok(15 * s));
        assert_eq!(parse_duration("1m"), Ok(60 * s));
        assert_eq!(parse_duration("1h30m"), Ok(5_400 * s));
        assert_eq!(parse_duration("100ms"), Ok(s / 10));
        assert_eq!(parse_duration("1y"), Ok(365 * 86_400 * s));
        assert_eq!(parse_duration("2w1d"), Ok(15 * 86_400 * s));
        for bad in ["x", "1m1h", "1s1s", "5", "s", "1.5m", "-1m", "1000y", ""] {
            if bad == "5" {
                continue; // a plain number is seconds
            }
            assert_eq!(
                parse_duration(bad),
                Err(format!(
                    "cannot parse {} to a valid duration",
                    go_quote(bad)
                )),
                "{bad}"
            );
        }
        assert_eq!(
            parse_duration("1e10"),
            Err("cannot parse \"1e10\" to a valid duration. It overflows int64".into())
        );
    }

    #[test]
    fn limits_parse_like_atoi() {
        let p = |v: &str| {
            let kv = pairs(&[("limit", v)]);
            limit_param(&Params::new(&kv)).map_err(|e| e.to_string())
        };
        assert_eq!(p(""), Ok(0));
        assert_eq!(p("5"), Ok(5));
        assert_eq!(p("+5"), Ok(5));
        assert_eq!(
            p("x"),
            Err("invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax".into())
        );
        assert_eq!(
            p("-1"),
            Err("invalid parameter \"limit\": limit must be non-negative".into())
        );
        assert_eq!(
            p("99999999999999999999"),
            Err("invalid parameter \"limit\": strconv.Atoi: parsing \"99999999999999999999\": value out of range".into())
        );
    }

    #[test]
    fn params_take_the_first_value() {
        let kv = pairs(&[
            ("match[]", "a"),
            ("time", "1"),
            ("match[]", "b"),
            ("time", "2"),
        ]);
        let p = Params::new(&kv);
        assert_eq!(p.value("time"), "1");
        assert_eq!(p.value("step"), "");
        assert_eq!(p.values("match[]"), vec!["a", "b"]);
    }

    #[test]
    fn matchers_need_a_non_empty_matcher() {
        let sets = |v: &[&str]| {
            let kv: Vec<_> = v
                .iter()
                .map(|s| ("match[]".to_string(), s.to_string()))
                .collect();
            matcher_sets(&Params::new(&kv), true).map_err(|e| e.to_string())
        };
        let ok = sets(&["up", "{job=\"api\", env!=\"dev\"}"]).unwrap_or_default();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0][0].op, MatchOp::Equal);
        assert_eq!(ok[1].len(), 2);
        assert!(sets(&["rate(up[5m])"]).is_err());
        assert!(sets(&["up{"]).is_err());
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_quote("x"), "\"x\"");
        assert_eq!(go_quote("a\"b\\"), "\"a\\\"b\\\\\"");
        assert_eq!(go_quote("\n\u{1}"), "\"\\n\\x01\"");
        assert_eq!(go_quote("é"), "\"é\"");
    }

    #[test]
    fn u_escaped_names() {
        assert_eq!(unescape_name("U__my_2e_label"), "my.label");
        assert_eq!(unescape_name("U__a__b"), "a_b");
        assert_eq!(unescape_name("U___1f600_"), "\u{1f600}");
        assert_eq!(unescape_name("job"), "job");
        assert_eq!(unescape_name("U__bad_zz_"), "U__bad_zz_");
        assert_eq!(unescape_name("U__open_2e"), "U__open_2e");
        assert_eq!(unescape_name("U__x_"), "U__x_");
    }
}
