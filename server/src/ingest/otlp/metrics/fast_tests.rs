//! The fast path against the general one, on two real engines: every request of a varied,
//! repetitive stream goes to one engine through `translate_metrics` + `write`, and to the
//! other through `metrics_fast::translate` + `write_keyed` (or the general path where the
//! fast one declines). Counts for `partial_success` and the outcome must agree request by
//! request, and the stored series and samples at the end.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, Summary, SummaryDataPoint, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use strata_engine::{
    Clock, Engine, EngineConfig, Limits, MatchOp, Matcher, SeriesData, SystemClock, TenantId,
    WriteOutcome,
};

use super::super::fast as metrics_fast;
use crate::ingest::otlp::{TranslateOptions, Translated, translate_metrics};
use crate::ingest::test_rng::Rng;

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(key: &str, v: &str) -> KeyValue {
    kv(key, Value::StringValue(v.into()))
}

/// Point attributes: a few series per metric, of every value kind, sometimes reordered,
/// sometimes with a key the mapping refuses.
fn attrs(rng: &mut Rng) -> Vec<KeyValue> {
    let mut a = vec![
        s("host", &format!("h{}", rng.below(3))),
        kv("cpu", Value::IntValue(rng.below(2) as i64)),
    ];
    match rng.below(8) {
        0 => a.push(kv("ok", Value::BoolValue(true))),
        1 => a.push(kv("ratio", Value::DoubleValue(0.5))),
        2 => a.push(kv(
            "list",
            Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(Value::StringValue("x".into())),
                }],
            }),
        )),
        3 => a.push(kv("raw", Value::BytesValue(vec![1, 2, 3]))),
        4 => a.reverse(),
        5 if rng.below(4) == 0 => a.push(s("__", "refused")),
        _ => {}
    }
    a
}

fn number_point(rng: &mut Rng, now_ns: u64) -> NumberDataPoint {
    let time = match rng.below(40) {
        0 => 0, // refused: no timestamp
        _ => now_ns - rng.below(4) * 1_000_000_000,
    };
    let value = match rng.below(30) {
        0 => None, // refused, unless flagged as no recorded value
        1..=10 => Some(number_data_point::Value::AsInt(rng.below(1000) as i64)),
        _ => Some(number_data_point::Value::AsDouble(
            rng.below(1000) as f64 / 4.0,
        )),
    };
    NumberDataPoint {
        attributes: attrs(rng),
        time_unix_nano: time,
        value,
        flags: u32::from(rng.below(15) == 0),
        exemplars: if rng.below(10) == 0 {
            vec![Exemplar {
                time_unix_nano: time,
                span_id: vec![1; 8],
                trace_id: vec![2; 16],
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

fn metric(rng: &mut Rng, now_ns: u64) -> Metric {
    let names = ["http.requests", "queue.depth", "cpu.time", "mem.used"];
    let name = names[rng.below(4) as usize];
    let points = |rng: &mut Rng| -> Vec<NumberDataPoint> {
        (0..1 + rng.below(4))
            .map(|_| number_point(rng, now_ns))
            .collect()
    };
    let data = match rng.below(12) {
        0..=4 => Data::Gauge(Gauge {
            data_points: points(rng),
        }),
        5..=8 => Data::Sum(Sum {
            data_points: points(rng),
            aggregation_temporality: if rng.below(10) == 0 { 1 } else { 2 },
            is_monotonic: rng.below(3) != 0,
        }),
        9 => Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: attrs(rng),
                time_unix_nano: now_ns,
                count: 3,
                sum: Some(1.5),
                bucket_counts: vec![1, 2],
                explicit_bounds: vec![0.5],
                ..Default::default()
            }],
            aggregation_temporality: 2,
        }),
        10 => Data::Summary(Summary {
            data_points: vec![SummaryDataPoint {
                attributes: attrs(rng),
                time_unix_nano: now_ns,
                count: 2,
                sum: 4.0,
                ..Default::default()
            }],
        }),
        _ => Data::Gauge(Gauge {
            data_points: Vec::new(), // refused: empty
        }),
    };
    Metric {
        name: name.into(),
        description: "d".into(),
        unit: ["", "s", "By", "1"][rng.below(4) as usize].into(),
        data: Some(data),
        ..Default::default()
    }
}

fn request(rng: &mut Rng, now_ns: u64) -> ExportMetricsServiceRequest {
    let resources = (0..1 + rng.below(2))
        .map(|_| {
            let mut attributes = vec![s("service.name", ["api", "db"][rng.below(2) as usize])];
            if rng.below(2) == 0 {
                attributes.push(s("service.instance.id", "i-1"));
                attributes.push(s("host.arch", "amd64"));
            }
            ResourceMetrics {
                resource: Some(Resource {
                    attributes,
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "lib".into(),
                        ..Default::default()
                    }),
                    metrics: (0..1 + rng.below(4)).map(|_| metric(rng, now_ns)).collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: resources,
    }
}

fn counts(o: &WriteOutcome) -> (u64, u64, u64) {
    (o.accepted, o.duplicates, o.rejected_total())
}

fn everything(engine: &Engine, tenant: &TenantId) -> Vec<SeriesData> {
    let all = Matcher::new("__name__", MatchOp::Regex, ".+").expect("matcher");
    let mut got = engine.select(tenant, &[all], 0, i64::MAX).expect("select");
    got.sort_by(|a, b| a.labels.cmp(&b.labels));
    got
}

#[test]
fn the_fast_path_stores_and_answers_what_the_general_path_does() {
    let config = || EngineConfig {
        limits: Limits {
            // Low enough that some series of the stream are refused by the engine.
            max_labels_per_series: 6,
            ..Limits::default()
        },
        ..EngineConfig::default()
    };
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let general = Engine::open(dir_a.path(), config()).expect("engine");
    let fast = Engine::open(dir_b.path(), config()).expect("engine");
    let tenant = TenantId::new("acme").expect("tenant");
    let now_ns = u64::try_from(SystemClock.now_ms()).expect("after 1970") * 1_000_000;
    let opts = TranslateOptions::default();
    let mut rng = Rng(0x5eed);
    let (mut fast_requests, mut known_points, mut exemplars) = (0, 0u64, 0);
    for i in 0..300 {
        let req = request(&mut rng, now_ns + i * 1_000_000_000);
        let body = req.encode_to_vec();

        let mut want = translate_metrics(&req, &opts);
        let series = std::mem::take(&mut want.series);
        let want_outcome = general.write(&tenant, &series).expect("write");

        let translated = metrics_fast::translate(&body, &opts, |keys| {
            let found = fast.known_series(&tenant, keys).expect("known");
            known_points += found.iter().filter(|k| k.is_some()).count() as u64;
            found
        })
        .expect("the fast path takes every request of this stream");
        fast_requests += 1;
        let got_outcome = translated.with_series(|s| fast.write_keyed(&tenant, s).expect("write"));
        let got = translated.translated;
        assert_eq!(
            (got.points, got.rejected_points, got.errors.len()),
            (want.points, want.rejected_points, want.errors.len()),
            "request {i}: {:?} vs {:?}",
            got.errors,
            want.errors
        );
        assert_eq!(counts(&got_outcome), counts(&want_outcome), "request {i}");
        // The same exemplars on the same series, whichever path stored the point.
        let sorted = |t: &Translated| {
            let mut v: Vec<String> = t.exemplars.iter().map(|s| format!("{s:?}")).collect();
            v.sort();
            v
        };
        assert_eq!(sorted(&got), sorted(&want), "request {i}");
        exemplars += want.exemplars.len();
    }
    assert!(exemplars > 10, "the stream has exemplars: {exemplars}");
    assert_eq!(fast_requests, 300);
    assert!(
        known_points > 200,
        "keys are learnt and found: {known_points}"
    );
    let (want, got) = (everything(&general, &tenant), everything(&fast, &tenant));
    assert!(want.len() > 50, "{} series", want.len());
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.labels, w.labels);
        let bits = |d: &SeriesData| -> Vec<(i64, u64)> {
            d.samples
                .iter()
                .map(|s| (s.ts, s.value.to_bits()))
                .collect()
        };
        assert_eq!(bits(g), bits(w), "{:?}", g.labels);
    }
}

#[test]
fn requests_outside_the_fast_path_are_declined() {
    let opts = TranslateOptions::default();
    let never = |_: &[&[u8]]| -> Vec<Option<strata_engine::KnownSeries>> {
        panic!("nothing may be looked up for a declined request")
    };
    // Unknown field at the top level.
    let mut body = ExportMetricsServiceRequest::default().encode_to_vec();
    body.extend([0x78, 0x01]);
    assert!(metrics_fast::translate(&body, &opts, never).is_none());
    // Scope promotion asks for scope labels on every series: the general path does that.
    let promote = TranslateOptions {
        promote_scope_metadata: true,
        ..TranslateOptions::default()
    };
    assert!(metrics_fast::translate(&[], &promote, never).is_none());
    // A resource given twice (prost would merge the two).
    let rm = ResourceMetrics {
        resource: Some(Resource::default()),
        ..Default::default()
    }
    .encode_to_vec();
    let twice = [&rm[..], &rm[..]].concat();
    let body = [&[0x0A, twice.len() as u8][..], &twice].concat();
    assert!(ExportMetricsServiceRequest::decode(&body[..]).is_ok());
    assert!(metrics_fast::translate(&body, &opts, never).is_none());
}

#[test]
fn points_with_split_attribute_fields_are_stored_with_their_labels() {
    let dir = tempfile::tempdir().expect("dir");
    let engine = Engine::open(dir.path(), EngineConfig::default()).expect("engine");
    let tenant = TenantId::new("acme").expect("tenant");
    let now_ns = u64::try_from(SystemClock.now_ms()).expect("after 1970") * 1_000_000;
    // A point whose attribute fields are not adjacent: two encodings concatenated (repeated
    // fields append; prost writes fields in tag order), the time and value between them.
    let first = NumberDataPoint {
        attributes: vec![s("a", "1")],
        ..Default::default()
    }
    .encode_to_vec();
    let second = NumberDataPoint {
        attributes: vec![s("b", "2")],
        time_unix_nano: now_ns,
        value: Some(number_data_point::Value::AsDouble(2.0)),
        ..Default::default()
    }
    .encode_to_vec();
    let point = [first, second].concat();
    let gauge = [&[0x0A, point.len() as u8][..], &point].concat();
    let metric = [
        &[0x0A, 1, b'g'][..],
        &[0x2A, gauge.len() as u8][..],
        &gauge[..],
    ]
    .concat();
    let scope = [&[0x12, metric.len() as u8][..], &metric].concat();
    let rm = [&[0x12, scope.len() as u8][..], &scope].concat();
    let body = [&[0x0A, rm.len() as u8][..], &rm].concat();
    let opts = TranslateOptions::default();
    for _ in 0..2 {
        let t = metrics_fast::translate(&body, &opts, |keys| {
            assert!(keys.is_empty(), "a split point has no key: {keys:?}");
            Vec::new()
        })
        .expect("fast path");
        let outcome = t.with_series(|s| engine.write_keyed(&tenant, s).expect("write"));
        assert_eq!(outcome.accepted + outcome.duplicates, 1);
    }
    let got = everything(&engine, &tenant);
    assert_eq!(got.len(), 1);
    let names: Vec<&str> = got[0].labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["__name__", "a", "b"]);
}

#[test]
fn repeated_and_interleaved_points_of_a_series_are_grouped_as_the_general_path_does() {
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let general = Engine::open(dir_a.path(), EngineConfig::default()).expect("engine");
    let fast = Engine::open(dir_b.path(), EngineConfig::default()).expect("engine");
    let tenant = TenantId::new("acme").expect("tenant");
    let now_ns = u64::try_from(SystemClock.now_ms()).expect("after 1970") * 1_000_000;
    let opts = TranslateOptions::default();
    // Series a, a, b, a, b, b of one gauge (runs of one series, and interleaved), then the
    // same attributes under another name (another context: other series).
    let point = |attrs: &[(&str, &str)], step: u64| NumberDataPoint {
        attributes: attrs.iter().map(|(k, v)| s(k, v)).collect(),
        time_unix_nano: now_ns + step * 1_000_000_000,
        value: Some(number_data_point::Value::AsDouble(step as f64)),
        ..Default::default()
    };
    let (a, b) = (&[("host", "h1")][..], &[("host", "h2")][..]);
    let gauge = |name: &str, points: Vec<NumberDataPoint>| Metric {
        name: name.into(),
        data: Some(Data::Gauge(Gauge {
            data_points: points,
        })),
        ..Default::default()
    };
    for round in 0..2 {
        let t = round * 10;
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        gauge(
                            "g",
                            vec![
                                point(a, t),
                                point(a, t + 1),
                                point(b, t + 2),
                                point(a, t + 3),
                                point(b, t + 4),
                                point(b, t + 5),
                            ],
                        ),
                        gauge("h", vec![point(a, t + 6), point(a, t + 7)]),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let mut want = translate_metrics(&req, &opts);
        let series = std::mem::take(&mut want.series);
        assert_eq!(series.len(), 3);
        let want_outcome = general.write(&tenant, &series).expect("write");
        let mut lookups = 0;
        let translated = metrics_fast::translate(&req.encode_to_vec(), &opts, |keys| {
            lookups = keys.len();
            fast.known_series(&tenant, keys).expect("known")
        })
        .expect("fast path");
        assert_eq!(lookups, 3, "one key per series");
        let got_outcome = translated.with_series(|s| fast.write_keyed(&tenant, s).expect("write"));
        assert_eq!(counts(&got_outcome), counts(&want_outcome));
        assert_eq!(got_outcome.accepted, 8);
    }
    let (want, got) = (everything(&general, &tenant), everything(&fast, &tenant));
    assert_eq!(got, want);
}
