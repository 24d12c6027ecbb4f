//! `| json`, `| json lbl="expr"` and `| unpack` parser stages (Loki
//! `JSONParser`, `JSONExpressionParser`, `UnpackParser` in
//! pkg/logql/log/parser.go, expression grammar in pkg/logql/log/jsonexpr).
//!
//! Like Loki (which uses the lenient `jsonparser` scanner) only what is
//! visited is validated, and content after the top-level object is ignored.
//! Nested objects are followed at most [`MAX_DEPTH`] levels deep; deeper input
//! is reported as [`JsonError::TooDeep`] instead of recursing further. Arrays
//! and skipped values are bracket-matched iteratively.
//!
//! Flattening rules of [`extract_all`] (Loki `JSONParser`):
//! * nested keys are joined with `_` after sanitizing each segment
//!   (blank segments are skipped), see [`super::names::join_json_path`];
//! * strings are unescaped (U+FFFD becomes a space, an invalid escape gives
//!   `""`), numbers keep their text, booleans are `true`/`false`;
//! * `null` values and arrays are not extracted; empty names are dropped;
//! * the first occurrence of a name wins.

use std::ops::ControlFlow;

use thiserror::Error;

use super::names::{join_json_path, sanitize_label_name};

/// Maximum object nesting followed by [`extract_all`].
pub const MAX_DEPTH: usize = 128;

/// Key of the packed log line for [`unpack`] (Loki `PackedEntryKey`).
pub const PACKED_ENTRY_KEY: &str = "_entry";

/// Errors of the JSON stages; the `Display` text is what Loki puts in
/// `__error_details__` (the caller sets `__error__="JSONParserErr"`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JsonError {
    /// An object is malformed or the input is not an object.
    #[error("Value looks like object, but can't find closing '}}' symbol")]
    MalformedObject,
    /// An array is not terminated.
    #[error("Value is array, but can't find closing ']' symbol")]
    MalformedArray,
    /// A string is not terminated.
    #[error("Value is string, but can't find closing '\"' symbol")]
    MalformedString,
    /// An escape sequence in a key or in the packed entry is invalid.
    #[error("Encountered an invalid escape sequence in a string")]
    MalformedStringEscape,
    /// A member is missing its `:` or value.
    #[error("Malformed JSON error")]
    Malformed,
    /// A literal is not `true`, `false`, `null` or a number.
    #[error("Unknown value type")]
    UnknownValueType,
    /// `| json a="b"` on a line that does not start with `{`, `[` or `"`
    /// (Loki sets `__error__` without details for this case).
    #[error("")]
    InvalidStart,
    /// `| unpack` on a line that is not a JSON object.
    #[error("expecting json object(6), but it is not")]
    NotAnObject,
    /// Objects nested deeper than [`MAX_DEPTH`].
    #[error("JSON nesting exceeds {0} levels")]
    TooDeep(usize),
    /// Invalid `| json label="expression"`.
    #[error("cannot parse expression [{expr}]: {msg}")]
    Expression {
        /// Expression as written.
        expr: String,
        /// Loki-style syntax error.
        msg: String,
    },
}

/// Loki's `unescapeJSONString`: `""` when unescaping fails, U+FFFD -> space.
fn label_value(raw: &str) -> String {
    unescape(raw)
        .map(|v| v.replace('\u{FFFD}', " "))
        .unwrap_or_default()
}

fn push_first(out: &mut Vec<(String, String)>, name: String, value: String) {
    if !name.is_empty() && !out.iter().any(|(k, _)| *k == name) {
        out.push((name, value));
    }
}

fn flatten(
    doc: &str,
    prefix: &mut Vec<String>,
    out: &mut Vec<(String, String)>,
) -> Result<(), JsonError> {
    if prefix.len() >= MAX_DEPTH {
        return Err(JsonError::TooDeep(MAX_DEPTH));
    }
    let mut nested_err = None;
    object_each(doc, |key, kind, raw| {
        let value = match kind {
            JsonKind::String => label_value(raw),
            JsonKind::Number => raw.to_string(),
            JsonKind::Bool => if raw == "true" { "true" } else { "false" }.to_string(),
            JsonKind::Null | JsonKind::Array => return ControlFlow::Continue(()),
            JsonKind::Object => {
                prefix.push(key.to_string());
                let res = flatten(raw, prefix, out);
                prefix.pop();
                return match res {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(e) => {
                        nested_err = Some(e);
                        ControlFlow::Break(())
                    }
                };
            }
        };
        let name = if prefix.is_empty() {
            sanitize_label_name(key)
        } else {
            prefix.push(key.to_string());
            let n = join_json_path(prefix);
            prefix.pop();
            n
        };
        push_first(out, name, value);
        ControlFlow::Continue(())
    })?;
    nested_err.map_or(Ok(()), Err)
}

/// Extracts every scalar field of a JSON object line (`| json`), flattening
/// nested objects (see the module docs). Lines that are not a JSON object
/// (including the empty line) are errors, as in Loki.
pub fn extract_all(line: &str) -> Result<Vec<(String, String)>, JsonError> {
    let mut out = Vec::new();
    flatten(line, &mut Vec::new(), &mut out)?;
    Ok(out)
}

/// One step of a JSON expression path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// Object member (`.a`, `["a b"]`).
    Key(String),
    /// Array element (`[0]`).
    Index(usize),
}

#[path = "json_path.rs"]
mod path;
pub use path::parse_path;

#[path = "json_scan.rs"]
mod scan;
pub use scan::{JsonKind, object_each, unescape};
use scan::{array_each, next_token, value_at};

fn resolve<'a>(
    doc: &'a str,
    path: &[PathSegment],
) -> Result<Option<(JsonKind, &'a str)>, JsonError> {
    let Some(start) = next_token(doc.as_bytes(), 0) else {
        return Ok(None);
    };
    // The top level is not bracket-matched first: like jsonparser, a match
    // found before a missing final `}` still counts.
    let mut current = match doc.as_bytes()[start] {
        b'{' => (JsonKind::Object, &doc[start..]),
        b'[' => (JsonKind::Array, &doc[start..]),
        _ => {
            let (kind, raw, _) = value_at(doc, start)?;
            (kind, raw)
        }
    };
    for seg in path {
        let mut found = None;
        match (seg, current.0) {
            (PathSegment::Key(k), JsonKind::Object) => object_each(current.1, |key, kind, raw| {
                if key == k {
                    found = Some((kind, raw));
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?,
            (PathSegment::Index(n), JsonKind::Array) => array_each(current.1, |i, kind, raw| {
                if i == *n {
                    found = Some((kind, raw));
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?,
            _ => return Ok(None),
        }
        match found {
            Some(v) => current = v,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

/// Extracts the values selected by `| json label="expr", ...`. `paths` are
/// `(label, expression)`; every label gets a value: `""` when the path does not
/// exist or is `null`, the raw text for objects, the unescaped text for
/// strings and the literal text otherwise (Loki `JSONExpressionParser`). An
/// empty line yields no labels; a line not starting with `{`, `[` or `"` is
/// [`JsonError::InvalidStart`].
pub fn extract_paths(
    line: &str,
    paths: &[(String, String)],
) -> Result<Vec<(String, String)>, JsonError> {
    let parsed = paths
        .iter()
        .map(|(label, expr)| parse_path(expr).map(|p| (label.clone(), p)))
        .collect::<Result<Vec<_>, _>>()?;
    extract_parsed(line, &parsed)
}

/// Like [`extract_paths`] with expressions already parsed by [`parse_path`].
pub fn extract_parsed(
    line: &str,
    paths: &[(String, Vec<PathSegment>)],
) -> Result<Vec<(String, String)>, JsonError> {
    let Some(&first) = line.as_bytes().first() else {
        return Ok(Vec::new());
    };
    if !matches!(first, b'"' | b'{' | b'[') {
        return Err(JsonError::InvalidStart);
    }
    let mut out = Vec::with_capacity(paths.len());
    for (label, path) in paths {
        let value = match resolve(line, path)? {
            None | Some((JsonKind::Null, _)) => String::new(),
            Some((JsonKind::Object, raw)) => raw.to_string(),
            Some((_, raw)) => label_value(raw),
        };
        out.push((label.clone(), value));
    }
    Ok(out)
}

/// Result of [`unpack`]: the extracted labels and the replacement line.
pub type Unpacked = (Vec<(String, String)>, Option<String>);

/// `| unpack`: extracts the top-level string fields of a packed JSON object
/// (non-string values are ignored) and returns the `_entry` field, if any, as
/// the replacement line. As in Loki, when there is no `_entry` nothing is
/// extracted and the line is kept; keys are sanitized; a later duplicate key
/// overrides an earlier one; an empty line yields nothing.
pub fn unpack(line: &str) -> Result<Unpacked, JsonError> {
    if line.is_empty() {
        return Ok((Vec::new(), None));
    }
    if !line.starts_with('{') {
        return Err(JsonError::NotAnObject);
    }
    let mut labels: Vec<(String, String)> = Vec::new();
    let mut entry: Option<Result<String, JsonError>> = None;
    object_each(line, |key, kind, raw| {
        if kind != JsonKind::String {
            return ControlFlow::Continue(());
        }
        if key == PACKED_ENTRY_KEY {
            entry = Some(unescape(raw).ok_or(JsonError::MalformedStringEscape));
            return ControlFlow::Continue(());
        }
        let name = sanitize_label_name(key);
        if name.is_empty() {
            return ControlFlow::Continue(());
        }
        let value = label_value(raw);
        match labels.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => labels.push((name, value)),
        }
        ControlFlow::Continue(())
    })?;
    match entry {
        None => Ok((Vec::new(), None)),
        Some(Err(e)) => Err(e),
        Some(Ok(e)) => Ok((labels, Some(e))),
    }
}

/// Returns the raw (still escaped) text of the first top-level string field
/// named `key`, as `jsonparser.Get(line, key)` restricted to strings (used by
/// the Drain JSON tokenizer).
pub fn top_level_raw_string<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let mut found = None;
    let _ = object_each(line, |k, kind, raw| {
        if k == key {
            if kind == JsonKind::String {
                found = Some(raw);
            }
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    found
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
