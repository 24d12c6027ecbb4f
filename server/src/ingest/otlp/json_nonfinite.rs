//! proto3 JSON's non-finite doubles (`"NaN"`, `"Infinity"`, `"-Infinity"`) in OTLP/JSON.
//!
//! opentelemetry-proto's serde types accept those strings only for summary quantiles and
//! values: elsewhere (`asDouble`, a histogram's `sum`/`min`/`max`/`explicitBounds`, an
//! `AnyValue`'s `doubleValue`) a string fails to decode or, inside a flattened `oneof`,
//! silently becomes "no value". This module repairs that without forking the types:
//!
//! 1. Only when the body contains one of the three strings (a byte search), it is parsed as
//!    a `serde_json::Value` and each such string under one of the double keys is replaced by
//!    a *sentinel*: an integer that is exactly representable as an `f64` and appears
//!    nowhere else as a number in the body (checked; another set is tried if it does).
//! 2. The rewritten JSON decodes through the normal path.
//! 3. Every double field of the decoded request that holds a sentinel gets its real value.
//!
//! Because a sentinel is known not to occur as a number anywhere in the original body, a
//! double equal to a sentinel after decoding can only come from step 1: the repair is exact.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{exemplar, metric, number_data_point};
use serde_json::Value;

/// The proto3 JSON spellings of the non-finite doubles.
const SPELLINGS: [(&str, f64); 3] = [
    ("NaN", f64::NAN),
    ("Infinity", f64::INFINITY),
    ("-Infinity", f64::NEG_INFINITY),
];

/// OTLP/JSON keys whose value is a double (or, for `explicitBounds`, an array of doubles).
/// Summary quantiles and values are left to opentelemetry-proto, which handles them.
const DOUBLE_KEYS: [&str; 6] = [
    "asDouble",
    "doubleValue",
    "sum",
    "min",
    "max",
    "explicitBounds",
];

/// Sentinel sets tried in turn: integers below 2^53, so exact as `f64`, and odd enough
/// that real telemetry is unlikely to hold them (if it does, the next set is used).
const SENTINEL_SETS: [[u64; 3]; 3] = [
    [
        9_007_199_254_740_881,
        9_007_199_254_740_883,
        9_007_199_254_740_887,
    ],
    [
        8_888_888_888_888_801,
        8_888_888_888_888_803,
        8_888_888_888_888_807,
    ],
    [
        7_777_777_777_777_701,
        7_777_777_777_777_703,
        7_777_777_777_777_707,
    ],
];

/// The replacement done on a body: which sentinel stands for which non-finite double.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sentinels {
    map: [(f64, f64); 3],
}

impl Sentinels {
    /// The non-finite double that `v` stands for, if it is a sentinel.
    fn restore(&self, v: &mut f64) {
        if let Some((_, real)) = self.map.iter().find(|(s, _)| *s == *v) {
            *v = *real;
        }
    }
}

/// Whether `body` may hold a quoted non-finite double (cheap: a byte search).
pub(crate) fn may_hold_nonfinite(body: &[u8]) -> bool {
    // `"Infinity"` is a suffix of `"-Infinity"`, so two patterns cover all three.
    contains(body, b"\"NaN\"") || contains(body, b"Infinity\"")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Rewrites `body`, replacing the quoted non-finite doubles under [`DOUBLE_KEYS`] with
/// sentinels. `Ok(None)` when nothing needed replacing (decode `body` as it is); `Err`
/// when `body` is not JSON (the caller's normal decode reports that).
pub(crate) fn rewrite(body: &[u8]) -> Result<Option<(Vec<u8>, Sentinels)>, serde_json::Error> {
    let mut json: Value = serde_json::from_slice(body)?;
    let Some(set) = SENTINEL_SETS
        .iter()
        .find(|set| !set.iter().any(|s| holds_number(&json, *s as f64)))
    else {
        // Every set occurs in the body as a number: leave it to the normal decode.
        return Ok(None);
    };
    let mut sentinels = Sentinels {
        map: [(0.0, 0.0); 3],
    };
    for (slot, (&s, (_, real))) in sentinels.map.iter_mut().zip(set.iter().zip(SPELLINGS)) {
        *slot = (s as f64, real);
    }
    let mut replaced = 0usize;
    replace(&mut json, set, &mut replaced);
    if replaced == 0 {
        return Ok(None);
    }
    let bytes = serde_json::to_vec(&json)?;
    Ok(Some((bytes, sentinels)))
}

/// Whether any number in `v` equals `x`.
fn holds_number(v: &Value, x: f64) -> bool {
    match v {
        Value::Number(n) => n.as_f64() == Some(x),
        Value::Array(items) => items.iter().any(|i| holds_number(i, x)),
        Value::Object(map) => map.values().any(|i| holds_number(i, x)),
        _ => false,
    }
}

/// Replaces, under every double key in `v`, a non-finite spelling by its sentinel.
fn replace(v: &mut Value, set: &[u64; 3], replaced: &mut usize) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| replace(i, set, replaced)),
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if DOUBLE_KEYS.contains(&key.as_str()) {
                    if let Value::Array(items) = value {
                        items.iter_mut().for_each(|i| substitute(i, set, replaced));
                    } else {
                        substitute(value, set, replaced);
                    }
                }
                replace(value, set, replaced);
            }
        }
        _ => {}
    }
}

/// `v` as its sentinel when it is one of the non-finite spellings.
fn substitute(v: &mut Value, set: &[u64; 3], replaced: &mut usize) {
    let Value::String(s) = v else { return };
    if let Some(i) = SPELLINGS.iter().position(|(spelling, _)| s == spelling) {
        *v = Value::from(set[i]);
        *replaced += 1;
    }
}

/// Puts the real non-finite values back into a decoded metrics request.
pub(crate) fn restore_metrics(req: &mut ExportMetricsServiceRequest, s: &Sentinels) {
    for rm in &mut req.resource_metrics {
        if let Some(r) = &mut rm.resource {
            restore_attrs(&mut r.attributes, s);
        }
        for sm in &mut rm.scope_metrics {
            if let Some(scope) = &mut sm.scope {
                restore_attrs(&mut scope.attributes, s);
            }
            for m in &mut sm.metrics {
                restore_attrs(&mut m.metadata, s);
                restore_metric_data(m.data.as_mut(), s);
            }
        }
    }
}

fn restore_metric_data(data: Option<&mut metric::Data>, s: &Sentinels) {
    let restore_opt = |v: &mut Option<f64>| {
        if let Some(v) = v {
            s.restore(v);
        }
    };
    let restore_exemplars = |ex: &mut Vec<opentelemetry_proto::tonic::metrics::v1::Exemplar>| {
        for e in ex {
            restore_attrs(&mut e.filtered_attributes, s);
            if let Some(exemplar::Value::AsDouble(v)) = &mut e.value {
                s.restore(v);
            }
        }
    };
    let number_points =
        |points: &mut Vec<opentelemetry_proto::tonic::metrics::v1::NumberDataPoint>| {
            for p in points {
                restore_attrs(&mut p.attributes, s);
                restore_exemplars(&mut p.exemplars);
                if let Some(number_data_point::Value::AsDouble(v)) = &mut p.value {
                    s.restore(v);
                }
            }
        };
    match data {
        None => {}
        Some(metric::Data::Gauge(g)) => number_points(&mut g.data_points),
        Some(metric::Data::Sum(sum)) => number_points(&mut sum.data_points),
        Some(metric::Data::Histogram(h)) => {
            for p in &mut h.data_points {
                restore_attrs(&mut p.attributes, s);
                restore_exemplars(&mut p.exemplars);
                restore_opt(&mut p.sum);
                restore_opt(&mut p.min);
                restore_opt(&mut p.max);
                p.explicit_bounds.iter_mut().for_each(|b| s.restore(b));
            }
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            for p in &mut h.data_points {
                restore_attrs(&mut p.attributes, s);
                restore_exemplars(&mut p.exemplars);
                restore_opt(&mut p.sum);
                restore_opt(&mut p.min);
                restore_opt(&mut p.max);
            }
        }
        Some(metric::Data::Summary(summary)) => {
            for p in &mut summary.data_points {
                restore_attrs(&mut p.attributes, s);
                s.restore(&mut p.sum);
            }
        }
    }
}

/// Puts the real non-finite values back into a decoded traces request.
pub(crate) fn restore_traces(req: &mut ExportTraceServiceRequest, s: &Sentinels) {
    for rs in &mut req.resource_spans {
        if let Some(r) = &mut rs.resource {
            restore_attrs(&mut r.attributes, s);
        }
        for ss in &mut rs.scope_spans {
            if let Some(scope) = &mut ss.scope {
                restore_attrs(&mut scope.attributes, s);
            }
            for span in &mut ss.spans {
                restore_attrs(&mut span.attributes, s);
                for e in &mut span.events {
                    restore_attrs(&mut e.attributes, s);
                }
                for l in &mut span.links {
                    restore_attrs(&mut l.attributes, s);
                }
            }
        }
    }
}

/// Puts the real non-finite values back into a decoded logs request.
pub(crate) fn restore_logs(req: &mut ExportLogsServiceRequest, s: &Sentinels) {
    for rl in &mut req.resource_logs {
        if let Some(r) = &mut rl.resource {
            restore_attrs(&mut r.attributes, s);
        }
        for sl in &mut rl.scope_logs {
            if let Some(scope) = &mut sl.scope {
                restore_attrs(&mut scope.attributes, s);
            }
            for rec in &mut sl.log_records {
                restore_attrs(&mut rec.attributes, s);
                if let Some(body) = &mut rec.body {
                    restore_any(body, s);
                }
            }
        }
    }
}

fn restore_attrs(attrs: &mut [KeyValue], s: &Sentinels) {
    for kv in attrs {
        if let Some(v) = &mut kv.value {
            restore_any(v, s);
        }
    }
}

fn restore_any(v: &mut AnyValue, s: &Sentinels) {
    match &mut v.value {
        Some(any_value::Value::DoubleValue(d)) => s.restore(d),
        Some(any_value::Value::ArrayValue(a)) => {
            a.values.iter_mut().for_each(|i| restore_any(i, s))
        }
        Some(any_value::Value::KvlistValue(kv)) => restore_attrs(&mut kv.values, s),
        _ => {}
    }
}
