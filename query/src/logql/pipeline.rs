//! A compiled LogQL pipeline: the stream selector's check and the stages after it, run
//! on one [`Entry`] at a time.
//!
//! Labels keep Loki's three categories: stream labels, structured metadata and parsed
//! labels. A parser's key that names a stream label or structured metadata becomes
//! `<key>_extracted`; structured metadata hides a stream label of the same name and a
//! parsed label hides both (Loki's `LabelsBuilder`). A stage that fails sets `__error__`
//! (and `__error_details__`) and keeps the entry, as in Loki: a label filter can drop
//! such entries (`| __error__=""`), and a metric query refuses series that keep one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use regex::Regex;

use super::ast::{
    CmpOp, LabelFilter, LabelFormatSrc, LineOp, MatchOp, Matcher, NameOrMatcher, Stage, Unwrap,
    UnwrapConv,
};
use super::error::{Error, Result};
use super::stages::ip::IpPattern;
use super::stages::{decolorize, json, logfmt, pattern, regexp, template, units};
use super::streams::{Entry, Labels};

/// Which of Loki's categories a label is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// From the stream.
    Stream,
    /// Structured metadata of the entry.
    Metadata,
    /// Set by a parser or format stage (and `__error__`).
    Parsed,
}

/// The labels of one entry while the pipeline runs.
#[derive(Debug, Clone, Default)]
pub struct LabelSet {
    labels: Vec<(String, String, Category)>,
    base: Arc<Labels>,
}

impl LabelSet {
    fn new(entry: &Entry) -> Self {
        let mut set = Self {
            labels: entry
                .stream
                .iter()
                .map(|(k, v)| (k.clone(), v.clone(), Category::Stream))
                .collect(),
            base: entry.stream.clone(),
        };
        for (k, v) in &entry.metadata {
            set.set(Category::Metadata, k, v);
        }
        set
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.0 == name)
            .map(|l| l.1.as_str())
    }

    fn base_has(&self, name: &str) -> bool {
        self.base.iter().any(|(k, _)| k == name)
            || self
                .labels
                .iter()
                .any(|l| l.0 == name && l.2 == Category::Metadata)
    }

    /// Sets `name` in `cat` with Loki's precedence: parsed over metadata over stream.
    fn set(&mut self, cat: Category, name: &str, value: &str) {
        if let Some(l) = self.labels.iter_mut().find(|l| l.0 == name) {
            let wins = match (cat, l.2) {
                (Category::Parsed, _) | (Category::Metadata, Category::Stream) => true,
                (a, b) => a == b,
            };
            if wins {
                value.clone_into(&mut l.1);
                l.2 = cat;
            }
            return;
        }
        self.labels.push((name.to_owned(), value.to_owned(), cat));
    }

    /// Sets a label a parser found, renamed `<key>_extracted` when the entry already
    /// has it as a stream label or structured metadata. A label an earlier parser of the
    /// pipeline set keeps its value (Loki's parsers skip keys already extracted).
    fn set_parsed(&mut self, key: &str, value: &str) {
        let name = if self.base_has(key) {
            format!("{key}_extracted")
        } else {
            key.to_owned()
        };
        if self
            .labels
            .iter()
            .any(|l| l.0 == name && l.2 == Category::Parsed)
        {
            return;
        }
        self.set(Category::Parsed, &name, value);
    }

    fn set_error(&mut self, kind: &str, details: &str) {
        if self.get("__error__").is_none() {
            self.set(Category::Parsed, "__error__", kind);
            if !details.is_empty() {
                self.set(Category::Parsed, "__error_details__", details);
            }
        }
    }

    fn remove(&mut self, name: &str) {
        self.labels.retain(|l| l.0 != name);
    }

    /// Every label, sorted by name.
    pub fn flat(&self) -> Labels {
        let mut out: Labels = self
            .labels
            .iter()
            .map(|(k, v, _)| (k.clone(), v.clone()))
            .collect();
        out.sort_unstable();
        out
    }

    /// The labels of one category, sorted by name.
    pub fn of(&self, cat: Category) -> Labels {
        let mut out: Labels = self
            .labels
            .iter()
            .filter(|l| l.2 == cat)
            .map(|(k, v, _)| (k.clone(), v.clone()))
            .collect();
        out.sort_unstable();
        out
    }
}

/// A matcher with its regex compiled (anchored, as Loki's and Prometheus's).
#[derive(Debug, Clone)]
struct CompiledMatcher {
    name: String,
    op: MatchOp,
    value: String,
    re: Option<Regex>,
}

impl CompiledMatcher {
    fn new(m: &Matcher) -> Result<Self> {
        let re = match m.op {
            MatchOp::Re | MatchOp::Nre => Some(anchored(&m.value)?),
            _ => None,
        };
        Ok(Self {
            name: m.name.clone(),
            op: m.op,
            value: m.value.clone(),
            re,
        })
    }

    fn matches(&self, value: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Eq, _) => value == self.value,
            (MatchOp::Ne, _) => value != self.value,
            (MatchOp::Re, Some(re)) => re.is_match(value),
            (MatchOp::Nre, Some(re)) => !re.is_match(value),
            _ => false,
        }
    }
}

fn anchored(re: &str) -> Result<Regex> {
    regex(&format!("^(?s:{re})$"))
}

/// A regex with a size limit, so a pathological one is refused instead of eating memory.
fn regex(re: &str) -> Result<Regex> {
    regex::RegexBuilder::new(re)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 22)
        .build()
        .map_err(|e| Error::Query(format!("invalid regexp {re:?}: {e}")))
}

fn value_of<'a>(labels: &'a Labels, name: &str) -> &'a str {
    labels
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// A label filter with its regexes compiled.
#[derive(Debug, Clone)]
enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    String(CompiledMatcher),
    Number(String, CmpOp, f64, fn(&str) -> Option<f64>),
    Ip(String, bool, IpPattern),
}

fn ip_pattern(s: &str) -> Result<IpPattern> {
    IpPattern::parse(s).map_err(|e| Error::Query(e.to_string()))
}

impl Filter {
    fn new(f: &LabelFilter) -> Result<Self> {
        Ok(match f {
            LabelFilter::And(a, b) => Self::And(Box::new(Self::new(a)?), Box::new(Self::new(b)?)),
            LabelFilter::Or(a, b) => Self::Or(Box::new(Self::new(a)?), Box::new(Self::new(b)?)),
            LabelFilter::String(m) => Self::String(CompiledMatcher::new(m)?),
            LabelFilter::Number { name, op, value } => {
                Self::Number(name.clone(), *op, *value, |s| s.trim().parse::<f64>().ok())
            }
            LabelFilter::Duration { name, op, seconds } => {
                Self::Number(name.clone(), *op, *seconds, units::parse_duration_seconds)
            }
            LabelFilter::Bytes { name, op, bytes } => {
                Self::Number(name.clone(), *op, *bytes, units::parse_bytes)
            }
            LabelFilter::Ip {
                name,
                negated,
                pattern,
            } => Self::Ip(name.clone(), *negated, ip_pattern(pattern)?),
        })
    }

    /// Whether the entry passes. A value that does not convert keeps the entry and sets
    /// `__error__="LabelFilterErr"`, as Loki does.
    fn keep(&self, labels: &mut LabelSet) -> bool {
        match self {
            Self::And(a, b) => a.keep(labels) && b.keep(labels),
            Self::Or(a, b) => a.keep(labels) || b.keep(labels),
            Self::String(m) => m.matches(labels.get(&m.name).unwrap_or("")),
            Self::Ip(name, negated, p) => {
                p.matches_value(labels.get(name).unwrap_or("")) != *negated
            }
            Self::Number(name, op, want, convert) => {
                let Some(text) = labels.get(name) else {
                    return false;
                };
                match convert(text) {
                    Some(v) => compare(*op, v, *want),
                    None => {
                        let details = format!("cannot convert {text:?} for label {name}");
                        labels.set_error("LabelFilterErr", &details);
                        true
                    }
                }
            }
        }
    }
}

fn compare(op: CmpOp, a: f64, b: f64) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
    }
}

/// A line filter's test for one value.
#[derive(Debug, Clone)]
enum LineTest {
    Contains(String),
    Regex(Regex),
    Pattern(pattern::Pattern),
    Ip(IpPattern),
}

impl LineTest {
    fn hit(&self, line: &str) -> bool {
        match self {
            Self::Contains(s) => line.contains(s.as_str()),
            Self::Regex(re) => re.is_match(line),
            Self::Pattern(p) => p.is_match(line),
            Self::Ip(p) => p.matches_line(line),
        }
    }
}

/// One compiled stage.
#[derive(Debug, Clone)]
enum Step {
    Line {
        negate: bool,
        tests: Vec<LineTest>,
    },
    Json(Vec<(String, String)>),
    Logfmt {
        strict: bool,
        keep_empty: bool,
        params: Vec<(String, String)>,
    },
    Regexp(regexp::RegexpParser),
    Pattern(pattern::Pattern),
    Unpack,
    Filter(Filter),
    LineFormat(template::Template),
    LabelFormat(Vec<(String, LabelFormatSrc, Option<template::Template>)>),
    Drop(Vec<(String, Option<CompiledMatcher>)>),
    Keep(Vec<(String, Option<CompiledMatcher>)>),
    Decolorize,
}

fn names_or_matchers(list: &[NameOrMatcher]) -> Result<Vec<(String, Option<CompiledMatcher>)>> {
    list.iter()
        .map(|n| match n {
            NameOrMatcher::Name(name) => Ok((name.clone(), None)),
            NameOrMatcher::Matcher(m) => Ok((m.name.clone(), Some(CompiledMatcher::new(m)?))),
        })
        .collect()
}

fn template_err(e: impl std::fmt::Display) -> Error {
    Error::Query(format!("invalid template: {e}"))
}

impl Step {
    fn new(stage: &Stage) -> Result<Self> {
        Ok(match stage {
            Stage::LineFilter(f) => {
                let negate = matches!(
                    f.op,
                    LineOp::NotContains | LineOp::NotMatch | LineOp::NotPattern | LineOp::NotIp
                );
                let tests = f
                    .values
                    .iter()
                    .map(|v| match f.op {
                        LineOp::Contains | LineOp::NotContains => Ok(LineTest::Contains(v.clone())),
                        LineOp::Match | LineOp::NotMatch => regex(v).map(LineTest::Regex),
                        LineOp::Pattern | LineOp::NotPattern => {
                            pattern::Pattern::parse_line_filter(v)
                                .map(LineTest::Pattern)
                                .map_err(|e| Error::Query(format!("invalid pattern {v:?}: {e}")))
                        }
                        LineOp::Ip | LineOp::NotIp => ip_pattern(v).map(LineTest::Ip),
                    })
                    .collect::<Result<Vec<_>>>()?;
                Self::Line { negate, tests }
            }
            Stage::Json(params) => Self::Json(params.clone()),
            Stage::Logfmt {
                strict,
                keep_empty,
                params,
            } => Self::Logfmt {
                strict: *strict,
                keep_empty: *keep_empty,
                params: params.clone(),
            },
            Stage::Regexp(re) => Self::Regexp(
                regexp::RegexpParser::new(re)
                    .map_err(|e| Error::Query(format!("invalid regexp stage: {e}")))?,
            ),
            Stage::Pattern(p) => Self::Pattern(
                pattern::Pattern::parse(p)
                    .map_err(|e| Error::Query(format!("invalid pattern {p:?}: {e}")))?,
            ),
            Stage::Unpack => Self::Unpack,
            Stage::LabelFilter(f) => Self::Filter(Filter::new(f)?),
            Stage::LineFormat(t) => {
                Self::LineFormat(template::Template::parse(t).map_err(template_err)?)
            }
            Stage::LabelFormat(list) => Self::LabelFormat(
                list.iter()
                    .map(|f| {
                        let t = match &f.src {
                            LabelFormatSrc::Template(t) => {
                                Some(template::Template::parse(t).map_err(template_err)?)
                            }
                            LabelFormatSrc::Rename(_) => None,
                        };
                        Ok((f.dst.clone(), f.src.clone(), t))
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            Stage::Drop(list) => Self::Drop(names_or_matchers(list)?),
            Stage::Keep(list) => Self::Keep(names_or_matchers(list)?),
            Stage::Decolorize => Self::Decolorize,
        })
    }

    /// Runs the step; `false` drops the entry.
    fn run(&self, ts_ns: i64, line: &mut String, labels: &mut LabelSet) -> bool {
        match self {
            Self::Line { negate, tests } => {
                let hit = tests.iter().any(|t| t.hit(line));
                hit != *negate
            }
            Self::Json(params) => {
                let found = if params.is_empty() {
                    json::extract_all(line)
                } else {
                    json::extract_paths(line, params)
                };
                match found {
                    Ok(pairs) => pairs.iter().for_each(|(k, v)| labels.set_parsed(k, v)),
                    Err(e) => labels.set_error("JSONParserErr", &e.to_string()),
                }
                true
            }
            Self::Logfmt {
                strict,
                keep_empty,
                params,
            } => {
                let found = if params.is_empty() {
                    logfmt::parse(line, *strict, *keep_empty)
                } else {
                    logfmt::parse_selected(line, params, *strict)
                };
                match found {
                    Ok(pairs) => pairs.iter().for_each(|(k, v)| labels.set_parsed(k, v)),
                    Err(e) => labels.set_error("LogfmtParserErr", &e.to_string()),
                }
                true
            }
            Self::Regexp(re) => {
                re.extract(line)
                    .iter()
                    .for_each(|(k, v)| labels.set_parsed(k, v));
                true
            }
            Self::Pattern(p) => {
                if let Some(pairs) = p.matches(line) {
                    pairs.iter().for_each(|(k, v)| labels.set_parsed(k, v));
                }
                true
            }
            Self::Unpack => {
                match json::unpack(line) {
                    Ok((pairs, entry)) => {
                        pairs.iter().for_each(|(k, v)| labels.set_parsed(k, v));
                        if let Some(entry) = entry {
                            *line = entry;
                        }
                    }
                    Err(e) => labels.set_error("JSONParserErr", &e.to_string()),
                }
                true
            }
            Self::Filter(f) => f.keep(labels),
            Self::LineFormat(t) => {
                let flat = labels.flat();
                let ctx = template::TemplateCtx {
                    labels: &flat,
                    line,
                    ts_ns,
                };
                match t.render(&ctx) {
                    Ok(out) => *line = out,
                    Err(e) => labels.set_error("TemplateFormatErr", &e.to_string()),
                }
                true
            }
            Self::LabelFormat(list) => {
                let flat = labels.flat();
                for (dst, src, t) in list {
                    match (src, t) {
                        (LabelFormatSrc::Rename(from), _) => {
                            let v = value_of(&flat, from).to_owned();
                            labels.remove(from);
                            labels.set(Category::Parsed, dst, &v);
                        }
                        (_, Some(t)) => {
                            let ctx = template::TemplateCtx {
                                labels: &flat,
                                line,
                                ts_ns,
                            };
                            match t.render(&ctx) {
                                Ok(v) => labels.set(Category::Parsed, dst, &v),
                                Err(e) => labels.set_error("TemplateFormatErr", &e.to_string()),
                            }
                        }
                        _ => {}
                    }
                }
                true
            }
            Self::Drop(list) => {
                for (name, m) in list {
                    let hit = match (m, labels.get(name)) {
                        (None, Some(_)) => true,
                        (Some(m), Some(v)) => m.matches(v),
                        _ => false,
                    };
                    if hit {
                        labels.remove(name);
                    }
                }
                true
            }
            Self::Keep(list) => {
                labels.labels.retain(|(k, v, _)| {
                    list.iter()
                        .any(|(name, m)| name == k && m.as_ref().is_none_or(|m| m.matches(v)))
                });
                true
            }
            Self::Decolorize => {
                *line = decolorize::decolorize(line).into_owned();
                true
            }
        }
    }
}

/// A selector and pipeline, compiled once per query.
#[derive(Debug)]
pub struct Pipeline {
    selector: Vec<CompiledMatcher>,
    steps: Vec<Step>,
    /// Selector verdicts by stream (the `Arc` held so its address is not reused).
    verdicts: Mutex<HashMap<usize, (Arc<Labels>, bool)>>,
}

/// What the pipeline made of an entry.
#[derive(Debug, Clone)]
pub struct Processed {
    /// All its labels, by category.
    pub labels: LabelSet,
    /// Its line after the stages.
    pub line: String,
}

impl Pipeline {
    /// Compiles a selector and its stages.
    pub fn new(selector: &[Matcher], stages: &[Stage]) -> Result<Self> {
        Ok(Self {
            selector: selector
                .iter()
                .map(CompiledMatcher::new)
                .collect::<Result<_>>()?,
            steps: stages.iter().map(Step::new).collect::<Result<_>>()?,
            verdicts: Mutex::new(HashMap::new()),
        })
    }

    /// Whether the selector matches the stream (cached per stream).
    pub(crate) fn selected(&self, stream: &Arc<Labels>) -> bool {
        // Keyed by address; the map holds the `Arc`, so the address is not reused.
        let key = Arc::as_ptr(stream) as usize;
        let mut cache = self.verdicts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, v)) = cache.get(&key) {
            return *v;
        }
        let v = self
            .selector
            .iter()
            .all(|m| m.matches(value_of(stream, &m.name)));
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(key, (stream.clone(), v));
        v
    }

    /// Runs one entry through the selector and the stages; `None` when it is filtered out.
    pub fn run(&self, entry: &Entry) -> Option<Processed> {
        if !self.selected(&entry.stream) {
            return None;
        }
        let mut labels = LabelSet::new(entry);
        let mut line = entry.line.clone();
        for step in &self.steps {
            if !step.run(entry.ts_ns, &mut line, &mut labels) {
                return None;
            }
        }
        Some(Processed { labels, line })
    }

    /// [`Pipeline::run`], with the labels flattened.
    pub fn process(&self, entry: &Entry) -> Option<(Labels, String)> {
        self.run(entry).map(|p| (p.labels.flat(), p.line))
    }
}

/// `| unwrap`: a sample's value from a label.
#[derive(Debug)]
pub struct Unwrapper {
    label: String,
    conv: UnwrapConv,
    post: Vec<Filter>,
}

impl Unwrapper {
    /// Compiles an unwrap and the label filters after it.
    pub fn new(u: &Unwrap) -> Result<Self> {
        Ok(Self {
            label: u.label.clone(),
            conv: u.conv,
            post: u
                .post_filters
                .iter()
                .map(Filter::new)
                .collect::<Result<_>>()?,
        })
    }

    /// The value of the entry `labels` (flattened, sorted): the unwrapped label is removed
    /// from them; one that does not convert sets `__error__="SampleExtractionErr"` (value
    /// 0). `None` when a filter after the unwrap drops the sample.
    pub fn extract(&self, labels: &mut Labels) -> Option<f64> {
        let text = labels
            .iter()
            .find(|(k, _)| *k == self.label)
            .map(|(_, v)| v.clone());
        labels.retain(|(k, _)| *k != self.label);
        let value = text.as_deref().and_then(|t| match self.conv {
            UnwrapConv::None => t.trim().parse::<f64>().ok(),
            UnwrapConv::Bytes => units::parse_bytes(t),
            UnwrapConv::Duration | UnwrapConv::DurationSeconds => units::parse_duration_seconds(t),
        });
        let mut set = LabelSet {
            labels: labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone(), Category::Parsed))
                .collect(),
            base: Arc::default(),
        };
        if value.is_none() && set.get("__error__").is_none() {
            let details = match &text {
                Some(t) => format!("cannot convert {t:?} of label {}", self.label),
                None => format!("label {} not found", self.label),
            };
            set.set_error("SampleExtractionErr", &details);
        }
        for f in &self.post {
            if !f.keep(&mut set) {
                return None;
            }
        }
        *labels = set.flat();
        Some(value.unwrap_or(0.0))
    }
}
