//! `| logfmt` parser stage (Loki `LogfmtParser` / `LogfmtExpressionParser`,
//! pkg/logql/log/parser.go, decoder from pkg/logql/log/logfmt/decode.go).
//!
//! Behaviour kept from Loki:
//! * keys are sanitized with [`sanitize_label_name`]; the first occurrence of a
//!   key wins (Loki's "already extracted" hint);
//! * key-only pairs (`foo bar=1`) and `foo=` have an empty value and are
//!   dropped unless `keep_empty` (`| logfmt --keep-empty`);
//! * a value containing U+FFFD has it replaced by a space;
//! * non-strict parsing skips malformed pairs; strict parsing
//!   (`| logfmt --strict`) stops at the first malformed pair and reports a
//!   [`LogfmtError::Syntax`] whose message is Loki's `__error_details__`
//!   (the caller sets `__error__="LogfmtParserErr"`) and whose `partial` holds
//!   the pairs extracted before the error (Loki keeps them).
//!
//! Callers apply [`crate::logql::stages::names::extracted_name`] for keys that
//! collide with stream labels / structured metadata.

use std::borrow::Cow;

use thiserror::Error;

use super::names::sanitize_label_name;

/// Errors of the logfmt stage.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LogfmtError {
    /// Malformed logfmt input (strict mode). `pos` is 1-based in bytes, as
    /// Loki reports it; `partial` holds the pairs extracted before the error.
    #[error("logfmt syntax error at pos {pos} : {msg}")]
    Syntax {
        /// 1-based byte position of the error.
        pos: usize,
        /// Loki's message (`unexpected '='`, `invalid key`, ...).
        msg: String,
        /// Pairs extracted before the error.
        partial: Vec<(String, String)>,
    },
    /// Invalid key expression in `| logfmt label="expr"`.
    #[error("cannot parse expression [{expr}]: {msg}")]
    Expression {
        /// The expression as written.
        expr: String,
        /// What is wrong with it.
        msg: String,
    },
}

/// A streaming logfmt decoder over one line, following go-logfmt's
/// `ScanKeyval` state machine as adapted by Loki.
#[derive(Debug)]
pub struct Decoder<'a> {
    line: &'a str,
    pos: usize,
    key: Option<&'a str>,
    value: Option<Cow<'a, str>>,
    err: Option<(usize, String)>,
}

impl<'a> Decoder<'a> {
    /// Creates a decoder positioned at the start of `line`.
    pub fn new(line: &'a str) -> Self {
        Decoder {
            line,
            pos: 0,
            key: None,
            value: None,
            err: None,
        }
    }

    /// True once the whole line has been consumed.
    pub fn eol(&self) -> bool {
        self.pos >= self.line.len()
    }

    /// The key found by the last successful [`Decoder::scan_keyval`].
    pub fn key(&self) -> Option<&'a str> {
        self.key
    }

    /// The value found by the last successful [`Decoder::scan_keyval`]
    /// (`None` for `key` or `key=`).
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// The last syntax error as `(1-based position, message)`.
    pub fn err(&self) -> Option<(usize, &str)> {
        self.err.as_ref().map(|(p, m)| (*p, m.as_str()))
    }

    fn syntax_error(&mut self, msg: &str) {
        self.err = Some((self.pos + 1, msg.to_string()));
    }

    fn unexpected_byte(&mut self, c: u8) {
        self.err = Some((self.pos + 1, format!("unexpected '{}'", char::from(c))));
    }

    /// Skips to the next byte `<= ' '` after a malformed pair; returns false.
    fn skip_value(&mut self) -> bool {
        let bytes = self.line.as_bytes();
        while self.pos < bytes.len() && bytes[self.pos] > b' ' {
            self.pos += 1;
        }
        false
    }

    /// Advances to the next `key[=value]` pair. Returns false at the end of
    /// the line or on a malformed pair (see [`Decoder::err`]).
    pub fn scan_keyval(&mut self) -> bool {
        self.key = None;
        self.value = None;
        let line = self.line;
        let bytes = line.as_bytes();
        // Skip garbage (anything <= ' ').
        while self.pos < bytes.len() && bytes[self.pos] <= b' ' {
            self.pos += 1;
        }
        if self.pos >= bytes.len() {
            return false;
        }
        // Key.
        let start = self.pos;
        while self.pos < bytes.len() {
            let c = bytes[self.pos];
            if c == b'=' {
                if self.pos > start {
                    let key = &line[start..self.pos];
                    if key.contains('\u{FFFD}') {
                        self.syntax_error("invalid key");
                        return self.skip_value();
                    }
                    self.key = Some(key);
                    return self.scan_value();
                }
                self.unexpected_byte(c);
                return self.skip_value();
            } else if c == b'"' {
                self.unexpected_byte(c);
                return self.skip_value();
            } else if c <= b' ' {
                break;
            }
            self.pos += 1;
        }
        let key = &line[start..self.pos];
        if key.contains('\u{FFFD}') {
            self.syntax_error("invalid key");
            return false;
        }
        self.key = Some(key);
        true
    }

    /// Parses the value after `=` (self.pos is on the `=`).
    fn scan_value(&mut self) -> bool {
        let line = self.line;
        let bytes = line.as_bytes();
        self.pos += 1;
        let Some(&first) = bytes.get(self.pos) else {
            return true;
        };
        if first <= b' ' {
            return true;
        }
        if first == b'"' {
            return self.scan_quoted();
        }
        let start = self.pos;
        while self.pos < bytes.len() {
            let c = bytes[self.pos];
            if c == b'=' || c == b'"' {
                self.unexpected_byte(c);
                return self.skip_value();
            }
            if c <= b' ' {
                break;
            }
            self.pos += 1;
        }
        if self.pos > start {
            self.value = Some(Cow::Borrowed(&line[start..self.pos]));
        }
        true
    }

    /// Parses a quoted value (self.pos is on the opening quote).
    fn scan_quoted(&mut self) -> bool {
        let line = self.line;
        let bytes = line.as_bytes();
        let start = self.pos;
        let (mut has_esc, mut esc) = (false, false);
        let mut i = start + 1;
        while i < bytes.len() {
            let c = bytes[i];
            if esc {
                esc = false;
            } else if c == b'\\' {
                has_esc = true;
                esc = true;
            } else if c == b'"' {
                self.pos = i + 1;
                let inner = &line[start + 1..i];
                if has_esc {
                    match unquote(inner) {
                        Some(v) => self.value = Some(Cow::Owned(v)),
                        None => {
                            self.syntax_error("invalid quoted value");
                            return false;
                        }
                    }
                } else if !inner.is_empty() {
                    self.value = Some(Cow::Borrowed(inner));
                }
                return true;
            }
            i += 1;
        }
        self.pos = bytes.len();
        self.syntax_error("unterminated quoted value");
        false
    }
}

fn hex4(s: &str) -> Option<u32> {
    let h = s.get(..4)?;
    if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(h, 16).ok()
}

/// Unquotes the inside of a logfmt quoted value (JSON-style escapes plus
/// `\'`), as Loki's `unquoteBytes`. Invalid surrogates become U+FFFD.
fn unquote(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            if c == '"' {
                return None;
            }
            out.push(c);
            continue;
        }
        let (_, e) = chars.next()?;
        match e {
            '"' | '\\' | '/' | '\'' => out.push(e),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let hi = hex4(s.get(i + 2..)?)?;
                for _ in 0..4 {
                    chars.next();
                }
                if (0xD800..0xDC00).contains(&hi) {
                    let rest = s.get(i + 6..).unwrap_or("");
                    if let Some(lo) = rest.strip_prefix("\\u").and_then(hex4)
                        && (0xDC00..0xE000).contains(&lo)
                    {
                        for _ in 0..6 {
                            chars.next();
                        }
                        let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                        out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                        continue;
                    }
                    out.push('\u{FFFD}');
                } else {
                    out.push(char::from_u32(hi).unwrap_or('\u{FFFD}'));
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

fn push_unique(out: &mut Vec<(String, String)>, key: String, value: String) {
    if !out.iter().any(|(k, _)| *k == key) {
        out.push((key, value));
    }
}

/// Parses a logfmt line into sanitized `(key, value)` pairs (`| logfmt`).
///
/// Non-strict mode never fails. In strict mode the first malformed pair stops
/// parsing with [`LogfmtError::Syntax`].
pub fn parse(
    line: &str,
    strict: bool,
    keep_empty: bool,
) -> Result<Vec<(String, String)>, LogfmtError> {
    let mut out = Vec::new();
    let mut dec = Decoder::new(line);
    while !dec.eol() {
        if !dec.scan_keyval() {
            if strict {
                break;
            }
            continue;
        }
        let Some(raw_key) = dec.key() else { continue };
        let key = sanitize_label_name(raw_key);
        if key.is_empty() {
            continue;
        }
        let value = dec.value().unwrap_or("");
        if !keep_empty && value.is_empty() {
            continue;
        }
        push_unique(&mut out, key, value.replace('\u{FFFD}', " "));
    }
    if strict && let Some((pos, msg)) = dec.err() {
        return Err(LogfmtError::Syntax {
            pos,
            msg: msg.to_string(),
            partial: out,
        });
    }
    Ok(out)
}

/// Validates the key expression of `| logfmt label="expr"` (Loki's logfmt
/// expression grammar: a bare identifier `[A-Za-z_][A-Za-z0-9_]*` or a quoted
/// string) and returns the key it selects.
pub fn parse_key_expr(expr: &str) -> Result<String, LogfmtError> {
    let err = |msg: String| LogfmtError::Expression {
        expr: expr.to_string(),
        msg,
    };
    let trimmed = expr.trim_matches(|c| c == ' ' || c == '\t' || c == '\n');
    if trimmed.is_empty() {
        return Err(err("syntax error: unexpected $end".to_string()));
    }
    if let Some(rest) = trimmed.strip_prefix('"') {
        // Loki's scanner ends a string at `"` or `]`.
        let end = rest.find(['"', ']']).unwrap_or(rest.len());
        if rest
            .get(end + 1..)
            .is_some_and(|tail| !tail.trim().is_empty())
        {
            return Err(err("syntax error: unexpected STRING".to_string()));
        }
        return Ok(rest[..end].to_string());
    }
    let mut chars = trimmed.chars();
    if let Some(c) = chars.next()
        && !(c.is_ascii_alphabetic() || c == '_')
    {
        return Err(err(format!("unexpected char {c}")));
    }
    for c in chars {
        if c.is_ascii_alphanumeric() || c == '_' {
            continue;
        }
        if c == ' ' || c == '\t' || c == '\n' {
            return Err(err("syntax error: unexpected KEY".to_string()));
        }
        return Err(err(format!("unexpected char {c}")));
    }
    Ok(trimmed.to_string())
}

/// Extracts selected keys (`| logfmt lbl="key", other`), returning one
/// `(label, value)` per expression in order. `exprs` are `(label, key
/// expression)`; a key missing from the line yields `""`; when a key occurs
/// several times the last occurrence wins; a value containing U+FFFD becomes
/// empty (all as Loki's `LogfmtExpressionParser`).
pub fn parse_selected(
    line: &str,
    exprs: &[(String, String)],
    strict: bool,
) -> Result<Vec<(String, String)>, LogfmtError> {
    let keys = exprs
        .iter()
        .map(|(_, e)| parse_key_expr(e))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out: Vec<(String, String)> = exprs
        .iter()
        .map(|(l, _)| (l.clone(), String::new()))
        .collect();
    let mut dec = Decoder::new(line);
    while !dec.eol() {
        if !dec.scan_keyval() {
            if strict {
                break;
            }
            continue;
        }
        let Some(raw_key) = dec.key() else { continue };
        let key = sanitize_label_name(raw_key);
        let Some(idx) = keys.iter().position(|k| *k == key) else {
            continue;
        };
        let value = dec.value().unwrap_or("");
        let value = if value.contains('\u{FFFD}') {
            String::new()
        } else {
            value.to_string()
        };
        if let Some(slot) = out.get_mut(idx) {
            slot.1 = value;
        }
    }
    if strict && let Some((pos, msg)) = dec.err() {
        return Err(LogfmtError::Syntax {
            pos,
            msg: msg.to_string(),
            partial: out,
        });
    }
    Ok(out)
}

#[cfg(test)]
#[path = "logfmt_tests.rs"]
mod tests;
