//! The evaluator: walks the AST at one evaluation time, reading series fetched up front.
//!
//! Before evaluating, [`Evaluator::prefetch`] walks the tree once and computes, for every
//! selector, the widest time window any step can need (offset, `@`, range, lookback and
//! enclosing subqueries included), so storage is read once per selector, not per step.
//!
//! The operators (aggregations, binary operators, function calls) are its child modules:
//! they evaluate their arguments through the [`Evaluator`], which dispatches to them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use promql_parser::parser::{AtModifier, Call, Expr, Offset, SubqueryExpr, VectorSelector};

use super::annotations::Annotation;
use super::error::{Error, Result, exec};
use super::label_cache::{LabelCache, WordBuild, WordMap};
use super::source::{SeriesSource, SourceSeries, series_bytes};
use super::value::{Labels, Sample, Series, is_stale_histogram, is_stale_nan};
use crate::memory::Charge;

mod aggregate;
mod aggregate_hist;
mod binary;
mod columnar;
mod extended;
mod extended_hist;
mod functions;
mod histogram;
mod info;
mod labels_fns;
mod names;
mod position;
mod range_block;
mod range_hist;
mod selectors;
mod stats_only;
mod tables;

pub(crate) use names::NameUse;
use names::{DROP_NAME_ONLY_SITE, Marked};
pub(crate) use selectors::{selector_matchers, window_hpoints, window_points, window_points_from};

/// An intermediate value during evaluation at one time.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Scalar(f64),
    Str(String),
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}

impl Val {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::Str(_) => "string",
            Val::Vector(_) => "instant vector",
            Val::Matrix(_) => "range vector",
        }
    }
}

/// Per-series state of one selector's range windows across steps, by position in its
/// prefetched series.
#[derive(Debug, Default)]
pub(crate) struct SelectorCursors {
    /// Where each series' previous window started.
    pub(crate) starts: Vec<usize>,
    /// Whether each series' metric name has been checked for looking like a counter.
    pub(crate) name_checked: Vec<bool>,
}

/// The times an expression is evaluated at: multiples of `step` from `first` to `last`
/// (the top level of a range query, or a subquery's steps over every evaluation of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeGrid {
    /// First evaluation time (ms).
    pub(crate) first: i64,
    /// Distance between evaluation times (ms); 0 for a single time.
    pub(crate) step: i64,
    /// Last evaluation time (ms).
    pub(crate) last: i64,
    /// Whether every time of the grid is evaluated (windows of a subquery may leave gaps
    /// when its enclosing step is longer than its range).
    pub(crate) dense: bool,
}

impl TimeGrid {
    /// Number of times on the grid.
    pub(crate) fn steps(&self) -> Option<usize> {
        if self.step <= 0 || self.last < self.first {
            return None;
        }
        usize::try_from((self.last - self.first) / self.step + 1).ok()
    }
}

/// Limits and defaults of one evaluation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EvalSettings {
    pub(crate) lookback_ms: i64,
    pub(crate) subquery_step_ms: i64,
    pub(crate) max_samples: usize,
    pub(crate) deadline: Instant,
    /// Whether names are removed at the end of evaluation (see
    /// [`super::QueryOptions::delayed_name_removal`]) rather than at the node that drops them.
    pub(crate) delayed_name_removal: bool,
}

/// State of one query's evaluation.
pub(crate) struct Evaluator<'q> {
    /// The query text, for annotation positions.
    pub(crate) query: &'q str,
    data: HashMap<usize, Arc<Vec<SourceSeries>>>,
    /// Derived label sets, kept across steps.
    pub(crate) labels: LabelCache,
    cursors: HashMap<usize, SelectorCursors>,
    /// Range-function calls' tables over the steps (`None`: the call does not qualify), by
    /// the call's address.
    grids: HashMap<usize, Option<Arc<tables::Table>>>,
    /// The times each call is evaluated at, by the call's address (from [`Self::prefetch`]).
    call_times: WordMap<usize, TimeGrid>,
    /// Top-level start, end and step (ms); start == end and step 0 for instant queries.
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) interval: i64,
    settings: EvalSettings,
    pub(crate) warnings: Vec<String>,
    pub(crate) infos: Vec<String>,
    samples_in_step: usize,
    /// The query's memory charge (`None`: no budget, `max_samples` alone bounds it).
    pub(crate) charge: Option<Charge>,
    /// What the range-function tables in `grids` hold, charged to the same budget.
    pub(crate) tables: Option<Charge>,
    /// Scratch set of interned label-set addresses for [`Self::check_unique`], kept to
    /// reuse its allocation.
    seen: HashSet<usize, WordBuild>,
    /// Who reads the output of the next node [`Self::eval`] evaluates (taken by it).
    name_use: NameUse,
    /// Subqueries being evaluated (nested), so expressions in them run at many steps.
    in_subquery: u32,
    /// Per node (by address) read by a group key at many steps: the labels and marks of the
    /// last output found free of duplicates once named. Holding the labels keeps their
    /// addresses from being reused, so an output with the same addresses is the same.
    unique_outputs: WordMap<usize, Marked>,
    /// Per node (by address) whose names are removed at many steps: the labels and marks of
    /// its last output (held, as above) and the labels they became.
    settled_outputs: WordMap<usize, (Marked, Vec<Labels>)>,
    /// Per aggregation (by address) evaluated at many steps: how it grouped its last input.
    groupings: WordMap<usize, aggregate::Grouping>,
}

pub(crate) fn duration_ms(d: &Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(d),
        Some(Offset::Neg(d)) => -duration_ms(d),
    }
}

fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => duration_ms(&d),
        Err(e) => -duration_ms(&e.duration()),
    }
}

/// Removes parentheses around an expression.
pub(crate) fn unparen(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

impl<'q> Evaluator<'q> {
    pub(crate) fn new(
        query: &'q str,
        start: i64,
        end: i64,
        interval: i64,
        settings: EvalSettings,
    ) -> Self {
        Self {
            query,
            data: HashMap::new(),
            labels: LabelCache::default(),
            cursors: HashMap::new(),
            grids: HashMap::new(),
            call_times: WordMap::default(),
            start,
            end,
            interval,
            settings,
            warnings: Vec::new(),
            infos: Vec::new(),
            samples_in_step: 0,
            charge: None,
            tables: None,
            seen: HashSet::default(),
            name_use: NameUse::Any,
            in_subquery: 0,
            unique_outputs: WordMap::default(),
            settled_outputs: WordMap::default(),
            groupings: WordMap::default(),
        }
    }

    /// Adds a warning (deduplicated, as Prometheus's annotations are a set).
    pub(crate) fn warn(&mut self, msg: String) {
        let msg = format!("PromQL warning: {msg}");
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }

    /// Adds an info annotation (deduplicated).
    pub(crate) fn info(&mut self, msg: String) {
        let msg = format!("PromQL info: {msg}");
        if !self.infos.contains(&msg) {
            self.infos.push(msg);
        }
    }

    /// Adds annotation `a`, with the position suffix `pos` (see [`Self::arg_position`]).
    pub(crate) fn annotate(&mut self, a: Annotation, pos: &str) {
        let msg = format!("{}{pos}", a.message());
        if a.is_warning() {
            self.warn(msg);
        } else {
            self.info(msg);
        }
    }

    fn at_ms(&self, at: &Option<AtModifier>) -> Option<i64> {
        at.as_ref().map(|a| match a {
            AtModifier::Start => self.start,
            AtModifier::End => self.end,
            AtModifier::At(t) => system_time_ms(t),
        })
    }

    /// The reference time a selector or subquery with `at` and `offset` reads at when
    /// evaluated at `t`.
    pub(crate) fn ref_time(&self, at: &Option<AtModifier>, offset: &Option<Offset>, t: i64) -> i64 {
        self.at_ms(at).unwrap_or(t) - offset_ms(offset)
    }

    /// Reads every selector of `expr` from `source`, over the widest window any step needs,
    /// and notes the times each call is evaluated at.
    pub(crate) fn prefetch(&mut self, expr: &Expr, source: &dyn SeriesSource) -> Result<()> {
        let mut wanted: Vec<(&VectorSelector, i64, i64)> = Vec::new();
        let top = TimeGrid {
            first: self.start,
            step: self.interval,
            last: self.end,
            dense: true,
        };
        let mut calls = WordMap::default();
        self.plan(expr, self.start, self.end, top, &mut wanted, &mut calls);
        // Over a downsampled tier, the first steps look back one interval further.
        if let Some(from) = wanted.iter().map(|w| w.1).min() {
            let extra = source.extra_lookback(from);
            for w in &mut wanted {
                w.1 -= extra;
            }
        }
        self.call_times = calls;
        let stats_only = stats_only::stats_only_selectors(expr);
        let blocks = columnar::block_selectors(expr);
        for (vs, lo, hi) in wanted {
            let key = vs as *const VectorSelector as usize;
            let matchers = selector_matchers(vs);
            // Blocks are built only for the selectors that read them.
            let wants_blocks = blocks.contains(&key) && !stats_only.contains(&key);
            let mut series = self.load(source, &matchers, (lo, hi), wants_blocks)?;
            let res = series
                .iter()
                .flat_map(|s| s.intervals.iter().map(|i| i.resolution))
                .max();
            if let Some(res) = res {
                self.info(format!(
                    "part of the data is downsampled (resolution up to {}): rate, increase, \
                     delta and *_over_time are exact over windows aligned to it, the other \
                     functions read each interval's last sample",
                    strata_engine::format_resolution(res)
                ));
            }
            if stats_only.contains(&key) || !blocks.contains(&key) {
                // Charged again for what the expanded form holds beyond the block.
                let mut grown = 0;
                for s in series.iter_mut().filter(|s| s.block.is_some()) {
                    let before = series_bytes(s);
                    s.expand_block();
                    grown += series_bytes(s).saturating_sub(before);
                }
                self.hold(grown)?;
            }
            if stats_only.contains(&key) {
                for s in &mut series {
                    stats_only::stats_hints(&mut s.histograms);
                }
            }
            self.data.insert(key, Arc::new(series));
        }
        info::prefetch(self, expr, source)
    }

    /// Reads one selector's series over `window` (with `blocks`, histograms as blocks where
    /// they qualify), charged to the query's budget: under a budget the read stops, and the
    /// query is refused, once what it has gathered would put the query over its share
    /// ([`SeriesSource::select_for`]).
    fn load(
        &mut self,
        source: &dyn SeriesSource,
        matchers: &[super::source::LabelMatcher],
        window: (i64, i64),
        blocks: bool,
    ) -> Result<Vec<SourceSeries>> {
        let Some(c) = &self.charge else {
            let got = source.select_for(matchers, window, None, blocks)?;
            return Ok(got.unwrap_or_default());
        };
        let room = c.remaining();
        let Some(series) = source.select_for(matchers, window, Some(room), blocks)? else {
            return Err(c.refuse(room.saturating_add(1)).into());
        };
        self.hold(series.iter().map(series_bytes).sum())?;
        Ok(series)
    }

    /// Collects the selectors of `e` with the window of reference times they are read over
    /// (`lo..=hi`, before their own offset, `@` and range), and the evaluation times of its
    /// calls (`times`, those of `e`).
    fn plan<'e>(
        &self,
        e: &'e Expr,
        lo: i64,
        hi: i64,
        times: TimeGrid,
        out: &mut Vec<(&'e VectorSelector, i64, i64)>,
        calls: &mut WordMap<usize, TimeGrid>,
    ) {
        let window = |at: &Option<AtModifier>, off: &Option<Offset>| match self.at_ms(at) {
            Some(a) => (a - offset_ms(off), a - offset_ms(off)),
            None => (lo - offset_ms(off), hi - offset_ms(off)),
        };
        match e {
            Expr::VectorSelector(vs) => {
                let (a, b) = window(&vs.at, &vs.offset);
                let (_, after) = extended::margins(vs, self.settings.lookback_ms, false);
                out.push((vs, a - self.settings.lookback_ms, b + after));
            }
            Expr::MatrixSelector(ms) => {
                let (a, b) = window(&ms.vs.at, &ms.vs.offset);
                let (before, after) = extended::margins(&ms.vs, self.settings.lookback_ms, true);
                out.push((&ms.vs, a - duration_ms(&ms.range) - before, b + after));
            }
            Expr::Subquery(sq) => {
                let (a, b) = window(&sq.at, &sq.offset);
                let range = duration_ms(&sq.range);
                let step = self.subquery_step(sq);
                // As `subquery` walks them: multiples of the step in (ref - range, ref].
                let inner = TimeGrid {
                    first: (a - range).div_euclid(step) * step + step,
                    step,
                    last: b.div_euclid(step) * step,
                    // Consecutive evaluations' windows meet when they are at most `range`
                    // apart (one evaluation when the subquery has `@`).
                    dense: times.dense && (a == b || times.step <= range),
                };
                self.plan(&sq.expr, a - range, b, inner, out, calls);
            }
            Expr::Aggregate(a) => {
                self.plan(&a.expr, lo, hi, times, out, calls);
                if let Some(p) = &a.param {
                    self.plan(p, lo, hi, times, out, calls);
                }
            }
            Expr::Unary(u) => self.plan(&u.expr, lo, hi, times, out, calls),
            Expr::Binary(b) => {
                self.plan(&b.lhs, lo, hi, times, out, calls);
                self.plan(&b.rhs, lo, hi, times, out, calls);
            }
            Expr::Paren(p) => self.plan(&p.expr, lo, hi, times, out, calls),
            Expr::Call(c) => {
                calls.insert(c as *const Call as usize, times);
                for a in c.args.args.iter().take(info::planned_args(c)) {
                    self.plan(a, lo, hi, times, out, calls);
                }
            }
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
    }

    /// The step of subquery `sq` (the default one when it has none).
    fn subquery_step(&self, sq: &SubqueryExpr) -> i64 {
        sq.step
            .as_ref()
            .map(duration_ms)
            .filter(|s| *s > 0)
            .unwrap_or(self.settings.subquery_step_ms)
    }

    /// The times call `key` (its address) is evaluated at, as [`Self::prefetch`] planned.
    pub(crate) fn call_times(&self, key: usize) -> Option<TimeGrid> {
        self.call_times.get(&key).copied()
    }

    /// Starts a new top-level step: resets the per-step sample count, checks the timeout.
    pub(crate) fn begin_step(&mut self) -> Result<()> {
        self.samples_in_step = 0;
        self.labels.next_generation();
        self.check_deadline()
    }

    fn check_deadline(&self) -> Result<()> {
        if Instant::now() > self.settings.deadline {
            return Err(Error::Timeout("expression evaluation"));
        }
        Ok(())
    }

    /// Charges `bytes` more to the query's memory budget, if it has one.
    pub(crate) fn hold(&mut self, bytes: usize) -> Result<()> {
        match &mut self.charge {
            Some(c) => Ok(c.add(bytes)?),
            None => Ok(()),
        }
    }

    pub(crate) fn count_samples(&mut self, n: usize) -> Result<()> {
        self.samples_in_step += n;
        if self.samples_in_step > self.settings.max_samples {
            return Err(Error::TooManySamples("query execution"));
        }
        Ok(())
    }

    /// Evaluates `e` at time `t` (ms).
    pub(crate) fn eval(&mut self, e: &Expr, t: i64) -> Result<Val> {
        // Only this node's output goes where the caller said; its inputs go to it.
        let name_use = std::mem::take(&mut self.name_use);
        match e {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => {
                self.name_use = name_use;
                self.eval(&p.expr, t)
            }
            Expr::Unary(u) => match self.eval(&u.expr, t)? {
                Val::Scalar(v) => Ok(Val::Scalar(-v)),
                Val::Vector(mut v) => {
                    for s in &mut v {
                        s.value = -s.value;
                        if let Some(h) = &mut s.h {
                            Arc::make_mut(h).mul(-1.0);
                        }
                        s.drop_name = true;
                        s.ts = t;
                    }
                    self.settle_names(Val::Vector(v), name_use, e)
                }
                other => exec(format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                    other.type_name()
                )),
            },
            Expr::VectorSelector(vs) if vs.smoothed => extended::smoothed_vector(self, vs, t),
            Expr::VectorSelector(vs) => self.select_vector(vs, t).map(Val::Vector),
            Expr::MatrixSelector(ms) if ms.vs.anchored || ms.vs.smoothed => {
                extended::matrix(self, ms, t)
            }
            Expr::MatrixSelector(ms) => {
                let end = self.ref_time(&ms.vs.at, &ms.vs.offset, t);
                let start = end - duration_ms(&ms.range);
                self.select_matrix(&ms.vs, start, end).map(Val::Matrix)
            }
            Expr::Subquery(sq) => self.subquery(sq, t).map(Val::Matrix),
            Expr::Call(c) => {
                let v = if c.func.name == "info" {
                    info::eval(self, c, t)?
                } else if let Some(ms) = extended::extended_arg(c) {
                    extended::call(self, c, ms, t)?
                } else {
                    functions::call(self, c, t)?
                };
                self.settle_names(v, name_use, e)
            }
            Expr::Aggregate(a) => aggregate::eval(self, a, t),
            Expr::Binary(b) => {
                let v = binary::eval(self, b, t)?;
                self.settle_names(v, name_use, e)
            }
            Expr::Extension(_) => exec("extension expressions are not supported"),
        }
    }

    /// Evaluates `e` at `t`, requiring an instant vector.
    pub(crate) fn eval_vector(&mut self, e: &Expr, t: i64) -> Result<Vec<Sample>> {
        self.eval_vector_for(e, t, NameUse::Any)
    }

    /// [`Self::eval_vector`] for an output only `name_use` reads (see [`NameUse`]).
    pub(crate) fn eval_vector_for(
        &mut self,
        e: &Expr,
        t: i64,
        name_use: NameUse,
    ) -> Result<Vec<Sample>> {
        match self.eval_for(e, t, name_use)? {
            Val::Vector(v) => Ok(v),
            other => exec(format!(
                "expected instant vector, got {}",
                other.type_name()
            )),
        }
    }

    /// Evaluates `e` at `t`, requiring a scalar.
    pub(crate) fn eval_scalar(&mut self, e: &Expr, t: i64) -> Result<f64> {
        match self.eval(e, t)? {
            Val::Scalar(v) => Ok(v),
            other => exec(format!("expected scalar, got {}", other.type_name())),
        }
    }

    /// Evaluates `e` at `t`, requiring a range vector.
    pub(crate) fn eval_matrix(&mut self, e: &Expr, t: i64) -> Result<Vec<Series>> {
        match self.eval(e, t)? {
            Val::Matrix(m) => Ok(m),
            other => exec(format!("expected range vector, got {}", other.type_name())),
        }
    }

    /// The last non-stale sample of each series in `(ref - lookback, ref]`.
    fn select_vector(&mut self, vs: &VectorSelector, t: i64) -> Result<Vec<Sample>> {
        let reft = self.ref_time(&vs.at, &vs.offset, t);
        let lo = reft - self.settings.lookback_ms;
        let key = vs as *const VectorSelector as usize;
        let mut out = Vec::new();
        if let Some(series) = self.data.get(&key) {
            for s in series.iter() {
                // Where a tier holds the series, its samples are an interval apart: look
                // back over one more interval.
                let lo = match s
                    .intervals
                    .get(s.intervals.partition_point(|i| i.end < reft))
                {
                    Some(i) if i.end - i.resolution < reft => lo - i.resolution,
                    _ => lo,
                };
                let fi = s.samples.partition_point(|(ts, _)| *ts <= reft);
                let hi = s.histograms.partition_point(|(ts, _)| *ts <= reft);
                let f = fi.checked_sub(1).map(|i| s.samples[i]);
                let h = hi.checked_sub(1).map(|i| &s.histograms[i]);
                // The newer of the two kinds (a series has one sample per timestamp).
                let sample = match (f, h) {
                    (_, Some((hts, h))) if f.is_none_or(|(fts, _)| *hts > fts) => {
                        if *hts <= lo || is_stale_histogram(h) {
                            continue;
                        }
                        Sample {
                            labels: s.labels.clone(),
                            ts: *hts,
                            value: 0.0,
                            h: Some(h.clone()),
                            drop_name: false,
                        }
                    }
                    (Some((ts, v)), _) => {
                        if ts <= lo || is_stale_nan(v) {
                            continue;
                        }
                        Sample::float(s.labels.clone(), ts, v)
                    }
                    _ => continue,
                };
                out.push(sample);
            }
        }
        self.count_samples(out.len())?;
        Ok(out)
    }

    /// The non-stale samples of each series in `(start, end]`; series without any are left out.
    fn select_matrix(&mut self, vs: &VectorSelector, start: i64, end: i64) -> Result<Vec<Series>> {
        let mut out = Vec::new();
        let mut n = 0;
        if let Some(series) = self.selected(vs) {
            for s in series.iter() {
                let points = window_points(&s.samples, start, end).into_owned();
                let hpoints = window_hpoints(&s.histograms, start, end).into_owned();
                if points.is_empty() && hpoints.is_empty() {
                    continue;
                }
                n += points.len() + hpoints.len();
                out.push(Series {
                    labels: s.labels.clone(),
                    points,
                    hpoints,
                    drop_name: false,
                });
            }
        }
        self.count_samples(n)?;
        Ok(out)
    }

    /// Per-series state kept across steps for selector `vs`'s windows (see
    /// [`window_points_from`]): taken out, and given back with [`Self::put_cursors`].
    pub(crate) fn take_cursors(&mut self, vs: &VectorSelector) -> SelectorCursors {
        let key = vs as *const VectorSelector as usize;
        self.cursors.remove(&key).unwrap_or_default()
    }

    /// Gives back what [`Self::take_cursors`] took.
    pub(crate) fn put_cursors(&mut self, vs: &VectorSelector, c: SelectorCursors) {
        let key = vs as *const VectorSelector as usize;
        self.cursors.insert(key, c);
    }

    /// The table of the call at address `key`: `None` if not looked at yet, `Some(None)` if
    /// it does not qualify for one.
    pub(crate) fn grid_table(&self, key: usize) -> Option<Option<Arc<tables::Table>>> {
        self.grids.get(&key).cloned()
    }

    /// Records what [`Self::grid_table`] returns for `key`.
    pub(crate) fn put_grid_table(&mut self, key: usize, table: Option<Arc<tables::Table>>) {
        self.grids.insert(key, table);
    }

    /// How aggregation `site` grouped its input at the last step (taken out; give it back
    /// with [`Self::put_grouping`]).
    pub(crate) fn take_grouping(&mut self, site: usize) -> Option<aggregate::Grouping> {
        self.groupings.remove(&site)
    }

    /// Keeps `g` for aggregation `site`'s next step.
    pub(crate) fn put_grouping(&mut self, site: usize, g: aggregate::Grouping) {
        self.groupings.insert(site, g);
    }

    /// The series prefetched for selector `vs`.
    pub(crate) fn selected(&self, vs: &VectorSelector) -> Option<Arc<Vec<SourceSeries>>> {
        let key = vs as *const VectorSelector as usize;
        self.data.get(&key).cloned()
    }

    /// Whether the query evaluates each node once: an instant query, outside subqueries.
    pub(crate) fn single_step(&self) -> bool {
        self.start == self.end && self.in_subquery == 0
    }

    /// Evaluates `e`, whose output only `name_use` reads (see [`NameUse`]).
    pub(crate) fn eval_for(&mut self, e: &Expr, t: i64, name_use: NameUse) -> Result<Val> {
        self.name_use = name_use;
        self.eval(e, t)
    }

    /// Evaluates a subquery at `t`: its inner expression at every multiple of its step in
    /// `(ref - range, ref]`.
    fn subquery(&mut self, sq: &SubqueryExpr, t: i64) -> Result<Vec<Series>> {
        self.in_subquery += 1;
        let out = self.subquery_steps(sq, t);
        self.in_subquery -= 1;
        out
    }

    /// [`Self::subquery`]'s evaluation.
    fn subquery_steps(&mut self, sq: &SubqueryExpr, t: i64) -> Result<Vec<Series>> {
        let reft = self.ref_time(&sq.at, &sq.offset, t);
        let step = self.subquery_step(sq);
        let lo = reft - duration_ms(&sq.range);
        // The first multiple of `step` strictly after `lo`.
        let mut ts = lo.div_euclid(step) * step + step;
        // Keyed by the address of interned label sets, which is one per label set.
        let mut by_labels: WordMap<usize, usize> = WordMap::default();
        let mut seen: WordMap<usize, i64> = WordMap::default();
        let mut out: Vec<Series> = Vec::new();
        while ts <= reft {
            self.check_deadline()?;
            match self.eval(&sq.expr, ts)? {
                Val::Vector(v) => {
                    for s in v {
                        let fin = if s.drop_name {
                            self.labels
                                .derive(DROP_NAME_ONLY_SITE, &s.labels, Labels::without_name)
                        } else {
                            self.interned(&s.labels)
                        };
                        if seen.insert(fin.ptr(), ts) == Some(ts) {
                            return exec("vector cannot contain metrics with the same labelset");
                        }
                        let labels = self.interned(&s.labels);
                        let i = *by_labels.entry(labels.ptr()).or_insert_with(|| {
                            out.push(Series {
                                labels,
                                points: Vec::new(),
                                hpoints: Vec::new(),
                                drop_name: s.drop_name,
                            });
                            out.len() - 1
                        });
                        match s.h {
                            Some(h) => out[i].hpoints.push((ts, h)),
                            None => out[i].points.push((ts, s.value)),
                        }
                    }
                }
                Val::Scalar(v) => {
                    if out.is_empty() {
                        out.push(Series {
                            labels: Default::default(),
                            points: Vec::new(),
                            hpoints: Vec::new(),
                            drop_name: false,
                        });
                    }
                    out[0].points.push((ts, v));
                }
                other => {
                    return exec(format!(
                        "subquery is only allowed on instant vector or scalar, got {}",
                        other.type_name()
                    ));
                }
            }
            ts += step;
        }
        let n = out.iter().map(|s| s.points.len() + s.hpoints.len()).sum();
        self.count_samples(n)?;
        Ok(out)
    }

    /// The window `(start, end]` a range-vector argument covers at `t`, and its range (ms).
    pub(crate) fn range_window(&self, e: &Expr, t: i64) -> Option<(i64, i64, i64)> {
        match unparen(e) {
            Expr::MatrixSelector(ms) => {
                let end = self.ref_time(&ms.vs.at, &ms.vs.offset, t);
                let r = duration_ms(&ms.range);
                Some((end - r, end, r))
            }
            Expr::Subquery(sq) => {
                let end = self.ref_time(&sq.at, &sq.offset, t);
                let r = duration_ms(&sq.range);
                Some((end - r, end, r))
            }
            _ => None,
        }
    }
}
