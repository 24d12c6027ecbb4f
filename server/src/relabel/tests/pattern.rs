//! Go regex dialect, `Regexp.Expand` templates, case mapping and hashmod.

use super::super::apply::{push_lower, push_upper};
use super::super::goregex::translate_go;
use super::super::pattern::{Pattern, Template, required_prefix};
use super::{check, labels, run};

fn matches(regex: &str, value: &str) -> bool {
    Pattern::new(regex)
        .unwrap_or_else(|e| panic!("{regex}: {e}"))
        .is_match(value)
}

#[test]
fn go_dialect() {
    let cases = [
        // Anchored, and `.` matches newlines (`(?s)`).
        ("foo", "foo", true),
        ("foo", "xfoo", false),
        ("f|o", "foo", false),
        ("a.b", "a\nb", true),
        ("", "", true),
        ("", "x", false),
        // Go's Perl classes and `\b` are ASCII-only.
        (r"\d+", "42", true),
        (r"\d+", "4\u{663}", false),
        (r"\w+", "caf\u{e9}", false),
        (r"\W", "\u{e9}", true),
        (r"a\sb", "a\u{a0}b", false),
        (r"a\sb", "a\tb", true),
        (r"[\d.]+", "1.2", true),
        (r"[^\d]+", "ab", true),
        (r"[\D]+", "ab", true),
        (r".*\bx", "\u{e9}x", true),
        // `\Q...\E` quotes, to the end without `\E`.
        (r"\Q.*+\E!", ".*+!", true),
        (r"\Q.*+\E!", "aa!", false),
        (r"a\Q(b", "a(b", true),
        // A `{` that starts no repetition is a literal.
        ("foo{bar}", "foo{bar}", true),
        ("a{", "a{", true),
        ("a{,2}", "a{,2}", true),
        ("a{2}", "aa", true),
        ("a{1,}", "aaa", true),
        ("a{1,2}", "aaa", false),
        // Inside a class, `[`, `&&` and `~~` are literals; `]` first is a literal.
        ("[[]", "[", true),
        ("[a&&b]+", "a&b", true),
        ("[a~~b]", "~", true),
        ("[]a]+", "]a", true),
        ("[^]a]", "b", true),
        ("[[:alpha:]]+", "abc", true),
        ("[[:^digit:]]", "a", true),
        // `\<` and `\>` are literals in Go, word boundaries in Rust.
        (r"\<a\>", "<a>", true),
        // The literal-prefix check must not reject what the regex accepts.
        ("ab*c", "ac", true),
        ("ab?c", "ac", true),
        ("ab{0}c", "ac", true),
        ("ab+", "abbb", true),
        ("x(a|b)", "xb", true),
        ("ab|cd", "cd", true),
        ("__meta_(.+)", "__meta_x", true),
        ("__meta_(.+)", "__met", false),
        // Unicode classes and hex escapes keep their braces.
        (r"\p{Greek}+", "αβ", true),
        (r"\pL\PL", "a1", true),
        (r"[\p{Greek}x]+", "αx", true),
        (r"\x{41}\x42", "AB", true),
        // Octal escapes, flags, named groups.
        (r"\101", "A", true),
        ("(?i)abc", "ABC", true),
        ("(?P<x>a)(?<y>b)", "ab", true),
    ];
    for (regex, value, want) in cases {
        assert_eq!(
            matches(regex, value),
            want,
            "{regex:?} on {value:?} ({})",
            translate_go(regex)
        );
    }
}

#[test]
fn required_prefix_is_conservative() {
    let cases = [
        ("__meta_(.+)", "__meta_"),
        ("abc.*", "abc"),
        ("ab*c", "a"),
        ("é+", ""),
        ("foo{2}", "fo"),
        ("a|b", ""),
        ("x(a|b)", ""),
        ("(x)", ""),
        ("peer_id.", "peer_id"),
    ];
    for (regex, want) in cases {
        assert_eq!(required_prefix(regex), want, "{regex}");
    }
}

#[test]
fn go_invalid_regexes_are_errors() {
    for bad in ["(", "a)", "[a", "*a", "a\\", "(?<n>a)(?<n>b)", "\\pX"] {
        assert!(Pattern::new(bad).is_err(), "{bad:?}");
    }
}

/// Expands `template` after matching `regex` against `value`.
fn expand(regex: &str, value: &str, template: &str) -> String {
    let pattern = Pattern::new(regex).unwrap_or_else(|e| panic!("{e}"));
    let t = Template::new(template, &pattern);
    let mut slot = None;
    assert!(super::super::pattern::match_with_groups(
        &pattern, value, true, &mut slot
    ));
    let mut out = String::new();
    t.expand(&mut out, value, &pattern.matcher, slot.as_ref());
    out
}

#[test]
fn expand_like_go() {
    let cases = [
        ("(a)(b)", "ab", "$1", "a"),
        ("(a)(b)", "ab", "${2}${1}", "ba"),
        ("(a)(b)", "ab", "$0", "ab"),
        // `$1x` is the group named `1x`: nothing.
        ("(a)(b)", "ab", "$1x", ""),
        ("(a)(b)", "ab", "${1}x", "ax"),
        ("(a)(b)", "ab", "$$1", "$1"),
        ("(a)(b)", "ab", "cost: $", "cost: $"),
        ("(a)(b)", "ab", "$-", "$-"),
        ("(a)(b)", "ab", "${1", "${1"),
        ("(a)(b)", "ab", "${}", "${}"),
        // Leading zeros are names, and out-of-range groups are empty.
        ("(a)(b)", "ab", "$01", ""),
        ("(a)(b)", "ab", "[$3]", "[]"),
        ("(a)(b)", "ab", "[$123456789012]", "[]"),
        ("(?P<first>a)(?<second>b)", "ab", "$second-${first}", "b-a"),
        ("(?P<first>a)(b)", "ab", "$nope.$first", ".a"),
        // An unmatched optional group is empty.
        ("(a)(x)?(b)", "ab", "<$2>$3", "<>b"),
        // The fast paths: `(.*)`, `(.+)`, `.*`, literals.
        ("(.*)", "v", "$1$1$0", "vvv"),
        ("(.+)", "v", "${1}!", "v!"),
        (".*", "v", "[$1]", "[]"),
        ("lit", "lit", "$0-$1", "lit-"),
    ];
    for (regex, value, template, want) in cases {
        assert_eq!(
            expand(regex, value, template),
            want,
            "{regex} {value} {template}"
        );
    }
}

#[test]
fn case_mapping_is_gos_simple_mapping() {
    let lower = |s: &str| {
        let mut out = String::new();
        push_lower(s, &mut out);
        out
    };
    let upper = |s: &str| {
        let mut out = String::new();
        push_upper(s, &mut out);
        out
    };
    assert_eq!(lower("bAr123Foo"), "bar123foo");
    assert_eq!(upper("bAr123Foo"), "BAR123FOO");
    // No final-sigma rule, one rune per rune.
    assert_eq!(lower("ΟΔΟΣ"), "οδοσ");
    assert_eq!(lower("\u{130}"), "i");
    assert_eq!(upper("straße"), "STRAßE");
    assert_eq!(upper("\u{1FB3}\u{1F80}"), "\u{1FBC}\u{1F88}");
    assert_eq!(upper("ﬁ"), "ﬁ");
    assert_eq!(lower("ÀÉ"), "àé");
}

#[test]
fn lowercase_of_empty_removes_the_target() {
    let src =
        "[[rules]]\nsource_labels = [\"missing\"]\naction = \"lowercase\"\ntarget_label = \"x\"\n";
    check(&[("x", "old")], src, Some(&[]));
}

#[test]
fn hashmod_is_sum64_of_md5() {
    // md5("") = d41d8cd98f00b204e9800998ecf8427e; the last 8 bytes as u64.
    let sum64: u64 = 0xe980_0998_ecf8_427e;
    let src = "[[rules]]\naction = \"hashmod\"\nmodulus = 1000003\ntarget_label = \"h\"\n";
    let want = (sum64 % 1_000_003).to_string();
    check(&[], src, Some(&[("h", want.as_str())]));
    let src =
        "[[rules]]\naction = \"hashmod\"\nmodulus = 18446744073709551615\ntarget_label = \"h\"\n";
    let got = run(&[], src).unwrap_or_default();
    assert_eq!(got, labels(&[("h", &sum64.to_string())]));
}

#[test]
fn labelmap_reads_a_snapshot_and_skips_empty_names() {
    // `$0x` would be the group named `0x` (empty): `${0}x` is meant.
    let src = r#"
        [[rules]]
        action = "labelmap"
        regex = "(a|b)"
        replacement = "${1}_"
        [[rules]]
        action = "labelmap"
        regex = "a_|b_"
        replacement = "${0}x"
    "#;
    let out = [
        ("a", "1"),
        ("b", "2"),
        ("a_", "1"),
        ("b_", "2"),
        ("a_x", "1"),
        ("b_x", "2"),
    ];
    check(&[("a", "1"), ("b", "2")], src, Some(&out));
    // Within one rule: `a` writes `ab`, then `ab` (as it was) writes `abb`.
    let src = "[[rules]]\naction = \"labelmap\"\nregex = \"a(.*)\"\nreplacement = \"ab${1}\"\n";
    check(
        &[("a", "1"), ("ab", "2")],
        src,
        Some(&[("a", "1"), ("ab", "1"), ("abb", "2")]),
    );
    let src = "[[rules]]\naction = \"labelmap\"\nregex = \"x(.*)\"\nreplacement = \"$1\"\n";
    check(
        &[("x", "1"), ("xy", "2")],
        src,
        Some(&[("x", "1"), ("xy", "2"), ("y", "2")]),
    );
}

#[test]
fn replace_defaults_copy_and_set_static() {
    // `source_labels` + `target_label` alone copies; no sources sets a static value.
    let src = r#"
        [[rules]]
        source_labels = ["a", "b"]
        target_label = "ab"
        [[rules]]
        target_label = "env"
        replacement = "prod"
        [[rules]]
        source_labels = ["missing"]
        target_label = "a"
    "#;
    let out = [("ab", "1;2"), ("b", "2"), ("env", "prod")];
    check(&[("a", "1"), ("b", "2")], src, Some(&out));
}
