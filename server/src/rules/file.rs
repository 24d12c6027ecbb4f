//! Rule files: Prometheus's YAML (`groups:` of `record:` and `alert:` rules), read and
//! checked the way `promtool check rules` checks them, with the file and line of every
//! problem. The same format holds LogQL rules (Loki's ruler), whose `expr` is LogQL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::error::{Problem, RulesError};
use super::template::Template;
use crate::relabel::NameValidation;

/// The query language of a file's expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// PromQL over the tenant's metrics (Prometheus rule files).
    Promql,
    /// LogQL metric queries over the tenant's logs (Loki ruler files).
    Logql,
}

impl Lang {
    /// `promql` or `logql`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Promql => "promql",
            Self::Logql => "logql",
        }
    }
}

/// A checked rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFile {
    /// Where it was read from, as configured (globs expanded).
    pub path: PathBuf,
    /// Its expressions' language.
    pub lang: Lang,
    /// Its groups, in file order.
    pub groups: Vec<GroupSpec>,
}

/// One group: rules evaluated in order, at one timestamp, every `interval`.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    /// Unique in its file.
    pub name: String,
    /// `interval`, when the group sets one (else `[rules] evaluation_interval`).
    pub interval: Option<Duration>,
    /// `limit`: most series a recording rule, or alerts an alerting rule, may produce in
    /// one evaluation (0: no limit); past it the rule fails that evaluation.
    pub limit: usize,
    /// `query_offset`: evaluate every rule this far in the past (for late samples).
    pub query_offset: Duration,
    /// The rules, in order.
    pub rules: Vec<RuleSpec>,
}

/// One rule, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    /// Recording or alerting, with its name.
    pub kind: RuleKind,
    /// The expression, as written.
    pub expr: String,
    /// `for`: how long an alert stays pending before it fires.
    pub hold: Duration,
    /// `keep_firing_for`: how long an alert keeps firing after its expression stops
    /// returning it.
    pub keep_firing_for: Duration,
    /// `labels`, added to (and overriding) the results' labels; for alerts, templates.
    pub labels: BTreeMap<String, String>,
    /// `annotations` of an alert (templates).
    pub annotations: BTreeMap<String, String>,
    /// Line of the rule in its file (1-based).
    pub line: usize,
}

/// A recording rule (its series name) or an alerting rule (its alert name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleKind {
    /// `record: name`.
    Record(String),
    /// `alert: name`.
    Alert(String),
}

impl RuleSpec {
    /// The record or alert name.
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Record(n) | RuleKind::Alert(n) => n,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileYaml {
    #[serde(default)]
    groups: Vec<Spanned<GroupYaml>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupYaml {
    #[serde(default)]
    name: String,
    interval: Option<String>,
    #[serde(default)]
    limit: usize,
    query_offset: Option<String>,
    #[serde(default)]
    rules: Vec<Spanned<RuleYaml>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleYaml {
    record: Option<String>,
    alert: Option<String>,
    #[serde(default)]
    expr: String,
    #[serde(rename = "for")]
    hold: Option<String>,
    keep_firing_for: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Reads and checks the file at `path`.
pub fn load(path: &Path, lang: Lang) -> Result<RuleFile, RulesError> {
    let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text, lang)
}

/// Checks `text`, the content of the rule file at `path`: every problem is reported, each
/// with its line.
pub fn parse(path: &Path, text: &str, lang: Lang) -> Result<RuleFile, RulesError> {
    let file = |problems: Vec<Problem>| RulesError::File {
        path: path.to_owned(),
        problems,
    };
    // An empty file (or one of comments only) has no groups, as in Prometheus.
    let yaml: FileYaml = if text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#')
    }) {
        FileYaml { groups: Vec::new() }
    } else {
        serde_saphyr::from_str(text).map_err(|e| file(vec![Problem::yaml(&e.to_string())]))?
    };
    let mut problems = Vec::new();
    let mut groups = Vec::with_capacity(yaml.groups.len());
    let mut names = BTreeMap::new();
    for g in yaml.groups {
        let line = g.referenced.line() as usize;
        let g = g.value;
        let at = |reason: String| Problem {
            line,
            context: format!("group {:?}", g.name),
            reason,
        };
        if g.name.is_empty() {
            problems.push(at("group name must not be empty".into()));
        } else if let Some(first) = names.insert(g.name.clone(), line) {
            problems.push(at(format!(
                "group name {:?} is repeated in the same file (first at line {first})",
                g.name
            )));
        }
        let interval = match g.interval.as_deref().map(parse_duration).transpose() {
            Ok(Some(d)) if d.is_zero() => {
                problems.push(at("interval must be greater than 0".into()));
                None
            }
            Ok(d) => d,
            Err(e) => {
                problems.push(at(format!("interval: {e}")));
                None
            }
        };
        let query_offset = g
            .query_offset
            .as_deref()
            .map(parse_duration)
            .transpose()
            .unwrap_or_else(|e| {
                problems.push(at(format!("query_offset: {e}")));
                None
            })
            .unwrap_or_default();
        let mut rules = Vec::with_capacity(g.rules.len());
        for (i, r) in g.rules.into_iter().enumerate() {
            let line = r.referenced.line() as usize;
            match check_rule(r.value, line, lang) {
                Ok(rule) => rules.push(rule),
                Err((name, reasons)) => {
                    problems.extend(reasons.into_iter().map(|reason| Problem {
                        line,
                        context: format!("group {:?}, rule {}, {name:?}", g.name, i + 1),
                        reason,
                    }))
                }
            }
        }
        groups.push(GroupSpec {
            name: g.name,
            interval,
            limit: g.limit,
            query_offset,
            rules,
        });
    }
    if !problems.is_empty() {
        return Err(file(problems));
    }
    Ok(RuleFile {
        path: path.to_owned(),
        lang,
        groups,
    })
}

/// One rule's checks (Prometheus's `rulefmt` ones, and the templates parsed); the name and
/// every reason on failure.
fn check_rule(r: RuleYaml, line: usize, lang: Lang) -> Result<RuleSpec, (String, Vec<String>)> {
    let mut why = Vec::new();
    let kind = match (r.record, r.alert) {
        (Some(n), None) => {
            if !is_metric_name(&n) {
                why.push(format!("invalid recording rule name: {n}"));
            }
            if !r.annotations.is_empty() {
                why.push("invalid field 'annotations' in recording rule".into());
            }
            if r.hold.is_some() {
                why.push("invalid field 'for' in recording rule".into());
            }
            if r.keep_firing_for.is_some() {
                why.push("invalid field 'keep_firing_for' in recording rule".into());
            }
            RuleKind::Record(n)
        }
        (None, Some(n)) => {
            if n.is_empty() {
                why.push("field 'alert' must not be empty".into());
            }
            RuleKind::Alert(n)
        }
        (Some(n), Some(_)) => {
            why.push("only one of 'record' and 'alert' must be set".into());
            RuleKind::Record(n)
        }
        (None, None) => {
            why.push("one of 'record' or 'alert' must be set".into());
            RuleKind::Record(String::new())
        }
    };
    let name = match &kind {
        RuleKind::Record(n) | RuleKind::Alert(n) => n.clone(),
    };
    if r.expr.trim().is_empty() {
        why.push("field 'expr' must be set in rule".into());
    } else if let Err(e) = check_expr(&r.expr, lang) {
        why.push(format!("could not parse expression: {e}"));
    }
    for k in r.labels.keys() {
        if k == "__name__" {
            why.push(format!("invalid label name: {k} (rules set it themselves)"));
        } else if !is_label_name(k) {
            why.push(format!("invalid label name: {k}"));
        }
    }
    for k in r.annotations.keys() {
        if !is_label_name(k) {
            why.push(format!("invalid annotation name: {k}"));
        }
    }
    let mut duration = |key: &str, v: Option<String>| match v.as_deref().map(parse_duration) {
        None => Duration::ZERO,
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            why.push(format!("{key}: {e}"));
            Duration::ZERO
        }
    };
    let hold = duration("for", r.hold);
    let keep_firing_for = duration("keep_firing_for", r.keep_firing_for);
    if let RuleKind::Alert(_) = kind {
        for (what, map) in [("label", &r.labels), ("annotation", &r.annotations)] {
            for (k, v) in map {
                if let Err(e) = Template::parse_rule(&format!("{what} {k}"), v) {
                    why.push(e.to_string());
                }
            }
        }
    }
    if !why.is_empty() {
        return Err((name, why));
    }
    Ok(RuleSpec {
        kind,
        expr: r.expr,
        hold,
        keep_firing_for,
        labels: r.labels,
        annotations: r.annotations,
        line,
    })
}

fn check_expr(expr: &str, lang: Lang) -> Result<(), String> {
    match lang {
        Lang::Promql => strata_query::promql::parse(expr)
            .map(drop)
            .map_err(|e| e.to_string()),
        Lang::Logql => match strata_query::logql::parse(expr) {
            Ok(strata_query::logql::Expr::Metric(_)) => Ok(()),
            Ok(strata_query::logql::Expr::Log(_)) => {
                Err("a rule needs a metric query; this is a log query".into())
            }
            Err(e) => Err(e.to_string()),
        },
    }
}

/// A Prometheus duration (`1h30m`, `90s`, `0`): units `y w d h m s ms`, largest first.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let bad = || format!("not a valid duration string: {s:?}");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut next_unit = 0;
    let mut ms: u64 = 0;
    if rest.is_empty() {
        return Err("empty duration string".into());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        // `ms` before `m`: the longest unit that matches.
        let unit = UNITS
            .iter()
            .enumerate()
            .skip(next_unit)
            .filter(|(_, (u, _))| rest.starts_with(u))
            .max_by_key(|(_, (u, _))| u.len())
            .ok_or_else(bad)?;
        rest = &rest[unit.1.0.len()..];
        next_unit = unit.0 + 1;
        ms = n
            .checked_mul(unit.1.1)
            .and_then(|v| v.checked_add(ms))
            .ok_or_else(|| format!("duration out of range: {s:?}"))?;
    }
    Ok(Duration::from_millis(ms))
}

/// Prometheus's label name rule (`[a-zA-Z_][a-zA-Z0-9_]*`).
fn is_label_name(s: &str) -> bool {
    NameValidation::Legacy.is_valid(s)
}

/// Prometheus's metric name rule (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
fn is_metric_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
