//! [`HistBlock`]: one series' histograms column by column, when they all share one bucket
//! layout (always for custom buckets on fixed bounds; for exponential ones while no bucket
//! comes or goes). `rate`, `increase` and `delta` over a window of a block read its columns
//! (`eval/range_block.rs`) instead of a [`FloatHistogram`] per sample.

use std::sync::Arc;

use strata_engine::{Counts, HistogramSample, ResetHint as EngineHint};

use super::{FloatHistogram, ResetHint, Span};
use crate::promql::value::is_stale_nan;

/// Histograms of one series that share their layout: the schema, zero threshold, spans
/// and custom bounds are `layout`'s, and sample `i`'s counts are the `i`-th of each column.
/// Hints are those Prometheus's TSDB reads back ([`super::tsdb_read_hints`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HistBlock {
    /// The shared layout; its counts, sum and hint are not used and its bucket lists are
    /// empty.
    layout: FloatHistogram,
    /// Positive buckets per sample (the negative ones follow them in `buckets`).
    npos: usize,
    /// Buckets per sample, positive and negative.
    width: usize,
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
    /// Bucket counts, sample by sample: sample `i`'s are `buckets[i * width..][..width]`.
    buckets: Vec<f64>,
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
    /// samples), or `None` when they do not qualify: fewer than two, a stale marker among
    /// them, layouts that differ, a NaN zero threshold, or spans that PromQL's arithmetic
    /// would not take bucket by bucket. The hints become the read-back ones.
    pub fn from_engine(hs: &[HistogramSample]) -> Option<Self> {
        let first = &hs.first()?.h;
        if hs.len() < 2 || first.zero_threshold.is_nan() {
            return None;
        }
        let same = |h: &strata_engine::Histogram| {
            h.schema == first.schema
                && h.zero_threshold.to_bits() == first.zero_threshold.to_bits()
                && h.positive_spans == first.positive_spans
                && h.negative_spans == first.negative_spans
                && h.custom_values == first.custom_values
                && h.counts.bucket_len() == first.counts.bucket_len()
                && !is_stale_nan(h.sum)
        };
        if !hs.iter().all(|s| same(&s.h)) {
            return None;
        }
        let npos = match &first.counts {
            Counts::Int {
                positive_deltas, ..
            } => positive_deltas.len(),
            Counts::Float { positive, .. } => positive.len(),
        };
        let width = first.counts.bucket_len();
        let layout = FloatHistogram {
            schema: first.schema,
            zero_threshold: first.zero_threshold,
            positive_spans: spans(&first.positive_spans),
            negative_spans: spans(&first.negative_spans),
            custom_values: Arc::from(first.custom_values.as_slice()),
            ..FloatHistogram::default()
        };
        let n = hs.len();
        let mut b = Self {
            layout,
            npos,
            width,
            ts: Vec::with_capacity(n),
            hints: Vec::with_capacity(n),
            count: Vec::with_capacity(n),
            sum: Vec::with_capacity(n),
            zero: Vec::with_capacity(n),
            buckets: Vec::with_capacity(n * width),
        };
        for s in hs {
            b.ts.push(s.ts);
            b.hints.push(hint(s.h.reset_hint));
            b.sum.push(s.h.sum);
            match &s.h.counts {
                Counts::Int {
                    count,
                    zero_count,
                    positive_deltas,
                    negative_deltas,
                } => {
                    b.count.push(*count as f64);
                    b.zero.push(*zero_count as f64);
                    // Absolute counts, as `FloatHistogram::from_engine` sums them.
                    for deltas in [positive_deltas, negative_deltas] {
                        let mut cur = 0i64;
                        b.buckets.extend(deltas.iter().map(|d| {
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
                    b.count.push(*count);
                    b.zero.push(*zero_count);
                    b.buckets.extend_from_slice(positive);
                    b.buckets.extend_from_slice(negative);
                }
            }
        }
        let one = b.get(0);
        if !one.same_layout(&one) {
            return None;
        }
        b.read_hints();
        Some(b)
    }

    /// Samples held.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether the block holds no sample (never, as built).
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Sample `i`'s bucket counts, positive then negative.
    pub(crate) fn row(&self, i: usize) -> &[f64] {
        &self.buckets[i * self.width..(i + 1) * self.width]
    }

    /// Sample `i` as a float histogram.
    pub fn get(&self, i: usize) -> FloatHistogram {
        let row = self.row(i);
        FloatHistogram {
            reset_hint: self.hints[i],
            count: self.count[i],
            sum: self.sum[i],
            zero_count: self.zero[i],
            positive: row[..self.npos].to_vec(),
            negative: row[self.npos..].to_vec(),
            ..self.layout.clone()
        }
    }

    /// Every sample, as the per-sample form holds them.
    pub fn expand(&self) -> Vec<(i64, Arc<FloatHistogram>)> {
        (0..self.len())
            .map(|i| (self.ts[i], Arc::new(self.get(i))))
            .collect()
    }

    /// Whether sample `i`'s counts say a counter reset happened since sample `i - 1`
    /// (`FloatHistogram::went_down_from` for one layout: a count, the zero count or a
    /// bucket went down).
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

    /// The hints `tsdb_read_hints` gives a series of one layout without floats or stale
    /// markers: gauges stay gauges; a counter histogram continues the chunk (`NotReset`)
    /// unless it is the first, follows a gauge, says `Reset` or went down (`Unknown`).
    fn read_hints(&mut self) {
        let mut prev_gauge = None;
        for i in 0..self.len() {
            let gauge = self.hints[i] == ResetHint::Gauge;
            let joins = prev_gauge == Some(gauge)
                && (gauge || (self.hints[i] != ResetHint::Reset && !self.went_down(i)));
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
        128 + self.len() * 33
            + self.buckets.len() * 8
            + 8 * (self.layout.positive_spans.len() + self.layout.negative_spans.len())
            + 8 * self.layout.custom_values.len()
    }
}
