//! Loki's JSON answers: `streams`, `matrix`, `vector` and `scalar` results with `stats`,
//! and the plain `{"status":"success","data":...}` envelopes of the other endpoints.
//! Written by hand into one buffer (strings escaped by `serde_json`), as the Prometheus
//! API's answers are.

use std::fmt::Write as _;

use strata_query::logql::{Grid, Labels, ScanStats, Series, Stream, Value};

/// Appends `s` as a JSON string.
pub(crate) fn push_str(out: &mut String, s: &str) {
    // Serializing a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

/// Appends labels as a JSON object.
pub(crate) fn push_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, k);
        out.push(':');
        push_str(out, v);
    }
    out.push('}');
}

/// A sample value as Prometheus and Loki write it: a string, `NaN`, `+Inf`, `-Inf`.
fn push_value(out: &mut String, v: f64) {
    out.push('"');
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
    out.push('"');
}

/// A step time as float seconds (Loki writes `1700000000.123`).
fn push_seconds(out: &mut String, ns: i64) {
    let secs = ns.div_euclid(1_000_000_000);
    let millis = ns.rem_euclid(1_000_000_000) / 1_000_000;
    if millis == 0 {
        let _ = write!(out, "{secs}");
    } else {
        let frac = format!("{millis:03}");
        let _ = write!(out, "{secs}.{}", frac.trim_end_matches('0'));
    }
}

/// What a query did, for `data.stats`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct QueryStats {
    pub(crate) scan: ScanStats,
    pub(crate) exec_seconds: f64,
    pub(crate) entries_returned: u64,
}

fn push_stats(out: &mut String, s: &QueryStats) {
    let per_second = |n: u64| {
        if s.exec_seconds > 0.0 {
            (n as f64 / s.exec_seconds) as u64
        } else {
            0
        }
    };
    let _ = write!(
        out,
        concat!(
            r#"{{"summary":{{"bytesProcessedPerSecond":{bps},"linesProcessedPerSecond":{lps},"#,
            r#""totalBytesProcessed":{bytes},"totalLinesProcessed":{lines},"execTime":{exec},"#,
            r#""queueTime":0,"subqueries":0,"totalEntriesReturned":{ret},"splits":0,"shards":0,"#,
            r#""totalPostFilterLines":{lines},"totalStructuredMetadataBytesProcessed":0}},"#,
            r#""querier":{{"store":{{"totalChunksRef":0,"totalChunksDownloaded":0,"chunksDownloadTime":0,"#,
            r#""chunk":{{"headChunkBytes":0,"headChunkLines":0,"decompressedBytes":{bytes},"#,
            r#""decompressedLines":{read},"compressedBytes":0,"totalDuplicates":0}}}}}},"#,
            r#""ingester":{{"totalReached":0,"totalChunksMatched":0,"totalBatches":0,"totalLinesSent":0,"#,
            r#""store":{{"totalChunksRef":0,"totalChunksDownloaded":0,"chunksDownloadTime":0,"#,
            r#""chunk":{{"headChunkBytes":0,"headChunkLines":0,"decompressedBytes":0,"#,
            r#""decompressedLines":0,"compressedBytes":0,"totalDuplicates":0}}}}}}}}"#
        ),
        bps = per_second(s.scan.bytes),
        lps = per_second(s.scan.lines),
        bytes = s.scan.bytes,
        lines = s.scan.lines,
        read = s.scan.lines - s.scan.summarized,
        exec = s.exec_seconds,
        ret = s.entries_returned,
    );
}

/// `{"status":"success","data":{"resultType", ["encodingFlags",] "result", "stats"}}`, in
/// Loki's key order: Grafana reads `encodingFlags` only when it comes before `result`.
fn envelope(result_type: &str, result: &str, stats: &QueryStats, flags: bool) -> String {
    let mut out = String::with_capacity(result.len() + 1024);
    out.push_str(r#"{"status":"success","data":{"resultType":""#);
    out.push_str(result_type);
    out.push('"');
    if flags {
        out.push_str(r#","encodingFlags":["categorize-labels"]"#);
    }
    out.push_str(r#","result":"#);
    out.push_str(result);
    out.push_str(r#","stats":"#);
    push_stats(&mut out, stats);
    out.push_str("}}");
    out
}

/// A log query's answer. With `categorize`, every value carries a third element: an
/// object with the entry's `structuredMetadata` and `parsed` labels (each left out when
/// empty, `{}` when both are), as Grafana requires of every entry once the flag is set.
pub(crate) fn streams(streams: &[Stream], stats: &QueryStats, categorize: bool) -> String {
    let mut r = String::from("[");
    for (i, s) in streams.iter().enumerate() {
        if i > 0 {
            r.push(',');
        }
        r.push_str(r#"{"stream":"#);
        push_labels(&mut r, &s.labels);
        r.push_str(r#","values":["#);
        for (j, e) in s.entries.iter().enumerate() {
            if j > 0 {
                r.push(',');
            }
            let _ = write!(r, r#"["{}","#, e.ts_ns);
            push_str(&mut r, &e.line);
            if categorize {
                r.push_str(",{");
                let mut first = true;
                for (name, labels) in [("structuredMetadata", &e.metadata), ("parsed", &e.parsed)] {
                    if labels.is_empty() {
                        continue;
                    }
                    if !first {
                        r.push(',');
                    }
                    first = false;
                    let _ = write!(r, r#""{name}":"#);
                    push_labels(&mut r, labels);
                }
                r.push('}');
            }
            r.push(']');
        }
        r.push_str("]}");
    }
    r.push(']');
    envelope("streams", &r, stats, categorize)
}

/// A metric query's answer: a matrix for a range query, a vector or scalar for an instant
/// one.
pub(crate) fn metric(value: &Value, grid: &Grid, instant: bool, stats: &QueryStats) -> String {
    let mut r = String::new();
    match value {
        Value::Scalar(v) if instant => {
            r.push('[');
            push_seconds(&mut r, grid.start_ns);
            r.push(',');
            push_value(&mut r, v.first().copied().unwrap_or(f64::NAN));
            r.push(']');
            return envelope("scalar", &r, stats, false);
        }
        Value::Scalar(v) => {
            let series = vec![Series {
                labels: Vec::new(),
                values: v.iter().map(|x| Some(*x)).collect(),
            }];
            return metric(&Value::Matrix(series), grid, false, stats);
        }
        Value::Matrix(m) if instant => {
            r.push('[');
            let mut first = true;
            for s in m {
                let Some(v) = s.values.first().copied().flatten() else {
                    continue;
                };
                if !first {
                    r.push(',');
                }
                first = false;
                r.push_str(r#"{"metric":"#);
                push_labels(&mut r, &s.labels);
                r.push_str(r#","value":["#);
                push_seconds(&mut r, grid.start_ns);
                r.push(',');
                push_value(&mut r, v);
                r.push_str("]}");
            }
            r.push(']');
            return envelope("vector", &r, stats, false);
        }
        Value::Matrix(m) => {
            let mut sorted: Vec<&Series> = m.iter().collect();
            sorted.sort_by(|a, b| a.labels.cmp(&b.labels));
            r.push('[');
            for (i, s) in sorted.iter().enumerate() {
                if i > 0 {
                    r.push(',');
                }
                r.push_str(r#"{"metric":"#);
                push_labels(&mut r, &s.labels);
                r.push_str(r#","values":["#);
                let mut first = true;
                for (k, v) in s.values.iter().enumerate() {
                    let Some(v) = v else { continue };
                    if !first {
                        r.push(',');
                    }
                    first = false;
                    r.push('[');
                    push_seconds(&mut r, grid.at(k));
                    r.push(',');
                    push_value(&mut r, *v);
                    r.push(']');
                }
                r.push_str("]}");
            }
            r.push(']');
        }
    }
    envelope("matrix", &r, stats, false)
}

/// `{"status":"success","data":<data>}`.
pub(crate) fn data(data: &str) -> String {
    format!(r#"{{"status":"success","data":{data}}}"#)
}

/// A JSON array of strings.
pub(crate) fn string_array<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("[");
    for (i, s) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(&mut out, s);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_query::logql::StreamEntry;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn streams_shape_with_and_without_categories() {
        let s = vec![Stream {
            labels: l(&[("app", "a\"b")]),
            entries: vec![StreamEntry {
                ts_ns: 1_700_000_000_000_000_001,
                line: "hi\n".into(),
                metadata: l(&[("trace_id", "ab")]),
                parsed: Vec::new(),
            }],
        }];
        let plain = streams(&s, &QueryStats::default(), false);
        let v: serde_json::Value = serde_json::from_str(&plain).unwrap();
        assert_eq!(v["data"]["resultType"], "streams");
        assert_eq!(v["data"]["result"][0]["stream"]["app"], "a\"b");
        assert_eq!(
            v["data"]["result"][0]["values"][0][0],
            "1700000000000000001"
        );
        assert_eq!(v["data"]["result"][0]["values"][0][1], "hi\n");
        assert!(v["data"]["stats"]["summary"]["execTime"].is_number());
        assert!(v["data"].get("encodingFlags").is_none());
        assert_eq!(
            v["data"]["result"][0]["values"][0].as_array().map(Vec::len),
            Some(2)
        );
        let cat = streams(&s, &QueryStats::default(), true);
        let v: serde_json::Value = serde_json::from_str(&cat).unwrap();
        assert_eq!(
            v["data"]["result"][0]["values"][0][2]["structuredMetadata"]["trace_id"],
            "ab"
        );
        assert_eq!(v["data"]["encodingFlags"][0], "categorize-labels");
        assert!(cat.find("encodingFlags") < cat.find("\"result\""), "{cat}");
        let bare = vec![Stream {
            labels: l(&[("app", "a")]),
            entries: vec![StreamEntry {
                ts_ns: 1,
                line: "x".into(),
                metadata: Vec::new(),
                parsed: Vec::new(),
            }],
        }];
        let v: serde_json::Value =
            serde_json::from_str(&streams(&bare, &QueryStats::default(), true)).unwrap();
        assert_eq!(
            v["data"]["result"][0]["values"][0][2],
            serde_json::json!({})
        );
    }

    #[test]
    fn matrix_vector_scalar() {
        let grid = Grid::range(1_000_000_000, 3_500_000_000, 1_500_000_000);
        let m = Value::Matrix(vec![Series {
            labels: l(&[("level", "info")]),
            values: vec![Some(1.0), None],
        }]);
        let v: serde_json::Value =
            serde_json::from_str(&metric(&m, &grid, false, &QueryStats::default())).unwrap();
        assert_eq!(v["data"]["resultType"], "matrix");
        assert_eq!(
            v["data"]["result"][0]["values"],
            serde_json::json!([[1, "1"]])
        );
        let at = Grid::instant(1_500_000_000);
        let v: serde_json::Value =
            serde_json::from_str(&metric(&m, &at, true, &QueryStats::default())).unwrap();
        assert_eq!(
            v["data"]["result"][0]["value"],
            serde_json::json!([1.5, "1"])
        );
        let s = Value::Scalar(vec![2.0]);
        let v: serde_json::Value =
            serde_json::from_str(&metric(&s, &at, true, &QueryStats::default())).unwrap();
        assert_eq!(v["data"]["resultType"], "scalar");
        assert_eq!(v["data"]["result"], serde_json::json!([1.5, "2"]));
    }
}
