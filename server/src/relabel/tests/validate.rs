//! Validation: Prometheus's `TestRelabelValidate` and
//! `TestTargetLabelLegacyValidity`, and the errors' wording.

use super::{NameValidation, Relabel, RelabelError, compile_err, rules};

/// Compiles `src` with `scheme`; the error's text, or "" when it compiles.
fn validate(src: &str, scheme: NameValidation) -> String {
    Relabel::with_validation(&rules(src), scheme)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn prometheus_relabel_validate_cases() {
    use NameValidation::{Legacy, Utf8};
    let cases: [(&str, NameValidation, &str); 10] = [
        // Prometheus's "relabel action cannot be empty"; an empty action is unknown.
        ("action = \"\"", Utf8, "unknown action \"\""),
        (
            "action = \"replace\"",
            Utf8,
            "replace requires target_label",
        ),
        (
            "action = \"lowercase\"",
            Utf8,
            "lowercase requires target_label",
        ),
        // With UTF-8 names this is a legal rule; legacy names refuse it.
        (
            "action = \"lowercase\"\nreplacement = \"$1\"\ntarget_label = \"${3}\"",
            Utf8,
            "",
        ),
        (
            "action = \"lowercase\"\nreplacement = \"$1\"\ntarget_label = \"${3}\"",
            Legacy,
            "\"${3}\" is an invalid target_label for lowercase",
        ),
        (
            "source_labels = [\"a\"]\nregex = \"some-([^-]+)-([^,]+)\"\nreplacement = \"${1}\"\ntarget_label = \"${3}\"",
            Utf8,
            "",
        ),
        (
            "source_labels = [\"a\"]\nregex = \"some-([^-]+)-([^,]+)\"\nreplacement = \"${1}\"\ntarget_label = \"0${3}\"",
            Utf8,
            "",
        ),
        (
            "source_labels = [\"a\"]\nregex = \"some-([^-]+)-([^,]+)\"\nreplacement = \"${1}\"\ntarget_label = \"-${3}\"",
            Utf8,
            "",
        ),
        (
            "regex = \"__meta_kubernetes_pod_label_(strimzi_io_.+)\"\naction = \"labelmap\"\nreplacement = \"$1\"",
            Legacy,
            "",
        ),
        (
            "regex = \"__meta_(.+)\"\naction = \"labelmap\"\nreplacement = \"${1}\"",
            Legacy,
            "",
        ),
    ];
    for (body, scheme, want) in cases {
        let got = validate(&format!("[[rules]]\n{body}\n"), scheme);
        if want.is_empty() {
            assert_eq!(got, "", "{body}");
        } else {
            assert!(got.contains(want), "{body}: {got:?} lacks {want:?}");
        }
    }
}

#[test]
fn prometheus_target_label_legacy_validity() {
    let cases = [
        ("-label", false),
        ("label", true),
        ("label${1}", true),
        ("${1}label", true),
        ("${1}", true),
        ("${", false),
        ("$", false),
        ("${}", false),
        ("foo${", false),
        ("$1", true),
        ("asd$2asd", true),
        ("-foo${1}bar-", false),
        ("bar.foo${1}bar", false),
        ("_${1}_", true),
        ("foo${bar}foo", true),
    ];
    for (s, valid) in cases {
        assert_eq!(NameValidation::Legacy.is_valid_with_vars(s), valid, "{s:?}");
    }
    assert!(NameValidation::Legacy.is_valid("_a1"));
    assert!(!NameValidation::Legacy.is_valid("1a"));
    assert!(!NameValidation::Legacy.is_valid("utf-8.label"));
    assert!(NameValidation::Utf8.is_valid("utf-8.label"));
    assert!(!NameValidation::Utf8.is_valid(""));
}

#[test]
fn error_messages_name_position_name_action_and_field() {
    let cases = [
        (
            "[[rules]]\naction = \"drop\"\n[[rules]]\naction = \"hashmod\"\nsource_labels = [\"a\"]\ntarget_label = \"s\"",
            "relabel rule 2 (action hashmod): modulus is required and must be non-zero",
            "modulus",
        ),
        (
            "[[rules]]\nname = \"shard\"\naction = \"HashMod\"\nmodulus = 0\ntarget_label = \"s\"",
            "relabel rule 1 \"shard\" (action HashMod): modulus is required and must be non-zero",
            "modulus",
        ),
        (
            "[[rules]]\naction = \"hashmod\"\nmodulus = 4",
            "relabel rule 1 (action hashmod): hashmod requires target_label",
            "target_label",
        ),
        (
            "[[rules]]\nsource_labels = [\"a\"]\nregex = \"(foo\"\ntarget_label = \"b\"",
            "relabel rule 1 (action replace): invalid regex \"(foo\": unclosed group",
            "regex",
        ),
        (
            "[[rules]]\naction = \"drop\"\nregex = \"a{2,1}\"",
            "relabel rule 1 (action drop): invalid regex \"a{2,1}\": invalid repetition count range, the start must be <= the end",
            "regex",
        ),
        (
            "[[rules]]\naction = \"labeldrop\"\nregex = \"peer_id\"\nsource_labels = [\"a\"]",
            "relabel rule 1 (action labeldrop): labeldrop takes only regex; source_labels must not be set",
            "source_labels",
        ),
        (
            "[[rules]]\naction = \"labelkeep\"\ntarget_label = \"x\"",
            "relabel rule 1 (action labelkeep): labelkeep takes only regex; target_label must not be set",
            "target_label",
        ),
        (
            "[[rules]]\naction = \"labeldrop\"\nreplacement = \"x\"",
            "relabel rule 1 (action labeldrop): labeldrop takes only regex; replacement must not be set",
            "replacement",
        ),
        (
            "[[rules]]\naction = \"keepequal\"\ntarget_label = \"x\"\nregex = \"(.*)\"",
            "relabel rule 1 (action keepequal): keepequal takes only source_labels and target_label; regex must not be set",
            "regex",
        ),
        (
            "[[rules]]\naction = \"dropequal\"\ntarget_label = \"x\"\nseparator = \",\"",
            "relabel rule 1 (action dropequal): dropequal takes only source_labels and target_label; separator must not be set",
            "separator",
        ),
        (
            "[[rules]]\naction = \"dropequal\"",
            "relabel rule 1 (action dropequal): dropequal requires target_label",
            "target_label",
        ),
        (
            "[[rules]]\naction = \"uppercase\"\ntarget_label = \"x\"\nreplacement = \"y\"",
            "relabel rule 1 (action uppercase): replacement can not be set for uppercase",
            "replacement",
        ),
        (
            "[[rules]]\naction = \"labelmap\"\nreplacement = \"\"",
            "relabel rule 1 (action labelmap): \"\" is an invalid replacement for labelmap",
            "replacement",
        ),
        (
            "[[rules]]\naction = \"relabel\"",
            "relabel rule 1 (action relabel): unknown action \"relabel\"; expected one of replace, keep, \
             drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase",
            "action",
        ),
        (
            "[[rules]]\nname = \"\"\naction = \"drop\"",
            "relabel rule 1 \"\" (action drop): name must not be empty",
            "name",
        ),
        (
            "[[rules]]\nsource_labels = [\"\"]\naction = \"drop\"",
            "relabel rule 1 (action drop): \"\" is not a valid label name",
            "source_labels",
        ),
    ];
    for (src, want, field) in cases {
        let err = compile_err(src);
        assert_eq!(err.to_string(), want, "{src}");
        assert_eq!(err.field(), field, "{src}");
    }
}

#[test]
fn error_carries_structured_context() {
    let err = compile_err(
        "[[rules]]\naction = \"drop\"\n[[rules]]\nname = \"x\"\naction = \"labeldrop\"\nregex = \"[\"\n",
    );
    let RelabelError::Rule {
        position,
        name,
        action,
        field,
        reason,
    } = err
    else {
        panic!("not a rule error: {err:?}");
    };
    assert_eq!(
        (position, name.as_deref(), action.as_str(), field),
        (2, Some("x"), "labeldrop", "regex")
    );
    assert!(reason.starts_with("invalid regex \"[\": "), "{reason}");
}

#[test]
fn accepted_like_prometheus() {
    for body in [
        // Actions are case-insensitive.
        "action = \"LabelDrop\"\nregex = \"x\"",
        // An explicit default separator/replacement is no "other field".
        "action = \"labeldrop\"\nregex = \"x\"\nseparator = \";\"\nreplacement = \"$1\"",
        "action = \"keepequal\"\ntarget_label = \"x\"\nmodulus = 0",
        // Fields an action ignores are accepted, as Prometheus does.
        "action = \"drop\"\nsource_labels = [\"a\"]\ntarget_label = \"ignored\"\nmodulus = 3",
        // Prometheus's empty `regex:` matches only the empty value.
        "action = \"drop\"\nsource_labels = [\"a\"]\nregex = \"\"",
        // A `$` target is checked after expansion, not before.
        "source_labels = [\"a\"]\ntarget_label = \"$$\"",
    ] {
        assert_eq!(
            validate(&format!("[[rules]]\n{body}\n"), NameValidation::Utf8),
            "",
            "{body}"
        );
    }
}
