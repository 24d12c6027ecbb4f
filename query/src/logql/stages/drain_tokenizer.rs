//! Line tokenizers of the Drain pattern miner (Loki
//! pkg/pattern/drain/line_tokenizer.go) and log-format detection
//! (`DetectLogFormat` in pkg/pattern/drain/metrics.go).

use std::sync::LazyLock;

use regex::Regex;

use crate::logql::stages::json::top_level_raw_string;
use crate::logql::stages::logfmt::Decoder;
use crate::logql::stages::regexp::compile_go;

/// Placeholder for variable tokens in a pattern (Loki `ParamString`).
pub const PARAM: &str = "<_>";

/// How a stream's lines are tokenized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Split on spaces and punctuation.
    Unknown,
    /// Key/value pairs; timestamp-like keys become `<_>`.
    Logfmt,
    /// Only a message field (see `DrainConfig::json_fields`) is tokenized.
    Json,
}

static LOGFMT_LINE: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile_go(r#"^(\w+?=([^"]\S*?|".+?") )*?(\w+?=([^"]\S*?|".+?"))+$"#).ok());

/// Guesses the format of a stream from its first line, like Loki.
pub fn detect_format(line: &str) -> LogFormat {
    if line.len() < 2 {
        LogFormat::Unknown
    } else if line.starts_with('{') && line.ends_with('}') {
        LogFormat::Json
    } else if LOGFMT_LINE.as_ref().is_some_and(|re| re.is_match(line)) {
        LogFormat::Logfmt
    } else {
        LogFormat::Unknown
    }
}

/// Tokens of one line plus, for the punctuation tokenizer, the positions
/// after which a space followed (`None` = before the first token).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tokens {
    /// The tokens.
    pub tokens: Vec<String>,
    /// One entry per space: index of the token it follows.
    pub spaces_after: Vec<Option<usize>>,
}

/// Go's `unicode.IsPunct` for ASCII plus the common non-ASCII punctuation
/// blocks (Latin-1, General Punctuation, CJK, full-width forms).
fn is_punct(c: char) -> bool {
    if c.is_ascii() {
        return matches!(
            c,
            '!' | '"'
                | '#'
                | '%'
                | '&'
                | '\''
                | '('
                | ')'
                | '*'
                | ','
                | '-'
                | '.'
                | '/'
                | ':'
                | ';'
                | '?'
                | '@'
                | '['
                | '\\'
                | ']'
                | '_'
                | '{'
                | '}'
        );
    }
    const RANGES: [(u32, u32); 24] = [
        (0xA1, 0xA1),
        (0xA7, 0xA7),
        (0xAB, 0xAB),
        (0xB6, 0xB7),
        (0xBB, 0xBB),
        (0xBF, 0xBF),
        (0x37E, 0x37E),
        (0x387, 0x387),
        (0x55A, 0x55F),
        (0x589, 0x58A),
        (0x2010, 0x2027),
        (0x2030, 0x2043),
        (0x2045, 0x2051),
        (0x2053, 0x205E),
        (0x2E00, 0x2E4F),
        (0x3001, 0x3003),
        (0x3008, 0x3011),
        (0x3014, 0x301F),
        (0xFE10, 0xFE19),
        (0xFE30, 0xFE52),
        (0xFF01, 0xFF03),
        (0xFF05, 0xFF0A),
        (0xFF0C, 0xFF0F),
        (0xFF1A, 0xFF1B),
    ];
    let u = c as u32;
    RANGES.iter().any(|&(lo, hi)| (lo..=hi).contains(&u))
}

/// Loki's punctuation tokenizer: splits on spaces (remembered for joining),
/// on `=` and on punctuation other than `_ - . : /` (kept as tokens). After
/// 127 tokens the rest of the line is one token. `None` when the line is
/// longer than `max_len` bytes.
pub fn tokenize_punctuation(line: &str, max_len: usize) -> Option<Tokens> {
    if line.len() > max_len {
        return None;
    }
    let mut out = Tokens::default();
    let mut start = 0;
    for (i, c) in line.char_indices() {
        if out.tokens.len() >= 127 {
            break;
        }
        if c.is_alphabetic() || c.is_numeric() || matches!(c, '_' | '-' | '.' | ':' | '/') {
            continue;
        }
        if c == ' ' || c == '=' || is_punct(c) {
            if i > start {
                out.tokens.push(line[start..i].to_string());
            }
            if c == ' ' {
                out.spaces_after.push(out.tokens.len().checked_sub(1));
            } else {
                out.tokens.push(c.to_string());
            }
            start = i + c.len_utf8();
        }
    }
    if start < line.len() {
        out.tokens.push(line[start..].to_string());
    }
    Some(out)
}

/// Inverse of [`tokenize_punctuation`] for (possibly templated) tokens.
pub fn join_punctuation(t: &Tokens) -> String {
    let mut out = String::new();
    let mut spaces = t.spaces_after.iter().peekable();
    while spaces.next_if(|s| s.is_none()).is_some() {
        out.push(' ');
    }
    for (i, token) in t.tokens.iter().enumerate() {
        out.push_str(token);
        while spaces.next_if(|s| **s == Some(i)).is_some() {
            out.push(' ');
        }
    }
    out
}

fn is_variable_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("ts")
        || key == "t"
        || key.eq_ignore_ascii_case("traceID")
        || key.eq_ignore_ascii_case("time")
        || key.eq_ignore_ascii_case("timestamp")
}

/// Loki's logfmt tokenizer: `[key, value, key, value, ...]`, timestamp and
/// trace-id values replaced by `<_>`. `None` for over-long or malformed lines.
pub fn tokenize_logfmt(line: &str, max_len: usize) -> Option<Tokens> {
    if line.len() > max_len {
        return None;
    }
    let mut tokens = Vec::new();
    let mut dec = Decoder::new(line);
    while !dec.eol() && dec.scan_keyval() {
        let key = dec.key().unwrap_or("");
        tokens.push(key.to_string());
        if is_variable_key(key) {
            tokens.push(PARAM.to_string());
        } else {
            tokens.push(dec.value().unwrap_or("").to_string());
        }
    }
    if dec.err().is_some() {
        return None;
    }
    Some(Tokens {
        tokens,
        spaces_after: Vec::new(),
    })
}

fn needs_quotes(v: &str) -> bool {
    v.chars()
        .any(|c| c <= ' ' || c == '=' || c == '"' || c == '\u{FFFD}')
}

fn push_quoted(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '\\' | '"' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{FFFD}' => out.push_str("\\ufffd"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Re-encodes logfmt tokens like go-logfmt's encoder (`""` if a key is
/// invalid).
pub fn join_logfmt(tokens: &[String]) -> String {
    let mut out = String::new();
    for (i, pair) in tokens.chunks(2).enumerate() {
        let key = &pair[0];
        if key.is_empty() || needs_quotes(key) {
            return String::new();
        }
        if i > 0 {
            out.push(' ');
        }
        out.push_str(key);
        out.push('=');
        let value = pair.get(1).map_or("", String::as_str);
        if needs_quotes(value) {
            push_quoted(&mut out, value);
        } else {
            out.push_str(value);
        }
    }
    out
}

/// Loki's JSON tokenizer: punctuation-tokenizes the raw text of the first
/// top-level string field among `fields`; `None` when there is none.
pub fn tokenize_json(line: &str, fields: &[String], max_len: usize) -> Option<Tokens> {
    let found = fields.iter().find_map(|f| top_level_raw_string(line, f))?;
    tokenize_punctuation(found, max_len)
}

/// Pattern text for JSON lines: `<_>` + message pattern + `<_>`.
pub fn join_json(t: &Tokens) -> String {
    format!("{PARAM}{}{PARAM}", join_punctuation(t))
}

/// Collapses runs of adjacent `<_>` into one (Loki
/// `deduplicatePlaceholders`).
pub fn dedup_placeholders(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(p) = rest.find(PARAM) {
        out.push_str(&rest[..p + PARAM.len()]);
        rest = &rest[p + PARAM.len()..];
        while let Some(r) = rest.strip_prefix(PARAM) {
            rest = r;
        }
    }
    out.push_str(rest);
    out
}
