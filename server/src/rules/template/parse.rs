//! Parser: builds the node tree from tokens, resolving function names and variables
//! at parse time as Go does, and bounding nesting by `MAX_DEPTH`.

use super::gofmt::quote;
use super::lex::{Tok, Token, lex};
use super::{Fail, MAX_DEPTH, Value, funcs};

/// A node of a template body.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(usize, String),
    Action(Pipe),
    If(Box<Branch>),
    Range(Box<Branch>),
    With(Box<Branch>),
}

/// A control structure: its pipeline, body and `else` body.
#[derive(Debug, Clone)]
pub(super) struct Branch {
    pub(super) pipe: Pipe,
    pub(super) body: Vec<Node>,
    pub(super) alt: Vec<Node>,
}

/// `$a, $b := cmd | cmd`.
#[derive(Debug, Clone)]
pub(super) struct Pipe {
    pub(super) pos: usize,
    pub(super) decl: Vec<String>,
    pub(super) assign: bool,
    pub(super) cmds: Vec<Cmd>,
}

/// A command: a function (or value) followed by arguments.
#[derive(Debug, Clone)]
pub(super) struct Cmd {
    pub(super) pos: usize,
    pub(super) args: Vec<Arg>,
}

/// An operand: a term followed by a chain of field names.
#[derive(Debug, Clone)]
pub(super) struct Arg {
    pub(super) pos: usize,
    pub(super) term: Term,
    pub(super) chain: Vec<String>,
}

#[derive(Debug, Clone)]
pub(super) enum Term {
    Dot,
    Nil,
    Lit(Value),
    Func(String),
    Var(String),
    Pipe(Box<Pipe>),
}

const KEYWORDS: &[&str] = &[
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
];

/// What ended a list of nodes, with its position.
enum Stop {
    Eof(usize),
    End(usize),
    Else(usize),
}

/// Parses a whole template.
pub(super) fn parse(src: &str) -> Result<Vec<Node>, Fail> {
    let eof = Token {
        tok: Tok::Eof,
        pos: src.len(),
        end: src.len(),
        spaced: false,
    };
    let mut p = Parser {
        src,
        toks: lex(src),
        i: 0,
        vars: vec!["$".into()],
        depth: 0,
        eof,
    };
    match p.list()? {
        (nodes, Stop::Eof(_)) => Ok(nodes),
        (_, Stop::End(pos)) => Err(Fail::new(pos, "unexpected {{end}}")),
        (_, Stop::Else(pos)) => Err(Fail::new(pos, "unexpected {{else}}")),
    }
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
    vars: Vec<String>,
    depth: usize,
    eof: Token,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.toks.get(self.i).unwrap_or(&self.eof)
    }

    fn next(&mut self) -> Result<Token, Fail> {
        let t = self.peek().clone();
        if let Tok::Error(msg) = t.tok {
            return Err(Fail::new(t.pos, msg));
        }
        self.i += 1;
        Ok(t)
    }

    /// Go's description of a token: `<if>` for keywords, else its quoted text.
    fn describe(&self, t: &Token) -> String {
        match &t.tok {
            Tok::Eof => "EOF".into(),
            Tok::Ident(w) if KEYWORDS.contains(&w.as_str()) || w == "nil" => format!("<{w}>"),
            Tok::Dot => "<.>".into(),
            _ => {
                let text = self.src.get(t.pos..t.end).unwrap_or("");
                match text.char_indices().nth(10) {
                    Some((i, _)) => format!("{}...", quote(text.get(..i).unwrap_or(""))),
                    None => quote(text),
                }
            }
        }
    }

    fn unexpected(&self, t: &Token, context: &str) -> Fail {
        Fail::new(
            t.pos,
            format!("unexpected {} in {context}", self.describe(t)),
        )
    }

    fn expect_close(&mut self, context: &str) -> Result<(), Fail> {
        let t = self.next()?;
        if t.tok == Tok::Close {
            Ok(())
        } else {
            Err(self.unexpected(&t, context))
        }
    }

    fn enter(&mut self, pos: usize) -> Result<(), Fail> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Fail::new(pos, format!("nesting depth exceeds {MAX_DEPTH}")));
        }
        Ok(())
    }

    /// Parses nodes up to `{{end}}`, `{{else}}` or the end of input.
    fn list(&mut self) -> Result<(Vec<Node>, Stop), Fail> {
        let mut nodes = Vec::new();
        loop {
            let t = self.next()?;
            match t.tok {
                Tok::Text(s) => nodes.push(Node::Text(t.pos, s)),
                Tok::Eof => return Ok((nodes, Stop::Eof(t.pos))),
                Tok::Open => {
                    if let Some(stop) = self.action(&mut nodes)? {
                        return Ok((nodes, stop));
                    }
                }
                _ => return Err(self.unexpected(&t, "input")),
            }
        }
    }

    /// Parses an action after `{{`; returns `Some` for `{{end}}` and `{{else}}`.
    fn action(&mut self, nodes: &mut Vec<Node>) -> Result<Option<Stop>, Fail> {
        let t = self.peek().clone();
        if let Tok::Ident(w) = &t.tok {
            match w.as_str() {
                "if" | "range" | "with" => {
                    self.i += 1;
                    nodes.push(self.control(w)?);
                    return Ok(None);
                }
                "end" => {
                    self.i += 1;
                    self.expect_close("end")?;
                    return Ok(Some(Stop::End(t.pos)));
                }
                "else" => {
                    self.i += 1;
                    if !matches!(&self.peek().tok, Tok::Ident(k) if k == "if" || k == "with") {
                        self.expect_close("else")?;
                    }
                    return Ok(Some(Stop::Else(t.pos)));
                }
                "define" | "template" | "block" | "break" | "continue" => {
                    return Err(Fail::new(t.pos, format!("{{{{{w}}}}} is not supported")));
                }
                _ => {}
            }
        }
        let pipe = self.pipeline("command")?;
        self.expect_close("command")?;
        nodes.push(Node::Action(pipe));
        Ok(None)
    }

    /// Parses `if`, `range` or `with` after its keyword, up to the matching `{{end}}`.
    fn control(&mut self, kind: &str) -> Result<Node, Fail> {
        self.enter(self.peek().pos)?;
        let mark = self.vars.len();
        let pipe = self.pipeline(kind)?;
        self.expect_close(kind)?;
        let (body, stop) = self.list()?;
        let alt = match stop {
            Stop::End(_) => Vec::new(),
            Stop::Eof(pos) => return Err(Fail::new(pos, "unexpected EOF")),
            Stop::Else(_) => {
                let t = self.peek().clone();
                match &t.tok {
                    Tok::Ident(w) if w == kind => {
                        self.i += 1;
                        vec![self.control(kind)?]
                    }
                    Tok::Ident(_) => {
                        return Err(self.unexpected(&t, &format!("{{{{else}}}} of {kind}")));
                    }
                    _ => match self.list()? {
                        (alt, Stop::End(_)) => alt,
                        (_, Stop::Else(pos)) => {
                            return Err(Fail::new(pos, "expected end; found {{else}}"));
                        }
                        (_, Stop::Eof(pos)) => return Err(Fail::new(pos, "unexpected EOF")),
                    },
                }
            }
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        let b = Box::new(Branch { pipe, body, alt });
        Ok(match kind {
            "if" => Node::If(b),
            "range" => Node::Range(b),
            _ => Node::With(b),
        })
    }

    fn tok_at(&self, i: usize) -> Option<&Tok> {
        self.toks.get(i).map(|t| &t.tok)
    }

    /// Parses `decl? command ('|' command)*`, stopping before `}}` or `)`.
    fn pipeline(&mut self, context: &str) -> Result<Pipe, Fail> {
        let pos = self.peek().pos;
        let (mut decl, mut assign) = (Vec::new(), false);
        while let Some(Tok::Var(v)) = self.tok_at(self.i) {
            let v = v.clone();
            match self.tok_at(self.i + 1) {
                Some(Tok::Declare | Tok::Assign) => {
                    assign = self.tok_at(self.i + 1) == Some(&Tok::Assign);
                    decl.push(v);
                    self.i += 2;
                    break;
                }
                Some(Tok::Char(',')) if context == "range" && decl.is_empty() => {
                    decl.push(v);
                    self.i += 2;
                    if !matches!(self.tok_at(self.i + 1), Some(Tok::Declare | Tok::Assign)) {
                        return Err(Fail::new(pos, "range can only initialize variables"));
                    }
                }
                Some(Tok::Char(',')) => {
                    return Err(Fail::new(
                        pos,
                        format!("too many declarations in {context}"),
                    ));
                }
                _ => break,
            }
        }
        if let Some(v) = decl.iter().find(|v| assign && !self.vars.contains(v)) {
            return Err(Fail::new(pos, format!("undefined variable {}", quote(v))));
        }
        let mut cmds = vec![self.command(context, true)?];
        while self.peek().tok == Tok::Pipe {
            self.i += 1;
            let cmd = self.command(context, false)?;
            if let Some(Term::Dot | Term::Nil | Term::Lit(_)) = cmd.args.first().map(|a| &a.term) {
                let msg = format!(
                    "non executable command in pipeline stage {}",
                    cmds.len() + 1
                );
                return Err(Fail::new(cmd.pos, msg));
            }
            cmds.push(cmd);
        }
        if !assign {
            self.vars.extend(decl.iter().cloned());
        }
        Ok(Pipe {
            pos,
            decl,
            assign,
            cmds,
        })
    }

    /// Parses space-separated operands up to `|`, `}}` or `)`.
    fn command(&mut self, context: &str, first: bool) -> Result<Cmd, Fail> {
        let pos = self.peek().pos;
        let mut args: Vec<Arg> = Vec::new();
        loop {
            let t = self.peek().clone();
            match t.tok {
                Tok::Pipe | Tok::Close | Tok::RParen => break,
                Tok::Error(msg) => return Err(Fail::new(t.pos, msg)),
                _ if !args.is_empty() && !t.spaced => return Err(self.unexpected(&t, "operand")),
                _ => {}
            }
            match self.operand()? {
                Some(a) => args.push(a),
                None if args.is_empty() => return Err(self.unexpected(&t, context)),
                None => return Err(self.unexpected(&t, "operand")),
            }
        }
        if args.is_empty() {
            let msg = if first {
                format!("missing value for {context}")
            } else {
                "missing command after |".into()
            };
            return Err(Fail::new(pos, msg));
        }
        Ok(Cmd { pos, args })
    }

    /// Parses a term and its field chain; `None` if the next token starts no term.
    fn operand(&mut self) -> Result<Option<Arg>, Fail> {
        let t = self.peek().clone();
        let mut chain = Vec::new();
        let term = match &t.tok {
            Tok::Ident(w) if w == "true" || w == "false" => Term::Lit(Value::Bool(w == "true")),
            Tok::Ident(w) if w == "nil" => Term::Nil,
            Tok::Ident(w) if KEYWORDS.contains(&w.as_str()) => return Ok(None),
            Tok::Ident(w) if funcs::arity(w).is_none() => {
                return Err(Fail::new(
                    t.pos,
                    format!("function {} not defined", quote(w)),
                ));
            }
            Tok::Ident(w) => Term::Func(w.clone()),
            Tok::Dot => Term::Dot,
            Tok::Field(f) => {
                chain.push(f.clone());
                Term::Dot
            }
            Tok::Var(v) if !self.vars.contains(v) => {
                return Err(Fail::new(t.pos, format!("undefined variable {}", quote(v))));
            }
            Tok::Var(v) => Term::Var(v.clone()),
            Tok::Num(v) => Term::Lit(v.clone()),
            Tok::Str(s) => Term::Lit(Value::Str(s.clone())),
            Tok::LParen => {
                self.i += 1;
                self.enter(t.pos)?;
                let pipe = self.pipeline("parenthesized pipeline")?;
                let close = self.next()?;
                if close.tok != Tok::RParen {
                    let msg = format!("unclosed right paren: unexpected {}", self.describe(&close));
                    return Err(Fail::new(close.pos, msg));
                }
                self.depth -= 1;
                self.i -= 1;
                Term::Pipe(Box::new(pipe))
            }
            _ => return Ok(None),
        };
        self.i += 1;
        while let Tok::Field(f) = &self.peek().tok {
            if self.peek().spaced {
                break;
            }
            chain.push(f.clone());
            self.i += 1;
        }
        let chained = chain.len() > usize::from(matches!(t.tok, Tok::Field(_)));
        if chained && matches!(term, Term::Nil | Term::Lit(_) | Term::Func(_)) {
            return Err(Fail::new(
                t.pos,
                format!("unexpected . after term {}", self.describe(&t)),
            ));
        }
        Ok(Some(Arg {
            pos: t.pos,
            term,
            chain,
        }))
    }
}
