//! Executor: walks the node tree with a variable stack, enforcing the output and
//! step limits. Recursion follows the tree, whose depth the parser bounds.

use super::gofmt::{go_type, print_value};
use super::parse::{Arg, Branch, Cmd, Node, Pipe, Term};
use super::{Fail, MAX_OUTPUT, MAX_STEPS, Value, funcs};

/// Renders `nodes` with `data` as dot and `$`.
pub(super) fn render(nodes: &[Node], data: &Value) -> Result<String, Fail> {
    let mut s = State {
        vars: vec![("$".into(), data.clone())],
        out: String::new(),
        steps: 0,
    };
    s.walk(data, nodes)?;
    Ok(s.out)
}

struct State {
    vars: Vec<(String, Value)>,
    out: String,
    steps: u64,
}

/// Follows a chain of map keys from `v`; a field of nil is nil.
fn lookup(v: &Value, chain: &[String], pos: usize) -> Result<Value, Fail> {
    let mut cur = v;
    for (i, name) in chain.iter().enumerate() {
        cur = match cur {
            Value::Map(m) => match m.get(name) {
                Some(x) => x,
                None => {
                    return match (funcs::missing(m), chain.get(i + 1)) {
                        (zero, None) => Ok(zero),
                        (Value::Nil, Some(_)) => Ok(Value::Nil),
                        (zero, Some(next)) => {
                            let msg =
                                format!("can't evaluate field {next} in type {}", go_type(&zero));
                            Err(Fail::new(pos, msg))
                        }
                    };
                }
            },
            Value::Nil => return Ok(Value::Nil),
            other => {
                let msg = format!("can't evaluate field {name} in type {}", go_type(other));
                return Err(Fail::new(pos, msg));
            }
        };
    }
    Ok(cur.clone())
}

impl State {
    fn tick(&mut self, pos: usize) -> Result<(), Fail> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(Fail::new(
                pos,
                format!("execution exceeds {MAX_STEPS} steps"),
            ));
        }
        Ok(())
    }

    fn write(&mut self, s: &str, pos: usize) -> Result<(), Fail> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return Err(Fail::new(pos, format!("output exceeds {MAX_OUTPUT} bytes")));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn walk(&mut self, dot: &Value, nodes: &[Node]) -> Result<(), Fail> {
        for node in nodes {
            match node {
                Node::Text(pos, text) => self.write(text, *pos)?,
                Node::Action(pipe) => {
                    self.tick(pipe.pos)?;
                    let v = self.pipe(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        self.write(&print_value(&v), pipe.pos)?;
                    }
                }
                Node::If(b) | Node::With(b) => {
                    self.tick(b.pipe.pos)?;
                    let mark = self.vars.len();
                    let v = self.pipe(dot, &b.pipe)?;
                    match (funcs::truth(&v), node) {
                        (true, Node::With(_)) => self.walk(&v, &b.body)?,
                        (true, _) => self.walk(dot, &b.body)?,
                        (false, _) => self.walk(dot, &b.alt)?,
                    }
                    self.vars.truncate(mark);
                }
                Node::Range(b) => self.range(dot, b)?,
            }
        }
        Ok(())
    }

    fn range(&mut self, dot: &Value, b: &Branch) -> Result<(), Fail> {
        let pos = b.pipe.pos;
        self.tick(pos)?;
        let mark = self.vars.len();
        let v = self.cmds(dot, &b.pipe)?;
        if !b.pipe.assign {
            self.vars
                .extend(b.pipe.decl.iter().map(|n| (n.clone(), Value::Nil)));
        }
        let base = self.vars.len();
        let iteration = |s: &mut State, key: Value, elem: &Value| -> Result<(), Fail> {
            s.tick(pos)?;
            match b.pipe.decl.as_slice() {
                [e] => s.set(e, elem.clone(), pos)?,
                [k, e] => {
                    s.set(k, key, pos)?;
                    s.set(e, elem.clone(), pos)?;
                }
                _ => {}
            }
            s.walk(elem, &b.body)?;
            s.vars.truncate(base);
            Ok(())
        };
        match &v {
            Value::List(l) if !l.is_empty() => {
                for (i, e) in l.iter().enumerate() {
                    iteration(self, Value::Int(i as i64), e)?;
                }
            }
            Value::Map(m) if !m.is_empty() => {
                for (k, e) in m {
                    iteration(self, Value::Str(k.clone()), e)?;
                }
            }
            Value::List(_) | Value::Map(_) | Value::Nil => self.walk(dot, &b.alt)?,
            v => {
                return Err(Fail::new(
                    pos,
                    format!("range can't iterate over {}", print_value(v)),
                ));
            }
        }
        self.vars.truncate(mark);
        Ok(())
    }

    /// Evaluates a pipeline and performs its declarations or assignments.
    fn pipe(&mut self, dot: &Value, p: &Pipe) -> Result<Value, Fail> {
        let v = self.cmds(dot, p)?;
        for name in &p.decl {
            if p.assign {
                self.set(name, v.clone(), p.pos)?;
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    /// Evaluates a pipeline's commands, passing each result to the next as last argument.
    fn cmds(&mut self, dot: &Value, p: &Pipe) -> Result<Value, Fail> {
        let mut v = None;
        for c in &p.cmds {
            v = Some(self.cmd(dot, c, v)?);
        }
        Ok(v.unwrap_or(Value::Nil))
    }

    fn cmd(&mut self, dot: &Value, c: &Cmd, last: Option<Value>) -> Result<Value, Fail> {
        self.tick(c.pos)?;
        let (first, rest) = c
            .args
            .split_first()
            .ok_or_else(|| Fail::new(c.pos, "empty command"))?;
        if let Term::Func(name) = &first.term {
            return self.call(dot, name, first.pos, rest, last);
        }
        if !rest.is_empty() || last.is_some() {
            let msg = match (first.chain.last(), &first.term) {
                (Some(field), _) => format!("{field} is not a method but has arguments"),
                (None, Term::Var(v)) => format!("can't give argument to non-function {v}"),
                _ => "can't give argument to non-function".to_string(),
            };
            return Err(Fail::new(first.pos, msg));
        }
        if let Term::Nil = first.term {
            return Err(Fail::new(first.pos, "nil is not a command"));
        }
        self.arg(dot, first)
    }

    fn arg(&mut self, dot: &Value, a: &Arg) -> Result<Value, Fail> {
        match &a.term {
            Term::Dot => lookup(dot, &a.chain, a.pos),
            Term::Nil => Ok(Value::Nil),
            Term::Lit(v) => Ok(v.clone()),
            Term::Func(name) => self.call(dot, name, a.pos, &[], None),
            Term::Var(name) => {
                let v = self.vars.iter().rev().find(|(n, _)| n == name);
                let v = v.ok_or_else(|| Fail::new(a.pos, format!("undefined variable: {name}")))?;
                lookup(&v.1, &a.chain, a.pos)
            }
            Term::Pipe(p) => {
                let v = self.pipe(dot, p)?;
                lookup(&v, &a.chain, a.pos)
            }
        }
    }

    fn set(&mut self, name: &str, v: Value, pos: usize) -> Result<(), Fail> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(Fail::new(pos, format!("undefined variable: {name}"))),
        }
    }

    /// Calls a function; `and` and `or` evaluate their arguments lazily like Go's.
    fn call(
        &mut self,
        dot: &Value,
        name: &str,
        pos: usize,
        args: &[Arg],
        last: Option<Value>,
    ) -> Result<Value, Fail> {
        let count = args.len() + usize::from(last.is_some());
        funcs::check_arity(name, count).map_err(|e| Fail::new(pos, e))?;
        if name == "and" || name == "or" {
            let mut v = Value::Nil;
            for (i, a) in args.iter().enumerate() {
                v = self.arg(dot, a)?;
                if funcs::truth(&v) == (name == "or") || (i + 1 == args.len() && last.is_none()) {
                    return Ok(v);
                }
            }
            return Ok(last.unwrap_or(v));
        }
        let mut vals = Vec::with_capacity(count);
        for a in args {
            vals.push(self.arg(dot, a)?);
        }
        vals.extend(last);
        let v = funcs::call(name, &vals)
            .map_err(|e| Fail::new(pos, format!("error calling {name}: {e}")))?;
        match v {
            Value::Str(s) if s.len() > MAX_OUTPUT => Err(Fail::new(
                pos,
                format!("error calling {name}: result exceeds {MAX_OUTPUT} bytes"),
            )),
            v => Ok(v),
        }
    }
}
