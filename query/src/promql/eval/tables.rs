//! A range-function call's values at every time it is evaluated at, computed on first use
//! (`range/grid.rs`): floats from a selector's float samples, or, for `rate`, `increase`
//! and `delta` over a selector whose every series is a [`HistBlock`], histograms from the
//! blocks. The steps then read their values from the table.
//!
//! A histogram table holds each window's result, or a mark where the window's layout
//! changes or a counter reset happens in it: that step evaluates the window as a
//! step-by-step evaluation would, annotations included.

use std::sync::Arc;

use promql_parser::parser::{Call, Expr};

use super::range_block::{self, Rated};
use super::range_hist::{self, HistWindow};
use super::{Evaluator, duration_ms, offset_ms, unparen};
use crate::promql::error::Result;
use crate::promql::native::{FloatHistogram, HistBlock};
use crate::promql::range::fns::RangeFn;
use crate::promql::range::grid::{self, Cursor, Grid, GridTable, Part};
use crate::promql::source::SourceSeries;
use crate::promql::value::{Labels, Sample};

/// A histogram table's value: the window's result, or `None` where the step evaluates the
/// window sample by sample.
type Cell = Option<Arc<FloatHistogram>>;

/// Below this much work (samples, each bucket counted as one) a histogram table is computed
/// on one thread.
const PARALLEL_MIN_VALUES: usize = 200_000;

/// The table of one call.
#[derive(Debug)]
pub(crate) enum Table {
    Floats(GridTable),
    Histograms(GridTable<Cell>),
}

impl Table {
    fn grid(&self) -> Grid {
        match self {
            Table::Floats(t) => t.grid,
            Table::Histograms(t) => t.grid,
        }
    }
}

/// The call's value at `t` from its table over the times it is evaluated at (a range
/// query's steps, or a subquery's over all its evaluations; see [`grid`]),
/// computed on first use; `None` when the call does not qualify (a single evaluation time,
/// a subquery whose evaluations leave gaps, `@`, a scalar argument that is not a literal, a
/// time off the grid, a selection that mixes floats and histograms).
pub(crate) fn from_grid(
    ev: &mut Evaluator<'_>,
    c: &Call,
    f: &RangeFn<'_>,
    args: &[&Expr],
    m_idx: usize,
    keeps_name: bool,
    t: i64,
) -> Result<Option<Vec<Sample>>> {
    let key = c as *const Call as usize;
    let table = match ev.grid_table(key) {
        Some(Some(table)) => table,
        Some(None) => return Ok(None),
        None => {
            let table = build(ev, key, f, args, m_idx)?;
            ev.put_grid_table(key, table.clone());
            match table {
                Some(table) => table,
                None => return Ok(None),
            }
        }
    };
    let grid = table.grid();
    let Some(k) = grid.index(t) else {
        return Ok(None);
    };
    let Expr::MatrixSelector(ms) = unparen(args[m_idx]) else {
        return Ok(None);
    };
    let series = ev.selected(&ms.vs).unwrap_or_default();
    let sample = |labels: &Labels, value: f64, h: Cell| Sample {
        labels: labels.clone(),
        ts: t,
        value,
        h,
        drop_name: !keeps_name,
    };
    match &*table {
        Table::Floats(table) => {
            let (entries, n) = table.at(k);
            ev.count_samples(n)?;
            for i in table.noted_at(k) {
                note_name(f, ev, &series[i].labels);
            }
            Ok(Some(
                entries
                    .iter()
                    .map(|&(i, value)| sample(&series[i as usize].labels, value, None))
                    .collect(),
            ))
        }
        Table::Histograms(table) => {
            let (entries, n) = table.at(k);
            ev.count_samples(n)?;
            let (_, w) = grid.window(k);
            let mut pos: Option<String> = None;
            let mut noted = table.noted_at(k).peekable();
            let mut out = Vec::with_capacity(entries.len());
            for (i, cell) in entries {
                let s = &series[*i as usize];
                if noted.next_if_eq(&(*i as usize)).is_some() {
                    let p = pos.get_or_insert_with(|| ev.arg_position(f.name, Some(0)));
                    ev.annotate(range_block::note(f.name != "delta", s.labels.name()), p);
                }
                match (cell, &s.block) {
                    (Some(h), _) => out.push(sample(&s.labels, 0.0, Some(h.clone()))),
                    // A layout change or a counter reset in the window: the per-sample path,
                    // as the step-by-step evaluation takes it.
                    (None, Some(b)) => {
                        let hpts = range_block::points(b, range_block::window(b, w.start, w.end));
                        let hw = HistWindow {
                            pts: &[],
                            hpts: &hpts,
                            metric: s.labels.name(),
                            pos: pos.get_or_insert_with(|| ev.arg_position(f.name, Some(0))),
                        };
                        if let Some(Some((value, h))) = range_hist::apply(ev, f.name, &hw, w) {
                            out.push(sample(&s.labels, value, h));
                        }
                    }
                    (None, None) => {}
                }
            }
            Ok(Some(out))
        }
    }
}

/// The table of a call that qualifies for one (see [`from_grid`]).
fn build(
    ev: &mut Evaluator<'_>,
    key: usize,
    f: &RangeFn<'_>,
    args: &[&Expr],
    m_idx: usize,
) -> Result<Option<Arc<Table>>> {
    // Every time the call is evaluated at must be on the grid, and (so that the table
    // notes only what a step-by-step evaluation would) every time on it evaluated.
    let Some(times) = ev.call_times(key).filter(|g| g.dense) else {
        return Ok(None);
    };
    let Some(steps) = times.steps() else {
        return Ok(None);
    };
    let Expr::MatrixSelector(ms) = unparen(args[m_idx]) else {
        return Ok(None);
    };
    let literal = |e: &&Expr| matches!(unparen(e), Expr::NumberLiteral(_));
    if ms.vs.at.is_some()
        || !args
            .iter()
            .enumerate()
            .all(|(i, e)| i == m_idx || literal(e))
    {
        return Ok(None);
    }
    let Some(series) = ev.selected(&ms.vs) else {
        return Ok(None);
    };
    if steps < 2 || series.len().saturating_mul(steps) > grid::MAX_CELLS {
        return Ok(None);
    }
    let grid = Grid {
        start: times.first,
        step: times.step,
        steps,
        offset: offset_ms(&ms.vs.offset),
        range: duration_ms(&ms.range),
    };
    let floats_only = series
        .iter()
        .all(|s| s.histograms.is_empty() && s.block.is_none());
    let blocks_only = |s: &SourceSeries| {
        s.block.is_some()
            && s.samples.is_empty()
            && s.histograms.is_empty()
            && s.intervals.is_empty()
    };
    // Under a budget a table is made only when, at its largest (the per-series parts and
    // the table while one becomes the other), it fits in half of what the query has left;
    // otherwise the call is evaluated step by step, holding one step at a time.
    let (most, table) = if floats_only {
        let most = series.len() * steps * 2 * grid::CELL_BYTES;
        if !reserve(ev, most)? {
            return Ok(None);
        }
        (most, Table::Floats(grid::compute(&series, f, grid)?))
    } else if super::columnar::BLOCK_FUNCTIONS.contains(&f.name) && series.iter().all(blocks_only) {
        let widest = series
            .iter()
            .filter_map(|s| s.block.as_ref())
            .map(|b| b.widest())
            .max()
            .unwrap_or(0);
        let most = series
            .len()
            .saturating_mul(steps)
            .saturating_mul(2 * grid::CELL_BYTES + histogram_bytes(widest));
        // No larger than the largest float table, budget or not.
        if most > grid::MAX_CELLS * 2 * grid::CELL_BYTES || !reserve(ev, most)? {
            return Ok(None);
        }
        let flags = (f.name != "delta", f.name == "rate");
        let parts = grid::on_threads(
            &series,
            |s| s.block.as_ref().map_or(0, |b| b.len() * (1 + b.widest())),
            PARALLEL_MIN_VALUES,
            |run, first| Ok(block_part(run, first, grid, flags)),
        )?;
        (most, Table::Histograms(grid::transpose(parts, grid)))
    } else {
        return Ok(None);
    };
    if let Some(c) = &mut ev.tables {
        c.set(c.held() - most + table_bytes(&table))?;
    }
    Ok(Some(Arc::new(table)))
}

/// Charges `bytes` to the query's tables; false (nothing charged) when they do not fit in
/// half of what the query has left.
fn reserve(ev: &mut Evaluator<'_>, bytes: usize) -> Result<bool> {
    if let Some(c) = &mut ev.tables {
        if bytes > c.remaining() / 2 {
            return Ok(false);
        }
        c.add(bytes)?;
    }
    Ok(true)
}

/// Bytes a histogram result with up to `buckets` buckets holds, its `Arc` included.
fn histogram_bytes(buckets: usize) -> usize {
    std::mem::size_of::<FloatHistogram>() + 16 + 8 * buckets + 16
}

/// Bytes `table` holds, with the histograms it holds.
fn table_bytes(table: &Table) -> usize {
    match table {
        Table::Floats(t) => t.bytes(),
        Table::Histograms(t) => {
            t.bytes()
                + t.values()
                    .flatten()
                    .map(|h| {
                        histogram_bytes(h.positive.capacity() + h.negative.capacity())
                            + 8 * (h.positive_spans.capacity() + h.negative_spans.capacity())
                    })
                    .sum::<usize>()
        }
    }
}

/// `rate`, `increase` or `delta` (`flags` as [`range_block::rated`] takes them) over the
/// blocks of `series` (whose first is series `first` of the selection) at every step.
fn block_part(
    series: &[SourceSeries],
    first: usize,
    grid: Grid,
    flags: (bool, bool),
) -> Part<Cell> {
    let mut part = Part::new(series.len(), grid);
    for (i, s) in series.iter().enumerate() {
        if let Some(b) = &s.block {
            steps_of(&mut part, b, first + i, grid, flags);
        }
        part.ends.push(part.values.len());
    }
    part
}

/// Block `b`'s (series `index`'s) windows at every step, into `part`.
fn steps_of(part: &mut Part<Cell>, b: &HistBlock, index: usize, grid: Grid, flags: (bool, bool)) {
    let mut cursor = Cursor::default();
    let mut noted = false;
    for k in 0..grid.steps {
        let (_, w) = grid.window(k);
        let r = cursor.advance(&b.ts, |&t| t, w);
        if r.is_empty() {
            continue;
        }
        part.samples[k] += r.len();
        match range_block::rated(b, r, w, flags) {
            Rated::Short => {}
            Rated::PerSample => part.values.push((k as u32, None)),
            Rated::Value(h, note) => {
                if note && !noted {
                    noted = true;
                    part.checks.push((k, index));
                }
                part.values.push((k as u32, Some(Arc::new(h))));
            }
        }
    }
}

/// Notes (as an info) that `labels`' metric name does not look like a counter's, if so.
pub(crate) fn note_name(f: &RangeFn<'_>, ev: &mut Evaluator<'_>, labels: &Labels) {
    let mname = labels.name();
    if !mname.is_empty()
        && !["_total", "_sum", "_count", "_bucket"]
            .iter()
            .any(|suf| mname.ends_with(suf))
    {
        let msg = format!(
            "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {mname:?}"
        );
        let pos = ev.arg_position(f.name, Some(0));
        ev.info(format!("{msg}{pos}"));
    }
}
