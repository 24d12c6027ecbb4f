//! The exposition-parser fuzz harness: Prometheus text and OpenMetrics bodies through
//! `strata_server::decoders::parse`, the parser the scraper and
//! `/api/v1/import/prometheus` run.
//!
//! Shared by the cargo-fuzz target `fuzz/fuzz_targets/exposition.rs` and the corpus replay
//! test `server/tests/fuzz_exposition.rs` (both include this file with `#[path]`), so CI
//! runs exactly what the fuzzer runs. The contract, beyond "no panic": parsing is
//! deterministic; an error names a line of the body and a reason; a parsed body has
//! non-empty metric names, label names that are unique, non-empty and never `__name__`
//! (exemplars' too), at most one sample per line, distinct families; and what was parsed,
//! written back out in the text format, parses to the same samples (and, from the text
//! format, the same families); and each sample's series part, as the scraper keys its
//! cache by it, decodes on its own to that sample's name and labels.

use std::fmt::Write;

use strata_server::decoders::{self, Format, MetricType, Parsed};

/// The first byte picks the format (even: text, odd: OpenMetrics); the rest is the body.
/// Seeds start with `0` or `1`, so they stay readable.
pub(crate) fn split(data: &[u8]) -> Option<(Format, &[u8])> {
    let (&mode, body) = data.split_first()?;
    let format = if mode & 1 == 0 {
        Format::Text
    } else {
        Format::OpenMetrics
    };
    Some((format, body))
}

/// Parses the input and checks the contract; true when the body was accepted.
pub(crate) fn check_exposition(data: &[u8]) -> bool {
    let Some((format, body)) = split(data) else {
        return false;
    };
    let parsed = decoders::parse(body, format);
    let again = decoders::parse(body, format);
    // Compared as text: NaN values are equal there.
    assert_eq!(
        format!("{parsed:?}"),
        format!("{again:?}"),
        "not deterministic"
    );
    let lines = body.split(|&c| c == b'\n').count();
    match parsed {
        Ok(p) => {
            check_parsed(&p, lines);
            round_trip(&p, format);
            series_parts_decode_alone(body, &p, format);
            true
        }
        Err(e) => {
            assert!(
                e.line >= 1 && e.line <= lines + 1,
                "line {} of {lines}",
                e.line
            );
            assert!(!e.reason.is_empty());
            assert_eq!(e.to_string(), format!("line {}: {}", e.line, e.reason));
            false
        }
    }
}

fn check_labels(labels: &[(String, String)], what: &str) {
    let mut names: Vec<&str> = labels.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(
        before,
        names.len(),
        "duplicate {what} label names: {labels:?}"
    );
    for n in names {
        assert!(!n.is_empty() && n != "__name__", "{what} label name {n:?}");
    }
}

fn check_parsed(p: &Parsed, lines: usize) {
    assert!(
        p.samples.len() <= lines,
        "{} samples, {lines} lines",
        p.samples.len()
    );
    for s in &p.samples {
        assert!(!s.name.is_empty(), "empty metric name");
        check_labels(&s.labels, "sample");
        if let Some(e) = &s.exemplar {
            check_labels(&e.labels, "exemplar");
        }
    }
    let mut families: Vec<&str> = p.families.iter().map(|f| f.name.as_str()).collect();
    families.sort_unstable();
    let before = families.len();
    families.dedup();
    assert_eq!(before, families.len(), "a family twice: {:?}", p.families);
    assert!(families.iter().all(|f| !f.is_empty()));
}

/// `s` inside double quotes, escaped as both formats read it.
fn quoted(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

/// `p` written in the text format: families first (from a text body only: OpenMetrics
/// types and units have no text form), then every sample with quoted names.
fn to_text(p: &Parsed, families: bool) -> String {
    let mut out = String::new();
    for f in p.families.iter().filter(|_| families) {
        if let Some(help) = &f.help {
            let help = help.replace('\\', "\\\\").replace('\n', "\\n");
            let _ = writeln!(out, "# HELP {} {help}", quoted(&f.name));
        }
        let kind = match f.kind {
            MetricType::Unknown => "untyped",
            other => other.as_str(),
        };
        if f.kind != MetricType::Unknown || f.help.is_none() {
            let _ = writeln!(out, "# TYPE {} {kind}", quoted(&f.name));
        }
    }
    for s in &p.samples {
        let _ = write!(out, "{{{}", quoted(&s.name));
        for (n, v) in &s.labels {
            let _ = write!(out, ",{}={}", quoted(n), quoted(v));
        }
        let _ = write!(out, "}} {}", s.value);
        if let Some(ts) = s.timestamp_ms {
            let _ = write!(out, " {ts}");
        }
        out.push('\n');
    }
    out
}

/// A sample without its exemplar, its value as bits.
type Flat<'a> = (&'a str, &'a [(String, String)], u64, Option<i64>);

fn flat(p: &Parsed) -> Vec<Flat<'_>> {
    p.samples
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                &s.labels[..],
                s.value.to_bits(),
                s.timestamp_ms,
            )
        })
        .collect()
}

/// What was parsed, written in the text format, parses back to the same samples.
fn round_trip(p: &Parsed, format: Format) {
    let text = format == Format::Text;
    let body = to_text(p, text);
    let back = match decoders::parse(body.as_bytes(), Format::Text) {
        Ok(back) => back,
        Err(e) => panic!("the parse written back is refused: {e}\n{body}"),
    };
    assert_eq!(flat(&back), flat(p), "samples written back\n{body}");
    if text {
        assert_eq!(back.families, p.families, "families written back\n{body}");
    }
}

/// Each sample's series part (the scraper's cache key) decodes alone to its name and
/// labels: equal bytes read equally wherever they stand.
fn series_parts_decode_alone(body: &[u8], p: &Parsed, format: Format) {
    let parts = match decoders::series_parts(body, format) {
        Ok(parts) => parts,
        Err(e) => panic!("parsed, but its series parts are refused: {e}"),
    };
    assert_eq!(parts.len(), p.samples.len());
    for (part, s) in parts.iter().zip(&p.samples) {
        match decoders::decode_series(part, format) {
            Ok((name, labels)) => assert_eq!((&name, &labels), (&s.name, &s.labels)),
            Err(e) => panic!(
                "series part {:?} refused alone: {e}",
                String::from_utf8_lossy(part)
            ),
        }
    }
}
