//! One series' bucket rows gathered from the bucket file column by column (times and
//! counts copied out of the decoded columns, one group per (negative, bucket)), and
//! placed into runs of one layout straight from those columns ([`Gathered::fill_runs`]).
//! Rows that do not fit runs so go to the per-sample walk ([`super::assemble`]) as
//! [`BucketRow`]s.

use std::ops::Range;

use super::buckets::{BucketColumns, BucketRow, indexes};
use crate::model::histogram::{HistogramRun, RunCounts};

/// Row kinds: an integer count is set.
const INT: u8 = 1;
/// A float count is set.
const FLOAT: u8 = 2;

/// Appends `values[rows]` to `out`, or as many zeros when the column was left out.
fn copy<T: Copy + Default>(out: &mut Vec<T>, values: &[T], rows: Range<usize>) {
    match values.get(rows.clone()) {
        Some(v) => out.extend_from_slice(v),
        None => out.resize(out.len() + rows.len(), T::default()),
    }
}

/// One series' bucket rows in a time range, column by column.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    /// Each (negative, bucket) met, in the order met, with its rows.
    groups: Vec<((bool, i32), Range<usize>)>,
    ts: Vec<i64>,
    count: Vec<u64>,
    count_float: Vec<f64>,
    /// [`INT`] and [`FLOAT`] of each row.
    kinds: Vec<u8>,
    /// Whether a group came out of increasing key order (the file's) or twice.
    unordered: bool,
}

impl Gathered {
    /// Empty, for the next series.
    pub(crate) fn clear(&mut self) {
        self.groups.clear();
        self.ts.clear();
        self.count.clear();
        self.count_float.clear();
        self.kinds.clear();
        self.unordered = false;
    }

    /// Rows gathered.
    pub(crate) fn len(&self) -> usize {
        self.ts.len()
    }

    /// Appends the rows `run` of `c` (one series', in file order) with ts in
    /// `[start, end]`. A bucket's rows all in the range (the common case) are copied as
    /// slices.
    pub(crate) fn take(
        &mut self,
        c: &BucketColumns<'_>,
        run: Range<usize>,
        (start, end): (i64, i64),
    ) {
        let (ts, bucket) = (c.ts.values(), c.bucket.values());
        let negative = c.negative.values();
        // Every row's kind, when no column has a null in some rows only.
        let kind = |col: bool, present: bool, flag: u8| match (col, present) {
            (true, _) => Some(flag),
            (false, false) => Some(0),
            (false, true) => None,
        };
        let uniform = match (
            kind(c.count.no_nulls(), !c.count.is_absent(), INT),
            kind(c.count_float.no_nulls(), !c.count_float.is_absent(), FLOAT),
        ) {
            (Some(a), Some(b)) => Some(a | b),
            _ => None,
        };
        let mut i = run.start;
        while i < run.end {
            let key = (negative.value(i), bucket[i]);
            let mut j = i
                + 1
                + bucket[i + 1..run.end]
                    .iter()
                    .position(|&b| b != key.1)
                    .unwrap_or(run.end - i - 1);
            // Rare: one index on both sides, next to each other.
            let set = negative.slice(i, j - i).count_set_bits();
            if set != 0 && set != j - i {
                j = (i + 1..j)
                    .find(|&r| negative.value(r) != key.0)
                    .unwrap_or(j);
            }
            let from = self.ts.len();
            let within = ts[i..j].iter().all(|&t| t >= start && t <= end);
            match uniform {
                Some(k) if within => {
                    self.ts.extend_from_slice(&ts[i..j]);
                    copy(&mut self.count, c.count.values(), i..j);
                    copy(&mut self.count_float, c.count_float.values(), i..j);
                    self.kinds.resize(self.kinds.len() + (j - i), k);
                }
                _ => self.take_rows(c, i..j, (start, end)),
            }
            let to = self.ts.len();
            if to > from {
                match self.groups.last_mut() {
                    Some((k, g)) if *k == key && g.end == from => g.end = to,
                    last => {
                        if last.is_some_and(|(k, _)| *k >= key) {
                            self.unordered = true;
                        }
                        self.groups.push((key, from..to));
                    }
                }
            }
            i = j;
        }
    }

    /// [`Self::take`] of rows `rows` of one bucket, row by row.
    fn take_rows(&mut self, c: &BucketColumns<'_>, rows: Range<usize>, (start, end): (i64, i64)) {
        let ts = c.ts.values();
        for r in rows {
            let t = ts[r];
            if t < start || t > end {
                continue;
            }
            self.ts.push(t);
            self.count.push(c.count.value(r));
            self.count_float.push(c.count_float.value(r));
            let int = if c.count.is_null(r) { 0 } else { INT };
            let float = if c.count_float.is_null(r) { 0 } else { FLOAT };
            self.kinds.push(int | float);
        }
    }

    /// The rows as [`BucketRow`]s, for the per-sample walk.
    pub(crate) fn rows(&self) -> Vec<BucketRow> {
        let mut out = Vec::with_capacity(self.len());
        for ((negative, bucket), g) in &self.groups {
            for r in g.clone() {
                out.push(BucketRow {
                    ts: self.ts[r],
                    negative: *negative,
                    bucket: *bucket,
                    count: (self.kinds[r] & INT != 0).then(|| self.count[r]),
                    count_float: (self.kinds[r] & FLOAT != 0).then(|| self.count_float[r]),
                });
            }
        }
        out
    }

    /// Fills `runs` (one series' runs in time order, their samples' columns without
    /// bucket counts) with their bucket counts: true when the rows are exactly, for each
    /// run and each bucket its layout covers, one row at each of the run's times with a
    /// count of the run's kind (and no other row); false (the runs' buckets then partly
    /// filled) for anything else, which the per-sample walk then places or reports.
    pub(crate) fn fill_runs(&self, runs: &mut [HistogramRun]) -> bool {
        if self.unordered {
            return false;
        }
        let mut used = 0;
        for run in runs.iter_mut() {
            let (Some(pos), Some(neg)) = (
                indexes(&run.layout.positive_spans),
                indexes(&run.layout.negative_spans),
            ) else {
                return false;
            };
            let (n, width) = (run.len(), pos.len() + neg.len());
            let (Some(&first), Some(&last)) = (run.ts.first(), run.ts.last()) else {
                return false;
            };
            let sides = pos
                .iter()
                .map(|&b| (false, b))
                .chain(neg.iter().map(|&b| (true, b)));
            let kind = match run.counts {
                RunCounts::Int { .. } => INT,
                RunCounts::Float { .. } => FLOAT,
            };
            match &mut run.counts {
                RunCounts::Int { buckets, .. } => buckets.resize(n * width, 0),
                RunCounts::Float { buckets, .. } => buckets.resize(n * width, 0.0),
            }
            for (k, key) in sides.enumerate() {
                let Ok(g) = self.groups.binary_search_by_key(&key, |(k, _)| *k) else {
                    return false;
                };
                let g = self.groups[g].1.clone();
                let ts = &self.ts[g.clone()];
                let a = g.start + ts.partition_point(|&t| t < first);
                let b = g.start + ts.partition_point(|&t| t <= last);
                let fits = b - a == n
                    && self.ts[a..b] == run.ts[..]
                    && self.kinds[a..b].iter().all(|&x| x & kind != 0);
                if !fits {
                    return false;
                }
                used += n;
                // Bucket by bucket in the file, sample by sample in the run.
                match &mut run.counts {
                    RunCounts::Int { buckets, .. } => {
                        for (j, &c) in self.count[a..b].iter().enumerate() {
                            buckets[j * width + k] = c;
                        }
                    }
                    RunCounts::Float { buckets, .. } => {
                        for (j, &c) in self.count_float[a..b].iter().enumerate() {
                            buckets[j * width + k] = c;
                        }
                    }
                }
            }
        }
        // No row left over: each was one run's (a run's rows are its times only).
        used == self.len()
    }
}
