//! A recursive-descent parser of TraceQL, with Tempo's precedences: in a filter, `&&` and
//! `||` bind loosest (left to right, at one level, as Tempo's grammar has them), then the
//! comparisons, `+ -`, `* / %`, `^`, unary `!` and `-`; between spansets, `&&` and `||`
//! (one level) bind looser than the structural operators; `|` loosest of all.

use super::ast::{
    AggregateOp, BinOp, Compare, Field, FieldExpr, Intrinsic, Kind, Metrics, MetricsFn, Pattern,
    Pipeline, Query, Scope, SecondStage, SpansetExpr, SpansetOp, Stage, Status, Value,
};
use super::error::ParseError;
use super::lexer::{Tok, Token, tokens};

mod math;

/// Parses a TraceQL query.
///
/// ```
/// use strata_query::traceql::parse;
/// let q = parse(r#"{ resource.service.name = "api" && duration > 1s } | count() > 2"#)?;
/// assert!(!q.is_metrics());
/// let err = parse("{ name = }").unwrap_err();
/// assert_eq!(err.to_string(), "parse error at line 1, col 10: expected a value, found `}`");
/// # Ok::<(), strata_query::traceql::Error>(())
/// ```
pub fn parse(text: &str) -> Result<Query, super::Error> {
    let toks = tokens(text)?;
    let mut p = Parser {
        text,
        toks,
        pos: 0,
        math_ops_seen: 0,
    };
    let q = p.query()?;
    Ok(q)
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<Token>,
    pos: usize,
    /// Arithmetic operators between metrics queries read so far.
    math_ops_seen: usize,
}

/// A token as an error message shows it.
fn show(t: &Tok) -> String {
    match t {
        Tok::LBrace => "`{`".into(),
        Tok::RBrace => "`}`".into(),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Pipe => "`|`".into(),
        Tok::Op(o) => format!("`{o}`"),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Int(i) => format!("`{i}`"),
        Tok::Float(f) => format!("`{f}`"),
        Tok::Duration(d) => format!("duration `{d}ns`"),
        Tok::Attr(s, n) => format!("`{s}.{n}`"),
        Tok::Word(w) => format!("`{w}`"),
        Tok::Eof => "the end of the query".into(),
    }
}

const METRICS_FNS: [&str; 9] = [
    "rate",
    "compare",
    "count_over_time",
    "min_over_time",
    "max_over_time",
    "avg_over_time",
    "sum_over_time",
    "quantile_over_time",
    "histogram_over_time",
];

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].tok
    }

    fn at(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].at
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn err(&self, msg: impl std::fmt::Display) -> ParseError {
        ParseError::at(self.text, self.at(), msg.to_string())
    }

    fn expected(&self, what: &str) -> ParseError {
        self.err(format!("expected {what}, found {}", show(self.peek())))
    }

    fn expect(&mut self, t: &Tok, what: &str) -> Result<(), ParseError> {
        if self.peek() == t {
            self.next();
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn query(&mut self) -> Result<Query, ParseError> {
        let start = self.pos;
        let plain = self.plain_query();
        if plain.is_ok() || *self.peek_at(start) != Tok::LParen {
            return plain;
        }
        // `(metrics query) op (metrics query)`: tried when the query did not parse as a
        // pipeline; its own error is told once it has gone past its first operand.
        self.pos = start;
        let math = self.math_sum().and_then(|q| {
            if *self.peek() != Tok::Eof {
                return Err(self.expected("`+`, `-`, `*`, `/` or the end of the query"));
            }
            Ok(q)
        });
        match math {
            Ok(q) if q.math.is_some() => Ok(q),
            Err(e) if self.math_ops_seen > 0 => Err(e),
            _ => plain,
        }
    }

    fn peek_at(&self, pos: usize) -> &Tok {
        &self.toks[pos.min(self.toks.len() - 1)].tok
    }

    fn plain_query(&mut self) -> Result<Query, ParseError> {
        let (pipeline, metrics) = self.pipeline(true)?;
        if *self.peek() != Tok::Eof {
            return Err(self.expected("`|` or the end of the query"));
        }
        Ok(Query {
            pipeline,
            metrics,
            math: None,
        })
    }

    /// `element ('|' element)*`; a metrics function may end it when `top`.
    fn pipeline(&mut self, top: bool) -> Result<(Pipeline, Option<Metrics>), ParseError> {
        let mut stages = vec![Stage::Spanset(self.spanset_expr()?)];
        let mut metrics = None;
        while *self.peek() == Tok::Pipe {
            self.next();
            if let Tok::Word(w) = self.peek()
                && METRICS_FNS.contains(&w.as_str())
            {
                if !top {
                    return Err(self.err("a metrics function must end the query"));
                }
                let mut m = self.metrics()?;
                let second = |p: &Self| {
                    let after = &p.toks[(p.pos + 1).min(p.toks.len() - 1)].tok;
                    *p.peek() == Tok::Pipe
                        && matches!(after, Tok::Word(w) if w == "topk" || w == "bottomk")
                };
                if second(self) {
                    self.next();
                    m.second = Some(self.second_stage()?);
                }
                if *self.peek() == Tok::Pipe {
                    return Err(
                        self.err("nothing may follow a metrics function (but one topk or bottomk)")
                    );
                }
                metrics = Some(m);
                break;
            }
            stages.push(self.stage()?);
        }
        Ok((Pipeline { stages }, metrics))
    }

    fn stage(&mut self) -> Result<Stage, ParseError> {
        let word = match self.peek() {
            Tok::Word(w) => w.clone(),
            Tok::LBrace | Tok::LParen => return Ok(Stage::Spanset(self.spanset_expr()?)),
            _ => return Err(self.expected("a spanset, aggregate, `by`, `select` or `coalesce`")),
        };
        match word.as_str() {
            "by" => {
                self.next();
                self.expect(&Tok::LParen, "`(`")?;
                let e = self.field_expr()?;
                self.expect(&Tok::RParen, "`)`")?;
                Ok(Stage::By(e))
            }
            "select" => {
                self.next();
                Ok(Stage::Select(self.field_list()?))
            }
            "coalesce" => {
                self.next();
                self.expect(&Tok::LParen, "`(`")?;
                self.expect(&Tok::RParen, "`)`")?;
                Ok(Stage::Coalesce)
            }
            "count" | "avg" | "min" | "max" | "sum" => self.scalar_filter(),
            _ => Err(self.expected("a spanset, aggregate, `by`, `select` or `coalesce`")),
        }
    }

    /// `agg(...) op value`.
    fn scalar_filter(&mut self) -> Result<Stage, ParseError> {
        let Tok::Word(w) = self.next() else {
            return Err(self.expected("an aggregate"));
        };
        let op = match w.as_str() {
            "count" => AggregateOp::Count,
            "avg" => AggregateOp::Avg,
            "min" => AggregateOp::Min,
            "max" => AggregateOp::Max,
            _ => AggregateOp::Sum,
        };
        self.expect(&Tok::LParen, "`(`")?;
        let arg = if op == AggregateOp::Count {
            None
        } else {
            Some(self.field_expr()?)
        };
        self.expect(&Tok::RParen, "`)`")?;
        let cmp = match self.peek() {
            Tok::Op("=") => BinOp::Eq,
            Tok::Op("!=") => BinOp::Neq,
            Tok::Op("<") => BinOp::Lt,
            Tok::Op("<=") => BinOp::Lte,
            Tok::Op(">") => BinOp::Gt,
            Tok::Op(">=") => BinOp::Gte,
            _ => return Err(self.expected("a comparison after the aggregate")),
        };
        self.next();
        let neg = self.is_op("-");
        if neg {
            self.next();
        }
        let mut value = self.literal()?;
        if neg {
            value = negate(value).ok_or_else(|| self.err("only a number can be negated"))?;
        }
        Ok(Stage::Scalar {
            op,
            arg,
            cmp,
            value,
        })
    }

    fn field_list(&mut self) -> Result<Vec<FieldExpr>, ParseError> {
        self.expect(&Tok::LParen, "`(`")?;
        let mut out = vec![self.field_expr()?];
        while *self.peek() == Tok::Comma {
            self.next();
            out.push(self.field_expr()?);
        }
        self.expect(&Tok::RParen, "`)` or `,`")?;
        Ok(out)
    }

    fn metrics(&mut self) -> Result<Metrics, ParseError> {
        let Tok::Word(w) = self.next() else {
            return Err(self.expected("a metrics function"));
        };
        self.expect(&Tok::LParen, "`(`")?;
        let func = match w.as_str() {
            "rate" => MetricsFn::Rate,
            "count_over_time" => MetricsFn::CountOverTime,
            "compare" => self.compare()?,
            "quantile_over_time" => {
                let e = self.field_expr()?;
                let mut qs = Vec::new();
                while *self.peek() == Tok::Comma {
                    self.next();
                    let at = self.at();
                    let q = match self.next() {
                        Tok::Float(f) => f,
                        Tok::Int(i) => i as f64,
                        _ => return Err(ParseError::at(self.text, at, "expected a quantile")),
                    };
                    if !(0.0..=1.0).contains(&q) {
                        return Err(ParseError::at(
                            self.text,
                            at,
                            "a quantile must be in [0, 1]",
                        ));
                    }
                    qs.push(q);
                }
                if qs.is_empty() {
                    return Err(self.expected("`,` and at least one quantile"));
                }
                MetricsFn::QuantileOverTime(e, qs)
            }
            other => {
                let e = self.field_expr()?;
                match other {
                    "min_over_time" => MetricsFn::MinOverTime(e),
                    "max_over_time" => MetricsFn::MaxOverTime(e),
                    "avg_over_time" => MetricsFn::AvgOverTime(e),
                    "sum_over_time" => MetricsFn::SumOverTime(e),
                    _ => MetricsFn::HistogramOverTime(e),
                }
            }
        };
        self.expect(&Tok::RParen, "`)`")?;
        let mut by = Vec::new();
        if matches!(self.peek(), Tok::Word(w) if w == "by") {
            self.next();
            by = self.field_list()?;
        }
        Ok(Metrics {
            func,
            by,
            second: None,
        })
    }

    /// `compare`'s arguments after its `(`: a spanset filter, then optionally the number
    /// of values per attribute, then optionally a window of start times (ns).
    fn compare(&mut self) -> Result<MetricsFn, ParseError> {
        let at = self.at();
        let filter = match self.spanset_primary()? {
            SpansetExpr::Filter(f) => f,
            _ => {
                return Err(ParseError::at(
                    self.text,
                    at,
                    "compare() takes a spanset filter",
                ));
            }
        };
        let mut numbers = Vec::new();
        while *self.peek() == Tok::Comma {
            self.next();
            let at = self.at();
            match self.next() {
                Tok::Int(n) => numbers.push((n, at)),
                _ => return Err(ParseError::at(self.text, at, "expected an integer")),
            }
        }
        let top = match numbers.first() {
            None => 10,
            Some(&(n, at)) if n <= 0 => {
                return Err(ParseError::at(
                    self.text,
                    at,
                    "compare() top number of values must be integer greater than 0",
                ));
            }
            Some(&(n, _)) => n as usize,
        };
        let window = match numbers[..] {
            [] | [_] => (0, 0),
            [_, (start, at), (end, _)] => {
                if start <= 0 || end <= 0 {
                    return Err(ParseError::at(
                        self.text,
                        at,
                        "compare() timestamps must be positive integer unix nanoseconds",
                    ));
                }
                if end <= start {
                    return Err(ParseError::at(
                        self.text,
                        at,
                        "compare() end timestamp must be greater than start timestamp",
                    ));
                }
                (start, end)
            }
            _ => {
                return Err(ParseError::at(
                    self.text,
                    at,
                    "compare() takes a filter, a count, and optionally a start and an end",
                ));
            }
        };
        Ok(MetricsFn::Compare(Box::new(Compare {
            filter,
            top,
            window,
        })))
    }

    /// `topk(n)` or `bottomk(n)` after a metrics function.
    fn second_stage(&mut self) -> Result<SecondStage, ParseError> {
        let at = self.at();
        let kind = match self.next() {
            Tok::Word(w) if w == "topk" || w == "bottomk" => w,
            _ => return Err(ParseError::at(self.text, at, "expected topk or bottomk")),
        };
        self.expect(&Tok::LParen, "`(`")?;
        let at = self.at();
        let n = match self.next() {
            Tok::Int(n) if n > 0 => n as usize,
            _ => return Err(ParseError::at(self.text, at, "expected a positive integer")),
        };
        self.expect(&Tok::RParen, "`)`")?;
        Ok(if kind == "topk" {
            SecondStage::TopK(n)
        } else {
            SecondStage::BottomK(n)
        })
    }

    /// Spanset expressions joined by `&&` and `||` (one level, left to right).
    fn spanset_expr(&mut self) -> Result<SpansetExpr, ParseError> {
        let mut lhs = self.structural()?;
        loop {
            let op = match self.peek() {
                Tok::Op("&&") => SpansetOp::And,
                Tok::Op("||") => SpansetOp::Or,
                _ => return Ok(lhs),
            };
            self.next();
            let rhs = self.structural()?;
            lhs = SpansetExpr::Op(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn structural(&mut self) -> Result<SpansetExpr, ParseError> {
        let mut lhs = self.spanset_primary()?;
        loop {
            let op = match self.peek() {
                Tok::Op(">") => SpansetOp::Child,
                Tok::Op("<") => SpansetOp::Parent,
                Tok::Op(">>") => SpansetOp::Descendant,
                Tok::Op("<<") => SpansetOp::Ancestor,
                Tok::Op("~") => SpansetOp::Sibling,
                Tok::Op("!>") => SpansetOp::NotChild,
                Tok::Op("!<") => SpansetOp::NotParent,
                Tok::Op("!>>") => SpansetOp::NotDescendant,
                Tok::Op("!<<") => SpansetOp::NotAncestor,
                Tok::Op("!~") => SpansetOp::NotSibling,
                Tok::Op("&>") => SpansetOp::UnionChild,
                Tok::Op("&<") => SpansetOp::UnionParent,
                Tok::Op("&>>") => SpansetOp::UnionDescendant,
                Tok::Op("&<<") => SpansetOp::UnionAncestor,
                Tok::Op("&~") => SpansetOp::UnionSibling,
                _ => return Ok(lhs),
            };
            self.next();
            let rhs = self.spanset_primary()?;
            lhs = SpansetExpr::Op(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn spanset_primary(&mut self) -> Result<SpansetExpr, ParseError> {
        match self.peek() {
            Tok::LBrace => {
                self.next();
                if *self.peek() == Tok::RBrace {
                    self.next();
                    return Ok(SpansetExpr::Filter(FieldExpr::Lit(Value::Bool(true))));
                }
                let at = self.at();
                let e = self.field_expr()?;
                if !may_be_bool(&e) {
                    return Err(ParseError::at(
                        self.text,
                        at,
                        "a spanset filter must be a boolean expression",
                    ));
                }
                self.expect(&Tok::RBrace, "`}` or an operator")?;
                Ok(SpansetExpr::Filter(e))
            }
            Tok::LParen => {
                self.next();
                let (p, _) = self.pipeline(false)?;
                self.expect(&Tok::RParen, "`)`")?;
                let mut stages = p.stages;
                if stages.len() == 1
                    && let Some(Stage::Spanset(e)) = stages.pop()
                {
                    return Ok(e);
                }
                Ok(SpansetExpr::Pipeline(Box::new(Pipeline { stages })))
            }
            _ => Err(self.expected("`{`")),
        }
    }

    /// A field expression: `||`/`&&` (one level, left to right) of comparisons.
    fn field_expr(&mut self) -> Result<FieldExpr, ParseError> {
        let mut lhs = self.comparison()?;
        loop {
            let op = match self.peek() {
                Tok::Op("&&") => BinOp::And,
                Tok::Op("||") => BinOp::Or,
                _ => return Ok(lhs),
            };
            self.next();
            let rhs = self.comparison()?;
            lhs = FieldExpr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn comparison(&mut self) -> Result<FieldExpr, ParseError> {
        let mut lhs = self.additive()?;
        loop {
            let op = match self.peek() {
                Tok::Op("=") => BinOp::Eq,
                Tok::Op("!=") => BinOp::Neq,
                Tok::Op("<") => BinOp::Lt,
                Tok::Op("<=") => BinOp::Lte,
                Tok::Op(">") => BinOp::Gt,
                Tok::Op(">=") => BinOp::Gte,
                Tok::Op("=~") => BinOp::Re,
                Tok::Op("!~") => BinOp::NotRe,
                _ => return Ok(lhs),
            };
            self.next();
            if matches!(op, BinOp::Re | BinOp::NotRe) {
                let at = self.at();
                let Tok::Str(text) = self.next() else {
                    return Err(ParseError::at(
                        self.text,
                        at,
                        "a regular expression must be a string",
                    ));
                };
                let pattern = Pattern::new(&text).map_err(|e| {
                    ParseError::at(self.text, at, format!("invalid regular expression: {e}"))
                })?;
                lhs = FieldExpr::Regex {
                    lhs: Box::new(lhs),
                    negated: op == BinOp::NotRe,
                    pattern,
                };
            } else {
                let rhs = self.additive()?;
                lhs = FieldExpr::Binary(op, Box::new(lhs), Box::new(rhs));
            }
        }
    }

    fn additive(&mut self) -> Result<FieldExpr, ParseError> {
        let mut lhs = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => return Ok(lhs),
            };
            self.next();
            let rhs = self.multiplicative()?;
            lhs = FieldExpr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn multiplicative(&mut self) -> Result<FieldExpr, ParseError> {
        let mut lhs = self.power()?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                Tok::Op("%") => BinOp::Mod,
                _ => return Ok(lhs),
            };
            self.next();
            let rhs = self.power()?;
            lhs = FieldExpr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn power(&mut self) -> Result<FieldExpr, ParseError> {
        let base = self.unary()?;
        if self.is_op("^") {
            self.next();
            let exp = self.power()?;
            return Ok(FieldExpr::Binary(BinOp::Pow, Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }

    fn unary(&mut self) -> Result<FieldExpr, ParseError> {
        if self.is_op("!") {
            self.next();
            return Ok(FieldExpr::Not(Box::new(self.unary()?)));
        }
        if self.is_op("-") {
            self.next();
            let e = self.unary()?;
            return Ok(match e {
                FieldExpr::Lit(v) => match negate(v.clone()) {
                    Some(n) => FieldExpr::Lit(n),
                    None => FieldExpr::Neg(Box::new(FieldExpr::Lit(v))),
                },
                other => FieldExpr::Neg(Box::new(other)),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<FieldExpr, ParseError> {
        match self.peek().clone() {
            Tok::LParen => {
                self.next();
                let e = self.field_expr()?;
                self.expect(&Tok::RParen, "`)`")?;
                Ok(e)
            }
            Tok::Attr(scope, name) => {
                self.next();
                let scope = match scope {
                    "span" => Scope::Span,
                    "resource" => Scope::Resource,
                    "event" => Scope::Event,
                    "link" => Scope::Link,
                    "instrumentation" => Scope::Instrumentation,
                    "parent.span" => Scope::ParentSpan,
                    "parent.resource" => Scope::ParentResource,
                    "parent" => Scope::ParentAny,
                    _ => Scope::Any,
                };
                Ok(FieldExpr::Field(Field::Attr(scope, name)))
            }
            Tok::Word(w) => {
                if let Some(i) = intrinsic(&w) {
                    self.next();
                    return Ok(FieldExpr::Field(Field::Intrinsic(i)));
                }
                if w.contains(':') {
                    return Err(self.err(format!("unknown intrinsic `{w}`")));
                }
                Ok(FieldExpr::Lit(self.literal()?))
            }
            _ => Ok(FieldExpr::Lit(self.literal()?)),
        }
    }

    fn literal(&mut self) -> Result<Value, ParseError> {
        let v = match self.peek() {
            Tok::Str(s) => Value::Str(s.clone()),
            Tok::Int(i) => Value::Int(*i),
            Tok::Float(f) => Value::Float(*f),
            Tok::Duration(d) => Value::Duration(*d),
            Tok::Word(w) => match keyword(w) {
                Some(v) => v,
                None => return Err(self.expected("a value")),
            },
            _ => return Err(self.expected("a value")),
        };
        self.next();
        Ok(v)
    }
}

/// The value of `-v`, for a number or duration.
fn negate(v: Value) -> Option<Value> {
    match v {
        Value::Int(i) => Some(Value::Int(i.checked_neg()?)),
        Value::Float(f) => Some(Value::Float(-f)),
        Value::Duration(d) => Some(Value::Duration(d.checked_neg()?)),
        _ => None,
    }
}

/// Whether `e` can be true or false (a filter's expression must be).
fn may_be_bool(e: &FieldExpr) -> bool {
    match e {
        FieldExpr::Lit(v) => matches!(v, Value::Bool(_)),
        FieldExpr::Field(_) | FieldExpr::Not(_) | FieldExpr::Regex { .. } => true,
        FieldExpr::Neg(_) => false,
        FieldExpr::Binary(op, ..) => !matches!(
            op,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Pow
        ),
    }
}

/// The intrinsic a word names.
fn intrinsic(w: &str) -> Option<Intrinsic> {
    Some(match w {
        "name" | "span:name" => Intrinsic::Name,
        "status" | "span:status" => Intrinsic::Status,
        "statusMessage" | "span:statusMessage" => Intrinsic::StatusMessage,
        "kind" | "span:kind" => Intrinsic::Kind,
        "duration" | "span:duration" => Intrinsic::Duration,
        "span:id" => Intrinsic::SpanId,
        "span:parentID" | "parent:id" => Intrinsic::ParentId,
        "span:childCount" => Intrinsic::ChildCount,
        "rootServiceName" | "trace:rootService" => Intrinsic::RootServiceName,
        "rootName" | "trace:rootName" => Intrinsic::RootName,
        "traceDuration" | "trace:duration" => Intrinsic::TraceDuration,
        "trace:id" => Intrinsic::TraceId,
        "instrumentation:name" => Intrinsic::ScopeName,
        "instrumentation:version" => Intrinsic::ScopeVersion,
        "event:name" => Intrinsic::EventName,
        "event:timeSinceStart" => Intrinsic::EventTimeSinceStart,
        "link:traceID" => Intrinsic::LinkTraceId,
        "link:spanID" => Intrinsic::LinkSpanId,
        _ => return None,
    })
}

/// The value a keyword names.
fn keyword(w: &str) -> Option<Value> {
    Some(match w {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "nil" => Value::Nil,
        "ok" => Value::Status(Status::Ok),
        "error" => Value::Status(Status::Error),
        "unset" => Value::Status(Status::Unset),
        "unspecified" => Value::Kind(Kind::Unspecified),
        "internal" => Value::Kind(Kind::Internal),
        "server" => Value::Kind(Kind::Server),
        "client" => Value::Kind(Kind::Client),
        "producer" => Value::Kind(Kind::Producer),
        "consumer" => Value::Kind(Kind::Consumer),
        "minInt" => Value::Int(i64::MIN),
        "maxInt" => Value::Int(i64::MAX),
        _ => return None,
    })
}
