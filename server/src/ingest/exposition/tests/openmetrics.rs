//! OpenMetrics 1.0 bodies: every type, exemplars, units, `_created`, float-second
//! timestamps, `# EOF`.

use super::{NORMAL_NAN_BITS, family, find, labels, om, refused};
use crate::ingest::exposition::{Exemplar, Family, Format, MetricType};

const COUNTER_AND_HISTOGRAM: &str = r#"# HELP http_requests Requests served, with a \"quoted\" word.
# TYPE http_requests counter
http_requests_total{code="200"} 1027 1700000000.123 # {trace_id="4bf92f3577b34da6"} 1 1700000000.001
http_requests_created{code="200"} 1699990000.5
http_requests_total{code="500"} 3
# HELP request_seconds Latency.
# TYPE request_seconds histogram
# UNIT request_seconds seconds
request_seconds_bucket{le="0.1"} 8 # {trace_id="a"} 0.05
request_seconds_bucket{le="1.0"} 9 # {} 0.7 1700000000
request_seconds_bucket{le="+Inf"} 10
request_seconds_count 10
request_seconds_sum 4.5
request_seconds_created 1699990000
# EOF
"#;

#[test]
fn counter_and_histogram_with_exemplars() {
    let p = om(COUNTER_AND_HISTOGRAM);
    let total = find(&p, "http_requests_total", &[("code", "200")]);
    assert_eq!(
        (total.value, total.timestamp_ms),
        (1027.0, Some(1_700_000_000_123))
    );
    let want = Exemplar {
        labels: labels(&[("trace_id", "4bf92f3577b34da6")]),
        value: 1.0,
        timestamp_ms: Some(1_700_000_000_001),
    };
    assert_eq!(total.exemplar.as_ref(), Some(&want));
    // `_created` is a sample like any other.
    let created = find(&p, "http_requests_created", &[("code", "200")]);
    assert_eq!(created.value, 1_699_990_000.5);
    assert!(
        find(&p, "http_requests_total", &[("code", "500")])
            .exemplar
            .is_none()
    );

    let b = find(&p, "request_seconds_bucket", &[("le", "0.1")]);
    let e = b.exemplar.as_ref().expect("an exemplar");
    assert_eq!(
        (&e.labels[..], e.value, e.timestamp_ms),
        (&labels(&[("trace_id", "a")])[..], 0.05, None)
    );
    let e = find(&p, "request_seconds_bucket", &[("le", "1.0")])
        .exemplar
        .as_ref()
        .expect("exemplar");
    assert_eq!(
        (e.labels.len(), e.value, e.timestamp_ms),
        (0, 0.7, Some(1_700_000_000_000))
    );
    assert_eq!(find(&p, "request_seconds_sum", &[]).value, 4.5);
    assert_eq!(p.samples.len(), 9);
    assert_eq!(
        p.families,
        [
            family(
                "http_requests",
                MetricType::Counter,
                Some("Requests served, with a \"quoted\" word.")
            ),
            Family {
                unit: Some("seconds".into()),
                ..family("request_seconds", MetricType::Histogram, Some("Latency."))
            },
        ]
    );
}

#[test]
fn every_type_and_summary() {
    let p = om(concat!(
        "# TYPE rpc summary\n",
        "rpc{quantile=\"0.5\"} 0.2\n",
        "rpc{quantile=\"0.99\"} NaN\n",
        "rpc_sum 12.5\n",
        "rpc_count 40 # {id=\"summary-count\"} 1 123.321\n",
        "# TYPE queue gaugehistogram\n",
        "queue_bucket{le=\"+Inf\"} 3 # {id=\"x\"} 4\n",
        "queue_gcount 3\n",
        "queue_gsum 9\n",
        "# TYPE build info\n",
        "build_info{version=\"1.2\"} 1\n",
        "# TYPE state stateset\n",
        "state{state=\"up\"} 1\n",
        "state{state=\"down\"} 0\n",
        "# TYPE temp gauge\n",
        "temp -3.5e1 -1.5\n",
        "# TYPE other unknown\n",
        "other +Inf\n",
        "# EOF",
    ));
    assert_eq!(find(&p, "rpc", &[("quantile", "0.5")]).value, 0.2);
    let nan = find(&p, "rpc", &[("quantile", "0.99")]).value;
    assert!(nan.is_nan() && nan.to_bits() == NORMAL_NAN_BITS);
    // Prometheus keeps exemplars on any sample (its own tests have them on a summary's
    // `_count` and `_sum`).
    let e = find(&p, "rpc_count", &[])
        .exemplar
        .as_ref()
        .expect("exemplar");
    assert_eq!((e.value, e.timestamp_ms), (1.0, Some(123_321)));
    assert_eq!(find(&p, "queue_gsum", &[]).value, 9.0);
    assert_eq!(find(&p, "build_info", &[("version", "1.2")]).value, 1.0);
    assert_eq!(find(&p, "state", &[("state", "down")]).value, 0.0);
    let temp = find(&p, "temp", &[]);
    // Float seconds toward zero: -1.5 s is -1500 ms.
    assert_eq!((temp.value, temp.timestamp_ms), (-35.0, Some(-1500)));
    assert!(find(&p, "other", &[]).value.is_infinite());
    let kinds: Vec<MetricType> = p.families.iter().map(|f| f.kind).collect();
    use MetricType::*;
    assert_eq!(
        kinds,
        [Summary, GaugeHistogram, Info, StateSet, Gauge, Unknown]
    );
}

#[test]
fn quoted_names_and_escapes() {
    let p = om(concat!(
        "# TYPE \"my.counter\" counter\n",
        "# HELP \"my.counter\" \n",
        "{\"my.counter_total\",\"k.1\"=\"a\\\\b\\\"c\\nd\"} 1 # {\"trace.id\"=\"t\"} 2\n",
        "# EOF\n",
    ));
    let s = &p.samples[0];
    assert_eq!(
        (s.name.as_str(), &s.labels),
        ("my.counter_total", &labels(&[("k.1", "a\\b\"c\nd")]))
    );
    let e = s.exemplar.as_ref().expect("exemplar");
    assert_eq!(e.labels, labels(&[("trace.id", "t")]));
    assert_eq!(
        p.families,
        [family("my.counter", MetricType::Counter, Some(""))]
    );
}

#[test]
fn timestamps_are_float_seconds() {
    let cases = [
        ("1", 1000),
        ("1.5", 1500),
        ("1.0009", 1000),
        ("1e3", 1_000_000),
        ("-0.0019", -1),
        ("0", 0),
    ];
    for (ts, ms) in cases {
        let p = om(&format!("a 1 {ts}\n# EOF\n"));
        assert_eq!(p.samples[0].timestamp_ms, Some(ms), "{ts}");
    }
}

#[test]
fn eof_rules() {
    assert!(om("# EOF").samples.is_empty());
    assert!(om("# EOF\n").families.is_empty());
    let cases: &[(&str, usize, &str)] = &[
        ("", 1, "missing \"# EOF\" at the end of the body"),
        ("a 1\n", 2, "missing \"# EOF\" at the end of the body"),
        ("a 1", 2, "missing \"# EOF\" at the end of the body"),
        (
            "a 1\n# EOF\na 2\n",
            3,
            "content after \"# EOF\": \"a 2\\n\"",
        ),
        ("# EOF\n\n", 2, "content after \"# EOF\": \"\\n\""),
        (
            "# EOF \n",
            1,
            "unexpected comment \"# EOF \" (OpenMetrics allows HELP, TYPE, UNIT and EOF)",
        ),
        (
            "#EOF\n",
            1,
            "unexpected comment \"#EOF\" (OpenMetrics allows HELP, TYPE, UNIT and EOF)",
        ),
        ("a 1\n\n# EOF\n", 2, "blank line (OpenMetrics allows none)"),
    ];
    for &(body, line, reason) in cases {
        let e = refused(body.as_bytes(), Format::OpenMetrics);
        assert_eq!((e.line, e.reason.as_str()), (line, reason), "{body:?}");
    }
}

#[test]
fn strict_whitespace_and_metadata() {
    let cases: &[(&str, &str)] = &[
        (" a 1", "expected a metric name, got ' '"),
        ("a  1", "missing value after the series, got ' '"),
        ("a\t1", "missing value after the series, got '\\t'"),
        ("a 1\t2", "invalid value \"1\\t2\""),
        ("a 1 ", "expected a timestamp, got \" \""),
        ("a 1 2 ", "unexpected \" \" after the timestamp"),
        ("a{b=\"c\", d=\"e\"} 1", "expected a label name, got ' '"),
        (
            "a{b=\"c\"d=\"e\"} 1",
            "expected ',' or '}' after a label, got \"d=\\\"e\\\"}\"",
        ),
        ("a{b=\"c\"}1", "missing value after the series, got \"1\""),
        ("a 1 NaN", "invalid timestamp \"NaN\""),
        ("a 1 +Inf", "invalid timestamp \"+Inf\""),
        ("a 1 1z", "invalid timestamp \"1z\""),
        (
            "a_total 1 # {x=\"y\"}",
            "missing value after the exemplar's labels, got the end of the line",
        ),
        ("a_total 1 # {x=\"y\"} 1 NaN", "invalid timestamp \"NaN\""),
        (
            "a_total 1 # {x=\"y\"} 1 ",
            "expected the exemplar's timestamp, got \" \"",
        ),
        (
            "a_total 1 #{x=\"y\"} 1",
            "invalid timestamp \"#{x=\\\"y\\\"}\"",
        ),
        (
            "a_total 1 # {x=\"y\"} 1 2 3",
            "unexpected \" 3\" after the exemplar",
        ),
        (
            "a_total 1 # {\"name\"} 1",
            "expected '=' after label name \"name\", got \"}\"",
        ),
        (
            "a_total 1 # {x=\"1\",x=\"2\"} 1",
            "duplicate label name \"x\"",
        ),
        ("# TYPE a untyped", "invalid metric type \"untyped\""),
        ("# TYPE a counter ", "invalid metric type \"counter \""),
        ("# TYPE a  counter", "invalid metric type \" counter\""),
        ("# TYPE a", "missing text after TYPE \"a\""),
        ("# HELP a", "missing text after HELP \"a\""),
        (
            "# HELP ",
            "expected a metric name after HELP, got the end of the line",
        ),
        (
            "# UNIT a_seconds bytes",
            "unit \"bytes\" is not a suffix of metric \"a_seconds\"",
        ),
        (
            "# UNIT seconds seconds",
            "unit \"seconds\" is not a suffix of metric \"seconds\"",
        ),
        (
            "# a comment",
            "unexpected comment \"# a comment\" (OpenMetrics allows HELP, TYPE, UNIT and EOF)",
        ),
    ];
    for &(line, reason) in cases {
        let body = format!("{line}\n# EOF\n");
        let e = refused(body.as_bytes(), Format::OpenMetrics);
        assert_eq!((e.line, e.reason.as_str()), (1, reason), "{line:?}");
    }
    // What the text format takes: its spacing, `untyped`, exemplars no.
    let e = refused(b"a_total 1 # {x=\"y\"} 1\n", Format::Text);
    assert_eq!((e.line, e.reason.as_str()), (1, "invalid timestamp \"#\""));
    let e = refused(b"# TYPE a unknown\n", Format::Text);
    assert_eq!(
        (e.line, e.reason.as_str()),
        (1, "invalid metric type \"unknown\"")
    );
    let p = om("# UNIT a_seconds seconds\n# UNIT b \n# EOF\n");
    assert_eq!(p.families[0].unit.as_deref(), Some("seconds"));
    assert_eq!(p.families[1].unit.as_deref(), Some(""));
}
