//! Span/log attribute rules.

use super::super::{AttributeRuleConfig, AttributeRules, RelabelError};
use super::{labels, parse};

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

fn compile(src: &str) -> AttributeRules {
    AttributeRules::new(&parse(src).attribute_rules, KEY).unwrap_or_else(|e| panic!("{e}"))
}

type Attrs = Vec<(String, String)>;

/// Applies `rules` to `input`; the result and the `(rule, count)` reports.
fn run(rules: &AttributeRules, input: &[(&str, &str)]) -> (Attrs, Vec<(usize, u32)>) {
    let mut attrs = labels(input);
    let mut counts = Vec::new();
    rules.apply(&mut attrs, |rule, n| counts.push((rule, n)));
    (attrs, counts)
}

#[test]
fn hmac_sha256_matches_rfc_4231() {
    // RFC 4231 test cases 1, 2 and 6 (key longer than a block); `hash_value`
    // shows the first 16 bytes.
    let cases: [(&[u8], &str, &str); 3] = [
        (&[0x0b; 20], "Hi There", "b0344c61d8db38535ca8afceaf0bf12b"),
        (
            b"Jefe",
            "what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c7",
        ),
        (
            &[0xaa; 131],
            "Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f",
        ),
    ];
    for (key, msg, want) in cases {
        let rules = AttributeRules::new(&[], key).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rules.hash_value(msg), want);
    }
}

#[test]
fn doc_example_hashes_client_ips() {
    let rules = compile(
        r#"
        [[attribute_rules]]
        name = "hash client IPs"
        action = "hash"
        attributes = ["client.address", "net.peer.ip"]
        "#,
    );
    assert_eq!(rules.rule_names(), ["hash client IPs"]);
    let input = [
        ("http.method", "GET"),
        ("client.address", "10.1.2.3"),
        ("net.peer.ip", "10.1.2.3"),
    ];
    let (attrs, counts) = run(&rules, &input);
    // HMAC-SHA256(KEY, "10.1.2.3"), first 16 bytes (checked with Python's hmac).
    let h = "b44455494c912e737bfac1516e50428c";
    assert_eq!(
        attrs,
        labels(&[
            ("http.method", "GET"),
            ("client.address", h),
            ("net.peer.ip", h)
        ])
    );
    assert_eq!(counts, [(0, 2)]);
    assert_eq!(rules.hash_value("10.1.2.3"), h);
    // Another key gives another, unrelated hash.
    let other = AttributeRules::new(&[], &[7; 32]).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(other.hash_value("10.1.2.3"), h);
    // Attributes without the listed keys are untouched and not reported.
    assert_eq!(run(&rules, &[("a", "b")]), (labels(&[("a", "b")]), vec![]));
}

#[test]
fn drop_keep_and_key_regex() {
    let rules = compile(
        r#"
        [[attribute_rules]]
        action = "drop"
        attributes_regex = 'http\.request\.header\..*'
        attributes = ["user.email"]
        [[attribute_rules]]
        action = "KEEP"
        attributes = ["http.method", "http.route", "user.id"]
        attributes_regex = "service[.].*"
        "#,
    );
    let input = [
        ("http.method", "GET"),
        ("http.request.header.cookie", "s=1"),
        ("user.email", "a@b.c"),
        ("http.route", "/x"),
        ("db.statement", "select 1"),
        ("service.name", "api"),
    ];
    let (attrs, counts) = run(&rules, &input);
    let want = [
        ("http.method", "GET"),
        ("http.route", "/x"),
        ("service.name", "api"),
    ];
    assert_eq!(attrs, labels(&want));
    assert_eq!(counts, [(0, 2), (1, 1)]);
    assert_eq!(rules.rule_names(), ["rule 1", "rule 2"]);
}

#[test]
fn replace_rewrites_matching_values_only() {
    let rules = compile(
        r#"
        [[attribute_rules]]
        name = "mask last octet"
        action = "replace"
        attributes = ["client.address", "server.address"]
        regex = '(\d+\.\d+\.\d+)\.\d+'
        replacement = "${1}.0"
        [[attribute_rules]]
        action = "replace"
        attributes = ["password"]
        replacement = "REDACTED"
        "#,
    );
    let input = [
        ("client.address", "10.1.2.3"),
        ("server.address", "example.com"),
        ("other", "10.1.2.3"),
        ("password", "hunter2"),
    ];
    let (attrs, counts) = run(&rules, &input);
    let want = [
        ("client.address", "10.1.2.0"),
        ("server.address", "example.com"),
        ("other", "10.1.2.3"),
        ("password", "REDACTED"),
    ];
    assert_eq!(attrs, labels(&want));
    assert_eq!(counts, [(0, 1), (1, 1)]);
    // Already masked: matches, but changes nothing, so counts nothing.
    let (attrs, counts) = run(&rules, &[("client.address", "10.1.2.0")]);
    assert_eq!(
        (attrs, counts),
        (labels(&[("client.address", "10.1.2.0")]), vec![])
    );
}

#[test]
fn repeated_keys_are_all_handled() {
    let rules = compile("[[attribute_rules]]\naction = \"hash\"\nattributes = [\"ip\"]\n");
    let (attrs, counts) = run(&rules, &[("ip", "1"), ("ip", "1"), ("ip", "2")]);
    assert_eq!(counts, [(0, 3)]);
    assert_eq!(attrs.first().map(|a| &a.1), attrs.get(1).map(|a| &a.1));
    assert_ne!(attrs.first().map(|a| &a.1), attrs.get(2).map(|a| &a.1));
}

fn error(src: &str, key: &[u8]) -> RelabelError {
    match AttributeRules::new(&parse(src).attribute_rules, key) {
        Ok(r) => panic!("expected an error, compiled {r:?}"),
        Err(e) => e,
    }
}

#[test]
fn attribute_rule_errors() {
    let cases: [(&str, &[u8], &str, &str); 8] = [
        (
            "action = \"mask\"\nattributes = [\"a\"]",
            KEY,
            "attribute rule 1 (action mask): unknown action \"mask\"; expected one of drop, hash, replace, keep",
            "action",
        ),
        (
            "action = \"drop\"",
            KEY,
            "attribute rule 1 (action drop): attributes or attributes_regex is required",
            "attributes",
        ),
        (
            "action = \"drop\"\nattributes = [\"\"]",
            KEY,
            "attribute rule 1 (action drop): attribute keys must not be empty",
            "attributes",
        ),
        (
            "action = \"drop\"\nattributes_regex = \"(\"",
            KEY,
            "attribute rule 1 (action drop): invalid regex \"(\": unclosed group",
            "attributes_regex",
        ),
        (
            "action = \"hash\"\nattributes = [\"a\"]\nregex = \"x\"",
            KEY,
            "attribute rule 1 (action hash): regex is only valid for the replace action",
            "regex",
        ),
        (
            "name = \"ips\"\naction = \"hash\"\nattributes = [\"a\"]",
            b"short",
            "attribute rule 1 \"ips\" (action hash): hash requires a hash key of at least 16 bytes, got 5",
            "hash_key",
        ),
        (
            "action = \"replace\"\nattributes = [\"a\"]",
            KEY,
            "attribute rule 1 (action replace): replace requires regex or replacement (it would change nothing)",
            "replacement",
        ),
        (
            "action = \"replace\"\nattributes = [\"a\"]\nregex = \"a)\"",
            KEY,
            "attribute rule 1 (action replace): invalid regex \"a)\": unopened group",
            "regex",
        ),
    ];
    for (body, key, want, field) in cases {
        let err = error(&format!("[[attribute_rules]]\n{body}\n"), key);
        assert_eq!(err.to_string(), want, "{body}");
        assert_eq!(err.field(), field, "{body}");
    }
    // Without a hash rule, any key (even none) is fine.
    let ok = [AttributeRuleConfig {
        action: "drop".into(),
        attributes: vec!["a".into()],
        ..AttributeRuleConfig::default()
    }];
    assert!(AttributeRules::new(&ok, b"").is_ok());
}
