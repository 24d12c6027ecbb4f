//! Native histograms in `promqltest` scripts: the `{{schema:N sum:F ...}}` notation, its
//! expansions, the NHCB conversion of `load_with_nhcb`, and the comparison of results.
//!
//! Derived from prometheus/promql/parser/parse.go (`buildHistogramFromMap`,
//! `histogramsSeries`), prometheus/promql/promqltest/test.go (`compareNativeHistogram`,
//! `spansMatch`) and prometheus/util/convertnhcb.

use std::sync::Arc;

use strata_query::promql::native::{CUSTOM_BUCKETS_SCHEMA, FloatHistogram, ResetHint, Span};

/// A histogram of a script, and whether its `counter_reset_hint` was given (results are
/// compared on the hint only then).
#[derive(Debug, Clone)]
pub(crate) struct HistPoint {
    pub(crate) h: Arc<FloatHistogram>,
    pub(crate) hint_set: bool,
}

/// Parses one `{{...}}` description (the text between the braces).
pub(crate) fn parse_desc(body: &str) -> Result<HistPoint, String> {
    let mut h = FloatHistogram::default();
    let mut hint_set = false;
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    let (mut pos_off, mut neg_off) = (0i32, 0i32);
    let mut seen: Vec<String> = Vec::new();
    let mut rest = body.trim();
    while !rest.is_empty() {
        let colon = rest
            .find(':')
            .ok_or_else(|| format!("bad histogram item {rest:?}"))?;
        let key = rest[..colon].trim().to_string();
        rest = rest[colon + 1..].trim_start();
        if seen.contains(&key) {
            return Err(format!("duplicate key \"{key}\" in histogram"));
        }
        seen.push(key.clone());
        let value;
        if rest.starts_with('[') {
            let end = rest
                .find(']')
                .ok_or_else(|| format!("unclosed list in {body:?}"))?;
            value = &rest[..=end];
            rest = rest[end + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            value = &rest[..end];
            rest = rest[end..].trim_start();
        }
        let float = || number(value).ok_or_else(|| format!("bad {key} {value:?}"));
        let int = || integer(value).ok_or_else(|| format!("bad {key} {value:?}"));
        match key.as_str() {
            "schema" => h.schema = int()? as i32,
            "sum" => h.sum = float()?,
            "count" => h.count = float()?,
            "z_bucket" => h.zero_count = float()?,
            "z_bucket_w" => h.zero_threshold = float()?,
            "buckets" => pos = list(value)?,
            "n_buckets" => neg = list(value)?,
            "offset" => pos_off = int()? as i32,
            "n_offset" => neg_off = int()? as i32,
            "custom_values" => h.custom_values = list(value)?.into(),
            "counter_reset_hint" => {
                hint_set = true;
                h.reset_hint = match value {
                    "unknown" => ResetHint::Unknown,
                    "reset" => ResetHint::Reset,
                    "not_reset" => ResetHint::NotReset,
                    "gauge" => ResetHint::Gauge,
                    _ => return Err(format!("bad counter_reset_hint {value:?}")),
                };
            }
            _ => return Err(format!("unknown histogram key {key:?}")),
        }
    }
    let span = |offset: i32, n: usize| {
        if n == 0 {
            Vec::new()
        } else {
            vec![Span {
                offset,
                length: n as u32,
            }]
        }
    };
    h.positive_spans = span(pos_off, pos.len());
    h.negative_spans = span(neg_off, neg.len());
    h.positive = pos;
    h.negative = neg;
    Ok(HistPoint {
        h: Arc::new(h),
        hint_set,
    })
}

fn integer(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()?
    } else {
        body.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

fn number(s: &str) -> Option<f64> {
    super::script::parse_number(s)
}

fn list(s: &str) -> Result<Vec<f64>, String> {
    let inner = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| format!("bad list {s:?}"))?;
    inner
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .map(|t| number(t).ok_or_else(|| format!("bad number {t:?} in {s:?}")))
        .collect()
}

/// The end (exclusive) of the `{{...}}` starting `tok`.
fn close(tok: &str) -> Result<usize, String> {
    tok.find("}}")
        .map(|i| i + 2)
        .ok_or_else(|| format!("unclosed histogram {tok:?}"))
}

/// Parses a value token that starts with `{{`: `{{h}}`, `{{h}}xN` (N+1 copies), or
/// `{{a}}+{{b}}xN` / `{{a}}-{{b}}xN` (`a`, then `b` added or subtracted N times).
pub(crate) fn parse_token(tok: &str) -> Result<Vec<HistPoint>, String> {
    let end = close(tok)?;
    let a = parse_desc(&tok[2..end - 2])?;
    let rest = &tok[end..];
    if rest.is_empty() {
        return Ok(vec![a]);
    }
    if let Some(n) = rest.strip_prefix('x') {
        let n: usize = n.parse().map_err(|_| format!("bad repeat in {tok:?}"))?;
        return Ok(vec![a; n + 1]);
    }
    let sign = match rest.as_bytes().first() {
        Some(b'+') => 1.0,
        Some(b'-') => -1.0,
        _ => return Err(format!("bad histogram value {tok:?}")),
    };
    let rest = &rest[1..];
    if !rest.starts_with("{{") {
        return Err(format!("bad histogram value {tok:?}"));
    }
    let end_b = close(rest)?;
    let b = parse_desc(&rest[2..end_b - 2])?;
    let n: usize = rest[end_b..]
        .strip_prefix('x')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("bad repeat in {tok:?}"))?;
    // As Prometheus's `histogramsSeries`: every value carries the increment's hint flag.
    let hint_set = b.hint_set;
    let mut out = vec![HistPoint {
        h: a.h.clone(),
        hint_set,
    }];
    let mut cur = (*a.h).clone();
    for _ in 0..n {
        if cur.schema > b.h.schema {
            return Err(format!(
                "error combining histograms: cannot merge from schema {} to {}",
                b.h.schema, cur.schema
            ));
        }
        let r = if sign > 0.0 {
            cur.add(&b.h)
        } else {
            cur.sub(&b.h)
        };
        r.map_err(|e| e.to_string())?;
        out.push(HistPoint {
            h: Arc::new(cur.clone()),
            hint_set,
        });
    }
    Ok(out)
}

/// Whether two span lists describe the same buckets, zero-length spans aside (Prometheus's
/// `spansMatch`).
fn spans_match(a: &[Span], b: &[Span]) -> bool {
    let norm = |s: &[Span]| -> Vec<(i32, u32)> {
        let mut out: Vec<(i32, u32)> = Vec::new();
        let mut carry = 0;
        for sp in s {
            if sp.length == 0 {
                carry += sp.offset;
                continue;
            }
            out.push((sp.offset + carry, sp.length));
            carry = 0;
        }
        out
    };
    norm(a) == norm(b)
}

/// Prometheus's `compareNativeHistogram` on both histograms compacted.
pub(crate) fn matches(exp: &HistPoint, got: &FloatHistogram, eq: fn(f64, f64) -> bool) -> bool {
    let mut e = (*exp.h).clone();
    e.compact(0);
    let mut g = got.clone();
    g.compact(0);
    let buckets =
        |a: &[f64], b: &[f64]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| eq(*x, *y));
    e.schema == g.schema
        && eq(e.count, g.count)
        && eq(e.sum, g.sum)
        && (!e.uses_custom_buckets() || e.custom_values[..] == g.custom_values[..])
        && e.zero_threshold == g.zero_threshold
        && eq(e.zero_count, g.zero_count)
        && spans_match(&e.negative_spans, &g.negative_spans)
        && buckets(&e.negative, &g.negative)
        && spans_match(&e.positive_spans, &g.positive_spans)
        && buckets(&e.positive, &g.positive)
        && (!exp.hint_set || e.reset_hint == g.reset_hint)
}

/// One classic histogram's samples at one timestamp: `(le, count)` buckets, `_count`, `_sum`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Classic {
    pub(crate) buckets: Vec<(f64, f64)>,
    pub(crate) count: Option<f64>,
    pub(crate) sum: Option<f64>,
}

/// The NHCB (schema -53) histogram of classic buckets, as Prometheus's `convertnhcb`: the
/// finite `le` bounds become the custom values and each bucket holds the difference of
/// cumulative counts; a missing `+Inf` bucket gets the `_count`, and a missing `_count` is
/// the `+Inf` bucket's. `None` where Prometheus's conversion fails (counts not cumulative,
/// negative, or `_count` unequal to the `+Inf` bucket).
pub(crate) fn nhcb(c: &Classic) -> Option<FloatHistogram> {
    let mut b: Vec<(f64, f64)> = Vec::new();
    for &(le, n) in &c.buckets {
        if le.is_nan() || n < 0.0 {
            return None;
        }
        if !b.iter().any(|x| x.0 == le) {
            b.push((le, n));
        }
    }
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    if b.windows(2).any(|w| w[1].1 < w[0].1) {
        return None;
    }
    let count = match (c.count, b.last()) {
        (Some(n), _) => n,
        (None, Some(last)) => last.1,
        (None, None) => 0.0,
    };
    if count < 0.0 {
        return None;
    }
    if b.last().is_none_or(|l| l.0 != f64::INFINITY) {
        b.push((f64::INFINITY, count));
    }
    if b.last().is_some_and(|l| l.1 != count) {
        return None;
    }
    let integers = b.iter().all(|x| x.1.round() == x.1) && count.round() == count;
    let mut prev = 0.0;
    let positive: Vec<f64> = b
        .iter()
        .map(|x| {
            let d = x.1 - prev;
            prev = x.1;
            d
        })
        .collect();
    let mut h = FloatHistogram {
        schema: CUSTOM_BUCKETS_SCHEMA,
        count,
        sum: c.sum.unwrap_or(0.0),
        positive_spans: vec![Span {
            offset: 0,
            length: positive.len() as u32,
        }],
        positive,
        custom_values: b.iter().map(|x| x.0).filter(|le| le.is_finite()).collect(),
        ..FloatHistogram::default()
    };
    // Prometheus compacts an integer conversion keeping runs of up to 2 empty buckets.
    h.compact(if integers { 2 } else { 0 });
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_descriptions_and_expansions() {
        let p = parse_token("{{schema:1 sum:5 count:3 z_bucket:1 z_bucket_w:0.001 buckets:[1 1] offset:2 n_buckets:[1] counter_reset_hint:gauge}}").unwrap();
        let h = &p[0].h;
        assert_eq!(
            (h.schema, h.sum, h.count, h.zero_count, h.zero_threshold),
            (1, 5.0, 3.0, 1.0, 0.001)
        );
        assert_eq!(
            h.positive_spans,
            vec![Span {
                offset: 2,
                length: 2
            }]
        );
        assert_eq!(
            h.negative_spans,
            vec![Span {
                offset: 0,
                length: 1
            }]
        );
        assert_eq!(h.reset_hint, ResetHint::Gauge);
        assert!(p[0].hint_set);
        let p = parse_token("{{sum:1 count:1}}x2").unwrap();
        assert_eq!(p.len(), 3);
        let p =
            parse_token("{{sum:1 count:2 buckets:[2]}}+{{sum:1 count:1 buckets:[1]}}x3").unwrap();
        let counts: Vec<f64> = p.iter().map(|x| x.h.count).collect();
        assert_eq!(counts, vec![2.0, 3.0, 4.0, 5.0]);
        assert_eq!(p[3].h.positive, vec![5.0]);
        let p = parse_token("{{count:10 sum:10}}-{{count:2 sum:1}}x2").unwrap();
        assert_eq!(p[2].h.count, 6.0);
        assert!(parse_token("{{schema:0 sum:1}}+{{schema:1 sum:1}}x1").is_ok());
        // As parse.go: the running histogram's schema may not exceed the increment's.
        assert!(parse_token("{{schema:1 sum:1}}+{{schema:0 sum:1}}x1").is_err());
        assert!(parse_token("{{sum:1 sum:2}}").is_err());
        let p =
            parse_token("{{schema:-53 sum:1 count:1 custom_values:[1 2] buckets:[0 1]}}").unwrap();
        assert_eq!(&p[0].h.custom_values[..], &[1.0, 2.0]);
    }

    #[test]
    fn compares_as_prometheus() {
        let eq = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs()) || a == b;
        let exp = parse_token("{{sum:1 count:2 buckets:[1 0 1]}}")
            .unwrap()
            .remove(0);
        // The same buckets in two spans (no empty bucket between) compare equal.
        let got = FloatHistogram {
            sum: 1.0,
            count: 2.0,
            positive_spans: vec![
                Span {
                    offset: 0,
                    length: 1,
                },
                Span {
                    offset: 1,
                    length: 1,
                },
            ],
            positive: vec![1.0, 1.0],
            reset_hint: ResetHint::Reset,
            ..FloatHistogram::default()
        };
        assert!(matches(&exp, &got, eq));
        let exp = parse_token("{{sum:1 count:2 buckets:[1 0 1] counter_reset_hint:not_reset}}")
            .unwrap()
            .remove(0);
        assert!(!matches(&exp, &got, eq));
        let mut other = got.clone();
        other.positive[1] = 2.0;
        let exp = parse_token("{{sum:1 count:2 buckets:[1 0 1]}}")
            .unwrap()
            .remove(0);
        assert!(!matches(&exp, &other, eq));
    }

    #[test]
    fn classic_buckets_become_nhcb() {
        let c = Classic {
            buckets: vec![(f64::INFINITY, 10.0), (1.0, 2.0), (5.0, 2.0), (10.0, 7.0)],
            count: Some(10.0),
            sum: Some(40.0),
        };
        let h = nhcb(&c).unwrap();
        assert_eq!(h.schema, -53);
        assert_eq!(&h.custom_values[..], &[1.0, 5.0, 10.0]);
        // Buckets 0..=3 hold 2, 0, 5, 3; integer counts are compacted keeping up to two empty
        // buckets in a span (`Compact(2)`), so the empty one stays.
        let got: Vec<(i32, f64)> = h.positive_buckets().map(|b| (b.index, b.count)).collect();
        assert_eq!(got, vec![(0, 2.0), (1, 0.0), (2, 5.0), (3, 3.0)]);
        assert_eq!((h.count, h.sum), (10.0, 40.0));
    }
}
