//! The Prometheus protobuf exposition format
//! (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
//! encoding=delimited`): a stream of `MetricFamily` messages, each after its varint length,
//! read in place (`ingest/protobuf.rs`) into samples as Prometheus's protobuf parser makes
//! them (`model/textparse/protobufparse.go`):
//!
//! - a counter, gauge or untyped metric is one sample named as its family;
//! - a summary is `<name>{quantile="q"}` per quantile, `<name>_sum` and `<name>_count`;
//! - a histogram with native data (spans, a zero threshold or a zero count) is one native
//!   histogram sample named as its family (a gauge histogram's reset hint is "gauge"),
//!   when native histograms are wanted;
//! - otherwise (or as well, when classic histograms are wanted too) a histogram is
//!   `<name>_bucket{le="b"}` per bucket (an `+Inf` bucket added when missing), `<name>_sum`
//!   and `<name>_count`. `le` and `quantile` values are written as Prometheus writes them
//!   (`1.0`, `0.25`, `+Inf`).
//!
//! Exemplars come from a counter, a classic bucket (onto its `_bucket` sample) and a native
//! histogram's exemplars. Any malformed message refuses the whole body.

use strata_engine::{Counts, Histogram, ResetHint, Span};

use super::{Exemplar, Family, MetricType};
use crate::ingest::protobuf::{
    Budget, DEPTH, FIXED64, LEN, Reader, VARINT, WireError, doubles, expect, sint64s, span, take,
    zigzag32,
};
use crate::ingest::utf8;

/// The value of a sample read from a protobuf body.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A float sample.
    Float(f64),
    /// A native histogram sample.
    Histogram(Histogram),
}

/// One sample of a protobuf body.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtoSample {
    /// The sample's name (`x`, `x_bucket`, `x_sum` ...).
    pub name: String,
    /// Its labels in message order (`le` or `quantile` last), names unique.
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: Value,
    /// The metric's own timestamp, if it has one.
    pub timestamp_ms: Option<i64>,
    /// Its exemplars (a counter's, a bucket's, a native histogram's).
    pub exemplars: Vec<Exemplar>,
}

/// Which histograms a body's histogram metrics become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Histograms {
    /// Native histograms as native histogram samples (else as their classic buckets).
    pub native: bool,
    /// A native histogram's classic buckets too.
    pub classic_too: bool,
}

/// Reads a whole protobuf body into its samples and metric families ([`scan`] collected);
/// an error refuses the body.
pub fn parse_protobuf(
    body: &[u8],
    histograms: Histograms,
) -> Result<(Vec<ProtoSample>, Vec<Family>), String> {
    let mut samples = Vec::new();
    let families = scan(body, histograms, |s| {
        samples.push(s);
        Ok(())
    })?;
    Ok((samples, families))
}

/// Reads a whole body, handing each sample to `each`; returns the metric families. An
/// error (malformed, or from `each`) refuses the body.
pub(crate) fn scan(
    body: &[u8],
    histograms: Histograms,
    mut each: impl FnMut(ProtoSample) -> Result<(), String>,
) -> Result<Vec<Family>, String> {
    let mut r = Reader { rest: body };
    let mut families = Vec::new();
    let mut budget = Budget::default();
    while !r.is_empty() {
        let n = families.len() + 1;
        let at = |e: WireError| format!("metric family {n}: {e}");
        let msg = r.len_delimited().map_err(at)?;
        let fam = family(msg).map_err(at)?;
        let name =
            text(fam.name, "metric family name").map_err(|e| format!("metric family {n}: {e}"))?;
        if name.is_empty() {
            return Err(format!("metric family {n}: empty name"));
        }
        let kind = kind(fam.kind);
        for m in &fam.metrics {
            let metric = metric(m, fam.kind, &mut budget)
                .map_err(|e| format!("metric family {n} ({name}): {e}"))?;
            samples(&name, fam.kind, metric, histograms, &mut each)
                .map_err(|e| format!("metric family {n} ({name}): {e}"))?;
        }
        let help = text(fam.help, "help").map_err(|e| format!("metric family {n}: {e}"))?;
        let unit = text(fam.unit, "unit").map_err(|e| format!("metric family {n}: {e}"))?;
        families.push(Family {
            name,
            kind,
            help: (!help.is_empty()).then_some(help),
            unit: (!unit.is_empty()).then_some(unit),
        });
    }
    Ok(families)
}

/// `MetricType` values.
const COUNTER: u64 = 0;
const GAUGE: u64 = 1;
const SUMMARY: u64 = 2;
const HISTOGRAM: u64 = 4;
const GAUGE_HISTOGRAM: u64 = 5;

fn kind(t: u64) -> MetricType {
    match t {
        COUNTER => MetricType::Counter,
        GAUGE => MetricType::Gauge,
        SUMMARY => MetricType::Summary,
        HISTOGRAM => MetricType::Histogram,
        GAUGE_HISTOGRAM => MetricType::GaugeHistogram,
        _ => MetricType::Unknown,
    }
}

/// A `MetricFamily` message, its metrics not yet read.
struct FamilyMsg<'a> {
    name: &'a [u8],
    help: &'a [u8],
    kind: u64,
    metrics: Vec<&'a [u8]>,
    unit: &'a [u8],
}

fn family(buf: &[u8]) -> Result<FamilyMsg<'_>, WireError> {
    let mut f = FamilyMsg {
        name: &[],
        help: &[],
        kind: COUNTER,
        metrics: Vec::new(),
        unit: &[],
    };
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        match tag {
            1 | 2 | 5 => {
                expect("MetricFamily.name/help/unit", wire, LEN)?;
                let v = r.len_delimited()?;
                match tag {
                    1 => f.name = v,
                    2 => f.help = v,
                    _ => f.unit = v,
                }
            }
            3 => {
                expect("MetricFamily.type", wire, VARINT)?;
                f.kind = r.varint()?;
            }
            4 => {
                expect("MetricFamily.metric", wire, LEN)?;
                f.metrics.push(r.len_delimited()?);
            }
            _ => r.skip(tag, wire, DEPTH)?,
        }
    }
    Ok(f)
}

/// A `Metric` message: its labels, the value message its family's type reads, and its
/// timestamp.
struct MetricMsg<'a> {
    labels: Vec<(String, String)>,
    /// `gauge`, `counter`, `summary`, `untyped` or `histogram`, as the type says.
    value: &'a [u8],
    timestamp_ms: Option<i64>,
}

fn metric<'a>(buf: &'a [u8], kind: u64, budget: &mut Budget) -> Result<MetricMsg<'a>, String> {
    let wanted = match kind {
        COUNTER => 3,
        GAUGE => 2,
        SUMMARY => 4,
        HISTOGRAM | GAUGE_HISTOGRAM => 7,
        _ => 5,
    };
    let mut m = MetricMsg {
        labels: Vec::new(),
        value: &[],
        timestamp_ms: None,
    };
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key().map_err(|e| e.to_string())?;
        match tag {
            1 => {
                expect("Metric.label", wire, LEN).map_err(|e| e.to_string())?;
                take(budget, 1).map_err(|e| e.to_string())?;
                m.labels
                    .push(label(r.len_delimited().map_err(|e| e.to_string())?)?);
            }
            6 => {
                expect("Metric.timestamp_ms", wire, VARINT).map_err(|e| e.to_string())?;
                let ts = r.varint().map_err(|e| e.to_string())? as i64;
                m.timestamp_ms = (ts != 0).then_some(ts);
            }
            t if t == wanted => {
                expect("Metric value", wire, LEN).map_err(|e| e.to_string())?;
                m.value = r.len_delimited().map_err(|e| e.to_string())?;
            }
            _ => r.skip(tag, wire, DEPTH).map_err(|e| e.to_string())?,
        }
    }
    check_labels(&m.labels)?;
    Ok(m)
}

/// A `LabelPair`: a name (not empty, not `__name__`) and a value, UTF-8.
fn label(buf: &[u8]) -> Result<(String, String), String> {
    let (mut name, mut value) = (&[][..], &[][..]);
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key().map_err(|e| e.to_string())?;
        match tag {
            1 | 2 => {
                expect("LabelPair", wire, LEN).map_err(|e| e.to_string())?;
                let v = r.len_delimited().map_err(|e| e.to_string())?;
                if tag == 1 { name = v } else { value = v }
            }
            _ => r.skip(tag, wire, DEPTH).map_err(|e| e.to_string())?,
        }
    }
    let name = text(name, "label name")?;
    if name.is_empty() || name == "__name__" {
        return Err(format!("invalid label name {name:?}"));
    }
    Ok((name, text(value, "label value")?))
}

fn check_labels(labels: &[(String, String)]) -> Result<(), String> {
    let mut names: Vec<&str> = labels.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    match names.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(format!("duplicate label name {:?}", w[0])),
        None => Ok(()),
    }
}

fn text(b: &[u8], what: &str) -> Result<String, String> {
    utf8::text(b)
        .map(str::to_owned)
        .ok_or_else(|| format!("{what} is not valid UTF-8"))
}

/// The fields of a value message this reader uses, by field number.
#[derive(Default)]
struct Fields<'a> {
    /// Doubles and varints by field number (the last one wins).
    doubles: [Option<f64>; 17],
    varints: [Option<u64>; 17],
    /// Repeated messages (quantiles, buckets, spans, exemplars) by field number.
    messages: Vec<(u32, &'a [u8])>,
    pos_deltas: Vec<i64>,
    neg_deltas: Vec<i64>,
    pos_counts: Vec<f64>,
    neg_counts: Vec<f64>,
}

/// Reads a value message: doubles (fixed64), varints, length-delimited messages; the
/// native histogram's packed buckets (fields 10, 11, 13, 14 of `Histogram`) when
/// `histogram`.
fn fields<'a>(
    buf: &'a [u8],
    histogram: bool,
    budget: &mut Budget,
) -> Result<Fields<'a>, WireError> {
    let mut f = Fields::default();
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        let slot = tag as usize;
        match (histogram, tag) {
            (true, 10 | 13) => {
                let out = if tag == 10 {
                    &mut f.neg_deltas
                } else {
                    &mut f.pos_deltas
                };
                sint64s("Histogram.deltas", &mut r, wire, out, budget)?;
            }
            (true, 11 | 14) => {
                let out = if tag == 11 {
                    &mut f.neg_counts
                } else {
                    &mut f.pos_counts
                };
                doubles("Histogram.counts", &mut r, wire, out, budget)?;
            }
            _ if slot < 17 && wire == FIXED64 => {
                f.doubles[slot] = Some(f64::from_bits(r.fixed64()?))
            }
            _ if slot < 17 && wire == VARINT => f.varints[slot] = Some(r.varint()?),
            _ if wire == LEN => {
                take(budget, 1)?;
                f.messages.push((tag, r.len_delimited()?));
            }
            _ => r.skip(tag, wire, DEPTH)?,
        }
    }
    Ok(f)
}

impl Fields<'_> {
    fn double(&self, tag: usize) -> f64 {
        self.doubles[tag].unwrap_or(0.0)
    }
    fn varint(&self, tag: usize) -> u64 {
        self.varints[tag].unwrap_or(0)
    }
    fn messages(&self, tag: u32) -> impl Iterator<Item = &[u8]> {
        self.messages
            .iter()
            .filter(move |(t, _)| *t == tag)
            .map(|(_, m)| *m)
    }
}

/// The samples of one metric of family `name` (of type `kind`), to `each`.
fn samples(
    name: &str,
    kind: u64,
    m: MetricMsg<'_>,
    histograms: Histograms,
    each: &mut impl FnMut(ProtoSample) -> Result<(), String>,
) -> Result<(), String> {
    let mut budget = Budget::default();
    let is_hist = matches!(kind, HISTOGRAM | GAUGE_HISTOGRAM);
    let f = fields(m.value, is_hist, &mut budget).map_err(|e| e.to_string())?;
    let mut out =
        |suffix: &str, extra: Option<(&str, String)>, value: Value, exemplars: Vec<Exemplar>| {
            let mut labels = m.labels.clone();
            if let Some((n, v)) = extra {
                labels.push((n.to_owned(), v));
            }
            each(ProtoSample {
                name: format!("{name}{suffix}"),
                labels,
                value,
                timestamp_ms: m.timestamp_ms,
                exemplars,
            })
        };
    match kind {
        COUNTER => {
            let ex = f.messages(2).map(exemplar).collect::<Result<Vec<_>, _>>()?;
            out("", None, Value::Float(f.double(1)), ex)
        }
        SUMMARY => {
            out("_count", None, Value::Float(f.varint(1) as f64), Vec::new())?;
            out("_sum", None, Value::Float(f.double(2)), Vec::new())?;
            for q in f.messages(3) {
                let q = fields(q, false, &mut budget).map_err(|e| e.to_string())?;
                let label = ("quantile", om_float(q.double(1)));
                out("", Some(label), Value::Float(q.double(2)), Vec::new())?;
            }
            Ok(())
        }
        HISTOGRAM | GAUGE_HISTOGRAM => {
            let native = native(&f);
            if native && histograms.native {
                let h = histogram(&f, kind == GAUGE_HISTOGRAM)?;
                let mut ex = f
                    .messages(16)
                    .map(exemplar)
                    .collect::<Result<Vec<_>, _>>()?;
                ex.retain(|e| e.timestamp_ms.is_some());
                out("", None, Value::Histogram(h), ex)?;
                if !histograms.classic_too {
                    return Ok(());
                }
            }
            if native && f.messages(3).next().is_none() && histograms.native {
                return Ok(());
            }
            classic(&f, &mut out, &mut budget)
        }
        _ => {
            let v = f.double(1);
            out("", None, Value::Float(v), Vec::new())
        }
    }
}

/// Prometheus's test for a native histogram: spans, a zero threshold or a zero count.
fn native(f: &Fields<'_>) -> bool {
    f.messages(9).next().is_some()
        || f.messages(12).next().is_some()
        || f.double(6) > 0.0
        || f.varint(7) > 0
        || f.double(8) > 0.0
}

/// A native histogram from a `Histogram` message's fields.
fn histogram(f: &Fields<'_>, gauge: bool) -> Result<Histogram, String> {
    let spans = |tag| {
        f.messages(tag)
            .map(|m| span(m, DEPTH).map_err(|e| e.to_string()))
            .collect::<Result<Vec<Span>, String>>()
    };
    let float = f.double(4) > 0.0 || f.double(8) > 0.0;
    let counts = if float {
        Counts::Float {
            count: f.double(4),
            zero_count: f.double(8),
            positive: f.pos_counts.clone(),
            negative: f.neg_counts.clone(),
        }
    } else {
        Counts::Int {
            count: f.varint(1),
            zero_count: f.varint(7),
            positive_deltas: f.pos_deltas.clone(),
            negative_deltas: f.neg_deltas.clone(),
        }
    };
    Ok(Histogram {
        schema: zigzag32(f.varint(5) as u32),
        zero_threshold: f.double(6),
        sum: f.double(2),
        reset_hint: if gauge {
            ResetHint::Gauge
        } else {
            ResetHint::Unknown
        },
        positive_spans: spans(12)?,
        negative_spans: spans(9)?,
        custom_values: Vec::new(),
        counts,
    })
}

/// A histogram's classic series: `_count`, `_sum`, then `_bucket` per bucket and `+Inf`.
fn classic(
    f: &Fields<'_>,
    out: &mut impl FnMut(&str, Option<(&str, String)>, Value, Vec<Exemplar>) -> Result<(), String>,
    budget: &mut Budget,
) -> Result<(), String> {
    let count = if f.double(4) > 0.0 {
        f.double(4)
    } else {
        f.varint(1) as f64
    };
    out("_count", None, Value::Float(count), Vec::new())?;
    out("_sum", None, Value::Float(f.double(2)), Vec::new())?;
    let mut inf = false;
    for b in f.messages(3) {
        let b = fields(b, false, budget).map_err(|e| e.to_string())?;
        let upper = b.double(2);
        inf |= upper == f64::INFINITY;
        let n = if b.double(4) > 0.0 {
            b.double(4)
        } else {
            b.varint(1) as f64
        };
        let ex = b.messages(3).map(exemplar).collect::<Result<Vec<_>, _>>()?;
        out(
            "_bucket",
            Some(("le", om_float(upper))),
            Value::Float(n),
            ex,
        )?;
    }
    if !inf {
        out(
            "_bucket",
            Some(("le", "+Inf".into())),
            Value::Float(count),
            Vec::new(),
        )?;
    }
    Ok(())
}

/// An `Exemplar`: labels, value, optional timestamp (`google.protobuf.Timestamp`).
fn exemplar(buf: &[u8]) -> Result<Exemplar, String> {
    let mut budget = Budget::default();
    let f = fields(buf, false, &mut budget).map_err(|e| e.to_string())?;
    let labels = f.messages(1).map(label).collect::<Result<Vec<_>, _>>()?;
    check_labels(&labels)?;
    let timestamp_ms = match f.messages(3).last() {
        Some(ts) => {
            let t = fields(ts, false, &mut budget).map_err(|e| e.to_string())?;
            let (secs, nanos) = (t.varint(1) as i64, t.varint(2) as i64);
            Some(secs.saturating_mul(1000).saturating_add(nanos / 1_000_000))
        }
        None => None,
    };
    Ok(Exemplar {
        labels,
        value: f.double(2),
        timestamp_ms,
    })
}

/// A float as Prometheus writes `le` and `quantile` values from a protobuf body (Go's
/// shortest `%g`, with `.0` added to a whole number): `1.0`, `0.25`, `1e+06`, `+Inf`.
pub(crate) fn om_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let s = go_shortest_g(v);
    if s.contains(['e', '.']) { s } else { s + ".0" }
}

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)` for a finite `v`: the shortest digits that
/// round-trip, in `%e` form (two exponent digits at least) when the decimal exponent is
/// below -4 or at least 6.
fn go_shortest_g(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `d.ddddde<exp>`.
    let e = format!("{v:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, digits) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m.replace('.', "")),
        None => ("", mantissa.replace('.', "")),
    };
    if !(-4..6).contains(&exp) {
        let frac = if digits.len() > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{}{frac}e{esign}{:02}", &digits[..1], exp.abs());
    }
    let point = exp + 1;
    if point <= 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-point) as usize));
    }
    let point = point as usize;
    if digits.len() <= point {
        format!("{sign}{digits}{}", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}
