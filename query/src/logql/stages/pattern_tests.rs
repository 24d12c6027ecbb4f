//! Tests for `pattern`: Loki's pattern fixtures, parse errors and line filters.

use super::*;

// Loki: pkg/logql/log/pattern/pattern_test.go `fixtures` (expr, input,
// expected capture values, Test() result).
const FIXTURES: &[(&str, &str, &[&str], bool)] = &[
    ("foo <foo> bar", "foo buzz bar", &["buzz"], true),
    ("foo <foo> bar<fuzz>", "foo buzz bar", &["buzz", ""], false),
    ("<foo>foo <bar> bar", "foo buzz bar", &["", "buzz"], false),
    ("<foo> bar<fuzz>", " bar", &["", ""], false),
    ("<foo>bar<baz>", " bar ", &[" ", " "], true),
    ("<foo> bar<baz>", " bar ", &["", " "], false),
    ("<foo>bar <baz>", " bar ", &[" ", ""], false),
    ("<foo>", " bar ", &[" bar "], true),
    (
        "<path>?<_>",
        "/api/plugins/versioncheck?slugIn=snuids-trafficlights-panel,input,gel&grafanaVersion=7.0.0-beta1",
        &["/api/plugins/versioncheck"],
        true,
    ),
    (
        "<path>?<_>",
        "/api/plugins/status",
        &["/api/plugins/status"],
        false,
    ),
    (
        r#"<ip> <userid> <user> [<_>] "<method> <path> <_>" <status> <size>"#,
        r#"127.0.0.1 user-identifier frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
        &[
            "127.0.0.1",
            "user-identifier",
            "frank",
            "GET",
            "/apache_pb.gif",
            "200",
            "2326",
        ],
        true,
    ),
    (
        r#"<ip> - - [<_>] "<method> <path> <_>" <status> <size> "#,
        r#"35.191.8.106 - - [19/May/2021:07:21:49 +0000] "GET /api/plugins/versioncheck?slugIn=snuids-trafficlights-panel,input,gel&grafanaVersion=7.0.0-beta1 HTTP/1.1" 200 107 "-" "Go-http-client/2.0" "80.153.74.144, 34.120.177.193" "TLSv1.3" "DE" "DEBW""#,
        &[
            "35.191.8.106",
            "GET",
            "/api/plugins/versioncheck?slugIn=snuids-trafficlights-panel,input,gel&grafanaVersion=7.0.0-beta1",
            "200",
            "107",
        ],
        false,
    ),
    (
        "<_> <id> [<level>] [<no>] [<component>] ",
        "2020-08-06T14:25:02.835618Z 0 [Note] [MY-012487] [InnoDB] DDL log recovery : begin",
        &["0", "Note", "MY-012487", "InnoDB"],
        false,
    ),
    (
        "<level>  [<component>]<_> in <duration>.<_>",
        "INFO  [Service Thread] 2021-05-19 07:40:12,130 GCInspector.java:284 - ParNew GC in 248ms.  CMS Old Gen: 5043436640 -> 5091062064; Par Eden Space: 671088640 -> 0; Par Survivor Space: 70188280 -> 60139760",
        &["INFO", "Service Thread", "248ms"],
        true,
    ),
    (
        r#"<_> msg="<method> <path> (<status>) <duration>""#,
        r#"level=debug ts=2021-05-19T07:54:26.864644382Z caller=logging.go:66 traceID=7fbb92fd0eb9c65d msg="POST /loki/api/v1/push (204) 1.238734ms""#,
        &["POST", "/loki/api/v1/push", "204", "1.238734ms"],
        true,
    ),
    (
        "<_> <_> <level> | <component>: <_> peer <peer_id> <_> tcp <ip>:<_>",
        "2021-05-19 08:16:50.181436 W | rafthttp: health check for peer fd8275e521cfb532 could not connect: dial tcp 10.32.85.85:2380: connect: connection refused",
        &["W", "rafthttp", "fd8275e521cfb532", "10.32.85.85"],
        true,
    ),
    (
        "<_>] <level> [Log partition=<part>, dir=<dir>] ",
        "[2021-05-19 08:35:28,681] INFO [Log partition=p-636-L-fs-117, dir=/data/kafka-logs] Deleting segment 455976081 (kafka.log.Log)",
        &["INFO", "p-636-L-fs-117", "/data/kafka-logs"],
        false,
    ),
    (
        "<_>][<level>][<component>] [<id>] [<index>]",
        "[2021-05-19T06:54:06,994][INFO ][o.e.c.m.MetaDataMappingService] [1f605d47-8454-4bfb-a67f-49f318bf837a] [usage-stats-2021.05.19/O2Je9IbmR8CqFyUvNpTttA] update_mapping [report]",
        &[
            "INFO ",
            "o.e.c.m.MetaDataMappingService",
            "1f605d47-8454-4bfb-a67f-49f318bf837a",
            "usage-stats-2021.05.19/O2Je9IbmR8CqFyUvNpTttA",
        ],
        false,
    ),
    (
        "unicode <emoji> character",
        "unicode 🤷 character",
        &["🤷"],
        true,
    ),
    (
        "unicode ▶ <what>",
        "unicode ▶ character",
        &["character"],
        true,
    ),
];

#[test]
fn loki_fixtures() {
    for &(expr, input, expected, is_match) in FIXTURES {
        let p = Pattern::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(p.is_match(input), is_match, "is_match {expr}");
        let got: Vec<String> = p
            .matches(input)
            .unwrap_or_default()
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(got, expected, "matches {expr}");
        let names: Vec<String> = p
            .matches(input)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(names, p.names()[..expected.len()], "names {expr}");
    }
}

// Loki: parser_test.go Test_PatternParser (names attached to values).
#[test]
fn parser_stage_names() {
    let p = Pattern::parse(r#"<_> msg="<method> <path> (<status>) <duration>""#)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.matches(r#"level=debug ts=2021-05-19T07:54:26.864644382Z caller=logging.go:66 traceID=7fbb92fd0eb9c65d msg="POST /loki/api/v1/push (204) 1.238734ms""#),
        Some(vec![
            ("method".to_string(), "POST".to_string()),
            ("path".to_string(), "/loki/api/v1/push".to_string()),
            ("status".to_string(), "204".to_string()),
            ("duration".to_string(), "1.238734ms".to_string()),
        ])
    );
    // `foo <f>"` on `bar`: leading literal does not match -> nothing.
    let p = Pattern::parse(r#"foo <f>""#).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.matches("bar"), None);
    assert_eq!(p.matches(""), None);
    assert_eq!(p.names(), ["f".to_string()]);
}

// Loki: pattern_test.go Test_Error and parser_test.go Test_Parse.
#[test]
fn compile_errors() {
    assert!(Pattern::parse("<f>").is_ok());
    assert!(Pattern::parse("<f> <a>").is_ok());
    let cases = [
        ("", PatternError::Empty),
        ("<_>", PatternError::NoCapture),
        ("foo <_> bar <_>", PatternError::NoCapture),
        ("foo bar buzz", PatternError::NoCapture),
        ("<f><f>", PatternError::ConsecutiveCaptures("<f><f>".into())),
        (
            "<f> f<d><b>",
            PatternError::ConsecutiveCaptures("<d><b>".into()),
        ),
        ("<f> f<f>", PatternError::DuplicateCapture("f".into())),
        (
            "f<f><_>",
            PatternError::ConsecutiveCaptures("<f><_>".into()),
        ),
        (
            "<f>f<f><_>",
            PatternError::ConsecutiveCaptures("<f><_>".into()),
        ),
        // not captures: literals only
        ("<foo", PatternError::NoCapture),
        ("<>", PatternError::NoCapture),
        ("<1_>", PatternError::NoCapture),
    ];
    for (src, want) in cases {
        assert_eq!(Pattern::parse(src), Err(want), "src {src:?}");
    }
    assert_eq!(
        PatternError::ConsecutiveCaptures("<f><f>".into()).to_string(),
        "found consecutive capture '<f><f>': invalid expression"
    );
    // "<foo ><bar>" is the literal "<foo >" followed by a capture.
    let p = Pattern::parse("<foo ><bar>").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.literals(), ["<foo >"]);
    assert_eq!(p.names(), ["bar".to_string()]);
    let p = Pattern::parse("<foo> bar f <f>").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.literals(), [" bar f "]);
}

// Loki: pattern_test.go Test_ParseLineFilter and drain_test.go
// TestDrain_TrainGeneratesPatternsMatchableByLokiPatternFilter.
#[test]
fn line_filter() {
    assert!(Pattern::parse_line_filter("<_>").is_ok());
    assert!(Pattern::parse_line_filter("").is_ok());
    assert!(Pattern::parse_line_filter("foo <_> bar <_>").is_ok());
    assert_eq!(
        Pattern::parse_line_filter("<foo <foo> bar <_>"),
        Err(PatternError::NamedCaptureNotAllowed("foo".into()))
    );
    assert_eq!(
        Pattern::parse_line_filter("<foo>")
            .map(|_| ())
            .unwrap_err()
            .to_string(),
        "named captures are not allowed: found '<foo>'"
    );
    let empty = Pattern::parse_line_filter("").unwrap_or_else(|e| panic!("{e}"));
    assert!(empty.is_match(""));
    assert!(!empty.is_match("x"));
    let any = Pattern::parse_line_filter("<_>").unwrap_or_else(|e| panic!("{e}"));
    assert!(any.is_match("anything"));
    assert!(!any.is_match(""));
    let p = Pattern::parse_line_filter("<_> bar").unwrap_or_else(|e| panic!("{e}"));
    assert!(!p.is_match("foo bar baz"));
    assert!(Pattern::parse_line_filter("<_> baz").is_ok_and(|p| p.is_match("foo bar baz")));
    assert!(Pattern::parse_line_filter("foo <_>").is_ok_and(|p| p.is_match("foo bar baz")));
    assert!(Pattern::parse_line_filter("<_> bar <_>").is_ok_and(|p| !p.is_match(" bar ")));
    assert!(Pattern::parse_line_filter("<_>bar<_>").is_ok_and(|p| p.is_match(" bar ")));
    let drained =
        Pattern::parse_line_filter("test <_> test test").unwrap_or_else(|e| panic!("{e}"));
    for line in ["test 1 test test", "test 2 test test"] {
        assert!(drained.is_match(line), "{line}");
    }
}
