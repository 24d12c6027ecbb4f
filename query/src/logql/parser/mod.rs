//! The LogQL parser: [`parse`] turns query text into an [`Expr`], or a [`ParseError`] (defined
//! in `error.rs`) with the position and a Loki-like message. This file owns the entry points,
//! the token cursor, and the log side of the grammar: stream selectors ([`check_selector`]),
//! pipeline stages, line filters, label filters and `unwrap`. Two child modules hold the rest: the
//! metric side (binary operators, aggregations, log ranges) in `metric.rs`, and the
//! checks of regexps and patterns in `check.rs`.
//!
//! A hand-written recursive-descent parser. Keywords are recognised by position, so a label
//! may be called `json` or `by`; everything else follows Loki's `syntax.y`. Nesting is limited
//! (see [`MAX_DEPTH`]) so that no input can exhaust the stack, here or in the evaluator.

use super::ast::{
    CmpOp, Expr, LabelFilter, LabelFormat, LabelFormatSrc, LineFilter, LineOp, LogExpr, MatchOp,
    Matcher, MetricExpr, NameOrMatcher, Stage, Unwrap, UnwrapConv, nanos_to_seconds,
};
use super::lexer::{self, Tok, Token};

pub use super::error::ParseError;

mod check;
mod metric;

use check::{RegexInfo, analyze_regex, check_pattern};

#[cfg(test)]
mod tests;

/// Queries longer than this many bytes are refused (Loki's limit, 128 KiB).
pub const MAX_QUERY_BYTES: usize = 128 * 1024;

/// How deeply expressions may nest: parentheses, function calls and each operator of a chain
/// (`a + b + c` is two deep) all count.
pub const MAX_DEPTH: usize = 100;

/// Loki's message for a selector that every stream would match.
const NO_SELECTIVE_MATCHER: &str = "queries require at least one regexp or equality matcher that \
    does not have an empty-compatible value. For instance, app=~\".*\" does not meet this \
    requirement, but app=~\".+\" will";

/// Parses a LogQL query (a log query or a metric query).
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    if input.len() > MAX_QUERY_BYTES {
        let msg = format!("input size too long ({} > {MAX_QUERY_BYTES})", input.len());
        return Err(ParseError::invalid(input, 0, msg));
    }
    let toks = lexer::tokenize(input)?;
    let eof = Token {
        kind: Tok::Eof,
        start: input.len(),
        end: input.len(),
    };
    let mut p = Parser {
        src: input,
        toks,
        i: 0,
        depth: 0,
        eof,
    };
    let node = p.parse_expr()?;
    match (p.peek(), node) {
        (Tok::Eof, Node::Log(e)) => Ok(Expr::Log(e)),
        (Tok::Eof, Node::Metric(e)) => Ok(Expr::Metric(e)),
        (Tok::Range(_), _) => Err(p.unexpected(
            "end of input (a range is only allowed inside a range aggregation such as \
             count_over_time({...}[5m]))",
        )),
        _ => Err(p.unexpected("")),
    }
}

/// Checks that a stream selector selects: at least one matcher must not match the empty string
/// (`{}`, `{a=""}`, `{a!="x"}` and `{a=~".*"}` would touch every stream; Loki refuses them),
/// and every regular expression must be well-formed. [`parse`] applies it to each selector.
pub fn check_selector(matchers: &[Matcher]) -> Result<(), ParseError> {
    check_selector_at("", 0, matchers)
}

fn check_selector_at(src: &str, pos: usize, matchers: &[Matcher]) -> Result<(), ParseError> {
    let mut selective = false;
    for m in matchers {
        let matches_empty = match m.op {
            MatchOp::Eq => m.value.is_empty(),
            MatchOp::Ne => !m.value.is_empty(),
            MatchOp::Re | MatchOp::Nre => {
                let info = analyze_regex(&m.value).map_err(|e| {
                    ParseError::invalid(
                        src,
                        pos,
                        format!("invalid regexp in matcher {}: {e}", m.name),
                    )
                })?;
                (m.op == MatchOp::Re) == info.nullable
            }
        };
        selective |= !matches_empty;
    }
    if selective {
        Ok(())
    } else {
        Err(ParseError::invalid(src, pos, NO_SELECTIVE_MATCHER))
    }
}

/// What a (sub)expression turned out to be before it is known where it may appear.
enum Node {
    Log(LogExpr),
    Metric(MetricExpr),
}

/// The token cursor and the log side of the grammar.
struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
    depth: usize,
    eof: Token,
}

/// `= == != =~ !~ > >= < <=`: what may follow a label name in a label filter.
fn is_cmp_op(t: &Tok) -> bool {
    matches!(
        t,
        Tok::Eq | Tok::EqEq | Tok::Ne | Tok::Re | Tok::Nre | Tok::Gt | Tok::Ge | Tok::Lt | Tok::Le
    )
}

/// Words that start a pipeline stage other than a label filter.
fn is_stage_keyword(w: &str) -> bool {
    const KEYWORDS: [&str; 11] = [
        "json",
        "logfmt",
        "regexp",
        "pattern",
        "unpack",
        "line_format",
        "label_format",
        "decolorize",
        "drop",
        "keep",
        "unwrap",
    ];
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(w))
}

/// Stages that may end right after their keyword, so that `| json != "x"` is the `json` stage
/// followed by a line filter (as in Loki), not a label filter on a label `json`; `Display`
/// puts such a label filter in parentheses.
pub(crate) fn is_bare_stage_keyword(w: &str) -> bool {
    ["json", "logfmt", "unpack", "decolorize"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(w))
}

impl<'a> Parser<'a> {
    fn tok_at(&self, k: usize) -> &Token {
        self.toks.get(self.i + k).unwrap_or(&self.eof)
    }

    fn peek(&self) -> &Tok {
        &self.tok_at(0).kind
    }

    fn peek_at(&self, k: usize) -> &Tok {
        &self.tok_at(k).kind
    }

    fn bump(&mut self) -> Token {
        let t = self.tok_at(0).clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn eat(&mut self, t: &Tok) -> bool {
        let hit = self.peek() == t;
        if hit {
            self.bump();
        }
        hit
    }

    fn text(&self, t: &Token) -> &'a str {
        self.src.get(t.start..t.end).unwrap_or("")
    }

    /// The word at `k` tokens ahead, if that token is a word.
    fn word_at(&self, k: usize) -> Option<&'a str> {
        let t = self.tok_at(k);
        (t.kind == Tok::Ident).then(|| self.text(t))
    }

    fn is_word(&self, k: usize, w: &str) -> bool {
        self.word_at(k).is_some_and(|s| s.eq_ignore_ascii_case(w))
    }

    fn expect(&mut self, t: Tok, expecting: &str) -> Result<Token, ParseError> {
        if *self.peek() == t {
            Ok(self.bump())
        } else {
            Err(self.unexpected(expecting))
        }
    }

    fn expect_ident(&mut self, expecting: &str) -> Result<String, ParseError> {
        let t = self.expect(Tok::Ident, expecting)?;
        Ok(self.text(&t).to_string())
    }

    /// A string literal's value and position.
    fn expect_string(&mut self, expecting: &str) -> Result<(String, usize), ParseError> {
        match self.peek() {
            Tok::Str(_) => match self.bump() {
                Token {
                    kind: Tok::Str(s),
                    start,
                    ..
                } => Ok((s, start)),
                _ => Err(self.unexpected(expecting)),
            },
            _ => Err(self.unexpected(expecting)),
        }
    }

    /// A syntax error at the current token: `unexpected X[, expecting Y]`.
    fn unexpected(&self, expecting: &str) -> ParseError {
        let t = self.tok_at(0);
        let mut msg = format!("unexpected {}", t.kind.describe());
        if t.kind == Tok::Ident {
            msg.push_str(&format!(" {:?}", self.text(t)));
            let glued = self.i.checked_sub(1).and_then(|j| self.toks.get(j));
            if let Some(prev) =
                glued.filter(|p| p.end == t.start && matches!(p.kind, Tok::Number(_)))
            {
                let literal = self.src.get(prev.start..t.end).unwrap_or("");
                msg.push_str(&format!(
                    " ({literal:?} is not a valid duration or byte size)"
                ));
            }
        }
        if !expecting.is_empty() {
            msg.push_str(", expecting ");
            msg.push_str(expecting);
        }
        ParseError::syntax(self.src, t.start, msg)
    }

    fn invalid(&self, pos: usize, msg: impl Into<String>) -> ParseError {
        ParseError::invalid(self.src, pos, msg)
    }

    /// One level deeper; fails past [`MAX_DEPTH`].
    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let msg = format!("expression nested too deeply (more than {MAX_DEPTH} levels)");
            return Err(self.invalid(self.tok_at(0).start, msg));
        }
        Ok(())
    }

    fn leave(&mut self, levels: usize) {
        self.depth = self.depth.saturating_sub(levels);
    }

    /// A label filter starts `k` tokens ahead: `(` or a word followed by a comparison.
    fn at_label_filter_start(&self, k: usize) -> bool {
        *self.peek_at(k) == Tok::LParen
            || (*self.peek_at(k) == Tok::Ident && is_cmp_op(self.peek_at(k + 1)))
    }

    fn check_regex(&self, re: &str, pos: usize, what: &str) -> Result<RegexInfo, ParseError> {
        analyze_regex(re).map_err(|e| self.invalid(pos, format!("invalid regexp in {what}: {e}")))
    }

    /// `{a="b", c=~"d"}`, checked with [`check_selector`].
    fn parse_selector(&mut self) -> Result<Vec<Matcher>, ParseError> {
        let open = self.expect(Tok::LBrace, "{")?;
        let mut matchers = Vec::new();
        if !self.eat(&Tok::RBrace) {
            loop {
                matchers.push(self.parse_matcher("matcher")?);
                if !self.eat(&Tok::Comma) {
                    self.expect(Tok::RBrace, "} or ,")?;
                    break;
                }
            }
        }
        check_selector_at(self.src, open.start, &matchers)?;
        Ok(matchers)
    }

    /// `name op "value"`; `what` names the context in regexp errors.
    fn parse_matcher(&mut self, what: &str) -> Result<Matcher, ParseError> {
        let name = self.expect_ident("a label name")?;
        let op = match self.peek() {
            Tok::Eq => MatchOp::Eq,
            Tok::Ne => MatchOp::Ne,
            Tok::Re => MatchOp::Re,
            Tok::Nre => MatchOp::Nre,
            _ => return Err(self.unexpected("=, !=, =~ or !~")),
        };
        self.bump();
        let (value, pos) = self.expect_string("STRING")?;
        if matches!(op, MatchOp::Re | MatchOp::Nre) {
            self.check_regex(&value, pos, what)?;
        }
        Ok(Matcher { name, op, value })
    }

    /// A selector and its pipeline: a log query.
    fn parse_log_expr(&mut self) -> Result<LogExpr, ParseError> {
        let selector = self.parse_selector()?;
        let (pipeline, _) = self.parse_pipeline(false)?;
        Ok(LogExpr { selector, pipeline })
    }

    /// Stages up to the end of the pipeline, or up to `| unwrap` (parsed and returned when
    /// `allow_unwrap`, an error otherwise).
    fn parse_pipeline(
        &mut self,
        allow_unwrap: bool,
    ) -> Result<(Vec<Stage>, Option<Unwrap>), ParseError> {
        let mut stages = Vec::new();
        loop {
            match self.peek() {
                Tok::PipeExact
                | Tok::Ne
                | Tok::PipeMatch
                | Tok::Nre
                | Tok::PipePattern
                | Tok::NotPattern => {
                    stages.push(Stage::LineFilter(self.parse_line_filter()?));
                }
                Tok::Pipe if self.is_word(1, "unwrap") && !is_cmp_op(self.peek_at(2)) => {
                    if !allow_unwrap {
                        return Err(self.invalid(
                            self.tok_at(1).start,
                            "unwrap is only allowed inside a range aggregation, such as \
                             sum_over_time({...} | unwrap x [5m])",
                        ));
                    }
                    return Ok((stages, Some(self.parse_unwrap()?)));
                }
                Tok::Pipe => {
                    self.bump();
                    stages.push(self.parse_stage()?);
                }
                _ => return Ok((stages, None)),
            }
        }
    }

    /// `|= "a" or "b"`, `!= ip("10.0.0.0/8")`, ...
    fn parse_line_filter(&mut self) -> Result<LineFilter, ParseError> {
        let op_tok = self.bump();
        let mut op = match op_tok.kind {
            Tok::PipeExact => LineOp::Contains,
            Tok::Ne => LineOp::NotContains,
            Tok::PipeMatch => LineOp::Match,
            Tok::Nre => LineOp::NotMatch,
            Tok::PipePattern => LineOp::Pattern,
            _ => LineOp::NotPattern,
        };
        let mut values = Vec::new();
        let mut ips = 0;
        loop {
            if self.is_word(0, "ip") && *self.peek_at(1) == Tok::LParen {
                self.bump();
                self.bump();
                values.push(self.expect_string("STRING")?.0);
                self.expect(Tok::RParen, ")")?;
                ips += 1;
            } else {
                let (value, pos) = self.expect_string("STRING or ip")?;
                match op {
                    LineOp::Match | LineOp::NotMatch => {
                        self.check_regex(&value, pos, "line filter")?;
                    }
                    LineOp::Pattern | LineOp::NotPattern => {
                        check_pattern(&value, true).map_err(|e| {
                            self.invalid(pos, format!("invalid line filter pattern: {e}"))
                        })?
                    }
                    _ => {}
                }
                values.push(value);
            }
            if !self.is_word(0, "or") {
                break;
            }
            self.bump();
        }
        if ips > 0 {
            if ips != values.len() {
                let msg = "a line filter cannot mix ip(...) and plain strings in one `or` chain";
                return Err(self.invalid(op_tok.start, msg));
            }
            op = match op {
                LineOp::Contains => LineOp::Ip,
                LineOp::NotContains => LineOp::NotIp,
                _ => {
                    return Err(
                        self.invalid(op_tok.start, "ip(...) line filters only support |= and !=")
                    );
                }
            };
        }
        Ok(LineFilter { op, values })
    }

    /// The stage after a `|` (not `unwrap`).
    fn parse_stage(&mut self) -> Result<Stage, ParseError> {
        let line_filter_follows = matches!(self.peek_at(1), Tok::Ne | Tok::Nre)
            && self.word_at(0).is_some_and(is_bare_stage_keyword);
        if self.at_label_filter_start(0) && !line_filter_follows {
            return Ok(Stage::LabelFilter(self.parse_label_filter()?));
        }
        let Some(word) = self.word_at(0) else {
            return Err(self.unexpected("a parser, a formatter or a label filter"));
        };
        let keyword = word.to_ascii_lowercase();
        if !is_stage_keyword(&keyword) {
            return Ok(Stage::LabelFilter(self.parse_label_filter()?));
        }
        self.bump();
        Ok(match keyword.as_str() {
            "json" => Stage::Json(self.parse_extraction_params()?),
            "logfmt" => {
                let (mut strict, mut keep_empty) = (false, false);
                loop {
                    match self.peek() {
                        Tok::FlagStrict => strict = true,
                        Tok::FlagKeepEmpty => keep_empty = true,
                        _ => break,
                    }
                    self.bump();
                }
                Stage::Logfmt {
                    strict,
                    keep_empty,
                    params: self.parse_extraction_params()?,
                }
            }
            "regexp" => {
                let (re, pos) = self.expect_string("STRING")?;
                let info = self.check_regex(&re, pos, "regexp parser")?;
                if info.names.is_empty() {
                    let msg = "invalid regexp parser: at least one named capture must be supplied";
                    return Err(self.invalid(pos, msg));
                }
                Stage::Regexp(re)
            }
            "pattern" => {
                let (pattern, pos) = self.expect_string("STRING")?;
                check_pattern(&pattern, false)
                    .map_err(|e| self.invalid(pos, format!("invalid pattern parser: {e}")))?;
                Stage::Pattern(pattern)
            }
            "unpack" => Stage::Unpack,
            "decolorize" => Stage::Decolorize,
            "line_format" => Stage::LineFormat(self.expect_string("STRING")?.0),
            "label_format" => Stage::LabelFormat(self.parse_label_formats()?),
            "drop" => Stage::Drop(self.parse_named_matchers()?),
            "keep" => Stage::Keep(self.parse_named_matchers()?),
            // `unwrap` (handled by `parse_pipeline`) cannot reach here.
            _ => return Err(self.unexpected("a parser, a formatter or a label filter")),
        })
    }

    /// `a="x.y", b` after `json`/`logfmt` (possibly nothing).
    fn parse_extraction_params(&mut self) -> Result<Vec<(String, String)>, ParseError> {
        let mut params = Vec::new();
        if *self.peek() != Tok::Ident {
            return Ok(params);
        }
        loop {
            let label = self.expect_ident("a label name")?;
            let path = if self.eat(&Tok::Eq) {
                self.expect_string("STRING")?.0
            } else {
                label.clone()
            };
            params.push((label, path));
            if !self.eat(&Tok::Comma) {
                return Ok(params);
            }
        }
    }

    /// `a=b, c="{{.x}}"` after `label_format`.
    fn parse_label_formats(&mut self) -> Result<Vec<LabelFormat>, ParseError> {
        let mut formats = Vec::new();
        loop {
            let at = self.tok_at(0).start;
            let dst = self.expect_ident("a label name")?;
            if dst == "__error__" {
                return Err(self.invalid(at, "__error__ cannot be formatted"));
            }
            if formats.iter().any(|f: &LabelFormat| f.dst == dst) {
                let msg =
                    format!("multiple label name '{dst}' not allowed in a single format operation");
                return Err(self.invalid(at, msg));
            }
            self.expect(Tok::Eq, "=")?;
            let src = match self.peek() {
                Tok::Str(_) => LabelFormatSrc::Template(self.expect_string("STRING")?.0),
                Tok::Ident => LabelFormatSrc::Rename(self.expect_ident("a label name")?),
                _ => return Err(self.unexpected("a label name or a template string")),
            };
            formats.push(LabelFormat { dst, src });
            if !self.eat(&Tok::Comma) {
                return Ok(formats);
            }
        }
    }

    /// `a, b="x", c=~"y"` after `drop`/`keep`.
    fn parse_named_matchers(&mut self) -> Result<Vec<NameOrMatcher>, ParseError> {
        let mut items = Vec::new();
        loop {
            if matches!(self.peek_at(1), Tok::Eq | Tok::Ne | Tok::Re | Tok::Nre) {
                items.push(NameOrMatcher::Matcher(
                    self.parse_matcher("drop/keep matcher")?,
                ));
            } else {
                items.push(NameOrMatcher::Name(self.expect_ident("a label name")?));
            }
            if !self.eat(&Tok::Comma) {
                return Ok(items);
            }
        }
    }

    /// `a or b`, where `a` and `b` are `and` chains.
    fn parse_label_filter(&mut self) -> Result<LabelFilter, ParseError> {
        self.enter()?;
        let mut levels = 1;
        let mut lhs = self.parse_label_filter_and()?;
        while self.is_word(0, "or") && !is_cmp_op(self.peek_at(1)) {
            self.bump();
            let rhs = self.parse_label_filter_and()?;
            self.enter()?;
            levels += 1;
            lhs = LabelFilter::Or(Box::new(lhs), Box::new(rhs));
        }
        self.leave(levels);
        Ok(lhs)
    }

    /// `a and b`, `a, b` or `a b`.
    fn parse_label_filter_and(&mut self) -> Result<LabelFilter, ParseError> {
        let mut levels = 0;
        let mut lhs = self.parse_label_filter_primary()?;
        loop {
            if (self.is_word(0, "and") && !is_cmp_op(self.peek_at(1))) || *self.peek() == Tok::Comma
            {
                self.bump();
            } else if !self.at_label_filter_start(0) {
                break;
            }
            let rhs = self.parse_label_filter_primary()?;
            self.enter()?;
            levels += 1;
            lhs = LabelFilter::And(Box::new(lhs), Box::new(rhs));
        }
        self.leave(levels);
        Ok(lhs)
    }

    /// `(filter)` or one predicate.
    fn parse_label_filter_primary(&mut self) -> Result<LabelFilter, ParseError> {
        if self.eat(&Tok::LParen) {
            let f = self.parse_label_filter()?;
            self.expect(Tok::RParen, ")")?;
            return Ok(f);
        }
        if !(*self.peek() == Tok::Ident && is_cmp_op(self.peek_at(1))) {
            if *self.peek() == Tok::Ident {
                self.bump();
                return Err(self.unexpected("a comparison operator (= != =~ !~ == > >= < <=)"));
            }
            return Err(self.unexpected("a label filter"));
        }
        let ip = self.is_word(2, "ip") && *self.peek_at(3) == Tok::LParen;
        let string = matches!(self.peek_at(2), Tok::Str(_));
        let cmp = match self.peek_at(1) {
            Tok::Eq | Tok::EqEq => CmpOp::Eq,
            Tok::Ne => CmpOp::Ne,
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            // `=~`/`!~` take a string.
            _ => return Ok(LabelFilter::String(self.parse_matcher("label filter")?)),
        };
        let single_eq = matches!(self.peek_at(1), Tok::Eq | Tok::Ne);
        if single_eq && string {
            return Ok(LabelFilter::String(self.parse_matcher("label filter")?));
        }
        let name = self.expect_ident("a label name")?;
        self.bump();
        if single_eq && ip {
            self.bump();
            self.bump();
            let (pattern, _) = self.expect_string("STRING")?;
            self.expect(Tok::RParen, ")")?;
            return Ok(LabelFilter::Ip {
                name,
                negated: cmp == CmpOp::Ne,
                pattern,
            });
        }
        let negative = match self.peek() {
            Tok::Sub => true,
            Tok::Add => false,
            _ => return self.parse_label_filter_value(name, cmp, false),
        };
        self.bump();
        self.parse_label_filter_value(name, cmp, negative)
    }

    /// The number, duration or byte size after `name op`.
    fn parse_label_filter_value(
        &mut self,
        name: String,
        op: CmpOp,
        negative: bool,
    ) -> Result<LabelFilter, ParseError> {
        let t = self.tok_at(0).clone();
        let filter = match t.kind {
            Tok::Number(v) => LabelFilter::Number {
                name,
                op,
                value: if negative { -v } else { v },
            },
            Tok::Duration(ns) => {
                let ns = if negative { -ns } else { ns };
                LabelFilter::Duration {
                    name,
                    op,
                    seconds: nanos_to_seconds(ns),
                }
            }
            Tok::Bytes(_) if negative => {
                return Err(self.invalid(t.start, "a byte size cannot be negative"));
            }
            Tok::Bytes(bytes) => LabelFilter::Bytes { name, op, bytes },
            _ => return Err(self.unexpected("NUMBER, DURATION or BYTES")),
        };
        self.bump();
        Ok(filter)
    }

    /// `| unwrap [conv(]label[)]` and the `| label filter`s after it.
    fn parse_unwrap(&mut self) -> Result<Unwrap, ParseError> {
        self.bump();
        self.bump();
        let conv = match self.word_at(0).map(str::to_ascii_lowercase).as_deref() {
            Some("bytes") => UnwrapConv::Bytes,
            Some("duration") => UnwrapConv::Duration,
            Some("duration_seconds") => UnwrapConv::DurationSeconds,
            _ => UnwrapConv::None,
        };
        let (label, conv) = if conv != UnwrapConv::None && *self.peek_at(1) == Tok::LParen {
            self.bump();
            self.bump();
            let label = self.expect_ident("a label name")?;
            self.expect(Tok::RParen, ")")?;
            (label, conv)
        } else {
            (self.expect_ident("a label name")?, UnwrapConv::None)
        };
        let mut post_filters = Vec::new();
        while *self.peek() == Tok::Pipe {
            if !self.at_label_filter_start(1) && self.word_at(1).is_none_or(is_stage_keyword) {
                let msg = "only label filters are allowed after | unwrap";
                return Err(self.invalid(self.tok_at(1).start, msg));
            }
            self.bump();
            post_filters.push(self.parse_label_filter()?);
        }
        Ok(Unwrap {
            label,
            conv,
            post_filters,
        })
    }
}
