//! TraceQL answers as Tempo's JSON (`pkg/tempopb` through gogo `jsonpb`, as
//! `engine.go` `asTraceSearchMetadata` and the metrics combiner build them):
//!
//! - a search is a `SearchResponse`: traces with `traceID` (hex, leading zeros trimmed as
//!   Tempo's `TraceIDToHexString` does), `rootServiceName`, `rootTraceName`,
//!   `startTimeUnixNano` (a string), `durationMs`, `spanSets` and, for older clients, the
//!   first of them again as `spanSet`; spans with `spanID` (16 hex digits), `name`,
//!   `startTimeUnixNano`, `durationNanos` and `attributes`;
//! - a range query is a `QueryRangeResponse`: series with typed `labels`, `samples`
//!   (`timestampMs` a string, `value`) and `promLabels` (the labels as Prometheus text, which
//!   Tempo sent before 2.9 and older Grafana reads; current Grafana ignores unknown fields
//!   there); an instant query a `QueryInstantResponse` (`labels`, `value`), without
//!   `promLabels` (Grafana parses it strictly).
//!
//! Attribute values: strings, ints (as strings), floats, bools as their OTLP values;
//! durations as Go writes them (`1.5ms`), statuses and kinds as their names, nil as `nil`.

use serde_json::{Value as Json, json};
use strata_query::traceql::{MetricSeries, SpanMatch, SpanSetMatch, TraceMatch, Value};

use super::json::double;

/// What Tempo calls the root of a trace whose root span it has not found.
const NO_ROOT: &str = "<root span not yet received>";

/// A duration as Go's `time.Duration.String()` writes it: `0s`, `1.5µs`, `50ms`,
/// `1m30.5s`, `2h0m0s`.
pub(crate) fn go_duration(ns: i64) -> String {
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let frac = |v: u64, unit: u64, digits: usize| -> String {
        let whole = v / unit;
        let rest = v % unit;
        if rest == 0 {
            whole.to_string()
        } else {
            let f = format!("{rest:0digits$}");
            format!("{whole}.{}", f.trim_end_matches('0'))
        }
    };
    let body = if u == 0 {
        "0s".to_owned()
    } else if u < 1_000 {
        format!("{u}ns")
    } else if u < 1_000_000 {
        format!("{}µs", frac(u, 1_000, 3))
    } else if u < 1_000_000_000 {
        format!("{}ms", frac(u, 1_000_000, 6))
    } else {
        let secs = u / 1_000_000_000;
        let (h, m, s) = (secs / 3_600, secs / 60 % 60, secs % 60);
        let s = frac(s * 1_000_000_000 + u % 1_000_000_000, 1_000_000_000, 9);
        if h > 0 {
            format!("{h}h{m}m{s}s")
        } else if m > 0 {
            format!("{m}m{s}s")
        } else {
            format!("{s}s")
        }
    };
    if neg { format!("-{body}") } else { body }
}

/// A TraceQL value as an OTLP JSON value, as Tempo's `Static.AsAnyValue` makes it.
pub(crate) fn any_value(v: &Value) -> Json {
    match v {
        Value::Str(s) => json!({"stringValue": s}),
        Value::Int(i) => json!({"intValue": i.to_string()}),
        Value::Float(f) => json!({"doubleValue": double(*f)}),
        Value::Bool(b) => json!({"boolValue": b}),
        Value::Duration(ns) => json!({"stringValue": go_duration(*ns)}),
        Value::Status(s) => json!({"stringValue": s.as_str()}),
        Value::Kind(k) => json!({"stringValue": k.as_str()}),
        Value::Nil => json!({"stringValue": "nil"}),
    }
}

fn key_values(attrs: &[(String, Value)]) -> Vec<Json> {
    attrs
        .iter()
        .map(|(k, v)| json!({"key": k, "value": any_value(v)}))
        .collect()
}

fn span(s: &SpanMatch) -> Json {
    let mut o = json!({
        "spanID": hex::encode(s.span_id),
        "name": s.name,
        "startTimeUnixNano": s.start_ns.max(0).to_string(),
        "durationNanos": s.duration_ns.max(0).to_string(),
    });
    if !s.attributes.is_empty() {
        o["attributes"] = Json::Array(key_values(&s.attributes));
    }
    o
}

fn spanset(s: &SpanSetMatch) -> Json {
    let mut o = json!({
        "spans": s.spans.iter().map(span).collect::<Vec<_>>(),
        "matched": s.matched,
    });
    if !s.attributes.is_empty() {
        o["attributes"] = Json::Array(key_values(&s.attributes));
    }
    o
}

/// Tempo's hex of a trace id: lower case, leading zeros trimmed.
pub(crate) fn trace_id_hex(id: &[u8]) -> String {
    let h = hex::encode(id);
    h.trim_start_matches('0').to_owned()
}

/// A `SearchResponse` of the traces found.
pub(crate) fn search_response(traces: &[TraceMatch]) -> Json {
    let traces: Vec<Json> = traces
        .iter()
        .map(|t| {
            let sets: Vec<Json> = t.spansets.iter().map(spanset).collect();
            let mut o = json!({
                "traceID": trace_id_hex(&t.trace_id),
                "rootServiceName": t.root_service_name.as_deref().unwrap_or(NO_ROOT),
                "startTimeUnixNano": t.start_ns.max(0).to_string(),
                "durationMs": t.duration_ns.max(0) / 1_000_000,
            });
            if let Some(name) = &t.root_span_name {
                o["rootTraceName"] = json!(name);
            }
            if let Some(first) = sets.first() {
                o["spanSet"] = first.clone();
                o["spanSets"] = Json::Array(sets);
            }
            o
        })
        .collect();
    json!({"traces": traces, "metrics": {}})
}

/// Labels as Prometheus text, `{k="v", ...}`, as Tempo's `promLabels` were.
fn prom_labels(labels: &[(String, Value)]) -> String {
    let parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::Str(s) => s.clone(),
                other => match any_value(other).as_object().and_then(|o| o.values().next()) {
                    Some(Json::String(s)) => s.clone(),
                    Some(x) => x.to_string(),
                    None => String::new(),
                },
            };
            format!("{k}={text:?}")
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// A `QueryRangeResponse` of the series.
pub(crate) fn range_response(series: &[MetricSeries]) -> Json {
    let series: Vec<Json> = series
        .iter()
        .map(|s| {
            json!({
                "labels": key_values(&s.labels),
                "samples": s
                    .points
                    .iter()
                    .map(|(t, v)| json!({"timestampMs": t.to_string(), "value": double(*v)}))
                    .collect::<Vec<_>>(),
                "promLabels": prom_labels(&s.labels),
            })
        })
        .collect();
    json!({"series": series, "metrics": {}})
}

/// A `QueryInstantResponse`: each series with its one value.
pub(crate) fn instant_response(series: &[(Vec<(String, Value)>, f64)]) -> Json {
    let series: Vec<Json> = series
        .iter()
        .map(|(labels, v)| json!({"labels": key_values(labels), "value": double(*v)}))
        .collect();
    json!({"series": series, "metrics": {}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_writes_them() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(999), "999ns");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(50_000_000), "50ms");
        assert_eq!(go_duration(1_500_000), "1.5ms");
        assert_eq!(go_duration(90_500_000_000), "1m30.5s");
        assert_eq!(go_duration(7_200_000_000_000), "2h0m0s");
        assert_eq!(go_duration(-2_000_000_000), "-2s");
    }

    #[test]
    fn trace_ids_trim_leading_zeros_and_labels_read_as_prometheus() {
        let mut id = [0u8; 16];
        id[15] = 0xab;
        assert_eq!(trace_id_hex(&id), "ab");
        let labels = vec![
            ("resource.service.name".to_owned(), Value::Str("a".into())),
            ("p".to_owned(), Value::Float(0.9)),
        ];
        assert_eq!(
            prom_labels(&labels),
            r#"{resource.service.name="a", p="0.9"}"#
        );
        assert_eq!(any_value(&Value::Int(3)), json!({"intValue": "3"}),);
    }
}
