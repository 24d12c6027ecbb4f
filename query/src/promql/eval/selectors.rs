//! Reading prefetched series: a selector's matchers in storage form, and the samples of a
//! series in a window.

use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::VectorSelector;

use crate::promql::source::{LabelMatcher, MatchOp};
use std::sync::Arc;

use crate::promql::native::FloatHistogram;
use crate::promql::value::{METRIC_NAME, is_stale_histogram, is_stale_nan};

/// The non-stale samples of `samples` (sorted by time) in `(start, end]`, borrowed unless a
/// staleness marker has to be left out.
pub(crate) fn window_points(
    samples: &[(i64, f64)],
    start: i64,
    end: i64,
) -> std::borrow::Cow<'_, [(i64, f64)]> {
    window_points_from(samples, start, end, &mut 0)
}

/// [`window_points`], starting the search at `cursor` (where the previous window of this
/// series started) and leaving it where this one starts. Consecutive steps of a range
/// query move a window forward by a few samples, so a short forward scan replaces two
/// binary searches over the whole series (and their cache misses); a window that moved
/// back is found by binary search.
pub(crate) fn window_points_from<'s>(
    samples: &'s [(i64, f64)],
    start: i64,
    end: i64,
    cursor: &mut usize,
) -> std::borrow::Cow<'s, [(i64, f64)]> {
    const SCAN: usize = 16;
    let mut a = (*cursor).min(samples.len());
    if a > 0 && samples[a - 1].0 > start {
        a = samples.partition_point(|(ts, _)| *ts <= start);
    } else {
        let mut n = 0;
        while a < samples.len() && samples[a].0 <= start && n < SCAN {
            a += 1;
            n += 1;
        }
        if n == SCAN {
            a += samples[a..].partition_point(|(ts, _)| *ts <= start);
        }
    }
    *cursor = a;
    let b = a + samples[a..].partition_point(|(ts, _)| *ts <= end);
    let pts = &samples[a..b];
    if pts.iter().any(|(_, v)| is_stale_nan(*v)) {
        std::borrow::Cow::Owned(
            pts.iter()
                .copied()
                .filter(|(_, v)| !is_stale_nan(*v))
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(pts)
    }
}

/// The non-stale histograms of `hs` (sorted by time) in `(start, end]`: borrowed when none
/// in the window is stale (a range query's every step reads one window per series, so a
/// copy there was an allocation and a reference count per histogram).
pub(crate) fn window_hpoints(
    hs: &[(i64, Arc<FloatHistogram>)],
    start: i64,
    end: i64,
) -> std::borrow::Cow<'_, [(i64, Arc<FloatHistogram>)]> {
    let a = hs.partition_point(|(ts, _)| *ts <= start);
    let b = hs.partition_point(|(ts, _)| *ts <= end);
    let window = &hs[a..b.max(a)];
    if window.iter().any(|(_, h)| is_stale_histogram(h)) {
        std::borrow::Cow::Owned(
            window
                .iter()
                .filter(|(_, h)| !is_stale_histogram(h))
                .cloned()
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(window)
    }
}

/// A selector's matchers in storage form, the metric name included.
pub(crate) fn selector_matchers(vs: &VectorSelector) -> Vec<LabelMatcher> {
    let mut out = Vec::new();
    if let Some(name) = &vs.name {
        out.push(LabelMatcher {
            name: METRIC_NAME.into(),
            op: MatchOp::Equal,
            value: name.clone(),
        });
    }
    for m in &vs.matchers.matchers {
        let op = match &m.op {
            PMatchOp::Equal => MatchOp::Equal,
            PMatchOp::NotEqual => MatchOp::NotEqual,
            PMatchOp::Re(_) => MatchOp::Regex,
            PMatchOp::NotRe(_) => MatchOp::NotRegex,
        };
        let lm = LabelMatcher {
            name: m.name.clone(),
            op,
            value: m.value.clone(),
        };
        if !out.contains(&lm) {
            out.push(lm);
        }
    }
    out
}
