//! Tests of the LogQL parser: a table of queries (mostly the examples of Loki's documentation,
//! cited per group) with the tree expected, written by hand, and the `Display` round trip on
//! all of them. Error cases, `check_selector` and random inputs are in `errors.rs`.

use super::super::ast::*;
use super::parse;

mod errors;

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;

fn m(name: &str, op: MatchOp, value: &str) -> Matcher {
    Matcher {
        name: name.into(),
        op,
        value: value.into(),
    }
}

fn eq(name: &str, value: &str) -> Matcher {
    m(name, MatchOp::Eq, value)
}

fn lq(selector: Vec<Matcher>, pipeline: Vec<Stage>) -> LogExpr {
    LogExpr { selector, pipeline }
}

fn log(selector: Vec<Matcher>, pipeline: Vec<Stage>) -> Expr {
    Expr::Log(lq(selector, pipeline))
}

fn line(op: LineOp, values: &[&str]) -> Stage {
    Stage::LineFilter(LineFilter {
        op,
        values: values.iter().map(|v| v.to_string()).collect(),
    })
}

fn lf(f: LabelFilter) -> Stage {
    Stage::LabelFilter(f)
}

fn sm(name: &str, op: MatchOp, value: &str) -> LabelFilter {
    LabelFilter::String(m(name, op, value))
}

fn num(name: &str, op: CmpOp, value: f64) -> LabelFilter {
    LabelFilter::Number {
        name: name.into(),
        op,
        value,
    }
}

fn dur(name: &str, op: CmpOp, seconds: f64) -> LabelFilter {
    LabelFilter::Duration {
        name: name.into(),
        op,
        seconds,
    }
}

fn bytes(name: &str, op: CmpOp, bytes: f64) -> LabelFilter {
    LabelFilter::Bytes {
        name: name.into(),
        op,
        bytes,
    }
}

fn ip(name: &str, negated: bool, pattern: &str) -> LabelFilter {
    LabelFilter::Ip {
        name: name.into(),
        negated,
        pattern: pattern.into(),
    }
}

fn and(a: LabelFilter, b: LabelFilter) -> LabelFilter {
    LabelFilter::And(Box::new(a), Box::new(b))
}

fn or(a: LabelFilter, b: LabelFilter) -> LabelFilter {
    LabelFilter::Or(Box::new(a), Box::new(b))
}

fn params(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn logfmt(strict: bool, keep_empty: bool, p: &[(&str, &str)]) -> Stage {
    Stage::Logfmt {
        strict,
        keep_empty,
        params: params(p),
    }
}

fn ra(op: RangeOp, log: LogExpr, range_ms: i64) -> RangeAgg {
    RangeAgg {
        op,
        log,
        range_ms,
        offset_ms: 0,
        unwrap: None,
        param: None,
        grouping: None,
    }
}

fn range(r: RangeAgg) -> MetricExpr {
    MetricExpr::Range(r)
}

fn uw(label: &str, conv: UnwrapConv, post_filters: Vec<LabelFilter>) -> Option<Unwrap> {
    Some(Unwrap {
        label: label.into(),
        conv,
        post_filters,
    })
}

fn grouping(without: bool, labels: &[&str]) -> Option<Grouping> {
    Some(Grouping {
        without,
        labels: labels.iter().map(|l| l.to_string()).collect(),
    })
}

fn by(labels: &[&str]) -> Option<Grouping> {
    grouping(false, labels)
}

fn vagg(op: VectorOp, grouping: Option<Grouping>, expr: MetricExpr) -> MetricExpr {
    MetricExpr::Vector {
        op,
        param: None,
        grouping,
        expr: Box::new(expr),
    }
}

fn bin(op: BinOp, lhs: MetricExpr, rhs: MetricExpr) -> MetricExpr {
    MetricExpr::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
        return_bool: false,
        matching: None,
    }
}

fn n(v: f64) -> MetricExpr {
    MetricExpr::Number(v)
}

fn metric(e: MetricExpr) -> Expr {
    Expr::Metric(e)
}

/// `count_over_time({s="x"}[1m])` for binary-operator cases.
fn cot(s: &str) -> MetricExpr {
    range(ra(
        RangeOp::CountOverTime,
        lq(vec![eq("s", s)], vec![]),
        MIN,
    ))
}

/// The table: `(query, expected tree)`, grouped by the section of Loki's documentation the
/// queries come from.
fn cases() -> Vec<(&'static str, Expr)> {
    [
        selector_cases(),
        line_filter_cases(),
        label_filter_cases(),
        parser_stage_cases(),
        range_cases(),
        aggregation_cases(),
        binary_cases(),
        grammar_cases(),
    ]
    .concat()
}

/// Stream selectors, their strings (Go escapes, backticks) and comments.
#[rustfmt::skip]
fn selector_cases() -> Vec<(&'static str, Expr)> {
    use MatchOp::{Eq, Ne, Nre, Re};
    vec![
        // Loki docs, "Log queries > Log stream selector"
        (r#"{app="mysql",name="mysql-backup"}"#, log(vec![eq("app", "mysql"), eq("name", "mysql-backup")], vec![])),
        (r#"{name=~"mysql.+"}"#, log(vec![m("name", Re, "mysql.+")], vec![])),
        (r#"{name!~"mysql.+", app="x"}"#, log(vec![m("name", Nre, "mysql.+"), eq("app", "x")], vec![])),
        (r#"{ app = "a" , env != "prod" }"#, log(vec![eq("app", "a"), m("env", Ne, "prod")], vec![])),
        (r#"{app=~".+", env=""}"#, log(vec![m("app", Re, ".+"), eq("env", "")], vec![])),
        // Loki docs, "Log queries" (backticks avoid escaping), and Go's string escapes
        (r#"{app=`raw\d"`}"#, log(vec![eq("app", "raw\\d\"")], vec![])),
        (r#"{app="a\"b\\c\n\u00e9\x41\101\U0001F600"}"#, log(vec![eq("app", "a\"b\\c\néAA😀")], vec![])),
        // Loki docs, "LogQL reference > Comments"
        ("{app=\"foo\"} # anything that comes after will not be interpreted", log(vec![eq("app", "foo")], vec![])),
        ("{app=\"foo\"}\n    | json\n    # this line will be ignored\n    | bar=\"baz\" # this checks if bar = \"baz\"",
            log(vec![eq("app", "foo")], vec![Stage::Json(vec![]), lf(sm("bar", Eq, "baz"))])),
    ]
}

/// Line filters: substrings, regexps, patterns, IP ranges, and `decolorize`.
#[rustfmt::skip]
fn line_filter_cases() -> Vec<(&'static str, Expr)> {
    use LineOp as L;
    vec![
        // Loki docs, "Log queries > Line filter expression"
        (r#"{job="mysql"} |= "error" != "timeout""#,
            log(vec![eq("job", "mysql")], vec![line(L::Contains, &["error"]), line(L::NotContains, &["timeout"])])),
        (r#"{name="kafka"} |~ "tsdb-ops.*io:2003""#, log(vec![eq("name", "kafka")], vec![line(L::Match, &["tsdb-ops.*io:2003"])])),
        (r#"{name="cassandra"} |~  `error=\w+`"#, log(vec![eq("name", "cassandra")], vec![line(L::Match, &["error=\\w+"])])),
        (r#"{job="a"}|="x"!~"y+"|~"z""#,
            log(vec![eq("job", "a")], vec![line(L::Contains, &["x"]), line(L::NotMatch, &["y+"]), line(L::Match, &["z"])])),
        (r#"{job="a"} |= "foo" or "bar""#, log(vec![eq("job", "a")], vec![line(L::Contains, &["foo", "bar"])])),
        (r#"{job="a"} != "foo" or "bar" or "baz""#, log(vec![eq("job", "a")], vec![line(L::NotContains, &["foo", "bar", "baz"])])),
        // Loki docs, "LogQL reference > Pattern match filter operators"
        (r#"{service_name=`distributor`} |> `<_> caller=http.go:194 level=debug <_>` !> "<_> msg=<_>""#,
            log(vec![eq("service_name", "distributor")],
                vec![line(L::Pattern, &["<_> caller=http.go:194 level=debug <_>"]), line(L::NotPattern, &["<_> msg=<_>"])])),
        // Loki docs, "Matching IP addresses" (line filters)
        (r#"{job_name="myapp"} |= ip("192.168.4.5/16")"#, log(vec![eq("job_name", "myapp")], vec![line(L::Ip, &["192.168.4.5/16"])])),
        (r#"{job_name="myapp"} != ip("192.168.4.5-192.168.4.20") or ip("::1")"#,
            log(vec![eq("job_name", "myapp")], vec![line(L::NotIp, &["192.168.4.5-192.168.4.20", "::1"])])),
        // Loki docs, "Log queries > Removing color codes"
        (r#"{job="example"} | decolorize"#, log(vec![eq("job", "example")], vec![Stage::Decolorize])),
    ]
}

/// Label filters: strings, numbers, durations, bytes, IP ranges, `and`/`or` and their
/// precedence, and labels named like keywords.
#[rustfmt::skip]
fn label_filter_cases() -> Vec<(&'static str, Expr)> {
    use CmpOp as C;
    use LineOp as L;
    use MatchOp::{Eq, Ne, Nre, Re};
    let ab = || vec![eq("a", "b")];
    vec![
        // Loki docs, "Log queries > Label filter expression"
        (r#"{container="query-frontend",namespace="loki-dev"} |= "metrics.go" | logfmt | duration > 10s and throughput_mb < 500"#,
            log(vec![eq("container", "query-frontend"), eq("namespace", "loki-dev")], vec![
                line(L::Contains, &["metrics.go"]),
                logfmt(false, false, &[]),
                lf(and(dur("duration", C::Gt, 10.0), num("throughput_mb", C::Lt, 500.0))),
            ])),
        (r#"{a="b"} | duration >= 20ms or size == 20KB and method!~"2..""#,
            log(ab(), vec![lf(or(dur("duration", C::Ge, 0.02), and(bytes("size", C::Eq, 20000.0), sm("method", Nre, "2.."))))])),
        (r#"{a="b"} | duration >= 20ms or size == 20KB , method!~"2..""#,
            log(ab(), vec![lf(or(dur("duration", C::Ge, 0.02), and(bytes("size", C::Eq, 20000.0), sm("method", Nre, "2.."))))])),
        (r#"{a="b"} | duration >= 20ms or size == 20KB  method!~"2..""#,
            log(ab(), vec![lf(or(dur("duration", C::Ge, 0.02), and(bytes("size", C::Eq, 20000.0), sm("method", Nre, "2.."))))])),
        (r#"{a="b"} | (duration >= 20ms or size == 20KB) and method!~"2..""#,
            log(ab(), vec![lf(and(or(dur("duration", C::Ge, 0.02), bytes("size", C::Eq, 20000.0)), sm("method", Nre, "2..")))])),
        (r#"{a="b"} | duration >= 20ms or size == 20KB | method!~"2..""#,
            log(ab(), vec![lf(or(dur("duration", C::Ge, 0.02), bytes("size", C::Eq, 20000.0))), lf(sm("method", Nre, "2.."))])),
        (r#"{a="b"} | status = 200 | status == 201 | code != -1.5 | x >= +3 | y <= 1e3 | z < .5"#,
            log(ab(), vec![
                lf(num("status", C::Eq, 200.0)), lf(num("status", C::Eq, 201.0)), lf(num("code", C::Ne, -1.5)),
                lf(num("x", C::Ge, 3.0)), lf(num("y", C::Le, 1000.0)), lf(num("z", C::Lt, 0.5)),
            ])),
        (r#"{a="b"} | latency <= 1h30m | t > 1.5s | u < 250us | v != 2d | w == -100ms"#,
            log(ab(), vec![
                lf(dur("latency", C::Le, 5400.0)), lf(dur("t", C::Gt, 1.5)), lf(dur("u", C::Lt, 0.00025)),
                lf(dur("v", C::Ne, 172_800.0)), lf(dur("w", C::Eq, -0.1)),
            ])),
        (r#"{a="b"} | size > 1.5MiB | s2 >= 10kB | s3 < 1Ki | s4 = 20B"#,
            log(ab(), vec![
                lf(bytes("size", C::Gt, 1_572_864.0)), lf(bytes("s2", C::Ge, 10_000.0)),
                lf(bytes("s3", C::Lt, 1024.0)), lf(bytes("s4", C::Eq, 20.0)),
            ])),
        (r#"{a="b"} | level="error" | __error__ = "" | app=~"x|y" | env!="dev""#,
            log(ab(), vec![lf(sm("level", Eq, "error")), lf(sm("__error__", Eq, "")), lf(sm("app", Re, "x|y")), lf(sm("env", Ne, "dev"))])),
        // Loki docs, "Matching IP addresses" (label filters)
        ("{job_name=\"myapp\"}\n\t\t| logfmt\n\t\t| addr = ip(\"192.168.4.0/24\") or addr = ip(\"10.10.15.0/24\")\n\t\t| addr != ip(\"192.168.4.2\")",
            log(vec![eq("job_name", "myapp")], vec![
                logfmt(false, false, &[]),
                lf(or(ip("addr", false, "192.168.4.0/24"), ip("addr", false, "10.10.15.0/24"))),
                lf(ip("addr", true, "192.168.4.2")),
            ])),
        // Strata: keywords are recognised by position, so labels may be named like them.
        (r#"{a="b"} | json | json="x" and by > 1 or (offset < 2)"#,
            log(ab(), vec![Stage::Json(vec![]), lf(or(and(sm("json", Eq, "x"), num("by", C::Gt, 1.0)), num("offset", C::Lt, 2.0)))])),
    ]
}

/// Parser and formatting stages: `json`, `logfmt`, `pattern`, `regexp`, `unpack`,
/// `line_format`, `label_format`, `drop` and `keep`.
#[rustfmt::skip]
fn parser_stage_cases() -> Vec<(&'static str, Expr)> {
    use LineOp as L;
    use MatchOp::{Ne, Re};
    let ab = || vec![eq("a", "b")];
    vec![
        // Loki docs, "Log queries > Parser expression > JSON"
        (r#"{a="b"} | json"#, log(ab(), vec![Stage::Json(vec![])])),
        (r#"{a="b"} | json != "x" | (json != "y") | unpack !~ "z""#,
            log(ab(), vec![Stage::Json(vec![]), line(L::NotContains, &["x"]), lf(sm("json", Ne, "y")), Stage::Unpack, line(L::NotMatch, &["z"])])),
        (r#"{a="b"} | json first_server="servers[0]", ua="request.headers[\"User-Agent\"]""#,
            log(ab(), vec![Stage::Json(params(&[("first_server", "servers[0]"), ("ua", "request.headers[\"User-Agent\"]")]))])),
        (r#"{a="b"} | json server_list="servers", headers"#,
            log(ab(), vec![Stage::Json(params(&[("server_list", "servers"), ("headers", "headers")]))])),
        // Loki docs, "Log queries > Parser expression > logfmt"
        (r#"{a="b"} | logfmt --strict --keep-empty"#, log(ab(), vec![logfmt(true, true, &[])])),
        (r#"{a="b"} | logfmt --keep-empty host, status_code="status""#,
            log(ab(), vec![logfmt(false, true, &[("host", "host"), ("status_code", "status")])])),
        // Loki docs, "Log queries > Parser expression > Pattern"
        (r#"{a="b"} | pattern "<ip> - - <_> \"<method> <uri> <_>\" <status> <size> <_> \"<agent>\" <_>""#,
            log(ab(), vec![Stage::Pattern(r#"<ip> - - <_> "<method> <uri> <_>" <status> <size> <_> "<agent>" <_>"#.into())])),
        // Loki docs, "Log queries > Parser expression > Regular expression"
        (r#"{a="b"} | regexp "(?P<method>\\w+) (?P<path>[\\w|/]+) \\((?P<status>\\d+?)\\) (?P<duration>.*)""#,
            log(ab(), vec![Stage::Regexp(r"(?P<method>\w+) (?P<path>[\w|/]+) \((?P<status>\d+?)\) (?P<duration>.*)".into())])),
        // Loki docs, "Log queries > Parser expression > unpack"
        (r#"{a="b"} | unpack"#, log(ab(), vec![Stage::Unpack])),
        // Loki docs, "Log queries > Line format expression"
        (r#"{a="b"} | line_format "{{.query}} {{.duration}}""#, log(ab(), vec![Stage::LineFormat("{{.query}} {{.duration}}".into())])),
        (r#"{a="b"} | line_format `{{ .msg | ToUpper }}`"#, log(ab(), vec![Stage::LineFormat("{{ .msg | ToUpper }}".into())])),
        // Loki docs, "Log queries > Labels format expression"
        (r#"{a="b"} | label_format foo=bar, dst="{{.status}} {{.query}}""#,
            log(ab(), vec![Stage::LabelFormat(vec![
                LabelFormat { dst: "foo".into(), src: LabelFormatSrc::Rename("bar".into()) },
                LabelFormat { dst: "dst".into(), src: LabelFormatSrc::Template("{{.status}} {{.query}}".into()) },
            ])])),
        // Loki docs, "Log queries > Drop Labels expression" and "Keep Labels expression"
        (r#"{job="varlogs"}|json|drop level, method="GET", app=~"l.*""#,
            log(vec![eq("job", "varlogs")], vec![Stage::Json(vec![]), Stage::Drop(vec![
                NameOrMatcher::Name("level".into()),
                NameOrMatcher::Matcher(eq("method", "GET")),
                NameOrMatcher::Matcher(m("app", Re, "l.*")),
            ])])),
        (r#"{job="varlogs"} | keep level, method!="GET""#,
            log(vec![eq("job", "varlogs")],
                vec![Stage::Keep(vec![NameOrMatcher::Name("level".into()), NameOrMatcher::Matcher(m("method", Ne, "GET"))])])),
    ]
}

/// Log range aggregations: plain, with `offset`, and unwrapped (with their conversions,
/// post-filters and grouping).
#[rustfmt::skip]
fn range_cases() -> Vec<(&'static str, Expr)> {
    use CmpOp as C;
    use LineOp as L;
    use RangeOp as R;
    use MatchOp::Eq;
    let ab = || vec![eq("a", "b")];
    vec![
        // Loki docs, "Metric queries > Log range aggregations"
        (r#"count_over_time({job="mysql"}[5m])"#, metric(range(ra(R::CountOverTime, lq(vec![eq("job", "mysql")], vec![]), 5 * MIN)))),
        (r#"sum by (host) (rate({job="mysql"} |= "error" != "timeout" | json | duration > 10s [1m]))"#,
            metric(vagg(VectorOp::Sum, by(&["host"]), range(ra(R::Rate, lq(vec![eq("job", "mysql")], vec![
                line(L::Contains, &["error"]),
                line(L::NotContains, &["timeout"]),
                Stage::Json(vec![]),
                lf(dur("duration", C::Gt, 10.0)),
            ]), MIN))))),
        (r#"bytes_over_time({a="b"}[1d])"#, metric(range(ra(R::BytesOverTime, lq(ab(), vec![]), 24 * HOUR)))),
        (r#"bytes_rate({a="b"}[1h30m])"#, metric(range(ra(R::BytesRate, lq(ab(), vec![]), 90 * MIN)))),
        (r#"absent_over_time({a="b"}[1w])"#, metric(range(ra(R::AbsentOverTime, lq(ab(), vec![]), 7 * 24 * HOUR)))),
        (r#"count_over_time({a="b"}[5m] | json)"#, metric(range(ra(R::CountOverTime, lq(ab(), vec![Stage::Json(vec![])]), 5 * MIN)))),
        (r#"count_over_time(({a="b"} |= "x")[250ms])"#,
            metric(range(ra(R::CountOverTime, lq(ab(), vec![line(L::Contains, &["x"])]), 250)))),
        // Loki docs, "Metric queries > Log range aggregations > Offset modifier"
        (r#"count_over_time({job="mysql"}[5m] offset 5m)"#,
            metric(range(RangeAgg { offset_ms: 5 * MIN, ..ra(R::CountOverTime, lq(vec![eq("job", "mysql")], vec![]), 5 * MIN) }))),
        (r#"rate({a="b"}[1y] offset -1h30m)"#,
            metric(range(RangeAgg { offset_ms: -90 * MIN, ..ra(R::Rate, lq(ab(), vec![]), 365 * 24 * HOUR) }))),
        (r#"rate({a="b"} | json [5m] offset 1.5h)"#,
            metric(range(RangeAgg { offset_ms: 90 * MIN, ..ra(R::Rate, lq(ab(), vec![Stage::Json(vec![])]), 5 * MIN) }))),
        // Loki docs, "Metric queries > Unwrapped range aggregations"
        ("quantile_over_time(0.99,\n  {cluster=\"ops-tools1\",container=\"ingress-nginx\"}\n    | json\n    | __error__ = \"\"\n    | unwrap request_time [1m]) by (path)",
            metric(range(RangeAgg {
                unwrap: uw("request_time", UnwrapConv::None, vec![]),
                param: Some(0.99),
                grouping: by(&["path"]),
                ..ra(R::QuantileOverTime, lq(vec![eq("cluster", "ops-tools1"), eq("container", "ingress-nginx")],
                    vec![Stage::Json(vec![]), lf(sm("__error__", Eq, ""))]), MIN)
            }))),
        (r#"sum by (org_id) (sum_over_time({cluster="ops-tools1",container="loki-dev"} |= "metrics.go" | logfmt | unwrap bytes_processed [1m]))"#,
            metric(vagg(VectorOp::Sum, by(&["org_id"]), range(RangeAgg {
                unwrap: uw("bytes_processed", UnwrapConv::None, vec![]),
                ..ra(R::SumOverTime, lq(vec![eq("cluster", "ops-tools1"), eq("container", "loki-dev")],
                    vec![line(L::Contains, &["metrics.go"]), logfmt(false, false, &[])]), MIN)
            })))),
        // Loki docs, "LogQL reference > Pipeline Errors"
        ("quantile_over_time(\n\t0.99,\n\t{container=\"ingress-nginx\",service=\"hosted-grafana\"}\n\t| json\n\t| unwrap response_latency_seconds\n\t| __error__=\"\"[1m]\n\t) by (cluster)",
            metric(range(RangeAgg {
                unwrap: uw("response_latency_seconds", UnwrapConv::None, vec![sm("__error__", Eq, "")]),
                param: Some(0.99),
                grouping: by(&["cluster"]),
                ..ra(R::QuantileOverTime, lq(vec![eq("container", "ingress-nginx"), eq("service", "hosted-grafana")],
                    vec![Stage::Json(vec![])]), MIN)
            }))),
        (r#"avg_over_time({a="b"} | unwrap duration(latency) | __error__="" | latency < 5s [5m]) without (a)"#,
            metric(range(RangeAgg {
                unwrap: uw("latency", UnwrapConv::Duration, vec![sm("__error__", Eq, ""), dur("latency", C::Lt, 5.0)]),
                grouping: grouping(true, &["a"]),
                ..ra(R::AvgOverTime, lq(ab(), vec![]), 5 * MIN)
            }))),
        (r#"max_over_time({a="b"} | unwrap bytes(size) [5m]) - min_over_time({a="b"} | unwrap duration_seconds(t) [5m])"#,
            metric(bin(BinOp::Sub,
                range(RangeAgg { unwrap: uw("size", UnwrapConv::Bytes, vec![]), ..ra(R::MaxOverTime, lq(ab(), vec![]), 5 * MIN) }),
                range(RangeAgg { unwrap: uw("t", UnwrapConv::DurationSeconds, vec![]), ..ra(R::MinOverTime, lq(ab(), vec![]), 5 * MIN) })))),
        (r#"rate({a="b"} | unwrap x [5m]) + rate_counter({a="b"}[5m] offset 1m | logfmt | unwrap bytes)"#,
            metric(bin(BinOp::Add,
                range(RangeAgg { unwrap: uw("x", UnwrapConv::None, vec![]), ..ra(R::Rate, lq(ab(), vec![]), 5 * MIN) }),
                range(RangeAgg {
                    unwrap: uw("bytes", UnwrapConv::None, vec![]),
                    offset_ms: MIN,
                    ..ra(R::RateCounter, lq(ab(), vec![logfmt(false, false, &[])]), 5 * MIN)
                })))),
        (r#"stddev_over_time({a="b"} | unwrap x [1m]) / stdvar_over_time({a="b"} | unwrap x [1m]) by (a)"#,
            metric(bin(BinOp::Div,
                range(RangeAgg { unwrap: uw("x", UnwrapConv::None, vec![]), ..ra(R::StddevOverTime, lq(ab(), vec![]), MIN) }),
                range(RangeAgg {
                    unwrap: uw("x", UnwrapConv::None, vec![]),
                    grouping: by(&["a"]),
                    ..ra(R::StdvarOverTime, lq(ab(), vec![]), MIN)
                })))),
        (r#"first_over_time({a="b"}[1m] | unwrap x) < last_over_time({a="b"} | unwrap x [1m]) by ()"#,
            metric(bin(BinOp::Lt,
                range(RangeAgg { unwrap: uw("x", UnwrapConv::None, vec![]), ..ra(R::FirstOverTime, lq(ab(), vec![]), MIN) }),
                range(RangeAgg {
                    unwrap: uw("x", UnwrapConv::None, vec![]),
                    grouping: by(&[]),
                    ..ra(R::LastOverTime, lq(ab(), vec![]), MIN)
                })))),
    ]
}

/// Vector aggregations (`sum`, `topk`, ...) with their grouping and parameter.
#[rustfmt::skip]
fn aggregation_cases() -> Vec<(&'static str, Expr)> {
    use LineOp as L;
    use RangeOp as R;
    let ab = || vec![eq("a", "b")];
    vec![
        // Loki docs, "Metric queries > Built-in aggregation operators"
        (r#"topk(10,sum(rate({region="us-east1"}[5m])) by (name))"#,
            metric(MetricExpr::Vector {
                op: VectorOp::Topk,
                param: Some(10.0),
                grouping: None,
                expr: Box::new(vagg(VectorOp::Sum, by(&["name"]), range(ra(R::Rate, lq(vec![eq("region", "us-east1")], vec![]), 5 * MIN)))),
            })),
        (r#"avg(rate(({job="nginx"} |= "GET")[10s])) by (region)"#,
            metric(vagg(VectorOp::Avg, by(&["region"]),
                range(ra(R::Rate, lq(vec![eq("job", "nginx")], vec![line(L::Contains, &["GET"])]), 10 * SEC))))),
        (r#"sum(count_over_time({job="mysql"}[5m])) by (level)"#,
            metric(vagg(VectorOp::Sum, by(&["level"]), range(ra(R::CountOverTime, lq(vec![eq("job", "mysql")], vec![]), 5 * MIN))))),
        (r#"bottomk by (a) (3, count(stddev(stdvar(min(max(sort(sort_desc(count_over_time({s="x"}[1m])))))))))"#,
            metric(MetricExpr::Vector {
                op: VectorOp::Bottomk,
                param: Some(3.0),
                grouping: by(&["a"]),
                expr: Box::new(vagg(VectorOp::Count, None, vagg(VectorOp::Stddev, None, vagg(VectorOp::Stdvar, None,
                    vagg(VectorOp::Min, None, vagg(VectorOp::Max, None,
                        vagg(VectorOp::Sort, None, vagg(VectorOp::SortDesc, None, cot("x"))))))))),
            })),
        (r#"SUM BY (a) (RATE({a="b"}[5m]))"#, metric(vagg(VectorOp::Sum, by(&["a"]), range(ra(R::Rate, lq(ab(), vec![]), 5 * MIN))))),
    ]
}

/// Binary operators (precedence, `bool`, `on`/`ignoring`, `group_left`/`group_right`)
/// and `label_replace`.
#[rustfmt::skip]
fn binary_cases() -> Vec<(&'static str, Expr)> {
    use LineOp as L;
    use RangeOp as R;
    vec![
        // Loki docs, "LogQL reference > Binary operators > Arithmetic operators" and "Order of operations"
        ("1 + 1", metric(bin(BinOp::Add, n(1.0), n(1.0)))),
        ("vector(1)+vector(1)", metric(bin(BinOp::Add, MetricExpr::VectorLit(1.0), MetricExpr::VectorLit(1.0)))),
        ("1 + 2 / 3", metric(bin(BinOp::Add, n(1.0), bin(BinOp::Div, n(2.0), n(3.0))))),
        ("2 * 3 % 2", metric(bin(BinOp::Mod, bin(BinOp::Mul, n(2.0), n(3.0)), n(2.0)))),
        ("2 ^ 3 ^ 2 * -1", metric(bin(BinOp::Mul, bin(BinOp::Pow, n(2.0), bin(BinOp::Pow, n(3.0), n(2.0))), n(-1.0)))),
        ("(1 + 2) * 3", metric(bin(BinOp::Mul, bin(BinOp::Add, n(1.0), n(2.0)), n(3.0)))),
        ("10 - (2 - 3) - - 1", metric(bin(BinOp::Sub, bin(BinOp::Sub, n(10.0), bin(BinOp::Sub, n(2.0), n(3.0))), n(-1.0)))),
        ("-1 ^ 2", metric(bin(BinOp::Pow, n(-1.0), n(2.0)))),
        ("0.5", metric(n(0.5))),
        (r#"sum(count_over_time({s="x"}[1m])) * 2"#, metric(bin(BinOp::Mul, vagg(VectorOp::Sum, None, cot("x")), n(2.0)))),
        // Loki docs, "LogQL reference > Binary operators > Logical and set operators"
        (r#"count_over_time({s="x"}[1m]) and count_over_time({s="y"}[1m]) or count_over_time({s="z"}[1m]) unless vector(0)"#,
            metric(bin(BinOp::Or, bin(BinOp::And, cot("x"), cot("y")), bin(BinOp::Unless, cot("z"), MetricExpr::VectorLit(0.0))))),
        // Loki docs, "LogQL reference > Binary operators > Comparison operators"
        (r#"count_over_time({s="x"}[1m]) > 10"#, metric(bin(BinOp::Gt, cot("x"), n(10.0)))),
        (r#"count_over_time({s="x"}[1m]) > bool 10"#,
            metric(MetricExpr::Binary { op: BinOp::Gt, lhs: Box::new(cot("x")), rhs: Box::new(n(10.0)), return_bool: true, matching: None })),
        (r#"count_over_time({s="x"}[1m]) == 1 != 2 >= 3 <= 4 < 5"#,
            metric(bin(BinOp::Lt, bin(BinOp::Le, bin(BinOp::Ge, bin(BinOp::Ne, bin(BinOp::Eq, cot("x"), n(1.0)), n(2.0)), n(3.0)), n(4.0)), n(5.0)))),
        (r#"sum without(app) (count_over_time({s="x"}[1m])) > sum without(app) (count_over_time({s="y"}[1m]))"#,
            metric(bin(BinOp::Gt, vagg(VectorOp::Sum, grouping(true, &["app"]), cot("x")), vagg(VectorOp::Sum, grouping(true, &["app"]), cot("y"))))),
        // Loki docs, "LogQL reference > Binary operators > Keywords on and ignoring"
        (r#"max by(machine) (count_over_time({s="x"}[1m])) > bool ignoring(machine) avg(count_over_time({s="x"}[1m]))"#,
            metric(MetricExpr::Binary {
                op: BinOp::Gt,
                lhs: Box::new(vagg(VectorOp::Max, by(&["machine"]), cot("x"))),
                rhs: Box::new(vagg(VectorOp::Avg, None, cot("x"))),
                return_bool: true,
                matching: Some(VectorMatching { on: false, labels: vec!["machine".into()], card: Card::OneToOne, include: vec![] }),
            })),
        // Loki docs, "LogQL reference > Binary operators > Many-to-one and one-to-many vector matches"
        ("sum by (app, status) (\n  rate(\n    {s=\"x\"}\n      | json\n      [5m]\n  )\n)\n/ on (app) group_left\nsum by (app) (count_over_time({s=\"x\"}[1m]))",
            metric(MetricExpr::Binary {
                op: BinOp::Div,
                lhs: Box::new(vagg(VectorOp::Sum, by(&["app", "status"]), range(ra(R::Rate, lq(vec![eq("s", "x")], vec![Stage::Json(vec![])]), 5 * MIN)))),
                rhs: Box::new(vagg(VectorOp::Sum, by(&["app"]), cot("x"))),
                return_bool: false,
                matching: Some(VectorMatching { on: true, labels: vec!["app".into()], card: Card::ManyToOne, include: vec![] }),
            })),
        (r#"count_over_time({s="x"}[1m]) * ignoring(a, b) group_right(c) count_over_time({s="y"}[1m])"#,
            metric(MetricExpr::Binary {
                op: BinOp::Mul,
                lhs: Box::new(cot("x")),
                rhs: Box::new(cot("y")),
                return_bool: false,
                matching: Some(VectorMatching { on: false, labels: vec!["a".into(), "b".into()], card: Card::OneToMany, include: vec!["c".into()] }),
            })),
        // Loki docs, "LogQL reference > Functions > label_replace()"
        ("label_replace(rate({job=\"api-server\",service=\"a:c\"} |= \"err\" [1m]), \"foo\", \"$1\",\n  \"service\", \"(.*):.*\")",
            metric(MetricExpr::LabelReplace {
                expr: Box::new(range(ra(R::Rate, lq(vec![eq("job", "api-server"), eq("service", "a:c")], vec![line(L::Contains, &["err"])]), MIN))),
                dst: "foo".into(),
                replacement: "$1".into(),
                src: "service".into(),
                regex: "(.*):.*".into(),
            })),
    ]
}

/// Loki's grammar beyond the documentation's examples: a parenthesized log query, `or
/// vector(0)` as Grafana writes it, and a pipeline of every stage kind.
#[rustfmt::skip]
fn grammar_cases() -> Vec<(&'static str, Expr)> {
    use LineOp as L;
    let ab = || vec![eq("a", "b")];
    vec![
        // Loki's grammar (syntax.y): a parenthesized log query; `or vector(0)` as Grafana writes it.
        (r#"({a="b"} |= "x")"#, log(ab(), vec![line(L::Contains, &["x"])])),
        (r#"sum(count_over_time({s="x"}[1m])) or vector(0)"#,
            metric(bin(BinOp::Or, vagg(VectorOp::Sum, None, cot("x")), MetricExpr::VectorLit(0.0)))),
        (r#"{a="b"} |= "x" | logfmt | line_format "{{.msg}}" | label_format x=y | drop a | keep b | decolorize"#,
            log(ab(), vec![
                line(L::Contains, &["x"]),
                logfmt(false, false, &[]),
                Stage::LineFormat("{{.msg}}".into()),
                Stage::LabelFormat(vec![LabelFormat { dst: "x".into(), src: LabelFormatSrc::Rename("y".into()) }]),
                Stage::Drop(vec![NameOrMatcher::Name("a".into())]),
                Stage::Keep(vec![NameOrMatcher::Name("b".into())]),
                Stage::Decolorize,
            ])),
    ]
}

#[test]
fn table_parses_to_expected_tree() {
    let cases = cases();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    for (query, expected) in &cases {
        match parse(query) {
            Ok(got) => assert_eq!(&got, expected, "query: {query}"),
            Err(e) => panic!("query: {query}\nerror: {e}"),
        }
    }
}

#[test]
fn table_round_trips_through_display() {
    for (query, expected) in cases() {
        let printed = expected.to_string();
        let again = parse(&printed)
            .unwrap_or_else(|e| panic!("query: {query}\nprinted: {printed}\nerror: {e}"));
        assert_eq!(again, expected, "query: {query}\nprinted: {printed}");
        assert_eq!(
            again.to_string(),
            printed,
            "printing is not stable for {query}"
        );
    }
}

#[test]
fn display_is_canonical() {
    let cases = [
        (
            r#"sum(rate({a="b"}[5m])) by (a)"#,
            r#"sum by (a) (rate({a="b"} [5m]))"#,
        ),
        (
            r#"{a="b"}|~`\d`|json x,y="z.w""#,
            r#"{a="b"} |~ "\\d" | json x, y="z.w""#,
        ),
        (r#"10 - (2 - 3)"#, "10 - (2 - 3)"),
        (r#"(2 ^ 3) ^ 2"#, "(2 ^ 3) ^ 2"),
        (
            r#"{a="b"} | x > 90s | y < 3000B | z == 1.5"#,
            r#"{a="b"} | x > 1m30s | y < 3KB | z == 1.5"#,
        ),
        (r#"{a="b"} | x > 1024B"#, r#"{a="b"} | x > 1KiB"#),
        (
            r#"{a="b"} | x > 9223372036854775807ns | y < -9223372036854775807ns"#,
            r#"{a="b"} | x > 2562047h47m16s854ms775us807ns | y < -2562047h47m16s854ms775us807ns"#,
        ),
        (
            r#"count_over_time({a="b"}[90m] offset 1d)"#,
            r#"count_over_time({a="b"} [1h30m] offset 24h)"#,
        ),
        (
            r#"{a="b"} | (x="1" and y="2") and (z="3" or w="4")"#,
            r#"{a="b"} | x="1" and y="2" and (z="3" or w="4")"#,
        ),
        (
            r#"{a="b"} | x="1" and (y="2" and z="3")"#,
            r#"{a="b"} | x="1" and (y="2" and z="3")"#,
        ),
        ("{a=\"\\u0007\t\"}", r#"{a="\u0007\t"}"#),
        (
            "vector(1) * on() group_left vector(1) / on(a) group_left() (vector(1) + vector(2))",
            "vector(1) * on() group_left vector(1) / on(a) group_left() (vector(1) + vector(2))",
        ),
        (
            "vector(1) + on() group_left() (vector(1) + vector(2)) * vector(3)",
            "vector(1) + on() group_left() (vector(1) + vector(2)) * vector(3)",
        ),
    ];
    for (query, printed) in cases {
        let e = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        assert_eq!(e.to_string(), printed, "query: {query}");
    }
}
