//! The metric side of the LogQL parser (a child module of `parser/mod.rs`): binary operators with
//! Prometheus precedence and modifiers, vector aggregations (`sum by (a) (...)`,
//! `topk(5, ...)`), range aggregations over log ranges (`{...} | ... [5m] offset 1h`, in all
//! the orders Loki accepts), `vector(...)` and `label_replace(...)`, with Loki's checks of
//! parameters, groupings and `unwrap`.

use super::super::ast::{
    BinOp, Card, Grouping, LogExpr, MetricExpr, RangeAgg, RangeOp, Unwrap, VectorMatching, VectorOp,
};
use super::super::lexer::Tok;
use super::{Node, ParseError, Parser};

/// A log query with its `unwrap` and its `(range, offset)` in milliseconds, as read so far.
struct LogRange {
    log: LogExpr,
    unwrap: Option<Unwrap>,
    range: Option<(i64, i64)>,
}

/// The leading `NUMBER,` argument of `topk` or `quantile_over_time`.
struct Param {
    value: f64,
    pos: usize,
    text: String,
}

/// Loki folds operations on numbers into a number; these are what it refuses as operands of
/// `and`/`or`/`unless`.
fn is_literal(e: &MetricExpr) -> bool {
    match e {
        MetricExpr::Number(_) => true,
        MetricExpr::Paren(e) => is_literal(e),
        MetricExpr::Binary { lhs, rhs, .. } => is_literal(lhs) && is_literal(rhs),
        _ => false,
    }
}

impl Parser<'_> {
    /// A whole expression: a log query or a metric query.
    pub(super) fn parse_expr(&mut self) -> Result<Node, ParseError> {
        self.parse_binary(1)
    }

    /// Operators binding at least as tightly as `min_prec`, by precedence climbing.
    fn parse_binary(&mut self, min_prec: u8) -> Result<Node, ParseError> {
        self.enter()?;
        let mut levels = 1;
        let mut lhs = self.parse_unary()?;
        while let Some(op) = self.peek_binop().filter(|op| op.precedence() >= min_prec) {
            let op_pos = self.bump().start;
            let (return_bool, matching) = self.parse_bin_modifiers(op)?;
            let right_assoc = op == BinOp::Pow;
            let rhs = self.parse_binary(op.precedence() + u8::from(!right_assoc))?;
            // Each operator of a chain deepens the tree by one.
            self.enter()?;
            levels += 1;
            lhs = Node::Metric(self.combine(op, op_pos, lhs, rhs, return_bool, matching)?);
        }
        self.leave(levels);
        Ok(lhs)
    }

    fn peek_binop(&self) -> Option<BinOp> {
        Some(match self.peek() {
            Tok::Add => BinOp::Add,
            Tok::Sub => BinOp::Sub,
            Tok::Mul => BinOp::Mul,
            Tok::Div => BinOp::Div,
            Tok::Mod => BinOp::Mod,
            Tok::Pow => BinOp::Pow,
            Tok::EqEq => BinOp::Eq,
            Tok::Ne => BinOp::Ne,
            Tok::Gt => BinOp::Gt,
            Tok::Ge => BinOp::Ge,
            Tok::Lt => BinOp::Lt,
            Tok::Le => BinOp::Le,
            Tok::Ident => match self.word_at(0)?.to_ascii_lowercase().as_str() {
                "and" => BinOp::And,
                "or" => BinOp::Or,
                "unless" => BinOp::Unless,
                _ => return None,
            },
            _ => return None,
        })
    }

    /// `bool`, `on(...)`/`ignoring(...)`, `group_left(...)`/`group_right(...)` after `op`.
    fn parse_bin_modifiers(
        &mut self,
        op: BinOp,
    ) -> Result<(bool, Option<VectorMatching>), ParseError> {
        let return_bool = self.is_word(0, "bool");
        if return_bool {
            if !op.is_comparison() {
                let msg = format!(
                    "bool modifier can only be used on comparison operators, not {}",
                    op.symbol()
                );
                return Err(self.invalid(self.tok_at(0).start, msg));
            }
            self.bump();
        }
        let on = self.is_word(0, "on");
        if !(on || self.is_word(0, "ignoring")) || *self.peek_at(1) != Tok::LParen {
            return Ok((return_bool, None));
        }
        self.bump();
        let labels = self.parse_label_list()?;
        let mut matching = VectorMatching {
            on,
            labels,
            card: Card::OneToOne,
            include: Vec::new(),
        };
        let card = if self.is_word(0, "group_left") {
            Card::ManyToOne
        } else if self.is_word(0, "group_right") {
            Card::OneToMany
        } else {
            return Ok((return_bool, Some(matching)));
        };
        if op.is_set_op() {
            let msg = format!("no grouping allowed for \"{}\" operation", op.symbol());
            return Err(self.invalid(self.tok_at(0).start, msg));
        }
        self.bump();
        matching.card = card;
        if *self.peek() == Tok::LParen {
            matching.include = self.parse_label_list()?;
        }
        Ok((return_bool, Some(matching)))
    }

    fn combine(
        &self,
        op: BinOp,
        pos: usize,
        lhs: Node,
        rhs: Node,
        return_bool: bool,
        matching: Option<VectorMatching>,
    ) -> Result<MetricExpr, ParseError> {
        let metric = |node: Node, side: &str| match node {
            Node::Metric(m) => Ok(m),
            Node::Log(_) => Err(self.invalid(
                pos,
                format!(
                    "unexpected log query on the {side} side of binary operation ({}): both sides \
                     must be metric queries, such as count_over_time({{...}}[5m]), or numbers",
                    op.symbol()
                ),
            )),
        };
        let (lhs, rhs) = (metric(lhs, "left")?, metric(rhs, "right")?);
        if op.is_set_op() {
            for (e, side) in [(&lhs, "left"), (&rhs, "right")] {
                if is_literal(e) {
                    let msg = format!(
                        "unexpected literal for {side} leg of logical/set binary operation ({})",
                        op.symbol()
                    );
                    return Err(self.invalid(pos, msg));
                }
            }
        }
        Ok(MetricExpr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            return_bool,
            matching,
        })
    }

    /// A signed number, a log query, a parenthesized expression or a function call.
    fn parse_unary(&mut self) -> Result<Node, ParseError> {
        let number = |v: f64| Ok(Node::Metric(MetricExpr::Number(v)));
        match self.peek() {
            Tok::Add | Tok::Sub => {
                let negative = self.bump().kind == Tok::Sub;
                match self.peek() {
                    Tok::Number(v) => {
                        let v = *v;
                        self.bump();
                        number(if negative { -v } else { v })
                    }
                    _ => Err(self.unexpected("NUMBER (a sign is only allowed before a number)")),
                }
            }
            Tok::Number(v) => {
                let v = *v;
                self.bump();
                number(v)
            }
            Tok::LBrace => Ok(Node::Log(self.parse_log_expr()?)),
            Tok::LParen => {
                self.bump();
                let node = self.parse_expr()?;
                self.expect(Tok::RParen, ")")?;
                Ok(node)
            }
            Tok::Ident => self.parse_call(),
            _ => Err(self.unexpected("{, (, NUMBER or a function")),
        }
    }

    /// `rate(...)`, `sum by (a) (...)`, `vector(1)`, `label_replace(...)`.
    fn parse_call(&mut self) -> Result<Node, ParseError> {
        let name = self.tok_at(0).clone();
        let word = self.text(&name).to_ascii_lowercase();
        let call = *self.peek_at(1) == Tok::LParen;
        let grouped = (self.is_word(1, "by") || self.is_word(1, "without"))
            && *self.peek_at(2) == Tok::LParen;
        if let Some(op) = RangeOp::from_name(&word).filter(|_| call) {
            return Ok(Node::Metric(self.parse_range_agg(op)?));
        }
        if let Some(op) = VectorOp::from_name(&word).filter(|_| call || grouped) {
            return Ok(Node::Metric(self.parse_vector_agg(op)?));
        }
        match word.as_str() {
            "vector" if call => {
                self.bump();
                self.bump();
                let negative = self.eat(&Tok::Sub);
                let value = match self.peek() {
                    Tok::Number(v) => *v,
                    _ => return Err(self.unexpected("NUMBER")),
                };
                self.bump();
                self.expect(Tok::RParen, ")")?;
                Ok(Node::Metric(MetricExpr::VectorLit(if negative {
                    -value
                } else {
                    value
                })))
            }
            "label_replace" if call => Ok(Node::Metric(self.parse_label_replace()?)),
            "approx_topk" => Err(self.invalid(name.start, "approx_topk is not supported")),
            _ => Err(self.unexpected("{, (, NUMBER or a function")),
        }
    }

    /// `NUMBER,` (optionally signed) at the start of a call's arguments.
    fn parse_param(&mut self) -> Option<Param> {
        let signed = matches!(self.peek(), Tok::Add | Tok::Sub);
        let k = usize::from(signed);
        let Tok::Number(v) = self.peek_at(k) else {
            return None;
        };
        let v = *v;
        if *self.peek_at(k + 1) != Tok::Comma {
            return None;
        }
        let first = self.bump();
        let last = if signed { self.bump() } else { first.clone() };
        self.bump();
        let text = self
            .src
            .get(first.start..last.end)
            .unwrap_or("")
            .to_string();
        Some(Param {
            value: if first.kind == Tok::Sub { -v } else { v },
            pos: first.start,
            text,
        })
    }

    /// `op([param,] log range) [grouping]`, with Loki's checks.
    fn parse_range_agg(&mut self, op: RangeOp) -> Result<MetricExpr, ParseError> {
        let at = self.bump().start;
        self.bump();
        self.enter()?;
        let param = self.parse_param();
        let lr = self.parse_log_range()?;
        let Some((range_ms, offset_ms)) = lr.range else {
            return Err(self.unexpected("a range such as [5m]"));
        };
        self.expect(Tok::RParen, ")")?;
        self.leave(1);
        let grouping = self.parse_opt_grouping()?;
        let name = op.name();
        use RangeOp as R;
        match (op, &param) {
            (R::QuantileOverTime, None) => {
                return Err(self.invalid(at, format!("parameter required for operation {name}")));
            }
            (R::QuantileOverTime, Some(_)) | (_, None) => {}
            (_, Some(p)) => {
                let msg = format!("parameter {} not supported for operation {name}", p.text);
                return Err(self.invalid(p.pos, msg));
            }
        }
        let groupable = matches!(
            op,
            R::AvgOverTime
                | R::StddevOverTime
                | R::StdvarOverTime
                | R::QuantileOverTime
                | R::MaxOverTime
                | R::MinOverTime
                | R::FirstOverTime
                | R::LastOverTime
        );
        if grouping.is_some() && !groupable {
            return Err(self.invalid(at, format!("grouping not allowed for {name} aggregation")));
        }
        let with_unwrap = groupable
            || matches!(
                op,
                R::SumOverTime | R::Rate | R::RateCounter | R::AbsentOverTime
            );
        let without_unwrap = matches!(
            op,
            R::BytesOverTime | R::BytesRate | R::CountOverTime | R::Rate | R::AbsentOverTime
        );
        match &lr.unwrap {
            Some(_) if !with_unwrap => {
                return Err(self.invalid(at, format!("invalid aggregation {name} with unwrap")));
            }
            None if !without_unwrap => {
                let msg = format!(
                    "invalid aggregation {name} without unwrap (add `| unwrap <label>` before the range)"
                );
                return Err(self.invalid(at, msg));
            }
            _ => {}
        }
        Ok(MetricExpr::Range(RangeAgg {
            op,
            log: lr.log,
            range_ms,
            offset_ms,
            unwrap: lr.unwrap,
            param: param.map(|p| p.value),
            grouping,
        }))
    }

    /// `{...} pipeline [| unwrap ...] [5m] [offset 1h]` and the other orders Loki accepts:
    /// the range right after the selector, and parentheses around the log part or the whole.
    fn parse_log_range(&mut self) -> Result<LogRange, ParseError> {
        if self.eat(&Tok::LParen) {
            self.enter()?;
            let mut inner = self.parse_log_range()?;
            self.expect(Tok::RParen, ")")?;
            self.leave(1);
            if inner.range.is_none() {
                inner.range = self.parse_opt_range()?;
            }
            return Ok(inner);
        }
        if *self.peek() != Tok::LBrace {
            return Err(self.unexpected("a log selector {...}"));
        }
        let selector = self.parse_selector()?;
        let mut range = self.parse_opt_range()?;
        let (pipeline, unwrap) = self.parse_pipeline(true)?;
        if range.is_none() {
            range = self.parse_opt_range()?;
        }
        Ok(LogRange {
            log: LogExpr { selector, pipeline },
            unwrap,
            range,
        })
    }

    /// `[5m]` and an optional `offset 1h` / `offset -30m`, in milliseconds.
    fn parse_opt_range(&mut self) -> Result<Option<(i64, i64)>, ParseError> {
        let Tok::Range(range) = self.peek() else {
            return Ok(None);
        };
        let range = *range;
        self.bump();
        if !self.is_word(0, "offset") {
            return Ok(Some((range, 0)));
        }
        self.bump();
        let negative = self.eat(&Tok::Sub);
        let Tok::Duration(ns) = self.peek() else {
            return Err(self.unexpected("a duration such as 1h"));
        };
        let ms = i64::try_from(*ns / 1_000_000).unwrap_or(i64::MAX);
        self.bump();
        Ok(Some((range, if negative { -ms } else { ms })))
    }

    /// `op [grouping] ([param,] expr) [grouping]`, with Loki's checks.
    fn parse_vector_agg(&mut self, op: VectorOp) -> Result<MetricExpr, ParseError> {
        let at = self.bump().start;
        let before = self.parse_opt_grouping()?;
        self.expect(Tok::LParen, "(")?;
        self.enter()?;
        let param = self.parse_param();
        let inner = self.tok_at(0).start;
        let name = op.name();
        let expr = match self.parse_expr()? {
            Node::Metric(m) => m,
            Node::Log(_) if *self.peek() != Tok::RParen => return Err(self.unexpected(")")),
            Node::Log(_) => {
                let msg = format!(
                    "{name} needs a metric query, such as count_over_time({{...}}[5m]), not a log query"
                );
                return Err(self.invalid(inner, msg));
            }
        };
        self.expect(Tok::RParen, ")")?;
        self.leave(1);
        let after_pos = self.tok_at(0).start;
        let after = self.parse_opt_grouping()?;
        if before.is_some() && after.is_some() {
            return Err(self.invalid(after_pos, format!("{name} has two groupings; keep one")));
        }
        let grouping = before.or(after);
        match (op, &param) {
            (VectorOp::Topk | VectorOp::Bottomk, None) => {
                return Err(self.invalid(at, format!("parameter required for operation {name}")));
            }
            (VectorOp::Topk | VectorOp::Bottomk, Some(p)) => {
                let digits = p.text.trim_start_matches(['+', '-']);
                // Whole and exact as a float (Loki allows up to 2^63; no vector is that big).
                if !digits.bytes().all(|b| b.is_ascii_digit()) || p.value >= 9_007_199_254_740_992.0
                {
                    return Err(
                        self.invalid(p.pos, format!("invalid parameter {name}({},", p.text))
                    );
                }
                if p.value <= 0.0 {
                    let msg = format!(
                        "invalid parameter (must be greater than 0) {name}({},",
                        p.text
                    );
                    return Err(self.invalid(p.pos, msg));
                }
            }
            (_, Some(p)) => {
                let msg = format!("unsupported parameter for operation {name}({},", p.text);
                return Err(self.invalid(p.pos, msg));
            }
            (_, None) => {}
        }
        if matches!(op, VectorOp::Sort | VectorOp::SortDesc)
            && grouping.as_ref().is_some_and(|g| !g.labels.is_empty())
        {
            return Err(self.invalid(at, "sort and sort_desc doesn't allow grouping by labels"));
        }
        Ok(MetricExpr::Vector {
            op,
            param: param.map(|p| p.value),
            grouping,
            expr: Box::new(expr),
        })
    }

    /// `label_replace(expr, "dst", "replacement", "src", "regex")`.
    fn parse_label_replace(&mut self) -> Result<MetricExpr, ParseError> {
        self.bump();
        self.bump();
        self.enter()?;
        let inner = self.tok_at(0).start;
        let expr = match self.parse_expr()? {
            Node::Metric(m) => m,
            Node::Log(_) => {
                return Err(
                    self.invalid(inner, "label_replace needs a metric query, not a log query")
                );
            }
        };
        let mut strings = Vec::with_capacity(4);
        for _ in 0..4 {
            self.expect(Tok::Comma, ",")?;
            strings.push(self.expect_string("STRING")?);
        }
        self.expect(Tok::RParen, ")")?;
        self.leave(1);
        let mut strings = strings.into_iter();
        let mut next = || strings.next().unwrap_or_default();
        let (dst, replacement, src, (regex, regex_pos)) = (next().0, next().0, next().0, next());
        self.check_regex(&regex, regex_pos, "label_replace")?;
        Ok(MetricExpr::LabelReplace {
            expr: Box::new(expr),
            dst,
            replacement,
            src,
            regex,
        })
    }

    /// `by (a, b)` / `without (a)`, if there.
    fn parse_opt_grouping(&mut self) -> Result<Option<Grouping>, ParseError> {
        let without = self.is_word(0, "without");
        if !(without || self.is_word(0, "by")) {
            return Ok(None);
        }
        self.bump();
        Ok(Some(Grouping {
            without,
            labels: self.parse_label_list()?,
        }))
    }

    /// `(a, b)`, possibly `()`.
    fn parse_label_list(&mut self) -> Result<Vec<String>, ParseError> {
        self.expect(Tok::LParen, "(")?;
        let mut labels = Vec::new();
        if self.eat(&Tok::RParen) {
            return Ok(labels);
        }
        loop {
            labels.push(self.expect_ident("a label name")?);
            if !self.eat(&Tok::Comma) {
                self.expect(Tok::RParen, ", or )")?;
                return Ok(labels);
            }
        }
    }
}
