//! Reassembling histogram samples from a histograms file's rows (histograms without their
//! bucket counts) and the bucket file's rows of the same series: for each sample, walk its
//! spans and take, for every index, the bucket row at the sample's ts; integer deltas come
//! back by differencing the absolute counts. Any mismatch between the two files (a
//! missing, extra, duplicate or mistyped bucket row) is an error naming the series and ts.

use std::path::Path;
use std::sync::Arc;

use super::buckets::BucketRow;
use crate::Result;
use crate::model::histogram::{Counts, Histogram, HistogramSample, Span};
use crate::model::series::SeriesId;
use crate::storage::parquet_io::bad;

/// Series `id`'s samples: `heads` (in time order, bucket lists empty) filled from `rows`
/// (its bucket rows at those timestamps, in any order; the bucket file's own order,
/// (negative, bucket, ts), costs no sort), handed to `visit` in time order. `path` names
/// the bucket file in errors.
///
/// One pass in (negative, bucket, ts) order: each row goes to its sample (found by walking
/// the bucket's run of timestamps alongside `heads`), where it must be the next bucket that
/// sample's spans cover; its count is appended at once, so a sample's buckets arrive in
/// span order without a regrouping step.
pub(crate) fn assemble_series(
    id: SeriesId,
    mut heads: Vec<(i64, Histogram)>,
    rows: &mut [BucketRow],
    path: &Path,
    visit: &mut dyn FnMut(SeriesId, HistogramSample),
) -> Result<()> {
    let key = |r: &BucketRow| (r.negative, r.bucket, r.ts);
    if !rows.windows(2).all(|w| key(&w[0]) < key(&w[1])) {
        rows.sort_by_key(key);
    }
    let mut walks: Vec<Walks> = heads.iter_mut().map(|(_, h)| Walks::start(h)).collect();
    let mut k = 0;
    let mut prev: Option<(bool, i32)> = None;
    for r in rows.iter() {
        // A new bucket run starts again from the first sample.
        if prev != Some((r.negative, r.bucket)) {
            k = 0;
            prev = Some((r.negative, r.bucket));
        }
        // Mostly the very next sample: look there before searching.
        if heads.get(k).is_none_or(|(ts, _)| *ts != r.ts) {
            k += heads[k..].partition_point(|(ts, _)| *ts < r.ts);
        }
        let Some((ts, h)) = heads.get_mut(k) else {
            return Err(fail(path, id, r.ts, "bucket rows without a histogram"));
        };
        if *ts != r.ts {
            return Err(fail(path, id, r.ts, "bucket rows without a histogram"));
        }
        walks[k]
            .take(h, r)
            .map_err(|what| fail(path, id, r.ts, &what))?;
        k += 1;
    }
    for ((ts, mut h), w) in heads.into_iter().zip(walks) {
        w.finish(&mut h).map_err(|what| fail(path, id, ts, &what))?;
        visit(id, HistogramSample { ts, h: Arc::new(h) });
    }
    Ok(())
}

fn fail(path: &Path, id: SeriesId, ts: i64, what: &str) -> crate::Error {
    bad(path, format!("histogram of series {id} at {ts}: {what}"))
}

/// Where one sample's filling stands: the side (positive, then negative) and the spans'
/// walk on it, and the last absolute count (integer deltas are differences of them).
#[derive(Debug, Clone, Copy, Default)]
struct Walks {
    negative: bool,
    walk: Walk,
    prev: u64,
    /// Rows taken, for the mismatch message.
    taken: usize,
}

/// A walk over the bucket indexes a side's spans cover ([`super::buckets::indexes`]'s
/// order): the next span to open, the indexes left in the open one, and the next index.
#[derive(Debug, Clone, Copy, Default)]
struct Walk {
    span: usize,
    left: u32,
    next: i64,
}

impl Walk {
    /// The next index `spans` cover, `Ok(None)` past the last; an error for spans that
    /// overlap or leave i32.
    fn next(&mut self, spans: &[Span]) -> std::result::Result<Option<i32>, String> {
        while self.left == 0 {
            let Some(s) = spans.get(self.span) else {
                return Ok(None);
            };
            let start = self.next + i64::from(s.offset);
            if self.span > 0 && start < self.next {
                return Err("spans overlap".into());
            }
            self.span += 1;
            self.left = s.length;
            self.next = start;
        }
        let i = i32::try_from(self.next).map_err(|_| "a bucket index leaves i32".to_string())?;
        self.left -= 1;
        self.next += 1;
        Ok(Some(i))
    }

    /// Indexes left to cover.
    fn remaining(mut self, spans: &[Span]) -> usize {
        let mut n = 0;
        while let Ok(Some(_)) = self.next(spans) {
            n += 1;
        }
        n
    }
}

impl Walks {
    /// A fresh walk of `h`, whose bucket lists get room for every index its spans cover.
    fn start(h: &mut Histogram) -> Self {
        let len = |spans: &[Span]| spans.iter().map(|s| s.length as usize).sum::<usize>();
        let (p, n) = (len(&h.positive_spans), len(&h.negative_spans));
        match &mut h.counts {
            Counts::Int {
                positive_deltas,
                negative_deltas,
                ..
            } => {
                positive_deltas.reserve_exact(p);
                negative_deltas.reserve_exact(n);
            }
            Counts::Float {
                positive, negative, ..
            } => {
                positive.reserve_exact(p);
                negative.reserve_exact(n);
            }
        }
        Self::default()
    }

    /// Appends row `r` to `h`: it must be the next bucket `h`'s spans cover.
    fn take(&mut self, h: &mut Histogram, r: &BucketRow) -> std::result::Result<(), String> {
        if r.negative != self.negative {
            // Every positive bucket comes first (rows sort false before true).
            if !r.negative {
                return Err("a positive bucket after the negative ones".into());
            }
            self.side_done(&h.positive_spans)?;
            *self = Self {
                negative: true,
                ..Self::default()
            };
        }
        let spans = if self.negative {
            &h.negative_spans
        } else {
            &h.positive_spans
        };
        match self.walk.next(spans)? {
            Some(i) if i == r.bucket => {}
            Some(i) => {
                return Err(format!(
                    "expected bucket {i} (negative: {}), found {} (negative: {})",
                    self.negative, r.bucket, r.negative
                ));
            }
            None => {
                return Err(format!(
                    "the spans cover {} buckets (negative: {}), the bucket file holds more",
                    self.taken, self.negative
                ));
            }
        }
        self.taken += 1;
        match &mut h.counts {
            Counts::Int {
                positive_deltas,
                negative_deltas,
                ..
            } => {
                let c = r
                    .count
                    .ok_or("an integer histogram's bucket without count")?;
                let out = if self.negative {
                    negative_deltas
                } else {
                    positive_deltas
                };
                out.push(c.wrapping_sub(self.prev) as i64);
                self.prev = c;
            }
            Counts::Float {
                positive, negative, ..
            } => {
                let c = r
                    .count_float
                    .ok_or("a float histogram's bucket without count_float")?;
                if self.negative {
                    negative.push(c);
                } else {
                    positive.push(c);
                }
            }
        }
        Ok(())
    }

    /// Checks that every index `h`'s spans cover was filled.
    fn finish(self, h: &mut Histogram) -> std::result::Result<(), String> {
        let mut w = self;
        if !w.negative {
            w.side_done(&h.positive_spans)?;
            w = Self {
                negative: true,
                ..Self::default()
            };
        }
        w.side_done(&h.negative_spans)
    }

    /// Checks that the side being filled (its `spans`) has every index filled.
    fn side_done(&self, spans: &[Span]) -> std::result::Result<(), String> {
        let left = self.walk.remaining(spans);
        if left > 0 {
            let side = if self.negative {
                "negative"
            } else {
                "positive"
            };
            return Err(format!(
                "the {side} spans cover {} buckets, the bucket file holds {}",
                self.taken + left,
                self.taken
            ));
        }
        Ok(())
    }
}
