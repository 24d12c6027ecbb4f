//! A self-contained implementation of the subset of Go's `text/template` used by
//! Prometheus alerting-rule annotations and webhook bodies.
//!
//! Supported:
//! - text and `{{ ... }}` actions, trim markers `{{- ` / ` -}}`, comments `{{/* ... */}}`;
//! - pipelines (`a | b c`), parenthesised pipelines, variables (`$x := p`, `$x = p`,
//!   `$` for the root), field/key chains (`.Labels.instance`, `$labels.job`, `(p).x`);
//! - literals: `"..."` with Go escapes, raw `` `...` ``, integers (decimal, `0x`, `0o`,
//!   `0b`, legacy `0` octal, `_` separators), floats, `true`, `false`, `nil`;
//! - `if`/`else if`/`else`, `range` over lists and maps (keys in sorted order, one or two
//!   variables, `else`), `with`/`else with`/`else`, all with Go's truthiness;
//! - Go builtins `and`, `or` (lazy), `not`, `len`, `index`, `print`, `printf`, `println`,
//!   `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `html`, `js`, `urlquery`;
//! - Prometheus functions `humanize`, `humanize1024`, `humanizeDuration`,
//!   `humanizePercentage`, `humanizeTimestamp`, `title`, `toUpper`, `toLower`, `match`,
//!   `reReplaceAll`, `safeHtml`, `stripPort`, `stripDomain`, `parseDuration`, `toTime`
//!   (renders like Go's `time.Time`), `urlQueryEscape`;
//! - the Strata extension `json`, which renders its argument as a JSON string literal.
//!
//! Semantics follow Go with Prometheus's `missingkey=zero` option: a missing key of a map
//! whose values are all strings (like `$labels`) yields `""`, any other missing key yields
//! nil, which prints as `<no value>`. A field of nil is nil (Go errors for some nil values).
//! Comparisons follow Go: an int literal against a float64 (`gt $value 10`, as `$value`
//! is a float64) is an "incompatible types for comparison" error; write `gt $value 10.0`.
//! `printf` knows `%v %s %d %f %F %e %E %g %G %q %x %X %t %c %b %o %U %T %%`, the flags
//! `+ - 0 #` and space, width and precision (also `*`), and prints Go's `%!d(string=x)`
//! notation for mismatches; floats print like Go (`1e+06`, `0.1`, `1.5`).
//!
//! Not supported: `define`, `template`, `block`, `break`, `continue`, methods (`.Format`),
//! character and complex constants, hex floats, `range` over integers, custom delimiters,
//! `%x`/`%b` on floats, `%q` on ints, zero-padded strings,
//! the Prometheus functions needing a query engine or clock (`query`, `first`, `label`,
//! `value`, `sortByLabel`, `graphLink`, `tableLink`, `now`, `toDuration`, ...): using an
//! unknown function is a parse error, as in Go. Templates come from user configuration, so
//! nesting is limited to 100 levels (each `else if` counts as one), output and any string
//! built to 1 MiB, and evaluation to one million steps; every failure is a
//! [`TemplateError`] with a 1-based line and column in the user's text, never a panic.

mod args;
mod escape;
mod exec;
mod funcs;
mod gofmt;
mod lex;
mod parse;
mod prom;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

/// Prometheus's prefix for rule templates: defines `$labels`, `$externalLabels`,
/// `$externalURL` and `$value` from `.Labels`, `.ExternalLabels`, `.ExternalURL`, `.Value`.
pub const RULE_PREFIX: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// Maximum nesting of control structures and parenthesised pipelines.
const MAX_DEPTH: usize = 100;
/// Maximum size in bytes of the rendered output and of any string built while rendering.
const MAX_OUTPUT: usize = 1 << 20;
/// Maximum number of evaluation steps (actions, commands and loop iterations) per render.
const MAX_STEPS: u64 = 1_000_000;

/// A template value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Go's `nil`; printed as `<no value>` by an action.
    Nil,
    /// A boolean.
    Bool(bool),
    /// A float64, e.g. a sample value.
    Num(f64),
    /// An int, e.g. an integer literal or a range index.
    Int(i64),
    /// A string.
    Str(String),
    /// A list (Go slice).
    List(Vec<Value>),
    /// A map with string keys; iterated in key order.
    Map(BTreeMap<String, Value>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Num(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(v)
    }
}
impl From<BTreeMap<String, Value>> for Value {
    fn from(v: BTreeMap<String, Value>) -> Self {
        Value::Map(v)
    }
}

/// An error parsing or rendering a template.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The template text is malformed.
    #[error("template {name:?}: {line}:{column}: {reason}")]
    Parse {
        /// The template's name.
        name: String,
        /// 1-based line in the user's text.
        line: usize,
        /// 1-based column (in characters) in the user's text.
        column: usize,
        /// What is wrong.
        reason: String,
    },
    /// Rendering failed, e.g. a function got an argument of the wrong type.
    #[error("template {name:?}: {line}:{column}: executing: {reason}")]
    Exec {
        /// The template's name.
        name: String,
        /// 1-based line of the failing action in the user's text.
        line: usize,
        /// 1-based column of the failing action in the user's text.
        column: usize,
        /// What went wrong.
        reason: String,
    },
}

/// An internal error at a byte offset of the parsed source.
#[derive(Debug)]
struct Fail {
    pos: usize,
    msg: String,
}

impl Fail {
    fn new(pos: usize, msg: impl Into<String>) -> Fail {
        Fail {
            pos,
            msg: msg.into(),
        }
    }
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    source: String,
    skip: usize,
    root: Vec<parse::Node>,
}

impl Template {
    /// Parses `text`; `name` is used in error messages (e.g. "annotation summary").
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        Self::build(name, "", text)
    }

    /// Parses [`RULE_PREFIX`] followed by `text`, as Prometheus does for rule annotations
    /// and labels; error positions refer to `text`.
    pub fn parse_rule(name: &str, text: &str) -> Result<Template, TemplateError> {
        Self::build(name, RULE_PREFIX, text)
    }

    fn build(name: &str, prefix: &str, text: &str) -> Result<Template, TemplateError> {
        let mut t = Template {
            name: name.to_string(),
            source: format!("{prefix}{text}"),
            skip: prefix.len(),
            root: Vec::new(),
        };
        match parse::parse(&t.source) {
            Ok(root) => t.root = root,
            Err(f) => {
                let (line, column) = t.position(f.pos);
                let name = t.name;
                return Err(TemplateError::Parse {
                    name,
                    line,
                    column,
                    reason: f.msg,
                });
            }
        }
        Ok(t)
    }

    /// Renders with `data` as `.` (dot) and `$`.
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        exec::render(&self.root, data).map_err(|f| {
            let (line, column) = self.position(f.pos);
            let name = self.name.clone();
            TemplateError::Exec {
                name,
                line,
                column,
                reason: f.msg,
            }
        })
    }

    /// Converts a byte offset of the source to a 1-based line and column of the user text.
    fn position(&self, pos: usize) -> (usize, usize) {
        let user = self.source.get(self.skip..).unwrap_or("");
        let before = user.get(..pos.saturating_sub(self.skip)).unwrap_or(user);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        (line, column)
    }
}
