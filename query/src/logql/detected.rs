//! What Grafana's field and pattern views ask of a sample of lines: the fields found in
//! structured metadata and by parsing each line as JSON or logfmt (`detected_fields`,
//! with Loki's types and cardinality), and Drain patterns with their counts per step
//! (`patterns`). Both work on the newest entries a log query returns, a bounded sample.

use std::collections::{BTreeMap, BTreeSet};

use super::logs::Stream;
use super::stages::detect::{detect_level, field_type};
use super::stages::drain::{Drain, DrainConfig};
use super::stages::{json, logfmt};

/// Which parser found a field (`None`: structured metadata).
type Parser = Option<&'static str>;

/// One field of `detected_fields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedField {
    /// Its name.
    pub label: String,
    /// Loki's type: `string`, `int`, `float`, `boolean`, `duration` or `bytes`.
    pub kind: &'static str,
    /// The parsers that found it; `None` for structured metadata.
    pub parsers: Option<Vec<&'static str>>,
    /// Its distinct values in the sample.
    pub values: BTreeSet<String>,
}

/// The fields of the entries of `streams` (stream labels excluded): structured metadata
/// and labels the query's pipeline set, and the keys of lines that parse as JSON or
/// logfmt. A field's type is its values' common type, else `string`.
pub fn detect_fields(streams: &[Stream]) -> Vec<DetectedField> {
    let mut found: BTreeMap<String, (BTreeSet<&'static str>, bool, BTreeSet<String>)> =
        BTreeMap::new();
    let mut add = |name: &str, value: &str, parser: Parser| {
        let e = found.entry(name.to_owned()).or_default();
        match parser {
            Some(p) => {
                e.0.insert(p);
            }
            None => e.1 = true,
        }
        if e.2.len() < 10_000 {
            e.2.insert(value.to_owned());
        }
    };
    for s in streams {
        for e in &s.entries {
            for (k, v) in &e.metadata {
                add(k, v, None);
            }
            let parsed = if e.line.trim_start().starts_with('{') {
                json::extract_all(&e.line).ok().map(|p| (p, "json"))
            } else if e.line.contains('=') {
                logfmt::parse(&e.line, false, false)
                    .ok()
                    .map(|p| (p, "logfmt"))
            } else {
                None
            };
            for (k, v) in &e.parsed {
                if !k.starts_with("__") {
                    add(k, v, Some("pipeline"));
                }
            }
            if let Some((pairs, parser)) = parsed {
                for (k, v) in &pairs {
                    add(k, v, Some(parser));
                }
            }
        }
    }
    found
        .into_iter()
        .map(|(label, (parsers, metadata, values))| {
            let mut kinds = values.iter().map(|v| field_type(v));
            let first = kinds.next().unwrap_or("string");
            let kind = if kinds.all(|k| k == first) {
                first
            } else {
                "string"
            };
            let parsers: Vec<&'static str> =
                parsers.into_iter().filter(|p| *p != "pipeline").collect();
            DetectedField {
                label,
                kind,
                parsers: if metadata && parsers.is_empty() {
                    None
                } else {
                    Some(parsers)
                },
                values,
            }
        })
        .collect()
}

/// One pattern of `patterns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The pattern, variable parts as `<_>`.
    pub pattern: String,
    /// The detected level of its lines.
    pub level: String,
    /// `(step start ns, lines)`, ascending.
    pub samples: Vec<(i64, u64)>,
}

/// Drain patterns of the entries of `streams`, one clustering per detected level, with
/// their line counts per `step_ns`; the largest first.
pub fn patterns(streams: &[Stream], step_ns: i64) -> Vec<Pattern> {
    let mut by_level: BTreeMap<String, Drain> = BTreeMap::new();
    for s in streams {
        for e in &s.entries {
            let level = detect_level(&e.line, &s.labels, &e.metadata).into_owned();
            by_level
                .entry(level)
                .or_insert_with(|| Drain::new(DrainConfig::default()))
                .train(&e.line, e.ts_ns);
        }
    }
    let mut out: Vec<(u64, Pattern)> = Vec::new();
    for (level, drain) in by_level {
        for c in drain.clusters() {
            out.push((
                c.count,
                Pattern {
                    samples: c.samples(step_ns),
                    pattern: c.pattern,
                    level: level.clone(),
                },
            ));
        }
    }
    out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.pattern.cmp(&b.1.pattern)));
    out.into_iter().map(|(_, p)| p).collect()
}
