//! `sum` and `avg` of native histograms, and the annotations of aggregations that ignore
//! them.
//!
//! Derived from prometheus/promql/engine.go (`aggregation`, `handleAggregationError`).

use std::sync::Arc;

use super::annotations::{Annotation, HistogramOp};
use super::eval::Evaluator;
use super::native::{FloatHistogram, ResetHint};
use super::value::Sample;

/// The sum (or, with `avg`, the mean) of a group whose samples include histograms, or
/// `None` when Prometheus outputs nothing for the group: floats and histograms mixed
/// (`MixedFloatsHistogramsAggWarning`), or exponential and custom buckets mixed
/// (`MixedExponentialCustomHistogramsWarning`). `pos` is the position of the aggregated
/// expression.
pub(crate) fn sum_avg(
    ev: &mut Evaluator<'_>,
    avg: bool,
    samples: &[Sample],
    pos: &str,
) -> Option<Arc<FloatHistogram>> {
    let mut acc: Option<FloatHistogram> = None;
    let (mut floats, mut incompatible) = (false, false);
    let (mut reset, mut not_reset) = (false, false);
    for s in samples {
        let Some(h) = &s.h else {
            floats = true;
            continue;
        };
        if incompatible {
            continue;
        }
        match h.reset_hint {
            ResetHint::Reset => reset = true,
            ResetHint::NotReset => not_reset = true,
            _ => {}
        }
        match &mut acc {
            None => acc = Some((**h).clone()),
            Some(a) => match a.add(h) {
                Ok(flags) => {
                    if flags.custom_bounds_reconciled {
                        ev.annotate(
                            Annotation::MismatchedCustomBucketsHistograms(HistogramOp::Agg),
                            pos,
                        );
                    }
                }
                Err(_) => {
                    let metric = s.labels.name().to_string();
                    ev.annotate(
                        Annotation::MixedExponentialCustomHistograms { metric },
                        pos,
                    );
                    incompatible = true;
                }
            },
        }
    }
    if floats {
        ev.annotate(Annotation::MixedFloatsHistogramsAgg, pos);
        return None;
    }
    if incompatible {
        return None;
    }
    if reset && not_reset {
        ev.annotate(
            Annotation::HistogramCounterResetCollision(HistogramOp::Agg),
            pos,
        );
    }
    let mut h = acc?;
    if avg {
        h.div(samples.len() as f64);
    }
    h.compact(0);
    Some(Arc::new(h))
}

/// Leaves the histograms out of `samples` for aggregation `op`, which ignores them, noting
/// `HistogramIgnoredInAggregationInfo` at `pos` if there were any.
pub(crate) fn drop_ignored(
    ev: &mut Evaluator<'_>,
    op: &str,
    samples: Vec<Sample>,
    pos: &str,
) -> Vec<Sample> {
    if samples.iter().all(|s| s.h.is_none()) {
        return samples;
    }
    ev.annotate(
        Annotation::HistogramIgnoredInAggregation {
            aggregation: op.to_string(),
        },
        pos,
    );
    samples.into_iter().filter(|s| s.h.is_none()).collect()
}
