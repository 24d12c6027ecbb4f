//! Parser for Loki's JSON expression syntax (`| json label="expr"`), after
//! pkg/logql/log/jsonexpr: `a`, `a.b`, `a[0]`, `a["b c"]`, `["a"].b[1].c`.

use super::{JsonError, PathSegment};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(String),
    Str(String),
    Index(usize),
    Lsb,
    Rsb,
    Dot,
    End,
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Tok::Field(_) => "FIELD",
            Tok::Str(_) => "STRING",
            Tok::Index(_) => "INDEX",
            Tok::Lsb => "LSB",
            Tok::Rsb => "RSB",
            Tok::Dot => "DOT",
            Tok::End => "$end",
        }
    }
}

fn lex(expr: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {}
            '[' => toks.push(Tok::Lsb),
            ']' => toks.push(Tok::Rsb),
            '.' => toks.push(Tok::Dot),
            '0'..='9' => {
                let mut n = String::from(c);
                while let Some(&d) = chars.peek() {
                    if matches!(d, ' ' | '\t' | '\n' | ']') {
                        break;
                    }
                    if d == '.' {
                        return Err("cannot use float as array index".to_string());
                    }
                    if !d.is_ascii_digit() {
                        return Err(format!("non-integer value: {d}"));
                    }
                    n.push(d);
                    chars.next();
                }
                let v = n
                    .parse::<usize>()
                    .map_err(|e| format!("strconv.Atoi: parsing \"{n}\": {e}"))?;
                toks.push(Tok::Index(v));
            }
            'a'..='z' | 'A'..='Z' | '_' => {
                let mut f = String::from(c);
                while let Some(&d) = chars.peek() {
                    if !(d.is_ascii_alphanumeric() || d == '_') {
                        break;
                    }
                    f.push(d);
                    chars.next();
                }
                toks.push(Tok::Field(f));
            }
            '"' => {
                // Loki's scanner ends a string at `"` or `]` (both consumed).
                let mut s = String::new();
                for d in chars.by_ref() {
                    if d == '"' || d == ']' {
                        break;
                    }
                    s.push(d);
                }
                toks.push(Tok::Str(s));
            }
            other => return Err(format!("unexpected char {other}")),
        }
    }
    toks.push(Tok::End);
    Ok(toks)
}

/// Parses a JSON expression into path segments, with Loki's error messages
/// (`syntax error: unexpected DOT, expecting FIELD`, ...).
pub fn parse_path(expr: &str) -> Result<Vec<PathSegment>, JsonError> {
    let err = |msg: String| JsonError::Expression {
        expr: expr.to_string(),
        msg,
    };
    let toks = lex(expr).map_err(err)?;
    let syntax = |t: &Tok, expecting: &str| {
        if expecting.is_empty() {
            err(format!("syntax error: unexpected {}", t.name()))
        } else {
            err(format!(
                "syntax error: unexpected {}, expecting {expecting}",
                t.name()
            ))
        }
    };
    let mut out = Vec::new();
    let mut i = 0;
    let tok = |i: usize| toks.get(i).unwrap_or(&Tok::End);
    loop {
        let first = out.is_empty();
        match tok(i) {
            Tok::End if !first => return Ok(out),
            Tok::Field(f) if first => {
                out.push(PathSegment::Key(f.clone()));
                i += 1;
            }
            Tok::Dot if !first => match tok(i + 1) {
                Tok::Field(f) => {
                    out.push(PathSegment::Key(f.clone()));
                    i += 2;
                }
                t => return Err(syntax(t, "FIELD")),
            },
            Tok::Lsb => {
                let seg = match tok(i + 1) {
                    Tok::Str(s) => PathSegment::Key(s.clone()),
                    Tok::Index(n) => PathSegment::Index(*n),
                    t => return Err(syntax(t, "STRING or INDEX")),
                };
                match tok(i + 2) {
                    Tok::Rsb => {}
                    t => return Err(syntax(t, "RSB")),
                }
                out.push(seg);
                i += 3;
            }
            t if first => return Err(syntax(t, "LSB or FIELD")),
            t => return Err(syntax(t, "")),
        }
    }
}
