//! The counter-reset hints a series' histograms carry when read back from Prometheus's TSDB.
//!
//! Derived from prometheus/tsdb/chunkenc/float_histogram.go (`AppendFloatHistogram`,
//! `appendable`) and histogram_meta.go (`counterResetHint`): histograms are stored in chunks;
//! a chunk ends where a float sample comes, where a histogram cannot follow the previous one
//! (an explicit `Reset` hint, a counter that went down, another schema, zero threshold or
//! custom bounds, a sample after a stale marker) and where gauge and counter histograms
//! alternate. Read back, every histogram of a gauge chunk is a `Gauge`, the first of a
//! counter chunk `Unknown`, and the others `NotReset`. PromQL's answers (the hints of
//! `rate`'s and `sum`'s results, counter-reset detection) depend on those read hints, so the
//! query layer gives stored histograms the same ones.

use super::{FloatHistogram, ResetHint};
use crate::promql::value::is_stale_nan;

/// Whether counter histogram `h` may follow `prev` in one TSDB chunk.
pub(crate) fn appendable(prev: &FloatHistogram, h: &FloatHistogram) -> bool {
    if h.reset_hint == ResetHint::Reset {
        return false;
    }
    if is_stale_nan(h.sum) {
        return true;
    }
    if is_stale_nan(prev.sum)
        || h.schema != prev.schema
        || h.zero_threshold != prev.zero_threshold
        || (h.uses_custom_buckets() && !h.same_bounds(prev))
    {
        return false;
    }
    // Same layout rules: only a count, zero count or bucket that went down is a reset.
    !h.went_down_from(prev)
}

/// Sets the hints of `hs` (one series' histograms, sorted by time; `floats` are the same
/// series' float samples, sorted) to those Prometheus's TSDB would read back. Works on the
/// histograms before they are shared, so a changed hint copies nothing.
pub fn tsdb_read_hints(floats: &[(i64, f64)], hs: &mut [(i64, FloatHistogram)]) {
    // The previous histogram's time and whether it was stored as a gauge. Its hint is
    // already the one read back: `appendable` reads the new histogram's hint only.
    let mut prev: Option<(i64, bool)> = None;
    for i in 0..hs.len() {
        let (ts, h) = &hs[i];
        let gauge = h.reset_hint == ResetHint::Gauge;
        let joins = prev.is_some_and(|(pts, pgauge)| {
            // No float sample between the two.
            let a = floats.partition_point(|f| f.0 <= pts);
            let b = floats.partition_point(|f| f.0 < *ts);
            a == b && pgauge == gauge && (gauge || appendable(&hs[i - 1].1, h))
        });
        let read = match (gauge, joins) {
            (true, _) => ResetHint::Gauge,
            (false, true) => ResetHint::NotReset,
            (false, false) => ResetHint::Unknown,
        };
        prev = Some((*ts, gauge));
        hs[i].1.reset_hint = read;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::native::Span;

    fn h(count: f64, hint: ResetHint) -> FloatHistogram {
        FloatHistogram {
            count,
            sum: count,
            reset_hint: hint,
            positive_spans: vec![Span {
                offset: 0,
                length: 1,
            }],
            positive: vec![count],
            ..FloatHistogram::default()
        }
    }

    fn hints(floats: &[(i64, f64)], hs: &[FloatHistogram]) -> Vec<ResetHint> {
        let mut v: Vec<(i64, FloatHistogram)> = hs
            .iter()
            .enumerate()
            .map(|(i, h)| (i as i64 * 10, h.clone()))
            .collect();
        tsdb_read_hints(floats, &mut v);
        v.iter().map(|(_, h)| h.reset_hint).collect()
    }

    #[test]
    fn chunks_as_prometheus_cuts_them() {
        use ResetHint::*;
        // range_queries.test: `{{count:0}}+{{count:1}}x4` reads back as unknown, then not_reset.
        let rising: Vec<_> = (0..4).map(|i| h(i as f64, Unknown)).collect();
        assert_eq!(
            hints(&[], &rising),
            vec![Unknown, NotReset, NotReset, NotReset]
        );
        // A counter that goes down starts a chunk, as does an explicit reset hint.
        let down = [
            h(5.0, Unknown),
            h(2.0, Unknown),
            h(3.0, Unknown),
            h(4.0, Reset),
        ];
        assert_eq!(hints(&[], &down), vec![Unknown, Unknown, NotReset, Unknown]);
        // A float in between starts a chunk; gauges stay gauges.
        assert_eq!(
            hints(&[(15, 1.0)], &rising),
            vec![Unknown, NotReset, Unknown, NotReset]
        );
        let gauges = [h(5.0, Gauge), h(2.0, Gauge), h(3.0, Unknown)];
        assert_eq!(hints(&[], &gauges), vec![Gauge, Gauge, Unknown]);
    }
}
