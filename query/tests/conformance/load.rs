//! What a script's `load` block writes: the float samples and native histograms of each
//! series, as the engine's write batches, whoever then writes them (the engine, or a
//! server over remote write).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use strata_engine::{Histogram, HistogramSample, Sample, SeriesHistograms, SeriesSamples};
use strata_query::promql::Labels;
use strata_query::promql::native::FloatHistogram;

use super::hist::{self, Classic};
use super::script::{PointV, SeriesLine};

/// The writes of one `load` block.
#[derive(Debug, Default)]
pub(crate) struct Batches {
    /// Float samples (stale markers included), written first.
    pub(crate) floats: Vec<SeriesSamples>,
    /// Native histograms, written second (`load_with_nhcb`: the classic histograms'
    /// conversion too).
    pub(crate) histograms: Vec<SeriesHistograms>,
}

fn pairs(l: &Labels) -> Vec<(String, String)> {
    l.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn sample(ts: i64, h: &FloatHistogram) -> HistogramSample {
    HistogramSample {
        ts,
        h: Arc::new(Histogram::from(h)),
    }
}

/// Adds the samples of the classic histogram series `s` (`_bucket`, `_count`, `_sum`) to
/// `classic`, by base series and timestamp, for `load_with_nhcb`.
fn add_classic(
    classic: &mut HashMap<Labels, BTreeMap<i64, Classic>>,
    s: &SeriesLine,
    floats: impl Iterator<Item = (i64, f64)>,
) {
    let name = s.labels.name();
    let suffix = ["_bucket", "_count", "_sum"]
        .into_iter()
        .find_map(|suf| name.strip_suffix(suf).map(|b| (suf, b)));
    let Some((suf, base)) = suffix else {
        return;
    };
    let mut l = s.labels.clone();
    l.remove("le");
    l.set("__name__".into(), base.to_string());
    let le = s.labels.get("le").parse::<f64>().ok();
    if suf == "_bucket" && le.is_none_or(f64::is_nan) {
        return;
    }
    let per_ts = classic.entry(l).or_default();
    for (ts, f) in floats {
        let c = per_ts.entry(ts).or_default();
        match (suf, le) {
            ("_bucket", Some(le)) => c.buckets.push((le, f)),
            ("_count", _) => c.count = Some(f),
            _ => c.sum = Some(f),
        }
    }
}

/// The writes of a `load <interval>` (or `load_with_nhcb`) block of `series`: the i-th
/// value at `i * interval`. In one block, a repeated series replaces the earlier line;
/// series without a name are left out.
pub(crate) fn batches(interval: i64, nhcb: bool, series: &[SeriesLine]) -> Batches {
    let mut out = Batches::default();
    let mut last: HashMap<&Labels, usize> = HashMap::new();
    for (i, s) in series.iter().enumerate() {
        last.insert(&s.labels, i);
    }
    // `load_with_nhcb`: classic histograms by base series and timestamp.
    let mut classic: HashMap<Labels, BTreeMap<i64, Classic>> = HashMap::new();
    for (i, s) in series.iter().enumerate() {
        if last.get(&s.labels) != Some(&i) {
            continue;
        }
        let at = |i: usize| i as i64 * interval;
        if s.histogram {
            let histograms = s
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| match v {
                    Some(PointV::H(h)) => Some(sample(at(i), &h.h)),
                    _ => None,
                })
                .collect();
            out.histograms.push(SeriesHistograms {
                labels: pairs(&s.labels),
                histograms,
            });
        }
        let floats = || {
            s.values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_ref()?.float().map(|f| (at(i), f)))
        };
        if nhcb {
            add_classic(&mut classic, s, floats());
        }
        let samples: Vec<Sample> = floats().map(|(ts, value)| Sample { ts, value }).collect();
        if s.labels.name().is_empty() || samples.is_empty() {
            continue;
        }
        out.floats.push(SeriesSamples {
            labels: pairs(&s.labels),
            samples,
        });
    }
    for (labels, per_ts) in classic {
        let histograms = per_ts
            .iter()
            .filter_map(|(ts, c)| hist::nhcb(c).map(|h| sample(*ts, &h)))
            .collect();
        out.histograms.push(SeriesHistograms {
            labels: pairs(&labels),
            histograms,
        });
    }
    out
}
