//! Tests of the LogQL parser, continued (a child of `tests/mod.rs`): error cases with
//! their position and message, `check_selector`, the nesting limit, and random inputs that
//! must never panic (and must round-trip through `Display` whenever they parse).

use super::super::super::ast::MatchOp;
use super::super::{MAX_DEPTH, MAX_QUERY_BYTES, ParseError, check_selector, parse};
use super::{cases, m, metric, n};

/// `(query, byte position, message fragment)`.
fn error_cases() -> Vec<(String, usize, &'static str)> {
    [
        lexical_errors(),
        syntax_errors(),
        selector_errors(),
        aggregation_errors(),
        binary_errors(),
        stage_errors(),
        limit_errors(),
    ]
    .concat()
}

/// Lexical errors: unterminated and badly escaped strings, durations, stray characters.
fn lexical_errors() -> Vec<(String, usize, &'static str)> {
    vec![
        (r#"{foo="bar}"#.into(), 5, "literal not terminated"),
        (
            r#"{a="\q"}"#.into(),
            4,
            "invalid escape sequence in string: \\q",
        ),
        (r#"{a="\xff"}"#.into(), 3, "invalid UTF-8"),
        (
            r#"rate({a="b"}[$__auto])"#.into(),
            13,
            "Grafana variables such as $__interval and $__auto",
        ),
        (
            r#"rate({a="b"}[5minutes])"#.into(),
            13,
            r#"not a valid duration string: "5minutes""#,
        ),
        (
            r#"rate({a="b"}[5m)"#.into(),
            12,
            "missing closing ']' in duration",
        ),
        (
            r#"rate({a="b"}[5m] offset $__interval)"#.into(),
            24,
            "unexpected character '$'",
        ),
        (
            r#"{a="b"} | x > 5minutes"#.into(),
            15,
            r#"unexpected IDENTIFIER "minutes" ("5minutes" is not a valid"#,
        ),
    ]
}

/// Syntax errors: what the grammar does not allow where it stands.
fn syntax_errors() -> Vec<(String, usize, &'static str)> {
    vec![
        (
            r#"{foo="bar""#.into(),
            10,
            "syntax error: unexpected end of input, expecting } or ,",
        ),
        (
            r#"{foo="bar"} |~"#.into(),
            14,
            "unexpected end of input, expecting STRING or ip",
        ),
        (
            r#"{foo="bar"} "foo""#.into(),
            12,
            "syntax error: unexpected STRING",
        ),
        (
            r#"{foo="bar"} foo"#.into(),
            12,
            r#"syntax error: unexpected IDENTIFIER "foo""#,
        ),
        (
            r#"min({a="b"}[5m])"#.into(),
            11,
            "unexpected RANGE, expecting )",
        ),
        (
            r#"{a="b"} |= "x" [5m]"#.into(),
            15,
            "a range is only allowed inside a range aggregation",
        ),
        (
            r#"vector(abc)"#.into(),
            7,
            r#"unexpected IDENTIFIER "abc", expecting NUMBER"#,
        ),
        (
            r#"-rate({a="b"}[5m])"#.into(),
            1,
            "a sign is only allowed before a number",
        ),
        (
            r#"{a="b"} | addr >= ip("1.2.3.4")"#.into(),
            18,
            r#"unexpected IDENTIFIER "ip""#,
        ),
        (
            r#"count_over_time({a="b"})"#.into(),
            23,
            "expecting a range such as [5m]",
        ),
    ]
}

/// Selectors that every stream would match.
fn selector_errors() -> Vec<(String, usize, &'static str)> {
    vec![
        (
            "{}".into(),
            0,
            "queries require at least one regexp or equality matcher",
        ),
        (
            r#"{app=~".*"}"#.into(),
            0,
            "does not have an empty-compatible value",
        ),
        (
            r#"{foo!="bar"}"#.into(),
            0,
            "does not have an empty-compatible value",
        ),
        (
            r#"count_over_time({foo!~"bar|baz"}[5m])"#.into(),
            16,
            "does not have an empty-compatible value",
        ),
    ]
}

/// Range and vector aggregations with the wrong unwrap, parameter or grouping.
fn aggregation_errors() -> Vec<(String, usize, &'static str)> {
    vec![
        (
            r#"sum_over_time({a="b"}[5m])"#.into(),
            0,
            "invalid aggregation sum_over_time without unwrap",
        ),
        (
            r#"count_over_time({a="b"} | unwrap x [5m])"#.into(),
            0,
            "invalid aggregation count_over_time with unwrap",
        ),
        (
            r#"count_over_time({a="b"}[5m]) by (a)"#.into(),
            0,
            "grouping not allowed for count_over_time aggregation",
        ),
        (
            r#"quantile_over_time({a="b"} | unwrap x [5m])"#.into(),
            0,
            "parameter required for operation quantile_over_time",
        ),
        (
            r#"sum_over_time(50, {a="b"} | unwrap x [5m])"#.into(),
            14,
            "parameter 50 not supported for operation sum_over_time",
        ),
        (
            r#"topk(1.2, rate({a="b"}[5m]))"#.into(),
            5,
            "invalid parameter topk(1.2,",
        ),
        (
            r#"topk(0, rate({a="b"}[5m]))"#.into(),
            5,
            "invalid parameter (must be greater than 0) topk(0,",
        ),
        (
            r#"sum(3, rate({a="b"}[5m]))"#.into(),
            4,
            "unsupported parameter for operation sum(3,",
        ),
        (
            r#"sort by (a) (rate({a="b"}[5m]))"#.into(),
            0,
            "sort and sort_desc doesn't allow grouping",
        ),
        (
            r#"sum by (a) (rate({a="b"}[5m])) by (b)"#.into(),
            31,
            "has two groupings",
        ),
        (
            r#"{a="b"} | unwrap x"#.into(),
            10,
            "unwrap is only allowed inside a range aggregation",
        ),
        (
            r#"rate({a="b"} | unwrap x | json [5m])"#.into(),
            26,
            "only label filters are allowed after | unwrap",
        ),
    ]
}

/// Binary operators and `label_replace` with operands or modifiers they refuse.
fn binary_errors() -> Vec<(String, usize, &'static str)> {
    vec![
        (
            r#"rate({a="b"}[5m]) or 1"#.into(),
            18,
            "unexpected literal for right leg of logical/set binary operation (or)",
        ),
        (
            r#"{a="b"} + 1"#.into(),
            8,
            "unexpected log query on the left side of binary operation (+)",
        ),
        (
            "1 + bool 1".into(),
            4,
            "bool modifier can only be used on comparison operators",
        ),
        (
            r#"rate({a="b"}[5m]) and on(a) group_left rate({a="b"}[5m])"#.into(),
            28,
            r#"no grouping allowed for "and""#,
        ),
        (
            r#"label_replace(rate({a="b"}[5m]), "foo", "$1", "bar", "^^^^x43\\q")"#.into(),
            53,
            "invalid escape sequence: `\\q`",
        ),
    ]
}

/// Pipeline stages and line filters whose regexps, patterns or arguments are invalid.
fn stage_errors() -> Vec<(String, usize, &'static str)> {
    vec![
        (
            r#"{a="b"} | regexp "(\\w+)""#.into(),
            17,
            "at least one named capture must be supplied",
        ),
        (
            r#"{a="b"} | pattern "<a><b>""#.into(),
            18,
            "found consecutive capture '<a><b>'",
        ),
        (
            r#"{a="b"} |> "<_> <name>""#.into(),
            11,
            "named captures are not allowed",
        ),
        (
            "{a=\"b\"}\n  |~ \"(\"".into(),
            13,
            "invalid regexp in line filter: missing closing )",
        ),
        (
            r#"{a="b"} |= "x" or ip("1.1.1.1")"#.into(),
            8,
            "cannot mix ip(...) and plain strings",
        ),
        (
            r#"{a="b"} |~ ip("1.1.1.1")"#.into(),
            8,
            "ip(...) line filters only support |= and !=",
        ),
        (
            r#"{a="b"} | size > -5KB"#.into(),
            18,
            "a byte size cannot be negative",
        ),
        (
            r#"{a="b"} | label_format a=b, a="{{.c}}""#.into(),
            28,
            "multiple label name 'a' not allowed",
        ),
        (
            r#"{a="b"} | label_format __error__=b"#.into(),
            23,
            "__error__ cannot be formatted",
        ),
    ]
}

/// Unsupported functions and the limits: nesting depth and query size.
fn limit_errors() -> Vec<(String, usize, &'static str)> {
    let deep = format!(
        "{}1{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    let long_chain = format!("1{}", " + 1".repeat(MAX_DEPTH + 1));
    vec![
        (
            r#"approx_topk(2, rate({a="b"}[5m]))"#.into(),
            0,
            "approx_topk is not supported",
        ),
        (deep, MAX_DEPTH, "nested too deeply"),
        (long_chain, 0, "nested too deeply"),
        ("1".repeat(MAX_QUERY_BYTES + 1), 0, "input size too long"),
    ]
}

#[test]
fn errors_have_position_and_message() {
    for (query, pos, fragment) in error_cases() {
        let short: String = query.chars().take(80).collect();
        let err = match parse(&query) {
            Ok(e) => panic!("query {short} parsed as {e:?}"),
            Err(err) => err,
        };
        assert!(
            err.to_string().contains(fragment),
            "query: {short}\nerror: {err}\nwanted: {fragment}"
        );
        if !fragment.contains("nested too deeply") || query.starts_with('(') {
            assert_eq!(err.pos(), pos, "query: {short}\nerror: {err}");
        }
    }
}

#[test]
fn errors_print_like_loki() {
    let err = parse(r#"{foo="bar"} foo"#).err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some(r#"parse error at line 1, col 13: syntax error: unexpected IDENTIFIER "foo""#)
    );
    let err = parse("{a=\"b\"}\n  |~ \"(\"").err();
    assert_eq!(err.as_ref().map(ParseError::line_col), Some((2, 6)));
    assert!(matches!(err, Some(ParseError::Invalid { .. })));
    let err = parse("{a=\"é\"} é").err();
    assert_eq!(err.as_ref().map(ParseError::line_col), Some((1, 9)));
}

#[test]
fn check_selector_needs_a_selective_matcher() {
    use MatchOp::{Eq, Ne, Nre, Re};
    let selective = [
        vec![m("a", Eq, "b")],
        vec![m("a", Re, ".+"), m("b", Ne, "x")],
        vec![m("a", Re, "a|b")],
        vec![m("a", Re, "(?i)x*y")],
        vec![m("a", Re, r"\bx?")],
        vec![m("a", Re, "[^]]*z")],
        vec![m("a", Re, r"\Qab\E")],
        vec![m("a", Re, "x{1,3}")],
        vec![m("a", Nre, ".*")],
        vec![m("a", Ne, "")],
    ];
    for ms in selective {
        assert_eq!(check_selector(&ms), Ok(()), "{ms:?}");
    }
    let unselective = [
        vec![],
        vec![m("a", Eq, "")],
        vec![m("a", Ne, "x")],
        vec![m("a", Re, ".*")],
        vec![m("a", Re, "")],
        vec![m("a", Re, "a|")],
        vec![m("a", Re, "(a|b)?")],
        vec![m("a", Re, "x{0,3}")],
        vec![m("a", Re, "(?i)")],
        vec![m("a", Re, "^$")],
        vec![m("a", Re, r"\B(?:x*)")],
        vec![m("a", Nre, ".+")],
        vec![m("a", Nre, "a|b")],
    ];
    for ms in unselective {
        let err = check_selector(&ms).err();
        assert!(
            err.is_some_and(|e| e.message().contains("empty-compatible")),
            "{ms:?}"
        );
    }
    for bad in [
        "(",
        "a)",
        "[a",
        "*a",
        r"a\",
        r"\q",
        "x{2,1}",
        "(?=a)",
        "(?P<n>a)(?P<n>b)",
    ] {
        let err = check_selector(&[m("a", Re, bad)]).err();
        assert!(
            err.is_some_and(|e| e.message().contains("invalid regexp")),
            "{bad}"
        );
    }
}

#[test]
fn nesting_up_to_the_limit_parses_and_prints() {
    let depth = MAX_DEPTH / 2 - 1;
    let nested = format!("{}vector(1){}", "sum(".repeat(depth), ")".repeat(depth));
    let e = parse(&nested).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parse(&e.to_string()).ok(), Some(e));
    let parens = format!(
        "{}1{}",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    assert_eq!(parse(&parens).ok(), Some(metric(n(1.0))));
    let chain = format!(
        "{{a=\"b\"}} | x=\"1\"{}",
        " or y=\"2\"".repeat(MAX_DEPTH / 2)
    );
    let e = parse(&chain).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parse(&e.to_string()).ok(), Some(e));
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Parses `input`; when it parses, its printed form must parse to the same tree.
fn check_round_trip(input: &str) -> bool {
    let Ok(e) = parse(input) else { return false };
    let printed = e.to_string();
    match parse(&printed) {
        Ok(again) => assert_eq!(again, e, "input: {input:?}\nprinted: {printed:?}"),
        Err(err) => panic!("input: {input:?}\nprinted: {printed:?}\nerror: {err}"),
    }
    true
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let alphabet = "{}()[]|=!~<>+-*/%^,\"`#\\ \n.0123456789abcdefmsyKMiBx_$é";
    let alphabet: Vec<char> = alphabet.chars().collect();
    for i in 0..20_000 {
        let len = rng.below(40);
        let s: String = if i % 2 == 0 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect()
        };
        check_round_trip(&s);
    }
}

#[test]
fn random_token_soups_never_panic() {
    const FRAGMENTS: [&str; 64] = [
        "| unwrap x",
        "{",
        "}",
        "(",
        ")",
        "[5m]",
        "[1h30m]",
        "[0]",
        ",",
        r#"a="b""#,
        r#"app=~".+""#,
        r#"x!="""#,
        "|",
        "|=",
        "!=",
        "|~",
        "!~",
        "|>",
        "!>",
        r#""x""#,
        "`y`",
        r#""<_> a""#,
        "or",
        "and",
        "unless",
        "json",
        "logfmt",
        "--strict",
        "--keep-empty",
        "unwrap",
        "bytes(x)",
        "duration",
        "x",
        "y",
        ">",
        ">=",
        "==",
        "<",
        "=",
        "250ms",
        "10KB",
        "-",
        "+",
        "*",
        "/",
        "^",
        "1",
        "0.5",
        "rate",
        "count_over_time",
        "sum_over_time",
        "quantile_over_time",
        "sum",
        "topk",
        "by",
        "without",
        "(a)",
        "bool",
        "on(a)",
        "group_left",
        "vector(1)",
        "label_replace",
        "offset 1h",
        "ip(\"1.2.3.4\")",
    ];
    let mut rng = Rng(42);
    let mut parsed = 0;
    for _ in 0..30_000 {
        let count = 1 + rng.below(16);
        let mut s = String::new();
        for _ in 0..count {
            s.push_str(FRAGMENTS[rng.below(FRAGMENTS.len())]);
            if rng.below(3) > 0 {
                s.push(' ');
            }
        }
        parsed += usize::from(check_round_trip(&s));
    }
    assert!(parsed > 0, "no soup parsed");
}

#[test]
fn mutated_table_queries_never_panic_and_round_trip() {
    let queries: Vec<&str> = cases().iter().map(|(q, _)| *q).collect();
    let inserts = [
        " ", "(", ")", "|", "or ", " and ", "-", "[5m]", "\"", "`", "{", "}", ",", "by (a)",
        "| json", "1", "bool ",
    ];
    let mut rng = Rng(7);
    let mut parsed = 0;
    for _ in 0..20_000 {
        let mut chars: Vec<char> = queries[rng.below(queries.len())].chars().collect();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(chars.len() + 1);
            match rng.below(4) {
                0 if at < chars.len() => {
                    let end = (at + 1 + rng.below(6)).min(chars.len());
                    chars.drain(at..end);
                }
                1 => {
                    let ins: Vec<char> = inserts[rng.below(inserts.len())].chars().collect();
                    chars.splice(at..at, ins);
                }
                2 if at + 1 < chars.len() => chars.swap(at, at + 1),
                _ => {
                    let from = rng.below(chars.len() + 1);
                    let to = (from + rng.below(10)).min(chars.len());
                    let copy: Vec<char> = chars[from..to].to_vec();
                    chars.splice(at..at, copy);
                }
            }
        }
        let s: String = chars.into_iter().collect();
        parsed += usize::from(check_round_trip(&s));
    }
    assert!(parsed > 1000, "only {parsed} mutants parsed");
}
