//! TraceQL's tokens, each with its byte offset in the query.

use super::error::ParseError;

/// A token of a TraceQL query.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `|`
    Pipe,
    /// An operator (`=`, `!=`, `>>`, `&&`, `!~`, `&>>` ...), as written.
    Op(&'static str),
    /// A string literal, unescaped.
    Str(String),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A duration literal, in ns.
    Duration(i64),
    /// An attribute: its scope prefix (`span`, `resource`, or empty for `.name`) and name.
    Attr(&'static str, String),
    /// A word: a keyword, intrinsic (`span:duration` included) or function name.
    Word(String),
    /// The end of the query.
    Eof,
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Its byte offset in the query.
    pub at: usize,
}

/// Operators, longest first so that the longest match wins.
const OPS: [&str; 25] = [
    "!>>", "!<<", "&>>", "&<<", "!=", "!~", "!>", "!<", "&&", "||", "=~", ">>", "<<", ">=", "<=",
    "&>", "&<", "&~", "=", ">", "<", "~", "!", "+", "-",
];
const OPS1: [&str; 4] = ["*", "/", "%", "^"];

/// Whether `c` may be part of an attribute name (Tempo's rule: anything but white space
/// and `{}()=~!<>&|^,`).
fn attr_char(c: char) -> bool {
    !(c.is_whitespace() || "{}()=~!<>&|^,\"".contains(c))
}

/// The query's tokens, ending with [`Tok::Eof`].
pub fn tokens(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let at = i;
        let single = match c {
            b'{' => Some(Tok::LBrace),
            b'}' => Some(Tok::RBrace),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(tok) = single {
            out.push(Token { tok, at });
            i += 1;
            continue;
        }
        if c == b'|' && b.get(i + 1) != Some(&b'|') {
            out.push(Token { tok: Tok::Pipe, at });
            i += 1;
            continue;
        }
        if c == b'"' || c == b'`' {
            let (s, next) = string(text, i)?;
            out.push(Token {
                tok: Tok::Str(s),
                at,
            });
            i = next;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let (tok, next) = number(text, i)?;
            out.push(Token { tok, at });
            i = next;
            continue;
        }
        if c == b'.' {
            let (name, next) = attr_name(text, i + 1)?;
            out.push(Token {
                tok: Tok::Attr("", name),
                at,
            });
            i = next;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b':') {
                j += 1;
            }
            let word = &text[i..j];
            let scope = match word {
                "span" => Some("span"),
                "resource" => Some("resource"),
                "event" => Some("event"),
                "link" => Some("link"),
                "instrumentation" => Some("instrumentation"),
                "parent" => Some("parent"),
                _ => None,
            };
            if let (Some(mut scope), Some(b'.')) = (scope, b.get(j)) {
                let mut from = j + 1;
                // `parent.span.` and `parent.resource.`: the parent's scoped attributes.
                if scope == "parent" {
                    for (inner, both) in
                        [("span.", "parent.span"), ("resource.", "parent.resource")]
                    {
                        if text[from..].starts_with(inner) {
                            scope = both;
                            from += inner.len();
                            break;
                        }
                    }
                }
                let (name, next) = attr_name(text, from)?;
                out.push(Token {
                    tok: Tok::Attr(scope, name),
                    at,
                });
                i = next;
                continue;
            }
            out.push(Token {
                tok: Tok::Word(word.to_owned()),
                at,
            });
            i = j;
            continue;
        }
        let rest = &text[i..];
        if let Some(op) = OPS
            .iter()
            .chain(OPS1.iter())
            .find(|op| rest.starts_with(*op))
        {
            out.push(Token {
                tok: Tok::Op(op),
                at,
            });
            i += op.len();
            continue;
        }
        let ch = rest.chars().next().unwrap_or('?');
        return Err(ParseError::at(
            text,
            at,
            format!("unexpected character {ch:?}"),
        ));
    }
    out.push(Token {
        tok: Tok::Eof,
        at: text.len(),
    });
    Ok(out)
}

/// An attribute name from byte `i`: runs of name characters and quoted parts
/// (`span."a b".c`), ending at the first character that ends a name.
fn attr_name(text: &str, mut i: usize) -> Result<(String, usize), ParseError> {
    let mut name = String::new();
    let start = i;
    loop {
        let rest = &text[i..];
        let Some(c) = rest.chars().next() else { break };
        if c == '"' {
            let (s, next) = string(text, i)?;
            name.push_str(&s);
            i = next;
        } else if attr_char(c) {
            name.push(c);
            i += c.len_utf8();
        } else {
            break;
        }
    }
    if name.is_empty() {
        return Err(ParseError::at(text, start, "expected an attribute name"));
    }
    Ok((name, i))
}

/// A string literal from its opening quote at byte `i`: `"..."` with `\"`, `\\`, `\n`,
/// `\t`, `\r` escapes, or a raw `` `...` ``. Returns it and the byte after it.
fn string(text: &str, i: usize) -> Result<(String, usize), ParseError> {
    let quote = text.as_bytes()[i];
    let mut out = String::new();
    let mut chars = text[i + 1..].char_indices();
    while let Some((k, c)) = chars.next() {
        let at = i + 1 + k;
        if c as u32 == quote as u32 {
            return Ok((out, at + 1));
        }
        if c == '\\' && quote == b'"' {
            match chars.next() {
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, other)) => {
                    return Err(ParseError::at(
                        text,
                        at,
                        format!("unknown escape sequence \\{other}"),
                    ));
                }
                None => break,
            }
        } else {
            out.push(c);
        }
    }
    Err(ParseError::at(text, i, "unterminated string"))
}

/// Nanoseconds per duration unit.
fn unit_ns(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return None,
    })
}

/// A number or duration (`12`, `1.5`, `.9`, `1e3`, `200ms`, `1h30m`) from byte `i`.
fn number(text: &str, i: usize) -> Result<(Tok, usize), ParseError> {
    let b = text.as_bytes();
    let digits = |mut j: usize| {
        while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
            j += 1;
        }
        j
    };
    let mut j = digits(i);
    let mut is_float = text[i..j].contains('.');
    if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
        let mut k = j + 1;
        if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
            k += 1;
        }
        if k < b.len() && b[k].is_ascii_digit() {
            while k < b.len() && b[k].is_ascii_digit() {
                k += 1;
            }
            j = k;
            is_float = true;
        }
    }
    let unit_len = |j: usize| {
        let mut k = j;
        while k < text.len() {
            let c = text[k..].chars().next().unwrap_or(' ');
            if c.is_alphabetic() {
                k += c.len_utf8();
            } else {
                break;
            }
        }
        k
    };
    let u_end = unit_len(j);
    if u_end == j {
        let s = &text[i..j];
        let bad = || ParseError::at(text, i, format!("invalid number {s:?}"));
        let tok = if is_float {
            Tok::Float(s.parse().map_err(|_| bad())?)
        } else {
            Tok::Int(s.parse().map_err(|_| bad())?)
        };
        return Ok((tok, j));
    }
    // A duration: one or more number-unit pairs.
    let mut total = 0f64;
    let (mut start, mut num_end, mut end) = (i, j, u_end);
    loop {
        let n: f64 = text[start..num_end]
            .parse()
            .map_err(|_| ParseError::at(text, start, "invalid duration"))?;
        let unit = &text[num_end..end];
        let per = unit_ns(unit).ok_or_else(|| {
            ParseError::at(text, num_end, format!("unknown duration unit {unit:?}"))
        })?;
        total += n * per;
        if end < b.len() && b[end].is_ascii_digit() {
            start = end;
            num_end = digits(end);
            end = unit_len(num_end);
            if end == num_end {
                return Err(ParseError::at(text, num_end, "expected a duration unit"));
            }
        } else {
            break;
        }
    }
    if !total.is_finite() || total.abs() > i64::MAX as f64 {
        return Err(ParseError::at(text, i, "duration out of range"));
    }
    Ok((Tok::Duration(total.round() as i64), end))
}
