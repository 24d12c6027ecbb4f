//! The cases of Prometheus's `TestRelabel` (model/relabel/relabel_test.go), in
//! order, with their expected outputs; rules written as TOML.

use super::check;

#[test]
fn replace_with_braced_groups() {
    let src = r#"
        [[rules]]
        source_labels = ["a"]
        regex = "f(.*)"
        target_label = "d"
        separator = ";"
        replacement = "ch${1}-ch${1}"
        action = "replace"
    "#;
    let input = [("a", "foo"), ("b", "bar"), ("c", "baz")];
    check(
        &input,
        src,
        Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")]),
    );
}

#[test]
fn replace_chain_reads_earlier_results() {
    let src = r#"
        [[rules]]
        source_labels = ["a", "b"]
        regex = "f(.*);(.*)r"
        target_label = "a"
        replacement = "b${1}${2}m"
        [[rules]]
        source_labels = ["c", "a"]
        regex = "(b).*b(.*)ba(.*)"
        target_label = "d"
        replacement = "$1$2$2$3"
    "#;
    let input = [("a", "foo"), ("b", "bar"), ("c", "baz")];
    check(
        &input,
        src,
        Some(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")]),
    );
}

#[test]
fn drop_then_replace_drops() {
    let src = r#"
        [[rules]]
        source_labels = ["a"]
        regex = ".*o.*"
        action = "drop"
        [[rules]]
        source_labels = ["a"]
        regex = "f(.*)"
        target_label = "d"
        replacement = "ch$1-ch$1"
    "#;
    check(&[("a", "foo")], src, None);
    let drop_only = "[[rules]]\nsource_labels = [\"a\"]\nregex = \".*o.*\"\naction = \"drop\"\n";
    check(&[("a", "foo"), ("b", "bar")], drop_only, None);
}

#[test]
fn replace_takes_the_group_not_the_match() {
    let src = r#"
        [[rules]]
        source_labels = ["a"]
        regex = ".*(b).*"
        target_label = "d"
        replacement = "$1"
    "#;
    check(&[("a", "abc")], src, Some(&[("a", "abc"), ("d", "b")]));
}

#[test]
fn drop_and_keep_are_anchored() {
    let rule = |regex: &str, action: &str| {
        format!("[[rules]]\nsource_labels = [\"a\"]\nregex = \"{regex}\"\naction = \"{action}\"\n")
    };
    check(
        &[("a", "foo")],
        &rule("no-match", "drop"),
        Some(&[("a", "foo")]),
    );
    check(&[("a", "foo")], &rule("f|o", "drop"), Some(&[("a", "foo")]));
    check(&[("a", "foo")], &rule("no-match", "keep"), None);
    check(&[("a", "foo")], &rule("f.*", "keep"), Some(&[("a", "foo")]));
}

#[test]
fn no_match_no_replacement() {
    let src = r#"
        [[rules]]
        source_labels = ["a"]
        regex = "f"
        target_label = "b"
        replacement = "bar"
    "#;
    check(&[("a", "boo")], src, Some(&[("a", "boo")]));
}

#[test]
fn blank_replacement_deletes_the_label() {
    let src = r#"
        [[rules]]
        source_labels = ["a"]
        regex = "(f).*"
        target_label = "$1"
        replacement = "$2"
    "#;
    check(&[("a", "foo"), ("f", "baz")], src, Some(&[("a", "foo")]));
}

#[test]
fn hashmod() {
    let src = r#"
        [[rules]]
        source_labels = ["c"]
        target_label = "d"
        separator = ";"
        action = "hashmod"
        modulus = 1000
    "#;
    let input = [("a", "foo"), ("b", "bar"), ("c", "baz")];
    check(
        &input,
        src,
        Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "976")]),
    );
    let src = r#"
        [[rules]]
        source_labels = ["a"]
        target_label = "b"
        action = "hashmod"
        modulus = 1000
    "#;
    check(
        &[("a", "foo\nbar")],
        src,
        Some(&[("a", "foo\nbar"), ("b", "734")]),
    );
}

#[test]
fn labelmap() {
    let src = "[[rules]]\nregex = \"(b.*)\"\nreplacement = \"bar_${1}\"\naction = \"labelmap\"\n";
    let input = [("a", "foo"), ("b1", "bar"), ("b2", "baz")];
    let out = [
        ("a", "foo"),
        ("b1", "bar"),
        ("b2", "baz"),
        ("bar_b1", "bar"),
        ("bar_b2", "baz"),
    ];
    check(&input, src, Some(&out));

    let src =
        "[[rules]]\nregex = \"__meta_(my.*)\"\nreplacement = \"${1}\"\naction = \"labelmap\"\n";
    let input = [
        ("a", "foo"),
        ("__meta_my_bar", "aaa"),
        ("__meta_my_baz", "bbb"),
        ("__meta_other", "ccc"),
    ];
    let mut out = input.to_vec();
    out.extend([("my_bar", "aaa"), ("my_baz", "bbb")]);
    check(&input, src, Some(&out));
}

#[test]
fn templated_target_label() {
    let rule = |replacement: &str, target: &str, regex: &str| {
        format!(
            "[[rules]]\nsource_labels = [\"a\"]\nregex = \"{regex}\"\naction = \"replace\"\n\
             replacement = \"{replacement}\"\ntarget_label = \"{target}\"\n"
        )
    };
    let re = "some-([^-]+)-([^,]+)";
    // Valid case.
    let input = [("a", "some-name-value")];
    check(
        &input,
        &rule("${2}", "${1}", re),
        Some(&[("a", "some-name-value"), ("name", "value")]),
    );
    // Invalid replacement "": removes the (missing) target, a no-op.
    check(&input, &rule("${3}", "${1}", re), Some(&input));
    // Invalid target labels: `${3}` expands to "".
    let input = [("a", "some-name-0")];
    let three = [
        rule("${1}", "${3}", re),
        rule("${1}", "${3}", re),
        rule("${1}", "${3}", "some-([^-]+)(-[^,]+)"),
    ]
    .concat();
    check(&input, &three, Some(&input));
}

#[test]
fn real_life_sd_tags() {
    let src = r#"
        [[rules]]
        source_labels = ["__meta_sd_tags"]
        regex = "(?:.+,|^)path:(/[^,]+).*"
        replacement = "${1}"
        target_label = "__metrics_path__"
        [[rules]]
        source_labels = ["__meta_sd_tags"]
        regex = "(?:.+,|^)job:([^,]+).*"
        replacement = "${1}"
        target_label = "job"
        [[rules]]
        source_labels = ["__meta_sd_tags"]
        regex = "(?:.+,|^)label:([^=]+)=([^,]+).*"
        replacement = "${2}"
        target_label = "${1}"
    "#;
    let tags = ("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar");
    let out = [
        tags,
        ("__metrics_path__", "/secret"),
        ("job", "some-job"),
        ("foo", "bar"),
    ];
    check(&[tags], src, Some(&out));
}

#[test]
fn issue_12283_labeldrop_then_recreate_then_keep() {
    let src = r#"
        [[rules]]
        regex = "^__meta_kubernetes_pod_container_port_name$"
        action = "labeldrop"
        [[rules]]
        source_labels = ["__meta_kubernetes_pod_annotation_XXX_metrics_port"]
        regex = "(.+)"
        replacement = "metrics"
        target_label = "__meta_kubernetes_pod_container_port_name"
        [[rules]]
        source_labels = ["__meta_kubernetes_pod_container_port_name"]
        regex = "^metrics$"
        action = "keep"
    "#;
    let input = [
        ("__meta_kubernetes_pod_container_port_name", "foo"),
        ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
    ];
    let out = [
        ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
        ("__meta_kubernetes_pod_container_port_name", "metrics"),
    ];
    check(&input, src, Some(&out));
}

#[test]
fn labelkeep_and_labeldrop() {
    let input = [("a", "foo"), ("b1", "bar"), ("b2", "baz")];
    let keep = "[[rules]]\nregex = \"(b.*)\"\naction = \"labelkeep\"\n";
    check(&input, keep, Some(&[("b1", "bar"), ("b2", "baz")]));
    let drop = "[[rules]]\nregex = \"(b.*)\"\naction = \"labeldrop\"\n";
    check(&input, drop, Some(&[("a", "foo")]));
}

#[test]
fn uppercase_and_lowercase() {
    let src = r#"
        [[rules]]
        source_labels = ["foo"]
        action = "uppercase"
        target_label = "foo_uppercase"
        [[rules]]
        source_labels = ["foo"]
        action = "lowercase"
        target_label = "foo_lowercase"
    "#;
    let out = [
        ("foo", "bAr123Foo"),
        ("foo_lowercase", "bar123foo"),
        ("foo_uppercase", "BAR123FOO"),
    ];
    check(&[("foo", "bAr123Foo")], src, Some(&out));
}

#[test]
fn keepequal_and_dropequal() {
    let input = [
        ("__tmp_port", "1234"),
        ("__port1", "1234"),
        ("__port2", "5678"),
    ];
    let rule = |action: &str, target: &str| {
        format!(
            "[[rules]]\nsource_labels = [\"__tmp_port\"]\naction = \"{action}\"\ntarget_label = \"{target}\"\n"
        )
    };
    check(&input, &rule("keepequal", "__port1"), Some(&input));
    check(&input, &rule("dropequal", "__port1"), None);
    check(&input, &rule("dropequal", "__port2"), Some(&input));
    check(&input, &rule("keepequal", "__port2"), None);
}

#[test]
fn dot_matches_newline_and_utf8_label_names() {
    let rule = |source: &str, target: &str| {
        format!(
            "[[rules]]\nsource_labels = [\"{source}\"]\nregex = \"line1.*line2\"\n\
             target_label = \"{target}\"\nseparator = \";\"\nreplacement = \"match${{1}}\"\n"
        )
    };
    let input = [("a", "line1\nline2"), ("b", "bar"), ("c", "baz")];
    let mut out = input.to_vec();
    out.push(("d", "match"));
    check(&input, &rule("a", "d"), Some(&out));
    // Source label with UTF-8 characters.
    let utf8_input = [("utf-8.label", "line1\nline2"), ("b", "bar"), ("c", "baz")];
    let mut out = utf8_input.to_vec();
    out.push(("d", "match"));
    check(&utf8_input, &rule("utf-8.label", "d"), Some(&out));
    // Target label with UTF-8 characters, plain and with a `$` reference.
    let mut out = input.to_vec();
    out.push(("utf-8.label", "match"));
    check(&input, &rule("a", "utf-8.label"), Some(&out));
    check(&input, &rule("a", "utf-8.label${1}"), Some(&out));
}

#[test]
fn various_reference_styles() {
    let src = r#"
        [[rules]]
        source_labels = ["a"]
        regex = "(line1).*(?<second>line2)"
        target_label = "label1_${1}"
        replacement = "val_${second}"
        [[rules]]
        source_labels = ["a"]
        regex = "(line1).*(?<second>line2)"
        target_label = "label2_$1"
        replacement = "val_$second"
    "#;
    let input = [("a", "line1\nline2"), ("b", "bar"), ("c", "baz")];
    let mut out = input.to_vec();
    out.extend([("label1_line1", "val_line2"), ("label2_line1", "val_line2")]);
    check(&input, src, Some(&out));
}

#[test]
fn type_and_unit_from_metric_name() {
    let rule = |regex: &str, target: &str, replacement: &str| {
        format!(
            "[[rules]]\nsource_labels = [\"__name__\"]\nregex = \"{regex}\"\n\
             target_label = \"{target}\"\nreplacement = \"{replacement}\"\naction = \"replace\"\n"
        )
    };
    let input = [("__name__", "http_requests_total")];
    let src = rule(".*_total$", "__type__", "counter");
    check(
        &input,
        &src,
        Some(&[("__name__", "http_requests_total"), ("__type__", "counter")]),
    );
    let input = [("__name__", "disk_usage_bytes")];
    let src = rule(".*_bytes$", "__unit__", "bytes");
    check(
        &input,
        &src,
        Some(&[("__name__", "disk_usage_bytes"), ("__unit__", "bytes")]),
    );
}
