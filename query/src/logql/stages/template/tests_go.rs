//! Go text/template and sprig semantics beyond Loki's own test tables.

use super::*;

#[test]
fn go_template_semantics() {
    let lbs = &[("a", "1"), ("b", ""), ("level", "warn"), ("status", "200")];
    let cases = [
        ("{{- .a -}} x {{- .a }}", "1x1"),
        ("a  {{- /* comment */ -}}  b", "ab"),
        ("{{/* c */}}z", "z"),
        ("{{ if .b }}B{{ else if .a }}A{{ else }}none{{ end }}", "A"),
        ("{{ if .b }}B{{ else }}none{{ end }}", "none"),
        (
            "{{ with .a }}[{{ . }}]{{ end }}{{ with .b }}no{{ else }}empty{{ end }}",
            "[1]empty",
        ),
        ("{{ with .b }}x{{ else with .a }}y{{ . }}{{ end }}", "y1"),
        (r#"{{ if eq .level "warn" "error" }}bad{{ end }}"#, "bad"),
        (r#"{{ if and .a (not .b) }}ok{{ end }}"#, "ok"),
        (r#"{{ or .b "fallback" }}"#, "fallback"),
        (r#"{{ and .a .b }}|{{ and .a "z" }}"#, "|z"),
        (r#"{{ if lt (int .status) 300 }}2xx{{ end }}"#, "2xx"),
        (
            r#"{{ if gt .level "debug" }}gt{{ end }}{{ if le 1.5 2.0 }}le{{ end }}"#,
            "gtle",
        ),
        (
            r#"{{ ne .a "1" }} {{ len .level }} {{ len . }}"#,
            "false 4 4",
        ),
        (
            r#"{{ printf "%s-%d-%5.2f|%-4s|%04d|%q|%v|%x" .level 3 3.14159 "ab" 42 "q\"" true 255 }}"#,
            "warn-3- 3.14|ab  |0042|\"q\\\"\"|true|ff",
        ),
        (r#"{{ printf "%d" .status }}"#, "%!d(string=200)"),
        (r#"{{ printf "%s %s" "x" }}"#, "x %!s(MISSING)"),
        (r#"{{ printf "%s" "x" 1 }}"#, "x%!(EXTRA int=1)"),
        (
            r#"{{ printf "%.2f %e %g %v" 1.005 123456.789 0.000012 1e21 }}"#,
            "1.00 1.234568e+05 1.2e-05 1e+21",
        ),
        (
            r#"{{ print "a" 1 2 "b" }}|{{ println 1 "x" }}"#,
            "a1 2b|1 x\n",
        ),
        (
            "{{ 1.5 }} {{ 3 }} {{ 1e3 }} {{ 0x10 }} {{ 'a' }} {{ -2 }} {{ true }} {{ `raw\\n` }}",
            "1.5 3 1000 16 97 -2 true raw\\n",
        ),
        (
            "{{ $x := .level }}{{ $x }}{{ $x = \"e\" }}{{ $x }}{{ $.a }}",
            "warne1",
        ),
        ("{{ if $y := .a }}{{ $y }}{{ end }}", "1"),
        (r#"{{ index . "level" }}{{ index . "missing" }}"#, "warn"),
        ("{{ . }}", "map[a:1 b: level:warn status:200]"),
        ("{{ default \"d\" nil }}", "d"),
        (
            "{{ (.level | upper) }}{{ .level | printf \"%s!\" | upper }}",
            "WARNWARN!",
        ),
        (
            r#"{{ addf 0.1 0.2 }} {{ mulf 1.1 3 }} {{ subf 1 0.9 }} {{ divf 1 3 }}"#,
            "0.3 3.3 0.1 0.3333333333333333",
        ),
        (
            r#"{{ add "0x10" "2.0" true }} {{ int "08" }} {{ float64 "nope" }}"#,
            "19 0 0",
        ),
        (
            r#"{{ round 2.5 0 }} {{ round -2.5 0 }} {{ round 1.234 2 }}"#,
            "3 -3 1.23",
        ), // sprig: Modf(-2.5) frac is -0.5 < .5 -> Floor
        (
            r#"{{ title "hello wORLD-foo_bar" }} {{ upper "straße" }}"#,
            "Hello WORLD-Foo_bar STRAßE",
        ),
        (
            r#"{{ Trim "xxhixx" "x" }} {{ TrimLeft "xxhi" "x" }} {{ TrimRight "hixx" "x" }} {{ TrimPrefix "prefix" "pre" }} {{ TrimSuffix "suffix" "fix" }}"#,
            "hi hi hi fix suf",
        ),
        (
            r#"{{ "ab" | b64enc }} {{ "a" | b64enc }} {{ "!!!" | b64dec }}"#,
            "YWI= YQ== illegal base64 data at input byte 0",
        ),
        (
            r#"{{ date "Mon Jan _2 15:04:05.000 MST 2006 -07:00 Z07:00 PM" (toDate "2006-01-02 15:04:05 -0700" "2021-11-02 13:04:05 +0200") }}"#,
            "Tue Nov  2 11:04:05.000 UTC 2021 +00:00 Z AM",
        ),
        (
            r#"{{ unixEpoch (toDate "2006-01-02" "not a date") }}"#,
            "-62135596800",
        ),
        (
            r#"{{ date "2006-01-02T15:04:05Z07:00" 0 }}"#,
            "1970-01-01T00:00:00Z",
        ),
        (
            r#"{{ toDate "Jan 2 2006 3:04pm" "feb 29 2024 1:30pm" | unixEpoch }}"#,
            "1709213400",
        ),
        (
            r#"{{ toDate "2006-01-02" "2023-02-29" | unixEpoch }}"#,
            "-62135596800",
        ),
        (
            r#"{{ toDate "2006-01-02 15:04:05" "2024-01-02 03:04:05.123456" | unixEpochMillis }}"#,
            "1704164645123",
        ),
        (
            r#"{{ substr 1 8 "Hello, 世界" }}|{{ trunc -1 "Hello, 世界" }}|{{ alignLeft 8 "Hello, 世界" }}|{{ alignRight 2 "Hello, 世界" }}"#,
            "ello, 世|界|Hello, 世|世界",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(
            render_with(src, lbs, "", 0).as_deref(),
            Ok(want),
            "template {src}"
        );
    }
}

// Loki: Test_trunc, Test_substring, Test_AlignLeft, Test_AlignRight
#[test]
fn loki_rune_helpers() {
    let r = |src: String| render(&src, &[]);
    let s = "Hello, 世界";
    for (c, want) in [(-1, "界"), (1, "H"), (0, ""), (20, s), (-20, s)] {
        assert_eq!(r(format!("{{{{ trunc {c} \"{s}\" }}}}")), want, "trunc {c}");
    }
    for (a, b, want) in [
        (1, 8, "ello, 世"),
        (-10, 8, "Hello, 世"),
        (1, 10, "ello, 世界"),
        (-1, 10, s),
        (-1, 1, "H"),
        (-1, -1, ""),
        (20, -1, ""),
        (1, 1, ""),
        (5, 1, ""),
        (3, -1, "lo, 世界"),
    ] {
        assert_eq!(
            r(format!("{{{{ substr {a} {b} \"{s}\" }}}}")),
            want,
            "substr {a} {b}"
        );
    }
    for (c, l, rr) in [
        (-1, s, s),
        (0, "", ""),
        (1, "H", "界"),
        (20, "Hello, 世界           ", "           Hello, 世界"),
    ] {
        assert_eq!(
            r(format!("{{{{ alignLeft {c} \"{s}\" }}}}")),
            l,
            "alignLeft {c}"
        );
        assert_eq!(
            r(format!("{{{{ alignRight {c} \"{s}\" }}}}")),
            rr,
            "alignRight {c}"
        );
    }
}

// Loki: TestLineFormatter_RequiredLabelNames
#[test]
fn required_labels() {
    let cases: [(&str, &[&str]); 6] = [
        ("{{.foo}} and {{.bar}}", &["foo", "bar"]),
        (
            "{{ .foo | ToUpper | .buzz }} and {{.bar}}",
            &["foo", "buzz", "bar"],
        ),
        (
            r#"{{ regexReplaceAllLiteral "(p)" .foo "${1}" }}"#,
            &["foo"],
        ),
        (
            r#"{{ if  .foo | hasSuffix "Ip" }} {{.bar}} {{end}}-{{ if  .foo | hasSuffix "pw"}}no{{end}}"#,
            &["foo", "bar"],
        ),
        (r#"{{with .foo}}{{printf "%q" .}} {{end}}"#, &["foo"]),
        (
            r#"{{with .foo}}{{printf "%q" .}} {{else}} {{ .buzz | lower }} {{end}}"#,
            &["foo", "buzz"],
        ),
    ];
    for (src, want) in cases {
        let t = Template::parse(src).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.required_labels(),
            want.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "{src}"
        );
    }
}

// Loki: TestMapPoolPanic template (parses and renders).
#[test]
fn loki_map_pool_template() {
    let tmpl = "\u{1b}[1m{{if .level }}{{alignRight 5 .level}}{{else if .severity}}{{alignRight 5 .severity}}{{end}}\u{1b}[0m \u{1b}[90m[{{alignRight 10 .resources_service_instance_id}}{{if .attributes_thread_name}}/{{alignRight 20 .attributes_thread_name}}{{else if eq \"java\" .resources_telemetry_sdk_language }}                    {{end}}]\u{1b}[0m {{.body}}";
    let out = render(tmpl, &[("level", "debug"), ("body", "b")]);
    assert_eq!(
        out,
        "\u{1b}[1mdebug\u{1b}[0m \u{1b}[90m[          ]\u{1b}[0m b"
    );
}

#[test]
fn function_table_documented() {
    let docs = include_str!("mod.rs");
    for name in Template::functions() {
        assert!(
            docs.contains(&format!("`{name}`")),
            "{name} missing from the table"
        );
    }
}

#[test]
fn hostile_templates_terminate() {
    let deep = "{{ ".to_string() + &"(".repeat(50) + "1" + &")".repeat(50) + " }}";
    assert_eq!(render(&deep, &[]), "1");
    let big = r#"{{ "x" | repeat 1000 | repeat 1000 | repeat 1000 }}"#;
    assert!(render_with(big, &[], "", 0).is_err());
    assert!(
        render_with("{{ printf \"%999999999d\" 1 }}", &[], "", 0)
            .is_ok_and(|s| s.len() <= (1 << 20) + 1)
    );
}
