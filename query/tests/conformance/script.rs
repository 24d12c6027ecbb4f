//! Parser of Prometheus's `promqltest` script format (see the suite's `README.md`, beside
//! its `testdata/`: `STRATA_PROMQL_SUITE` in `promql_conformance.rs` says where).

use strata_query::promql::{Labels, STALE_NAN_BITS};

use super::hist::{self, HistPoint};

/// One expected or loaded value; `None` is `_` (no sample).
/// One value of a series line: a float or a native histogram.
#[derive(Debug, Clone)]
pub(crate) enum PointV {
    F(f64),
    H(HistPoint),
}

impl PointV {
    /// The float, if this is one.
    pub(crate) fn float(&self) -> Option<f64> {
        match self {
            PointV::F(v) => Some(*v),
            PointV::H(_) => None,
        }
    }
}

/// A value of a series line, or `None` for `_` (omitted).
pub(crate) type Point = Option<PointV>;

/// A series line: labels and values, or a native histogram line (not supported).
#[derive(Debug, Clone)]
pub(crate) struct SeriesLine {
    pub(crate) labels: Labels,
    pub(crate) values: Vec<Point>,
    pub(crate) histogram: bool,
}

/// What an `expect fail|warn|info` line asks for.
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    Any,
    Exact(String),
    Regex(String),
}

/// Kinds of evaluation.
#[derive(Debug, Clone)]
pub(crate) enum EvalKind {
    Instant { at: i64 },
    Range { start: i64, end: i64, step: i64 },
}

/// One `eval` block.
#[derive(Debug, Clone, Default)]
pub(crate) struct Eval {
    pub(crate) line: usize,
    pub(crate) expr: String,
    pub(crate) kind: Option<EvalKind>,
    pub(crate) fail: Option<Pattern>,
    pub(crate) warn: Vec<Pattern>,
    pub(crate) info: Vec<Pattern>,
    pub(crate) no_warn: bool,
    pub(crate) no_info: bool,
    pub(crate) ordered: bool,
    pub(crate) range_vector: Option<(i64, i64, i64)>,
    pub(crate) string: Option<String>,
    pub(crate) scalar: Option<f64>,
    pub(crate) series: Vec<SeriesLine>,
    pub(crate) histogram_expected: bool,
}

/// One command of a script.
#[derive(Debug, Clone)]
pub(crate) enum Command {
    Load {
        interval: i64,
        nhcb: bool,
        series: Vec<SeriesLine>,
    },
    Clear,
    Eval(Box<Eval>),
}

/// Parses a Prometheus duration (`1h30m`, `10s`, `0`, `-5m`, a bare number of seconds) to ms.
pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    if let Ok(n) = s.parse::<f64>() {
        let ms = (n * 1000.0).round() as i64;
        return Some(if neg { -ms } else { ms });
    }
    let mut total: i64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let mult = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return None,
        };
        total += n * mult;
    }
    Some(if neg { -total } else { total })
}

/// Parses a number as Go's `strconv.ParseFloat` (decimal only: `0x59` in values is `0` repeated).
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let (sign, body) = match lower.strip_prefix('-') {
        Some(b) => (-1.0, b.to_string()),
        None => (1.0, lower.trim_start_matches('+').to_string()),
    };
    match body.as_str() {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if body.is_empty()
        || !body
            .chars()
            .all(|c| c.is_ascii_digit() || ".e+-_".contains(c))
    {
        return None;
    }
    body.replace('_', "").parse::<f64>().ok().map(|v| sign * v)
}

fn parse_value_token(tok: &str, out: &mut Vec<Point>) -> Result<bool, String> {
    if tok.starts_with("{{") {
        out.extend(
            hist::parse_token(tok)?
                .into_iter()
                .map(|h| Some(PointV::H(h))),
        );
        return Ok(true);
    }
    if tok == "_" {
        out.push(None);
        return Ok(false);
    }
    if tok == "stale" {
        out.push(Some(PointV::F(f64::from_bits(STALE_NAN_BITS))));
        return Ok(false);
    }
    if let Some(v) = parse_number(tok) {
        out.push(Some(PointV::F(v)));
        return Ok(false);
    }
    // Expansions: `_xN`, `axN`, `a+bxN`, `a-bxN`.
    let Some(xpos) = tok.rfind('x') else {
        return Err(format!("bad value {tok:?}"));
    };
    let n: usize = tok[xpos + 1..]
        .parse()
        .map_err(|_| format!("bad value {tok:?}"))?;
    let lhs = &tok[..xpos];
    if lhs == "_" {
        out.extend(std::iter::repeat_n(None, n));
        return Ok(false);
    }
    if lhs == "stale" {
        out.extend(std::iter::repeat_n(
            Some(PointV::F(f64::from_bits(STALE_NAN_BITS))),
            n + 1,
        ));
        return Ok(false);
    }
    if let Some(a) = parse_number(lhs) {
        out.extend(std::iter::repeat_n(Some(PointV::F(a)), n + 1));
        return Ok(false);
    }
    for (i, c) in lhs.char_indices().skip(1) {
        if (c == '+' || c == '-')
            && !lhs[..i].ends_with(['e', 'E'])
            && let (Some(a), Some(b)) = (parse_number(&lhs[..i]), parse_number(&lhs[i + 1..]))
        {
            let b = if c == '-' { -b } else { b };
            for k in 0..=n {
                out.push(Some(PointV::F(a + b * k as f64)));
            }
            return Ok(false);
        }
    }
    Err(format!("bad value {tok:?}"))
}

/// Splits value text into tokens, keeping `{{ ... }}` groups (and their `xN` suffix) whole.
fn value_tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in s.chars() {
        match c {
            '{' => {
                depth += 1;
                cur.push(c);
            }
            '}' => {
                depth -= 1;
                cur.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses a series descriptor (`name{a="b"}`, `{__name__="x"}`, `{}`) into labels.
fn parse_labels(desc: &str) -> Result<Labels, String> {
    if desc.trim() == "{}" {
        return Ok(Labels::default());
    }
    let expr = promql_parser::parser::parse(desc).map_err(|e| format!("{desc}: {e}"))?;
    let promql_parser::parser::Expr::VectorSelector(vs) = expr else {
        return Err(format!("not a series: {desc}"));
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(n) = vs.name {
        pairs.push(("__name__".into(), n));
    }
    for m in vs.matchers.matchers {
        pairs.push((m.name, m.value));
    }
    Ok(Labels::from_pairs(pairs))
}

/// Parses `<series> <values...>`.
pub(crate) fn parse_series_line(line: &str) -> Result<SeriesLine, String> {
    let (desc, rest) = split_descriptor(line)?;
    let labels = parse_labels(desc)?;
    let mut values = Vec::new();
    let mut histogram = false;
    for tok in value_tokens(rest) {
        histogram |= parse_value_token(&tok, &mut values)?;
    }
    Ok(SeriesLine {
        labels,
        values,
        histogram,
    })
}

fn split_descriptor(line: &str) -> Result<(&str, &str), String> {
    let brace = line.find('{');
    let space = line.find(char::is_whitespace).unwrap_or(line.len());
    match brace {
        Some(b) if b < space => {
            let mut in_quote: Option<char> = None;
            let mut escaped = false;
            for (i, c) in line.char_indices().skip(b) {
                if escaped {
                    escaped = false;
                    continue;
                }
                match (in_quote, c) {
                    (Some(_), '\\') => escaped = true,
                    (Some(q), c) if c == q => in_quote = None,
                    (None, '"' | '\'' | '`') => in_quote = Some(c),
                    (None, '}') => return Ok((&line[..=i], &line[i + 1..])),
                    _ => {}
                }
            }
            Err(format!("unclosed series descriptor: {line}"))
        }
        _ => Ok((&line[..space], &line[space..])),
    }
}

fn parse_pattern(rest: &str) -> Pattern {
    let rest = rest.trim();
    if let Some(m) = rest.strip_prefix("msg:") {
        Pattern::Exact(m.trim().to_string())
    } else if let Some(r) = rest.strip_prefix("regex:") {
        Pattern::Regex(r.trim().to_string())
    } else {
        Pattern::Any
    }
}

/// Parses a whole script.
pub(crate) fn parse_script(text: &str) -> Result<Vec<Command>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    let blank = |l: &str| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#')
    };
    while i < lines.len() {
        let line = lines[i].trim();
        if blank(line) {
            i += 1;
            continue;
        }
        let lineno = i + 1;
        let mut body = Vec::new();
        let mut j = i + 1;
        let is_command = |l: &str| {
            let w = l.split_whitespace().next().unwrap_or("").to_lowercase();
            w == "clear" || w.starts_with("load") || w.starts_with("eval")
        };
        while j < lines.len() && !blank(lines[j]) && !is_command(lines[j].trim()) {
            body.push((j + 1, lines[j].trim()));
            j += 1;
        }
        i = j;
        let cmd = line.split_whitespace().next().unwrap_or("").to_lowercase();
        let err = |m: String| format!("line {lineno}: {m}");
        if cmd == "clear" {
            cmds.push(Command::Clear);
        } else if cmd == "load" || cmd == "load_with_nhcb" {
            let iv = line.split_whitespace().nth(1).unwrap_or("");
            let interval = parse_duration(iv).ok_or_else(|| err(format!("bad interval {iv}")))?;
            let mut series = Vec::new();
            for (ln, l) in body {
                if l.contains("@st") {
                    continue;
                }
                series.push(parse_series_line(l).map_err(|e| format!("line {ln}: {e}"))?);
            }
            cmds.push(Command::Load {
                interval,
                nhcb: cmd == "load_with_nhcb",
                series,
            });
        } else if cmd.starts_with("eval") {
            cmds.push(Command::Eval(Box::new(
                parse_eval(lineno, line, &cmd, &body).map_err(err)?,
            )));
        } else {
            return Err(err(format!("unknown command {cmd:?}")));
        }
    }
    Ok(cmds)
}

fn parse_eval(
    lineno: usize,
    line: &str,
    cmd: &str,
    body: &[(usize, &str)],
) -> Result<Eval, String> {
    let mut ev = Eval {
        line: lineno,
        ..Eval::default()
    };
    match cmd {
        "eval_fail" => ev.fail = Some(Pattern::Any),
        "eval_warn" => ev.warn.push(Pattern::Any),
        "eval_info" => ev.info.push(Pattern::Any),
        "eval_ordered" => ev.ordered = true,
        _ => {}
    }
    let rest = line[cmd.len()..].trim_start();
    let words: Vec<&str> = rest.split_whitespace().collect();
    let nth_end = |n: usize| -> usize {
        // Byte offset just after the n-th word of `rest`.
        let mut count = 0;
        let mut in_word = false;
        for (i, c) in rest.char_indices() {
            if c.is_whitespace() {
                if in_word {
                    count += 1;
                    if count == n {
                        return i;
                    }
                }
                in_word = false;
            } else {
                in_word = true;
            }
        }
        rest.len()
    };
    let dur = |s: &str| parse_duration(s).ok_or_else(|| format!("bad duration {s}"));
    if words.first() == Some(&"instant") && words.get(1) == Some(&"at") {
        let at = dur(words.get(2).copied().unwrap_or(""))?;
        ev.kind = Some(EvalKind::Instant { at });
        ev.expr = rest[nth_end(3)..].trim().to_string();
    } else if words.first() == Some(&"range") {
        let start = dur(words.get(2).copied().unwrap_or(""))?;
        let end = dur(words.get(4).copied().unwrap_or(""))?;
        let step = dur(words.get(6).copied().unwrap_or(""))?;
        ev.kind = Some(EvalKind::Range { start, end, step });
        ev.expr = rest[nth_end(7)..].trim().to_string();
    } else {
        return Err(format!("bad eval line {line:?}"));
    }
    for (ln, l) in body {
        if let Some(r) = l.strip_prefix("expected_fail_message") {
            ev.fail = Some(Pattern::Exact(r.trim().to_string()));
        } else if let Some(r) = l.strip_prefix("expected_fail_regexp") {
            ev.fail = Some(Pattern::Regex(r.trim().to_string()));
        } else if let Some(r) = l.strip_prefix("expect ") {
            let r = r.trim();
            let word = r.split_whitespace().next().unwrap_or("");
            let after = r[word.len()..].trim();
            match word {
                "fail" => ev.fail = Some(parse_pattern(after)),
                "warn" => ev.warn.push(parse_pattern(after)),
                "info" => ev.info.push(parse_pattern(after)),
                "no_warn" => ev.no_warn = true,
                "no_info" => ev.no_info = true,
                "ordered" => ev.ordered = true,
                "string" => {
                    let s = after.trim();
                    let unq = if s.len() >= 2 {
                        let inner = &s[1..s.len() - 1];
                        if s.starts_with('`') {
                            inner.to_string()
                        } else {
                            unescape(inner)
                        }
                    } else {
                        s.to_string()
                    };
                    ev.string = Some(unq);
                }
                "range" => {
                    let w: Vec<&str> = after.split_whitespace().collect();
                    // vector from <d> to <d> step <d>
                    let (a, b, c) = (
                        dur(w.get(2).copied().unwrap_or(""))?,
                        dur(w.get(4).copied().unwrap_or(""))?,
                        dur(w.get(6).copied().unwrap_or(""))?,
                    );
                    ev.range_vector = Some((a, b, c));
                }
                _ => return Err(format!("line {ln}: unknown expect {word:?}")),
            }
        } else if !l.contains(char::is_whitespace) && parse_number(l).is_some() {
            ev.scalar = parse_number(l);
        } else {
            if l.contains("{{") {
                ev.histogram_expected = true;
            }
            ev.series
                .push(parse_series_line(l).map_err(|e| format!("line {ln}: {e}"))?);
        }
    }
    Ok(ev)
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}
