//! The LogQL syntax tree that [`super::parser::parse`] produces and the evaluator consumes, and
//! the names of its functions and operators. Its canonical printing is in `display.rs`, a
//! child module: `Display` on [`Expr`] (and on every node) prints LogQL that parses back to an
//! equal tree, with strings double-quoted (Go escapes), keywords in lower case, numbers in
//! their shortest exact form, and parentheses only where precedence needs them (the parser
//! drops the ones written in the query, see [`MetricExpr::Paren`]).

mod display;

/// A parsed LogQL query: a log query (returns lines) or a metric query (returns samples).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `{app="api"} |= "error" | json`.
    Log(LogExpr),
    /// `sum by (app) (rate({app="api"}[5m]))`, `vector(1)`, `1 + 1`, ...
    Metric(MetricExpr),
}

/// A stream selector and the pipeline applied to the lines of the selected streams.
#[derive(Debug, Clone, PartialEq)]
pub struct LogExpr {
    /// The `{...}` matchers; the parser guarantees at least one that does not match the empty
    /// string (see [`super::parser::check_selector`]).
    pub selector: Vec<Matcher>,
    /// The stages, in query order.
    pub pipeline: Vec<Stage>,
}

/// `name op "value"`, in a selector, a label filter or a `drop`/`keep` stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
    /// The unquoted value; for `=~`/`!~` a regular expression matched against the whole value
    /// (anchored at both ends, as in Prometheus).
    pub value: String,
}

/// The operator of a [`Matcher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `=~`
    Re,
    /// `!~`
    Nre,
}

/// One stage of a log pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// `|= "a"`, `!~ "b"`, `|= "a" or "b"`, `|= ip("10.0.0.0/8")`.
    LineFilter(LineFilter),
    /// `| json` (empty) or `| json a="x.y", b`: `(label, path)` pairs; a bare name `b` is
    /// `("b", "b")`.
    Json(Vec<(String, String)>),
    /// `| logfmt --strict --keep-empty a="k", b`: `(label, key)` pairs as for [`Stage::Json`].
    Logfmt {
        /// `--strict`: stop at the first malformed pair.
        strict: bool,
        /// `--keep-empty`: keep standalone keys as labels with an empty value.
        keep_empty: bool,
        /// The keys to extract; empty extracts every key.
        params: Vec<(String, String)>,
    },
    /// `| regexp "(?P<name>...)"`: the expression (it has at least one named capture).
    Regexp(String),
    /// `| pattern "<ip> - <_>"`: the pattern (it has at least one named capture).
    Pattern(String),
    /// `| unpack`.
    Unpack,
    /// `| status >= 400 and method="GET"`.
    LabelFilter(LabelFilter),
    /// `| line_format "{{.msg}}"`: the template source, unquoted.
    LineFormat(String),
    /// `| label_format a=b, c="{{.x}}"`.
    LabelFormat(Vec<LabelFormat>),
    /// `| drop a, b="x", c=~"y"`.
    Drop(Vec<NameOrMatcher>),
    /// `| keep a, b="x"`.
    Keep(Vec<NameOrMatcher>),
    /// `| decolorize`: strip ANSI color codes from the line.
    Decolorize,
}

/// A line filter: one operator and one or more values joined by `or`.
///
/// For the positive operators ([`LineOp::Contains`], [`LineOp::Match`], [`LineOp::Pattern`],
/// [`LineOp::Ip`]) a line passes if any value matches; for the negative ones it passes if no
/// value matches (Loki: `!= "a" or "b"` is `!= "a" != "b"`).
#[derive(Debug, Clone, PartialEq)]
pub struct LineFilter {
    /// The operator, shared by all values.
    pub op: LineOp,
    /// The unquoted values: literals, regular expressions (unanchored), line patterns, or
    /// IP patterns for [`LineOp::Ip`]/[`LineOp::NotIp`]. Never empty.
    pub values: Vec<String>,
}

/// The operator of a [`LineFilter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOp {
    /// `|=`: the line contains the value.
    Contains,
    /// `!=`: the line does not contain the value.
    NotContains,
    /// `|~`: the regular expression matches somewhere in the line.
    Match,
    /// `!~`: the regular expression matches nowhere in the line.
    NotMatch,
    /// `|>`: the line matches the pattern (`<_>` matches anything).
    Pattern,
    /// `!>`: the line does not match the pattern.
    NotPattern,
    /// `|= ip("...")`: the line contains an IP address matching the value (an address, a
    /// range `a-b` or a CIDR). Added to the planned AST.
    Ip,
    /// `!= ip("...")`: the line contains no such IP address. Added to the planned AST.
    NotIp,
}

/// A label filter predicate; `and` binds tighter than `or`.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelFilter {
    /// `a and b`, `a, b` or `a b`.
    And(Box<LabelFilter>, Box<LabelFilter>),
    /// `a or b`.
    Or(Box<LabelFilter>, Box<LabelFilter>),
    /// `name="x"`, `name!="x"`, `name=~"re"`, `name!~"re"`: string comparison.
    String(Matcher),
    /// `status >= 400`: the label value converted to a number.
    Number {
        /// The label name.
        name: String,
        /// The comparison (`=` and `==` are both [`CmpOp::Eq`]).
        op: CmpOp,
        /// The literal.
        value: f64,
    },
    /// `latency > 250ms`: the label value parsed as a Go duration (`1.5s`, `100ms`).
    Duration {
        /// The label name.
        name: String,
        /// The comparison.
        op: CmpOp,
        /// The literal in seconds (nanosecond precision).
        seconds: f64,
    },
    /// `size > 10KB`: the label value parsed as a byte size (`KB` = 1000, `KiB` = 1024).
    Bytes {
        /// The label name.
        name: String,
        /// The comparison.
        op: CmpOp,
        /// The literal in bytes (a whole number).
        bytes: f64,
    },
    /// `addr = ip("10.0.0.0/8")` (or `!=` when `negated`).
    Ip {
        /// The label name.
        name: String,
        /// `!=` instead of `=`.
        negated: bool,
        /// The IP pattern: an address, a range `a-b` or a CIDR.
        pattern: String,
    },
}

/// A numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==` or `=`.
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

/// One `dst=...` of a `label_format` stage.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelFormat {
    /// The label written.
    pub dst: String,
    /// Where its value comes from.
    pub src: LabelFormatSrc,
}

/// The right-hand side of a [`LabelFormat`].
#[derive(Debug, Clone, PartialEq)]
pub enum LabelFormatSrc {
    /// `dst=src`: rename label `src` to `dst`.
    Rename(String),
    /// `dst="{{.x}}"`: a template, unquoted.
    Template(String),
}

/// An item of a `drop`/`keep` stage.
#[derive(Debug, Clone, PartialEq)]
pub enum NameOrMatcher {
    /// `a`: the label, whatever its value.
    Name(String),
    /// `a="x"`: the label when its value matches.
    Matcher(Matcher),
}

/// A metric query.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricExpr {
    /// `count_over_time({...}[5m])`, `sum_over_time({...} | unwrap x [5m])`, ...
    Range(RangeAgg),
    /// `sum by (a) (expr)`, `topk(5, expr)`, ...
    Vector {
        /// The aggregation.
        op: VectorOp,
        /// The `k` of `topk`/`bottomk` (a whole number > 0); `None` for the others.
        param: Option<f64>,
        /// `by (...)`/`without (...)`, written before or after the arguments; `by ()` is kept
        /// as `Some` (it means the same as `None`).
        grouping: Option<Grouping>,
        /// The aggregated expression.
        expr: Box<MetricExpr>,
    },
    /// `lhs op rhs`.
    Binary {
        /// The operator.
        op: BinOp,
        /// The left operand.
        lhs: Box<MetricExpr>,
        /// The right operand.
        rhs: Box<MetricExpr>,
        /// The `bool` modifier (comparisons only).
        return_bool: bool,
        /// `on(...)`/`ignoring(...)` with an optional `group_left`/`group_right`.
        matching: Option<VectorMatching>,
    },
    /// A number literal, possibly negative (`-1`). Literals are not folded: `1 + 1` stays a
    /// [`MetricExpr::Binary`].
    Number(f64),
    /// `vector(1)`.
    VectorLit(f64),
    /// `label_replace(expr, "dst", "replacement", "src", "regex")`.
    LabelReplace {
        /// The input.
        expr: Box<MetricExpr>,
        /// The label written.
        dst: String,
        /// The replacement, with `$1`/`${name}` references.
        replacement: String,
        /// The label read.
        src: String,
        /// The regular expression, anchored at both ends.
        regex: String,
    },
    /// A parenthesized expression. The parser never produces it: parentheses are dropped once
    /// precedence is applied, and `Display` adds back the ones needed.
    Paren(Box<MetricExpr>),
}

/// A range aggregation over the lines (or unwrapped values) of a log query.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeAgg {
    /// The function.
    pub op: RangeOp,
    /// The log query, without the unwrap stage.
    pub log: LogExpr,
    /// The range, in milliseconds (`[5m]` is 300000).
    pub range_ms: i64,
    /// The `offset`, in milliseconds (0 when absent; may be negative).
    pub offset_ms: i64,
    /// `| unwrap ...`: required by the `*_over_time` functions on values, allowed for `rate`,
    /// `rate_counter` (required) and `absent_over_time`.
    pub unwrap: Option<Unwrap>,
    /// The quantile of `quantile_over_time` (required there, `None` elsewhere).
    pub param: Option<f64>,
    /// `by`/`without` after the call; only for `avg`, `min`, `max`, `stddev`, `stdvar`,
    /// `quantile`, `first` and `last` `_over_time`.
    pub grouping: Option<Grouping>,
}

/// The range aggregation functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOp {
    /// `count_over_time`
    CountOverTime,
    /// `rate`
    Rate,
    /// `rate_counter`
    RateCounter,
    /// `bytes_over_time`
    BytesOverTime,
    /// `bytes_rate`
    BytesRate,
    /// `absent_over_time`
    AbsentOverTime,
    /// `sum_over_time`
    SumOverTime,
    /// `avg_over_time`
    AvgOverTime,
    /// `min_over_time`
    MinOverTime,
    /// `max_over_time`
    MaxOverTime,
    /// `stddev_over_time`
    StddevOverTime,
    /// `stdvar_over_time`
    StdvarOverTime,
    /// `quantile_over_time`
    QuantileOverTime,
    /// `first_over_time`
    FirstOverTime,
    /// `last_over_time`
    LastOverTime,
}

/// `| unwrap [conv(]label[)]` and the label filters after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Unwrap {
    /// The label whose value becomes the sample.
    pub label: String,
    /// How the value is converted.
    pub conv: UnwrapConv,
    /// `| __error__=""` and other label filters after the unwrap, in order.
    pub post_filters: Vec<LabelFilter>,
}

/// The conversion of an unwrapped label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnwrapConv {
    /// `unwrap x`: a float.
    None,
    /// `unwrap bytes(x)`: a byte size such as `5KiB`.
    Bytes,
    /// `unwrap duration(x)`: a Go duration, as seconds.
    Duration,
    /// `unwrap duration_seconds(x)`: the same as [`UnwrapConv::Duration`].
    DurationSeconds,
}

/// The vector aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `count`
    Count,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `topk`
    Topk,
    /// `bottomk`
    Bottomk,
    /// `sort`
    Sort,
    /// `sort_desc`
    SortDesc,
}

/// `by (a, b)` or `without (a, b)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    /// `without` instead of `by`.
    pub without: bool,
    /// The label names, possibly none.
    pub labels: Vec<String>,
}

/// The binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
}

/// `on(...)`/`ignoring(...)` and `group_left(...)`/`group_right(...)` of a binary operation.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatching {
    /// `on` instead of `ignoring`.
    pub on: bool,
    /// The labels of `on`/`ignoring`.
    pub labels: Vec<String>,
    /// The cardinality (`group_left` is [`Card::ManyToOne`]).
    pub card: Card,
    /// The labels of `group_left(...)`/`group_right(...)`.
    pub include: Vec<String>,
}

/// The matching cardinality of a binary operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Card {
    /// No group modifier.
    OneToOne,
    /// `group_left`.
    ManyToOne,
    /// `group_right`.
    OneToMany,
}

impl RangeOp {
    const ALL: [(RangeOp, &'static str); 15] = [
        (RangeOp::CountOverTime, "count_over_time"),
        (RangeOp::Rate, "rate"),
        (RangeOp::RateCounter, "rate_counter"),
        (RangeOp::BytesOverTime, "bytes_over_time"),
        (RangeOp::BytesRate, "bytes_rate"),
        (RangeOp::AbsentOverTime, "absent_over_time"),
        (RangeOp::SumOverTime, "sum_over_time"),
        (RangeOp::AvgOverTime, "avg_over_time"),
        (RangeOp::MinOverTime, "min_over_time"),
        (RangeOp::MaxOverTime, "max_over_time"),
        (RangeOp::StddevOverTime, "stddev_over_time"),
        (RangeOp::StdvarOverTime, "stdvar_over_time"),
        (RangeOp::QuantileOverTime, "quantile_over_time"),
        (RangeOp::FirstOverTime, "first_over_time"),
        (RangeOp::LastOverTime, "last_over_time"),
    ];

    /// The function's LogQL name, such as `count_over_time`.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(op, _)| *op == self)
            .map_or("", |(_, n)| n)
    }

    /// The function named `name` (ASCII case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(op, _)| *op)
    }
}

impl VectorOp {
    const ALL: [(VectorOp, &'static str); 11] = [
        (VectorOp::Sum, "sum"),
        (VectorOp::Avg, "avg"),
        (VectorOp::Min, "min"),
        (VectorOp::Max, "max"),
        (VectorOp::Count, "count"),
        (VectorOp::Stddev, "stddev"),
        (VectorOp::Stdvar, "stdvar"),
        (VectorOp::Topk, "topk"),
        (VectorOp::Bottomk, "bottomk"),
        (VectorOp::Sort, "sort"),
        (VectorOp::SortDesc, "sort_desc"),
    ];

    /// The operator's LogQL name, such as `sum`.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(op, _)| *op == self)
            .map_or("", |(_, n)| n)
    }

    /// The operator named `name` (ASCII case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(op, _)| *op)
    }
}

impl BinOp {
    /// The operator as written: `+`, `==`, `and`, ...
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Unless => "unless",
        }
    }

    /// Binding strength, as in Prometheus: `or` 1, `and`/`unless` 2, comparisons 3, `+ -` 4,
    /// `* / %` 5, `^` 6 (the only right-associative one).
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And | BinOp::Unless => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 5,
            BinOp::Pow => 6,
        }
    }

    /// `==`, `!=`, `>`, `>=`, `<`, `<=`.
    pub fn is_comparison(self) -> bool {
        self.precedence() == 3
    }

    /// `and`, `or`, `unless`.
    pub fn is_set_op(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
}

/// Nanoseconds to the seconds stored in [`LabelFilter::Duration`].
pub(crate) fn nanos_to_seconds(ns: i128) -> f64 {
    ns as f64 / 1e9
}
