//! [`HistogramRun`]: native histogram samples of one series that share one layout, column
//! by column, as a file set holds them (what [`crate::Engine::select_histogram_runs`] hands
//! out instead of a [`HistogramSample`] each).

use std::sync::Arc;

use super::{Counts, Histogram, HistogramSample, ResetHint};

/// Samples of one series in time order sharing one layout: schema, zero threshold (to the
/// bit), spans, custom bounds and kind of counts are `layout`'s; sample `i`'s time, hint,
/// sum and counts are the `i`-th of each column.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramRun {
    /// The shared layout: its sum, hint and counts are the first sample's, its bucket
    /// lists empty.
    pub layout: Histogram,
    /// Timestamps (ms), increasing.
    pub ts: Vec<i64>,
    /// The writer's counter-reset hints.
    pub reset_hints: Vec<ResetHint>,
    /// Sums.
    pub sums: Vec<f64>,
    /// The counts, of the layout's kind.
    pub counts: RunCounts,
}

/// A run's counts: integer or float, as its histograms hold them; bucket counts are
/// absolute (an integer histogram's are the wrapping sums of its deltas), sample by sample,
/// each sample's positive buckets then its negative ones.
#[derive(Debug, Clone, PartialEq)]
pub enum RunCounts {
    /// Integer histograms.
    Int {
        /// Observation counts.
        count: Vec<u64>,
        /// Zero-bucket counts.
        zero: Vec<u64>,
        /// Absolute bucket counts.
        buckets: Vec<u64>,
    },
    /// Float histograms.
    Float {
        /// Observation counts.
        count: Vec<f64>,
        /// Zero-bucket counts.
        zero: Vec<f64>,
        /// Bucket counts.
        buckets: Vec<f64>,
    },
}

impl HistogramRun {
    /// Samples held.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether the run holds no sample.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Positive buckets per sample, and all buckets per sample.
    pub fn widths(&self) -> (usize, usize) {
        let len = |s: &[super::Span]| s.iter().map(|s| s.length as usize).sum::<usize>();
        let npos = len(&self.layout.positive_spans);
        (npos, npos + len(&self.layout.negative_spans))
    }

    /// Sample `i` as a histogram of its own (with empty bucket lists while the run's
    /// bucket counts are not filled in).
    pub fn sample(&self, i: usize) -> HistogramSample {
        let (npos, width) = self.widths();
        let deltas = |abs: &[u64]| {
            let mut prev = 0u64;
            abs.iter()
                .map(|&c| {
                    let d = c.wrapping_sub(prev) as i64;
                    prev = c;
                    d
                })
                .collect()
        };
        let counts = match &self.counts {
            RunCounts::Int {
                count,
                zero,
                buckets,
            } => {
                let row = buckets.get(i * width..(i + 1) * width).unwrap_or_default();
                let npos = npos.min(row.len());
                Counts::Int {
                    count: count[i],
                    zero_count: zero[i],
                    positive_deltas: deltas(&row[..npos]),
                    negative_deltas: deltas(&row[npos..]),
                }
            }
            RunCounts::Float {
                count,
                zero,
                buckets,
            } => {
                let row = buckets.get(i * width..(i + 1) * width).unwrap_or_default();
                let npos = npos.min(row.len());
                Counts::Float {
                    count: count[i],
                    zero_count: zero[i],
                    positive: row[..npos].to_vec(),
                    negative: row[npos..].to_vec(),
                }
            }
        };
        HistogramSample {
            ts: self.ts[i],
            h: Arc::new(Histogram {
                sum: self.sums[i],
                reset_hint: self.reset_hints[i],
                counts,
                ..self.layout.clone()
            }),
        }
    }

    /// Every sample, one histogram each.
    pub fn samples(&self) -> impl Iterator<Item = HistogramSample> + '_ {
        (0..self.len()).map(|i| self.sample(i))
    }
}
