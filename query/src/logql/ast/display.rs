//! Canonical printing of the LogQL syntax tree (a child module of `ast/mod.rs`): `Display` for
//! every node, printing LogQL that parses back to an equal tree.

use std::fmt::{self, Display, Formatter, Write as _};

use super::super::parser::is_bare_stage_keyword;

use super::{
    BinOp, Card, CmpOp, Expr, Grouping, LabelFilter, LabelFormat, LabelFormatSrc, LineFilter,
    LineOp, LogExpr, MatchOp, Matcher, MetricExpr, NameOrMatcher, RangeAgg, Stage, Unwrap,
    UnwrapConv, VectorMatching, nanos_to_seconds,
};

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Log(e) => e.fmt(f),
            Expr::Metric(e) => e.fmt(f),
        }
    }
}

impl Display for LogExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('{')?;
        write_list(f, &self.selector)?;
        f.write_char('}')?;
        for stage in &self.pipeline {
            write!(f, " {stage}")?;
        }
        Ok(())
    }
}

impl Display for Matcher {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op, Quoted(&self.value))
    }
}

impl Display for MatchOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchOp::Eq => "=",
            MatchOp::Ne => "!=",
            MatchOp::Re => "=~",
            MatchOp::Nre => "!~",
        })
    }
}

impl Display for Stage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Stage::LineFilter(lf) => lf.fmt(f),
            Stage::Json(params) => {
                f.write_str("| json")?;
                write_params(f, params)
            }
            Stage::Logfmt {
                strict,
                keep_empty,
                params,
            } => {
                f.write_str("| logfmt")?;
                if *strict {
                    f.write_str(" --strict")?;
                }
                if *keep_empty {
                    f.write_str(" --keep-empty")?;
                }
                write_params(f, params)
            }
            Stage::Regexp(re) => write!(f, "| regexp {}", Quoted(re)),
            Stage::Pattern(p) => write!(f, "| pattern {}", Quoted(p)),
            Stage::Unpack => f.write_str("| unpack"),
            Stage::LabelFilter(lf) if reads_as_stage(lf) => write!(f, "| ({lf})"),
            Stage::LabelFilter(lf) => write!(f, "| {lf}"),
            Stage::LineFormat(t) => write!(f, "| line_format {}", Quoted(t)),
            Stage::LabelFormat(formats) => {
                f.write_str("| label_format ")?;
                write_list(f, formats)
            }
            Stage::Drop(items) => {
                f.write_str("| drop ")?;
                write_list(f, items)
            }
            Stage::Keep(items) => {
                f.write_str("| keep ")?;
                write_list(f, items)
            }
            Stage::Decolorize => f.write_str("| decolorize"),
        }
    }
}

impl Display for LineFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (op, ip) = match self.op {
            LineOp::Contains => ("|=", false),
            LineOp::NotContains => ("!=", false),
            LineOp::Match => ("|~", false),
            LineOp::NotMatch => ("!~", false),
            LineOp::Pattern => ("|>", false),
            LineOp::NotPattern => ("!>", false),
            LineOp::Ip => ("|=", true),
            LineOp::NotIp => ("!=", true),
        };
        f.write_str(op)?;
        for (i, v) in self.values.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { " or " })?;
            if ip {
                write!(f, "ip({})", Quoted(v))?;
            } else {
                Quoted(v).fmt(f)?;
            }
        }
        Ok(())
    }
}

impl Display for LabelFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            LabelFilter::And(l, r) => {
                write_lf(f, l, matches!(**l, LabelFilter::Or(..)))?;
                f.write_str(" and ")?;
                write_lf(
                    f,
                    r,
                    matches!(**r, LabelFilter::Or(..) | LabelFilter::And(..)),
                )
            }
            LabelFilter::Or(l, r) => {
                write_lf(f, l, false)?;
                f.write_str(" or ")?;
                write_lf(f, r, matches!(**r, LabelFilter::Or(..)))
            }
            LabelFilter::String(m) => m.fmt(f),
            LabelFilter::Number { name, op, value } => write!(f, "{name} {op} {}", Num(*value)),
            LabelFilter::Duration { name, op, seconds } => {
                write!(f, "{name} {op} ")?;
                write_seconds(f, *seconds)
            }
            LabelFilter::Bytes { name, op, bytes } => {
                write!(f, "{name} {op} ")?;
                write_bytes(f, *bytes)
            }
            LabelFilter::Ip {
                name,
                negated,
                pattern,
            } => {
                let op = if *negated { "!=" } else { "=" };
                write!(f, "{name}{op}ip({})", Quoted(pattern))
            }
        }
    }
}

impl Display for CmpOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        })
    }
}

impl Display for LabelFormat {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.src {
            LabelFormatSrc::Rename(src) => write!(f, "{}={src}", self.dst),
            LabelFormatSrc::Template(t) => write!(f, "{}={}", self.dst, Quoted(t)),
        }
    }
}

impl Display for NameOrMatcher {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            NameOrMatcher::Name(n) => f.write_str(n),
            NameOrMatcher::Matcher(m) => m.fmt(f),
        }
    }
}

impl Display for MetricExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            MetricExpr::Range(r) => r.fmt(f),
            MetricExpr::Vector {
                op,
                param,
                grouping,
                expr,
            } => {
                f.write_str(op.name())?;
                if let Some(g) = grouping {
                    write!(f, " {g} ")?;
                }
                f.write_char('(')?;
                if let Some(p) = param {
                    write!(f, "{}, ", Num(*p))?;
                }
                write!(f, "{expr})")
            }
            MetricExpr::Binary {
                op,
                lhs,
                rhs,
                return_bool,
                matching,
            } => {
                let prec = op.precedence();
                let right_assoc = *op == BinOp::Pow;
                let rhs_paren = |p| p < prec || (p == prec && !right_assoc);
                write_operand(f, lhs, |p| p < prec || (p == prec && right_assoc))?;
                write!(f, " {}", op.symbol())?;
                if *return_bool {
                    f.write_str(" bool")?;
                }
                if let Some(m) = matching {
                    f.write_char(' ')?;
                    // A bare `group_left` is fine unless the right side starts with `(`.
                    let opens_paren = match &**rhs {
                        MetricExpr::Binary { op, .. } if rhs_paren(op.precedence()) => true,
                        e => starts_with_paren(e),
                    };
                    write_matching(f, m, !opens_paren)?;
                }
                f.write_char(' ')?;
                write_operand(f, rhs, rhs_paren)
            }
            MetricExpr::Number(v) => Num(*v).fmt(f),
            MetricExpr::VectorLit(v) => write!(f, "vector({})", Num(*v)),
            MetricExpr::LabelReplace {
                expr,
                dst,
                replacement,
                src,
                regex,
            } => write!(
                f,
                "label_replace({expr}, {}, {}, {}, {})",
                Quoted(dst),
                Quoted(replacement),
                Quoted(src),
                Quoted(regex)
            ),
            MetricExpr::Paren(e) => write!(f, "({e})"),
        }
    }
}

impl Display for RangeAgg {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.op.name())?;
        if let Some(p) = self.param {
            write!(f, "{}, ", Num(p))?;
        }
        self.log.fmt(f)?;
        if let Some(u) = &self.unwrap {
            write!(f, " {u}")?;
        }
        f.write_str(" [")?;
        write_ms(f, self.range_ms, true)?;
        f.write_char(']')?;
        if self.offset_ms != 0 {
            f.write_str(" offset ")?;
            write_ms(f, self.offset_ms, false)?;
        }
        f.write_char(')')?;
        if let Some(g) = &self.grouping {
            write!(f, " {g}")?;
        }
        Ok(())
    }
}

impl Display for Unwrap {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.conv {
            UnwrapConv::None => write!(f, "| unwrap {}", self.label)?,
            UnwrapConv::Bytes => write!(f, "| unwrap bytes({})", self.label)?,
            UnwrapConv::Duration => write!(f, "| unwrap duration({})", self.label)?,
            UnwrapConv::DurationSeconds => write!(f, "| unwrap duration_seconds({})", self.label)?,
        }
        for lf in &self.post_filters {
            write!(f, " | {lf}")?;
        }
        Ok(())
    }
}

impl Display for Grouping {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(if self.without { "without (" } else { "by (" })?;
        write_list(f, &self.labels)?;
        f.write_char(')')
    }
}

impl Display for VectorMatching {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_matching(f, self, false)
    }
}

/// `on(a) group_left(b)`; `bare_group` allows `group_left` without `()` when no labels are
/// included (not before a `(`, which would be read as the label list).
fn write_matching(f: &mut Formatter<'_>, m: &VectorMatching, bare_group: bool) -> fmt::Result {
    f.write_str(if m.on { "on(" } else { "ignoring(" })?;
    write_list(f, &m.labels)?;
    f.write_char(')')?;
    let group = match m.card {
        Card::OneToOne => return Ok(()),
        Card::ManyToOne => " group_left",
        Card::OneToMany => " group_right",
    };
    f.write_str(group)?;
    if bare_group && m.include.is_empty() {
        return Ok(());
    }
    f.write_char('(')?;
    write_list(f, &m.include)?;
    f.write_char(')')
}

/// Writes `items` separated by `, `.
fn write_list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        item.fmt(f)?;
    }
    Ok(())
}

/// Writes ` a="x.y", b` for `json`/`logfmt` parameters (nothing when there are none).
fn write_params(f: &mut Formatter<'_>, params: &[(String, String)]) -> fmt::Result {
    for (i, (label, path)) in params.iter().enumerate() {
        f.write_str(if i == 0 { " " } else { ", " })?;
        if label == path && super::super::lexer::is_identifier(label) {
            f.write_str(label)?;
        } else {
            write!(f, "{label}={}", Quoted(path))?;
        }
    }
    Ok(())
}

fn write_lf(f: &mut Formatter<'_>, lf: &LabelFilter, paren: bool) -> fmt::Result {
    if paren {
        write!(f, "({lf})")
    } else {
        lf.fmt(f)
    }
}

/// Writes a binary operand, in parentheses when `needs_paren(its precedence)`.
fn write_operand(
    f: &mut Formatter<'_>,
    e: &MetricExpr,
    needs_paren: impl Fn(u8) -> bool,
) -> fmt::Result {
    match e {
        MetricExpr::Binary { op, .. } if needs_paren(op.precedence()) => write!(f, "({e})"),
        _ => e.fmt(f),
    }
}

/// Whether `lf` printed after `|` starts like `json != ...`, which parses as a stage and a
/// line filter (see [`is_bare_stage_keyword`]).
fn reads_as_stage(lf: &LabelFilter) -> bool {
    let (name, negative) = match lf {
        LabelFilter::And(l, _) => return !matches!(**l, LabelFilter::Or(..)) && reads_as_stage(l),
        LabelFilter::Or(l, _) => return reads_as_stage(l),
        LabelFilter::String(m) => (&m.name, matches!(m.op, MatchOp::Ne | MatchOp::Nre)),
        LabelFilter::Number { name, op, .. }
        | LabelFilter::Duration { name, op, .. }
        | LabelFilter::Bytes { name, op, .. } => (name, *op == CmpOp::Ne),
        LabelFilter::Ip { name, negated, .. } => (name, *negated),
    };
    negative && is_bare_stage_keyword(name)
}

/// Whether `e`, printed without parentheses of its own, starts with `(`.
fn starts_with_paren(e: &MetricExpr) -> bool {
    match e {
        MetricExpr::Paren(_) => true,
        MetricExpr::Binary { op, lhs, .. } => match &**lhs {
            MetricExpr::Binary { op: l, .. }
                if l.precedence() < op.precedence()
                    || (l.precedence() == op.precedence() && *op == BinOp::Pow) =>
            {
                true
            }
            l => starts_with_paren(l),
        },
        _ => false,
    }
}

/// A string printed as a Go double-quoted literal.
struct Quoted<'a>(&'a str);

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() => write!(f, "\\u{:04x}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

/// A number printed so that it lexes back to the same `f64`.
struct Num(f64);

impl Display for Num {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_finite() && v == v.trunc() && v.abs() < 9_007_199_254_740_992.0 {
            // Exact: |v| < 2^53, so the cast neither saturates nor rounds.
            write!(f, "{}", v as i64)
        } else {
            // `{:?}` is the shortest round-tripping form (`0.1`, `1e-7`, `1.5e300`).
            write!(f, "{v:?}")
        }
    }
}

/// Writes a millisecond duration as `1h30m`: Prometheus units down to `y` for ranges, only
/// `h`/`m`/`s`/`ms` otherwise (offsets, which may be negative: Go durations have no days).
fn write_ms(f: &mut Formatter<'_>, ms: i64, prometheus_units: bool) -> fmt::Result {
    const DAY: u128 = 86_400_000;
    let units: &[(u128, &str)] = if prometheus_units {
        &[
            (365 * DAY, "y"),
            (7 * DAY, "w"),
            (DAY, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1000, "s"),
            (1, "ms"),
        ]
    } else {
        &[(3_600_000, "h"), (60_000, "m"), (1000, "s"), (1, "ms")]
    };
    write_units(f, i128::from(ms), units)
}

/// Writes a label-filter duration given in seconds as Go units (`250ms`, `1h30m`), choosing
/// the nanosecond count that the parser turns back into exactly `seconds`.
fn write_seconds(f: &mut Formatter<'_>, seconds: f64) -> fmt::Result {
    match exact_nanos(seconds) {
        Some(ns) => write_units(
            f,
            ns,
            &[
                (3_600_000_000_000, "h"),
                (60_000_000_000, "m"),
                (1_000_000_000, "s"),
                (1_000_000, "ms"),
                (1000, "us"),
                (1, "ns"),
            ],
        ),
        None => write!(f, "{seconds}s"),
    }
}

/// The nanosecond count `ns` with `ns as f64 / 1e9 == seconds` (how the parser converts),
/// within what a duration literal can hold (±(2^63 - 1) ns).
fn exact_nanos(seconds: f64) -> Option<i128> {
    let approx = seconds * 1e9;
    if !approx.is_finite() || approx.abs() > 9.3e18 {
        return None;
    }
    let guesses = [approx, approx.next_up(), approx.next_down()];
    guesses
        .iter()
        .flat_map(|g| {
            let base = g.round() as i128;
            [base, base - 1, base + 1]
        })
        .find(|&ns| ns.unsigned_abs() <= i64::MAX as u128 && nanos_to_seconds(ns) == seconds)
}

fn write_units(f: &mut Formatter<'_>, value: i128, units: &[(u128, &str)]) -> fmt::Result {
    if value == 0 {
        return f.write_str("0s");
    }
    if value < 0 {
        f.write_char('-')?;
    }
    let mut rest = value.unsigned_abs();
    for &(size, name) in units {
        if rest >= size {
            write!(f, "{}{name}", rest / size)?;
            rest %= size;
        }
    }
    Ok(())
}

/// Writes a byte count with the largest unit that divides it exactly (`10KB`, `1MiB`, `7B`).
fn write_bytes(f: &mut Formatter<'_>, bytes: f64) -> fmt::Result {
    if !(bytes.is_finite() && bytes >= 0.0 && bytes == bytes.trunc()) {
        return write!(f, "{}B", Num(bytes));
    }
    // Whole and below 2^64 after the parser's checks; `as` saturates otherwise.
    let n = bytes as u64;
    const UNITS: [(u64, &str); 10] = [
        (1 << 50, "PiB"),
        (1_000_000_000_000_000, "PB"),
        (1 << 40, "TiB"),
        (1_000_000_000_000, "TB"),
        (1 << 30, "GiB"),
        (1_000_000_000, "GB"),
        (1 << 20, "MiB"),
        (1_000_000, "MB"),
        (1 << 10, "KiB"),
        (1000, "KB"),
    ];
    match UNITS
        .iter()
        .find(|(size, _)| n >= *size && n.is_multiple_of(*size))
    {
        Some((size, unit)) => write!(f, "{}{unit}", n / size),
        None => write!(f, "{n}B"),
    }
}
