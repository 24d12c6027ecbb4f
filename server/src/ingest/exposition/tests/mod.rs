//! Unit tests of the exposition parser: the text format here, OpenMetrics in
//! `openmetrics.rs`, refused bodies (line numbers and reasons) in `errors.rs`, the protobuf
//! format in `proto.rs`.

mod errors;
mod openmetrics;
mod proto;

use super::number::NORMAL_NAN_BITS;
use super::{Family, Format, MetricType, ParseError, Parsed, ParsedSample, parse};

pub(super) fn text(body: &str) -> Parsed {
    parse(body.as_bytes(), Format::Text).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

pub(super) fn om(body: &str) -> Parsed {
    parse(body.as_bytes(), Format::OpenMetrics).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

/// The error of a body that must be refused.
pub(super) fn refused(body: &[u8], format: Format) -> ParseError {
    match parse(body, format) {
        Ok(p) => panic!("accepted {:?}: {p:?}", String::from_utf8_lossy(body)),
        Err(e) => e,
    }
}

pub(super) fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// The one sample named `name` with exactly these labels.
pub(super) fn find<'p>(p: &'p Parsed, name: &str, with: &[(&str, &str)]) -> &'p ParsedSample {
    let want = labels(with);
    let mut hits = p
        .samples
        .iter()
        .filter(|s| s.name == name && s.labels == want);
    let s = hits.next().unwrap_or_else(|| panic!("no {name}{with:?}"));
    assert!(hits.next().is_none(), "{name}{with:?} twice");
    s
}

pub(super) fn family(name: &str, kind: MetricType, help: Option<&str>) -> Family {
    Family {
        name: name.into(),
        kind,
        help: help.map(Into::into),
        unit: None,
    }
}

const NODE_EXPORTER: &str = r##"# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.4497e-05
go_gc_duration_seconds{quantile="1"} 0.000366148
go_gc_duration_seconds_sum 0.043529457
go_gc_duration_seconds_count 1262
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 1.23245e+06
node_cpu_seconds_total{cpu="0",mode="iowait"} 163.38
node_cpu_seconds_total{cpu="1",mode="idle"} 1.2330969e+06
# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} 3.6213411840e+10
node_filesystem_avail_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 8.28264448e+08
# HELP node_hwmon_temp_celsius Hardware monitor for temperature (input)
# TYPE node_hwmon_temp_celsius gauge
node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp1"} NaN
# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.21
# HELP node_uname_info Labeled system information as provided by the uname system call.
# TYPE node_uname_info gauge
node_uname_info{domainname="(none)",machine="x86_64",nodename="box",release="6.1.0-18-amd64",sysname="Linux",version="#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"} 1
# HELP promhttp_metric_handler_requests_total Total number of scrapes by HTTP status code.
# TYPE promhttp_metric_handler_requests_total counter
promhttp_metric_handler_requests_total{code="200"} 7
promhttp_metric_handler_requests_total{code="500"} 0
"##;

#[test]
fn node_exporter_excerpt() {
    let p = text(NODE_EXPORTER);
    assert_eq!(p.samples.len(), 14);
    let idle = find(
        &p,
        "node_cpu_seconds_total",
        &[("cpu", "0"), ("mode", "idle")],
    );
    assert_eq!((idle.value, idle.timestamp_ms), (1_232_450.0, None));
    assert!(idle.exemplar.is_none());
    let root = &[
        ("device", "/dev/sda1"),
        ("fstype", "ext4"),
        ("mountpoint", "/"),
    ];
    assert_eq!(
        find(&p, "node_filesystem_avail_bytes", root).value,
        36_213_411_840.0
    );
    let temp = find(
        &p,
        "node_hwmon_temp_celsius",
        &[("chip", "platform_coretemp_0"), ("sensor", "temp1")],
    );
    assert_eq!(
        temp.value.to_bits(),
        NORMAL_NAN_BITS,
        "Prometheus's canonical NaN"
    );
    assert_eq!(find(&p, "node_load1", &[]).value, 0.21);
    let uname = p
        .samples
        .iter()
        .find(|s| s.name == "node_uname_info")
        .expect("uname");
    assert_eq!(
        uname.labels[5],
        (
            "version".into(),
            "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)".into()
        )
    );
    assert_eq!(find(&p, "go_gc_duration_seconds_count", &[]).value, 1262.0);
    assert_eq!(
        find(
            &p,
            "promhttp_metric_handler_requests_total",
            &[("code", "500")]
        )
        .value,
        0.0
    );

    let names: Vec<(&str, MetricType)> = p
        .families
        .iter()
        .map(|f| (f.name.as_str(), f.kind))
        .collect();
    assert_eq!(
        names,
        [
            ("go_gc_duration_seconds", MetricType::Summary),
            ("node_cpu_seconds_total", MetricType::Counter),
            ("node_filesystem_avail_bytes", MetricType::Gauge),
            ("node_hwmon_temp_celsius", MetricType::Gauge),
            ("node_load1", MetricType::Gauge),
            ("node_uname_info", MetricType::Gauge),
            (
                "promhttp_metric_handler_requests_total",
                MetricType::Counter
            ),
        ]
    );
    assert_eq!(
        p.families[4],
        family("node_load1", MetricType::Gauge, Some("1m load average."))
    );
}

#[test]
fn histogram_and_summary() {
    let p = text(
        "# HELP http_request_duration_seconds Request latency.\n\
         # TYPE http_request_duration_seconds histogram\n\
         http_request_duration_seconds_bucket{handler=\"/\",le=\"0.05\"} 24054\n\
         http_request_duration_seconds_bucket{handler=\"/\",le=\"0.5\"} 129389\n\
         http_request_duration_seconds_bucket{handler=\"/\",le=\"+Inf\"} 144320\n\
         http_request_duration_seconds_sum{handler=\"/\"} 53423\n\
         http_request_duration_seconds_count{handler=\"/\"} 144320\n\
         # TYPE rpc_duration_seconds summary\n\
         rpc_duration_seconds{quantile=\"0.01\"} 3102\n\
         rpc_duration_seconds{quantile=\"0.99\"} NaN\n\
         rpc_duration_seconds_sum 1.7560473e+07\n\
         rpc_duration_seconds_count 2693\n",
    );
    let bucket = |le| {
        find(
            &p,
            "http_request_duration_seconds_bucket",
            &[("handler", "/"), ("le", le)],
        )
        .value
    };
    assert_eq!(
        (bucket("0.05"), bucket("0.5"), bucket("+Inf")),
        (24054.0, 129389.0, 144320.0)
    );
    assert_eq!(
        find(&p, "http_request_duration_seconds_sum", &[("handler", "/")]).value,
        53423.0
    );
    assert_eq!(
        find(
            &p,
            "http_request_duration_seconds_count",
            &[("handler", "/")]
        )
        .value,
        144320.0
    );
    assert_eq!(
        find(&p, "rpc_duration_seconds", &[("quantile", "0.01")]).value,
        3102.0
    );
    assert!(
        find(&p, "rpc_duration_seconds", &[("quantile", "0.99")])
            .value
            .is_nan()
    );
    assert_eq!(
        find(&p, "rpc_duration_seconds_sum", &[]).value,
        17_560_473.0
    );
    assert_eq!(
        p.families,
        [
            family(
                "http_request_duration_seconds",
                MetricType::Histogram,
                Some("Request latency.")
            ),
            family("rpc_duration_seconds", MetricType::Summary, None),
        ]
    );
}

#[test]
fn values_as_go_parses_them() {
    let cases: &[(&str, f64)] = &[
        ("1", 1.0),
        ("-2.5", -2.5),
        ("+3", 3.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("1.5E-3", 0.0015),
        ("-0", -0.0),
        ("1e-400", 0.0),
        ("1.7976931348623157e308", f64::MAX),
        ("+Inf", f64::INFINITY),
        ("Inf", f64::INFINITY),
        ("inf", f64::INFINITY),
        ("-Inf", f64::NEG_INFINITY),
        ("+infinity", f64::INFINITY),
        ("-INFINITY", f64::NEG_INFINITY),
    ];
    for &(tok, want) in cases {
        let v = text(&format!("m {tok}\n")).samples[0].value;
        assert_eq!(v.to_bits(), want.to_bits(), "{tok}: {v}");
    }
    for tok in ["NaN", "nan", "NAN"] {
        let v = text(&format!("m {tok}\n")).samples[0].value;
        assert!(v.is_nan() && v.to_bits() == NORMAL_NAN_BITS, "{tok}");
    }
    assert!(text("m -Inf\n").samples[0].value.is_infinite());
}

#[test]
fn timestamps_whitespace_and_the_last_line() {
    let p = text(
        "  \t\n\
         a 1 1700000000123\n\
         b\t{x=\"1\" , y = \"2\",}\t2\t-5000\t\n\
         c{z=\"3\"}3\n\
         d{} 4 0\n\
         e{p=\"1\"q=\"2\"} 5\n\
         \n\
         f 6",
    );
    let got: Vec<(&str, f64, Option<i64>)> = p
        .samples
        .iter()
        .map(|s| (s.name.as_str(), s.value, s.timestamp_ms))
        .collect();
    assert_eq!(
        got,
        [
            ("a", 1.0, Some(1_700_000_000_123)),
            ("b", 2.0, Some(-5000)),
            ("c", 3.0, None),
            ("d", 4.0, Some(0)),
            ("e", 5.0, None),
            ("f", 6.0, None),
        ]
    );
    assert_eq!(p.samples[1].labels, labels(&[("x", "1"), ("y", "2")]));
    // Prometheus reads labels without a comma between them in the text format.
    assert_eq!(p.samples[4].labels, labels(&[("p", "1"), ("q", "2")]));
    assert!(p.families.is_empty());
    // Whitespace may come before `#` and `{`.
    let p = text(" \t# TYPE m gauge\n  {\"m\"} 1\n");
    assert_eq!(
        (p.samples[0].name.as_str(), p.families[0].kind),
        ("m", MetricType::Gauge)
    );
}

#[test]
fn quoted_strings_run_over_lines_in_the_text_format() {
    // Prometheus's text lexer keeps raw newlines inside quoted strings; line numbers go on.
    let p = text("m{a=\"two\nlines\",b=\"x\"} 1\n{\"n\nm\"} 2\n");
    assert_eq!(
        p.samples[0].labels,
        labels(&[("a", "two\nlines"), ("b", "x")])
    );
    assert_eq!(
        (p.samples[1].name.as_str(), p.samples[1].value),
        ("n\nm", 2.0)
    );
    let e = refused(b"m{a=\"x\ny\"} 1\nok 1\nbad\n", Format::Text);
    assert_eq!(
        (e.line, e.reason.as_str()),
        (4, "missing value after the series, got the end of the line")
    );
}

#[test]
fn escapes_in_label_values_and_help() {
    let p = text(concat!(
        "# HELP m Help with \\\\ backslash, \\n newline, \\\" kept and \\t kept.\n",
        "m{a=\"quote \\\" backslash \\\\ newline \\n\",b=\"C:\\temp\",c=\"\",d=\"caf\u{e9} \u{1f600}\"} 1\n",
    ));
    assert_eq!(
        p.samples[0].labels,
        labels(&[
            ("a", "quote \" backslash \\ newline \n"),
            // As Prometheus: an unknown escape stays as written.
            ("b", "C:\\temp"),
            ("c", ""),
            ("d", "caf\u{e9} \u{1f600}"),
        ])
    );
    let help = p.families[0].help.as_deref();
    assert_eq!(
        help,
        Some("Help with \\ backslash, \n newline, \\\" kept and \\t kept.")
    );
}

#[test]
fn utf8_quoted_names() {
    let p = text(concat!(
        "# HELP \"my.metric.name\" A dotted name.\n",
        "# TYPE \"my.metric.name\" gauge\n",
        "{\"my.metric.name\", \"label.with.dots\"=\"v\"} 1\n",
        "{\"label.with.dots\"=\"w\", job=\"j\", \"my.metric.name\"} 2\n",
        "plain{\"quoted\"=\"q\", \"caf\u{e9} \\\"x\\\"\"=\"y\"} 3\n",
        "{\"esc\\\"aped\"} 4\n",
    ));
    let got: Vec<(&str, &[(String, String)])> = p
        .samples
        .iter()
        .map(|s| (s.name.as_str(), &s.labels[..]))
        .collect();
    assert_eq!(
        got[0],
        ("my.metric.name", &labels(&[("label.with.dots", "v")])[..])
    );
    assert_eq!(
        got[1],
        (
            "my.metric.name",
            &labels(&[("label.with.dots", "w"), ("job", "j")])[..]
        )
    );
    assert_eq!(
        got[2],
        (
            "plain",
            &labels(&[("quoted", "q"), ("caf\u{e9} \"x\"", "y")])[..]
        )
    );
    assert_eq!(got[3], ("esc\"aped", &[][..]));
    assert_eq!(
        p.families,
        [family(
            "my.metric.name",
            MetricType::Gauge,
            Some("A dotted name.")
        )]
    );
}

#[test]
fn comments_metadata_and_families() {
    let p = text(
        "# A free comment\n\
         #no space is a comment too\n\
         # HELPER is not HELP\n\
         # HELP\n\
         #\tHELP a First help.\n\
         # HELP a Second help.\n\
         # TYPE a untyped\n\
         # HELP empty\n\
         # UNIT a seconds\n\
         # EOF\n\
         a 1\n\
         # TYPE b counter\n\
         b 2\n",
    );
    assert_eq!(
        p.families,
        [
            family("a", MetricType::Unknown, Some("Second help.")),
            family("empty", MetricType::Unknown, Some("")),
            family("b", MetricType::Counter, None),
        ]
    );
    assert_eq!(p.samples.len(), 2);
    assert_eq!(MetricType::GaugeHistogram.as_str(), "gaugehistogram");
}

#[test]
fn format_from_content_type() {
    let cases = [
        (
            Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Format::OpenMetrics,
        ),
        (
            Some("application/openmetrics-text;version=0.0.1"),
            Format::OpenMetrics,
        ),
        (Some(" Application/OpenMetrics-Text "), Format::OpenMetrics),
        (
            Some("text/plain; version=0.0.4; charset=utf-8"),
            Format::Text,
        ),
        (Some("application/json"), Format::Text),
        (Some(""), Format::Text),
        (None, Format::Text),
    ];
    for (ct, want) in cases {
        assert_eq!(Format::from_content_type(ct), want, "{ct:?}");
    }
}

#[test]
fn large_bodies_are_linear() {
    // 100,000 lines and one line of 4 MiB: quick, no quadratic work.
    let mut body = String::new();
    for i in 0..100_000 {
        body.push_str(&format!("m{}{{i=\"{i}\"}} {i}\n", i % 7));
    }
    let p = text(&body);
    assert_eq!(
        (p.samples.len(), p.samples[99_999].value),
        (100_000, 99_999.0)
    );
    let long = format!("m{{a=\"{}\"}} 1\n", "x".repeat(4 << 20));
    assert_eq!(text(&long).samples[0].labels[0].1.len(), 4 << 20);
    // Many labels: duplicates found by sorting, not by comparing every pair.
    let many: String = (0..50_000).map(|i| format!("l{i}=\"v\",")).collect();
    assert_eq!(
        text(&format!("m{{{many}}} 1")).samples[0].labels.len(),
        50_000
    );
    let e = refused(
        format!("m{{{many}l7=\"again\"}} 1").as_bytes(),
        Format::Text,
    );
    assert_eq!(
        (e.line, e.reason.as_str()),
        (1, "duplicate label name \"l7\"")
    );
}
