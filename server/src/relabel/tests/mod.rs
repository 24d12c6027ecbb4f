//! Tests: Prometheus's `relabel_test.go` cases, validation, Go regex and template
//! semantics, attribute rules, and an ignored micro benchmark.

use serde::Deserialize;

use super::{AttributeRuleConfig, NameValidation, Outcome, Relabel, RelabelError, RuleConfig};

mod attributes;
mod bench;
mod pattern;
mod prometheus;
mod validate;

/// A config file holding rule lists, as a caller would embed them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rules: Vec<RuleConfig>,
    #[serde(default)]
    attribute_rules: Vec<AttributeRuleConfig>,
}

fn parse(src: &str) -> File {
    toml::from_str(src).unwrap_or_else(|e| panic!("bad test TOML: {e}\n{src}"))
}

fn rules(src: &str) -> Vec<RuleConfig> {
    parse(src).rules
}

fn compile(src: &str) -> Relabel {
    Relabel::new(&rules(src)).unwrap_or_else(|e| panic!("{e}"))
}

/// The error compiling `src` gives, with UTF-8 label names.
fn compile_err(src: &str) -> RelabelError {
    match Relabel::new(&rules(src)) {
        Ok(r) => panic!("expected an error, compiled {r:?}"),
        Err(e) => e,
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Applies `src`'s rules to `input`: `Some(labels)` if kept, `None` if dropped.
fn run(input: &[(&str, &str)], src: &str) -> Option<Vec<(String, String)>> {
    let mut l = labels(input);
    match compile(src).apply(&mut l) {
        Outcome::Kept => Some(l),
        Outcome::Dropped { .. } => None,
    }
}

/// Asserts `src` turns `input` into `output` (sorted here), or drops it (`None`).
#[track_caller]
fn check(input: &[(&str, &str)], src: &str, output: Option<&[(&str, &str)]>) {
    let want = output.map(|o| {
        let mut o = labels(o);
        o.sort();
        o
    });
    assert_eq!(run(input, src), want, "rules:\n{src}");
}

#[test]
fn toml_rule_list_parses_with_prometheus_field_names() {
    let file = parse(
        r#"
        [[rules]]
        action = "labeldrop"
        regex = "peer_id"

        [[rules]]
        name = "shard"
        source_labels = ["__address__", "job"]
        separator = "/"
        modulus = 8
        target_label = "__tmp_shard"
        action = "hashmod"

        [[rules]]
        source_labels = ["pod"]
        regex = '(.+)-[a-z0-9]{5}'
        replacement = "${1}"
        target_label = "deployment"
        "#,
    );
    let want = vec![
        RuleConfig {
            action: Some("labeldrop".into()),
            regex: Some("peer_id".into()),
            ..RuleConfig::default()
        },
        RuleConfig {
            name: Some("shard".into()),
            source_labels: vec!["__address__".into(), "job".into()],
            separator: Some("/".into()),
            modulus: Some(8),
            target_label: Some("__tmp_shard".into()),
            action: Some("hashmod".into()),
            ..RuleConfig::default()
        },
        RuleConfig {
            source_labels: vec!["pod".into()],
            regex: Some("(.+)-[a-z0-9]{5}".into()),
            replacement: Some("${1}".into()),
            target_label: Some("deployment".into()),
            ..RuleConfig::default()
        },
    ];
    assert_eq!(file.rules, want);
    let relabel = Relabel::new(&file.rules).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(relabel.rule_names(), ["rule 1", "shard", "rule 3"]);
    assert_eq!(relabel.len(), 3);
    assert!(!relabel.is_empty());
}

#[test]
fn toml_unknown_field_is_refused() {
    let err = toml::from_str::<File>("[[rules]]\naction = \"drop\"\nregexp = \"x\"\n")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("unknown field `regexp`"), "{err}");
    let err = toml::from_str::<File>("[[attribute_rules]]\naction = \"drop\"\nkeys = [\"x\"]\n")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("unknown field `keys`"), "{err}");
}

#[test]
fn doc_example_drops_peer_id_from_every_series() {
    let src = "[[rules]]\nname = \"no peer_id\"\naction = \"labeldrop\"\nregex = \"peer_id\"\n";
    let relabel = compile(src);
    let mut l = labels(&[
        ("__name__", "up"),
        ("peer_id", "p-17"),
        ("peer_ids", "x"),
        ("job", "a"),
    ]);
    assert_eq!(relabel.apply(&mut l), Outcome::Kept);
    assert_eq!(
        l,
        labels(&[("__name__", "up"), ("job", "a"), ("peer_ids", "x")])
    );
    assert_eq!(relabel.rule_names(), ["no peer_id"]);
}

#[test]
fn input_is_sorted_emptied_and_deduplicated() {
    let relabel = Relabel::new(&[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(relabel.is_empty());
    let mut l = labels(&[
        ("b", "2"),
        ("a", "1"),
        ("e", ""),
        ("b", "3"),
        ("__name__", "m"),
    ]);
    assert_eq!(relabel.apply(&mut l), Outcome::Kept);
    assert_eq!(l, labels(&[("__name__", "m"), ("a", "1"), ("b", "2")]));
    let mut l = labels(&[("b", "2")]);
    assert_eq!(Relabel::default().apply(&mut l), Outcome::Kept);
}

#[test]
fn dropped_names_the_rule_and_stops() {
    let relabel = compile(
        r#"
        [[rules]]
        target_label = "x"
        replacement = "1"
        [[rules]]
        name = "drop debug"
        source_labels = ["level"]
        regex = "debug"
        action = "drop"
        [[rules]]
        target_label = "y"
        replacement = "1"
        "#,
    );
    let mut l = labels(&[("level", "debug")]);
    assert_eq!(relabel.apply(&mut l), Outcome::Dropped { rule: 1 });
    assert_eq!(
        relabel.rule_names().get(1).map(String::as_str),
        Some("drop debug")
    );
    assert_eq!(l, labels(&[("level", "debug"), ("x", "1")]));
    let mut l = labels(&[("level", "info")]);
    assert_eq!(relabel.apply(&mut l), Outcome::Kept);
    assert_eq!(l, labels(&[("level", "info"), ("x", "1"), ("y", "1")]));
}

#[test]
fn a_rule_that_changes_nothing_leaves_the_strings_in_place() {
    let relabel = compile(
        r#"
        [[rules]]
        source_labels = ["job"]
        target_label = "job"
        [[rules]]
        source_labels = ["job"]
        regex = 'a(p+)i'
        target_label = "svc"
        replacement = "a${1}i"
        [[rules]]
        action = "labeldrop"
        regex = "peer_id"
        "#,
    );
    let mut l = labels(&[("job", "api"), ("svc", "api")]);
    let before: Vec<_> = l.iter().map(|(n, v)| (n.as_ptr(), v.as_ptr())).collect();
    let vec_ptr = l.as_ptr();
    for _ in 0..3 {
        assert_eq!(relabel.apply(&mut l), Outcome::Kept);
    }
    let after: Vec<_> = l.iter().map(|(n, v)| (n.as_ptr(), v.as_ptr())).collect();
    assert_eq!((before, vec_ptr), (after, l.as_ptr()));
    assert_eq!(l, labels(&[("job", "api"), ("svc", "api")]));
}

#[test]
fn clones_and_several_rule_sets_share_a_thread() {
    let a = compile(
        "[[rules]]\nsource_labels = [\"x\"]\nregex = '(\\w)(\\w)'\nreplacement = \"$2$1\"\ntarget_label = \"y\"\n",
    );
    let b = compile(
        "[[rules]]\nsource_labels = [\"x\"]\nregex = '(\\w)(\\w)(\\w)'\nreplacement = \"$3\"\ntarget_label = \"z\"\n",
    );
    let a2 = a.clone();
    for r in [&a, &b, &a2, &b, &a] {
        let mut l = labels(&[("x", "ab")]);
        let _ = r.apply(&mut l);
        let mut m = labels(&[("x", "abc")]);
        let _ = r.apply(&mut m);
        if std::ptr::eq(r, &b) {
            assert_eq!(
                (l, m),
                (labels(&[("x", "ab")]), labels(&[("x", "abc"), ("z", "c")]))
            );
        } else {
            assert_eq!(
                (l, m),
                (labels(&[("x", "ab"), ("y", "ba")]), labels(&[("x", "abc")]))
            );
        }
    }
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let r = a.clone();
            std::thread::spawn(move || {
                let mut l = labels(&[("x", if i == 0 { "pq" } else { "rs" })]);
                let _ = r.apply(&mut l);
                l
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().filter_map(|t| t.join().ok()).collect();
    assert_eq!(
        results,
        [
            labels(&[("x", "pq"), ("y", "qp")]),
            labels(&[("x", "rs"), ("y", "sr")])
        ]
    );
}

#[test]
fn legacy_validation_skips_invalid_expanded_targets() {
    let cfg = rules(
        "[[rules]]\nsource_labels = [\"a\"]\nregex = '(.*)'\ntarget_label = \"x_$1\"\nreplacement = \"v\"\n",
    );
    let relabel =
        Relabel::with_validation(&cfg, NameValidation::Legacy).unwrap_or_else(|e| panic!("{e}"));
    let mut l = labels(&[("a", "ok")]);
    let _ = relabel.apply(&mut l);
    assert_eq!(l, labels(&[("a", "ok"), ("x_ok", "v")]));
    let mut l = labels(&[("a", "not-ok")]);
    let _ = relabel.apply(&mut l);
    assert_eq!(l, labels(&[("a", "not-ok")]));
    // With UTF-8 names (the default) the same target is fine.
    let mut l = labels(&[("a", "not-ok")]);
    let _ = Relabel::new(&cfg)
        .unwrap_or_else(|e| panic!("{e}"))
        .apply(&mut l);
    assert_eq!(l, labels(&[("a", "not-ok"), ("x_not-ok", "v")]));
}
