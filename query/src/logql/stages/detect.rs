//! Helpers for `detected_fields` / `detected_level`:
//!
//! * [`field_type`]: Loki's `determineType` (pkg/querier/queryrange/
//!   detected_fields.go): the first of int, float, boolean, duration, bytes
//!   that parses, else string;
//! * [`detect_level`]: Loki's distributor level discovery
//!   (pkg/distributor/field_detection.go, `extractLogLevel`): an existing
//!   `detected_level`, then level-like stream labels, then structured
//!   metadata, then OTLP `severity_number`, then a `level`-like field of a
//!   JSON (first 2 object levels) or logfmt line, then a bounded keyword scan.

use std::borrow::Cow;
use std::ops::ControlFlow;

use super::json::{JsonKind, object_each};
use super::logfmt::Decoder;
use super::units::{parse_bytes, parse_duration_nanos, parse_go_float};

/// Label carrying the detected level (Loki `constants.LevelLabel`).
pub const DETECTED_LEVEL: &str = "detected_level";

/// Structured-metadata key of OTLP severity numbers.
pub const OTLP_SEVERITY_NUMBER: &str = "severity_number";

/// Loki's default `discover_log_levels` field names, in priority order.
pub const DEFAULT_LEVEL_FIELDS: [&str; 14] = [
    "level",
    "LEVEL",
    "Level",
    "log.level",
    "severity",
    "SEVERITY",
    "Severity",
    "SeverityText",
    "lvl",
    "LVL",
    "Lvl",
    "severity_text",
    "Severity_Text",
    "SEVERITY_TEXT",
];

/// Default `log_level_from_json_max_depth` (0 would mean unlimited).
pub const JSON_MAX_DEPTH: usize = 2;

fn is_go_bool(v: &str) -> bool {
    matches!(
        v,
        "1" | "t" | "T" | "TRUE" | "true" | "True" | "0" | "f" | "F" | "FALSE" | "false" | "False"
    )
}

/// Type of a detected field value: `"int"`, `"float"`, `"boolean"`,
/// `"duration"`, `"bytes"` or `"string"`, checked in that order.
pub fn field_type(value: &str) -> &'static str {
    if value.parse::<i64>().is_ok() {
        "int"
    } else if parse_go_float(value).is_some() {
        "float"
    } else if is_go_bool(value) {
        "boolean"
    } else if parse_duration_nanos(value).is_some() {
        "duration"
    } else if parse_bytes(value).is_some() {
        "bytes"
    } else {
        "string"
    }
}

/// Maps a level spelling to Loki's canonical level, or `None` when unknown.
fn canonical_level(v: &str) -> Option<&'static str> {
    let eq = |s: &str| v.eq_ignore_ascii_case(s);
    if eq("trace") || eq("trc") {
        Some("trace")
    } else if eq("debug") || eq("dbg") {
        Some("debug")
    } else if eq("info") || eq("inf") || eq("information") {
        Some("info")
    } else if eq("warn") || eq("wrn") || eq("warning") {
        Some("warn")
    } else if eq("error") || eq("err") {
        Some("error")
    } else if eq("critical") {
        Some("critical")
    } else if eq("fatal") {
        Some("fatal")
    } else {
        None
    }
}

/// Loki's `normalizeLogLevel`: canonical level, or the value unchanged.
pub fn normalize_level(v: &str) -> Cow<'_, str> {
    canonical_level(v).map_or(Cow::Borrowed(v), Cow::Borrowed)
}

fn lookup<'a>(pairs: &'a [(String, String)], names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()))
}

fn otlp_level(sev: &str) -> &'static str {
    let Ok(n) = sev.parse::<i64>() else {
        return "info";
    };
    match n {
        0 => "unknown",
        n if n <= 4 => "trace",
        n if n <= 8 => "debug",
        n if n <= 12 => "info",
        n if n <= 16 => "warn",
        n if n <= 20 => "error",
        n if n <= 24 => "fatal",
        _ => "unknown",
    }
}

/// Detects the level of a log entry as Loki's distributor does.
///
/// `labels` are the stream labels and `metadata` the entry's structured
/// metadata. Returns a canonical level (`trace`, `debug`, `info`, `warn`,
/// `error`, `critical`, `fatal`, `unknown`), or a label's own value when a
/// level label holds something else (e.g. `notice`); an empty level label
/// yields `""` (Loki then adds no `detected_level`).
pub fn detect_level<'a>(
    line: &'a str,
    labels: &'a [(String, String)],
    metadata: &'a [(String, String)],
) -> Cow<'a, str> {
    if let Some(v) = lookup(metadata, &[DETECTED_LEVEL]) {
        return normalize_level(v);
    }
    if let Some(v) = lookup(labels, &DEFAULT_LEVEL_FIELDS) {
        return normalize_level(v);
    }
    if let Some(v) = lookup(metadata, &DEFAULT_LEVEL_FIELDS) {
        return normalize_level(v);
    }
    if let Some(sev) = lookup(metadata, &[OTLP_SEVERITY_NUMBER])
        && !sev.is_empty()
    {
        return Cow::Borrowed(otlp_level(sev));
    }
    Cow::Borrowed(level_from_line(line, &DEFAULT_LEVEL_FIELDS, JSON_MAX_DEPTH))
}

/// Loki's `extractLogLevelFromLogLine` with a custom field list and JSON depth
/// (0 = unlimited).
pub fn level_from_line(line: &str, fields: &[&str], json_max_depth: usize) -> &'static str {
    let value = if is_json(line) {
        json_level_value(line, fields, json_max_depth).map(str::to_string)
    } else if line.contains('=') {
        logfmt_level_value(line, fields)
    } else {
        return keyword_level(line);
    };
    value
        .as_deref()
        .and_then(canonical_level)
        .unwrap_or_else(|| keyword_level(line))
}

fn is_json(line: &str) -> bool {
    line.trim_start().starts_with('{') && line.trim_end().ends_with('}')
}

/// First string field (raw, still escaped) whose key is one of `fields`,
/// searching nested objects up to `max_depth` levels (0 = unlimited).
fn json_level_value<'a>(line: &'a str, fields: &[&str], max_depth: usize) -> Option<&'a str> {
    fn walk<'a>(
        doc: &'a str,
        fields: &[&str],
        depth: usize,
        max: usize,
        found: &mut Option<&'a str>,
    ) {
        // Hard cap so hostile input cannot recurse without bound.
        if (max > 0 && depth >= max) || depth >= super::json::MAX_DEPTH {
            return;
        }
        let _ = object_each(doc, |key, kind, raw| match kind {
            JsonKind::String if fields.contains(&key) => {
                *found = Some(raw);
                ControlFlow::Break(())
            }
            JsonKind::Object => {
                walk(raw, fields, depth + 1, max, found);
                if found.is_some() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            }
            _ => ControlFlow::Continue(()),
        });
    }
    let mut found = None;
    walk(line, fields, 0, max_depth, &mut found);
    found
}

/// Value of the best-ranked field in `fields` (keys compared
/// case-insensitively), stopping at the first malformed pair.
fn logfmt_level_value(line: &str, fields: &[&str]) -> Option<String> {
    let mut dec = Decoder::new(line);
    let mut best: Option<(usize, String)> = None;
    while !dec.eol() && dec.scan_keyval() {
        let Some(key) = dec.key() else { continue };
        for (rank, field) in fields.iter().enumerate() {
            if key.eq_ignore_ascii_case(field) && best.as_ref().is_none_or(|(r, _)| rank < *r) {
                best = Some((rank, dec.value().unwrap_or("").to_string()));
                if rank == 0 {
                    return best.map(|(_, v)| v);
                }
            }
        }
    }
    best.map(|(_, v)| v)
}

const LEVEL_WORDS: [(&str, &str); 9] = [
    ("trace", "trace"),
    ("debug", "debug"),
    ("fatal", "fatal"),
    ("critical", "critical"),
    ("error", "error"),
    ("err", "error"),
    ("warning", "warn"),
    ("warn", "warn"),
    ("info", "info"),
];

fn left_boundary(b: &[u8], pos: Option<usize>) -> bool {
    match pos.and_then(|p| b.get(p)) {
        None => true,
        Some(c) => matches!(
            c,
            b' ' | b'\t' | b'\n' | b'[' | b'(' | b'{' | b'"' | b'\'' | b'=' | b'|'
        ),
    }
}

fn right_boundary(b: &[u8], pos: usize) -> bool {
    match b.get(pos) {
        None => true,
        Some(c) => matches!(
            c,
            b' ' | b'\t'
                | b'\n'
                | b'['
                | b']'
                | b'('
                | b')'
                | b'{'
                | b'}'
                | b':'
                | b','
                | b'!'
                | b'"'
                | b'\''
                | b'='
                | b'|'
        ),
    }
}

fn bounded_index(hay: &str, word: &str) -> Option<usize> {
    let b = hay.as_bytes();
    let mut offset = 0;
    while let Some(p) = hay.get(offset..).and_then(|h| h.find(word)) {
        let abs = offset + p;
        if left_boundary(b, abs.checked_sub(1)) && right_boundary(b, abs + word.len()) {
            return Some(abs);
        }
        offset = abs + 1;
        while offset < hay.len() && !hay.is_char_boundary(offset) {
            offset += 1;
        }
    }
    None
}

/// Loki's `detectLevelFromLogLine`: the level keyword (whole word, case
/// insensitive) that appears earliest in the line, else `"unknown"`.
pub fn keyword_level(line: &str) -> &'static str {
    let lower = line.to_ascii_lowercase();
    let mut best = (lower.len(), "unknown");
    for (word, level) in LEVEL_WORDS {
        if let Some(pos) = bounded_index(&lower, word)
            && pos < best.0
        {
            best = (pos, level);
            if pos == 0 {
                break;
            }
        }
    }
    best.1
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
