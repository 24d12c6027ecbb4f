//! The protobuf exposition format: bodies encoded by prost from the client model's messages
//! (an encoder independent of the reader), read back into samples.

use strata_engine::{Counts, Histogram, ResetHint, Span};

use super::super::proto::{Histograms, ProtoSample, Value, om_float, scan};
use super::super::{Family, MetricType};

#[derive(Clone, PartialEq, prost::Message)]
struct LabelPair {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Timestamp {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    label: Vec<LabelPair>,
    #[prost(double, tag = "2")]
    value: f64,
    #[prost(message, optional, tag = "3")]
    timestamp: Option<Timestamp>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Simple {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(message, optional, tag = "2")]
    exemplar: Option<Exemplar>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Quantile {
    #[prost(double, tag = "1")]
    quantile: f64,
    #[prost(double, tag = "2")]
    value: f64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Summary {
    #[prost(uint64, tag = "1")]
    sample_count: u64,
    #[prost(double, tag = "2")]
    sample_sum: f64,
    #[prost(message, repeated, tag = "3")]
    quantile: Vec<Quantile>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Bucket {
    #[prost(uint64, tag = "1")]
    cumulative_count: u64,
    #[prost(double, tag = "2")]
    upper_bound: f64,
    #[prost(message, optional, tag = "3")]
    exemplar: Option<Exemplar>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct BucketSpan {
    #[prost(sint32, tag = "1")]
    offset: i32,
    #[prost(uint32, tag = "2")]
    length: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Hist {
    #[prost(uint64, tag = "1")]
    sample_count: u64,
    #[prost(double, tag = "4")]
    sample_count_float: f64,
    #[prost(double, tag = "2")]
    sample_sum: f64,
    #[prost(message, repeated, tag = "3")]
    bucket: Vec<Bucket>,
    #[prost(sint32, tag = "5")]
    schema: i32,
    #[prost(double, tag = "6")]
    zero_threshold: f64,
    #[prost(uint64, tag = "7")]
    zero_count: u64,
    #[prost(double, tag = "8")]
    zero_count_float: f64,
    #[prost(message, repeated, tag = "9")]
    negative_span: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "10")]
    negative_delta: Vec<i64>,
    #[prost(message, repeated, tag = "12")]
    positive_span: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "13")]
    positive_delta: Vec<i64>,
    #[prost(double, repeated, tag = "14")]
    positive_count: Vec<f64>,
    #[prost(message, repeated, tag = "16")]
    exemplars: Vec<Exemplar>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Metric {
    #[prost(message, repeated, tag = "1")]
    label: Vec<LabelPair>,
    #[prost(message, optional, tag = "2")]
    gauge: Option<Simple>,
    #[prost(message, optional, tag = "3")]
    counter: Option<Simple>,
    #[prost(message, optional, tag = "4")]
    summary: Option<Summary>,
    #[prost(message, optional, tag = "5")]
    untyped: Option<Simple>,
    #[prost(message, optional, tag = "7")]
    histogram: Option<Hist>,
    #[prost(int64, tag = "6")]
    timestamp_ms: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct MetricFamily {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    help: String,
    #[prost(int32, tag = "3")]
    kind: i32,
    #[prost(message, repeated, tag = "4")]
    metric: Vec<Metric>,
    #[prost(string, tag = "5")]
    unit: String,
}

fn body(families: &[MetricFamily]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in families {
        prost::Message::encode_length_delimited(f, &mut out).expect("a Vec grows");
    }
    out
}

const NATIVE: Histograms = Histograms {
    native: true,
    classic_too: false,
};

fn read(b: &[u8], h: Histograms) -> (Vec<ProtoSample>, Vec<Family>) {
    let mut samples = Vec::new();
    let families = scan(b, h, |s| {
        samples.push(s);
        Ok(())
    })
    .unwrap_or_else(|e| panic!("refused: {e}"));
    (samples, families)
}

fn pair(n: &str, v: &str) -> LabelPair {
    LabelPair {
        name: n.into(),
        value: v.into(),
    }
}

/// A sample as (name, labels, float value).
type Flat = (String, Vec<(String, String)>, f64);

/// Float samples flattened; histograms as NaN.
fn flat(s: &[ProtoSample]) -> Vec<Flat> {
    s.iter()
        .map(|s| {
            let v = match &s.value {
                Value::Float(v) => *v,
                Value::Histogram(_) => f64::NAN,
            };
            (s.name.clone(), s.labels.clone(), v)
        })
        .collect()
}

fn l(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    super::labels(pairs)
}

#[test]
fn counters_gauges_summaries_and_metadata() {
    let ex = Exemplar {
        label: vec![pair("trace_id", "abc")],
        value: 0.5,
        timestamp: Some(Timestamp {
            seconds: 1_700_000_000,
            nanos: 250_000_000,
        }),
    };
    let b = body(&[
        MetricFamily {
            name: "req_total".into(),
            help: "Requests.".into(),
            kind: 0,
            metric: vec![Metric {
                label: vec![pair("code", "200")],
                counter: Some(Simple {
                    value: 7.0,
                    exemplar: Some(ex),
                }),
                timestamp_ms: 1_700_000_001_000,
                ..Metric::default()
            }],
            unit: String::new(),
        },
        MetricFamily {
            name: "temp_celsius".into(),
            kind: 1,
            unit: "celsius".into(),
            metric: vec![Metric {
                gauge: Some(Simple {
                    value: -3.5,
                    exemplar: None,
                }),
                ..Metric::default()
            }],
            ..MetricFamily::default()
        },
        MetricFamily {
            name: "rpc_seconds".into(),
            kind: 2,
            metric: vec![Metric {
                summary: Some(Summary {
                    sample_count: 4,
                    sample_sum: 2.0,
                    quantile: vec![Quantile {
                        quantile: 0.5,
                        value: 0.25,
                    }],
                }),
                ..Metric::default()
            }],
            ..MetricFamily::default()
        },
        MetricFamily {
            name: "other".into(),
            kind: 3,
            metric: vec![Metric {
                untyped: Some(Simple {
                    value: 1.0,
                    exemplar: None,
                }),
                ..Metric::default()
            }],
            ..MetricFamily::default()
        },
    ]);
    let (s, f) = read(&b, NATIVE);
    assert_eq!(
        flat(&s),
        [
            ("req_total".into(), l(&[("code", "200")]), 7.0),
            ("temp_celsius".into(), vec![], -3.5),
            ("rpc_seconds_count".into(), vec![], 4.0),
            ("rpc_seconds_sum".into(), vec![], 2.0),
            ("rpc_seconds".into(), l(&[("quantile", "0.5")]), 0.25),
            ("other".into(), vec![], 1.0),
        ]
    );
    assert_eq!(s[0].timestamp_ms, Some(1_700_000_001_000));
    assert_eq!(s[1].timestamp_ms, None);
    let e = &s[0].exemplars[0];
    assert_eq!(
        (&e.labels, e.value, e.timestamp_ms),
        (&l(&[("trace_id", "abc")]), 0.5, Some(1_700_000_000_250))
    );
    let kinds: Vec<_> = f
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.kind,
                f.help.as_deref(),
                f.unit.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("req_total", MetricType::Counter, Some("Requests."), None),
            ("temp_celsius", MetricType::Gauge, None, Some("celsius")),
            ("rpc_seconds", MetricType::Summary, None, None),
            ("other", MetricType::Unknown, None, None),
        ]
    );
}

fn classic_family() -> MetricFamily {
    let bucket = |upper_bound, cumulative_count| Bucket {
        cumulative_count,
        upper_bound,
        exemplar: None,
    };
    MetricFamily {
        name: "lat_seconds".into(),
        kind: 4,
        metric: vec![Metric {
            histogram: Some(Hist {
                sample_count: 9,
                sample_sum: 3.25,
                bucket: vec![bucket(0.1, 2), bucket(1.0, 5), bucket(1e6, 8)],
                ..Hist::default()
            }),
            ..Metric::default()
        }],
        ..MetricFamily::default()
    }
}

#[test]
fn classic_histograms_get_an_inf_bucket_and_prometheus_bounds() {
    let (s, _) = read(&body(&[classic_family()]), NATIVE);
    assert_eq!(
        flat(&s),
        [
            ("lat_seconds_count".into(), vec![], 9.0),
            ("lat_seconds_sum".into(), vec![], 3.25),
            ("lat_seconds_bucket".into(), l(&[("le", "0.1")]), 2.0),
            ("lat_seconds_bucket".into(), l(&[("le", "1.0")]), 5.0),
            ("lat_seconds_bucket".into(), l(&[("le", "1e+06")]), 8.0),
            ("lat_seconds_bucket".into(), l(&[("le", "+Inf")]), 9.0),
        ]
    );
}

fn native_family(kind: i32) -> MetricFamily {
    MetricFamily {
        name: "nat_seconds".into(),
        kind,
        metric: vec![Metric {
            histogram: Some(Hist {
                sample_count: 12,
                sample_sum: 7.5,
                bucket: vec![Bucket {
                    cumulative_count: 12,
                    upper_bound: 1.0,
                    exemplar: None,
                }],
                schema: 0,
                zero_threshold: 0.001,
                zero_count: 3,
                negative_span: vec![BucketSpan {
                    offset: -1,
                    length: 1,
                }],
                negative_delta: vec![2],
                positive_span: vec![
                    BucketSpan {
                        offset: 0,
                        length: 2,
                    },
                    BucketSpan {
                        offset: 1,
                        length: 1,
                    },
                ],
                positive_delta: vec![2, 1, -1],
                exemplars: vec![Exemplar {
                    label: vec![pair("trace_id", "t1")],
                    value: 1.25,
                    timestamp: Some(Timestamp {
                        seconds: 5,
                        nanos: 0,
                    }),
                }],
                ..Hist::default()
            }),
            ..Metric::default()
        }],
        ..MetricFamily::default()
    }
}

fn expected_native(reset_hint: ResetHint) -> Histogram {
    Histogram {
        schema: 0,
        zero_threshold: 0.001,
        sum: 7.5,
        reset_hint,
        positive_spans: vec![
            Span {
                offset: 0,
                length: 2,
            },
            Span {
                offset: 1,
                length: 1,
            },
        ],
        negative_spans: vec![Span {
            offset: -1,
            length: 1,
        }],
        custom_values: vec![],
        counts: Counts::Int {
            count: 12,
            zero_count: 3,
            positive_deltas: vec![2, 1, -1],
            negative_deltas: vec![2],
        },
    }
}

#[test]
fn native_histograms_as_native_classic_or_both() {
    let b = body(&[native_family(4)]);
    let (s, _) = read(&b, NATIVE);
    assert_eq!(s.len(), 1);
    assert_eq!(
        s[0].value,
        Value::Histogram(expected_native(ResetHint::Unknown))
    );
    assert_eq!(s[0].exemplars[0].timestamp_ms, Some(5_000));

    let (s, _) = read(
        &b,
        Histograms {
            native: true,
            classic_too: true,
        },
    );
    let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "nat_seconds",
            "nat_seconds_count",
            "nat_seconds_sum",
            "nat_seconds_bucket",
            "nat_seconds_bucket"
        ]
    );

    let (s, _) = read(
        &b,
        Histograms {
            native: false,
            classic_too: false,
        },
    );
    assert!(
        s.iter().all(|s| matches!(s.value, Value::Float(_))),
        "classic only"
    );
    assert_eq!(s.len(), 4);

    let (s, f) = read(&body(&[native_family(5)]), NATIVE);
    assert_eq!(
        s[0].value,
        Value::Histogram(expected_native(ResetHint::Gauge))
    );
    assert_eq!(f[0].kind, MetricType::GaugeHistogram);
}

#[test]
fn float_native_histograms_keep_float_counts() {
    let f = MetricFamily {
        name: "f".into(),
        kind: 4,
        metric: vec![Metric {
            histogram: Some(Hist {
                sample_count_float: 2.0,
                sample_sum: 3.0,
                schema: 2,
                positive_span: vec![BucketSpan {
                    offset: 3,
                    length: 2,
                }],
                positive_count: vec![1.5, 0.5],
                ..Hist::default()
            }),
            ..Metric::default()
        }],
        ..MetricFamily::default()
    };
    let (s, _) = read(&body(&[f]), NATIVE);
    let Value::Histogram(h) = &s[0].value else {
        panic!("{:?}", s[0].value)
    };
    assert_eq!(
        h.counts,
        Counts::Float {
            count: 2.0,
            zero_count: 0.0,
            positive: vec![1.5, 0.5],
            negative: vec![]
        }
    );
    assert_eq!((h.schema, h.sum), (2, 3.0));
}

#[test]
fn malformed_bodies_are_refused_whole() {
    let good = body(&[classic_family()]);
    let cut = &good[..good.len() - 3];
    let e = scan(cut, NATIVE, |_| Ok(())).expect_err("cut short");
    assert!(e.starts_with("metric family 1"), "{e}");
    let dup = body(&[MetricFamily {
        name: "d".into(),
        kind: 1,
        metric: vec![Metric {
            label: vec![pair("a", "1"), pair("a", "2")],
            gauge: Some(Simple::default()),
            ..Metric::default()
        }],
        ..MetricFamily::default()
    }]);
    let e = scan(&dup, NATIVE, |_| Ok(())).expect_err("a label twice");
    assert!(e.contains("duplicate label name \"a\""), "{e}");
    let reserved = body(&[MetricFamily {
        name: "d".into(),
        kind: 1,
        metric: vec![Metric {
            label: vec![pair("__name__", "x")],
            ..Metric::default()
        }],
        ..MetricFamily::default()
    }]);
    assert!(scan(&reserved, NATIVE, |_| Ok(())).is_err());
    let e = scan(&body(&[MetricFamily::default()]), NATIVE, |_| Ok(())).expect_err("no name");
    assert!(e.contains("empty name"), "{e}");
}

#[test]
fn bounds_are_written_as_prometheus_writes_them() {
    for (v, want) in [
        (0.25, "0.25"),
        (1.0, "1.0"),
        (100_000.0, "100000.0"),
        (123_456.0, "123456.0"),
        (1e6, "1e+06"),
        (2.5e6, "2.5e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
        (0.0, "0.0"),
        (1.5e300, "1.5e+300"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
    ] {
        assert_eq!(om_float(v), want, "{v}");
    }
}
