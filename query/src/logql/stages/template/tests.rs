//! Template tests from Loki's fmt_test.go (line_format / label_format tables).

#![allow(clippy::type_complexity)] // table-driven test data

use super::*;

fn labels(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn render_with(
    src: &str,
    lbs: &[(&str, &str)],
    line: &str,
    ts_ns: i64,
) -> Result<String, TemplateError> {
    let t = Template::parse(src)?;
    let l = labels(lbs);
    t.render(&TemplateCtx {
        labels: &l,
        line,
        ts_ns,
    })
}

fn render(src: &str, lbs: &[(&str, &str)]) -> String {
    render_with(src, lbs, "", 0).unwrap_or_else(|e| panic!("{src}: {e}"))
}

const FB: &[(&str, &str)] = &[("foo", "blip"), ("bar", "blop")];

// Loki: pkg/logql/log/fmt_test.go Test_lineFormatter_Format (string functions)
#[test]
fn loki_line_format_strings() {
    let url = r#"/loki/api/v1/query?query=sum(count_over_time({stream_filter="some_stream",environment="prod", host=~"someec2.*"}"#;
    let enc = "%2Floki%2Fapi%2Fv1%2Fquery%3Fquery%3Dsum%28count_over_time%28%7Bstream_filter%3D%22some_stream%22%2Cenvironment%3D%22prod%22%2C+host%3D~%22someec2.%2A%22%7D";
    let cases: Vec<(&str, Vec<(&str, &str)>, String)> = vec![
        (
            r#"{{.foo | count "abc" }}"#,
            vec![("foo", "abc abc abc")],
            "3".into(),
        ),
        (
            r#"{{.foo | count "a|b|c" }}"#,
            vec![("foo", "abc abc abc")],
            "9".into(),
        ),
        (
            "foo{{.foo}}buzz{{  .bar  }}",
            FB.to_vec(),
            "fooblipbuzzblop".into(),
        ),
        (
            r#"foo{{.foo}}buzz{{ Replace .bar "blop" "bar" -1 }}"#,
            FB.to_vec(),
            "fooblipbuzzbar".into(),
        ),
        (
            r#"foo{{.foo}}buzz{{ .bar | replace "blop" "bar" }}"#,
            FB.to_vec(),
            "fooblipbuzzbar".into(),
        ),
        ("{{.foo | title }}", FB.to_vec(), "Blip".into()),
        (
            "{{.foo | substr 1 3 }} {{ .bar  | trunc 1 }} {{ .bar  | trunc 3 }}",
            FB.to_vec(),
            "li b blo".into(),
        ),
        (
            r#"{{.foo | trim }} {{ .bar  | trimAll "op" }} {{ .bar  | trimPrefix "b" }} {{ .bar  | trimSuffix "p" }}"#,
            vec![("foo", "  blip "), ("bar", "blop")],
            "blip bl lop blo".into(),
        ),
        (
            "{{.foo | lower }} {{ .bar  | upper }}",
            vec![("foo", "BLIp"), ("bar", "blop")],
            "blip BLOP".into(),
        ),
        (
            "{{.foo | urlencode }} {{ urlencode .foo }}",
            vec![("foo", url)],
            format!("{enc} {enc}"),
        ),
        (
            "{{.foo | urldecode }} {{ urldecode .foo }}",
            vec![("foo", enc)],
            format!("{url} {url}"),
        ),
        (r#"{{ "foo" | repeat 3 }}"#, vec![], "foofoofoo".into()),
        (
            r#"{{ "foo\n bar" | indent 4 }}"#,
            vec![],
            "    foo\n     bar".into(),
        ),
        (r#"{{ "foo" | nindent 2 }}"#, vec![], "\n  foo".into()),
        (
            r#"{{ if  .foo | contains "p"}}yes{{end}}-{{ if  .foo | contains "z"}}no{{end}}"#,
            vec![("foo", "BLIp")],
            "yes-".into(),
        ),
        (
            r#"{{ if  .foo | hasPrefix "BL" }}yes{{end}}-{{ if  .foo | hasPrefix "p"}}no{{end}}"#,
            vec![("foo", "BLIp")],
            "yes-".into(),
        ),
        (
            r#"{{ if  .foo | hasSuffix "Ip" }}yes{{end}}-{{ if  .foo | hasSuffix "pw"}}no{{end}}"#,
            vec![("foo", "BLIp")],
            "yes-".into(),
        ),
        (
            r#"{{ regexReplaceAll "(p)" .foo "t" }}"#,
            vec![("foo", "BLIp")],
            "BLIt".into(),
        ),
        (
            r#"{{ regexReplaceAllLiteral "(p)" .foo "${1}" }}"#,
            vec![("foo", "BLIp")],
            "BLI${1}".into(),
        ),
        (
            "foo {{.foo}}buzz{{  .bar  }}",
            vec![("bar", "blop")],
            "foo buzzblop".into(),
        ),
        (
            "foo {{.foo | ToUpper }} buzz{{  .bar  }}",
            FB.to_vec(),
            "foo BLIP buzzblop".into(),
        ),
        (
            r#"{{.foo | default "-" }}{{.bar | default "-"}}{{.unknown | default "-"}}"#,
            vec![("foo", "blip"), ("bar", "")],
            "blip--".into(),
        ),
        (
            "{{ .foo | b64enc }}",
            vec![("foo", "i'm a string, encode me!")],
            "aSdtIGEgc3RyaW5nLCBlbmNvZGUgbWUh".into(),
        ),
        (
            "{{ .foo | b64dec }}",
            vec![("foo", "aSdtIGEgc3RyaW5nLCBlbmNvZGUgbWUh")],
            "i'm a string, encode me!".into(),
        ),
        (
            "{{ .foo | b64dec }} {{ .bar | b64dec }}",
            vec![("foo", "Zm9vYmE"), ("bar", "Zm9vYg")],
            "fooba foob".into(),
        ),
        (
            "{{ alignLeft 4 .foo }}",
            vec![("foo", "hello")],
            "hell".into(),
        ),
        (
            "{{ alignRight 4 .foo }}",
            vec![("foo", "hello")],
            "ello".into(),
        ),
        ("{{.foo}}", vec![("foo", "bar")], "bar".into()),
        ("{{.foo}}  ", vec![("foo", "bar")], "bar  ".into()),
        ("{{.missing}}", vec![("foo", "bar")], String::new()),
    ];
    for (src, lbs, want) in cases {
        assert_eq!(render(src, &lbs), want, "template {src}");
    }
}

// Loki: Test_lineFormatter_Format (math, dates, units)
#[test]
fn loki_line_format_math_and_time() {
    let cases: Vec<(&str, Vec<(&str, &str)>, i64, &str)> = vec![
        (
            "{{ add .foo 1 | sub .bar | mul .baz | div .bazz}}",
            vec![("foo", "1"), ("bar", "3"), ("baz", "10"), ("bazz", "20")],
            0,
            "2",
        ),
        (
            "{{ addf .foo 1.5 | subf .bar 1.5 | mulf .baz | divf .bazz }}",
            vec![
                ("foo", "1.5"),
                ("bar", "5"),
                ("baz", "10.5"),
                ("bazz", "20.2"),
            ],
            0,
            "3.8476190476190477",
        ),
        (
            "{{ round (addf .foo 1.5 | subf .bar | mulf .baz | divf .bazz) 5 .2}}",
            vec![
                ("foo", "1.5"),
                ("bar", "3.5"),
                ("baz", "10.5"),
                ("bazz", "20.4"),
            ],
            0,
            "3.88572",
        ),
        (
            "min is {{ min .foo .bar .baz }} and max is {{ max .foo .bar .baz }}",
            vec![("foo", "5"), ("bar", "10"), ("baz", "15")],
            0,
            "min is 5 and max is 15",
        ),
        (
            "minf is {{ minf .foo .bar .baz }} and maxf is {{maxf .foo .bar .baz}}",
            vec![("foo", "5.3"), ("bar", "10.5"), ("baz", "15.2")],
            0,
            "minf is 5.3 and maxf is 15.2",
        ),
        (
            "ceil is {{ ceil .foo }} and floor is {{floor .foo }}",
            vec![("foo", "5.3")],
            0,
            "ceil is 6 and floor is 5",
        ),
        (
            "mod is {{ mod .foo 3 }}",
            vec![("foo", "20")],
            0,
            "mod is 2",
        ),
        (r#"{{ "2.5" | float64 | int | add 10}}"#, vec![], 0, "12"),
        (
            r#"{{ sub (unixEpoch (toDate "2006-01-02" "2021-11-02")) (unixEpoch (toDate "2006-01-02" "2021-11-01")) }}"#,
            vec![],
            0,
            "86400",
        ),
        (
            r#"{{ date "2006-01-02" (toDate "2006-01-02" "2021-11-02") }}"#,
            vec![],
            0,
            "2021-11-02",
        ),
        ("{{ div (unixEpoch now) (unixEpoch now) }}", vec![], 0, "1"),
        (
            r#"{{ __timestamp__ | date "2006-01-02" }} bar {{ .bar }}"#,
            vec![("bar", "2")],
            1_656_331_200_000_000_000,
            "2022-06-27 bar 2",
        ),
        (
            "{{ __timestamp__ | unixEpoch }} bar {{ .bar }}",
            vec![("bar", "2")],
            1_656_353_124_120_000_000,
            "1656353124 bar 2",
        ),
        ("{{ .foo | bytes }}", vec![("foo", "3 kB")], 0, "3000"),
        ("{{ .foo | bytes }}", vec![("foo", "3MB")], 0, "3e+06"),
        ("{{ .foo | duration }}", vec![("foo", "3ms")], 0, "0.003"),
        (
            "{{ .foo | duration_seconds }}",
            vec![("foo", "3m10s")],
            0,
            "190",
        ),
        (
            r#"{{ .foo | toDateInZone "2006-01-02T15:04:05.999999999Z" "UTC" | unixEpochMillis }}"#,
            vec![("foo", "2023-03-10T01:32:40.340485723Z")],
            0,
            "1678411960340",
        ),
        (
            r#"{{ .foo | toDateInZone "2006-01-02T15:04:05.999999999Z" "UTC" | unixEpochNanos }}"#,
            vec![("foo", "2023-03-10T01:32:40.340485723Z")],
            0,
            "1678411960340485723",
        ),
    ];
    for (src, lbs, ts, want) in cases {
        assert_eq!(
            render_with(src, &lbs, "", ts).as_deref(),
            Ok(want),
            "template {src}"
        );
    }
    assert_eq!(
        render_with("{{ __line__ }} bar {{ .bar }}", &[("bar", "2")], "1", 0).as_deref(),
        Ok("1 bar 2")
    );
}

// Loki: Test_labelsFormatter_Format (template cases, ts 1661518453244672570,
// line "test line"); times printed in UTC.
#[test]
fn loki_label_format() {
    let ts = 1_661_518_453_244_672_570;
    let r = |src: &str, lbs: &[(&str, &str)]| render_with(src, lbs, "test line", ts);
    assert_eq!(
        r("{{.foo}} and {{.bar}}", FB).as_deref(),
        Ok("blip and blop")
    );
    assert_eq!(
        r("{{.foo | ToUpper }} and {{.bar}}", FB).as_deref(),
        Ok("BLIP and blop")
    );
    assert_eq!(
        r("{{div .status 100 }}", &[("status", "200")]).as_deref(),
        Ok("2")
    );
    assert_eq!(
        r(
            r#"{{.foo | default "-" }} and {{.bar}}"#,
            &[("bar", "blop")]
        )
        .as_deref(),
        Ok("- and blop")
    );
    assert_eq!(r("{{ __line__ }}", FB).as_deref(), Ok("test line"));
    assert_eq!(
        r(r#"{{ __timestamp__ | date "2006-01-02" }}"#, FB).as_deref(),
        Ok("2022-08-26")
    );
    assert_eq!(
        r("{{ __timestamp__ | unixEpoch }}", FB).as_deref(),
        Ok("1661518453")
    );
    assert_eq!(
        r(r#"{{ __line__ | count "test" }}"#, FB).as_deref(),
        Ok("1")
    );
    assert_eq!(
        r(r#"{{ __line__ | count "notmatching.*" }}"#, &[]).as_deref(),
        Ok("0")
    );
    assert_eq!(
        r("{{ __timestamp__ }}", &[]).as_deref(),
        Ok("2022-08-26 12:54:13.24467257 +0000 UTC")
    );
    let unix = [
        ("19503", "2023-05-26 00:00:00 +0000 UTC"),
        ("1679577215", "2023-03-23 13:13:35 +0000 UTC"),
        ("1257894000000", "2009-11-10 23:00:00 +0000 UTC"),
        ("1673798889902000", "2023-01-15 16:08:09.902 +0000 UTC"),
        ("1000000000000000000", "2001-09-09 01:46:40 +0000 UTC"),
    ];
    for (v, want) in unix {
        assert_eq!(
            r("{{ .bar | unixToTime }}", &[("bar", v)]).as_deref(),
            Ok(want),
            "unixToTime {v}"
        );
    }
    // TestInvalidUnixTimes
    for bad in ["abc", "464"] {
        assert!(
            r("{{ .bar | unixToTime }}", &[("bar", bad)]).is_err(),
            "{bad}"
        );
    }
}

// Loki: "err", "template_error" and labels "template error" cases.
#[test]
fn loki_exec_errors() {
    let err = |src: &str| match render_with(src, FB, "", 0) {
        Err(TemplateError::Exec { msg, .. }) => msg,
        other => panic!("{src}: {other:?}"),
    };
    assert_eq!(
        err(r#"{{.foo Replace "foo"}}"#),
        "foo is not a method but has arguments"
    );
    assert_eq!(
        err("{{.foo | now}}"),
        "wrong number of args for now: want 0 got 1"
    );
    assert_eq!(
        err(r#"{{replace "test" .foo}}"#),
        "wrong number of args for replace: want 3 got 2"
    );
    assert_eq!(err("{{ ToUpper 3 }}"), "expected string; found 3");
    assert_eq!(
        err("{{ add 1 2 | ToUpper }}"),
        "wrong type for value; expected string; got int"
    );
    assert_eq!(
        err("{{ trunc .foo .bar }}"),
        "wrong type for value; expected int; got string"
    );
    assert_eq!(
        err("{{ div 1 0 }}"),
        "error calling div: runtime error: integer divide by zero"
    );
    assert_eq!(
        err("{{ divf 1 0 }}"),
        "error calling divf: decimal division by 0"
    );
    assert!(
        err(r#"{{ regexReplaceAll "a|b|\\q" .foo "x" }}"#)
            .starts_with("error calling regexReplaceAll:")
    );
    assert!(err(r#"{{ count "a|b|\\K" .foo }}"#).starts_with("error calling count:"));
    assert_eq!(
        err("{{ .foo.bar }}"),
        "can't evaluate field bar in type string"
    );
    assert_eq!(
        err(r#"{{ eq .foo 3 }}"#),
        "error calling eq: incompatible types for comparison"
    );
    assert_eq!(
        err(r#"{{ "x" | repeat -1 }}"#),
        "error calling repeat: strings: negative Repeat count"
    );
    assert_eq!(
        err(r#"{{ urldecode "%zz" }}"#),
        "error calling urldecode: invalid URL escape \"%zz\""
    );
    assert!(err(r#"{{ "ab" | repeat 100000000 }}"#).contains("overflow"));
    assert_eq!(err(r#"{{ nil | default "d" }}"#), "nil is not a command");
    assert_eq!(
        err(r#"{{ .foo | .bar }}"#),
        "bar is not a method but has arguments"
    );
    assert_eq!(err(r#"{{ "x" 1 }}"#), "can't give argument to non-function");
}

#[test]
fn parse_errors() {
    assert_eq!(
        Template::parse("{{ nope .foo }}"),
        Err(TemplateError::UnknownFunction("nope".into()))
    );
    assert_eq!(
        TemplateError::UnknownFunction("nope".into()).to_string(),
        "template: function \"nope\" not defined"
    );
    assert_eq!(
        Template::parse("{{ fromJson .foo }}"),
        Err(TemplateError::UnknownFunction("fromJson".into()))
    );
    for bad in [
        "{{",
        "{{ .foo",
        "{{ if .a }}x",
        "{{ end }}",
        "{{ else }}",
        "{{ }}",
        "{{ .a | }}",
        "{{ .a | 3 }}",
        r#"{{ "unterminated }}"#,
        "{{ range .a }}{{ end }}",
        "{{ $x }}",
        "{{/* open",
        "{{ (.a }}",
        "{{ .a) }}",
        "{{ if .a }}{{ else }}{{ else }}{{ end }}",
        "{{ 99999999999999999999 }}",
        "{{ 3x }}",
    ] {
        assert!(
            matches!(Template::parse(bad), Err(TemplateError::Parse(_))),
            "{bad:?} -> {:?}",
            Template::parse(bad)
        );
    }
}

#[path = "tests_go.rs"]
mod go;
