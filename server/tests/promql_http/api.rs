//! The conformance scripts' evals through a server's Prometheus API: `/api/v1/query` and
//! `/api/v1/query_range` (POST, form-encoded) for one tenant (`X-Scope-OrgID`), the JSON
//! answer read back into the evaluator's result type so the engine runner's checks apply.
//!
//! What the HTTP API cannot carry is left out of the comparison, as it would be against
//! Prometheus's own API: a native histogram comes back as its count, sum and non-empty
//! buckets (bounds and which side is inclusive), without its schema's spans or its
//! counter-reset hint, so histograms compare on those (expected ones rendered the same
//! way); a stale marker is a plain `NaN`; and the API's `invalid parameter "query": `
//! prefix of a parse error is taken off before an expected error message is matched.

use std::sync::Arc;

use serde_json::Value as Json;
use strata_query::promql::native::FloatHistogram;
use strata_query::promql::{Labels, QueryResult, Sample, Series, Value};
use strata_tests::server::Server;

use crate::conformance::check::{Backend, Failure, almost_equal};
use crate::conformance::hist::HistPoint;

/// One tenant of one server.
pub(crate) struct Http<'a> {
    pub(crate) server: &'a Server,
    pub(crate) tenant: &'a str,
}

/// A millisecond time as the API's seconds: `-1.500`, `0.000`.
pub(crate) fn seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
}

impl Http<'_> {
    fn call(&self, path: &str, params: &[(&str, &str)]) -> Result<QueryResult, Failure> {
        let other = |message: String| Failure {
            parse: false,
            message,
        };
        let body = serde_urlencoded::to_string(params).map_err(|e| other(e.to_string()))?;
        let headers = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Scope-OrgID", self.tenant),
        ];
        let r = self
            .server
            .post(path, &headers, body.as_bytes())
            .map_err(|e| other(format!("{path}: {e}")))?;
        let json: Json = serde_json::from_slice(&r.body)
            .map_err(|e| other(format!("HTTP {}, not JSON ({e}): {}", r.status, r.text())))?;
        if json["status"] == "success" && r.status == 200 {
            return decode(&json).map_err(|e| other(format!("bad answer ({e}): {}", r.text())));
        }
        let message = json["error"].as_str().unwrap_or_default();
        let bad_data = json["errorType"] == "bad_data";
        let message = message
            .strip_prefix("invalid parameter \"query\": ")
            .filter(|_| bad_data)
            .unwrap_or(message);
        Err(Failure {
            // Parse errors and the API's own refusals (a step, a resolution) are bad data.
            parse: bad_data,
            message: message.to_string(),
        })
    }
}

impl Backend for Http<'_> {
    fn instant(&self, expr: &str, t: i64) -> Result<QueryResult, Failure> {
        self.call(
            "/api/v1/query",
            &[("query", expr), ("time", seconds(t).as_str())],
        )
    }

    fn range(&self, expr: &str, start: i64, end: i64, step: i64) -> Result<QueryResult, Failure> {
        let (start, end, step) = (seconds(start), seconds(end), seconds(step));
        self.call(
            "/api/v1/query_range",
            &[
                ("query", expr),
                ("start", &start),
                ("end", &end),
                ("step", &step),
            ],
        )
    }

    fn hist_matches(&self, exp: &HistPoint, got: &FloatHistogram) -> bool {
        let (e, g) = (rendered(&exp.h), rendered(got));
        let eq = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| almost_equal(*x, *y))
        };
        almost_equal(e.0, g.0) && almost_equal(e.1, g.1) && eq(&e.2, &g.2)
    }
}

/// The `schema` of a histogram read from JSON: not a schema, but the mark of
/// [`carrier`]'s layout.
const RENDERED: i32 = i32::MIN;

/// A histogram of the API's JSON held in a `FloatHistogram`, for the result type: count
/// and sum in place, and the buckets as `custom_values` of `[code, lower, upper, count]`
/// each.
fn carrier(count: f64, sum: f64, buckets: Vec<f64>) -> FloatHistogram {
    FloatHistogram {
        schema: RENDERED,
        count,
        sum,
        custom_values: buckets.into(),
        ..FloatHistogram::default()
    }
}

/// A histogram as the API writes it: count, sum, and `[code, lower, upper, count]` of
/// each non-empty bucket, the code saying which bounds are inclusive (0: upper, 1: lower,
/// 2: neither, 3: both).
fn rendered(h: &FloatHistogram) -> (f64, f64, Vec<f64>) {
    if h.schema == RENDERED {
        return (h.count, h.sum, h.custom_values.to_vec());
    }
    let mut buckets = Vec::new();
    for b in h.all_buckets() {
        if b.count == 0.0 {
            continue;
        }
        let code = match (b.lower_inclusive, b.upper_inclusive) {
            (false, true) => 0.0,
            (true, false) => 1.0,
            (false, false) => 2.0,
            (true, true) => 3.0,
        };
        buckets.extend([code, b.lower, b.upper, b.count]);
    }
    (h.count, h.sum, buckets)
}

/// A number of the API: `"1.5"`, `"+Inf"`, `"-Inf"`, `"NaN"`, `"1e-07"`.
fn number(v: &Json) -> Result<f64, String> {
    let s = v.as_str().ok_or_else(|| format!("not a string: {v}"))?;
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        // Rust reads `inf` and `nan` in any case; the API writes only the three above.
        _ if s.contains(|c: char| c.is_ascii_alphabetic() && c != 'e') => {
            Err(format!("not a number of the API: {s:?}"))
        }
        _ => s.parse().map_err(|e| format!("{s:?}: {e}")),
    }
}

/// A time of the API (seconds, a JSON number) in ms.
fn millis(v: &Json) -> Result<i64, String> {
    let s = v.as_f64().ok_or_else(|| format!("not a time: {v}"))?;
    Ok((s * 1000.0).round() as i64)
}

fn labels(v: &Json) -> Result<Labels, String> {
    let m = v.as_object().ok_or_else(|| format!("not labels: {v}"))?;
    let mut pairs = Vec::new();
    for (n, v) in m {
        let v = v
            .as_str()
            .ok_or_else(|| format!("not a label value: {v}"))?;
        pairs.push((n.clone(), v.to_string()));
    }
    Ok(Labels::from_pairs(pairs))
}

fn histogram(v: &Json) -> Result<Arc<FloatHistogram>, String> {
    let mut buckets = Vec::new();
    for b in v["buckets"].as_array().map_or(&[][..], Vec::as_slice) {
        let code = b[0].as_f64().ok_or_else(|| format!("bad bucket {b}"))?;
        buckets.extend([code, number(&b[1])?, number(&b[2])?, number(&b[3])?]);
    }
    Ok(Arc::new(carrier(
        number(&v["count"])?,
        number(&v["sum"])?,
        buckets,
    )))
}

/// `[time, value]`.
fn pair(v: &Json) -> Result<(&Json, &Json), String> {
    match v.as_array().map(Vec::as_slice) {
        Some([t, x]) => Ok((t, x)),
        _ => Err(format!("not a [time, value] pair: {v}")),
    }
}

fn items(v: &Json) -> &[Json] {
    v.as_array().map_or(&[][..], Vec::as_slice)
}

fn strings(v: &Json) -> Vec<String> {
    items(v)
        .iter()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

fn vector(result: &Json) -> Result<Value, String> {
    let mut out = Vec::new();
    for s in items(result) {
        let labels = labels(&s["metric"])?;
        let (t, value, h) = match (s.get("value"), s.get("histogram")) {
            (Some(v), None) => {
                let (t, v) = pair(v)?;
                (t, number(v)?, None)
            }
            (None, Some(h)) => {
                let (t, h) = pair(h)?;
                (t, 0.0, Some(histogram(h)?))
            }
            _ => return Err(format!("neither a value nor a histogram: {s}")),
        };
        out.push(Sample {
            h,
            ..Sample::float(labels, millis(t)?, value)
        });
    }
    Ok(Value::Vector(out))
}

fn matrix(result: &Json) -> Result<Value, String> {
    let mut out = Vec::new();
    for s in items(result) {
        let mut points = Vec::new();
        for p in items(&s["values"]) {
            let (t, v) = pair(p)?;
            points.push((millis(t)?, number(v)?));
        }
        let mut hpoints = Vec::new();
        for p in items(&s["histograms"]) {
            let (t, h) = pair(p)?;
            hpoints.push((millis(t)?, histogram(h)?));
        }
        out.push(Series {
            labels: labels(&s["metric"])?,
            points,
            hpoints,
            drop_name: false,
        });
    }
    Ok(Value::Matrix(out))
}

/// A successful answer's `data`, `warnings` and `infos`.
fn decode(json: &Json) -> Result<QueryResult, String> {
    let data = &json["data"];
    let result = &data["result"];
    let value = match data["resultType"].as_str() {
        Some("vector") => vector(result)?,
        Some("matrix") => matrix(result)?,
        Some("scalar") => {
            let (t, v) = pair(result)?;
            Value::Scalar {
                ts: millis(t)?,
                value: number(v)?,
            }
        }
        Some("string") => {
            let (t, v) = pair(result)?;
            let value = v.as_str().ok_or_else(|| format!("not a string: {v}"))?;
            Value::String {
                ts: millis(t)?,
                value: value.to_string(),
            }
        }
        other => return Err(format!("result type {other:?}")),
    };
    Ok(QueryResult {
        value,
        warnings: strings(&json["warnings"]),
        infos: strings(&json["infos"]),
    })
}
