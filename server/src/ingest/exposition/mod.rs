//! The Prometheus exposition formats: text 0.0.4 and OpenMetrics 1.0, as the body of a
//! `/metrics` response (the scraper) or of `POST /api/v1/import/prometheus`.
//!
//! [`parse`] reads a whole body in one pass over its bytes, a line at a time, into samples
//! (full sample names such as `x_bucket` or `x_total`, labels in exposition order, value,
//! timestamp, OpenMetrics exemplar) and the metric families that had `HELP`, `TYPE` or
//! `UNIT` lines. As Prometheus fails a scrape, any error fails the whole body, reported with
//! its 1-based line number.
//!
//! It reads what Prometheus 3's scrape reads, as its parsers do (`model/textparse`),
//! UTF-8 names quoted inside the braces included (`{"my.metric", "label.with.dots"="v"} 1`)
//! and the text format's quirks: labels without commas between them, a value right after
//! the name (`m+1`), raw newlines inside quoted strings, unknown escapes kept as written
//! (`"C:\temp"`). It refuses what Prometheus refuses, parser or scrape loop (a label named
//! `__name__`, a label name twice, OpenMetrics without its `# EOF`), and takes what its
//! scrape takes (a `TYPE` line after the family's samples, or a second one: the last
//! wins). It differs from it here: whitespace before a metric name is refused (Prometheus
//! makes it part of the name); a text-format timestamp may be negative (Prometheus refuses
//! the sign). Exemplars are kept on any OpenMetrics sample, as Prometheus has done since
//! 2.43 (before, only on `_total` and `_bucket` samples).
//!
//! ```
//! use strata_server::decoders::{Format, MetricType, parse};
//!
//! let body = b"# TYPE http_requests_total counter\n\
//!              http_requests_total{code=\"200\"} 1027 1700000000000\n";
//! let parsed = parse(body, Format::Text)?;
//! let sample = &parsed.samples[0];
//! assert_eq!(sample.name, "http_requests_total");
//! assert_eq!(sample.labels, [("code".to_string(), "200".to_string())]);
//! assert_eq!((sample.value, sample.timestamp_ms), (1027.0, Some(1_700_000_000_000)));
//! assert_eq!(parsed.families[0].kind, MetricType::Counter);
//! # Ok::<(), strata_server::decoders::ParseError>(())
//! ```

mod number;
pub(crate) mod proto;
#[cfg(test)]
mod tests;
mod text;

use std::collections::HashMap;

use text::{Line, Meta, RawSample};

/// Which format a body is in (the scraper picks it from the response's `Content-Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    #[default]
    Text,
    /// OpenMetrics 1.0 (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics,
}

impl Format {
    /// From a `Content-Type` header value: `application/openmetrics-text` (any version or
    /// other parameter, any case) is OpenMetrics; `text/plain`, anything else or no header
    /// is the text format.
    pub fn from_content_type(ct: Option<&str>) -> Format {
        let media = ct.and_then(|c| c.split(';').next()).map(str::trim);
        match media {
            Some(m) if m.eq_ignore_ascii_case("application/openmetrics-text") => {
                Format::OpenMetrics
            }
            _ => Format::Text,
        }
    }
}

/// A parsed body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    /// Every sample line, in body order.
    pub samples: Vec<ParsedSample>,
    /// One per metric family that had a `HELP`, `TYPE` or `UNIT` line, in order of first
    /// appearance.
    pub families: Vec<Family>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample {
    /// The full sample name: `http_requests_total`, `x_bucket`, `x_created`.
    pub name: String,
    /// The labels in exposition order, escapes undone, never `__name__`, names unique.
    /// Empty values are kept (Prometheus drops those labels when it stores the series).
    pub labels: Vec<(String, String)>,
    /// The value; every NaN is Prometheus's canonical NaN
    /// (`0x7ff8000000000001`, never the staleness marker).
    pub value: f64,
    /// Text format: the integer milliseconds written; OpenMetrics: the float seconds
    /// written, times 1000, toward zero (Prometheus's `int64(s * 1000)`).
    pub timestamp_ms: Option<i64>,
    /// OpenMetrics only: the exemplar after ` # `.
    pub exemplar: Option<Exemplar>,
}

/// An OpenMetrics exemplar (`# {trace_id="abc"} 0.67 1700000000.123`).
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// Its labels in exposition order (unique names; may be empty).
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: f64,
    /// Its timestamp, float seconds to milliseconds as for samples.
    pub timestamp_ms: Option<i64>,
}

/// A family's type, from its `TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MetricType {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
    /// OpenMetrics `gaugehistogram`.
    GaugeHistogram,
    /// `summary`.
    Summary,
    /// OpenMetrics `info`.
    Info,
    /// OpenMetrics `stateset`.
    StateSet,
    /// Text `untyped`, OpenMetrics `unknown`, or no `TYPE` line.
    #[default]
    Unknown,
}

impl MetricType {
    /// The name Prometheus's metadata API uses: `counter`, `gauge`, `histogram`,
    /// `gaugehistogram`, `summary`, `info`, `stateset` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

/// A metric family's metadata: what its `HELP`, `TYPE` and `UNIT` lines said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The name as written in those lines (quotes removed, escapes undone): in OpenMetrics
    /// the family `foo` of a counter has samples `foo_total` and `foo_created`.
    pub name: String,
    /// From its `TYPE` line; [`MetricType::Unknown`] without one.
    pub kind: MetricType,
    /// Its `HELP` text, escapes undone (the last one when there are several).
    pub help: Option<String>,
    /// Its `UNIT` (OpenMetrics only; a suffix of the name).
    pub unit: Option<String>,
}

/// Why a body was refused: the first error, at its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong, with the offending token quoted where that helps.
    pub reason: String,
}

/// Parses a whole exposition body. Any error refuses the body, as Prometheus fails the
/// scrape: see the module documentation for what is accepted.
pub fn parse(body: &[u8], format: Format) -> Result<Parsed, ParseError> {
    let mut samples = Vec::new();
    let families = scan(body, format, |s| {
        let (name, labels) = s.decode()?;
        samples.push(ParsedSample {
            name,
            labels,
            value: s.value,
            timestamp_ms: s.timestamp_ms,
            exemplar: s.exemplar,
        });
        Ok(())
    })?;
    Ok(Parsed { samples, families })
}

/// One sample line as [`scan`] gives it: the bytes naming its series, not yet decoded.
pub(crate) struct LineSample<'a> {
    /// The body from the line's first byte.
    line: &'a [u8],
    /// How many bytes of `line` name the series.
    series_len: usize,
    om: bool,
    /// The value (canonical NaN as in [`ParsedSample::value`]).
    pub(crate) value: f64,
    /// As [`ParsedSample::timestamp_ms`].
    pub(crate) timestamp_ms: Option<i64>,
    /// As [`ParsedSample::exemplar`].
    pub(crate) exemplar: Option<Exemplar>,
}

impl<'a> LineSample<'a> {
    /// The bytes naming the series, as written: `name`, `name{...}` or `{...}`. Equal
    /// bytes decode to the same name and labels (in the same format).
    pub(crate) fn series(&self) -> &'a [u8] {
        self.line.get(..self.series_len).unwrap_or_default()
    }

    /// The series' name and labels; an error refuses the line (and the body).
    pub(crate) fn decode(&self) -> Result<(String, Vec<(String, String)>), String> {
        text::decode_series(self.line, self.series_len, self.om)
    }
}

/// The name and labels of a series part [`series_parts`] (or the scraper's reading) gave
/// before, in the same format: equal bytes decode equally wherever they stand.
pub fn decode_series(
    series: &[u8],
    format: Format,
) -> Result<(String, Vec<(String, String)>), String> {
    text::decode_series(series, series.len(), format == Format::OpenMetrics)
}

/// The bytes naming each sample's series, in body order, as the scraper keys its series
/// cache by them; the body refused as [`parse`] refuses it.
pub fn series_parts(body: &[u8], format: Format) -> Result<Vec<&[u8]>, ParseError> {
    let mut parts = Vec::new();
    scan(body, format, |s| {
        s.decode()?;
        parts.push(s.series());
        Ok(())
    })?;
    Ok(parts)
}

/// Reads a whole body as [`parse`] does, handing each sample line to `each` without
/// decoding its series (a reader that knows the series by its bytes skips the labels; it
/// calls [`LineSample::decode`] for the others). An error from `each` refuses the body at
/// that line, as a parse error does. Returns the metric families.
pub(crate) fn scan<'a>(
    body: &'a [u8],
    format: Format,
    mut each: impl FnMut(LineSample<'a>) -> Result<(), String>,
) -> Result<Vec<Family>, ParseError> {
    let mut state = State {
        om: format == Format::OpenMetrics,
        families: Vec::new(),
        index: HashMap::new(),
        typed: Vec::new(),
    };
    let mut pos = 0;
    let mut line = 1;
    while pos < body.len() {
        let rest = &body[pos..];
        let step = state
            .line(rest, &mut each)
            .map_err(|reason| ParseError { line, reason })?;
        // The line's content, then its `\n` if any.
        pos += step.len + 1;
        line += 1 + step.newlines;
        if step.eof {
            let after = body.get(pos..).unwrap_or_default();
            if !after.is_empty() {
                return Err(ParseError {
                    line,
                    reason: format!("content after \"# EOF\": {}", quote(after)),
                });
            }
            return Ok(state.families);
        }
    }
    if state.om {
        return Err(ParseError {
            line,
            reason: "missing \"# EOF\" at the end of the body".into(),
        });
    }
    Ok(state.families)
}

/// What reading one line did.
struct Step {
    /// Its length without its `\n`.
    len: usize,
    /// Raw newlines inside its quoted strings (the text format lets them run on).
    newlines: usize,
    /// OpenMetrics' `# EOF`.
    eof: bool,
}

impl Step {
    fn plain(len: usize) -> Step {
        Step {
            len,
            newlines: 0,
            eof: false,
        }
    }

    fn of(line: &Line<'_>) -> Step {
        Step {
            len: line.pos(),
            newlines: line.newlines,
            eof: false,
        }
    }
}

/// The parse so far.
struct State {
    om: bool,
    families: Vec<Family>,
    /// Family name -> index in `out.families`.
    index: HashMap<String, usize>,
    /// By family index: had a `TYPE` line.
    typed: Vec<bool>,
}

impl State {
    /// One line: `b` is the body from the line's start; a sample goes to `each`.
    fn line<'a>(
        &mut self,
        b: &'a [u8],
        each: &mut impl FnMut(LineSample<'a>) -> Result<(), String>,
    ) -> Result<Step, String> {
        let line_end = || b.iter().position(|&c| c == b'\n').unwrap_or(b.len());
        if self.om {
            match b.first() {
                Some(b'\n') => return Err("blank line (OpenMetrics allows none)".into()),
                Some(b'#') => {
                    let len = line_end();
                    if &b[..len] == b"# EOF" {
                        return Ok(Step {
                            eof: true,
                            ..Step::plain(len)
                        });
                    }
                    let mut line = Line::new(b, 2, true);
                    let meta = if b.starts_with(b"# ") {
                        line.meta()?
                    } else {
                        None
                    };
                    let Some(meta) = meta else {
                        return Err(format!(
                            "unexpected comment {} (OpenMetrics allows HELP, TYPE, UNIT and EOF)",
                            quote(&b[..len])
                        ));
                    };
                    self.meta(meta)?;
                    return Ok(Step::of(&line));
                }
                _ => {}
            }
            let mut line = Line::new(b, 0, true);
            let sample = line.sample()?;
            self.sample(sample, each)?;
            return Ok(Step::of(&line));
        }
        let blank = |c: &u8| *c == b' ' || *c == b'\t';
        let start = b.iter().position(|c| !blank(c)).unwrap_or(b.len());
        match b.get(start) {
            None | Some(b'\n') => Ok(Step::plain(start)),
            Some(b'#') => {
                // `#`, whitespace, HELP or TYPE and whitespace: metadata; else a comment.
                let after = start + 1;
                let skip = b[after..].iter().position(|c| !blank(c)).unwrap_or(0);
                if skip > 0 {
                    let mut line = Line::new(b, after + skip, false);
                    if let Some(meta) = line.meta()? {
                        self.meta(meta)?;
                        return Ok(Step::of(&line));
                    }
                }
                Ok(Step::plain(line_end()))
            }
            // Prometheus reads whitespace before a name as part of it (an invalid name).
            Some(_) if start > 0 && b[start] != b'{' => {
                Err("whitespace before the metric name".into())
            }
            Some(_) => {
                let mut line = Line::new(b, start, false);
                let sample = line.sample()?;
                self.sample(sample, each)?;
                Ok(Step::of(&line))
            }
        }
    }

    fn sample<'a>(
        &self,
        raw: RawSample<'a>,
        each: &mut impl FnMut(LineSample<'a>) -> Result<(), String>,
    ) -> Result<(), String> {
        each(LineSample {
            line: raw.line,
            series_len: raw.series_len,
            om: self.om,
            value: raw.value,
            timestamp_ms: raw.timestamp_ms,
            exemplar: raw.exemplar,
        })
    }

    fn meta(&mut self, meta: Meta) -> Result<(), String> {
        match meta {
            Meta::Help(name, help) => self.family(name).help = Some(help),
            // As Prometheus's scrape: a TYPE after the family's samples, or a second one,
            // is taken (the last one wins).
            Meta::Type(name, kind) => {
                let i = self.family_index(name);
                self.families[i].kind = kind;
            }
            Meta::Unit(name, unit) => self.family(name).unit = Some(unit),
        }
        Ok(())
    }

    fn family(&mut self, name: String) -> &mut Family {
        let i = self.family_index(name);
        &mut self.families[i]
    }

    /// The index of family `name`, created on first sight.
    fn family_index(&mut self, name: String) -> usize {
        if let Some(&i) = self.index.get(&name) {
            return i;
        }
        let i = self.families.len();
        self.families.push(Family {
            name: name.clone(),
            kind: MetricType::Unknown,
            help: None,
            unit: None,
        });
        self.typed.push(false);
        self.index.insert(name, i);
        i
    }
}

/// `b` shown in an error: quoted, lossily decoded, cut to 40 characters.
fn quote(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b.get(..160).unwrap_or(b));
    match s.char_indices().nth(40) {
        Some((cut, _)) => format!("{:?}…", &s[..cut]),
        None => format!("{s:?}"),
    }
}
