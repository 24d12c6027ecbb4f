//! [`SpanTest`]: a condition on one span that a summary can rule out, and how a service's
//! summary decides whether one of its spans may meet it.
//!
//! A test states what a row of the `spans` table holds, with SQL's meaning: a comparison
//! with an attribute that is absent (SQL's null) is false, `!=` included. Whatever a test
//! cannot decide from the summary, it answers "may match".

use regex::Regex;

use super::{AttrValues, Keys, ServiceSummary, Values, code_bit};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=` (false when the value is absent)
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    pub(crate) fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Self::Eq => o == Equal,
            Self::Ne => o != Equal,
            Self::Lt => o == Less,
            Self::Le => o != Greater,
            Self::Gt => o == Greater,
            Self::Ge => o != Less,
        }
    }
}

/// A number to compare with.
#[derive(Debug, Clone, Copy)]
pub enum Number {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => a == b,
            (Self::Float(a), Self::Float(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        }
    }
}

impl Eq for Number {}

impl Number {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Self::Int(i) => i as f64,
            Self::Float(f) => f,
        }
    }
}

/// Where an attribute lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrScope {
    /// The span's own attributes (`span.`).
    Span = 0,
    /// Its resource's (`resource.`).
    Resource = 1,
    /// Its instrumentation scope's (`instrumentation.`).
    Instrumentation = 2,
}

/// A test of a string.
#[derive(Debug, Clone)]
pub enum StrTest {
    /// Compares so with the string (bytewise, as SQL compares text).
    Cmp(CmpOp, String),
    /// Matches (or with `true`, does not match) the regular expression, whole.
    Regex(Regex, bool),
}

impl PartialEq for StrTest {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Cmp(a, x), Self::Cmp(b, y)) => a == b && x == y,
            (Self::Regex(a, x), Self::Regex(b, y)) => a.as_str() == b.as_str() && x == y,
            _ => false,
        }
    }
}

impl Eq for StrTest {}

impl StrTest {
    /// A test that the whole string matches `pattern` (or, `negated`, does not), as SQL's
    /// `~ '^(?:pattern)$'`; `None` if it does not compile.
    pub fn regex(pattern: &str, negated: bool) -> Option<Self> {
        let re = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
            .size_limit(1 << 20)
            .build()
            .ok()?;
        Some(Self::Regex(re, negated))
    }

    fn holds(&self, v: &str) -> bool {
        match self {
            Self::Cmp(op, s) => op.holds(v.cmp(s)),
            Self::Regex(re, negated) => re.is_match(v) != *negated,
        }
    }

    fn may_match(&self, values: &Values) -> bool {
        match values {
            Values::Few(v) => v.iter().any(|v| self.holds(v)),
            Values::Many => true,
        }
    }
}

/// A test of an attribute's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrTest {
    /// A string value passing the test (a value of another type never does).
    Str(StrTest),
    /// An int or double value comparing so with the number.
    Num(CmpOp, Number),
    /// A bool value comparing so with the bool (`=` and `!=` only decide).
    Bool(CmpOp, bool),
    /// Any value.
    Present,
}

/// A condition on one span. [`SpanSummary::may_match`](super::SpanSummary::may_match)
/// answers whether a span of a file may meet it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanTest {
    /// Anything (what cannot be decided).
    Any,
    /// Nothing.
    Never,
    /// Every one of the tests.
    All(Vec<SpanTest>),
    /// At least one of the tests.
    AnyOf(Vec<SpanTest>),
    /// Its `service_name`.
    Service(StrTest),
    /// Its name.
    Name(StrTest),
    /// Its status code (`=` and `!=` only decide).
    Status(CmpOp, i32),
    /// Its kind (`=` and `!=` only decide).
    Kind(CmpOp, i32),
    /// Its duration in ns.
    Duration(CmpOp, Number),
    /// The attribute `key` of `scope`.
    Attr {
        /// Span, resource or instrumentation scope.
        scope: AttrScope,
        /// Its key.
        key: String,
        /// What its value must be.
        test: AttrTest,
    },
}

impl SpanTest {
    /// `a AND b`, simplified.
    pub fn and(a: Self, b: Self) -> Self {
        match (a, b) {
            (Self::Any, x) | (x, Self::Any) => x,
            (Self::Never, _) | (_, Self::Never) => Self::Never,
            (Self::All(mut v), Self::All(w)) => {
                v.extend(w);
                Self::All(v)
            }
            (Self::All(mut v), x) | (x, Self::All(mut v)) => {
                v.push(x);
                Self::All(v)
            }
            (a, b) => Self::All(vec![a, b]),
        }
    }

    /// `a OR b`, simplified.
    pub fn or(a: Self, b: Self) -> Self {
        match (a, b) {
            (Self::Any, _) | (_, Self::Any) => Self::Any,
            (Self::Never, x) | (x, Self::Never) => x,
            (Self::AnyOf(mut v), Self::AnyOf(w)) => {
                v.extend(w);
                Self::AnyOf(v)
            }
            (Self::AnyOf(mut v), x) | (x, Self::AnyOf(mut v)) => {
                v.push(x);
                Self::AnyOf(v)
            }
            (a, b) => Self::AnyOf(vec![a, b]),
        }
    }

    /// Whether a span of service `s` may meet it.
    pub(crate) fn may_match(&self, s: &ServiceSummary) -> bool {
        match self {
            Self::Any => true,
            Self::Never => false,
            Self::All(v) => v.iter().all(|t| t.may_match(s)),
            Self::AnyOf(v) => v.iter().any(|t| t.may_match(s)),
            Self::Service(t) => t.holds(&s.name),
            Self::Name(t) => t.may_match(&s.names),
            Self::Status(op, c) => code_may_match(s.status, *op, *c),
            Self::Kind(op, c) => code_may_match(s.kinds, *op, *c),
            Self::Duration(op, n) => s.spans > 0 && int_range_may_match(s.duration, *op, *n),
            Self::Attr { scope, key, test } => attr_may_match(&s.attrs[*scope as usize], key, test),
        }
    }
}

fn code_may_match(mask: u64, op: CmpOp, c: i32) -> bool {
    let bit = code_bit(c);
    match op {
        // Bit 63 stands for every code past 62: a code there may be any of them.
        CmpOp::Eq => mask & bit != 0,
        CmpOp::Ne => mask & !bit != 0 || (bit == 1 << 63 && mask != 0),
        _ => mask != 0,
    }
}

/// Whether a value in `[lo, hi]` (ints) may compare so with `n`.
fn int_range_may_match((lo, hi): (i64, i64), op: CmpOp, n: Number) -> bool {
    match n {
        Number::Int(n) => match op {
            CmpOp::Eq => lo <= n && n <= hi,
            CmpOp::Ne => !(lo == n && hi == n),
            CmpOp::Lt => lo < n,
            CmpOp::Le => lo <= n,
            CmpOp::Gt => hi > n,
            CmpOp::Ge => hi >= n,
        },
        Number::Float(_) => float_range_may_match((lo as f64, hi as f64), op, n),
    }
}

/// Whether a value in `[lo, hi]` (floats, none NaN; ints as `f64`, which keeps their order)
/// may compare so with `n` as SQL compares doubles. Undecided: `!=` (ints of one `f64` may
/// differ), a zero (SQL orders `-0.0` before `0.0`), a NaN.
fn float_range_may_match((lo, hi): (f64, f64), op: CmpOp, n: Number) -> bool {
    let n = n.as_f64();
    if n == 0.0 || n.is_nan() {
        return true;
    }
    match op {
        CmpOp::Eq => lo <= n && n <= hi,
        CmpOp::Ne => true,
        CmpOp::Lt => lo < n,
        CmpOp::Le => lo <= n,
        CmpOp::Gt => hi > n,
        CmpOp::Ge => hi >= n,
    }
}

fn attr_may_match(keys: &Keys, key: &str, test: &AttrTest) -> bool {
    let Some(v) = keys.get(key) else {
        return keys.more;
    };
    values_may_match(v, test)
}

fn values_may_match(v: &AttrValues, test: &AttrTest) -> bool {
    match test {
        AttrTest::Present => true,
        AttrTest::Str(t) => t.may_match(&v.strings),
        AttrTest::Num(op, n) => {
            v.nan || v.numbers.is_some_and(|r| float_range_may_match(r, *op, *n))
        }
        AttrTest::Bool(op, b) => {
            let bit = |b: bool| if b { 2 } else { 1 };
            match op {
                CmpOp::Eq => v.bools & bit(*b) != 0,
                CmpOp::Ne => v.bools & bit(!*b) != 0,
                _ => v.bools != 0,
            }
        }
    }
}
