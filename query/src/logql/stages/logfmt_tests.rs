//! Tests for `logfmt`: Loki's TestLogfmtParser_parse (strict and non-strict),
//! keep-empty and expression-parser tables, plus adversarial input.

#![allow(clippy::type_complexity)] // table-driven test data

use super::*;

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

struct Case {
    name: &'static str,
    line: &'static str,
    want: &'static [(&'static str, &'static str)],
    /// `None`: strict output equals `want`; `Some((pos, msg, partial))`.
    strict_err: Option<(usize, &'static str, &'static [(&'static str, &'static str)])>,
}

// Loki: pkg/logql/log/parser_test.go TestLogfmtParser_parse (both the
// non-strict table and the "strict" sub-test). Stream-label collisions
// (`foo_extracted`) are the caller's job and are covered in names.rs.
const CASES: &[Case] = &[
    Case {
        name: "not logfmt",
        line: "foobar====wqe=sdad1r",
        want: &[],
        strict_err: Some((8, "unexpected '='", &[])),
    },
    Case {
        name: "utf8 error rune",
        line: "buzz=foo bar=\u{FFFD}f",
        want: &[("buzz", "foo"), ("bar", " f")],
        strict_err: None,
    },
    Case {
        name: "key alone logfmt",
        line: "buzz bar=foo",
        want: &[("bar", "foo")],
        strict_err: None,
    },
    Case {
        name: "quoted logfmt",
        line: r#"foobar="foo bar""#,
        want: &[("foobar", "foo bar")],
        strict_err: None,
    },
    Case {
        name: "escaped control chars",
        line: r#"foobar="foo\nbar\tbaz""#,
        want: &[("foobar", "foo\nbar\tbaz")],
        strict_err: None,
    },
    Case {
        name: "literal control chars",
        line: "foobar=\"foo\nbar\tbaz\"",
        want: &[("foobar", "foo\nbar\tbaz")],
        strict_err: None,
    },
    Case {
        name: "escaped slash",
        line: r#"foobar="foo ba\\r baz""#,
        want: &[("foobar", r"foo ba\r baz")],
        strict_err: None,
    },
    Case {
        name: "literal newline and escaped slash",
        line: "foobar=\"foo bar\nb\\\\az\"",
        want: &[("foobar", "foo bar\nb\\az")],
        strict_err: None,
    },
    Case {
        name: "double property",
        line: r#"foobar="foo bar" latency=10ms"#,
        want: &[("foobar", "foo bar"), ("latency", "10ms")],
        strict_err: None,
    },
    Case {
        name: "duplicate from line property (first wins)",
        line: r#"foobar="foo bar" foobar=10ms"#,
        want: &[("foobar", "foo bar")],
        strict_err: None,
    },
    Case {
        name: "invalid key names",
        line: r#"foo="foo bar" foo.bar=10ms test-dash=foo"#,
        want: &[
            ("foo", "foo bar"),
            ("foo_bar", "10ms"),
            ("test_dash", "foo"),
        ],
        strict_err: None,
    },
    Case {
        name: "nil",
        line: "",
        want: &[],
        strict_err: None,
    },
    Case {
        name: "empty key",
        line: r#"foo="foo bar" =notkey bar=10ms"#,
        want: &[("foo", "foo bar"), ("bar", "10ms")],
        strict_err: Some((15, "unexpected '='", &[("foo", "foo bar")])),
    },
    Case {
        name: "error rune in key",
        line: "foo=\"foo bar\" b\u{FFFD}r=10ms",
        want: &[("foo", "foo bar")],
        strict_err: Some((20, "invalid key", &[("foo", "foo bar")])),
    },
    Case {
        name: "double quote in key",
        line: r#"foo="foo bar" bu"zz=10ms"#,
        want: &[("foo", "foo bar")],
        strict_err: Some((17, "unexpected '\"'", &[("foo", "foo bar")])),
    },
    Case {
        name: "= in value",
        line: r#"bar=bu=zz foo="foo bar""#,
        want: &[("foo", "foo bar")],
        strict_err: Some((7, "unexpected '='", &[])),
    },
    // Adversarial inputs (not from Loki's table).
    Case {
        name: "unterminated quote",
        line: r#"a=1 b="never closed"#,
        want: &[("a", "1")],
        strict_err: Some((20, "unterminated quoted value", &[("a", "1")])),
    },
    Case {
        name: "invalid escape",
        line: r#"a="x\qy" b=2"#,
        want: &[("b", "2")],
        strict_err: Some((9, "invalid quoted value", &[])),
    },
    Case {
        name: "unicode escapes and surrogates",
        line: r#"a="\u00e9\ud83d\ude00\ud800x" b=c"#,
        want: &[("a", "é😀 x"), ("b", "c")],
        strict_err: None,
    },
    Case {
        name: "only whitespace",
        line: " \t\n ",
        want: &[],
        strict_err: None,
    },
    Case {
        name: "non-ascii key sanitized per char",
        line: "ключ=v 1a=b",
        want: &[("____", "v"), ("_1a", "b")],
        strict_err: None,
    },
];

#[test]
fn loki_parser_table_non_strict() {
    for c in CASES {
        assert_eq!(
            parse(c.line, false, false),
            Ok(pairs(c.want)),
            "case {}",
            c.name
        );
    }
}

#[test]
fn loki_parser_table_strict() {
    for c in CASES {
        let got = parse(c.line, true, false);
        match c.strict_err {
            None => assert_eq!(got, Ok(pairs(c.want)), "case {}", c.name),
            Some((pos, msg, partial)) => assert_eq!(
                got,
                Err(LogfmtError::Syntax {
                    pos,
                    msg: msg.to_string(),
                    partial: pairs(partial)
                }),
                "case {}",
                c.name
            ),
        }
    }
}

// Loki: the strict error text is what ends up in __error_details__.
#[test]
fn strict_error_details_text() {
    let err = parse("foobar====wqe=sdad1r", true, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "logfmt syntax error at pos 8 : unexpected '='"
    );
}

// Loki: parser_test.go TestLogfmtParser_keepEmpty
#[test]
fn keep_empty() {
    let cases: [(&str, bool, &[(&str, &str)]); 4] = [
        ("foo bar=buzz", false, &[("bar", "buzz")]),
        ("foo bar=buzz", true, &[("foo", ""), ("bar", "buzz")]),
        (
            "foo=b\u{FFFD}r bar=buzz",
            false,
            &[("foo", "b r"), ("bar", "buzz")],
        ),
        (
            "foo=b\u{FFFD}r bar=buzz",
            true,
            &[("foo", "b r"), ("bar", "buzz")],
        ),
    ];
    for strict in [false, true] {
        for (line, keep, want) in cases {
            assert_eq!(
                parse(line, strict, keep),
                Ok(pairs(want)),
                "{line:?} keep={keep} strict={strict}"
            );
        }
    }
    assert_eq!(
        parse("a= b", false, true),
        Ok(pairs(&[("a", ""), ("b", "")]))
    );
}

// Loki: parser_test.go TestLogfmtExpressionParser
#[test]
fn selected_keys() {
    let line = "app=foo level=error spaces=\"value with ÜFT8👌\" ts=2021-02-12T19:18:10.037940878Z";
    let sel = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    };
    let cases: [(&[(&str, &str)], &[(&str, &str)]); 6] = [
        (&[("app", "app")], &[("app", "foo")]),
        (
            &[("app", "app"), ("level", "level"), ("ts", "ts")],
            &[
                ("app", "foo"),
                ("level", "error"),
                ("ts", "2021-02-12T19:18:10.037940878Z"),
            ],
        ),
        (&[("test", "level")], &[("test", "error")]),
        (
            &[("app", "app"), ("lvl", "level"), ("timestamp", "ts")],
            &[
                ("app", "foo"),
                ("lvl", "error"),
                ("timestamp", "2021-02-12T19:18:10.037940878Z"),
            ],
        ),
        (&[("spaces", "spaces")], &[("spaces", "value with ÜFT8👌")]),
        (&[("nope", "nope")], &[("nope", "")]),
    ];
    for (exprs, want) in cases {
        assert_eq!(
            parse_selected(line, &sel(exprs), false),
            Ok(pairs(want)),
            "{exprs:?}"
        );
    }
    // last occurrence wins; U+FFFD values become empty
    assert_eq!(
        parse_selected(
            "a=1 a=2 b=x\u{FFFD}",
            &sel(&[("a", "a"), ("b", "b")]),
            false
        ),
        Ok(pairs(&[("a", "2"), ("b", "")]))
    );
    // quoted key expression selects the key verbatim
    assert_eq!(
        parse_selected("a=1", &sel(&[("x", "\"a\"")]), false),
        Ok(pairs(&[("x", "1")]))
    );
    // strict mode reports errors with what was found so far
    assert_eq!(
        parse_selected("a=1 b=\"x", &sel(&[("a", "a")]), true),
        Err(LogfmtError::Syntax {
            pos: 9,
            msg: "unterminated quoted value".into(),
            partial: pairs(&[("a", "1")])
        })
    );
}

// Loki: logfmt/logfmtexpr_test.go and parser_test.go TestXExpressionParserFailures
#[test]
fn key_expressions() {
    assert_eq!(parse_key_expr("app"), Ok("app".to_string()));
    assert_eq!(parse_key_expr("id8"), Ok("id8".to_string()));
    assert_eq!(parse_key_expr(" app "), Ok("app".to_string()));
    let msg = |e: &str| match parse_key_expr(e) {
        Err(LogfmtError::Expression { msg, .. }) => msg,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(msg("field with spaces"), "syntax error: unexpected KEY");
    assert_eq!(msg("fieldwithÜFT8👌"), "unexpected char Ü");
    assert_eq!(msg("1abc"), "unexpected char 1");
    assert!(parse_key_expr("").is_err());
    assert_eq!(
        parse_key_expr("field with spaces").unwrap_err().to_string(),
        "cannot parse expression [field with spaces]: syntax error: unexpected KEY"
    );
}

#[test]
fn decoder_exposes_raw_pairs() {
    let mut d = Decoder::new(r#"foo baz="this is a message" x="#);
    let mut got = Vec::new();
    while !d.eol() && d.scan_keyval() {
        got.push((
            d.key().unwrap_or("").to_string(),
            d.value().unwrap_or("").to_string(),
        ));
    }
    assert_eq!(
        got,
        pairs(&[("foo", ""), ("baz", "this is a message"), ("x", "")])
    );
    assert_eq!(d.err(), None);
}

#[test]
fn huge_line_does_not_blow_up() {
    let line = "k=v ".repeat(100_000) + "x=\"" + &"\\\"".repeat(10_000);
    let out = parse(&line, false, false).unwrap_or_default();
    assert_eq!(out, pairs(&[("k", "v")]));
    assert!(parse(&line, true, false).is_err());
}
