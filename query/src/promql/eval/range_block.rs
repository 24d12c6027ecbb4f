//! `rate`, `increase` and `delta` over a window of a [`HistBlock`]: the last histogram
//! minus the first, from the block's columns, with one [`FloatHistogram`] built for the
//! result. The arithmetic is `range_hist.rs`'s for histograms of one layout, operation for
//! operation, so the results are the same to the bit; a window where the layout changes or
//! a counter reset happens (rare) is handed back to that path.

use std::ops::Range;

use super::Evaluator;
use super::range_hist::Sampled;
use crate::promql::annotations::Annotation;
use crate::promql::native::{FloatHistogram, HistBlock, ResetHint};
use crate::promql::range::fns::Window;

/// The samples of `b` in window `(start, end]`.
pub(crate) fn window(b: &HistBlock, start: i64, end: i64) -> Range<usize> {
    let a = b.ts.partition_point(|&t| t <= start);
    let e = b.ts.partition_point(|&t| t <= end);
    a..e.max(a)
}

/// The samples of `b` in `r` as the per-sample form holds them.
pub(crate) fn points(b: &HistBlock, r: Range<usize>) -> Vec<(i64, std::sync::Arc<FloatHistogram>)> {
    r.map(|i| (b.ts[i], std::sync::Arc::new(b.get(i))))
        .collect()
}

/// What [`rated`] found in a window.
pub(crate) enum Rated {
    /// Fewer than two samples: no result.
    Short,
    /// The layout changes or a counter reset happens in the window: the per-sample path
    /// decides.
    PerSample,
    /// The result, and whether the window's hints call for an annotation (a gauge
    /// histogram in a counter function's window, or a counter one at either end of
    /// `delta`'s).
    Value(FloatHistogram, bool),
}

/// `rate` (`is_rate`), `increase` or `delta` (not `is_counter`) over samples `r` of `b`,
/// without the evaluator: what [`extrapolated`] computes and whether it annotates.
pub(crate) fn rated(
    b: &HistBlock,
    r: Range<usize>,
    w: Window,
    (is_counter, is_rate): (bool, bool),
) -> Rated {
    if r.len() < 2 {
        return Rated::Short;
    }
    let (first, last) = (r.start, r.end - 1);
    if !b.one_layout(&r) || (is_counter && b.reset_within(first, last)) {
        return Rated::PerSample;
    }
    let gauge = |i: usize| b.hints[i] == ResetHint::Gauge;
    let note = if is_counter {
        r.clone().any(gauge)
    } else {
        !gauge(first) || !gauge(last)
    };
    // The last histogram minus the first, as `FloatHistogram::sub` computes it for one
    // layout, compacted.
    let mut h = b.difference(last, first);
    let span = Sampled {
        first_t: b.ts[first],
        last_t: b.ts[last],
        n: r.len(),
        first_count: b.count[first],
    };
    let factor = span.factor(w, h.count, is_counter, is_rate);
    h.mul(factor);
    Rated::Value(h, note)
}

/// The annotation [`Rated::Value`]'s flag stands for, on series `metric`.
pub(crate) fn note(is_counter: bool, metric: &str) -> Annotation {
    let metric = metric.to_string();
    if is_counter {
        Annotation::NativeHistogramNotCounter { metric }
    } else {
        Annotation::NativeHistogramNotGauge { metric }
    }
}

/// `rate` (`is_rate`), `increase` or `delta` (not `is_counter`) over samples `r` of `b`:
/// `Some(None)` with fewer than two samples, `None` when the window's layout changes or a
/// counter reset happens in it (the caller takes the per-sample path). `metric` and `pos` name the series and
/// the range argument in annotations.
pub(crate) fn extrapolated(
    ev: &mut Evaluator<'_>,
    b: &HistBlock,
    r: Range<usize>,
    w: Window,
    flags: (bool, bool),
    metric: &str,
    pos: &str,
) -> Option<Option<FloatHistogram>> {
    match rated(b, r, w, flags) {
        Rated::Short => Some(None),
        Rated::PerSample => None,
        Rated::Value(h, noted) => {
            if noted {
                ev.annotate(note(flags.0, metric), pos);
            }
            Some(Some(h))
        }
    }
}
