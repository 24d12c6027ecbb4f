//! Metadata lines: `# HELP`, `# TYPE` and (OpenMetrics) `# UNIT`, after the `# `.

use super::{Line, Meta, undo_escapes, unescape};
use crate::ingest::exposition::{MetricType, quote};
use crate::ingest::utf8;

impl<'a> Line<'a> {
    /// A metadata line: the cursor after `# `; `None` when it is not `HELP`, `TYPE` or (in
    /// OpenMetrics) `UNIT` followed by whitespace (the text format's comments).
    pub(crate) fn meta(&mut self) -> Result<Option<Meta>, String> {
        let keyword = self.b.get(self.i..self.i + 4).unwrap_or_default();
        let kind = match keyword {
            b"HELP" => b'H',
            b"TYPE" => b'T',
            b"UNIT" if self.om => b'U',
            _ => return Ok(None),
        };
        self.i += 4;
        if !self.separator() {
            return Ok(None);
        }
        let keyword = String::from_utf8_lossy(keyword);
        let quoted = self.quoted()?;
        let Some(raw) = quoted.or_else(|| self.legacy_name(true)) else {
            return Err(format!(
                "expected a metric name after {keyword}, got {}",
                self.got()
            ));
        };
        let name = unescape(raw, "metric name", true)?;
        // The text after one space to the line's end: it may be empty, but in OpenMetrics
        // not missing. The text format skips any one byte after the name, as Prometheus does
        // (`# HELP a-b c` is help "b c" for `a`).
        let text = if self.at_end() && !self.om {
            &[][..]
        } else if self.peek() == Some(b' ') || !self.om {
            self.i += 1;
            self.rest()
        } else if self.at_end() {
            return Err(format!("missing text after {keyword} {}", quote(raw)));
        } else {
            return Err(format!(
                "expected a space after the metric name in {keyword}, got {}",
                self.got()
            ));
        };
        self.i += text.len();
        Ok(Some(match kind {
            b'H' => Meta::Help(name, help_text(text, self.om)?),
            b'T' if text.is_empty() => {
                return Err(format!("missing metric type after TYPE {}", quote(raw)));
            }
            b'T' => Meta::Type(name, metric_type(text, self.om)?),
            _ => {
                let Some(unit) = utf8::text(text) else {
                    return Err(format!("unit {} is not valid UTF-8", quote(text)));
                };
                // Prometheus: a unit must be the name's suffix, after an underscore.
                let suffix = raw.len() > unit.len()
                    && raw.ends_with(unit.as_bytes())
                    && raw[raw.len() - unit.len() - 1] == b'_';
                if !unit.is_empty() && !suffix {
                    return Err(format!(
                        "unit {} is not a suffix of metric {}",
                        quote(text),
                        quote(raw)
                    ));
                }
                Meta::Unit(name, unit.to_owned())
            }
        }))
    }
}

/// A TYPE line's type.
fn metric_type(text: &[u8], om: bool) -> Result<MetricType, String> {
    Ok(match text {
        b"counter" => MetricType::Counter,
        b"gauge" => MetricType::Gauge,
        b"histogram" => MetricType::Histogram,
        b"summary" => MetricType::Summary,
        b"untyped" if !om => MetricType::Unknown,
        b"gaugehistogram" if om => MetricType::GaugeHistogram,
        b"info" if om => MetricType::Info,
        b"stateset" if om => MetricType::StateSet,
        b"unknown" if om => MetricType::Unknown,
        _ => return Err(format!("invalid metric type {}", quote(text))),
    })
}

/// HELP text: UTF-8, with `\\` and `\n` undone (and `\"` in OpenMetrics); other
/// backslashes stay as written, as Prometheus keeps them.
fn help_text(raw: &[u8], om: bool) -> Result<String, String> {
    let Some(s) = utf8::text(raw) else {
        return Err(format!("help text {} is not valid UTF-8", quote(raw)));
    };
    Ok(undo_escapes(s, om))
}
