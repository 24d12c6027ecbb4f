//! Extended range selectors (`anchored`, `smoothed`) on native histograms: `rate`,
//! `increase` and `delta` over an anchored or smoothed range, and the smoothed instant
//! selector.
//!
//! Derived from prometheus/promql/functions.go (`extendedHistogramRate`,
//! `interpolateHistograms`, `pickOrInterpolateLeft/RightHistogram`,
//! `validateHistogramRange`, `correctForCounterResetsHistogram`) and
//! prometheus/promql/engine.go (`smoothSeries`, its histogram branch).

use std::sync::Arc;

use crate::promql::annotations::Annotation;
use crate::promql::native::{self, FloatHistogram, ResetHint};
use crate::promql::value::is_stale_histogram;

/// One histogram sample.
pub(crate) type HPoint = (i64, Arc<FloatHistogram>);

/// The histograms of `all` in `(start, end]`, staleness markers left out.
pub(crate) fn window(all: &[HPoint], start: i64, end: i64) -> Vec<HPoint> {
    let a = all.partition_point(|(ts, _)| *ts <= start);
    let b = all.partition_point(|(ts, _)| *ts <= end);
    all[a..b.max(a)]
        .iter()
        .filter(|(_, h)| !is_stale_histogram(h))
        .cloned()
        .collect()
}

/// Why a histogram computation gave no result, or what it noted on the way.
type Notes = Vec<Annotation>;

fn mixed(metric: &str) -> Annotation {
    Annotation::MixedExponentialCustomHistograms {
        metric: metric.to_string(),
    }
}

/// `a += b` (or `-=`), `None` with the mixed-schema warning when the layouts cannot combine.
fn combine(
    a: &mut FloatHistogram,
    b: &FloatHistogram,
    sub: bool,
    metric: &str,
    notes: &mut Notes,
) -> Option<()> {
    let r = if sub { a.sub(b) } else { a.add(b) };
    match r {
        Ok(flags) => {
            if flags.custom_bounds_reconciled {
                let op = if sub {
                    crate::promql::annotations::HistogramOp::Sub
                } else {
                    crate::promql::annotations::HistogramOp::Add
                };
                notes.push(Annotation::MismatchedCustomBucketsHistograms(op));
            }
            Some(())
        }
        Err(native::Error::IncompatibleSchema | native::Error::ReduceResolution { .. }) => {
            notes.push(mixed(metric));
            None
        }
    }
}

/// The histogram at `t` between `(t1, h1)` and `(t2, h2)`; a counter that reset between
/// them restarts from zero.
fn interpolate(
    p1: &HPoint,
    p2: &HPoint,
    t: i64,
    is_counter: bool,
    metric: &str,
    notes: &mut Notes,
) -> Option<FloatHistogram> {
    if t == p1.0 {
        return Some((*p1.1).clone());
    }
    if t == p2.0 {
        return Some((*p2.1).clone());
    }
    let fraction = (t - p1.0) as f64 / (p2.0 - p1.0) as f64;
    let mut result = (*p2.1).clone();
    if is_counter && p2.1.detect_reset(&p1.1) {
        result.mul(fraction);
        return Some(result);
    }
    combine(&mut result, &p1.1, true, metric, notes)?;
    result.mul(fraction);
    combine(&mut result, &p1.1, false, metric, notes)?;
    Some(result)
}

/// `rate`/`increase`/`delta` of histograms `h` (non-empty, sorted) over an anchored or
/// smoothed range `(start, end]`, as Prometheus's `extendedHistogramRate`.
pub(crate) fn rate(
    h: &[HPoint],
    (start, end): (i64, i64),
    smoothed: bool,
    (is_counter, is_rate): (bool, bool),
    metric: &str,
    notes: &mut Notes,
) -> Option<FloatHistogram> {
    let mut last = h.len() - 1;
    let first = h[..last]
        .partition_point(|(ts, _)| *ts <= start)
        .saturating_sub(1);
    if smoothed {
        last = h[..last].partition_point(|(ts, _)| *ts < end);
    }
    if h[last].0 <= start || (smoothed && h[first].0 > end) {
        return None;
    }
    // validateHistogramRange
    let custom = h[first].1.uses_custom_buckets();
    for (_, p) in &h[first..=last] {
        if p.uses_custom_buckets() != custom {
            notes.push(mixed(metric));
            return None;
        }
        if is_counter && p.reset_hint == ResetHint::Gauge {
            notes.push(Annotation::NativeHistogramNotCounter {
                metric: metric.to_string(),
            });
        }
    }
    let left = if smoothed && h[first].0 < start {
        interpolate(&h[first], &h[first + 1], start, is_counter, metric, notes)?
    } else {
        (*h[first].1).clone()
    };
    let right = if smoothed && last > 0 && h[last].0 > end {
        interpolate(&h[last - 1], &h[last], end, is_counter, metric, notes)?
    } else {
        (*h[last].1).clone()
    };
    if !is_counter && (left.reset_hint != ResetHint::Gauge || right.reset_hint != ResetHint::Gauge)
    {
        notes.push(Annotation::NativeHistogramNotGauge {
            metric: metric.to_string(),
        });
    }
    let mut result = right.clone();
    combine(&mut result, &left, true, metric, notes)?;
    let c = if is_counter {
        correction(
            h, first, last, &left, &right, start, smoothed, metric, notes,
        )?
    } else {
        None
    };
    if let Some(c) = c {
        combine(&mut result, &c, false, metric, notes)?;
    }
    if is_rate {
        result.div((end - start) as f64 / 1000.0);
    }
    result.reset_hint = ResetHint::Gauge;
    result.compact(0);
    Some(result)
}

/// The counter-reset correction between the boundary samples (Prometheus's
/// `correctForCounterResetsHistogram`): `Some(None)` when there is none, `None` when the
/// histograms cannot be added.
#[allow(clippy::too_many_arguments)]
fn correction(
    h: &[HPoint],
    first_idx: usize,
    last_idx: usize,
    left: &FloatHistogram,
    right: &FloatHistogram,
    start: i64,
    smoothed: bool,
    metric: &str,
    notes: &mut Notes,
) -> Option<Option<FloatHistogram>> {
    let mut first = first_idx + 1;
    let mut prev: &FloatHistogram = left;
    if smoothed && h[first_idx].0 < start && h[first_idx + 1].1.detect_reset(&h[first_idx].1) {
        // The left interpolation spanned this reset already.
        prev = &h[first_idx + 1].1;
        first += 1;
    }
    // The last sample is `right` (or what it was interpolated to); it is never in the loop.
    if first > last_idx {
        return Some(None);
    }
    let mut corr: Option<FloatHistogram> = None;
    let add = |c: &mut Option<FloatHistogram>, p: &FloatHistogram, notes: &mut Notes| match c {
        None => {
            *c = Some(p.clone());
            Some(())
        }
        Some(acc) => combine(acc, p, false, metric, notes),
    };
    for (_, p) in &h[first..last_idx] {
        if p.detect_reset(prev) {
            add(&mut corr, prev, notes)?;
        }
        prev = p;
    }
    if right.detect_reset(prev) {
        add(&mut corr, prev, notes)?;
    }
    Some(corr)
}

/// The smoothed value at `at` of histograms `h` (the window around it), as the histogram
/// branch of Prometheus's `smoothSeries`: the sample at `at`, else the interpolation between
/// its neighbours (as a counter unless both are gauges), else the last one before it.
pub(crate) fn smoothed_at(
    h: &[HPoint],
    at: i64,
    metric: &str,
    notes: &mut Notes,
) -> Option<FloatHistogram> {
    let i = h.partition_point(|(ts, _)| *ts < at);
    match (h.get(i), i.checked_sub(1).and_then(|p| h.get(p))) {
        (Some(p), _) if p.0 == at => Some((*p.1).clone()),
        (Some(next), Some(prev)) => {
            if prev.1.uses_custom_buckets() != next.1.uses_custom_buckets() {
                notes.push(mixed(metric));
                return None;
            }
            let is_counter =
                prev.1.reset_hint != ResetHint::Gauge || next.1.reset_hint != ResetHint::Gauge;
            interpolate(prev, next, at, is_counter, metric, notes)
        }
        (None, Some(prev)) => {
            let mut h = (*prev.1).clone();
            h.reset_hint = ResetHint::Unknown;
            Some(h)
        }
        _ => None,
    }
}

/// Where `changes`/`resets` start over an anchored range `(start, …]` of floats `f` and
/// histograms `h`: the one most recent sample at or before `start`, whatever its kind, and
/// everything after `start` (Prometheus's `pickFirstSampleIndices`). `None` when no sample
/// lies after `start`.
pub(crate) fn first_indices(f: &[(i64, f64)], h: &[HPoint], start: i64) -> Option<(usize, usize)> {
    let lf = f.partition_point(|(ts, _)| *ts <= start);
    let lh = h.partition_point(|(ts, _)| *ts <= start);
    if lf >= f.len() && lh >= h.len() {
        return None;
    }
    Some(match (lf.checked_sub(1), lh.checked_sub(1)) {
        (None, None) => (0, 0),
        (Some(fi), None) => (fi, lh),
        (Some(fi), Some(hi)) if f[fi].0 >= h[hi].0 => (fi, lh),
        (_, Some(hi)) => (lf, hi),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{{schema:0 count:c sum:c buckets:[c] offset:1}}`, a counter with hint `hint`.
    fn hist(c: f64, hint: ResetHint) -> Arc<FloatHistogram> {
        Arc::new(FloatHistogram {
            reset_hint: hint,
            count: c,
            sum: c,
            positive_spans: vec![native::Span {
                offset: 1,
                length: 1,
            }],
            positive: vec![c],
            ..FloatHistogram::default()
        })
    }

    /// `hist_counter` of extended_vectors.test: count 1, 2, … every 15 s from 0.
    fn counter() -> Vec<HPoint> {
        (0..8)
            .map(|i| (i * 15_000, hist(1.0 + i as f64, ResetHint::Unknown)))
            .collect()
    }

    #[test]
    fn anchored_and_smoothed_increase_match_prometheus() {
        // extended_vectors.test at 50s over [1m]: anchored 3, smoothed 3.333….
        let mut notes = Vec::new();
        let w = window(&counter(), 50_000 - 60_000 - 300_000, 50_000);
        let a = rate(&w, (-10_000, 50_000), false, (true, false), "m", &mut notes).unwrap();
        assert_eq!(a.count, 3.0);
        assert_eq!(a.reset_hint, ResetHint::Gauge);
        let w = window(&counter(), 50_000 - 60_000 - 300_000, 50_000 + 300_000);
        let s = rate(&w, (-10_000, 50_000), true, (true, false), "m", &mut notes).unwrap();
        assert!((s.count - 10.0 / 3.0).abs() < 1e-12, "{}", s.count);
        let r = rate(&w, (-10_000, 50_000), true, (true, true), "m", &mut notes).unwrap();
        assert!((r.count - 10.0 / 3.0 / 60.0).abs() < 1e-12, "{}", r.count);
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn resets_are_corrected_and_delta_warns_on_counters() {
        // anchored_reset_at_end: 5 10 3(reset) every 30 s, increase over (0, 70s] anchored = 8.
        let h = vec![
            (0, hist(5.0, ResetHint::Unknown)),
            (30_000, hist(10.0, ResetHint::Unknown)),
            (60_000, hist(3.0, ResetHint::Reset)),
        ];
        let mut notes = Vec::new();
        let r = rate(&h, (0, 70_000), false, (true, false), "m", &mut notes).unwrap();
        assert_eq!(r.count, 8.0);
        assert!(notes.is_empty());
        rate(&h[..2], (0, 70_000), false, (false, false), "m", &mut notes).unwrap();
        assert_eq!(
            notes,
            vec![Annotation::NativeHistogramNotGauge { metric: "m".into() }]
        );
    }

    #[test]
    fn smoothed_instant_values() {
        let mut notes = Vec::new();
        let c = counter();
        let at7 = smoothed_at(&c, 7_000, "m", &mut notes).unwrap();
        assert!((at7.count - (1.0 + 7.0 / 15.0)).abs() < 1e-12);
        assert_eq!(smoothed_at(&c, 15_000, "m", &mut notes).unwrap().count, 2.0);
        let after = smoothed_at(&c, 110_000, "m", &mut notes).unwrap();
        assert_eq!((after.count, after.reset_hint), (8.0, ResetHint::Unknown));
        // A reset between the neighbours interpolates from zero: 2 * 5/15.
        let r = vec![
            (15_000, hist(10.0, ResetHint::Unknown)),
            (30_000, hist(2.0, ResetHint::Reset)),
        ];
        let v = smoothed_at(&r, 20_000, "m", &mut notes).unwrap();
        assert!((v.count - 2.0 / 3.0).abs() < 1e-12);
        assert!(notes.is_empty());
    }

    #[test]
    fn anchor_is_the_newest_sample_of_either_kind() {
        let f = [(120_000, 5.0), (180_000, 2.0)];
        let h = vec![
            (0, hist(1.0, ResetHint::Unknown)),
            (60_000, hist(2.0, ResetHint::Unknown)),
        ];
        // hhffmixed at 3m over (2m, 3m]: the float at 2m anchors, both histograms are skipped.
        assert_eq!(first_indices(&f, &h, 120_000), Some((0, 2)));
        // Nothing after the start: nothing to measure.
        assert_eq!(first_indices(&f, &h, 180_000), None);
        // The histogram at 1m anchors (1m, 2m]; no float precedes it.
        assert_eq!(first_indices(&f, &h, 60_000), Some((0, 1)));
    }
}
