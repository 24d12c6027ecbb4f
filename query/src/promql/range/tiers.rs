//! Range functions over a downsampled tier's intervals (`docs/retention.md`).
//!
//! Where a tier holds a series, the engine returns its intervals beside their last
//! samples. For a window the tier covers, `rate`, `increase`, `delta` and the
//! `*_over_time` aggregations below are computed from the intervals whose end falls in
//! the window. A window `(t - w, t]` with `t` and `w` multiples of the resolution is
//! exactly those intervals (they are left-open too), so the answer is the raw data's:
//! the same first and last samples, count, sum, extremes and reset-corrected increase.
//! Other windows take the whole intervals ending in them, and a window shorter than the
//! resolution the interval it ends in, so it is never empty where the raw data was not.
//! The other range functions read the last samples, as VictoriaMetrics's downsampling does.

use strata_engine::Interval;

use super::fns::{RangeFn, Span, Window, extrapolate};

/// Whether `name` is answered from the intervals.
pub(crate) fn answers(name: &str) -> bool {
    matches!(
        name,
        "rate"
            | "increase"
            | "delta"
            | "sum_over_time"
            | "count_over_time"
            | "avg_over_time"
            | "min_over_time"
            | "max_over_time"
            | "last_over_time"
            | "present_over_time"
    )
}

/// `f` over window `w` from `intervals` (one series', in time order): `None` when the
/// tier does not cover the window (its end is past the last interval: raw data or the
/// head answer there), else the function's value (`Some(None)`: no sample in the window).
pub(crate) fn value(intervals: &[Interval], f: &RangeFn<'_>, w: Window) -> Option<Option<f64>> {
    if !answers(f.name) || intervals.last()?.end < w.end {
        return None;
    }
    let lo = intervals.partition_point(|i| i.end <= w.start);
    let hi = intervals.partition_point(|i| i.end <= w.end);
    let rows = if lo < hi {
        &intervals[lo..hi]
    } else {
        // Shorter than the resolution: the interval the window ends in, if it has one.
        match intervals.get(hi) {
            Some(i) if i.end - i.resolution < w.end => &intervals[hi..=hi],
            _ => return Some(None),
        }
    };
    Some(of_rows(rows, f.name, w))
}

fn of_rows(rows: &[Interval], name: &str, w: Window) -> Option<f64> {
    let (first, last) = (rows.first()?, rows.last()?);
    let count: u64 = rows.iter().map(|r| r.count).sum();
    Some(match name {
        "sum_over_time" => rows.iter().map(|r| r.sum).sum(),
        "count_over_time" => count as f64,
        "avg_over_time" => rows.iter().map(|r| r.sum).sum::<f64>() / count as f64,
        "min_over_time" => rows.iter().map(|r| r.min).fold(f64::INFINITY, f64::min),
        "max_over_time" => rows.iter().map(|r| r.max).fold(f64::NEG_INFINITY, f64::max),
        "last_over_time" => last.last,
        "present_over_time" => 1.0,
        _ => {
            if count < 2 || last.last_ts == first.first_ts {
                return None;
            }
            let counter = name != "delta";
            // As Prometheus: the last value less the first, plus the value before each
            // reset, in time order (an interval's own resets as one sum).
            let mut result = last.last - first.first;
            if counter {
                for (k, r) in rows.iter().enumerate() {
                    if k > 0 && r.first < rows[k - 1].last {
                        result += rows[k - 1].last;
                    }
                    result += r.correction;
                }
            }
            let span = Span {
                first: (first.first_ts, first.first),
                last_t: last.last_ts,
                samples: usize::try_from(count).unwrap_or(usize::MAX),
            };
            // The intervals read: the window itself when it is aligned.
            let (start, end) = (
                w.start.min(first.end - first.resolution),
                w.end.max(last.end),
            );
            let covered = Window {
                start,
                end,
                range_ms: end - start,
            };
            let rate = extrapolate(span, result, covered, counter, true);
            if name == "rate" {
                rate
            } else {
                rate * w.range_ms as f64 / 1000.0
            }
        }
    })
}
