//! The label-string parser, the label checks and the mapping of entries onto records.

use super::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn label_strings_parse_as_prometheus_writes_them() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (r#"{a="b"}"#, &[("a", "b")]),
        (r#"{a="b", c="d"}"#, &[("a", "b"), ("c", "d")]),
        (r#"  { a = "b" ,c="d", }  "#, &[("a", "b"), ("c", "d")]),
        ("{}", &[]),
        ("{_x9=\"\"}", &[("_x9", "")]),
        // Go escapes in double quotes.
        (
            r#"{a="q\"b\\s\n\t\a\b\f\r\v"}"#,
            &[("a", "q\"b\\s\n\t\u{7}\u{8}\u{c}\r\u{b}")],
        ),
        (r#"{a="\x41\101\u00e9\U0001F600"}"#, &[("a", "AAé😀")]),
        (r#"{a="\xc3\xa9"}"#, &[("a", "é")]),
        // Single quotes escape their own quote; backquotes are raw.
        (r#"{a='it\'s "x"'}"#, &[("a", "it's \"x\"")]),
        ("{a=`raw \\n \"x\"`}", &[("a", "raw \\n \"x\"")]),
        ("{a=\"é ✓\"}", &[("a", "é ✓")]),
    ];
    for (text, want) in cases {
        assert_eq!(parse(text).as_deref(), Ok(&pairs(want)[..]), "{text}");
    }
}

#[test]
fn label_string_errors_say_where() {
    let cases = [
        (
            "",
            "1:1: parse error: unexpected end of input, expected \"{\"",
        ),
        ("foo", "1:1: parse error: unexpected 'f', expected \"{\""),
        (
            "{foo=}",
            "1:6: parse error: unexpected '}', expected a quoted label value",
        ),
        (
            "{foo}",
            "1:5: parse error: unexpected '}', expected \"=\" (a stream's labels are name=\"value\" pairs)",
        ),
        (
            r#"{foo!="x"}"#,
            "1:5: parse error: unexpected '!', expected \"=\" (a stream's labels are name=\"value\" pairs)",
        ),
        (
            r#"{9a="x"}"#,
            "1:2: parse error: unexpected '9', expected a label name",
        ),
        (
            r#"{a.b="x"}"#,
            "1:3: parse error: unexpected '.', expected \"=\" (a stream's labels are name=\"value\" pairs)",
        ),
        (
            r#"{a="x" b="y"}"#,
            "1:8: parse error: unexpected 'b', expected \",\" or \"}\"",
        ),
        (
            r#"{a="x"} z"#,
            "1:9: parse error: unexpected 'z', expected the end after \"}\"",
        ),
        (r#"{a="x"#, "1:4: parse error: unterminated quoted string"),
        (
            "{a=\"x\ny\"}",
            "1:4: parse error: unterminated quoted string",
        ),
        ("{a=`x}", "1:4: parse error: unterminated quoted string"),
        (
            r#"{a="\q"}"#,
            "1:5: parse error: invalid escape sequence in quoted string",
        ),
        (
            r#"{a="\x4"}"#,
            "1:5: parse error: invalid escape sequence in quoted string",
        ),
        (
            r#"{a="\777"}"#,
            "1:5: parse error: invalid escape sequence in quoted string",
        ),
        (
            r#"{a="\xff"}"#,
            "1:4: parse error: invalid UTF-8 in quoted string",
        ),
        (
            "{a=\"x\",\n b=}",
            "2:4: parse error: unexpected '}', expected a quoted label value",
        ),
        (
            r#"{a="x",,}"#,
            "1:8: parse error: unexpected ',', expected a label name",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse(text), Err(want.to_owned()), "{text}");
    }
}

#[test]
fn label_sets_are_checked_as_loki_checks_them() {
    let text = |t: &str| SentLabels::Text(t.to_owned());
    assert_eq!(
        label_set(text(r#"{z="1", a="2", e=""}"#)),
        Ok(pairs(&[("a", "2"), ("z", "1")])),
        "sorted, the empty value gone"
    );
    let e = label_set(text("{foo=}")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "error parsing labels '{foo=}' with error: 1:6: parse error: unexpected '}', expected a quoted label value"
    );
    assert_eq!(e.reason(), "invalid_labels");
    for t in ["{}", r#"{a=""}"#] {
        let e = label_set(text(t)).unwrap_err();
        assert_eq!(e, LokiError::MissingLabels, "{t}");
        assert_eq!(
            e.to_string(),
            "error at least one label pair is required per stream"
        );
        assert_eq!(e.reason(), "missing_labels");
    }
    let e = label_set(text(r#"{a="1", b="2", a="3"}"#)).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"stream '{a="1", b="2", a="3"}' has duplicate label name: 'a'"#
    );
    assert_eq!(e.reason(), "duplicate_label_names");
    // JSON labels: names checked here, written as Loki writes them in messages.
    let json = |p: &[(&str, &str)]| SentLabels::Pairs(pairs(p));
    assert_eq!(
        label_set(json(&[("b", "x"), ("a", "y\"")])),
        Ok(pairs(&[("a", "y\""), ("b", "x")]))
    );
    assert_eq!(
        label_set(json(&[("a.b", "x")])).unwrap_err().to_string(),
        r#"error parsing labels '{a.b="x"}' with error: invalid label name "a.b": use [a-zA-Z_][a-zA-Z0-9_]*"#
    );
    assert_eq!(label_set(json(&[])), Err(LokiError::MissingLabels));
    assert!(matches!(
        label_set(json(&[("a", "1"), ("a", "2")])),
        Err(LokiError::DuplicateLabelName { .. })
    ));
}

fn entry(line: &str, metadata: &[(&str, &str)]) -> PushEntry {
    PushEntry {
        time_ns: 1_700_000_000_000_000_123,
        line: line.to_owned(),
        metadata: pairs(metadata),
    }
}

fn one(labels: &str, e: PushEntry) -> LogRecord {
    let set = label_set(SentLabels::Text(labels.to_owned())).expect("valid labels");
    Stream::new(set).record(e, 99, &scope())
}

fn resource(r: &LogRecord) -> Vec<(String, String)> {
    r.resource_attributes
        .iter()
        .map(|(k, v)| (k.clone(), v.to_text()))
        .collect()
}

#[test]
fn an_entry_maps_field_by_field() {
    let r = one(
        r#"{service_name="shop", env="prod"}"#,
        entry("GET /cart 200", &[("trace_id", "0af7"), ("user", "u1")]),
    );
    let s = |v: &str| AnyValue::String(v.to_owned());
    let want = LogRecord {
        time_ns: 1_700_000_000_000_000_123,
        observed_time_ns: 99,
        severity_number: 0,
        severity_text: String::new(),
        body: Some(s("GET /cart 200")),
        service_name: "shop".into(),
        trace_id: None,
        span_id: None,
        flags: 0,
        attributes: vec![("trace_id".into(), s("0af7")), ("user".into(), s("u1"))],
        resource_attributes: Arc::new(vec![
            ("env".into(), s("prod")),
            ("service_name".into(), s("shop")),
        ]),
        scope: Arc::new(Scope {
            name: "loki.push".into(),
            version: String::new(),
            ..Scope::default()
        }),
        dropped_attributes_count: 0,
    };
    assert_eq!(r, want);
}

#[test]
fn service_name_is_discovered_in_lokis_order_and_added_as_a_label() {
    let cases = [
        (r#"{service_name="a", app="b"}"#, "a", false),
        (r#"{app="b", service="s"}"#, "s", true),
        (r#"{job="j", app="b"}"#, "b", true),
        (r#"{container="c", name="n"}"#, "n", true),
        (r#"{job="ns/j", k8s_job_name="k"}"#, "ns/j", true),
        (r#"{app_kubernetes_io_name="k", component="c"}"#, "k", true),
        (r#"{env="prod"}"#, "unknown_service", true),
        // An empty value is no label: discovery goes on.
        (r#"{service_name="", app="b"}"#, "b", true),
    ];
    for (labels, want, added) in cases {
        let r = one(labels, entry("x", &[]));
        assert_eq!(r.service_name, want, "{labels}");
        let attrs = resource(&r);
        assert!(
            attrs.contains(&("service_name".to_owned(), want.to_owned())),
            "{labels}: {attrs:?}"
        );
        let mut sorted = attrs.clone();
        sorted.sort();
        assert_eq!(attrs, sorted, "{labels}: sorted by name");
        let sent = parse(labels).expect("parses");
        let sent_non_empty = sent.iter().filter(|(_, v)| !v.is_empty()).count();
        assert_eq!(attrs.len(), sent_non_empty + usize::from(added), "{labels}");
    }
}

#[test]
fn the_level_comes_from_metadata_then_labels() {
    type Metadata = &'static [(&'static str, &'static str)];
    let cases: [(&str, Metadata, &str, i32); 9] = [
        (r#"{app="a", level="ERROR"}"#, &[], "ERROR", 17),
        (r#"{app="a", severity="warning"}"#, &[], "warning", 13),
        (r#"{app="a", lvl="debug"}"#, &[], "debug", 5),
        (
            r#"{app="a", level="info"}"#,
            &[("level", "warn")],
            "warn",
            13,
        ),
        (r#"{app="a"}"#, &[("detected_level", "trace")], "trace", 1),
        (r#"{app="a"}"#, &[("severity", "critical")], "critical", 21),
        (r#"{app="a"}"#, &[("lvl", "Fatal")], "Fatal", 21),
        (r#"{app="a", level="notice"}"#, &[], "notice", 0),
        (r#"{app="a"}"#, &[("level", "")], "", 0),
    ];
    for (labels, metadata, text, number) in cases {
        let r = one(labels, entry("x", metadata));
        assert_eq!(
            (r.severity_text.as_str(), r.severity_number),
            (text, number),
            "{labels} {metadata:?}"
        );
    }
    assert_eq!(severity_number("INFO"), 9);
    assert_eq!(severity_number("error"), 17);
}
