//! The response envelope (`status`, `data`, `warnings`, `infos`, or `errorType` and
//! `error`) and the `data` of query results.

use crate::promql::{QueryResult, Value};

use super::error::ApiError;
use super::json::{self, Escape};

/// Most warnings (and, separately, infos) a response lists; the rest are counted in a last
/// entry, as Prometheus's `annotations.AsStrings(query, 10, 10)`.
const MAX_ANNOTATIONS: usize = 10;

/// An HTTP response: status code and JSON body (content type [`Response::CONTENT_TYPE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code: 200, or the error's (400, 422, 500, 503).
    pub status: u16,
    /// The JSON body, byte-compatible with Prometheus's.
    pub body: Vec<u8>,
}

impl Response {
    /// The `Content-Type` of every response.
    pub const CONTENT_TYPE: &'static str = "application/json";

    /// The body as text (it is always UTF-8).
    pub fn body_text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or_default()
    }
}

/// A successful call's `data` (already JSON) and annotations.
#[derive(Debug, Default)]
pub(crate) struct Success {
    pub(crate) data: String,
    pub(crate) warnings: Vec<String>,
    pub(crate) infos: Vec<String>,
}

impl From<Result<Success, ApiError>> for Response {
    fn from(r: Result<Success, ApiError>) -> Self {
        match r {
            Ok(s) => success(s),
            Err(e) => error(&e),
        }
    }
}

/// The envelope's opening, before `data`.
const OPENING: &str = "{\"status\":\"success\",\"data\":";

/// The envelope around `s.data`, written into `data`'s own buffer (a large answer is not
/// copied into a second one: [`query_data`] leaves room for the opening).
fn success(s: Success) -> Response {
    let mut out = s.data;
    out.insert_str(0, OPENING);
    annotations(&mut out, "warnings", &s.warnings, "warning");
    annotations(&mut out, "infos", &s.infos, "info");
    out.push('}');
    Response {
        status: 200,
        body: out.into_bytes(),
    }
}

fn error(e: &ApiError) -> Response {
    let mut out = String::from("{\"status\":\"error\",\"errorType\":");
    json::string(&mut out, e.error_type(), Escape::Jsoniter);
    out.push_str(",\"error\":");
    json::string(&mut out, &e.to_string(), Escape::Jsoniter);
    out.push('}');
    Response {
        status: e.status(),
        body: out.into_bytes(),
    }
}

/// Appends `,"key":[...]` unless `items` is empty (Prometheus's `omitempty`).
fn annotations(out: &mut String, key: &str, items: &[String], kind: &str) {
    if items.is_empty() {
        return;
    }
    let mut list: Vec<String> = items.iter().take(MAX_ANNOTATIONS).cloned().collect();
    if items.len() > MAX_ANNOTATIONS {
        list.push(format!(
            "{} more {kind} annotations omitted",
            items.len() - MAX_ANNOTATIONS
        ));
    }
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
    json::string_array(out, &list);
}

/// The `data` object of a query answer exactly as the HTTP API writes it
/// (`{"resultType":...,"result":...}`, native histograms included), for tools that print
/// a [`QueryResult`] outside a server (`strata promql --format json`). Instant-vector
/// samples carry the evaluation time `eval_ms`.
pub fn query_data_json(res: &QueryResult, eval_ms: i64) -> String {
    query_data(res, eval_ms, 0).0
}

/// Bytes of JSON text a point takes at most: `[1795788000.438,"-1.2345678901234567e+300"]`
/// and its comma.
const POINT_TEXT: usize = 48;

/// About the bytes of the `data` text of `res` (an upper bound for float points): room
/// made for it at once, and what a query is charged for it.
pub(crate) fn text_bytes(res: &QueryResult) -> usize {
    let labels = |l: &crate::promql::Labels| -> usize {
        l.iter().map(|(n, v)| n.len() + v.len() + 8).sum::<usize>() + 16
    };
    match &res.value {
        Value::Vector(v) => v
            .iter()
            .map(|s| labels(&s.labels) + if s.h.is_some() { 512 } else { POINT_TEXT + 16 })
            .sum(),
        Value::Matrix(m) => m
            .iter()
            .map(|s| labels(&s.labels) + 32 + s.points.len() * POINT_TEXT + s.hpoints.len() * 512)
            .sum(),
        Value::Scalar { .. } => 64,
        Value::String { value, .. } => 64 + value.len() * 6,
    }
}

/// The `data` of a query: `{"resultType":...,"result":...}`. Instant-vector samples carry
/// the evaluation time `eval_ms`, as Prometheus forces them to it.
pub(crate) fn query_data(res: &QueryResult, eval_ms: i64, limit: usize) -> (String, bool) {
    let mut out = String::with_capacity(text_bytes(res) + OPENING.len() + 64);
    let mut truncated = false;
    match &res.value {
        Value::Vector(v) => {
            out.push_str("{\"resultType\":\"vector\",\"result\":[");
            let n = if limit > 0 && v.len() > limit {
                truncated = true;
                limit
            } else {
                v.len()
            };
            for (i, s) in v[..n].iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                json::labels(&mut out, &s.labels);
                match &s.h {
                    None => {
                        out.push_str(",\"value\":[");
                        json::timestamp(&mut out, eval_ms);
                        out.push(',');
                        json::sample_value(&mut out, s.value);
                    }
                    Some(h) => {
                        out.push_str(",\"histogram\":[");
                        json::timestamp(&mut out, eval_ms);
                        out.push(',');
                        json::histogram(&mut out, h);
                    }
                }
                out.push_str("]}");
            }
            out.push_str("]}");
        }
        Value::Matrix(m) => {
            out.push_str("{\"resultType\":\"matrix\",\"result\":[");
            let n = if limit > 0 && m.len() > limit {
                truncated = true;
                limit
            } else {
                m.len()
            };
            for (i, s) in m[..n].iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                json::labels(&mut out, &s.labels);
                if !s.points.is_empty() {
                    out.push_str(",\"values\":[");
                    for (j, (t, v)) in s.points.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        out.push('[');
                        json::timestamp(&mut out, *t);
                        out.push(',');
                        json::sample_value(&mut out, *v);
                        out.push(']');
                    }
                    out.push(']');
                }
                if !s.hpoints.is_empty() {
                    out.push_str(",\"histograms\":[");
                    for (j, (t, h)) in s.hpoints.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        out.push('[');
                        json::timestamp(&mut out, *t);
                        out.push(',');
                        json::histogram(&mut out, h);
                        out.push(']');
                    }
                    out.push(']');
                }
                out.push('}');
            }
            out.push_str("]}");
        }
        Value::Scalar { ts, value } => {
            out.push_str("{\"resultType\":\"scalar\",\"result\":[");
            json::float_seconds(&mut out, *ts);
            out.push(',');
            json::scalar_value(&mut out, *value);
            out.push_str("]}");
        }
        Value::String { ts, value } => {
            out.push_str("{\"resultType\":\"string\",\"result\":[");
            json::float_seconds(&mut out, *ts);
            out.push(',');
            json::string(&mut out, value, Escape::Std);
            out.push_str("]}");
        }
    }
    (out, truncated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::promql::native::{FloatHistogram, Span};
    use crate::promql::{Labels, Sample, Series};

    fn body(r: Result<Success, ApiError>) -> (u16, String) {
        let resp = Response::from(r);
        (resp.status, resp.body_text().to_owned())
    }

    #[test]
    fn envelopes() {
        let ok = Success {
            data: "[]".into(),
            ..Success::default()
        };
        assert_eq!(
            body(Ok(ok)),
            (200, r#"{"status":"success","data":[]}"#.into())
        );
        let err = ApiError::BadData("bad <x>".into());
        assert_eq!(
            body(Err(err)),
            (
                400,
                r#"{"status":"error","errorType":"bad_data","error":"bad \u003cx\u003e"}"#.into()
            )
        );
        assert_eq!(body(Err(ApiError::Execution("e".into()))).0, 422);
        assert_eq!(body(Err(ApiError::Timeout("t".into()))).0, 503);
        assert_eq!(body(Err(ApiError::Canceled("c".into()))).0, 503);
        assert_eq!(body(Err(ApiError::Internal("i".into()))).0, 500);
    }

    #[test]
    fn annotations_are_capped_at_ten() {
        let s = Success {
            data: "{}".into(),
            warnings: (0..12).map(|i| format!("w{i}")).collect(),
            infos: vec!["i".into()],
        };
        let (_, b) = body(Ok(s));
        assert!(b.ends_with(r#""w8","w9","2 more warning annotations omitted"],"infos":["i"]}"#));
    }

    /// The histogram of Prometheus's web/api/v1/json_codec_test.go.
    fn codec_test_histogram() -> FloatHistogram {
        FloatHistogram {
            schema: 2,
            zero_threshold: 0.001,
            zero_count: 12.0,
            count: 10.0,
            sum: 20.0,
            positive_spans: vec![
                Span {
                    offset: 3,
                    length: 2,
                },
                Span {
                    offset: 1,
                    length: 3,
                },
            ],
            negative_spans: vec![Span {
                offset: 2,
                length: 2,
            }],
            positive: vec![1.0, 2.0, 2.0, 1.0, 1.0],
            negative: vec![2.0, 1.0],
            ..FloatHistogram::default()
        }
    }

    /// Prometheus's golden output for a matrix of histograms (json_codec_test.go), and the
    /// same histogram as a vector element (`"histogram"` in place of `"value"`).
    #[test]
    fn histograms_render_like_prometheus() {
        let h = Arc::new(codec_test_histogram());
        let buckets = r#"{"count":"10","sum":"20","buckets":[[1,"-1.6817928305074288","-1.414213562373095","1"],[1,"-1.414213562373095","-1.189207115002721","2"],[3,"-0.001","0.001","12"],[0,"1.414213562373095","1.6817928305074288","1"],[0,"1.6817928305074288","2","2"],[0,"2.378414230005442","2.82842712474619","2"],[0,"2.82842712474619","3.3635856610148576","1"],[0,"3.3635856610148576","4","1"]]}"#;
        let res = |value| QueryResult {
            value,
            warnings: vec![],
            infos: vec![],
        };
        let matrix = res(Value::Matrix(vec![Series {
            labels: Labels::from_pairs([("__name__", "foo")]),
            points: Vec::new(),
            hpoints: vec![(1_000, h.clone())],
            drop_name: false,
        }]));
        assert_eq!(
            query_data(&matrix, 0, 0).0,
            format!(
                r#"{{"resultType":"matrix","result":[{{"metric":{{"__name__":"foo"}},"histograms":[[1,{buckets}]]}}]}}"#
            )
        );
        // Floats and histograms of one series: "values" first, then "histograms".
        let mixed = res(Value::Matrix(vec![Series {
            labels: Labels::default(),
            points: vec![(1_000, 1.0)],
            hpoints: vec![(2_000, h.clone())],
            drop_name: false,
        }]));
        assert_eq!(
            query_data(&mixed, 0, 0).0,
            format!(
                r#"{{"resultType":"matrix","result":[{{"metric":{{}},"values":[[1,"1"]],"histograms":[[2,{buckets}]]}}]}}"#
            )
        );
        let vector = res(Value::Vector(vec![Sample {
            labels: Labels::default(),
            ts: 5,
            value: 0.0,
            h: Some(h),
            drop_name: false,
        }]));
        assert_eq!(
            query_data(&vector, 1_500, 0).0,
            format!(
                r#"{{"resultType":"vector","result":[{{"metric":{{}},"histogram":[1.500,{buckets}]}}]}}"#
            )
        );
        // No non-empty bucket: no "buckets" key. Custom buckets start at -Inf, the first one
        // closed (Prometheus's generic.go: `LowerInclusive = currIdx == 0`).
        let empty = FloatHistogram {
            count: 0.0,
            sum: 0.0,
            ..FloatHistogram::default()
        };
        let mut out = String::new();
        json::histogram(&mut out, &empty);
        assert_eq!(out, r#"{"count":"0","sum":"0"}"#);
        let custom = FloatHistogram {
            schema: -53,
            count: 3.0,
            sum: 1e-7,
            positive_spans: vec![Span {
                offset: 0,
                length: 3,
            }],
            positive: vec![1.0, 0.0, 2.0],
            custom_values: vec![0.5, 1.0].into(),
            ..FloatHistogram::default()
        };
        let mut out = String::new();
        json::histogram(&mut out, &custom);
        assert_eq!(
            out,
            r#"{"count":"3","sum":"1e-07","buckets":[[3,"-Inf","0.5","1"],[0,"1","+Inf","2"]]}"#
        );
    }

    #[test]
    fn results_render_per_type() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "a\"b")]);
        let res = |value| QueryResult {
            value,
            warnings: vec![],
            infos: vec![],
        };
        let vector = res(Value::Vector(vec![Sample {
            labels: labels.clone(),
            ts: 5,
            value: 1e21,
            h: None,
            drop_name: false,
        }]));
        assert_eq!(
            query_data(&vector, 1_500, 0).0,
            r#"{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a\"b"},"value":[1.500,"1e+21"]}]}"#
        );
        let matrix = res(Value::Matrix(vec![Series {
            labels: Labels::default(),
            points: vec![(1_000, 1.0), (2_001, f64::NAN)],
            hpoints: Vec::new(),
            drop_name: false,
        }]));
        assert_eq!(
            query_data(&matrix, 0, 0).0,
            r#"{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2.001,"NaN"]]}]}"#
        );
        let scalar = res(Value::Scalar {
            ts: 1_500,
            value: 1e21,
        });
        assert_eq!(
            query_data(&scalar, 1_500, 0).0,
            r#"{"resultType":"scalar","result":[1.5,"1000000000000000000000"]}"#
        );
        let string = res(Value::String {
            ts: 2_000,
            value: "<a>".into(),
        });
        assert_eq!(
            query_data(&string, 2_000, 0).0,
            r#"{"resultType":"string","result":[2,"\u003ca\u003e"]}"#
        );
        let two = res(Value::Vector(vec![
            Sample {
                labels: Labels::from_pairs([("a", "1")]),
                ts: 0,
                value: 1.0,
                h: None,
                drop_name: false,
            };
            2
        ]));
        let (data, truncated) = query_data(&two, 0, 1);
        assert!(truncated);
        assert_eq!(
            data,
            r#"{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[0,"1"]}]}"#
        );
    }
}
