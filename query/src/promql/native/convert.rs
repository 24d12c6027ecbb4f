//! Between the engine's stored [`strata_engine::Histogram`] (integer deltas or float counts)
//! and the [`FloatHistogram`] PromQL evaluates.

use std::sync::Arc;

use strata_engine::{Counts, Histogram, ResetHint as EngineHint};

use super::{FloatHistogram, ResetHint, Span};

/// Absolute counts from bucket deltas (each bucket's count is the previous one's plus its
/// delta, the first's previous being 0), in the deltas' own buffer (same size and
/// alignment: collected in place, no allocation).
fn absolute(deltas: Vec<i64>) -> Vec<f64> {
    let mut cur = 0i64;
    deltas
        .into_iter()
        .map(|d| {
            cur = cur.wrapping_add(d);
            cur as f64
        })
        .collect()
}

/// The spans in their own buffer (same layout: collected in place).
fn spans(s: Vec<strata_engine::Span>) -> Vec<Span> {
    s.into_iter()
        .map(|s| Span {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

impl From<&Histogram> for FloatHistogram {
    fn from(h: &Histogram) -> Self {
        Self::from_engine(h, &mut Arc::from(&[][..]))
    }
}

impl FloatHistogram {
    /// `h` as a float histogram, its custom bounds taken from `bounds` when they are the
    /// same (otherwise `bounds` becomes a copy of them): a series' samples share one.
    pub fn from_engine(h: &Histogram, bounds: &mut Arc<[f64]>) -> Self {
        Self::from_engine_owned(h.clone(), bounds)
    }

    /// [`Self::from_engine`] taking `h`: its span and count buffers become the float
    /// histogram's (integer deltas summed in place), so a sample read from a file costs
    /// no allocation here.
    pub fn from_engine_owned(h: Histogram, bounds: &mut Arc<[f64]>) -> Self {
        if bounds[..] != h.custom_values[..] {
            *bounds = Arc::from(h.custom_values.as_slice());
        }
        let (count, zero_count, positive, negative) = match h.counts {
            Counts::Int {
                count,
                zero_count,
                positive_deltas,
                negative_deltas,
            } => (
                count as f64,
                zero_count as f64,
                absolute(positive_deltas),
                absolute(negative_deltas),
            ),
            Counts::Float {
                count,
                zero_count,
                positive,
                negative,
            } => (count, zero_count, positive, negative),
        };
        FloatHistogram {
            reset_hint: match h.reset_hint {
                EngineHint::Unknown => ResetHint::Unknown,
                EngineHint::Reset => ResetHint::Reset,
                EngineHint::NotReset => ResetHint::NotReset,
                EngineHint::Gauge => ResetHint::Gauge,
            },
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            zero_count,
            count,
            sum: h.sum,
            positive_spans: spans(h.positive_spans),
            negative_spans: spans(h.negative_spans),
            positive,
            negative,
            custom_values: bounds.clone(),
        }
    }
}

impl From<&FloatHistogram> for Histogram {
    /// The engine's float-count form of `h` (what a recording rule or a test writes).
    fn from(h: &FloatHistogram) -> Self {
        let spans = |s: &[Span]| {
            s.iter()
                .map(|s| strata_engine::Span {
                    offset: s.offset,
                    length: s.length,
                })
                .collect()
        };
        Histogram {
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            sum: h.sum,
            reset_hint: match h.reset_hint {
                ResetHint::Unknown => EngineHint::Unknown,
                ResetHint::Reset => EngineHint::Reset,
                ResetHint::NotReset => EngineHint::NotReset,
                ResetHint::Gauge => EngineHint::Gauge,
            },
            positive_spans: spans(&h.positive_spans),
            negative_spans: spans(&h.negative_spans),
            custom_values: h.custom_values.to_vec(),
            counts: Counts::Float {
                count: h.count,
                zero_count: h.zero_count,
                positive: h.positive.clone(),
                negative: h.negative.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_deltas_become_absolute_counts() {
        let h = Histogram {
            schema: 0,
            zero_threshold: 0.001,
            sum: 10.0,
            reset_hint: EngineHint::NotReset,
            positive_spans: vec![strata_engine::Span {
                offset: 0,
                length: 3,
            }],
            negative_spans: vec![strata_engine::Span {
                offset: 1,
                length: 2,
            }],
            custom_values: Vec::new(),
            counts: Counts::Int {
                count: 14,
                zero_count: 2,
                positive_deltas: vec![1, 2, -1],
                negative_deltas: vec![4, -1],
            },
        };
        let f = FloatHistogram::from(&h);
        assert_eq!(f.positive, vec![1.0, 3.0, 2.0]);
        assert_eq!(f.negative, vec![4.0, 3.0]);
        assert_eq!((f.count, f.zero_count, f.sum), (14.0, 2.0, 10.0));
        assert_eq!(f.reset_hint, ResetHint::NotReset);
        assert_eq!(
            f.negative_spans,
            vec![Span {
                offset: 1,
                length: 2
            }]
        );
        // Back to the engine: float counts, the same buckets.
        let back = Histogram::from(&f);
        assert_eq!(
            back.counts,
            Counts::Float {
                count: 14.0,
                zero_count: 2.0,
                positive: vec![1.0, 3.0, 2.0],
                negative: vec![4.0, 3.0],
            }
        );
        assert_eq!(FloatHistogram::from(&back), f);
    }
}
