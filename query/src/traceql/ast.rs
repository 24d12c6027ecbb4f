//! The parsed form of a TraceQL query: a pipeline of spanset expressions and stages, and
//! optionally a metrics function at its end (`docs/traceql.md`).

use std::fmt;

/// A span status, as TraceQL names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// `unset` (OTLP 0).
    Unset,
    /// `ok` (OTLP 1).
    Ok,
    /// `error` (OTLP 2).
    Error,
}

impl Status {
    /// The status of OTLP status code `code` (unknown codes read as unset).
    pub fn from_code(code: i32) -> Self {
        match code {
            1 => Self::Ok,
            2 => Self::Error,
            _ => Self::Unset,
        }
    }

    /// The OTLP status code.
    pub fn code(self) -> i32 {
        match self {
            Self::Unset => 0,
            Self::Ok => 1,
            Self::Error => 2,
        }
    }

    /// The TraceQL keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unset => "unset",
            Self::Ok => "ok",
            Self::Error => "error",
        }
    }
}

/// A span kind, as TraceQL names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `unspecified` (OTLP 0).
    Unspecified,
    /// `internal` (OTLP 1).
    Internal,
    /// `server` (OTLP 2).
    Server,
    /// `client` (OTLP 3).
    Client,
    /// `producer` (OTLP 4).
    Producer,
    /// `consumer` (OTLP 5).
    Consumer,
}

impl Kind {
    /// The kind of OTLP kind number `n` (unknown numbers read as unspecified).
    pub fn from_code(n: i32) -> Self {
        match n {
            1 => Self::Internal,
            2 => Self::Server,
            3 => Self::Client,
            4 => Self::Producer,
            5 => Self::Consumer,
            _ => Self::Unspecified,
        }
    }

    /// The OTLP kind number.
    pub fn code(self) -> i32 {
        match self {
            Self::Unspecified => 0,
            Self::Internal => 1,
            Self::Server => 2,
            Self::Client => 3,
            Self::Producer => 4,
            Self::Consumer => 5,
        }
    }

    /// The TraceQL keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Internal => "internal",
            Self::Server => "server",
            Self::Client => "client",
            Self::Producer => "producer",
            Self::Consumer => "consumer",
        }
    }
}

/// A TraceQL value: a literal of a query, an attribute or intrinsic of a span, or an
/// aggregate's result.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    Str(String),
    /// A 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A duration in nanoseconds.
    Duration(i64),
    /// A span status.
    Status(Status),
    /// A span kind.
    Kind(Kind),
    /// No value: a missing attribute, or the literal `nil`.
    Nil,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => write!(f, "{s:?}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Duration(ns) => write!(f, "{ns}ns"),
            Self::Status(s) => f.write_str(s.as_str()),
            Self::Kind(k) => f.write_str(k.as_str()),
            Self::Nil => f.write_str("nil"),
        }
    }
}

/// Where an attribute is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `span.`: the span's attributes.
    Span,
    /// `resource.`: the resource's attributes.
    Resource,
    /// `.`: the span's, else the resource's.
    Any,
    /// `event.`: an attribute of any of the span's events (a condition holds if it holds
    /// for one event).
    Event,
    /// `link.`: an attribute of any of the span's links (likewise).
    Link,
    /// `instrumentation.`: an attribute of the span's instrumentation scope.
    Instrumentation,
    /// `parent.span.`: the parent span's attributes.
    ParentSpan,
    /// `parent.resource.`: the parent span's resource's attributes.
    ParentResource,
    /// `parent.`: the parent span's, else its resource's.
    ParentAny,
}

impl Scope {
    /// The scope's prefix as written (`span.`, `parent.resource.`, `.`).
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Span => "span.",
            Self::Resource => "resource.",
            Self::Any => ".",
            Self::Event => "event.",
            Self::Link => "link.",
            Self::Instrumentation => "instrumentation.",
            Self::ParentSpan => "parent.span.",
            Self::ParentResource => "parent.resource.",
            Self::ParentAny => "parent.",
        }
    }
}

/// A built-in field of a span or of its trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Intrinsic {
    /// `name`, `span:name`.
    Name,
    /// `status`, `span:status`.
    Status,
    /// `statusMessage`, `span:statusMessage`.
    StatusMessage,
    /// `kind`, `span:kind`.
    Kind,
    /// `duration`, `span:duration`.
    Duration,
    /// `span:id`: the span id in hex.
    SpanId,
    /// `span:parentID`: the parent span id in hex.
    ParentId,
    /// `span:childCount`.
    ChildCount,
    /// `rootServiceName`, `trace:rootService`.
    RootServiceName,
    /// `rootName`, `trace:rootName`.
    RootName,
    /// `traceDuration`, `trace:duration`.
    TraceDuration,
    /// `trace:id`: the trace id in hex.
    TraceId,
    /// `instrumentation:name`.
    ScopeName,
    /// `instrumentation:version`.
    ScopeVersion,
    /// `event:name`: the name of any of the span's events.
    EventName,
    /// `event:timeSinceStart`: how long after the span's start an event happened.
    EventTimeSinceStart,
    /// `link:traceID`: the trace id (hex) of any of the span's links.
    LinkTraceId,
    /// `link:spanID`: the span id (hex) of any of the span's links.
    LinkSpanId,
}

impl Intrinsic {
    /// The name Tempo gives the field in search results and `by()` labels.
    pub fn name(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Status => "status",
            Self::StatusMessage => "statusMessage",
            Self::Kind => "kind",
            Self::Duration => "duration",
            Self::SpanId => "span:id",
            Self::ParentId => "span:parentID",
            Self::ChildCount => "span:childCount",
            Self::RootServiceName => "rootServiceName",
            Self::RootName => "rootName",
            Self::TraceDuration => "traceDuration",
            Self::TraceId => "trace:id",
            Self::ScopeName => "instrumentation:name",
            Self::ScopeVersion => "instrumentation:version",
            Self::EventName => "event:name",
            Self::EventTimeSinceStart => "event:timeSinceStart",
            Self::LinkTraceId => "link:traceID",
            Self::LinkSpanId => "link:spanID",
        }
    }

    /// Whether its value is the same for every span of a trace (needs the whole trace).
    pub fn is_trace_level(self) -> bool {
        matches!(
            self,
            Self::RootServiceName | Self::RootName | Self::TraceDuration | Self::TraceId
        )
    }
}

/// A field a condition reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// An attribute by scope and name.
    Attr(Scope, String),
    /// A built-in field.
    Intrinsic(Intrinsic),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Attr(scope, n) => write!(f, "{}{n}", scope.prefix()),
            Self::Intrinsic(i) => f.write_str(i.name()),
        }
    }
}

impl Field {
    /// The key Tempo shows this field under in a span's attributes of a search result: an
    /// attribute's name without its scope, an intrinsic's name.
    pub fn result_key(&self) -> String {
        match self {
            Self::Attr(_, n) => n.clone(),
            Self::Intrinsic(i) => i.name().to_owned(),
        }
    }
}

/// A comparison, arithmetic or logical operator inside a spanset filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `=`
    Eq,
    /// `!=`
    Neq,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `=~`
    Re,
    /// `!~`
    NotRe,
    /// `&&`
    And,
    /// `||`
    Or,
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
}

impl BinOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Neq => "!=",
            Self::Lt => "<",
            Self::Lte => "<=",
            Self::Gt => ">",
            Self::Gte => ">=",
            Self::Re => "=~",
            Self::NotRe => "!~",
            Self::And => "&&",
            Self::Or => "||",
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Mod => "%",
            Self::Pow => "^",
        }
    }
}

/// A regular expression of a query: as written, and compiled anchored at both ends (Tempo
/// anchors every TraceQL regex).
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The pattern as written.
    pub text: String,
    /// `^(?:text)$`, compiled.
    pub re: regex::Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Pattern {
    /// Compiles `text`, anchored.
    pub fn new(text: &str) -> Result<Self, regex::Error> {
        Ok(Self {
            text: text.to_owned(),
            re: regex::Regex::new(&format!("^(?:{text})$"))?,
        })
    }
}

/// An expression evaluated on one span (inside `{ }`, in `by()`, `select()`, aggregates).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldExpr {
    /// A literal.
    Lit(Value),
    /// A field of the span.
    Field(Field),
    /// A binary operation.
    Binary(BinOp, Box<FieldExpr>, Box<FieldExpr>),
    /// `!expr`.
    Not(Box<FieldExpr>),
    /// `-expr`.
    Neg(Box<FieldExpr>),
    /// A regex comparison, the pattern compiled once (fully anchored, as Tempo does).
    Regex {
        /// The field or expression matched.
        lhs: Box<FieldExpr>,
        /// `!~` rather than `=~`.
        negated: bool,
        /// The pattern.
        pattern: Pattern,
    },
}

impl fmt::Display for FieldExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lit(v) => write!(f, "{v}"),
            Self::Field(x) => write!(f, "{x}"),
            Self::Binary(op, l, r) => write!(f, "{l} {} {r}", op.as_str()),
            Self::Not(e) => write!(f, "!{e}"),
            Self::Neg(e) => write!(f, "-{e}"),
            Self::Regex {
                lhs,
                negated,
                pattern,
            } => {
                let op = if *negated { "!~" } else { "=~" };
                write!(f, "{lhs} {op} {:?}", pattern.text)
            }
        }
    }
}

/// An operator between two spanset expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpansetOp {
    /// `&&`: both sides match; the spans of both.
    And,
    /// `||`: either side matches; the spans of both.
    Or,
    /// `>`: right spans whose parent is a left span.
    Child,
    /// `<`: right spans that are the parent of a left span.
    Parent,
    /// `>>`: right spans with a left span among their ancestors.
    Descendant,
    /// `<<`: right spans with a left span among their descendants.
    Ancestor,
    /// `~`: right spans with a left span as a sibling.
    Sibling,
    /// `!>`: right spans whose parent is not a left span.
    NotChild,
    /// `!<`: right spans that are the parent of no left span.
    NotParent,
    /// `!>>`: right spans with no left span among their ancestors.
    NotDescendant,
    /// `!<<`: right spans with no left span among their descendants.
    NotAncestor,
    /// `!~`: right spans with no left span as a sibling.
    NotSibling,
    /// `&>`: as `>`, and the left spans that are such parents.
    UnionChild,
    /// `&<`: as `<`, and the left spans that are such children.
    UnionParent,
    /// `&>>`: as `>>`, and the left spans that are such ancestors.
    UnionDescendant,
    /// `&<<`: as `<<`, and the left spans that are such descendants.
    UnionAncestor,
    /// `&~`: as `~`, and the left spans that are such siblings.
    UnionSibling,
}

/// A spanset aggregate of the pipeline (`count()`, `avg(duration)` ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateOp {
    /// `count()`
    Count,
    /// `avg(x)`
    Avg,
    /// `min(x)`
    Min,
    /// `max(x)`
    Max,
    /// `sum(x)`
    Sum,
}

impl AggregateOp {
    /// The function's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Avg => "avg",
            Self::Min => "min",
            Self::Max => "max",
            Self::Sum => "sum",
        }
    }
}

/// One element of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// A spanset expression (the first element, or a filter later on).
    Spanset(SpansetExpr),
    /// `count() > 2`: keeps the spansets whose aggregate compares true.
    Scalar {
        /// The aggregate.
        op: AggregateOp,
        /// Its argument (none for `count()`).
        arg: Option<FieldExpr>,
        /// The comparison.
        cmp: BinOp,
        /// The value compared with.
        value: Value,
    },
    /// `by(expr)`: splits each spanset by the expression's value.
    By(FieldExpr),
    /// `select(a, b)`: adds fields to the spans' results.
    Select(Vec<FieldExpr>),
    /// `coalesce()`: merges the spansets into one.
    Coalesce,
}

/// A spanset expression.
#[derive(Debug, Clone, PartialEq)]
pub enum SpansetExpr {
    /// `{ expr }` (`{ }` is a filter of `true`).
    Filter(FieldExpr),
    /// Two spanset expressions and their operator.
    Op(SpansetOp, Box<SpansetExpr>, Box<SpansetExpr>),
    /// A pipeline in parentheses.
    Pipeline(Box<Pipeline>),
}

/// A sequence of stages joined by `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The stages, the first a spanset expression.
    pub stages: Vec<Stage>,
}

/// A TraceQL metrics function.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsFn {
    /// `rate()`: matching spans per second of each step.
    Rate,
    /// `count_over_time()`: matching spans per step.
    CountOverTime,
    /// `min_over_time(x)`.
    MinOverTime(FieldExpr),
    /// `max_over_time(x)`.
    MaxOverTime(FieldExpr),
    /// `avg_over_time(x)`.
    AvgOverTime(FieldExpr),
    /// `sum_over_time(x)`.
    SumOverTime(FieldExpr),
    /// `quantile_over_time(x, q...)`.
    QuantileOverTime(FieldExpr, Vec<f64>),
    /// `histogram_over_time(x)`.
    HistogramOverTime(FieldExpr),
    /// `compare({filter}, top, start, end)`: the spans the filter selects (started in
    /// `[start, end)` when those are given, ns) against the others, counted per value of
    /// every attribute (Tempo's, for Traces Drilldown's comparison).
    Compare(Box<Compare>),
}

/// The arguments of `compare()`.
#[derive(Debug, Clone, PartialEq)]
pub struct Compare {
    /// The selection's filter.
    pub filter: FieldExpr,
    /// Values kept per attribute, the most frequent (default 10).
    pub top: usize,
    /// The selection's window of span start times (ns), `(0, 0)` for none.
    pub window: (i64, i64),
}

impl MetricsFn {
    /// The function's name as a query writes it (`rate`, `quantile_over_time`, ...): the
    /// `__name__` of a series grouped by nothing.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            MetricsFn::Rate => "rate",
            MetricsFn::CountOverTime => "count_over_time",
            MetricsFn::MinOverTime(_) => "min_over_time",
            MetricsFn::MaxOverTime(_) => "max_over_time",
            MetricsFn::AvgOverTime(_) => "avg_over_time",
            MetricsFn::SumOverTime(_) => "sum_over_time",
            MetricsFn::QuantileOverTime(..) => "quantile_over_time",
            MetricsFn::HistogramOverTime(_) => "histogram_over_time",
            MetricsFn::Compare(_) => "compare",
        }
    }
}

/// A metrics stage: the function and its `by (...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// The function.
    pub func: MetricsFn,
    /// The fields grouped by.
    pub by: Vec<FieldExpr>,
    /// A second stage over the series (`| topk(n)`, `| bottomk(n)`).
    pub second: Option<SecondStage>,
}

/// A metrics query's second stage, as Tempo's: at each step, the `n` series with the
/// highest (`TopK`) or lowest (`BottomK`) value keep it; the others have no point there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondStage {
    /// `topk(n)`.
    TopK(usize),
    /// `bottomk(n)`.
    BottomK(usize),
}

/// A parsed TraceQL query ([`super::parse`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The spanset pipeline.
    pub pipeline: Pipeline,
    /// The metrics function at its end, if it is a metrics query.
    pub metrics: Option<Metrics>,
    /// Arithmetic between two metrics queries (`(q1) / (q2)`); then `pipeline` and
    /// `metrics` are unused.
    pub math: Option<Box<MetricsMath>>,
}

/// `(lhs) op (rhs)` between metrics queries, as Tempo's: series matched by their labels
/// (but `__name__`), a side with one unlabelled series matching every series of the other.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsMath {
    /// `+`, `-`, `*` or `/`.
    pub op: BinOp,
    /// The left query.
    pub lhs: Query,
    /// The right query.
    pub rhs: Query,
}

impl Query {
    /// Whether this is a metrics query (it ends in a metrics function such as `rate()`,
    /// or is arithmetic between such queries).
    pub fn is_metrics(&self) -> bool {
        self.metrics.is_some() || self.math.is_some()
    }
}
