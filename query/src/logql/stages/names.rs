//! Label-name rules shared by the parser stages (`json`, `logfmt`, `regexp`,
//! `pattern`, `unpack`).
//!
//! Mirrors Loki's `sanitizeLabelKey` / `appendSanitized` (pkg/logql/log/util.go)
//! and the `_extracted` collision suffix (`duplicateSuffix` in parser.go).

/// Suffix appended to a parsed key that collides with an existing stream
/// label or structured-metadata key (Loki's `duplicateSuffix`).
pub const EXTRACTED_SUFFIX: &str = "_extracted";

/// Returns true for the characters Loki keeps verbatim in a parsed key:
/// ASCII letters, ASCII digits and `_`.
fn is_kept(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Sanitizes a parsed key into a valid label name, as Loki's
/// `sanitizeLabelKey(key, true)` does:
///
/// * surrounding (Unicode) whitespace is trimmed; an all-blank key becomes `""`
///   (callers drop empty names);
/// * a leading ASCII digit gets a `_` prefix;
/// * every character other than `[A-Za-z0-9_]` becomes one `_` (per character,
///   not per byte).
pub fn sanitize_label_name(s: &str) -> String {
    let key = s.trim();
    let mut out = String::with_capacity(key.len() + 1);
    if key.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(key.chars().map(|c| if is_kept(c) { c } else { '_' }));
    out
}

/// Appends one sanitized JSON path segment to `to`, as Loki's
/// `appendSanitized`: the segment is trimmed, a leading digit is prefixed with
/// `_` only when `to` is still empty, and invalid characters become `_`.
/// Blank segments append nothing.
pub fn append_sanitized(to: &mut String, segment: &str) {
    let key = segment.trim();
    if key.is_empty() {
        return;
    }
    if to.is_empty() && key.starts_with(|c: char| c.is_ascii_digit()) {
        to.push('_');
    }
    to.extend(key.chars().map(|c| if is_kept(c) { c } else { '_' }));
}

/// Joins nested JSON keys the way Loki's JSON parser names flattened fields:
/// blank segments are skipped and the others are sanitized and joined with `_`.
pub fn join_json_path<S: AsRef<str>>(segments: &[S]) -> String {
    let mut out = String::new();
    for (i, seg) in segments.iter().enumerate() {
        let seg = seg.as_ref();
        if seg.trim().is_empty() {
            continue;
        }
        if i > 0 && !out.is_empty() {
            out.push('_');
        }
        append_sanitized(&mut out, seg);
    }
    out
}

/// Name under which a parsed key is stored: when `exists(key)` reports that a
/// stream label or structured-metadata entry already uses the name, Loki
/// stores the parsed value as `<key>_extracted` instead (the original label is
/// kept).
pub fn extracted_name(key: &str, exists: impl Fn(&str) -> bool) -> String {
    if exists(key) {
        format!("{key}{EXTRACTED_SUFFIX}")
    } else {
        key.to_string()
    }
}

/// Returns true when `name` is a valid Prometheus-style label name
/// (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => chars.all(is_kept),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Loki: pkg/logql/log/util_test.go Test_sanitizeLabelKey
    #[test]
    fn sanitize_matches_loki_util_test() {
        let cases = [
            ("  ", ""),
            ("1", "_1"),
            ("1 1 1", "_1_1_1"),
            ("abc", "abc"),
            ("$a$bc", "_a_bc"),
            ("   1 1 1  \t", "_1_1_1"),
            // parser_test.go "bad key replaced" / logfmt "invalid key names"
            ("cou-nter", "cou_nter"),
            ("foo.bar", "foo_bar"),
            ("test-dash", "test_dash"),
            // one underscore per character, not per byte
            ("é", "_"),
            ("a👌b", "a_b"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_label_name(input), want, "input {input:?}");
        }
    }

    // Loki: parser_test.go Test_jsonParser_Parse ("numeric", "whitespace key
    // value", "nested bad key replaced") - flattened names.
    #[test]
    fn json_path_join() {
        let cases: [(&[&str], &str); 7] = [
            (&["pod", "uuid"], "pod_uuid"),
            (&["price", "_net_"], "price__net_"),
            (&[" ", "foo"], "foo"),
            (&[" ", " "], ""),
            (&["foo", "cou-nter"], "foo_cou_nter"),
            (&["a", "1b"], "a_1b"),
            (&[" ", "1b"], "_1b"),
        ];
        for (segs, want) in cases {
            assert_eq!(join_json_path(segs), want, "segments {segs:?}");
        }
    }

    // Loki: parser_test.go "duplicate extraction", "label override".
    #[test]
    fn extracted_suffix() {
        let existing = ["app", "pod_uuid"];
        let exists = |k: &str| existing.contains(&k);
        assert_eq!(extracted_name("app", exists), "app_extracted");
        assert_eq!(extracted_name("pod_uuid", exists), "pod_uuid_extracted");
        assert_eq!(extracted_name("namespace", exists), "namespace");
    }

    #[test]
    fn label_name_validity() {
        for ok in ["a", "_", "foo_bar1", "A9"] {
            assert!(is_valid_label_name(ok), "{ok}");
        }
        for bad in ["", "1a", "foo$", "a-b", "é"] {
            assert!(!is_valid_label_name(bad), "{bad}");
        }
    }
}
