//! Resolution reduction: merging buckets into those of a lower exponential schema.
//!
//! Bucket `i` at schema `s` covers `(2^((i-1)·2^-s), 2^(i·2^-s)]`. One schema lower, each
//! bucket covers two of the old ones, so old index `i` goes to `((i-1) >> d) + 1` when going
//! down by `d` schemas (an arithmetic shift, rounding towards -∞).

use std::ops::Add;

use super::{Counts, Histogram, HistogramError, SCHEMA_CUSTOM, SCHEMA_MIN, Side, Span};

impl Histogram {
    /// Reduces the histogram to `target`, a lower exponential schema (at least -4), merging
    /// buckets; counts, sum and zero bucket are unchanged. Integer deltas are recomputed.
    /// Refuses custom buckets, a target not below the schema, and spans that do not match
    /// the buckets (the histogram is then unchanged).
    pub fn reduce_resolution(&mut self, target: i32) -> Result<(), HistogramError> {
        let (from, to) = (self.schema, target);
        if from == SCHEMA_CUSTOM || to >= from || to < SCHEMA_MIN {
            return Err(HistogramError::CannotReduce { from, to });
        }
        let shift = (from - to).min(63) as u32;
        let (ps, ns) = match &mut self.counts {
            Counts::Int {
                positive_deltas,
                negative_deltas,
                ..
            } => {
                let (ps, p) = reduce_int(
                    Side::Positive,
                    &self.positive_spans,
                    positive_deltas,
                    shift,
                    (from, to),
                )?;
                let (ns, n) = reduce_int(
                    Side::Negative,
                    &self.negative_spans,
                    negative_deltas,
                    shift,
                    (from, to),
                )?;
                (*positive_deltas, *negative_deltas) = (p, n);
                (ps, ns)
            }
            Counts::Float {
                positive, negative, ..
            } => {
                let (ps, p) = reduce_side(
                    Side::Positive,
                    &self.positive_spans,
                    positive,
                    shift,
                    (from, to),
                )?;
                let (ns, n) = reduce_side(
                    Side::Negative,
                    &self.negative_spans,
                    negative,
                    shift,
                    (from, to),
                )?;
                (*positive, *negative) = (p, n);
                (ps, ns)
            }
        };
        self.positive_spans = ps;
        self.negative_spans = ns;
        self.schema = to;
        Ok(())
    }
}

/// Reduces integer buckets given as deltas: to absolute counts, merged, back to deltas.
fn reduce_int(
    side: Side,
    spans: &[Span],
    deltas: &[i64],
    shift: u32,
    schemas: (i32, i32),
) -> Result<(Vec<Span>, Vec<i64>), HistogramError> {
    let mut abs = Vec::with_capacity(deltas.len());
    let mut last = 0i128;
    for d in deltas {
        last += i128::from(*d);
        abs.push(last);
    }
    let (spans, merged) = reduce_side(side, spans, &abs, shift, schemas)?;
    let mut out = Vec::with_capacity(merged.len());
    let mut prev = 0i128;
    for (i, &c) in merged.iter().enumerate() {
        let fits = i64::try_from(c).is_ok();
        let delta = i64::try_from(c - prev).ok().filter(|_| fits);
        out.push(delta.ok_or(HistogramError::BucketCountOverflow {
            side,
            bucket: i + 1,
        })?);
        prev = c;
    }
    Ok((spans, out))
}

/// Merges absolute bucket counts laid out by `spans` into the buckets `shift` schemas lower.
fn reduce_side<T: Copy + Add<Output = T>>(
    side: Side,
    spans: &[Span],
    counts: &[T],
    shift: u32,
    (from, to): (i32, i32),
) -> Result<(Vec<Span>, Vec<T>), HistogramError> {
    let need: u64 = spans.iter().map(|s| u64::from(s.length)).sum();
    let mismatch = HistogramError::SpansBucketsMismatch {
        side,
        need,
        have: counts.len(),
    };
    let too_far = HistogramError::CannotReduce { from, to };
    let mut out_spans: Vec<Span> = Vec::new();
    let mut out: Vec<T> = Vec::new();
    let (mut idx, mut k, mut last_target) = (0i64, 0usize, 0i64);
    for (n, span) in spans.iter().enumerate() {
        if n > 0 && span.offset < 0 {
            return Err(HistogramError::SpanNegativeOffset {
                side,
                span: n + 1,
                offset: span.offset,
            });
        }
        idx += i64::from(span.offset);
        for _ in 0..span.length {
            let c = *counts.get(k).ok_or_else(|| mismatch.clone())?;
            let t = ((idx - 1) >> shift) + 1;
            match (out_spans.last_mut(), out.last_mut()) {
                (Some(_), Some(last)) if t == last_target => *last = *last + c,
                (Some(s), Some(_)) if t == last_target + 1 => {
                    s.length += 1;
                    out.push(c);
                }
                (Some(_), Some(_)) => {
                    let gap = i32::try_from(t - last_target - 1).map_err(|_| too_far.clone())?;
                    out_spans.push(Span {
                        offset: gap,
                        length: 1,
                    });
                    out.push(c);
                }
                _ => {
                    let offset = i32::try_from(t).map_err(|_| too_far.clone())?;
                    out_spans.push(Span { offset, length: 1 });
                    out.push(c);
                }
            }
            last_target = t;
            idx += 1;
            k += 1;
        }
    }
    if k != counts.len() {
        return Err(mismatch);
    }
    Ok((out_spans, out))
}
