//! The LogQL lexer: turns query text into tokens with byte spans. It owns the literal
//! syntaxes: strings (`"..."` with Go escapes, `` `...` `` raw), numbers, durations (`5m`,
//! `1h30m`, `1.5s`: Prometheus or Go syntax), byte sizes (`10KB`, `1.5MiB`: go-humanize
//! syntax), ranges (`[5m]`: Prometheus syntax only), the `logfmt` flags and `#` comments.
//!
//! Words (identifiers and keywords alike) are one token kind: the parser decides from context
//! whether `json` or `by` is a keyword or a label name.

use super::error::ParseError;

/// A token and where it is in the query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    /// What it is.
    pub(crate) kind: Tok,
    /// Byte offset of its first character.
    pub(crate) start: usize,
    /// Byte offset just past its last character.
    pub(crate) end: usize,
}

/// Token kinds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A word: `[_\p{Alphabetic}][_\p{Alphanumeric}]*` (label names, functions, keywords).
    Ident,
    /// A string literal, unquoted.
    Str(String),
    /// A number literal (never negative: signs are tokens of their own).
    Number(f64),
    /// A duration literal (`250ms`, `1h30m`), in nanoseconds.
    Duration(i128),
    /// A byte-size literal (`10KB`), in bytes (whole, below 2^64).
    Bytes(f64),
    /// A range `[5m]`, in milliseconds.
    Range(i64),
    /// `--strict`
    FlagStrict,
    /// `--keep-empty`
    FlagKeepEmpty,
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
    /// `=`
    Eq,
    /// `==`
    EqEq,
    /// `!=`
    Ne,
    /// `=~`
    Re,
    /// `!~`
    Nre,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `|`
    Pipe,
    /// `|=`
    PipeExact,
    /// `|~`
    PipeMatch,
    /// `|>`
    PipePattern,
    /// `!>`
    NotPattern,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// The end of the query (always the last token).
    Eof,
}

impl Tok {
    /// How syntax errors name the token (Loki's names for the literal kinds).
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Tok::Ident => "IDENTIFIER",
            Tok::Str(_) => "STRING",
            Tok::Number(_) => "NUMBER",
            Tok::Duration(_) => "DURATION",
            Tok::Bytes(_) => "BYTES",
            Tok::Range(_) => "RANGE",
            Tok::FlagStrict => "--strict",
            Tok::FlagKeepEmpty => "--keep-empty",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Eq => "=",
            Tok::EqEq => "==",
            Tok::Ne => "!=",
            Tok::Re => "=~",
            Tok::Nre => "!~",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Pipe => "|",
            Tok::PipeExact => "|=",
            Tok::PipeMatch => "|~",
            Tok::PipePattern => "|>",
            Tok::NotPattern => "!>",
            Tok::Add => "+",
            Tok::Sub => "-",
            Tok::Mul => "*",
            Tok::Div => "/",
            Tok::Mod => "%",
            Tok::Pow => "^",
            Tok::Eof => "end of input",
        }
    }
}

/// Whether `s` lexes as exactly one word token (so it can be printed unquoted).
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_word_start) && chars.all(is_word_char)
}

fn is_word_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_word_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits `src` into tokens, ending with [`Tok::Eof`].
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut lx = Lexer {
        src,
        pos: 0,
        toks: Vec::new(),
    };
    lx.run()?;
    Ok(lx.toks)
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    toks: Vec<Token>,
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().nth(n))
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn push(&mut self, kind: Tok, start: usize) {
        self.toks.push(Token {
            kind,
            start,
            end: self.pos,
        });
    }

    fn err(&self, pos: usize, msg: impl Into<String>) -> ParseError {
        ParseError::syntax(self.src, pos, msg)
    }

    fn run(&mut self) -> Result<(), ParseError> {
        while let Some(c) = self.peek() {
            let start = self.pos;
            if c.is_whitespace() {
                self.pos += c.len_utf8();
                continue;
            }
            if c == '#' {
                self.pos = self
                    .rest()
                    .find('\n')
                    .map_or(self.src.len(), |i| self.pos + i);
                continue;
            }
            if is_word_start(c) {
                self.pos += self
                    .rest()
                    .find(|c: char| !is_word_char(c))
                    .unwrap_or(self.rest().len());
                self.push(Tok::Ident, start);
                continue;
            }
            if c.is_ascii_digit()
                || (c == '.' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit()))
            {
                let kind = self.number()?;
                self.push(kind, start);
                continue;
            }
            match c {
                '"' | '`' => {
                    let s = self.string(c)?;
                    self.push(Tok::Str(s), start);
                }
                '[' => {
                    let ms = self.range()?;
                    self.push(Tok::Range(ms), start);
                }
                '-' if self.rest().starts_with("--") => {
                    let flag = self.rest()[2..]
                        .find(|c: char| !(c.is_ascii_alphabetic() || c == '-'))
                        .map_or(&self.rest()[2..], |i| &self.rest()[2..2 + i]);
                    let kind = match flag {
                        "strict" => Some(Tok::FlagStrict),
                        "keep-empty" => Some(Tok::FlagKeepEmpty),
                        _ => None,
                    };
                    self.pos += if kind.is_some() { 2 + flag.len() } else { 1 };
                    self.push(kind.unwrap_or(Tok::Sub), start);
                }
                _ => {
                    let (kind, len) = self.operator(c, start)?;
                    self.pos += len;
                    self.push(kind, start);
                }
            }
        }
        self.toks.push(Token {
            kind: Tok::Eof,
            start: self.src.len(),
            end: self.src.len(),
        });
        Ok(())
    }

    fn operator(&self, c: char, start: usize) -> Result<(Tok, usize), ParseError> {
        let next = self.peek_at(1);
        let two = |kind| Ok((kind, 2));
        match (c, next) {
            ('|', Some('=')) => two(Tok::PipeExact),
            ('|', Some('~')) => two(Tok::PipeMatch),
            ('|', Some('>')) => two(Tok::PipePattern),
            ('|', _) => Ok((Tok::Pipe, 1)),
            ('!', Some('=')) => two(Tok::Ne),
            ('!', Some('~')) => two(Tok::Nre),
            ('!', Some('>')) => two(Tok::NotPattern),
            ('=', Some('~')) => two(Tok::Re),
            ('=', Some('=')) => two(Tok::EqEq),
            ('=', _) => Ok((Tok::Eq, 1)),
            ('>', Some('=')) => two(Tok::Ge),
            ('>', _) => Ok((Tok::Gt, 1)),
            ('<', Some('=')) => two(Tok::Le),
            ('<', _) => Ok((Tok::Lt, 1)),
            ('{', _) => Ok((Tok::LBrace, 1)),
            ('}', _) => Ok((Tok::RBrace, 1)),
            ('(', _) => Ok((Tok::LParen, 1)),
            (')', _) => Ok((Tok::RParen, 1)),
            (',', _) => Ok((Tok::Comma, 1)),
            ('+', _) => Ok((Tok::Add, 1)),
            ('-', _) => Ok((Tok::Sub, 1)),
            ('*', _) => Ok((Tok::Mul, 1)),
            ('/', _) => Ok((Tok::Div, 1)),
            ('%', _) => Ok((Tok::Mod, 1)),
            ('^', _) => Ok((Tok::Pow, 1)),
            ('$', _) => Err(self.err(
                start,
                "unexpected character '$': Grafana variables such as $__interval and $__auto \
                 must be replaced before the query is sent",
            )),
            _ => Err(self.err(start, format!("unexpected character {c:?}"))),
        }
    }

    /// A number, or a duration/byte size when a unit follows without a space (`5m`, `10KB`).
    /// When the unit is neither, the number ends where the letters start (as in Loki).
    fn number(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        let b = self.src.as_bytes();
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut end = digits(start);
        if b.get(end) == Some(&b'.') {
            end = digits(end + 1);
        }
        if matches!(b.get(end), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(b.get(end + 1), Some(b'+' | b'-')));
            if b.get(end + 1 + sign).is_some_and(u8::is_ascii_digit) {
                end = digits(end + 1 + sign);
            }
        }
        let number = self.src.get(start..end).unwrap_or("");
        let rest = self.src.get(end..).unwrap_or("");
        let unit_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '.'))
            .unwrap_or(rest.len());
        if rest.chars().next().is_some_and(char::is_alphabetic) {
            let literal = self.src.get(start..end + unit_len).unwrap_or("");
            if let Some(ns) = parse_duration(literal) {
                self.pos = end + unit_len;
                return Ok(Tok::Duration(ns));
            }
            if let Some(bytes) = parse_bytes(literal) {
                self.pos = end + unit_len;
                return Ok(Tok::Bytes(bytes));
            }
        }
        self.pos = end;
        match number.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Tok::Number(v)),
            _ => Err(self.err(
                start,
                format!("unable to parse number {number:?}: out of range"),
            )),
        }
    }

    /// `[5m]`: a Prometheus duration up to the next `]`, in milliseconds.
    fn range(&mut self) -> Result<i64, ParseError> {
        let start = self.pos;
        let Some(len) = self.rest().find(']') else {
            return Err(self.err(start, "missing closing ']' in duration"));
        };
        let text = self.src.get(start + 1..start + len).unwrap_or("");
        self.pos = start + len + 1;
        match parse_prometheus_duration(text) {
            Some(ns) => Ok(i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX)),
            None if text.contains('$') => Err(self.err(
                start + 1,
                format!(
                    "not a valid duration string: {text:?} (Grafana variables such as \
                     $__interval and $__auto must be replaced before the query is sent)"
                ),
            )),
            None if text.contains(':') => Err(self.err(
                start + 1,
                format!("subqueries are not supported in LogQL: [{text}]"),
            )),
            None => Err(self.err(start + 1, format!("not a valid duration string: {text:?}"))),
        }
    }

    /// A `"..."` (Go escapes, one line) or `` `...` `` (raw) string, unquoted.
    fn string(&mut self, quote: char) -> Result<String, ParseError> {
        let start = self.pos;
        let body = self.src.get(start + 1..).unwrap_or("");
        if quote == '`' {
            let Some(len) = body.find('`') else {
                return Err(self.err(start, "literal not terminated"));
            };
            self.pos = start + 1 + len + 1;
            return Ok(body[..len].to_string());
        }
        let mut out: Vec<u8> = Vec::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + 1 + i + 1;
                    return String::from_utf8(out).map_err(|_| {
                        self.err(
                            start,
                            "invalid UTF-8 in string literal (check its \\x and octal escapes)",
                        )
                    });
                }
                '\n' => break,
                '\\' => {
                    let at = start + 1 + i;
                    let esc = |msg: &str| {
                        self.err(at, format!("invalid escape sequence in string: {msg}"))
                    };
                    let Some((_, e)) = chars.next() else { break };
                    let simple = match e {
                        'a' => Some(0x07),
                        'b' => Some(0x08),
                        'f' => Some(0x0c),
                        'n' => Some(b'\n'),
                        'r' => Some(b'\r'),
                        't' => Some(b'\t'),
                        'v' => Some(0x0b),
                        '\\' => Some(b'\\'),
                        '"' => Some(b'"'),
                        _ => None,
                    };
                    if let Some(byte) = simple {
                        out.push(byte);
                        continue;
                    }
                    let (count, radix) = match e {
                        'x' => (2, 16),
                        'u' => (4, 16),
                        'U' => (8, 16),
                        '0'..='7' => (2, 8),
                        _ => return Err(esc(&format!("\\{e}"))),
                    };
                    let mut value = if radix == 8 {
                        e.to_digit(8).unwrap_or(0)
                    } else {
                        0
                    };
                    for _ in 0..count {
                        let d = chars.next().and_then(|(_, d)| d.to_digit(radix));
                        let Some(d) = d else {
                            return Err(esc("too few digits"));
                        };
                        value = value.saturating_mul(radix).saturating_add(d);
                    }
                    match e {
                        'x' | '0'..='7' => match u8::try_from(value) {
                            Ok(byte) => out.push(byte),
                            Err(_) => return Err(esc("octal value above \\377")),
                        },
                        _ => match char::from_u32(value) {
                            Some(ch) => {
                                out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes())
                            }
                            None => return Err(esc("not a Unicode code point")),
                        },
                    }
                }
                c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        Err(self.err(start, "literal not terminated"))
    }
}

/// A Prometheus (`1h30m`, `5d`, `1y`) or Go (`1.5s`, `300us`) duration, in nanoseconds.
/// Loki accepts either in label filters and after `offset`.
pub(crate) fn parse_duration(s: &str) -> Option<i128> {
    parse_prometheus_duration(s).or_else(|| parse_go_duration(s))
}

const MAX_NANOS: u128 = i64::MAX as u128;

/// Prometheus `model.ParseDuration`: integer amounts of `y w d h m s ms` in that order, each
/// at most once; `0` alone; at most ~292 years.
pub(crate) fn parse_prometheus_duration(s: &str) -> Option<i128> {
    if s == "0" {
        return Some(0);
    }
    const MS: u128 = 1_000_000;
    const UNITS: [(&str, u128); 7] = [
        ("y", 365 * 86_400_000 * MS),
        ("w", 7 * 86_400_000 * MS),
        ("d", 86_400_000 * MS),
        ("h", 3_600_000 * MS),
        ("m", 60_000 * MS),
        ("s", 1000 * MS),
        ("ms", MS),
    ];
    let mut rest = s;
    let mut total: u128 = 0;
    let mut next_unit = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let amount: u128 = rest.get(..n_len)?.parse().ok()?;
        rest = &rest[n_len..];
        let u_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..u_len];
        rest = &rest[u_len..];
        let idx = UNITS.iter().position(|(name, _)| *name == unit)?;
        if idx < next_unit {
            return None;
        }
        next_unit = idx + 1;
        total = total.checked_add(amount.checked_mul(UNITS[idx].1)?)?;
        if total > MAX_NANOS {
            return None;
        }
    }
    i128::try_from(total).ok()
}

/// Go `time.ParseDuration` without a sign: decimal amounts (fractions allowed) of
/// `h m s ms us µs ns`, any order; `0` alone; at most ~292 years.
pub(crate) fn parse_go_duration(s: &str) -> Option<i128> {
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(after) = rest.strip_prefix('.') {
            let len = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            frac_part = &after[..len];
            rest = &after[len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let u_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit: u128 = match &rest[..u_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[u_len..];
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().ok()?
        };
        let mut v = whole.checked_mul(unit)?;
        // The fraction, truncated to whole nanoseconds (digits past 20 cannot matter).
        let mut scale: u128 = 1;
        let mut frac: u128 = 0;
        for d in frac_part.bytes().take(20) {
            frac = frac * 10 + u128::from(d - b'0');
            scale *= 10;
        }
        v = v.checked_add(frac * unit / scale)?;
        total = total.checked_add(v)?;
        if total > MAX_NANOS {
            return None;
        }
    }
    i128::try_from(total).ok()
}

/// go-humanize `ParseBytes` as Loki's lexer allows it: a decimal amount and a unit `B`,
/// `K`/`KB`/`kB` (1000), `Ki`/`KiB` (1024), and so on up to `P`/`PiB`, case-insensitive.
/// The result is truncated to a whole number and must be below 2^64.
pub(crate) fn parse_bytes(s: &str) -> Option<f64> {
    let num_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let amount: f64 = s.get(..num_len)?.parse().ok()?;
    let unit = s.get(num_len..)?.to_ascii_lowercase();
    let (prefix, binary) = match unit.as_str() {
        "b" => ("", false),
        u => match u.strip_suffix("ib").or_else(|| u.strip_suffix('i')) {
            Some(p) => (p, true),
            None => (u.strip_suffix('b').unwrap_or(u), false),
        },
    };
    let power = match prefix {
        "" if unit == "b" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return None,
    };
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    let bytes = (amount * base.powi(power)).trunc();
    // 2^64: go-humanize refuses anything at or above u64::MAX as a float.
    (bytes.is_finite() && bytes < 18_446_744_073_709_551_616.0).then_some(bytes)
}
