//! Lenient JSON scanner after buger/jsonparser as used by Loki: values are
//! located by bracket matching and only visited parts are validated.

use std::ops::ControlFlow;

use super::JsonError;

/// The kind of a JSON value found by the scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// String; its raw form is the still-escaped text between the quotes.
    String,
    /// Number (text kept as written).
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
    /// Object; raw form includes the braces.
    Object,
    /// Array; raw form includes the brackets.
    Array,
}

pub(super) fn next_token(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        if !matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Index just past the closing quote of a string whose opening quote is at
/// `i - 1` (so `i` is the first content byte).
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Index just past the bracket closing the block opened at `i`.
fn block_end(b: &[u8], i: usize, open: u8, close: u8) -> Option<usize> {
    let mut level = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'"' => j = string_end(b, j + 1)?,
            c if c == open => {
                level += 1;
                j += 1;
            }
            c if c == close => {
                level = level.saturating_sub(1);
                j += 1;
                if level == 0 {
                    return Some(j);
                }
            }
            _ => j += 1,
        }
    }
    None
}

/// Reads the value starting at `i` (no leading whitespace). Returns its kind,
/// raw text and the index after it.
pub(super) fn value_at(s: &str, i: usize) -> Result<(JsonKind, &str, usize), JsonError> {
    let b = s.as_bytes();
    let Some(&c) = b.get(i) else {
        return Err(JsonError::Malformed);
    };
    match c {
        b'"' => {
            let end = string_end(b, i + 1).ok_or(JsonError::MalformedString)?;
            Ok((JsonKind::String, s.get(i + 1..end - 1).unwrap_or(""), end))
        }
        b'{' => {
            let end = block_end(b, i, b'{', b'}').ok_or(JsonError::MalformedObject)?;
            Ok((JsonKind::Object, s.get(i..end).unwrap_or(""), end))
        }
        b'[' => {
            let end = block_end(b, i, b'[', b']').ok_or(JsonError::MalformedArray)?;
            Ok((JsonKind::Array, s.get(i..end).unwrap_or(""), end))
        }
        _ => {
            let end = b[i..]
                .iter()
                .position(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t' | b',' | b'}' | b']'))
                .map_or(b.len(), |p| i + p);
            let raw = s.get(i..end).unwrap_or("");
            let kind = match c {
                b't' | b'f' if raw == "true" || raw == "false" => JsonKind::Bool,
                b'n' if raw == "null" => JsonKind::Null,
                b'-' | b'0'..=b'9' => JsonKind::Number,
                _ => return Err(JsonError::UnknownValueType),
            };
            Ok((kind, raw, end))
        }
    }
}

/// Calls `f(key, kind, raw)` for each member of the object that starts `doc`
/// (after optional whitespace), in order, until `f` breaks. Keys are
/// unescaped. Trailing content after the object is ignored.
pub fn object_each<'a>(
    doc: &'a str,
    mut f: impl FnMut(&str, JsonKind, &'a str) -> ControlFlow<()>,
) -> Result<(), JsonError> {
    let b = doc.as_bytes();
    let mut i = next_token(b, 0).ok_or(JsonError::MalformedObject)?;
    if b[i] != b'{' {
        return Err(JsonError::MalformedObject);
    }
    i = next_token(b, i + 1).ok_or(JsonError::MalformedObject)?;
    loop {
        match b[i] {
            b'"' => {}
            b'}' => return Ok(()),
            _ => return Err(JsonError::MalformedObject),
        }
        let kend = string_end(b, i + 1).ok_or(JsonError::MalformedString)?;
        let raw_key = doc.get(i + 1..kend - 1).unwrap_or("");
        let key = if raw_key.contains('\\') {
            std::borrow::Cow::Owned(unescape(raw_key).ok_or(JsonError::MalformedStringEscape)?)
        } else {
            std::borrow::Cow::Borrowed(raw_key)
        };
        i = next_token(b, kend).ok_or(JsonError::Malformed)?;
        if b[i] != b':' {
            return Err(JsonError::Malformed);
        }
        i = next_token(b, i + 1).ok_or(JsonError::Malformed)?;
        let (kind, raw, end) = value_at(doc, i)?;
        if f(&key, kind, raw).is_break() {
            return Ok(());
        }
        i = next_token(b, end).ok_or(JsonError::MalformedArray)?;
        match b[i] {
            b'}' => return Ok(()),
            b',' => i = next_token(b, i + 1).ok_or(JsonError::MalformedArray)?,
            _ => return Err(JsonError::MalformedObject),
        }
    }
}

/// Calls `f(index, kind, raw)` for each element of the array starting `doc`.
pub(super) fn array_each<'a>(
    doc: &'a str,
    mut f: impl FnMut(usize, JsonKind, &'a str) -> ControlFlow<()>,
) -> Result<(), JsonError> {
    let b = doc.as_bytes();
    let mut i = next_token(b, 0).ok_or(JsonError::MalformedArray)?;
    if b[i] != b'[' {
        return Err(JsonError::MalformedArray);
    }
    i = next_token(b, i + 1).ok_or(JsonError::MalformedArray)?;
    let mut idx = 0;
    loop {
        if b[i] == b']' {
            return Ok(());
        }
        let (kind, raw, end) = value_at(doc, i)?;
        if f(idx, kind, raw).is_break() {
            return Ok(());
        }
        idx += 1;
        i = next_token(b, end).ok_or(JsonError::MalformedArray)?;
        match b[i] {
            b']' => return Ok(()),
            b',' => i = next_token(b, i + 1).ok_or(JsonError::MalformedArray)?,
            _ => return Err(JsonError::MalformedArray),
        }
    }
}

fn hex4(s: &str) -> Option<u32> {
    let h = s.get(..4)?;
    if h.bytes().all(|b| b.is_ascii_hexdigit()) {
        u32::from_str_radix(h, 16).ok()
    } else {
        None
    }
}

/// Unescapes the raw content of a JSON string (as `jsonparser.Unescape`):
/// `None` on an invalid escape or an unpaired surrogate.
pub fn unescape(raw: &str) -> Option<String> {
    if !raw.contains('\\') {
        return Some(raw.to_string());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(p) = rest.find('\\') {
        out.push_str(&rest[..p]);
        let esc = &rest[p..];
        let mut used = 2;
        match esc.as_bytes().get(1)? {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let hi = hex4(esc.get(2..)?)?;
                used = 6;
                if (0xD800..0xE000).contains(&hi) {
                    let lo = esc
                        .get(6..)
                        .and_then(|t| t.strip_prefix("\\u"))
                        .and_then(hex4)?;
                    if !(0xD800..0xDC00).contains(&hi) || !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    out.push(char::from_u32(
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00),
                    )?);
                    used = 12;
                } else {
                    out.push(char::from_u32(hi)?);
                }
            }
            _ => return None,
        }
        rest = esc.get(used..)?;
    }
    out.push_str(rest);
    Some(out)
}
