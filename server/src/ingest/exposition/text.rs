//! The line parser both formats share: a sample line (`name{labels} value [timestamp]`,
//! plus an OpenMetrics exemplar) and a `# HELP` / `# TYPE` / `# UNIT` line, read in one
//! pass from the line's first byte up to its `\n` (or the body's end). Errors are reasons;
//! the caller adds the line number.
//!
//! As Prometheus reads it, a quoted string in the text format may hold raw newlines (a
//! line then goes on over several); in OpenMetrics it may not.
//!
//! The text format allows spaces and tabs around every token; OpenMetrics allows exactly
//! one space between the series, the value, the timestamp and ` # {` before an exemplar,
//! and none inside braces.

mod meta;

use super::number::{float, om_timestamp, text_timestamp};
use super::{Exemplar, MetricType, quote};
use crate::ingest::utf8;

/// Labels of a sample or an exemplar, in exposition order.
pub(crate) type Labels = Vec<(String, String)>;

/// Up to this many labels duplicates are found by comparing each pair; beyond, by sorting.
const PAIRWISE_LABELS: usize = 16;

/// A cursor on one line: the body from the line's start, and a position in it. The line
/// ends at a `\n` outside quotes, or at the body's end.
pub(crate) struct Line<'a> {
    b: &'a [u8],
    i: usize,
    /// OpenMetrics rules (no optional whitespace).
    om: bool,
    /// Raw newlines passed inside quoted strings (text format), for the line count.
    pub(crate) newlines: usize,
}

/// A sample line as read: its series part is only delimited here (see [`series_len`]);
/// [`decode_series`] reads its name and labels when they are wanted.
pub(crate) struct RawSample<'a> {
    /// The body from the line's first byte.
    pub(crate) line: &'a [u8],
    /// How many bytes of `line` name the series (`name`, `name{...}` or `{...}`).
    pub(crate) series_len: usize,
    pub(crate) value: f64,
    pub(crate) timestamp_ms: Option<i64>,
    pub(crate) exemplar: Option<Exemplar>,
}

/// A metadata line: which keyword, for which metric family, with what text after it.
pub(crate) enum Meta {
    /// Family name, text with escapes undone.
    Help(String, String),
    /// Family name, type.
    Type(String, MetricType),
    /// Family name, unit.
    Unit(String, String),
}

fn is_name_start(c: u8, metric: bool) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || (metric && c == b':')
}

fn is_name_char(c: u8, metric: bool) -> bool {
    is_name_start(c, metric) || c.is_ascii_digit()
}

impl<'a> Line<'a> {
    /// A cursor at `start` in `b` (which runs from the line's start to the body's end).
    pub(crate) fn new(b: &'a [u8], start: usize, om: bool) -> Self {
        Line {
            b,
            i: start,
            om,
            newlines: 0,
        }
    }

    /// How far the cursor is from the line's start.
    pub(crate) fn pos(&self) -> usize {
        self.i
    }

    /// The byte at the cursor; `None` at the line's end.
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied().filter(|&c| c != b'\n')
    }

    /// From the cursor to the line's end.
    fn rest(&self) -> &'a [u8] {
        let rest = self.b.get(self.i..).unwrap_or_default();
        let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
        &rest[..end]
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.b.get(self.i..).is_some_and(|r| r.starts_with(s))
    }

    fn at_end(&self) -> bool {
        self.peek().is_none()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += usize::from(hit);
        hit
    }

    /// Text format: skips spaces and tabs; OpenMetrics: nothing.
    fn skip_ws(&mut self) {
        if !self.om {
            while matches!(self.peek(), Some(b' ' | b'\t')) {
                self.i += 1;
            }
        }
    }

    /// The separator before a value or timestamp: at least one space or tab (text), exactly
    /// one space (OpenMetrics). False, consuming nothing, when there is none.
    fn separator(&mut self) -> bool {
        if self.om {
            return self.eat(b' ');
        }
        let start = self.i;
        self.skip_ws();
        self.i > start
    }

    /// The next token: up to a space or the line's end (in the text format also a tab or
    /// a `{`).
    fn token(&self) -> &'a [u8] {
        let rest = self.b.get(self.i..).unwrap_or_default();
        let end = rest
            .iter()
            .position(|&c| c == b' ' || c == b'\n' || !self.om && (c == b'\t' || c == b'{'))
            .unwrap_or(rest.len());
        &rest[..end]
    }

    /// What comes next, quoted for a message: the next token, or "the end of the line".
    fn got(&self) -> String {
        match self.peek() {
            None => "the end of the line".into(),
            Some(c @ (b' ' | b'\t')) => format!("{:?}", char::from(c)),
            Some(_) => quote(self.token()),
        }
    }

    /// A name of the classic charset (`[a-zA-Z_:][a-zA-Z0-9_:]*` for metrics, no `:` for
    /// labels), or `None` at anything else.
    fn legacy_name(&mut self, metric: bool) -> Option<&'a [u8]> {
        let start = self.i;
        if !self.peek().is_some_and(|c| is_name_start(c, metric)) {
            return None;
        }
        while self.peek().is_some_and(|c| is_name_char(c, metric)) {
            self.i += 1;
        }
        self.b.get(start..self.i)
    }

    /// A quoted string's raw bytes between the quotes (escapes not yet undone), `None` when
    /// not at a `"`. A backslash escapes any character but a newline; raw newlines are
    /// part of the string in the text format, its end in OpenMetrics.
    fn quoted(&mut self) -> Result<Option<&'a [u8]>, String> {
        if !self.eat(b'"') {
            return Ok(None);
        }
        let start = self.i;
        loop {
            match self.b.get(self.i) {
                Some(b'"') => break,
                Some(b'\\') if self.b.get(self.i + 1).is_some_and(|&c| c != b'\n') => {
                    self.i += 2;
                }
                Some(b'\n') if !self.om => {
                    self.newlines += 1;
                    self.i += 1;
                }
                Some(b'\\' | b'\n') | None => {
                    // Shown from its quote to the end of the line it began on.
                    let from = self.b.get(start - 1..).unwrap_or_default();
                    let end = from.iter().position(|&c| c == b'\n');
                    let shown = from.get(..end.unwrap_or(from.len())).unwrap_or(from);
                    return Err(format!("unterminated quoted string {}", quote(shown)));
                }
                Some(_) => self.i += 1,
            }
        }
        let raw = self.b.get(start..self.i).unwrap_or_default();
        self.i += 1;
        Ok(Some(raw))
    }

    /// A sample line (the cursor at its first non-blank byte). The series part is
    /// delimited, not decoded: a reader that knows the series by its bytes skips the
    /// labels ([`decode_series`] reads them).
    pub(crate) fn sample(&mut self) -> Result<RawSample<'a>, String> {
        let from = self.i;
        let line = self.b.get(from..).unwrap_or_default();
        match series_len(line, self.om) {
            Some((len, newlines)) => {
                self.i += len;
                self.newlines += newlines;
            }
            // Not well formed enough to tell where the series ends: the full reading says
            // why (or, should it succeed, where it ends).
            None => {
                self.series()?;
            }
        }
        let series_len = self.i - from;
        let value = self.value("the series")?;
        let (timestamp_ms, exemplar) = if self.om {
            self.om_tail()?
        } else {
            (self.text_tail()?, None)
        };
        Ok(RawSample {
            line,
            series_len,
            value,
            timestamp_ms,
            exemplar,
        })
    }

    /// The series part of a sample line: the metric name (before the braces or quoted
    /// inside them) and the labels. The cursor ends after the closing brace, or after the
    /// name when there are no braces.
    fn series(&mut self) -> Result<(String, Labels), String> {
        let mut name = None;
        let mut end = self.i;
        if self.peek() != Some(b'{') {
            let Some(n) = self.legacy_name(true) else {
                return Err(format!("expected a metric name, got {}", self.got()));
            };
            // In the text format the value may follow the name directly (`m+1`), as
            // Prometheus reads it.
            name = Some(n);
            end = self.i;
            self.skip_ws();
        }
        let labels = if self.eat(b'{') {
            let labels = self.labels(&mut name, false)?;
            end = self.i;
            labels
        } else {
            Vec::new()
        };
        self.i = end;
        let Some(raw_name) = name else {
            return Err(
                "no metric name: expected one before the braces or quoted inside them".into(),
            );
        };
        Ok((unescape(raw_name, "metric name", true)?, labels))
    }

    /// The separator and a value after `after` (in the text format none is needed).
    fn value(&mut self, after: &str) -> Result<f64, String> {
        let separated = if self.om {
            self.eat(b' ')
        } else {
            self.skip_ws();
            true
        };
        let tok = self.token();
        if !separated || tok.is_empty() {
            return Err(format!("missing value after {after}, got {}", self.got()));
        }
        self.i += tok.len();
        float(tok)
    }

    /// The text format's optional timestamp and the end of the line.
    fn text_tail(&mut self) -> Result<Option<i64>, String> {
        self.skip_ws();
        if self.at_end() {
            return Ok(None);
        }
        let tok = self.token();
        if tok.is_empty() {
            return Err(format!("unexpected {} after the value", quote(self.rest())));
        }
        self.i += tok.len();
        let ts = text_timestamp(tok)?;
        self.skip_ws();
        if !self.at_end() {
            return Err(format!(
                "unexpected {} after the timestamp",
                quote(self.rest())
            ));
        }
        Ok(Some(ts))
    }

    /// OpenMetrics: one space and a token next; consumes the space when so.
    fn om_field(&mut self) -> bool {
        let next = self.b.get(self.i + 1);
        let ok = self.peek() == Some(b' ') && !matches!(next, None | Some(b' ' | b'\n'));
        self.i += usize::from(ok);
        ok
    }

    /// OpenMetrics: the optional timestamp, the optional exemplar, the end of the line.
    fn om_tail(&mut self) -> Result<(Option<i64>, Option<Exemplar>), String> {
        let mut ts = None;
        if !self.at_end() && !self.starts_with(b" # {") {
            if !self.om_field() {
                return Err(format!("expected a timestamp, got {}", quote(self.rest())));
            }
            let tok = self.token();
            self.i += tok.len();
            ts = Some(om_timestamp(tok)?);
        }
        if self.at_end() {
            return Ok((ts, None));
        }
        if !self.starts_with(b" # {") {
            let what = if ts.is_some() {
                "the timestamp"
            } else {
                "the value"
            };
            return Err(format!("unexpected {} after {what}", quote(self.rest())));
        }
        self.i += 4;
        Ok((ts, Some(self.exemplar()?)))
    }

    /// An exemplar after its ` # {`: labels, value, optional timestamp, end of line.
    fn exemplar(&mut self) -> Result<Exemplar, String> {
        let labels = self.labels(&mut None, true)?;
        let value = self.value("the exemplar's labels")?;
        let mut timestamp_ms = None;
        if !self.at_end() {
            if !self.om_field() {
                return Err(format!(
                    "expected the exemplar's timestamp, got {}",
                    quote(self.rest())
                ));
            }
            let tok = self.token();
            self.i += tok.len();
            timestamp_ms = Some(om_timestamp(tok)?);
            if !self.at_end() {
                return Err(format!(
                    "unexpected {} after the exemplar",
                    quote(self.rest())
                ));
            }
        }
        Ok(Exemplar {
            labels,
            value,
            timestamp_ms,
        })
    }

    /// The labels after a `{`, through the `}`. A quoted string followed by `,` or `}` is
    /// the metric name (into `name`; not in an exemplar). Label names must be unique, not
    /// `__name__` and not empty.
    fn labels(&mut self, name: &mut Option<&'a [u8]>, exemplar: bool) -> Result<Labels, String> {
        let mut labels = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b'}') {
                break;
            }
            let quoted = self.quoted()?;
            let Some(lname) = quoted.or_else(|| self.legacy_name(false)) else {
                return Err(format!("expected a label name, got {}", self.got()));
            };
            self.skip_ws();
            if quoted.is_some() && !exemplar && matches!(self.peek(), Some(b',' | b'}')) {
                if name.is_some() {
                    return Err(format!("metric name already set, got {}", quote(lname)));
                }
                *name = Some(lname);
            } else {
                if !self.eat(b'=') {
                    return Err(format!(
                        "expected '=' after label name {}, got {}",
                        quote(lname),
                        self.got()
                    ));
                }
                self.skip_ws();
                let Some(value) = self.quoted()? else {
                    return Err(format!(
                        "expected a quoted label value after {}=, got {}",
                        quote(lname),
                        self.got()
                    ));
                };
                let lname = unescape(lname, "label name", true)?;
                if lname == "__name__" {
                    return Err("label name \"__name__\" is reserved for the metric name".into());
                }
                labels.push((lname, unescape(value, "label value", false)?));
            }
            self.skip_ws();
            // The text format lets labels follow each other without a comma, as Prometheus
            // reads it; OpenMetrics wants a comma or the closing brace.
            if !self.eat(b',') && self.om && self.peek() != Some(b'}') {
                return Err(format!(
                    "expected ',' or '}}' after a label, got {}",
                    self.got()
                ));
            }
        }
        check_unique(&labels)?;
        Ok(labels)
    }
}

/// The name and labels of a sample line's series part: `line` from the line's first
/// byte, `len` bytes of it naming the series (as [`RawSample::series_len`] said). The
/// reading is the one a whole line gets, so errors read the same.
pub(crate) fn decode_series(line: &[u8], len: usize, om: bool) -> Result<(String, Labels), String> {
    let mut l = Line::new(line, 0, om);
    let decoded = l.series()?;
    if l.i != len {
        return Err(format!(
            "unexpected {} after the series",
            quote(line.get(l.i.min(len)..len.max(l.i)).unwrap_or_default())
        ));
    }
    Ok(decoded)
}

/// Where the series part of a sample line ends, without decoding it: a metric name of
/// the classic charset, then (after blanks in the text format) braces through their
/// closing `}`, quoted strings stepped over as [`Line::quoted`] reads them. With the raw
/// newlines passed inside quotes (text format). `None` when the line is not well formed
/// enough to tell; the full reading then reports the error.
///
/// Equal bytes read equally: a series part that decoded once decodes to the same name and
/// labels wherever it appears, which is what lets a reader skip known ones.
pub(crate) fn series_len(b: &[u8], om: bool) -> Option<(usize, usize)> {
    let name = match b.first() {
        Some(&c) if is_name_start(c, true) => {
            1 + b[1..]
                .iter()
                .take_while(|&&c| is_name_char(c, true))
                .count()
        }
        _ => 0,
    };
    let mut i = name;
    if !om {
        i += b[i..]
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
    }
    if b.get(i) != Some(&b'{') {
        return (name > 0).then_some((name, 0));
    }
    i += 1;
    let mut newlines = 0;
    loop {
        match *b.get(i)? {
            b'}' => return Some((i + 1, newlines)),
            b'\n' => return None,
            b'"' => {
                i += 1;
                loop {
                    match *b.get(i)? {
                        b'"' => break,
                        b'\\' if b.get(i + 1).is_some_and(|&c| c != b'\n') => i += 2,
                        b'\n' if !om => {
                            newlines += 1;
                            i += 1;
                        }
                        b'\\' | b'\n' => return None,
                        _ => i += 1,
                    }
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
}

/// A quoted string's contents (or a unit): UTF-8, with `\\`, `\"` and `\n` undone; other
/// backslashes stay as written (as Prometheus reads them). Names must not be empty.
fn unescape(raw: &[u8], what: &str, name: bool) -> Result<String, String> {
    let Some(s) = utf8::text(raw) else {
        return Err(format!("{what} {} is not valid UTF-8", quote(raw)));
    };
    if name && s.is_empty() {
        return Err(format!("empty {what}"));
    }
    Ok(undo_escapes(s, true))
}

/// `s` with `\\`, `\n` (and `\"` when `quote`) replaced; other backslashes kept.
fn undo_escapes(s: &str, quote: bool) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.clone().next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}

/// No label name twice: pairwise for a few labels, sorted for many (no quadratic work on a
/// hostile line).
fn check_unique(labels: &Labels) -> Result<(), String> {
    let dup = if labels.len() <= PAIRWISE_LABELS {
        labels
            .iter()
            .enumerate()
            .find(|(i, (n, _))| labels[..*i].iter().any(|(m, _)| m == n))
            .map(|(_, (n, _))| n.as_str())
    } else {
        let mut names: Vec<&str> = labels.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        names.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    };
    match dup {
        Some(n) => Err(format!("duplicate label name {}", quote(n.as_bytes()))),
        None => Ok(()),
    }
}
