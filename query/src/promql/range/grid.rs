//! A range function over a selector, evaluated for all the times it is evaluated at once:
//! a range query's steps, or a subquery's steps over all its evaluations (when they leave
//! no gap: the enclosing step is at most the subquery's range).
//!
//! Evaluating step by step touches every series' window at every step, jumping from series
//! to series. For a call like `rate(x[5m])` whose value at a time depends on that time only
//! (no `@`, literal scalar arguments), the evaluator instead computes every step's value
//! series by series on first use, as Prometheus does for range functions in range queries:
//! each series' samples are read once, in order, by two indexes moving forward. Large
//! selections are split over the available cores. The steps then read their values from
//! the table.

use std::num::NonZeroUsize;
use std::ops::Range;

use super::fns::{RangeFn, Window};
use crate::promql::error::{Result, exec};
use crate::promql::source::SourceSeries;
use crate::promql::value::is_stale_nan;

/// Below this many selected samples a table is computed on one thread.
const PARALLEL_MIN_SAMPLES: usize = 200_000;
/// Most threads one table is computed on.
const MAX_THREADS: usize = 4;
/// Largest table (series × steps) computed; larger selections are evaluated step by step.
pub(crate) const MAX_CELLS: usize = 50_000_000;

/// Bytes one (series, step) value takes in a table, and in the parts it is made from.
pub(crate) const CELL_BYTES: usize = std::mem::size_of::<(u32, f64)>();

/// The times a call is evaluated at and how its window sits relative to each.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    /// First step (ms).
    pub(crate) start: i64,
    /// Step (ms), positive.
    pub(crate) step: i64,
    /// Number of steps.
    pub(crate) steps: usize,
    /// The selector's offset (ms): a step at `t` reads the window ending at `t - offset`.
    pub(crate) offset: i64,
    /// The window's length (ms).
    pub(crate) range: i64,
}

impl Grid {
    /// Step `k`'s time and the window it reads.
    pub(crate) fn window(&self, k: usize) -> (i64, Window) {
        let t = self.start + self.step * k as i64;
        let end = t - self.offset;
        let w = Window {
            start: end - self.range,
            end,
            range_ms: self.range,
        };
        (t, w)
    }

    /// The index of the step at `t`, if `t` is one.
    pub(crate) fn index(&self, t: i64) -> Option<usize> {
        let d = t.checked_sub(self.start)?;
        if d < 0 || d % self.step != 0 {
            return None;
        }
        usize::try_from(d / self.step)
            .ok()
            .filter(|&k| k < self.steps)
    }
}

/// Where a series' window stands, step after step: two indexes that only move forward.
#[derive(Debug, Default)]
pub(crate) struct Cursor {
    a: usize,
    b: usize,
}

impl Cursor {
    /// The items of `items` (sorted by time `t`) in window `w`, which starts and ends no
    /// earlier than the window of the previous call.
    pub(crate) fn advance<T>(
        &mut self,
        items: &[T],
        t: impl Fn(&T) -> i64,
        w: Window,
    ) -> Range<usize> {
        while self.a < items.len() && t(&items[self.a]) <= w.start {
            self.a += 1;
        }
        self.b = self.b.max(self.a);
        while self.b < items.len() && t(&items[self.b]) <= w.end {
            self.b += 1;
        }
        self.a..self.b
    }
}

/// Every step's values of one call: floats, or (`eval/block_grid.rs`) histograms.
#[derive(Debug)]
pub(crate) struct GridTable<V = f64> {
    pub(crate) grid: Grid,
    /// Where each step's entries start in `entries` (`steps + 1` items).
    offsets: Vec<usize>,
    /// (series index, value) of each step, by step, then by series index.
    entries: Vec<(u32, V)>,
    /// Samples in the windows of each step (for the samples limit).
    samples: Vec<usize>,
    /// (step, series index) of the first window of each series a step-by-step evaluation
    /// would note something about (a name-checking function's name note, a histogram
    /// function's hint annotation), by step, then index: the step makes the note when it
    /// reads its values, as a step-by-step evaluation would, in the same order.
    noted: Vec<(usize, usize)>,
}

impl<V> GridTable<V> {
    /// Bytes the table holds (not counting what its values point to).
    pub(crate) fn bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<(u32, V)>()
            + (self.offsets.capacity() + self.samples.capacity() + 2 * self.noted.capacity()) * 8
    }

    /// Step `k`'s (series index, value) pairs and its window samples.
    pub(crate) fn at(&self, k: usize) -> (&[(u32, V)], usize) {
        (
            &self.entries[self.offsets[k]..self.offsets[k + 1]],
            self.samples[k],
        )
    }

    /// The series step `k` notes (see `noted`), by index.
    pub(crate) fn noted_at(&self, k: usize) -> impl Iterator<Item = usize> + '_ {
        let a = self.noted.partition_point(|&(s, _)| s < k);
        let e = self.noted.partition_point(|&(s, _)| s <= k);
        self.noted[a..e].iter().map(|&(_, i)| i)
    }

    /// Every value, step by step.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }
}

/// What one thread computed for a run of series.
pub(crate) struct Part<V = f64> {
    /// (step, value) of each series, concatenated; `ends[i]` is where series i's end.
    pub(crate) values: Vec<(u32, V)>,
    pub(crate) ends: Vec<usize>,
    pub(crate) samples: Vec<usize>,
    /// (first step whose window is noted, series index).
    pub(crate) checks: Vec<(usize, usize)>,
}

impl<V> Part<V> {
    /// An empty part for `series` series over `grid`.
    pub(crate) fn new(series: usize, grid: Grid) -> Self {
        Part {
            values: Vec::new(),
            ends: Vec::with_capacity(series),
            samples: vec![0; grid.steps],
            checks: Vec::new(),
        }
    }
}

/// Computes `f` over `series` at every step of `grid`.
pub(crate) fn compute(series: &[SourceSeries], f: &RangeFn<'_>, grid: Grid) -> Result<GridTable> {
    let parts = on_threads(
        series,
        |s| s.samples.len(),
        PARALLEL_MIN_SAMPLES,
        |run, first| compute_part(run, first, f, grid),
    )?;
    Ok(transpose(parts, grid))
}

/// `part` over runs of `series` of about equal `weight`, on up to [`MAX_THREADS`] threads
/// (one when the weights add up to less than `min`), each run's part given the run and the
/// index of its first series; the parts in series order.
pub(crate) fn on_threads<V: Send>(
    series: &[SourceSeries],
    weight: impl Fn(&SourceSeries) -> usize,
    min: usize,
    part: impl Fn(&[SourceSeries], usize) -> Result<Part<V>> + Sync,
) -> Result<Vec<Part<V>>> {
    if series.len() > u32::MAX as usize {
        return exec("too many series for one selector");
    }
    let total: usize = series.iter().map(&weight).sum();
    let threads = if total < min {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, NonZeroUsize::get)
            .min(MAX_THREADS)
    };
    if threads <= 1 {
        return Ok(vec![part(series, 0)?]);
    }
    // Runs of about equal weight.
    let per = total.div_ceil(threads);
    let mut bounds = vec![0];
    let mut acc = 0;
    for (i, s) in series.iter().enumerate() {
        acc += weight(s);
        if acc >= per * bounds.len() && i + 1 < series.len() {
            bounds.push(i + 1);
        }
    }
    bounds.push(series.len());
    bounds.dedup();
    let part = &part;
    std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .map(|b| {
                let (lo, hi) = (b[0], b[1]);
                scope.spawn(move || part(&series[lo..hi], lo))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r,
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

/// Series `first..` (`series` is that run) at every step.
fn compute_part(
    series: &[SourceSeries],
    first: usize,
    f: &RangeFn<'_>,
    grid: Grid,
) -> Result<Part> {
    let mut part = Part::new(series.len(), grid);
    let mut filtered = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let samples: &[(i64, f64)] = if s.samples.iter().any(|p| is_stale_nan(p.1)) {
            filtered.clear();
            filtered.extend(s.samples.iter().copied().filter(|p| !is_stale_nan(p.1)));
            &filtered
        } else {
            &s.samples
        };
        let mut checked = false;
        let mut cursor = Cursor::default();
        for k in 0..grid.steps {
            let (t, w) = grid.window(k);
            let pts = &samples[cursor.advance(samples, |p| p.0, w)];
            if !s.intervals.is_empty()
                && let Some(v) = super::tiers::value(&s.intervals, f, w)
            {
                part.samples[k] += pts.len().max(1);
                if let Some(v) = v {
                    part.values.push((k as u32, v));
                }
                continue;
            }
            if pts.is_empty() {
                continue;
            }
            part.samples[k] += pts.len();
            if !checked && f.checks_name(pts) {
                checked = true;
                part.checks.push((k, first + i));
            }
            if let Some(v) = f.value(pts, w, t)? {
                part.values.push((k as u32, v));
            }
        }
        part.ends.push(part.values.len());
    }
    Ok(part)
}

/// Turns per-series results into per-step ones.
pub(crate) fn transpose<V: Clone + Default>(parts: Vec<Part<V>>, grid: Grid) -> GridTable<V> {
    let mut samples = vec![0; grid.steps];
    let mut offsets = vec![0; grid.steps + 1];
    let mut checks = Vec::new();
    for p in &parts {
        for (k, n) in p.samples.iter().enumerate() {
            samples[k] += n;
        }
        for (k, _) in &p.values {
            offsets[*k as usize + 1] += 1;
        }
        checks.extend_from_slice(&p.checks);
    }
    for k in 0..grid.steps {
        offsets[k + 1] += offsets[k];
    }
    let mut next = offsets.clone();
    let mut entries = vec![(0u32, V::default()); offsets[grid.steps]];
    let mut index = 0u32;
    for p in parts {
        let mut values = p.values.into_iter();
        let mut from = 0;
        for &end in &p.ends {
            for (k, v) in values.by_ref().take(end - from) {
                entries[next[k as usize]] = (index, v);
                next[k as usize] += 1;
            }
            from = end;
            index += 1;
        }
    }
    checks.sort_unstable();
    GridTable {
        grid,
        offsets,
        entries,
        samples,
        noted: checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::Labels;

    #[test]
    fn grid_index_accepts_only_steps() {
        let g = Grid {
            start: 1_000,
            step: 60_000,
            steps: 3,
            offset: 0,
            range: 300_000,
        };
        assert_eq!(g.index(1_000), Some(0));
        assert_eq!(g.index(121_000), Some(2));
        assert_eq!(g.index(181_000), None);
        assert_eq!(g.index(61_001), None);
        assert_eq!(g.index(0), None);
    }

    #[test]
    fn table_matches_per_step_windows_on_both_thread_paths() {
        // Series with a gap, a staleness marker and different sample rates.
        let series: Vec<SourceSeries> = (0..60)
            .map(|j| {
                let every = 5_000 + 1_000 * j as i64;
                let samples = (0..4_000i64)
                    .filter(|i| !(100..300).contains(i))
                    .map(|i| {
                        let v = if i == 1_000 + j as i64 {
                            f64::from_bits(crate::promql::STALE_NAN_BITS)
                        } else {
                            (i % 97) as f64
                        };
                        (i * every, v)
                    })
                    .collect();
                SourceSeries {
                    block: None,
                    intervals: Vec::new(),
                    labels: Labels::from_pairs([("i", j.to_string())]),
                    samples,
                    histograms: Vec::new(),
                }
            })
            .collect();
        let grid = Grid {
            start: 0,
            step: 60_000,
            steps: 2_000,
            offset: 30_000,
            range: 300_000,
        };
        for name in ["rate", "max_over_time", "changes"] {
            let f = RangeFn {
                name,
                p1: 0.0,
                p2: 0.0,
            };
            let total: usize = series.iter().map(|s| s.samples.len()).sum();
            assert!(total > PARALLEL_MIN_SAMPLES, "exercises the threaded path");
            let table = compute(&series, &f, grid).expect("computes");
            let single = transpose(
                vec![compute_part(&series, 0, &f, grid).expect("computes")],
                grid,
            );
            for k in 0..grid.steps {
                let t = grid.start + grid.step * k as i64;
                let (end, start) = (t - grid.offset, t - grid.offset - grid.range);
                let mut want = Vec::new();
                let mut n = 0;
                for (i, s) in series.iter().enumerate() {
                    let pts = crate::promql::eval::window_points(&s.samples, start, end);
                    n += pts.len();
                    let w = Window {
                        start,
                        end,
                        range_ms: grid.range,
                    };
                    if !pts.is_empty()
                        && let Some(v) = f.value(&pts, w, t).expect("supported")
                    {
                        want.push((i as u32, v));
                    }
                }
                assert_eq!(table.at(k), (&want[..], n), "{name} step {k}");
                assert_eq!(single.at(k), (&want[..], n), "{name} step {k}");
            }
        }
    }
}
