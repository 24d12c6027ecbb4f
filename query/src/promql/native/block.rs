//! [`HistBlock`]: one series' histograms column by column, in runs that share one bucket
//! layout (custom buckets on fixed bounds change layout only when a bucket first fills;
//! exponential ones whenever a bucket comes or goes). `rate`, `increase` and `delta` over a
//! window inside one run read its columns (`eval/range_block.rs`) instead of a
//! [`FloatHistogram`] per sample.

use std::sync::Arc;

use strata_engine::{Counts, HistogramRun, HistogramSample, ResetHint as EngineHint, RunCounts};

use super::buckets::to_pairs;
use super::chunk_hints::appendable;
use super::{FloatHistogram, ResetHint, Span};
use crate::promql::value::is_stale_nan;

/// Histograms of one series, column by column: time runs of samples that share one layout
/// (segments; sample `i`'s schema, zero threshold, spans and custom bounds are its
/// segment's), and sample `i`'s counts the `i`-th of each column. Hints are those
/// Prometheus's TSDB reads back ([`super::tsdb_read_hints`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HistBlock {
    /// The segments in time order, the first starting at sample 0.
    segs: Vec<Segment>,
    /// Timestamps (ms), increasing.
    pub(crate) ts: Vec<i64>,
    /// Read-back counter-reset hints.
    pub(crate) hints: Vec<ResetHint>,
    /// Total counts.
    pub(crate) count: Vec<f64>,
    /// Sums.
    pub(crate) sum: Vec<f64>,
    /// Zero-bucket counts.
    pub(crate) zero: Vec<f64>,
    /// Bucket counts, sample by sample, positive then negative ([`Segment::width`] each).
    buckets: Vec<f64>,
    /// How many counter resets happened up to each sample, within segments: `resets[i] -
    /// resets[j]` (of one segment, `j < i`) says whether one happened after `j`, up to `i`.
    resets: Vec<u32>,
}

/// A run of samples sharing one layout.
#[derive(Debug, Clone, PartialEq)]
struct Segment {
    /// Its first sample.
    start: usize,
    /// Where that sample's bucket counts start in `buckets`.
    offset: usize,
    /// The shared layout; its counts, sum and hint are not used and its bucket lists are
    /// empty.
    layout: FloatHistogram,
    /// Positive buckets per sample.
    npos: usize,
    /// Buckets per sample, positive and negative.
    width: usize,
    /// The bucket index of each positive, then each negative position.
    indexes: Vec<i32>,
}

fn hint(h: EngineHint) -> ResetHint {
    match h {
        EngineHint::Unknown => ResetHint::Unknown,
        EngineHint::Reset => ResetHint::Reset,
        EngineHint::NotReset => ResetHint::NotReset,
        EngineHint::Gauge => ResetHint::Gauge,
    }
}

fn spans(s: &[strata_engine::Span]) -> Vec<Span> {
    s.iter()
        .map(|s| Span {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

impl HistBlock {
    /// The block of `hs` (one series' histograms in time order, a series without float
    /// samples); see [`Self::from_parts`].
    pub fn from_engine(hs: &[HistogramSample]) -> Option<Self> {
        Self::from_parts(&[], hs)
    }

    /// The block of one series' histograms, a series without float samples: `runs` (in
    /// time order) and `hs` (in time order), which do not meet in time. `None` when they
    /// do not qualify: fewer than two, a stale marker among them, a NaN zero threshold, or
    /// spans that PromQL's arithmetic would not take bucket by bucket. A new segment
    /// starts where the layout changes. The hints become the read-back ones.
    pub fn from_parts(runs: &[HistogramRun], hs: &[HistogramSample]) -> Option<Self> {
        let n = hs.len() + runs.iter().map(HistogramRun::len).sum::<usize>();
        if n < 2 {
            return None;
        }
        let cells = hs.iter().map(|s| s.h.counts.bucket_len()).sum::<usize>()
            + runs.iter().map(|r| r.widths().1 * r.len()).sum::<usize>();
        let mut b = Self {
            segs: Vec::new(),
            ts: Vec::with_capacity(n),
            hints: Vec::with_capacity(n),
            count: Vec::with_capacity(n),
            sum: Vec::with_capacity(n),
            zero: Vec::with_capacity(n),
            buckets: Vec::with_capacity(cells),
            resets: Vec::new(),
        };
        let mut prev: Option<&strata_engine::Histogram> = None;
        let (mut runs, mut hs) = (runs.iter().peekable(), hs.iter().peekable());
        loop {
            let run_first = match (runs.peek(), hs.peek()) {
                (Some(r), Some(s)) => r.ts.first().is_some_and(|&t| t < s.ts),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if run_first {
                let r = runs.next()?;
                b.add_run(r, prev)?;
                prev = Some(&r.layout);
            } else {
                let s = hs.next()?;
                b.add_sample(s, prev)?;
                prev = Some(&s.h);
            }
        }
        b.read_hints();
        b.count_resets();
        Some(b)
    }

    /// Appends a layout's segment unless `prev` (the layout of the sample before) is the
    /// same; `None` for a layout a block cannot hold.
    /// `(npos, width)`: the positive and all buckets each sample of `h`'s holds.
    fn layout(
        &mut self,
        h: &strata_engine::Histogram,
        prev: Option<&strata_engine::Histogram>,
        (npos, width): (usize, usize),
    ) -> Option<()> {
        if h.zero_threshold.is_nan() {
            return None;
        }
        if prev.is_none_or(|p| !same_layout(p, h)) {
            let seg = segment(h, (self.ts.len(), self.buckets.len()), (npos, width))?;
            self.segs.push(seg);
        }
        let seg = self.segs.last()?;
        (seg.npos == npos && seg.width == width).then_some(())
    }

    fn add_sample(
        &mut self,
        s: &HistogramSample,
        prev: Option<&strata_engine::Histogram>,
    ) -> Option<()> {
        let h = &*s.h;
        if is_stale_nan(h.sum) {
            return None;
        }
        let npos = match &h.counts {
            Counts::Int {
                positive_deltas, ..
            } => positive_deltas.len(),
            Counts::Float { positive, .. } => positive.len(),
        };
        self.layout(h, prev, (npos, h.counts.bucket_len()))?;
        self.ts.push(s.ts);
        self.hints.push(hint(h.reset_hint));
        self.sum.push(h.sum);
        match &h.counts {
            Counts::Int {
                count,
                zero_count,
                positive_deltas,
                negative_deltas,
            } => {
                self.count.push(*count as f64);
                self.zero.push(*zero_count as f64);
                // Absolute counts, as `FloatHistogram::from_engine` sums them.
                for deltas in [positive_deltas, negative_deltas] {
                    let mut cur = 0i64;
                    self.buckets.extend(deltas.iter().map(|d| {
                        cur = cur.wrapping_add(*d);
                        cur as f64
                    }));
                }
            }
            Counts::Float {
                count,
                zero_count,
                positive,
                negative,
            } => {
                self.count.push(*count);
                self.zero.push(*zero_count);
                self.buckets.extend_from_slice(positive);
                self.buckets.extend_from_slice(negative);
            }
        }
        Some(())
    }

    fn add_run(&mut self, r: &HistogramRun, prev: Option<&strata_engine::Histogram>) -> Option<()> {
        if r.is_empty() || r.sums.iter().any(|&v| is_stale_nan(v)) {
            return None;
        }
        let (npos, width) = r.widths();
        let cells = match &r.counts {
            RunCounts::Int { buckets, .. } => buckets.len(),
            RunCounts::Float { buckets, .. } => buckets.len(),
        };
        if cells != width * r.len() {
            return None;
        }
        self.layout(&r.layout, prev, (npos, width))?;
        self.ts.extend_from_slice(&r.ts);
        self.hints.extend(r.reset_hints.iter().map(|&h| hint(h)));
        self.sum.extend_from_slice(&r.sums);
        match &r.counts {
            RunCounts::Int {
                count,
                zero,
                buckets,
            } => {
                self.count.extend(count.iter().map(|&c| c as f64));
                self.zero.extend(zero.iter().map(|&c| c as f64));
                // The wrapping sum of a bucket's deltas, as `FloatHistogram::from_engine`
                // takes it.
                self.buckets
                    .extend(buckets.iter().map(|&c| c as i64 as f64));
            }
            RunCounts::Float {
                count,
                zero,
                buckets,
            } => {
                self.count.extend_from_slice(count);
                self.zero.extend_from_slice(zero);
                self.buckets.extend_from_slice(buckets);
            }
        }
        Some(())
    }

    /// Samples held.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// The most buckets (positive and negative) a sample holds.
    pub(crate) fn widest(&self) -> usize {
        self.segs.iter().map(|s| s.width).max().unwrap_or(0)
    }

    /// Whether the block holds no sample (never, as built).
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// The segment sample `i` belongs to.
    fn seg(&self, i: usize) -> &Segment {
        &self.segs[self.segs.partition_point(|s| s.start <= i) - 1]
    }

    /// Whether samples `r` (not empty) share one segment.
    pub(crate) fn one_layout(&self, r: &std::ops::Range<usize>) -> bool {
        let k = self.segs.partition_point(|s| s.start <= r.start);
        self.segs.get(k).is_none_or(|next| next.start >= r.end)
    }

    /// Sample `i`'s bucket counts, positive then negative.
    pub(crate) fn row(&self, i: usize) -> &[f64] {
        let s = self.seg(i);
        let at = s.offset + (i - s.start) * s.width;
        &self.buckets[at..at + s.width]
    }

    /// Sample `i` as a float histogram.
    pub fn get(&self, i: usize) -> FloatHistogram {
        let s = self.seg(i);
        let row = self.row(i);
        FloatHistogram {
            reset_hint: self.hints[i],
            count: self.count[i],
            sum: self.sum[i],
            zero_count: self.zero[i],
            positive: row[..s.npos].to_vec(),
            negative: row[s.npos..].to_vec(),
            ..s.layout.clone()
        }
    }

    /// Every sample, as the per-sample form holds them.
    pub fn expand(&self) -> Vec<(i64, Arc<FloatHistogram>)> {
        (0..self.len())
            .map(|i| (self.ts[i], Arc::new(self.get(i))))
            .collect()
    }

    /// Whether sample `i`'s counts say a counter reset happened since sample `i - 1`, of
    /// the same segment (`FloatHistogram::went_down_from` for one layout: a count, the
    /// zero count or a bucket went down).
    pub(crate) fn went_down(&self, i: usize) -> bool {
        let p = i - 1;
        self.count[i] < self.count[p]
            || self.zero[i] < self.zero[p]
            || self.row(i).iter().zip(self.row(p)).any(|(c, q)| c < q)
    }

    /// Whether a counter reset happened between samples `i - 1` and `i`
    /// (`FloatHistogram::detect_reset`).
    pub(crate) fn detect_reset(&self, i: usize) -> bool {
        match self.hints[i] {
            ResetHint::Reset => true,
            ResetHint::NotReset => false,
            ResetHint::Unknown | ResetHint::Gauge => self.went_down(i),
        }
    }

    /// Fills [`Self::resets`] (after the hints are the read-back ones).
    fn count_resets(&mut self) {
        let mut n = 0u32;
        let mut next_seg = 1;
        let mut resets = Vec::with_capacity(self.len());
        for i in 0..self.len() {
            if self.segs.get(next_seg).is_some_and(|s| s.start == i) {
                next_seg += 1;
            } else if i > 0 && self.detect_reset(i) {
                n += 1;
            }
            resets.push(n);
        }
        self.resets = resets;
    }

    /// Whether a counter reset happened after sample `first` up to sample `last` (of one
    /// segment).
    pub(crate) fn reset_within(&self, first: usize, last: usize) -> bool {
        self.resets[last] != self.resets[first]
    }

    /// Sample `last` minus sample `first` (of one segment) as `FloatHistogram::sub` and
    /// then `compact(0)` give it, built at once: the zero count only for exponential
    /// buckets, empty buckets dropped, the hint `Gauge`.
    pub(crate) fn difference(&self, last: usize, first: usize) -> FloatHistogram {
        let s = self.seg(last);
        let (mine, theirs) = (self.row(last), self.row(first));
        let sign = -1.0;
        // `from_pairs(.., 0)` of the non-zero differences, in one pass.
        let side = |range: std::ops::Range<usize>| {
            let mut spans: Vec<Span> = Vec::new();
            let mut counts = Vec::with_capacity(range.len());
            let mut last: Option<i32> = None;
            for k in range {
                let c = mine[k] + sign * theirs[k];
                if c == 0.0 {
                    continue;
                }
                let idx = s.indexes[k];
                match (last, spans.last_mut()) {
                    (Some(prev), Some(span)) if idx - prev - 1 <= 0 => span.length += 1,
                    (Some(prev), _) => spans.push(Span {
                        offset: idx - prev - 1,
                        length: 1,
                    }),
                    (None, _) => spans.push(Span {
                        offset: idx,
                        length: 1,
                    }),
                }
                counts.push(c);
                last = Some(idx);
            }
            (spans, counts)
        };
        let (positive_spans, positive) = side(0..s.npos);
        let (negative_spans, negative) = side(s.npos..s.width);
        let l = &s.layout;
        let mut zero_count = self.zero[last];
        if !l.uses_custom_buckets() {
            zero_count += sign * self.zero[first];
        }
        FloatHistogram {
            reset_hint: ResetHint::Gauge,
            schema: l.schema,
            zero_threshold: l.zero_threshold,
            zero_count,
            count: self.count[last] + sign * self.count[first],
            sum: self.sum[last] + sign * self.sum[first],
            positive_spans,
            negative_spans,
            positive,
            negative,
            custom_values: l.custom_values.clone(),
        }
    }

    /// The hints `tsdb_read_hints` gives a series without floats or stale markers: gauges
    /// stay gauges; a counter histogram continues the chunk (`NotReset`) unless it is the
    /// first, follows a gauge, says `Reset` or went down, or (at a segment's start) cannot
    /// follow the previous one (`Unknown`).
    fn read_hints(&mut self) {
        let mut prev_gauge = None;
        let mut next_seg = 1;
        for i in 0..self.len() {
            let gauge = self.hints[i] == ResetHint::Gauge;
            let starts = self.segs.get(next_seg).is_some_and(|s| s.start == i);
            if starts {
                next_seg += 1;
            }
            // `appendable` reads the new histogram's own hint, not yet replaced here.
            let follows = || {
                if starts {
                    appendable(&self.get(i - 1), &self.get(i))
                } else {
                    self.hints[i] != ResetHint::Reset && !self.went_down(i)
                }
            };
            let joins = prev_gauge == Some(gauge) && (gauge || follows());
            prev_gauge = Some(gauge);
            self.hints[i] = match (gauge, joins) {
                (true, _) => ResetHint::Gauge,
                (false, true) => ResetHint::NotReset,
                (false, false) => ResetHint::Unknown,
            };
        }
    }

    /// Estimated bytes in memory.
    pub fn bytes(&self) -> usize {
        let layouts: usize = self
            .segs
            .iter()
            .map(|s| {
                let l = &s.layout;
                160 + 8 * (l.positive_spans.len() + l.negative_spans.len())
                    + 4 * s.indexes.len()
                    + 8 * l.custom_values.len()
            })
            .sum();
        64 + self.len() * 37 + self.buckets.len() * 8 + layouts
    }
}

/// Whether `a` and `b` have one layout (schema, zero threshold to the bit, spans, custom
/// bounds).
fn same_layout(a: &strata_engine::Histogram, b: &strata_engine::Histogram) -> bool {
    a.schema == b.schema
        && a.zero_threshold.to_bits() == b.zero_threshold.to_bits()
        && a.positive_spans == b.positive_spans
        && a.negative_spans == b.negative_spans
        && a.custom_values == b.custom_values
}

/// A segment of `h`'s layout starting at sample `start`, its counts at `offset`, `npos`
/// positive buckets of `width` a sample; `None` when PromQL would not add and compare such
/// histograms bucket by bucket (which also needs a count for every bucket the spans cover).
fn segment(
    h: &strata_engine::Histogram,
    (start, offset): (usize, usize),
    (npos, width): (usize, usize),
) -> Option<Segment> {
    let layout = FloatHistogram {
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        positive_spans: spans(&h.positive_spans),
        negative_spans: spans(&h.negative_spans),
        custom_values: Arc::from(h.custom_values.as_slice()),
        ..FloatHistogram::default()
    };
    let one = FloatHistogram {
        positive: vec![0.0; npos],
        negative: vec![0.0; width.checked_sub(npos)?],
        ..layout.clone()
    };
    let indexes = [
        (&one.positive_spans, &one.positive),
        (&one.negative_spans, &one.negative),
    ]
    .into_iter()
    .flat_map(|(spans, counts)| to_pairs(spans, counts))
    .map(|(i, _)| i)
    .collect::<Vec<_>>();
    (one.same_layout(&one) && indexes.len() == width).then_some(Segment {
        start,
        offset,
        layout,
        npos,
        width,
        indexes,
    })
}
