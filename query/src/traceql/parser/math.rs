//! Arithmetic between metrics queries: `(q1) op (q2)`, `*` and `/` before `+` and `-`,
//! left to right, each operand a metrics query in parentheses or arithmetic in
//! parentheses (Tempo's metrics math).

use super::super::ast::{BinOp, MetricsMath, Pipeline, Query};
use super::super::error::ParseError;
use super::super::lexer::Tok;
use super::Parser;

impl Parser<'_> {
    /// Metrics queries joined by `+` and `-` (after `*` and `/`), left to right.
    pub(super) fn math_sum(&mut self) -> Result<Query, ParseError> {
        let mut lhs = self.math_product()?;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => return Ok(lhs),
            };
            lhs = self.math_rhs(op, lhs, Self::math_product)?;
        }
    }

    fn math_product(&mut self) -> Result<Query, ParseError> {
        let mut lhs = self.math_atom()?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                Tok::Op(o @ ("%" | "^")) => {
                    let e = self.err(format!("unsupported math operation between queries: {o}"));
                    self.math_ops_seen += 1;
                    return Err(e);
                }
                _ => return Ok(lhs),
            };
            lhs = self.math_rhs(op, lhs, Self::math_atom)?;
        }
    }

    fn math_rhs(
        &mut self,
        op: BinOp,
        lhs: Query,
        operand: fn(&mut Self) -> Result<Query, ParseError>,
    ) -> Result<Query, ParseError> {
        self.next();
        self.math_ops_seen += 1;
        let rhs = operand(self)?;
        Ok(Query {
            pipeline: Pipeline { stages: Vec::new() },
            metrics: None,
            math: Some(Box::new(MetricsMath { op, lhs, rhs })),
        })
    }

    /// `( metrics query )`, or arithmetic in parentheses.
    fn math_atom(&mut self) -> Result<Query, ParseError> {
        self.expect(&Tok::LParen, "`(` and a metrics query")?;
        let start = self.pos;
        match self.pipeline(true) {
            Ok((pipeline, Some(metrics))) if *self.peek() == Tok::RParen => {
                self.next();
                return Ok(Query {
                    pipeline,
                    metrics: Some(metrics),
                    math: None,
                });
            }
            Ok((_, None)) if *self.peek() == Tok::RParen => {
                return Err(ParseError::at(
                    self.text,
                    self.toks[start].at,
                    "arithmetic is between metrics queries: `({ } | rate()) / ({ } | rate())`",
                ));
            }
            _ => {}
        }
        self.pos = start;
        let q = self.math_sum()?;
        self.expect(&Tok::RParen, "`)`")?;
        Ok(q)
    }
}
