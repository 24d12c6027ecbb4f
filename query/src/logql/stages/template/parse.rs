//! Lexer and parser for the supported Go text/template subset.

use super::TemplateError;

/// A node of the template tree.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    With(Branch),
}

/// `if`/`with` arms (`else if` / `else with` add arms) and the `else` body.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Branch {
    pub(super) arms: Vec<(Pipe, Vec<Node>)>,
    pub(super) else_: Option<Vec<Node>>,
}

/// A pipeline, optionally declaring (`:=`, true) or assigning (`=`) a variable.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pipe {
    pub(super) decl: Option<(String, bool)>,
    pub(super) cmds: Vec<Cmd>,
}

/// One pipeline stage: operands, the first of which may be a function.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Cmd {
    pub(super) args: Vec<Arg>,
}

/// An untyped numeric constant.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Num {
    pub(super) int: Option<i64>,
    pub(super) float: Option<f64>,
    /// Written with `.`, `e` or `p` (a float-looking constant).
    pub(super) float_syntax: bool,
    pub(super) text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Arg {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Str(String),
    Num(Num),
    Bool(bool),
    Nil,
    Pipe(Box<Pipe>, Vec<String>),
}

#[path = "lex.rs"]
mod lex;
use lex::{Lexer, SPACES, Tok};

fn perr(msg: impl Into<String>) -> TemplateError {
    TemplateError::Parse(msg.into())
}

/// Maximum nesting of parentheses and of `if`/`with` blocks.
const MAX_NESTING: usize = 100;

struct Parser<'f> {
    is_func: &'f dyn Fn(&str) -> bool,
    vars: Vec<String>,
    depth: usize,
}

impl Parser<'_> {
    fn pipe(&mut self, toks: &[Tok], i: &mut usize, nested: bool) -> Result<Pipe, TemplateError> {
        let mut decl = None;
        if let (Some(Tok::Var(name, f)), Some(t @ (Tok::Declare | Tok::Assign))) =
            (toks.get(*i), toks.get(*i + 1))
            && f.is_empty()
        {
            let declare = *t == Tok::Declare;
            if !declare && !self.vars.contains(name) {
                return Err(perr(format!("undefined variable \"{name}\"")));
            }
            decl = Some((name.clone(), declare));
            *i += 2;
        }
        let mut cmds = Vec::new();
        let mut args = Vec::new();
        while let Some(t) = toks.get(*i) {
            *i += 1;
            match t {
                Tok::Bar => {
                    if args.is_empty() {
                        return Err(perr("missing value for command"));
                    }
                    cmds.push(Cmd {
                        args: std::mem::take(&mut args),
                    });
                    continue;
                }
                Tok::RParen(_) if nested => {
                    *i -= 1;
                    break;
                }
                Tok::RParen(_) => return Err(perr("unexpected right paren")),
                Tok::LParen => {
                    self.depth += 1;
                    if self.depth > MAX_NESTING {
                        return Err(perr("parentheses nested too deeply"));
                    }
                    let inner = self.pipe(toks, i, true)?;
                    self.depth -= 1;
                    let Some(Tok::RParen(fields)) = toks.get(*i) else {
                        return Err(perr("unclosed left paren"));
                    };
                    *i += 1;
                    args.push(Arg::Pipe(Box::new(inner), fields.clone()));
                }
                Tok::Dot => args.push(Arg::Dot),
                Tok::Field(f) => args.push(Arg::Field(f.clone())),
                Tok::Var(name, f) => {
                    if name != "$" && !self.vars.contains(name) {
                        return Err(perr(format!("undefined variable \"{name}\"")));
                    }
                    args.push(Arg::Var(name.clone(), f.clone()));
                }
                Tok::Str(s) => args.push(Arg::Str(s.clone())),
                Tok::Num(n) => args.push(Arg::Num(n.clone())),
                Tok::Ident(id) => args.push(match id.as_str() {
                    "true" => Arg::Bool(true),
                    "false" => Arg::Bool(false),
                    "nil" => Arg::Nil,
                    name if (self.is_func)(name) => Arg::Func(name.to_string()),
                    name => return Err(TemplateError::UnknownFunction(name.to_string())),
                }),
                Tok::Declare | Tok::Assign | Tok::Comma => {
                    return Err(perr("unexpected token in operand"));
                }
            }
        }
        if args.is_empty() {
            return Err(perr("missing value for command"));
        }
        cmds.push(Cmd { args });
        for (n, c) in cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(Arg::Bool(_) | Arg::Dot | Arg::Nil | Arg::Num(_) | Arg::Str(_))
            ) {
                return Err(perr(format!(
                    "non executable command in pipeline stage {}",
                    n + 1
                )));
            }
        }
        if let Some((name, true)) = &decl {
            self.vars.push(name.clone());
        }
        Ok(Pipe { decl, cmds })
    }

    fn full_pipe(&mut self, toks: &[Tok]) -> Result<Pipe, TemplateError> {
        let mut i = 0;
        let p = self.pipe(toks, &mut i, false)?;
        if i != toks.len() {
            return Err(perr("unexpected token after pipeline"));
        }
        Ok(p)
    }
}

enum Kind {
    If,
    With,
}

struct Frame {
    kind: Kind,
    branch: Branch,
    vars_mark: usize,
}

fn current<'a>(stack: &'a mut [Frame], root: &'a mut Vec<Node>) -> &'a mut Vec<Node> {
    match stack.last_mut() {
        None => root,
        Some(f) => match &mut f.branch.else_ {
            Some(e) => e,
            None => match f.branch.arms.last_mut() {
                Some(arm) => &mut arm.1,
                None => root,
            },
        },
    }
}

/// Parses `src`; `is_func` tells which identifiers are functions.
pub(super) fn parse(src: &str, is_func: &dyn Fn(&str) -> bool) -> Result<Vec<Node>, TemplateError> {
    let mut root = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut parser = Parser {
        is_func,
        vars: Vec::new(),
        depth: 0,
    };
    let mut lx = Lexer { src, pos: 0 };
    let mut trim_next = false;
    loop {
        let rest = lx.rest();
        let open = rest.find("{{");
        let mut text = &rest[..open.unwrap_or(rest.len())];
        if trim_next {
            text = text.trim_start_matches(SPACES);
        }
        let left_trim = open
            .is_some_and(|p| rest[p + 2..].starts_with('-') && rest[p + 3..].starts_with(SPACES));
        if left_trim {
            text = text.trim_end_matches(SPACES);
        }
        if !text.is_empty() {
            current(&mut stack, &mut root).push(Node::Text(text.to_string()));
        }
        let Some(open) = open else { break };
        lx.pos += open + 2 + if left_trim { 2 } else { 0 };
        // Comments.
        if let Some(body) = lx.rest().strip_prefix("/*") {
            let end = body.find("*/").ok_or_else(|| perr("unclosed comment"))?;
            let after = &body[end + 2..];
            let (trim, skip) = if after.starts_with(" -}}") {
                (true, 4)
            } else if after.starts_with("}}") {
                (false, 2)
            } else {
                return Err(perr("comment ends before closing delimiter"));
            };
            lx.pos += 2 + end + 2 + skip;
            trim_next = trim;
            continue;
        }
        let (toks, trim) = lx.action()?;
        trim_next = trim;
        let keyword = match toks.first() {
            Some(Tok::Ident(k)) => k.as_str(),
            None => return Err(perr("missing value for command")),
            _ => "",
        };
        match keyword {
            "if" | "with" => {
                if stack.len() >= MAX_NESTING {
                    return Err(perr("blocks nested too deeply"));
                }
                let vars_mark = parser.vars.len();
                let pipe = parser.full_pipe(&toks[1..])?;
                let kind = if keyword == "if" {
                    Kind::If
                } else {
                    Kind::With
                };
                stack.push(Frame {
                    kind,
                    branch: Branch {
                        arms: vec![(pipe, Vec::new())],
                        else_: None,
                    },
                    vars_mark,
                });
            }
            "else" => {
                let frame = stack
                    .last_mut()
                    .ok_or_else(|| perr("unexpected {{else}}"))?;
                if frame.branch.else_.is_some() {
                    return Err(perr("expected end; found {{else}}"));
                }
                parser.vars.truncate(frame.vars_mark);
                match (toks.get(1), &frame.kind) {
                    (None, _) => frame.branch.else_ = Some(Vec::new()),
                    (Some(Tok::Ident(k)), Kind::If) if k == "if" => {
                        let pipe = parser.full_pipe(&toks[2..])?;
                        frame.branch.arms.push((pipe, Vec::new()));
                    }
                    (Some(Tok::Ident(k)), Kind::With) if k == "with" => {
                        let pipe = parser.full_pipe(&toks[2..])?;
                        frame.branch.arms.push((pipe, Vec::new()));
                    }
                    _ => return Err(perr("unsupported {{else}} form")),
                }
            }
            "end" => {
                if toks.len() != 1 {
                    return Err(perr("unexpected token in {{end}}"));
                }
                let frame = stack.pop().ok_or_else(|| perr("unexpected {{end}}"))?;
                parser.vars.truncate(frame.vars_mark);
                let node = match frame.kind {
                    Kind::If => Node::If(frame.branch),
                    Kind::With => Node::With(frame.branch),
                };
                current(&mut stack, &mut root).push(node);
            }
            "range" | "define" | "template" | "block" | "break" | "continue" => {
                return Err(perr(format!("{{{{{keyword}}}}} is not supported")));
            }
            _ => {
                let pipe = parser.full_pipe(&toks)?;
                current(&mut stack, &mut root).push(Node::Action(pipe));
            }
        }
    }
    if !stack.is_empty() {
        return Err(perr("unexpected EOF"));
    }
    Ok(root)
}
