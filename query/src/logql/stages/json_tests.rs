//! Tests for `json`: Loki's parser_test.go tables for `| json`, `| json a="expr"`,
//! `| unpack` and the jsonexpr grammar, plus adversarial input.

#![allow(clippy::type_complexity)] // table-driven test data

use super::*;

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

// Loki: pkg/logql/log/parser_test.go Test_jsonParser_Parse (stream-label
// collisions are applied by the caller, see names.rs).
#[test]
fn extract_all_loki_table() {
    let cases: [(&str, &str, &[(&str, &str)]); 10] = [
        (
            "multi depth",
            r#"{"app":"foo","namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar"}}}"#,
            &[
                ("app", "foo"),
                ("namespace", "prod"),
                ("pod_uuid", "foo"),
                ("pod_deployment_ref", "foobar"),
            ],
        ),
        (
            "numeric",
            r#"{"counter":1, "price": {"_net_":5.56909}}"#,
            &[("counter", "1"), ("price__net_", "5.56909")],
        ),
        (
            "whitespace key value",
            r#"{" ": {"foo":"bar"}}"#,
            &[("foo", "bar")],
        ),
        // Loki creates a label named "" here; we drop empty names.
        ("whitespace key and subkey", r#"{" ": {" ":"bar"}}"#, &[]),
        (
            "escaped",
            r#"{"counter":1,"foo":"foo\\\"bar", "price": {"_net_":5.56909}}"#,
            &[
                ("counter", "1"),
                ("foo", r#"foo\"bar"#),
                ("price__net_", "5.56909"),
            ],
        ),
        (
            "utf8 error rune",
            "{\"counter\":1,\"foo\":\"\u{FFFD}\", \"price\": {\"_net_\":5.56909}}",
            &[("counter", "1"), ("foo", " "), ("price__net_", "5.56909")],
        ),
        (
            "skip arrays",
            r#"{"counter":1, "price": {"net_":["10","20"]}}"#,
            &[("counter", "1")],
        ),
        (
            "bad key replaced",
            r#"{"cou-nter":1}"#,
            &[("cou_nter", "1")],
        ),
        (
            "nested bad key replaced",
            r#"{"foo":{"cou-nter":1}}""#,
            &[("foo_cou_nter", "1")],
        ),
        (
            "duplicate extraction",
            r#"{"app":"foo","namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar"}},"next":{"err":false}}"#,
            &[
                ("app", "foo"),
                ("namespace", "prod"),
                ("pod_uuid", "foo"),
                ("pod_deployment_ref", "foobar"),
                ("next_err", "false"),
            ],
        ),
    ];
    for (name, line, want) in cases {
        assert_eq!(
            extract_all(line).map(sorted),
            Ok(sorted(pairs(want))),
            "case {name}"
        );
    }
}

#[test]
fn extract_all_details() {
    // null is not extracted, booleans and escapes, unicode keys, first wins
    assert_eq!(
        extract_all(r#"{"a":null,"b":true,"c":"x\u00e9\n","é":1,"a b":2,"c":"dup","1x":3}"#),
        Ok(pairs(&[
            ("b", "true"),
            ("c", "xé\n"),
            ("_", "1"),
            ("a_b", "2"),
            ("_1x", "3")
        ]))
    );
    // invalid escape in a value gives an empty value (Loki unescapeJSONString)
    assert_eq!(extract_all(r#"{"a":"bad \q"}"#), Ok(pairs(&[("a", "")])));
    // escaped keys are unescaped before sanitizing
    assert_eq!(extract_all(r#"{"\u0041b":1}"#), Ok(pairs(&[("Ab", "1")])));
    // trailing comma tolerated like jsonparser; leading whitespace ok
    assert_eq!(extract_all(" \n{\"a\":1,}"), Ok(pairs(&[("a", "1")])));
    // numbers keep their text
    assert_eq!(
        extract_all(r#"{"n":-1.5e3,"m":0.10}"#),
        Ok(pairs(&[("n", "-1.5e3"), ("m", "0.10")]))
    );
}

// Loki: Test_jsonParser_Parse "errors" -> __error__=JSONParserErr with details.
#[test]
fn extract_all_errors() {
    let cases: [(&str, JsonError); 9] = [
        ("{n}", JsonError::MalformedObject),
        ("", JsonError::MalformedObject),
        ("not json", JsonError::MalformedObject),
        ("[1,2]", JsonError::MalformedObject),
        (r#"{"a":"unterminated}"#, JsonError::MalformedString),
        (r#"{"a" 1}"#, JsonError::Malformed),
        (r#"{"a":tru}"#, JsonError::UnknownValueType),
        (r#"{"a":{"b":1}"#, JsonError::MalformedArray), // jsonparser reports this one as an array error
        (r#"{"a":[1,2}"#, JsonError::MalformedArray),
    ];
    for (line, want) in cases {
        assert_eq!(extract_all(line), Err(want), "line {line:?}");
    }
    assert_eq!(
        JsonError::MalformedObject.to_string(),
        "Value looks like object, but can't find closing '}' symbol"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let depth = 100_000;
    let mut line = String::new();
    for _ in 0..depth {
        line.push_str("{\"a\":");
    }
    line.push('1');
    line.push_str(&"}".repeat(depth));
    assert_eq!(extract_all(&line), Err(JsonError::TooDeep(MAX_DEPTH)));
    // Deep arrays are skipped iteratively.
    let arrays = format!(
        "{{\"a\":{}{}, \"b\":1}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    assert_eq!(extract_all(&arrays), Ok(pairs(&[("b", "1")])));
    // Exactly at the limit works.
    let mut ok = String::new();
    for _ in 0..MAX_DEPTH {
        ok.push_str("{\"a\":");
    }
    ok.push('1');
    ok.push_str(&"}".repeat(MAX_DEPTH));
    let got = extract_all(&ok).unwrap_or_default();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, vec!["a"; MAX_DEPTH].join("_"));
    // Paths through deep input are resolved without recursion.
    assert_eq!(
        extract_paths(&line, &pairs(&[("x", "a.a.a")])),
        Ok(pairs(&[("x", &line[15..line.len() - 3])]))
    );
}

const EXPR_LINE: &str = r#"{"app":"foo","field with space":"value","field with ÜFT8👌":"value","null_field":null,"bool_field":false,"namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar", "params": [1,2,3,"string_value"]}}}"#;

// Loki: parser_test.go TestJSONExpressionParser
#[test]
fn extract_paths_loki_table() {
    let cases: [(&str, &[(&str, &str)], &[(&str, &str)]); 18] = [
        ("single field", &[("app", "app")], &[("app", "foo")]),
        (
            "alternate syntax",
            &[("test", r#"["field with space"]"#)],
            &[("test", "value")],
        ),
        (
            "multiple fields",
            &[("app", "app"), ("namespace", "namespace")],
            &[("app", "foo"), ("namespace", "prod")],
        ),
        (
            "utf8",
            &[("utf8", r#"["field with ÜFT8👌"]"#)],
            &[("utf8", "value")],
        ),
        ("nested field", &[("uuid", "pod.uuid")], &[("uuid", "foo")]),
        (
            "nested alt",
            &[("uuid", r#"pod["uuid"]"#)],
            &[("uuid", "foo")],
        ),
        (
            "nested alt 2",
            &[("uuid", r#"["pod"]["uuid"]"#)],
            &[("uuid", "foo")],
        ),
        (
            "nested alt 3",
            &[("uuid", r#"["pod"].uuid"#)],
            &[("uuid", "foo")],
        ),
        (
            "array element",
            &[("param", "pod.deployment.params[0]")],
            &[("param", "1")],
        ),
        (
            "object element not present",
            &[("undefined", r#"pod[""]"#)],
            &[("undefined", "")],
        ),
        (
            "invalid array index",
            &[("param", r#"pod.deployment.params[""]"#)],
            &[("param", "")],
        ),
        (
            "array string element",
            &[("param", "pod.deployment.params[3]")],
            &[("param", "string_value")],
        ),
        (
            "full array",
            &[("params", "pod.deployment.params")],
            &[("params", r#"[1,2,3,"string_value"]"#)],
        ),
        (
            "full object",
            &[("deployment", "pod.deployment")],
            &[(
                "deployment",
                r#"{"ref":"foobar", "params": [1,2,3,"string_value"]}"#,
            )],
        ),
        (
            "expression matching nothing",
            &[("nope", "pod.nope")],
            &[("nope", "")],
        ),
        ("null field", &[("nf", "null_field")], &[("nf", "")]),
        (
            "boolean field",
            &[("bool", "bool_field")],
            &[("bool", "false")],
        ),
        (
            "non-matching expression",
            &[("request_size", "request.size.invalid")],
            &[("request_size", "")],
        ),
    ];
    for (name, exprs, want) in cases {
        assert_eq!(
            extract_paths(EXPR_LINE, &pairs(exprs)),
            Ok(pairs(want)),
            "case {name}"
        );
    }
}

#[test]
fn extract_paths_loki_edge_cases() {
    let p = |line: &str, expr: &str| extract_paths(line, &pairs(&[("x", expr)]));
    // "empty line" ({}), "empty line" (""), "invalid JSON line"
    assert_eq!(p("{}", "pod.uuid"), Ok(pairs(&[("x", "")])));
    assert_eq!(p("", "will.not.work"), Ok(vec![]));
    assert_eq!(
        p("invalid json", "will.not.work"),
        Err(JsonError::InvalidStart)
    );
    // "nested escaped object", "nested object with escaped value",
    // "field with escaped value inside the json string"
    assert_eq!(
        p(
            r#"{"app":"{ \"key\": \"value\", \"key2\":\"value2\"}"}"#,
            "app"
        ),
        Ok(pairs(&[("x", r#"{ "key": "value", "key2":"value2"}"#)]))
    );
    assert_eq!(
        p(r#"{"app":{"name":"great \"loki\""}"#, "app"),
        Ok(pairs(&[("x", r#"{"name":"great \"loki\""}"#)]))
    );
    assert_eq!(
        p(r#"{"app":"{\"name\":\"great \\\"loki\\\"\"}"}"#, "app"),
        Ok(pairs(&[("x", r#"{"name":"great \"loki\""}"#)]))
    );
    // "duplicate field name takes first value"
    assert_eq!(
        p(r#"{"app":"foo","app":"duplicate"}"#, "app"),
        Ok(pairs(&[("x", "foo")]))
    );
    // top-level array and string lines
    assert_eq!(p(r#"[{"a":1},{"a":2}]"#, "[1].a"), Ok(pairs(&[("x", "2")])));
    assert_eq!(p(r#""just a string""#, "a"), Ok(pairs(&[("x", "")])));
    // malformed content before the match is an error
    assert_eq!(p(r#"{"a" "b"}"#, "b"), Err(JsonError::Malformed));
}

// Loki: jsonexpr/jsonexpr_test.go TestJSONExpressionParser and
// parser_test.go TestJSONExpressionParserFailures
#[test]
fn path_expressions() {
    use PathSegment::{Index, Key};
    let k = |s: &str| Key(s.to_string());
    let ok: [(&str, Vec<PathSegment>); 10] = [
        ("app", vec![k("app")]),
        (r#"["field with space"]"#, vec![k("field with space")]),
        (r#"["field with ÜFT8👌"]"#, vec![k("field with ÜFT8👌")]),
        ("[0]", vec![Index(0)]),
        ("pod.uuid", vec![k("pod"), k("uuid")]),
        (r#"pod["uuid"]"#, vec![k("pod"), k("uuid")]),
        (r#"["pod"]["uuid"]"#, vec![k("pod"), k("uuid")]),
        (
            "pod.deployment.params[0]",
            vec![k("pod"), k("deployment"), k("params"), Index(0)],
        ),
        (
            r#"pod.deployment.params[0]["param"]"#,
            vec![k("pod"), k("deployment"), k("params"), Index(0), k("param")],
        ),
        ("utf8", vec![k("utf8")]),
    ];
    for (expr, want) in ok {
        assert_eq!(parse_path(expr), Ok(want), "expr {expr}");
    }
    let errs = [
        ("field with space", "syntax error: unexpected FIELD"),
        (
            r#""pod"]"#,
            "syntax error: unexpected STRING, expecting LSB or FIELD",
        ),
        (r#"["pod""#, "syntax error: unexpected $end, expecting RSB"),
        (
            r#"["pod""deployment"]"#,
            "syntax error: unexpected STRING, expecting RSB",
        ),
        ("pod..uuid", "syntax error: unexpected DOT, expecting FIELD"),
        (r#"["key"#, "syntax error: unexpected $end, expecting RSB"),
        ("a[1.5]", "cannot use float as array index"),
        ("a[1x]", "non-integer value: x"),
        ("a-b", "unexpected char -"),
    ];
    for (expr, msg) in errs {
        assert_eq!(
            parse_path(expr),
            Err(JsonError::Expression {
                expr: expr.to_string(),
                msg: msg.to_string()
            }),
            "expr {expr}"
        );
    }
    assert_eq!(
        parse_path("pod..uuid").unwrap_err().to_string(),
        "cannot parse expression [pod..uuid]: syntax error: unexpected DOT, expecting FIELD"
    );
}

// Loki: parser_test.go Test_unpackParser_Parse
#[test]
fn unpack_loki_table() {
    let (labels, entry) = unpack(
        r#"{"bar":1,"app":"foo","namespace":"prod","_entry":"some message","pod":{"uid":"1"}}"#,
    )
    .unwrap_or_default();
    assert_eq!(labels, pairs(&[("app", "foo"), ("namespace", "prod")]));
    assert_eq!(entry.as_deref(), Some("some message"));

    let wrong = r#""app":"foo","namespace":"prod","_entry":"some message","pod":{"uid":"1"}"#;
    assert_eq!(unpack(wrong), Err(JsonError::NotAnObject));
    assert_eq!(
        JsonError::NotAnObject.to_string(),
        "expecting json object(6), but it is not"
    );
    assert_eq!(unpack(""), Ok((vec![], None)));
    assert_eq!(unpack(r#"["foo","bar"]"#), Err(JsonError::NotAnObject));
    // no packed entry: nothing extracted, line unchanged
    assert_eq!(
        unpack(r#"{"bar":1,"app":"foo","namespace":"prod","pod":{"uid":"1"}}"#),
        Ok((vec![], None))
    );
    // non json with escaped quotes
    let (labels, entry) = unpack(
        r#"{"_entry":"I0303 17:49:45.976518    1526 kubelet_getters.go:178] \"Pod status updated\" pod=\"openshift-etcd/etcd-ip-10-0-150-50.us-east-2.compute.internal\" status=Running"}"#,
    )
    .unwrap_or_default();
    assert!(labels.is_empty());
    assert_eq!(
        entry.as_deref(),
        Some(
            r#"I0303 17:49:45.976518    1526 kubelet_getters.go:178] "Pod status updated" pod="openshift-etcd/etcd-ip-10-0-150-50.us-east-2.compute.internal" status=Running"#
        )
    );
    // invalid key names
    assert_eq!(
        unpack(r#"{"foo.bar":"10ms","test-dash":"foo","_entry":"some message"}"#),
        Ok((
            pairs(&[("foo_bar", "10ms"), ("test_dash", "foo")]),
            Some("some message".to_string())
        ))
    );
    // later duplicates override; malformed input errors
    assert_eq!(
        unpack(r#"{"a":"1","a":"2","_entry":"x"}"#),
        Ok((pairs(&[("a", "2")]), Some("x".to_string())))
    );
    assert_eq!(
        unpack(r#"{"_entry":"bad \q"}"#),
        Err(JsonError::MalformedStringEscape)
    );
    assert_eq!(unpack(r#"{"a":"1""#), Err(JsonError::MalformedArray));
}

#[test]
fn raw_top_level_string() {
    let line = r#"{"level":30,"msg":"Transaction \"complete\".","nested":{"msg":"no"}}"#;
    assert_eq!(
        top_level_raw_string(line, "msg"),
        Some(r#"Transaction \"complete\"."#)
    );
    assert_eq!(top_level_raw_string(line, "level"), None);
    assert_eq!(top_level_raw_string(line, "nope"), None);
    // value found before the syntax error still counts
    assert_eq!(
        top_level_raw_string(r#"{"msg":"ok","x":bad"}"#, "msg"),
        Some("ok")
    );
}

#[test]
fn unescape_rules() {
    assert_eq!(
        unescape(r#"a\"b\\c\/d\b\f\n\r\t"#).as_deref(),
        Some("a\"b\\c/d\u{8}\u{c}\n\r\t")
    );
    assert_eq!(unescape(r"\ud83d\ude00").as_deref(), Some("😀"));
    assert_eq!(unescape(r"\ud83d"), None);
    assert_eq!(unescape(r"\ude00\ud83d"), None);
    assert_eq!(unescape(r"\u12"), None);
    assert_eq!(unescape(r"\x"), None);
    assert_eq!(unescape("trailing\\"), None);
}
