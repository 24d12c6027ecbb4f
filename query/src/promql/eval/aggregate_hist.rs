//! `sum` and `avg` of native histograms, and the annotations of aggregations that ignore
//! them.
//!
//! Derived from prometheus/promql/engine.go (`aggregation`, `handleAggregationError`).

use std::sync::Arc;

use super::Evaluator;
use crate::promql::annotations::{Annotation, HistogramOp};
use crate::promql::native::{FloatHistogram, ResetHint, kahan_sum};
use crate::promql::value::Sample;

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
    let hs: Vec<&FloatHistogram> = samples.iter().filter_map(|s| s.h.as_deref()).collect();
    if hs.len() < samples.len() {
        ev.annotate(Annotation::MixedFloatsHistogramsAgg, pos);
        return None;
    }
    let (mut reset, mut not_reset) = (false, false);
    for h in &hs {
        match h.reset_hint {
            ResetHint::Reset => reset = true,
            ResetHint::NotReset => not_reset = true,
            _ => {}
        }
    }
    let divisor = if avg { hs.len() as f64 } else { 1.0 };
    let (mut h, flags) = match kahan_sum(&hs, divisor) {
        Ok(r) => r,
        Err(_) => {
            // Named after the first input whose kind of buckets differs from the first's.
            let custom = hs[0].uses_custom_buckets();
            let metric = samples
                .iter()
                .find(|s| {
                    s.h.as_ref()
                        .is_some_and(|h| h.uses_custom_buckets() != custom)
                })
                .map_or("", |s| s.labels.name())
                .to_string();
            ev.annotate(Annotation::MixedExponentialCustomHistograms { metric }, pos);
            return None;
        }
    };
    if flags.custom_bounds_reconciled {
        ev.annotate(
            Annotation::MismatchedCustomBucketsHistograms(HistogramOp::Agg),
            pos,
        );
    }
    if reset && not_reset {
        ev.annotate(
            Annotation::HistogramCounterResetCollision(HistogramOp::Agg),
            pos,
        );
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
