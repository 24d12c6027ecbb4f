//! Tokenizer: splits the source into text and action tokens, applying trim markers
//! and dropping comments. A lexical error becomes a final `Tok::Error` token so that
//! the parser reports errors in source order, as Go does.

use super::gofmt::{quote, rune_name};
use super::{Fail, Value};

/// A token kind.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Text(String),
    Open,
    Close,
    /// Function names, keywords, `true`, `false`, `nil`.
    Ident(String),
    /// `.Name`, stored without the dot.
    Field(String),
    /// `$name` or `$`, stored with the dollar.
    Var(String),
    Dot,
    Str(String),
    Num(Value),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    /// Any other printable ASCII character, e.g. `,`.
    Char(char),
    Error(String),
    Eof,
}

/// A token with its byte span and whether whitespace preceded it inside an action.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) pos: usize,
    pub(super) end: usize,
    pub(super) spaced: bool,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Returns the length of a right delimiter at the start of `s` and whether it trims.
fn right_delim(s: &str) -> Option<(usize, bool)> {
    if s.starts_with("}}") {
        return Some((2, false));
    }
    let mut c = s.chars();
    match (c.next(), c.next()) {
        (Some(a), Some('-')) if is_space(a) && c.as_str().starts_with("}}") => Some((4, true)),
        _ => None,
    }
}

/// Tokenizes `src`; the result always ends with `Tok::Eof` or `Tok::Error`.
pub(super) fn lex(src: &str) -> Vec<Token> {
    let mut l = Lexer {
        src,
        pos: 0,
        toks: Vec::new(),
        spaced: false,
    };
    if let Err(f) = l.run() {
        l.toks.push(Token {
            tok: Tok::Error(f.msg),
            pos: f.pos,
            end: f.pos,
            spaced: false,
        });
    }
    l.toks
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    toks: Vec<Token>,
    spaced: bool,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> &str {
        self.src.get(i..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.at(self.pos).chars().next()
    }

    fn eat(&mut self, set: &str) -> bool {
        match self.peek() {
            Some(c) if set.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn eat_while(&mut self, f: impl Fn(char) -> bool) {
        while let Some(c) = self.peek().filter(|&c| f(c)) {
            self.pos += c.len_utf8();
        }
    }

    fn push(&mut self, tok: Tok, pos: usize) {
        let spaced = std::mem::take(&mut self.spaced);
        self.toks.push(Token {
            tok,
            pos,
            end: self.pos,
            spaced,
        });
    }

    fn run(&mut self) -> Result<(), Fail> {
        let mut trim = false;
        loop {
            let rest = self.at(self.pos);
            let open = rest.find("{{");
            let mut text = rest.get(..open.unwrap_or(rest.len())).unwrap_or("");
            let mut text_pos = self.pos;
            if trim {
                let t = text.trim_start_matches(is_space);
                text_pos += text.len() - t.len();
                text = t;
            }
            let start = self.pos + open.unwrap_or(rest.len());
            let after = self.at(start + 2);
            let trim_left = open.is_some()
                && after
                    .strip_prefix('-')
                    .is_some_and(|r| r.starts_with(is_space));
            if trim_left {
                text = text.trim_end_matches(is_space);
            }
            if !text.is_empty() {
                let tok = Tok::Text(text.to_string());
                self.toks.push(Token {
                    tok,
                    pos: text_pos,
                    end: text_pos + text.len(),
                    spaced: false,
                });
            }
            self.pos = start;
            if open.is_none() {
                self.push(Tok::Eof, start);
                return Ok(());
            }
            let inner = start + if trim_left { 4 } else { 2 };
            if self.at(inner).starts_with("/*") {
                let Some(k) = self.at(inner + 2).find("*/") else {
                    return Err(Fail::new(start, "unclosed comment"));
                };
                let end = inner + 2 + k + 2;
                let Some((len, t)) = right_delim(self.at(end)) else {
                    return Err(Fail::new(start, "comment ends before closing delimiter"));
                };
                self.pos = end + len;
                trim = t;
                continue;
            }
            self.pos = start + 2;
            self.push(Tok::Open, start);
            self.pos = inner;
            trim = self.action(start)?;
        }
    }

    /// Lexes the inside of an action; returns whether its right delimiter trims.
    fn action(&mut self, open: usize) -> Result<bool, Fail> {
        let mut parens = 0usize;
        loop {
            let start = self.pos;
            if let Some((len, trim)) = right_delim(self.at(start)) {
                if parens > 0 {
                    return Err(Fail::new(start, "unclosed left paren"));
                }
                self.pos += len;
                self.push(Tok::Close, start);
                return Ok(trim);
            }
            let Some(c) = self.peek() else {
                return Err(Fail::new(open, "unclosed action"));
            };
            self.pos += c.len_utf8();
            let tok = match c {
                c if is_space(c) => {
                    self.spaced = true;
                    continue;
                }
                ':' if self.eat("=") => Tok::Declare,
                ':' => return Err(Fail::new(start, "expected :=")),
                '=' => Tok::Assign,
                '|' => Tok::Pipe,
                '(' => {
                    parens += 1;
                    Tok::LParen
                }
                ')' => {
                    parens = parens
                        .checked_sub(1)
                        .ok_or_else(|| Fail::new(start, "unexpected right paren"))?;
                    Tok::RParen
                }
                '"' => self.quoted(start)?,
                '`' => {
                    let Some(end) = self.at(self.pos).find('`') else {
                        return Err(Fail::new(start, "unterminated raw quoted string"));
                    };
                    let s = self.at(self.pos).get(..end).unwrap_or("").replace('\r', "");
                    self.pos += end + 1;
                    Tok::Str(s)
                }
                '\'' => return Err(Fail::new(start, "character constants are not supported")),
                '$' => Tok::Var(format!("${}", self.word()?)),
                '.' if !self.peek().is_some_and(|c| c.is_ascii_digit()) => {
                    let w = self.word()?;
                    if w.is_empty() {
                        Tok::Dot
                    } else {
                        Tok::Field(w)
                    }
                }
                '+' | '-' | '.' | '0'..='9' => self.number(start)?,
                c if is_alnum(c) => {
                    self.pos = start;
                    Tok::Ident(self.word()?)
                }
                c if c.is_ascii_graphic() => Tok::Char(c),
                c => {
                    let msg = format!("unrecognized character in action: {}", rune_name(c));
                    return Err(Fail::new(start, msg));
                }
            };
            self.push(tok, start);
        }
    }

    /// Scans an alphanumeric word that must be followed by a terminator.
    fn word(&mut self) -> Result<String, Fail> {
        let start = self.pos;
        self.eat_while(is_alnum);
        match self.peek() {
            Some(c) if !is_space(c) && !".,|:)(}".contains(c) => Err(Fail::new(
                self.pos,
                format!("bad character {}", rune_name(c)),
            )),
            _ => Ok(self.src.get(start..self.pos).unwrap_or("").to_string()),
        }
    }

    /// Scans a number like Go's lexer, then converts it.
    fn number(&mut self, start: usize) -> Result<Tok, Fail> {
        self.pos = start;
        self.eat("+-");
        let mut digits = "0123456789_";
        if self.eat("0") {
            if self.eat("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.eat("oO") {
                digits = "01234567_";
            } else if self.eat("bB") {
                digits = "01_";
            }
        }
        self.eat_while(|c| digits.contains(c));
        if self.eat(".") {
            self.eat_while(|c| digits.contains(c));
        }
        if digits.len() == 11 && self.eat("eE") {
            self.eat("+-");
            self.eat_while(|c| c.is_ascii_digit() || c == '_');
        }
        if let Some(c) = self.peek().filter(|&c| is_alnum(c)) {
            self.pos += c.len_utf8();
        }
        let text = self.src.get(start..self.pos).unwrap_or("");
        parse_number(text)
            .map(Tok::Num)
            .ok_or_else(|| Fail::new(start, format!("bad number syntax: {}", quote(text))))
    }

    /// Scans and unquotes a double-quoted string with Go escapes.
    fn quoted(&mut self, start: usize) -> Result<Tok, Fail> {
        let unterminated = || Fail::new(start, "unterminated quoted string");
        let mut out = String::new();
        let mut chars = self.at(self.pos).char_indices();
        loop {
            let (i, c) = chars.next().ok_or_else(unterminated)?;
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(Tok::Str(out));
                }
                '\n' => return Err(unterminated()),
                '\\' => {
                    let (_, e) = chars
                        .next()
                        .filter(|&(_, e)| e != '\n')
                        .ok_or_else(unterminated)?;
                    let simple = match e {
                        'a' => Some('\x07'),
                        'b' => Some('\x08'),
                        'f' => Some('\x0c'),
                        'n' => Some('\n'),
                        'r' => Some('\r'),
                        't' => Some('\t'),
                        'v' => Some('\x0b'),
                        '\\' | '"' => Some(e),
                        _ => None,
                    };
                    let (n, radix, max) = match e {
                        'x' => (2, 16, 0x7f),
                        'u' => (4, 16, 0x10ffff),
                        'U' => (8, 16, 0x10ffff),
                        '0'..='7' => (2, 8, 0x7f),
                        _ => (0, 10, 0),
                    };
                    let mut code = e.to_digit(8).filter(|_| radix == 8).unwrap_or(0);
                    for _ in 0..n {
                        let d = chars.next().and_then(|(_, d)| d.to_digit(radix));
                        code = code * radix + d.ok_or_else(|| bad_escape(start))?;
                    }
                    let c = simple.or(char::from_u32(code).filter(|_| n > 0 && code <= max));
                    out.push(c.ok_or_else(|| bad_escape(start))?);
                }
                c => out.push(c),
            }
        }
    }
}

fn bad_escape(pos: usize) -> Fail {
    Fail::new(
        pos,
        "invalid escape sequence in quoted string (bytes above \\x7f are not supported)",
    )
}

/// Converts a number literal: ints stay ints (as Go's untyped constants become `int`),
/// anything with a fraction or exponent is a float; ints overflowing i64 become floats.
fn parse_number(text: &str) -> Option<Value> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if let Some(d) = lower.strip_prefix('0').filter(|d| !d.is_empty())
        && lower.bytes().all(|b| b.is_ascii_digit())
    {
        (8, d)
    } else if lower.contains(['.', 'e']) {
        return clean.parse::<f64>().ok().map(Value::Num);
    } else {
        (10, lower.as_str())
    };
    if digits.starts_with(['+', '-']) {
        return None;
    }
    let n = i128::from_str_radix(digits, radix).ok()?;
    let n = if neg { -n } else { n };
    Some(i64::try_from(n).map_or(Value::Num(n as f64), Value::Int))
}
