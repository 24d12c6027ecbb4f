//! Tokenizer for template actions.

use super::{Num, TemplateError, perr};
use crate::logql::stages::units::{parse_go_float, parse_go_int};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Ident(String),
    Str(String),
    Num(Num),
    LParen,
    RParen(Vec<String>),
    Bar,
    Declare,
    Assign,
    Comma,
}

pub(super) const SPACES: &[char] = &[' ', '\t', '\r', '\n'];

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

pub(super) struct Lexer<'a> {
    pub(super) src: &'a str,
    pub(super) pos: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn ident(&mut self) -> String {
        let r = self.rest();
        let n = r.find(|c: char| !is_ident_char(c)).unwrap_or(r.len());
        self.pos += n;
        r[..n].to_string()
    }

    /// `.a.b` chains following a term.
    fn fields(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while self.rest().starts_with('.') && self.rest()[1..].starts_with(is_ident_char) {
            self.pos += 1;
            out.push(self.ident());
        }
        out
    }

    /// Lexes one action; returns its tokens and whether it ends with ` -}}`.
    pub(super) fn action(&mut self) -> Result<(Vec<Tok>, bool), TemplateError> {
        let mut toks = Vec::new();
        loop {
            let r = self.rest();
            let trimmed = r.trim_start_matches(SPACES);
            if trimmed.len() < r.len() && trimmed.starts_with("-}}") {
                self.pos += r.len() - trimmed.len() + 3;
                return Ok((toks, true));
            }
            self.pos += r.len() - trimmed.len();
            let r = self.rest();
            let Some(c) = r.chars().next() else {
                return Err(perr("unclosed action"));
            };
            if r.starts_with("}}") {
                self.pos += 2;
                return Ok((toks, false));
            }
            let tok = match c {
                '|' => {
                    self.pos += 1;
                    Tok::Bar
                }
                '(' => {
                    self.pos += 1;
                    Tok::LParen
                }
                ')' => {
                    self.pos += 1;
                    Tok::RParen(self.fields())
                }
                ',' => {
                    self.pos += 1;
                    Tok::Comma
                }
                ':' if r.starts_with(":=") => {
                    self.pos += 2;
                    Tok::Declare
                }
                '=' => {
                    self.pos += 1;
                    Tok::Assign
                }
                '"' | '`' | '\'' => self.quoted(c)?,
                '$' => {
                    self.pos += 1;
                    let name = format!("${}", self.ident());
                    Tok::Var(name, self.fields())
                }
                '.' if r[1..].starts_with(is_ident_char)
                    && !r[1..].starts_with(|d: char| d.is_ascii_digit()) =>
                {
                    Tok::Field(self.fields())
                }
                '.' if !r[1..].starts_with(|d: char| d.is_ascii_digit()) => {
                    self.pos += 1;
                    Tok::Dot
                }
                c if c.is_ascii_digit()
                    || c == '.'
                    || ((c == '+' || c == '-')
                        && r[1..].starts_with(|d: char| d.is_ascii_digit() || d == '.')) =>
                {
                    self.number()?
                }
                c if is_ident_char(c) => Tok::Ident(self.ident()),
                c => return Err(perr(format!("unexpected {c:?} in command"))),
            };
            toks.push(tok);
        }
    }

    fn number(&mut self) -> Result<Tok, TemplateError> {
        let r = self.rest();
        let b = r.as_bytes();
        let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
        let hex = r[i..].starts_with("0x") || r[i..].starts_with("0X");
        while i < b.len() {
            let c = b[i];
            let exp = if hex {
                matches!(c, b'p' | b'P')
            } else {
                matches!(c, b'e' | b'E')
            };
            if exp && matches!(b.get(i + 1), Some(b'+' | b'-')) {
                i += 2;
            } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' {
                i += 1;
            } else {
                break;
            }
        }
        let text = &r[..i];
        self.pos += i;
        let int = parse_go_int(text);
        let float_syntax =
            !hex && text.contains(['.', 'e', 'E']) || hex && text.contains(['p', 'P']);
        let float = match int {
            Some(v) => Some(v as f64),
            None => parse_go_float(&text.replace('_', "")),
        };
        if int.is_none() && float.is_none() {
            return Err(perr(format!("bad number syntax: {text:?}")));
        }
        if int.is_none() && !float_syntax {
            return Err(perr(format!("integer overflow: {text:?}")));
        }
        let int = int.or_else(|| {
            float
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        });
        Ok(Tok::Num(Num {
            int,
            float,
            float_syntax,
            text: text.to_string(),
        }))
    }

    fn quoted(&mut self, q: char) -> Result<Tok, TemplateError> {
        let r = self.rest();
        let body = &r[1..];
        if q == '`' {
            let end = body
                .find('`')
                .ok_or_else(|| perr("unterminated raw quoted string"))?;
            self.pos += end + 2;
            return Ok(Tok::Str(body[..end].replace('\r', "")));
        }
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == q => {
                    self.pos += i + 2;
                    if q == '"' {
                        return Ok(Tok::Str(out));
                    }
                    let mut it = out.chars();
                    return match (it.next(), it.next()) {
                        (Some(ch), None) => {
                            let v = i64::from(u32::from(ch));
                            Ok(Tok::Num(Num {
                                int: Some(v),
                                float: Some(v as f64),
                                float_syntax: false,
                                text: out,
                            }))
                        }
                        _ => Err(perr("malformed character constant")),
                    };
                }
                '\n' => break,
                '\\' => {
                    let (_, e) = chars
                        .next()
                        .ok_or_else(|| perr("unterminated quoted string"))?;
                    let simple = match e {
                        'a' => Some('\u{7}'),
                        'b' => Some('\u{8}'),
                        'f' => Some('\u{c}'),
                        'n' => Some('\n'),
                        'r' => Some('\r'),
                        't' => Some('\t'),
                        'v' => Some('\u{b}'),
                        '\\' => Some('\\'),
                        '"' if q == '"' => Some('"'),
                        '\'' if q == '\'' => Some('\''),
                        _ => None,
                    };
                    if let Some(ch) = simple {
                        out.push(ch);
                        continue;
                    }
                    let (len, radix) = match e {
                        'x' => (2, 16),
                        'u' => (4, 16),
                        'U' => (8, 16),
                        '0'..='7' => (2, 8),
                        _ => return Err(perr(format!("invalid escape \\{e}"))),
                    };
                    let mut digits = if radix == 8 {
                        e.to_string()
                    } else {
                        String::new()
                    };
                    for _ in 0..len {
                        digits.push(
                            chars
                                .next()
                                .map(|(_, d)| d)
                                .ok_or_else(|| perr("unterminated quoted string"))?,
                        );
                    }
                    let v =
                        u32::from_str_radix(&digits, radix).map_err(|_| perr("invalid escape"))?;
                    out.push(char::from_u32(v).ok_or_else(|| perr("invalid escape"))?);
                }
                c => out.push(c),
            }
        }
        Err(perr("unterminated quoted string"))
    }
}
