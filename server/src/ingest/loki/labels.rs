//! A pushed stream's labels, and its entries as engine [`LogRecord`]s.
//!
//! The label string (`{app="shop", env="prod"}`) is parsed as Prometheus's `ParseMetric`
//! parses it for Loki (`syntax.ParseLabels`): names `[a-zA-Z_][a-zA-Z0-9_]*`, values
//! quoted with `"`, `'` (Go escapes) or backquotes (raw), separated by commas, an optional
//! trailing comma. A label with an empty value is absent, as in Loki; a stream needs one
//! label at least and may not name one twice. An invalid stream's entries are rejected with
//! Loki's message; the request's other streams are stored.
//!
//! The mapping onto the logs table (`docs/logql.md`, "Streams and labels"): stream labels
//! to `resource_attributes` (strings, sorted by name), `service_name` from the labels as
//! Loki discovers it (and added as a label when discovered), the line to `body`,
//! structured metadata to `attributes`, a `level` to the severity, scope [`SCOPE_NAME`].

use std::sync::Arc;

use strata_engine::{AnyValue, Attributes, LogRecord, Scope};
use strata_query::logql::stages::detect::detect_level;

use super::error::LokiError;

/// The scope name of every pushed record: how a reader tells them from OTLP's.
pub(crate) const SCOPE_NAME: &str = "loki.push";

/// The label naming a stream's service.
pub(crate) const SERVICE_NAME: &str = "service_name";

/// The service of a stream none of whose labels names one (Loki's `ServiceUnknown`).
pub(crate) const UNKNOWN_SERVICE: &str = "unknown_service";

/// Labels whose value becomes `service_name` when the stream has none, first found wins:
/// Loki's default `discover_service_name` (`pkg/validation/limits.go`).
pub(crate) const DISCOVER_SERVICE_NAME: [&str; 13] = [
    "service",
    "app",
    "application",
    "app_name",
    "name",
    "app_kubernetes_io_name",
    "container",
    "container_name",
    "k8s_container_name",
    "component",
    "workload",
    "job",
    "k8s_job_name",
];

/// Structured metadata keys, then label names, read as an entry's level, first found wins.
pub(crate) const LEVEL_KEYS: [&str; 4] = ["level", "detected_level", "lvl", "severity"];

/// The labels of one stream, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SentLabels {
    /// A label string: protobuf's `StreamAdapter.labels`, legacy JSON's `labels`.
    Text(String),
    /// JSON's `stream` object, in the order sent.
    Pairs(Vec<(String, String)>),
}

/// One entry of a stream, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PushEntry {
    /// Nanoseconds since the Unix epoch.
    pub(crate) time_ns: i64,
    /// The log line.
    pub(crate) line: String,
    /// Structured metadata, in the order sent.
    pub(crate) metadata: Vec<(String, String)>,
}

/// One stream of a push request, decoded from either body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PushStream {
    /// Its labels.
    pub(crate) labels: SentLabels,
    /// Its entries.
    pub(crate) entries: Vec<PushEntry>,
}

/// The label pairs of a label string, in the order written, or why it does not parse
/// (`line:column: parse error: ...`, as Prometheus's parser says it).
pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut p = Parser { text, pos: 0 };
    p.skip_ws();
    p.expect('{', "\"{\"")?;
    let mut pairs = Vec::new();
    loop {
        p.skip_ws();
        if p.eat('}') {
            break;
        }
        let name = p.name()?;
        p.skip_ws();
        p.expect('=', "\"=\" (a stream's labels are name=\"value\" pairs)")?;
        p.skip_ws();
        let value = p.value()?;
        pairs.push((name, value));
        p.skip_ws();
        if p.eat('}') {
            break;
        }
        p.expect(',', "\",\" or \"}\"")?;
    }
    p.skip_ws();
    match p.peek() {
        None => Ok(pairs),
        Some(_) => Err(p.unexpected("the end after \"}\"")),
    }
}

/// A cursor over a label string.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.pos += 1;
        }
        found
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// `line:column: parse error: message` at byte `at`.
    fn error_at(&self, at: usize, message: &str) -> String {
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let column = at - before.rfind('\n').map_or(0, |n| n + 1) + 1;
        format!("{line}:{column}: parse error: {message}")
    }

    fn unexpected(&self, expected: &str) -> String {
        let found = self
            .peek()
            .map_or_else(|| "end of input".to_owned(), |c| format!("{c:?}"));
        self.error_at(
            self.pos,
            &format!("unexpected {found}, expected {expected}"),
        )
    }

    fn expect(&mut self, c: char, what: &str) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let rest = &self.text[self.pos..];
        let len = rest
            .bytes()
            .take_while(|&b| b.is_ascii_alphanumeric() || b == b'_');
        let name = &rest[..len.count()];
        if !valid_name(name) {
            return Err(self.unexpected("a label name"));
        }
        self.pos += name.len();
        Ok(name.to_owned())
    }

    /// A quoted value: `"..."` or `'...'` with Go's escapes, or a raw `` `...` ``.
    fn value(&mut self) -> Result<String, String> {
        let start = self.pos;
        let quote = match self.peek() {
            Some(q @ ('"' | '\'' | '`')) => q,
            _ => return Err(self.unexpected("a quoted label value")),
        };
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let at = self.pos;
            let Some(c) = self.bump() else {
                return Err(self.error_at(start, "unterminated quoted string"));
            };
            match c {
                c if c == quote => break,
                '\n' if quote != '`' => {
                    return Err(self.error_at(start, "unterminated quoted string"));
                }
                '\\' if quote != '`' => self.escape(quote, at, &mut out)?,
                c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        String::from_utf8(out).map_err(|_| self.error_at(start, "invalid UTF-8 in quoted string"))
    }

    /// One escape after a backslash at byte `at`, as Go's `strconv.Unquote` reads it.
    fn escape(&mut self, quote: char, at: usize, out: &mut Vec<u8>) -> Result<(), String> {
        let bad = |p: &Self| p.error_at(at, "invalid escape sequence in quoted string");
        let c = self.bump().ok_or_else(|| bad(self))?;
        let simple = match c {
            'a' => Some(7),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            c if c == quote => Some(c as u8),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            return Ok(());
        }
        let (digits, radix) = match c {
            'x' => (2, 16),
            '0'..='7' => (3, 8),
            'u' => (4, 16),
            'U' => (8, 16),
            _ => return Err(bad(self)),
        };
        let start = if radix == 8 { self.pos - 1 } else { self.pos };
        let end = start + digits;
        let code = self
            .text
            .get(start..end)
            .filter(|d| d.chars().all(|c| c.is_digit(radix)))
            .and_then(|d| u32::from_str_radix(d, radix).ok())
            .ok_or_else(|| bad(self))?;
        self.pos = end;
        match c {
            'x' | '0'..='7' => out.push(u8::try_from(code).map_err(|_| bad(self))?),
            _ => {
                let ch = char::from_u32(code).ok_or_else(|| bad(self))?;
                out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
            }
        }
        Ok(())
    }
}

/// Whether `name` is a valid label name.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// JSON labels written as Loki writes a label set, for messages: `{a="b", c="d"}`.
fn render(pairs: &[(String, String)]) -> String {
    let inner: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// A stream's label set, checked: empty values dropped, at least one label, valid names,
/// none twice; sorted by name.
pub(crate) fn label_set(sent: SentLabels) -> Result<Vec<(String, String)>, LokiError> {
    let (text, pairs) = match sent {
        SentLabels::Text(text) => match parse(&text) {
            Ok(pairs) => (text, pairs),
            Err(reason) => {
                return Err(LokiError::InvalidLabels {
                    labels: text,
                    reason,
                });
            }
        },
        SentLabels::Pairs(pairs) => {
            let text = render(&pairs);
            if let Some((name, _)) = pairs.iter().find(|(n, _)| !valid_name(n)) {
                let reason = format!("invalid label name {name:?}: use [a-zA-Z_][a-zA-Z0-9_]*");
                return Err(LokiError::InvalidLabels {
                    labels: text,
                    reason,
                });
            }
            (text, pairs)
        }
    };
    let mut pairs: Vec<_> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    if pairs.is_empty() {
        return Err(LokiError::MissingLabels);
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
        let name = w[0].0.clone();
        return Err(LokiError::DuplicateLabelName { labels: text, name });
    }
    Ok(pairs)
}

/// The OTLP severity number of a level name (case-insensitive); 0 for any other name.
pub(crate) fn severity_number(level: &str) -> i32 {
    match level.to_ascii_lowercase().as_str() {
        "trace" => 1,
        "debug" => 5,
        "info" => 9,
        "warn" | "warning" => 13,
        "error" => 17,
        "fatal" | "critical" => 21,
        _ => 0,
    }
}

/// The first non-empty value of [`LEVEL_KEYS`] among `pairs`.
fn level_of(pairs: &[(String, String)]) -> Option<&str> {
    LEVEL_KEYS.iter().find_map(|key| {
        let found = pairs.iter().find(|(n, v)| n == key && !v.is_empty());
        found.map(|(_, v)| v.as_str())
    })
}

/// The scope of every pushed record, to be shared by a request's records.
pub(crate) fn scope() -> Arc<Scope> {
    Arc::new(Scope {
        name: SCOPE_NAME.to_owned(),
        version: String::new(),
        ..Scope::default()
    })
}

/// What every entry of one valid stream shares.
#[derive(Debug)]
pub(crate) struct Stream {
    service_name: String,
    resource: Arc<Attributes>,
    level: Option<String>,
}

impl Stream {
    /// From a checked label set ([`label_set`]): `service_name` as Loki sets it, added to
    /// the labels when it was discovered or defaulted.
    pub(crate) fn new(mut labels: Vec<(String, String)>) -> Self {
        let find = |labels: &[(String, String)], key: &str| {
            let found = labels.iter().find(|(n, _)| n == key);
            found.map(|(_, v)| v.clone())
        };
        let service_name = find(&labels, SERVICE_NAME).unwrap_or_else(|| {
            let discovered = DISCOVER_SERVICE_NAME.iter().find_map(|k| find(&labels, k));
            let service = discovered.unwrap_or_else(|| UNKNOWN_SERVICE.to_owned());
            let at = labels.partition_point(|(n, _)| n.as_str() < SERVICE_NAME);
            labels.insert(at, (SERVICE_NAME.to_owned(), service.clone()));
            service
        });
        let level = level_of(&labels).map(str::to_owned);
        let resource = labels
            .into_iter()
            .map(|(n, v)| (n, AnyValue::String(v)))
            .collect();
        Self {
            service_name,
            resource: Arc::new(resource),
            level,
        }
    }

    /// The record of one entry received at `observed_ns`, of `scope` ([`scope`]).
    pub(crate) fn record(&self, e: PushEntry, observed_ns: i64, scope: &Arc<Scope>) -> LogRecord {
        let level = level_of(&e.metadata).or(self.level.as_deref());
        let severity_text = level.unwrap_or_default().to_owned();
        // Without a level label or metadata, the level Loki detects in the line (a JSON or
        // logfmt `level` field, else a keyword) sets the number; the text stays empty, so
        // the record is not said to carry a level it was not sent.
        let severity_number = match level {
            Some(_) => severity_number(&severity_text),
            None => severity_number(&detect_level(&e.line, &[], &[])),
        };
        LogRecord {
            time_ns: e.time_ns,
            observed_time_ns: observed_ns,
            severity_number,
            severity_text,
            body: Some(AnyValue::String(e.line)),
            service_name: self.service_name.clone(),
            trace_id: None,
            span_id: None,
            flags: 0,
            attributes: e
                .metadata
                .into_iter()
                .map(|(n, v)| (n, AnyValue::String(v)))
                .collect(),
            resource_attributes: self.resource.clone(),
            scope: scope.clone(),
            dropped_attributes_count: 0,
        }
    }
}

#[cfg(test)]
#[path = "labels_tests.rs"]
mod tests;
