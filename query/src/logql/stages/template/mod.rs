//! Go text/template subset for `| line_format` and `| label_format`
//! (Loki pkg/logql/log/fmt.go, which runs Go templates with
//! `missingkey=zero` over the entry's labels).
//!
//! Syntax: text, `{{ action }}`, trim markers `{{- ` / ` -}}`, comments
//! `{{/* */}}`, `.label` (a missing label is `""`), `.` (the label map),
//! `$` / `$var` (`{{ $x := ... }}`, `{{ $x = ... }}`), string (`"..."`,
//! `` `raw` ``), char (`'a'`), number, `true`/`false`/`nil` literals,
//! pipelines `{{ .x | f a }}` (the piped value is the last argument),
//! parenthesized pipelines, `{{if}}...{{else if}}...{{else}}...{{end}}` and
//! `{{with}}...{{else with}}...{{else}}...{{end}}`. `range`, `define`,
//! `template`, `block`, `break`, `continue` are rejected at parse time, as is
//! any unknown function (`function "x" not defined`).
//!
//! | Group | Functions |
//! |---|---|
//! | Go builtins | `and` `or` `not` `len` `index` `print` `printf` `println` `eq` `ne` `lt` `le` `gt` `ge` |
//! | Loki strings | `ToLower` `ToUpper` `Replace` `Trim` `TrimLeft` `TrimRight` `TrimPrefix` `TrimSuffix` `TrimSpace` `regexReplaceAll` `regexReplaceAllLiteral` `count` `urlencode` `urldecode` `alignLeft` `alignRight` `b64dec` |
//! | Loki units/time | `bytes` `duration` `duration_seconds` `unixEpochMillis` `unixEpochNanos` `toDateInZone` `unixToTime` `__line__` `__timestamp__` |
//! | sprig strings | `lower` `upper` `title` `trunc` `substr` `contains` `hasPrefix` `hasSuffix` `indent` `nindent` `replace` `repeat` `trim` `trimAll` `trimPrefix` `trimSuffix` `b64enc` `default` |
//! | sprig math | `int` `float64` `add` `sub` `mul` `div` `mod` `max` `min` `addf` `subf` `mulf` `divf` `maxf` `minf` `ceil` `floor` `round` |
//! | sprig dates | `date` `toDate` `now` `unixEpoch` |
//! | not supported | `fromJson` (Loki registers it; rejected here), `html` `js` `urlquery` `slice` `call` |
//!
//! Differences from Go/Loki: times are always UTC (Loki uses the server's
//! local zone for `date`, `toDate` and printing; `toDateInZone` only knows
//! `UTC`/`Local`, other zones fall back to UTC as Loki does on a lookup
//! error); `trunc`/`substr` are rune-based and never panic (Loki's own
//! `trunc`/`substring` helpers); error texts are shortened.

use thiserror::Error;

mod funcs;
mod parse;
mod printf;
mod timefmt;
mod value;

use funcs::{Env, P};
use parse::{Arg, Branch, Cmd, Node, Num, Pipe};
use value::Value;

/// Largest output a template may produce.
const MAX_OUTPUT: usize = 16 << 20;

/// Template parse and execution errors. Execution errors go to
/// `__error_details__` with `__error__="TemplateFormatErr"`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    /// Syntax error.
    #[error("template: {0}")]
    Parse(String),
    /// A function name that is not in the table.
    #[error("template: function \"{0}\" not defined")]
    UnknownFunction(String),
    /// Runtime failure (wrong argument count or type, function error, ...).
    #[error("template: executing at <{at}>: {msg}")]
    Exec {
        /// The operand being evaluated.
        at: String,
        /// What went wrong.
        msg: String,
    },
}

/// What a template is rendered against.
#[derive(Debug, Clone, Copy)]
pub struct TemplateCtx<'a> {
    /// The entry's labels (stream, structured metadata, parsed).
    pub labels: &'a [(String, String)],
    /// The current log line (`__line__`).
    pub line: &'a str,
    /// The entry timestamp in nanoseconds (`__timestamp__`).
    pub ts_ns: i64,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
}

fn exec_err(at: impl Into<String>, msg: impl Into<String>) -> TemplateError {
    TemplateError::Exec {
        at: at.into(),
        msg: msg.into(),
    }
}

impl Template {
    /// Parses a template.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let nodes = parse::parse(src, &|name| funcs::spec(name).is_some())?;
        Ok(Template { nodes })
    }

    /// Renders the template.
    pub fn render(&self, ctx: &TemplateCtx<'_>) -> Result<String, TemplateError> {
        let env = Env {
            labels: ctx.labels,
            line: ctx.line,
            ts_ns: ctx.ts_ns,
        };
        let mut ex = Exec {
            env,
            vars: vec![("$".to_string(), Value::Labels)],
            out: String::new(),
        };
        ex.walk(&self.nodes, &Value::Labels)?;
        Ok(ex.out)
    }

    /// Label names referenced as `.name` fields (Loki's
    /// `RequiredLabelNames`), without duplicates.
    pub fn required_labels(&self) -> Vec<String> {
        fn args(a: &[Arg], out: &mut Vec<String>) {
            for arg in a {
                match arg {
                    Arg::Field(f) => out.extend(f.iter().cloned()),
                    Arg::Pipe(p, _) => pipe(p, out),
                    _ => {}
                }
            }
        }
        fn pipe(p: &Pipe, out: &mut Vec<String>) {
            p.cmds.iter().for_each(|c| args(&c.args, out));
        }
        fn nodes(n: &[Node], out: &mut Vec<String>) {
            for node in n {
                match node {
                    Node::Text(_) => {}
                    Node::Action(p) => pipe(p, out),
                    Node::If(b) | Node::With(b) => {
                        for (p, body) in &b.arms {
                            pipe(p, out);
                            nodes(body, out);
                        }
                        if let Some(e) = &b.else_ {
                            nodes(e, out);
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        nodes(&self.nodes, &mut out);
        let mut seen = Vec::new();
        out.retain(|n| {
            !n.is_empty() && !seen.contains(n) && {
                seen.push(n.clone());
                true
            }
        });
        out
    }

    /// All function names the template engine accepts.
    pub fn functions() -> Vec<&'static str> {
        funcs::names().collect()
    }
}

struct Exec<'a> {
    env: Env<'a>,
    vars: Vec<(String, Value)>,
    out: String,
}

/// An evaluated argument plus, for numeric literals, the untyped constant.
type Evaluated<'n> = (Value, Option<&'n Num>);

impl Exec<'_> {
    fn walk(&mut self, nodes: &[Node], dot: &Value) -> Result<(), TemplateError> {
        for node in nodes {
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_none() {
                        match v {
                            Value::Nil => self.out.push_str("<no value>"),
                            v => self.out.push_str(&v.to_go_string(self.env.labels)),
                        }
                    }
                }
                Node::If(b) => self.branch(b, dot, false)?,
                Node::With(b) => self.branch(b, dot, true)?,
            }
            if self.out.len() > MAX_OUTPUT {
                return Err(exec_err("output", "template output too large"));
            }
        }
        Ok(())
    }

    fn branch(&mut self, b: &Branch, dot: &Value, rebind: bool) -> Result<(), TemplateError> {
        let mark = self.vars.len();
        for (p, body) in &b.arms {
            let v = self.pipe(p, dot)?;
            if v.truth(self.env.labels) {
                let res = self.walk(body, if rebind { &v } else { dot });
                self.vars.truncate(mark);
                return res;
            }
        }
        self.vars.truncate(mark);
        if let Some(e) = &b.else_ {
            self.walk(e, dot)?;
            self.vars.truncate(mark);
        }
        Ok(())
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value) -> Result<Value, TemplateError> {
        let mut v: Option<Value> = None;
        for c in &p.cmds {
            v = Some(self.cmd(c, dot, v.take())?);
        }
        let v = v.unwrap_or(Value::Nil);
        match &p.decl {
            Some((name, true)) => self.vars.push((name.clone(), v.clone())),
            Some((name, false)) => match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = v.clone(),
                None => return Err(exec_err(name.as_str(), "undefined variable")),
            },
            None => {}
        }
        Ok(v)
    }

    fn cmd(&mut self, c: &Cmd, dot: &Value, piped: Option<Value>) -> Result<Value, TemplateError> {
        let Some(first) = c.args.first() else {
            return Err(exec_err("command", "empty command"));
        };
        let rest = c.args.get(1..).unwrap_or(&[]);
        if let Arg::Func(name) = first {
            return self.call(name, rest, dot, piped);
        }
        let has_args = !rest.is_empty() || piped.is_some();
        match first {
            Arg::Field(f) | Arg::Var(_, f) if has_args && !f.is_empty() => {
                let last = f.last().map_or("", String::as_str);
                Err(exec_err(
                    format!(".{last}"),
                    format!("{last} is not a method but has arguments"),
                ))
            }
            Arg::Nil => Err(exec_err("nil", "nil is not a command")),
            _ if has_args => Err(exec_err("command", "can't give argument to non-function")),
            _ => Ok(self.arg(first, dot)?.0),
        }
    }

    fn field(&self, base: Value, fields: &[String]) -> Result<Value, TemplateError> {
        let mut cur = base;
        for f in fields {
            cur = match cur {
                Value::Labels => Value::Str(
                    self.env
                        .labels
                        .iter()
                        .rev()
                        .find(|(k, _)| k == f)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default(),
                ),
                Value::Nil => {
                    return Err(exec_err(
                        format!(".{f}"),
                        format!("nil pointer evaluating interface {{}}.{f}"),
                    ));
                }
                other => {
                    return Err(exec_err(
                        format!(".{f}"),
                        format!("can't evaluate field {f} in type {}", other.type_name()),
                    ));
                }
            };
        }
        Ok(cur)
    }

    fn arg<'n>(&mut self, a: &'n Arg, dot: &Value) -> Result<Evaluated<'n>, TemplateError> {
        Ok(match a {
            Arg::Dot => (dot.clone(), None),
            Arg::Field(f) => (self.field(dot.clone(), f)?, None),
            Arg::Var(name, f) => {
                let v = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone());
                let v = v.ok_or_else(|| exec_err(name.as_str(), "undefined variable"))?;
                (self.field(v, f)?, None)
            }
            Arg::Func(name) => (self.call(name, &[], dot, None)?, None),
            Arg::Str(s) => (Value::Str(s.clone()), None),
            Arg::Num(n) => {
                let v = match (n.int, n.float) {
                    (Some(i), _) if !n.float_syntax => Value::Int(i),
                    (_, Some(f)) => Value::Float(f),
                    (Some(i), None) => Value::Int(i),
                    (None, None) => Value::Nil,
                };
                (v, Some(n))
            }
            Arg::Bool(b) => (Value::Bool(*b), None),
            Arg::Nil => (Value::Nil, None),
            Arg::Pipe(p, f) => {
                let v = self.pipe(p, dot)?;
                (self.field(v, f)?, None)
            }
        })
    }

    fn call(
        &mut self,
        name: &str,
        args: &[Arg],
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Value, TemplateError> {
        if name == "and" || name == "or" {
            if args.is_empty() && piped.is_none() {
                return Err(exec_err(
                    name,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut last = Value::Nil;
            for a in args {
                last = self.arg(a, dot)?.0;
                if last.truth(self.env.labels) == (name == "or") {
                    return Ok(last);
                }
            }
            return Ok(piped.unwrap_or(last));
        }
        let spec = funcs::spec(name)
            .ok_or_else(|| exec_err(name, format!("function {name:?} not defined")))?;
        let mut vals: Vec<Evaluated<'_>> = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.arg(a, dot)?);
        }
        if let Some(p) = piped {
            vals.push((p, None));
        }
        let want = spec.params.len();
        if (spec.variadic.is_none() && vals.len() != want) || vals.len() < want {
            let at_least = if spec.variadic.is_some() {
                "at least "
            } else {
                ""
            };
            return Err(exec_err(
                name,
                format!(
                    "wrong number of args for {name}: want {at_least}{want} got {}",
                    vals.len()
                ),
            ));
        }
        let mut converted = Vec::with_capacity(vals.len());
        for (i, (v, num)) in vals.into_iter().enumerate() {
            let kind = spec
                .params
                .get(i)
                .copied()
                .or(spec.variadic)
                .unwrap_or(P::A);
            converted.push(convert(kind, v, num).map_err(|m| exec_err(name, m))?);
        }
        funcs::call(name, &converted, &self.env)
            .map_err(|m| exec_err(name, format!("error calling {name}: {m}")))
    }
}

/// Go's argument conversion for a parameter of kind `kind`.
fn convert(kind: P, v: Value, num: Option<&Num>) -> Result<Value, String> {
    let wrong = |v: &Value, t: &str| match v {
        Value::Nil => format!("invalid value; expected {t}"),
        v => format!("wrong type for value; expected {t}; got {}", v.type_name()),
    };
    match (kind, num) {
        (P::A, _) => Ok(v),
        (P::S, Some(n)) => Err(format!("expected string; found {}", n.text)),
        (P::S, None) => match v {
            Value::Str(_) => Ok(v),
            v => Err(wrong(&v, "string")),
        },
        (P::I, Some(n)) => n
            .int
            .map(Value::Int)
            .ok_or_else(|| format!("expected integer; found {}", n.text)),
        (P::I, None) => match v {
            Value::Int(_) => Ok(v),
            v => Err(wrong(&v, "int")),
        },
        (P::F, Some(n)) => n
            .float
            .map(Value::Float)
            .ok_or_else(|| format!("expected float; found {}", n.text)),
        (P::F, None) => match v {
            Value::Float(_) => Ok(v),
            v => Err(wrong(&v, "float64")),
        },
        (P::T, _) => match v {
            Value::Time(_) => Ok(v),
            v => Err(wrong(&v, "time.Time")),
        },
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
