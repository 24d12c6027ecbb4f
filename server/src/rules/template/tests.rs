//! Behaviour tests. Expected strings follow Go's text/template and, in the `prom_*` tests,
//! Prometheus's `template/template_test.go` (Go reports 0-based byte columns; ours are
//! 1-based characters, and Prometheus's `uint` inputs are given as floats).

use std::collections::BTreeMap;

use super::{Template, TemplateError, Value};

fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}
fn strs(items: &[&str]) -> Value {
    Value::List(items.iter().map(|&s| Value::from(s)).collect())
}
fn nums(items: &[f64]) -> Value {
    Value::List(items.iter().map(|&f| Value::Num(f)).collect())
}
fn ints(items: &[i64]) -> Value {
    Value::List(items.iter().map(|&i| Value::Int(i)).collect())
}

/// Renders each `(template, expected)` with `data`. An expectation starting with `!` is
/// an error message without its `template "test": ` prefix.
#[track_caller]
fn check(data: &Value, cases: &[(&str, &str)]) {
    for &(text, want) in cases {
        let got = Template::parse("test", text).and_then(|t| t.render(data));
        let want = match want.strip_prefix('!') {
            Some(e) => Err(format!("template \"test\": {e}")),
            None => Ok(want.to_string()),
        };
        assert_eq!(got.map_err(|e| e.to_string()), want, "template: {text}");
    }
}

/// Applies `func` to each element of `data`, like Prometheus's range tests.
#[track_caller]
fn each(func: &str, data: Value, want: &str) {
    check(
        &data,
        &[(
            &format!("{{{{ range . }}}}{{{{ {func} . }}}}:{{{{ end }}}}"),
            want,
        )],
    );
}

#[test]
fn prom_basics() {
    #[rustfmt::skip]
    const CASES: &[(&str, &str)] = &[
        ("plain text", "plain text"),
        ("{{ 1 }}", "1"),
        (r#"{{ "<b>" }}"#, "<b>"),
        ("{{ .Foo }}", "<no value>"),
        (r#"{{ reReplaceAll "(a)b" "x$1" "ab" }}"#, "xa"),
        (r#"{{ "aa bb CC" | title }}"#, "Aa Bb CC"),
        (r#"{{ "aa bb CC" | toUpper }}"#, "AA BB CC"),
        (r#"{{ "aA bB CC" | toLower }}"#, "aa bb cc"),
        (r#"{{ match "a+" "aa" }} {{ match "a+" "b" }}"#, "true false"),
        (r#"{{ printf "%0.2f" (parseDuration "1h2m10ms") }}"#, "3720.01"),
        (r#"{{ printf "%0.2f" (parseDuration "-1h2m10ms") }}"#, "-3720.01"),
        ("{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}", "-22.22%:0%"),
        ("{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}", "12.35%:123.5%"),
        (r#"{{ "-0.22222" | humanizePercentage }}:{{ "1.23456" | humanizePercentage }}"#, "-22.22%:123.5%"),
        ("{{ 1435065584.128 | humanizeTimestamp }}", "2015-06-23 13:19:44.128 +0000 UTC"),
        (r#"{{ "1435065584.128" | humanizeTimestamp }}"#, "2015-06-23 13:19:44.128 +0000 UTC"),
        ("{{ 1657155181 | toTime }}", "2022-07-07 00:53:01 +0000 UTC"),
        ("{{ humanize 1234567 }} {{ humanize 0.001234 }} {{ humanize1024 1048576 }}", "1.235M 1.234m 1Mi"),
        ("{{ humanizeDuration 3661 }} {{ humanizeDuration 0.1 }}", "1h 1m 1s 100ms"),
        ("{{\u{a0}}}", "!1:3: unrecognized character in action: U+00A0"),
        ("{{", "!1:1: unclosed action"),
        (r#"{{ query "up" | first | value }}"#, r#"!1:4: function "query" not defined"#),
        (r#"{{ humanize "one" }}"#, r#"!1:4: executing: error calling humanize: strconv.ParseFloat: parsing "one": invalid syntax"#),
        (r#"{{ humanize1024 "one" }}"#, r#"!1:4: executing: error calling humanize1024: strconv.ParseFloat: parsing "one": invalid syntax"#),
        (r#"{{ humanizeDuration "one" }}"#, r#"!1:4: executing: error calling humanizeDuration: strconv.ParseFloat: parsing "one": invalid syntax"#),
        (r#"{{ "one" | humanizePercentage }}"#, r#"!1:12: executing: error calling humanizePercentage: strconv.ParseFloat: parsing "one": invalid syntax"#),
        ("{{ humanize true }}", "!1:4: executing: error calling humanize: can't convert bool to float"),
        ("{{ toTime \"NaN\" }}", "!1:4: executing: error calling toTime: value is NaN or Inf"),
    ];
    let x = map(&[("x", map(&[("Labels", map(&[("instance", "a".into())]))]))]);
    check(&Value::Nil, CASES);
    check(&x, &[("{{ $x := .x }}{{ $x.Labels.foo }}", "")]);
}

#[test]
fn prom_humanize() {
    let max_u64 = u64::MAX as f64;
    each(
        "humanize",
        nums(&[0.0, 1.0, 1234567.0, 0.12]),
        "0:1:1.235M:120m:",
    );
    each(
        "humanize",
        strs(&["0.0", "1.0", "1234567.0", ".12"]),
        "0:1:1.235M:120m:",
    );
    each(
        "humanize",
        ints(&[0, -1, 1, 1234567, i64::MAX]),
        "0:-1:1:1.235M:9.223E:",
    );
    each("humanize", nums(&[max_u64, 0.001234]), "18.45E:1.234m:");
    each(
        "humanize1024",
        nums(&[0.0, 1.0, 1048576.0, 0.12]),
        "0:1:1Mi:0.12:",
    );
    each(
        "humanize1024",
        strs(&["0.0", "1.0", "1048576.0", ".12"]),
        "0:1:1Mi:0.12:",
    );
    each(
        "humanize1024",
        ints(&[0, -1, 1, 1234567, i64::MAX]),
        "0:-1:1:1.177Mi:8Ei:",
    );
    each("humanize1024", nums(&[max_u64]), "16Ei:");
    let all = "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:\
               {{humanizeTimestamp .}}:{{ end }}";
    let want = "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:";
    check(
        &nums(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN]),
        &[(all, want)],
    );
    check(&strs(&["+Inf", "-Inf", "NaN"]), &[(all, want)]);
    let pct = "0%:-100%:100%:1.235e+08%:9.223e+20%:";
    each(
        "humanizePercentage",
        ints(&[0, -1, 1, 1234567, i64::MAX]),
        pct,
    );
    each("humanizePercentage", nums(&[max_u64]), "1.845e+21%:");
}

#[test]
fn prom_humanize_duration_and_timestamp() {
    let d = -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0);
    let want = "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:";
    let input = nums(&[0.0, 1.0, 60.0, 3600.0, 86400.0, 90000.0, d, 899.99]);
    each("humanizeDuration", input, want);
    let want = "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:";
    each(
        "humanizeDuration",
        strs(&["0", "1", "60", "3600", "86400"]),
        want,
    );
    let want = "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:";
    each(
        "humanizeDuration",
        nums(&[0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345]),
        want,
    );
    let input = strs(&[".1", ".0001", ".12345", "60.1", "60.5", "1.2345", "12.345"]);
    each("humanizeDuration", input, want);
    let want = "0s:-1s:1s:14d 6h 56m 7s:";
    each("humanizeDuration", ints(&[0, -1, 1, 1234567]), want);
    let want = "1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:\
                1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:\
                2262-04-11 23:47:16 +0000 UTC:";
    each(
        "humanizeTimestamp",
        ints(&[0, -1, 1, 1234567, 9223372036]),
        want,
    );
    let e = "!1:17: executing: error calling humanizeTimestamp: \
             -9.223372036854776e+18 cannot be represented as a nanoseconds timestamp \
             since it overflows int64";
    each("humanizeTimestamp", ints(&[i64::MIN, i64::MAX]), e);
    let e = e.replace("-9.223372036854776e+18", "1.8446744073709552e+19");
    each("humanizeTimestamp", nums(&[u64::MAX as f64]), &e);
}

#[test]
fn prom_strip_port_and_domain() {
    #[rustfmt::skip]
    const CASES: &[(&str, &str, &str)] = &[
        ("foo.example.com", "foo.example.com", "foo"),
        ("foo.example.com:12345", "foo.example.com", "foo:12345"),
        ("192.0.2.1", "192.0.2.1", "192.0.2.1"),
        ("192.0.2.1:12345", "192.0.2.1", "192.0.2.1:12345"),
        ("2001:0DB8::1", "2001:0DB8::1", "2001:0DB8::1"),
        ("[2001:0DB8::1]:12345", "2001:0DB8::1", "[2001:0DB8::1]:12345"),
        ("[2001:0DB8::1]::12345", "[2001:0DB8::1]::12345", "[2001:0DB8::1]::12345"),
    ];
    for &(input, port, domain) in CASES {
        check(
            &Value::from(input),
            &[("{{ stripPort . }}", port), ("{{ stripDomain . }}", domain)],
        );
    }
}

#[test]
fn rule_prefix_and_positions() {
    let labels = map(&[("instance", "host:9100".into()), ("job", "node".into())]);
    let data = map(&[
        ("Labels", labels),
        ("ExternalLabels", map(&[])),
        ("ExternalURL", "http://prom".into()),
        ("Value", Value::Num(0.5)),
    ]);
    let text = "{{ $labels.instance | stripPort }} of {{ $labels.job }} is at \
                {{ $value | humanizePercentage }}{{ $labels.nope }} ({{ $externalURL }})";
    let out = Template::parse_rule("annotation summary", text).and_then(|t| t.render(&data));
    assert_eq!(
        out.ok().as_deref(),
        Some("host of node is at 50% (http://prom)")
    );
    let err = Template::parse_rule("annotation summary", "{{ $labels.job }").map(|_| ());
    let want = r#"template "annotation summary": 1:16: unexpected "}" in operand"#;
    assert_eq!(err.map_err(|e| e.to_string()), Err(want.to_string()));
    let err = Template::parse_rule("s", "ok\n  {{ if $value }}").map(|_| ());
    let reason = "unexpected EOF".to_string();
    assert!(
        matches!(err, Err(TemplateError::Parse { line: 2, column: 18, reason: r, .. }) if r == reason)
    );
    let err =
        Template::parse_rule("s", "x\n{{ index $labels.job 9 }}").and_then(|t| t.render(&data));
    let reason = "error calling index: index out of range: 9".to_string();
    assert!(
        matches!(err, Err(TemplateError::Exec { line: 2, column: 4, reason: r, .. }) if r == reason)
    );
}

#[test]
fn syntax() {
    #[rustfmt::skip]
    const CASES: &[(&str, &str)] = &[
        ("a  {{- .x -}}  b", "avb"),
        ("a {{- /* c */ -}}\n b", "ab"),
        ("a {{/* multi\nline */}} b", "a  b"),
        ("{{-3}} {{ -3 }} {{ .x\n }}", "-3 -3 v"),
        ("{{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 1_000 }} {{ 0b101 }}", "31 15 15 1000 5"),
        ("{{ 1.5e3 }} {{ .5 }} {{ 1e6 }} {{ 99999999999999999999 }}", "1500 0.5 1e+06 1e+20"),
        (r#"{{ "a\tb\u00e9\x41\101\\\"" }}|{{ `raw\n` }}|{{ true }} {{ false }}"#, "a\tbéAA\\\"|raw\\n|true false"),
        ("{{/* x */ }}", "!1:1: comment ends before closing delimiter"),
        ("{{/* x", "!1:1: unclosed comment"),
        (r#"{{ "a\qb" }}"#, r"!1:4: invalid escape sequence in quoted string (bytes above \x7f are not supported)"),
        ("{{ 3x }}", r#"!1:4: bad number syntax: "3x""#),
        ("{{ \"abc }}", "!1:4: unterminated quoted string"),
        ("{{ nil }}", "!1:4: executing: nil is not a command"),
        ("{{ if true }}x", "!1:15: unexpected EOF"),
        ("a\n{{ end }}", "!2:4: unexpected {{end}}"),
        ("{{ else }}", "!1:4: unexpected {{else}}"),
        ("{{ if 1 }}{{ else }}{{ else }}{{ end }}", "!1:24: expected end; found {{else}}"),
        ("{{ .Labels.x }", r#"!1:14: unexpected "}" in operand"#),
        ("{{ 1 | 2 }}", "!1:8: non executable command in pipeline stage 2"),
        ("{{ define \"x\" }}{{ end }}", "!1:4: {{define}} is not supported"),
        ("{{ (1 }}", "!1:7: unclosed left paren"),
        ("{{ 1) }}", "!1:5: unexpected right paren"),
        ("{{ if }}", "!1:7: missing value for if"),
        ("{{ .x | }}", "!1:9: missing command after |"),
        ("{{ $x }}", r#"!1:4: undefined variable "$x""#),
        ("{{ $x = 1 }}", r#"!1:4: undefined variable "$x""#),
        ("{{ .a#b }}", "!1:6: bad character U+0023 '#'"),
        ("{{ \"a\".b }}", r#"!1:4: unexpected . after term "\"a\"""#),
        ("{{ print 1\"a\" }}", r#"!1:11: unexpected "\"a\"" in operand"#),
        ("{{ range $a, 1 }}{{ end }}", "!1:10: range can only initialize variables"),
        ("{{ with $a, $b := 1 }}{{ end }}", "!1:9: too many declarations in with"),
        ("{{ if 1 }}{{ else range 1 }}{{ end }}", "!1:19: unexpected <range> in else"),
    ];
    check(&map(&[("x", "v".into())]), CASES);
}

#[test]
fn control_and_variables() {
    #[rustfmt::skip]
    const CASES: &[(&str, &str)] = &[
        ("{{ if eq .n 1 }}one{{ else if eq .n 2 }}two{{ else }}many{{ end }}", "two"),
        ("{{ if .missing }}y{{ else }}n{{ end }}{{ if .empty }}y{{ else }}n{{ end }}", "nn"),
        ("{{ range $i, $e := .l }}{{ $i }}={{ $e }}{{ $.name }} {{ end }}", "0=aN 1=bN "),
        ("{{ range $k, $v := .m }}{{ $k }}:{{ $v }},{{ end }}{{ range .m }}{{ . }}{{ end }}", "a:2,z:1,21"),
        ("{{ range .empty }}x{{ else }}empty{{ end }}{{ range .nope }}x{{ else }}nil{{ end }}", "emptynil"),
        ("{{ with .name }}[{{ . }}]{{ else }}none{{ end }}{{ with .nope }}x{{ else }}none{{ end }}", "[N]none"),
        ("{{ with .nope }}A{{ else with .name }}B{{ . }}{{ else }}C{{ end }}", "BN"),
        ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}", "2"),
        ("{{ $n := 0 }}{{ range .l }}{{ $n = . }}{{ end }}{{ $n }}", "b"),
        ("[{{ .labels.b }}][{{ index .labels \"b\" }}][{{ .m.b }}][{{ .m.b.c }}]", "[][][<no value>][<no value>]"),
        ("{{ (index .labels \"a\") }}{{ $.labels.a }}{{ (.labels).a }}", "111"),
        ("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}", r#"!1:39: undefined variable "$y""#),
        ("{{ range .name }}{{ end }}", "!1:10: executing: range can't iterate over N"),
        ("{{ .name.x }}", "!1:4: executing: can't evaluate field x in type string"),
        ("{{ .name 1 }}", "!1:4: executing: name is not a method but has arguments"),
    ];
    let data = map(&[
        ("l", strs(&["a", "b"])),
        ("m", map(&[("z", Value::Int(1)), ("a", Value::Int(2))])),
        ("labels", map(&[("a", "1".into())])),
        ("empty", Value::List(vec![])),
        ("name", "N".into()),
        ("n", Value::Int(2)),
    ]);
    check(&data, CASES);
}

#[test]
fn builtins() {
    #[rustfmt::skip]
    const CASES: &[(&str, &str)] = &[
        ("{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 \"\" \"x\" }} {{ or 0 false }} {{ not 0 }}", "0 2 x false true"),
        ("{{ or 1 (index .l 5) }} {{ and 0 (index .l 5) }} {{ 0 | or 7 }}", "1 0 7"),
        ("{{ len \"héllo\" }} {{ len .l }} {{ len .m }} {{ index .l 1 }} {{ index .m \"k\" }}", "6 2 1 b v"),
        ("{{ index \"ab\" 1 }} {{ index .nested 0 1 }}", "98 y"),
        ("{{ eq 2 1 2 }} {{ eq \"a\" \"b\" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }}", "true false true true true"),
        ("{{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }} {{ gt .value 10.0 }} {{ eq .nope nil }}", "true false true true"),
        ("{{ eq .value 1.0 12.5 }}", "true"),
        ("{{ print 1 2 \"a\" 3 .l }}|{{ println 1 \"a\" }}|", "1 2a3 [a b]|1 a\n|"),
        ("{{ .m }} {{ .l }} {{ .value }} {{ .nested }}", "map[k:v] [a b] 12.5 [[x y]]"),
        ("{{ \"<a href='x'>&</a>\" | html }} {{ html .nope }}", "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt; &lt;no value&gt;"),
        (r#"{{ js "a'b\"c<d>=&\\" }}"#, r#"a\'b\"c\u003Cd\u003E\u003D\u0026\\"#),
        ("{{ urlquery \"a b&c=d/é\" }} {{ urlQueryEscape \"x y\" }}", "a+b%26c%3Dd%2F%C3%A9 x+y"),
        ("{{ \"a\\\"b\\n\" | json }} {{ json 1.5 }} {{ safeHtml \"<b>\" }}", r#""a\"b\n" "1.5" <b>"#),
        ("{{ gt .value 10 }}", "!1:4: executing: error calling gt: incompatible types for comparison"),
        ("{{ lt true false }}", "!1:4: executing: error calling lt: invalid type for comparison"),
        ("{{ eq 1 }}", "!1:4: executing: error calling eq: missing argument for comparison"),
        ("{{ eq .l .l }}", "!1:4: executing: error calling eq: non-comparable type [a b]: []interface {}"),
        ("{{ index .l 5 }}", "!1:4: executing: error calling index: index out of range: 5"),
        ("{{ index .l -1 }}", "!1:4: executing: error calling index: index out of range: -1"),
        ("{{ index .m 1 }}", "!1:4: executing: error calling index: value has type int; should be string"),
        ("{{ len 3 }}", "!1:4: executing: error calling len: len of type int"),
        ("{{ toUpper 3 }}", "!1:4: executing: error calling toUpper: wrong type for value; expected string; got int"),
        ("{{ not 1 2 }}", "!1:4: executing: wrong number of args for not: want 1 got 2"),
        ("{{ printf }}", "!1:4: executing: wrong number of args for printf: want at least 1 got 0"),
        ("{{ match \"(\" \"a\" }}", "!1:4: executing: error calling match: regex parse error:\n    (\n    ^\nerror: unclosed group"),
    ];
    let data = map(&[
        ("l", strs(&["a", "b"])),
        ("m", map(&[("k", "v".into())])),
        ("nested", Value::List(vec![strs(&["x", "y"])])),
        ("value", Value::Num(12.5)),
    ]);
    check(&data, CASES);
}

#[test]
fn printf_verbs() {
    #[rustfmt::skip]
    const CASES: &[(&str, &str)] = &[
        (r#"{{ printf "%s %d %.2f %5.1f|%-5s|%05d %x %X %q" "a" 42 3.14159 2.5 "ab" 42 255 255 "q\"" }}"#, r#"a 42 3.14   2.5|ab   |00042 ff FF "q\"""#),
        (r#"{{ printf "%v %g %e %% %t %c %T %T" 1e6 0.000012 1234.5678 true 65 1 .x }}"#, "1e+06 1.2e-05 1.234568e+03 % true A int []interface {}"),
        (r#"{{ printf "%v %v %v %v %v %v %v" 1000000.0 0.1 1.5 123456.0 1e21 0.0001 0.00001 }}"#, "1e+06 0.1 1.5 123456 1e+21 0.0001 1e-05"),
        (r#"{{ printf "%.3g %.3g %g %G %.0f %.0f" 1234.5 0.0001234 100000.0 1e-7 2.5 3.5 }}"#, "1.23e+03 0.000123 100000 1E-07 2 4"),
        (r#"{{ printf "%+d %+.1f %8.3f|%-8.2e|%08.3f %.2s %x" 5 1.25 -3.14159 1234.5 -3.14159 "héllo" "hi" }}"#, "+5 +1.2   -3.142|1.23e+03|-003.142 hé 6869"),
        (r#"{{ printf "%5.1f|%-6v|%6v|%*d|%.*f" -0.0 true "ab" 3 7 1 2.25 }}"#, " -0.0|true  |    ab|  7|2.2"),
        (r#"{{ printf "%d %s|%d" 1.5 }}|{{ printf "%d" 1 2 "x" }}|{{ printf "%s" nil }}"#, "%!d(float64=1.5) %!s(MISSING)|%!d(MISSING)|1%!(EXTRA int=2, string=x)|%!s(<nil>)"),
        (r#"{{ printf "%v %d" .nope (print) }}|{{ printf "%" }}|{{ printf "%d" .x }}"#, "<nil> %!d(string=)|%!(NOVERB)|[1]"),
        (r#"{{ printf "%v %6.2f %v" .inf .inf .nan }}"#, "+Inf   +Inf NaN"),
    ];
    let data = map(&[
        ("x", ints(&[1])),
        ("inf", Value::Num(f64::INFINITY)),
        ("nan", Value::Num(f64::NAN)),
    ]);
    check(&data, CASES);
}

#[test]
fn limits() {
    let deep = |n: usize| format!("{}x{}", "{{ if 1 }}".repeat(n), "{{ end }}".repeat(n));
    let (ok100, bad101) = (deep(100), deep(101));
    let re = "{{ reReplaceAll \"x\" \"#\" $.s | reReplaceAll \"x\" \"#\" }}"
        .replace('#', &"$0".repeat(40));
    let re_err = format!(
        "!1:{}: executing: error calling reReplaceAll: result exceeds 1048576 bytes",
        re.rfind("reReplaceAll").unwrap_or(0) + 1
    );
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(101), ")".repeat(101));
    let data = map(&[
        ("l", Value::List(vec![Value::Int(0); 1100])),
        ("s", "x".repeat(1000).into()),
    ]);
    #[rustfmt::skip]
    let cases = [
        (ok100.as_str(), "x"),
        (&re, &re_err),
        (&bad101, "!1:1007: nesting depth exceeds 100"),
        (&parens, "!1:104: nesting depth exceeds 100"),
        ("{{ range .l }}{{ $.s }}{{ end }}", "!1:18: executing: output exceeds 1048576 bytes"),
        ("{{ $s := \"xxxxxxxxxx\" }}{{ range .l }}{{ $s = print $s $s }}{{ end }}", "!1:47: executing: error calling print: result exceeds 1048576 bytes"),
        ("{{ range .l }}{{ range $.l }}{{ end }}{{ end }}", "!1:24: executing: execution exceeds 1000000 steps"),
        ("{{ printf \"%999999d%999999d\" 1 2 }}", "!1:4: executing: error calling printf: result exceeds 1048576 bytes"),
        ("{{ reReplaceAll \"(?P<w>x)x\" \"${w}-$1\" \"xxx\" }}", "x-xx"),
    ];
    check(&data, &cases);
}

#[test]
fn values_convert() {
    let m: BTreeMap<String, Value> = [("a".to_string(), Value::from(1i64))].into();
    assert_eq!(Value::from(m), map(&[("a", Value::Int(1))]));
    let list = vec![
        Value::from(true),
        Value::from(1.5),
        Value::from(String::from("s")),
    ];
    let want = vec![Value::Bool(true), Value::Num(1.5), Value::Str("s".into())];
    assert_eq!(Value::from(list), Value::List(want));
}
