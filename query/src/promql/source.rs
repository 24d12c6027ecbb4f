//! Where selectors read series from: the [`SeriesSource`] trait and its implementation over
//! the storage engine.

use std::sync::Arc;

use strata_engine::{Engine, Interval, Matcher as EngineMatcher, TenantId};

use super::error::{Error, Result};
use super::native::{FloatHistogram, HistBlock, tsdb_read_hints};
use super::value::Labels;

/// How a label matcher compares: the engine's operators (regexes fully anchored, `.`
/// matching newlines, as in Prometheus).
pub use strata_engine::MatchOp;

/// One label matcher of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMatcher {
    /// Label name.
    pub name: String,
    /// Operator.
    pub op: MatchOp,
    /// Value or regex.
    pub value: String,
}

/// A series as read from storage: labels and samples sorted by timestamp (ms), staleness
/// markers included.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSeries {
    /// The series' labels, `__name__` included.
    pub labels: Labels,
    /// (timestamp ms, value), sorted by timestamp, one per timestamp.
    pub samples: Vec<(i64, f64)>,
    /// (timestamp ms, native histogram), sorted by timestamp, at times `samples` does not
    /// have; staleness markers (see [`super::value::is_stale_histogram`]) included.
    pub histograms: Vec<(i64, Arc<FloatHistogram>)>,
    /// The same histograms column by column, when they share one layout and the series
    /// has no float sample ([`HistBlock`]); `histograms` is then empty. Only selectors
    /// whose every use reads blocks keep one (`eval/columnar.rs`); the others'
    /// are expanded ([`SourceSeries::expand_block`]) as they are read.
    pub block: Option<Arc<HistBlock>>,
    /// Where a downsampled tier holds the series, its intervals in time order
    /// (`samples` then holds each interval's last sample): `*_over_time`, `rate`,
    /// `increase` and `delta` read them (`range/tiers.rs`).
    pub intervals: Vec<Interval>,
}

/// Bytes one float point holds: its timestamp and value.
pub(crate) const POINT_BYTES: usize = 16;

/// Bytes a histogram point holds beside its buckets' spans: the timestamp, the pointer and
/// the histogram's own fields.
const HIST_POINT_BYTES: usize = 128;

/// Estimated bytes `s` holds in memory: its label strings, its float points, its
/// histograms (with their buckets).
pub(crate) fn series_bytes(s: &SourceSeries) -> usize {
    let labels: usize = s.labels.iter().map(|(n, v)| n.len() + v.len() + 48).sum();
    let hists: usize = s
        .histograms
        .iter()
        .map(|(_, h)| HIST_POINT_BYTES + 8 * (h.positive.len() + h.negative.len()))
        .sum();
    let block = s.block.as_ref().map_or(0, |b| b.bytes());
    labels
        + s.samples.len() * POINT_BYTES
        + hists
        + block
        + s.intervals.len() * size_of::<Interval>()
}

impl SourceSeries {
    /// Moves a block's histograms into `histograms`, one [`FloatHistogram`] each.
    pub fn expand_block(&mut self) {
        if let Some(b) = self.block.take() {
            self.histograms = b.expand();
        }
    }
}

/// The storage a PromQL query reads.
pub trait SeriesSource {
    /// Series matching all `matchers` with their samples in `[start_ms, end_ms]` (both
    /// inclusive). Series without samples in the range may be left out.
    fn select(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SourceSeries>>;

    /// How much further back than asked a read from `from` (ms) should start so that the
    /// first steps find a sample: where a downsampled tier holds the data there, its
    /// samples are an interval apart, and a step's lookback reaches one interval further
    /// (`eval/mod.rs`, `select_vector`). 0 (the default) where raw data is.
    fn extra_lookback(&self, _from: i64) -> i64 {
        0
    }

    /// [`Self::select`], giving up (`Ok(None)`) when the series would hold more than
    /// `max_bytes` in memory (16 bytes a float sample, as [`Engine::select_within`]
    /// counts them, and their labels). The default reads everything, then compares; the
    /// engine's source stops reading about there.
    fn select_within(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
        max_bytes: usize,
    ) -> Result<Option<Vec<SourceSeries>>> {
        let series = self.select(matchers, start_ms, end_ms)?;
        let bytes: usize = series.iter().map(series_bytes).sum();
        Ok((bytes <= max_bytes).then_some(series))
    }

    /// [`Self::select_within`] (no limit: [`Self::select`]) for a selector whose
    /// evaluation reads histograms as blocks (`blocks`: [`SourceSeries::block`]) or one
    /// [`FloatHistogram`] per sample. The default ignores `blocks`: what it hands out either
    /// way is expanded where blocks are not read.
    fn select_for(
        &self,
        matchers: &[LabelMatcher],
        (start_ms, end_ms): (i64, i64),
        max_bytes: Option<usize>,
        blocks: bool,
    ) -> Result<Option<Vec<SourceSeries>>> {
        let _ = blocks;
        match max_bytes {
            Some(max) => self.select_within(matchers, start_ms, end_ms, max),
            None => self.select(matchers, start_ms, end_ms).map(Some),
        }
    }
}

/// [`SeriesSource`] over one tenant of a [`strata_engine::Engine`].
#[derive(Debug, Clone, Copy)]
pub struct EngineSource<'a> {
    engine: &'a Engine,
    tenant: &'a TenantId,
}

impl<'a> EngineSource<'a> {
    /// Reads `tenant`'s series from `engine`.
    pub fn new(engine: &'a Engine, tenant: &'a TenantId) -> Self {
        Self { engine, tenant }
    }
}

impl EngineSource<'_> {
    fn matchers(matchers: &[LabelMatcher]) -> Result<Vec<EngineMatcher>> {
        matchers
            .iter()
            .map(|m| {
                EngineMatcher::new(&m.name, m.op, &m.value)
                    .map_err(|e| Error::Execution(e.to_string()))
            })
            .collect()
    }
}

impl SeriesSource for EngineSource<'_> {
    fn extra_lookback(&self, from: i64) -> i64 {
        self.engine.tier_resolution_at(self.tenant, from)
    }

    fn select(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SourceSeries>> {
        let got = self.select_for(matchers, (start_ms, end_ms), None, true)?;
        Ok(got.unwrap_or_default())
    }

    fn select_within(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
        max_bytes: usize,
    ) -> Result<Option<Vec<SourceSeries>>> {
        self.select_for(matchers, (start_ms, end_ms), Some(max_bytes), true)
    }

    fn select_for(
        &self,
        matchers: &[LabelMatcher],
        window: (i64, i64),
        max_bytes: Option<usize>,
        blocks: bool,
    ) -> Result<Option<Vec<SourceSeries>>> {
        let ms = Self::matchers(matchers)?;
        match self
            .engine
            .select_histogram_runs(self.tenant, &ms, window, max_bytes)
        {
            Ok(series) => Ok(Some(convert(series, blocks))),
            Err(strata_engine::Error::ReadLimit { .. }) if max_bytes.is_some() => Ok(None),
            Err(e) => Err(Error::Storage(e.to_string())),
        }
    }
}

/// Histogram samples from which [`convert`] splits its work over threads.
const PARALLEL_HISTOGRAMS: usize = 20_000;
/// Most threads [`convert`] runs on.
const MAX_THREADS: usize = 4;

/// The engine's series as PromQL reads them ([`source_series`]), in order. With many
/// histogram samples (building blocks and histograms costs about as much as reading them),
/// the series are split over a few threads, as the engine splits the read.
fn convert(mut series: Vec<strata_engine::SeriesData>, blocks: bool) -> Vec<SourceSeries> {
    let hists: usize = series
        .iter()
        .map(|s| s.histograms.len() + s.histogram_runs.iter().map(|r| r.len()).sum::<usize>())
        .sum();
    let threads = if hists < PARALLEL_HISTOGRAMS || series.len() < 2 {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(MAX_THREADS)
    };
    if threads <= 1 {
        return series
            .into_iter()
            .map(|s| source_series(s, blocks))
            .collect();
    }
    let per = series.len().div_ceil(threads);
    let mut parts = Vec::with_capacity(threads);
    while series.len() > per {
        parts.push(series.split_off(series.len() - per));
    }
    parts.push(series);
    parts.reverse();
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                scope.spawn(move || {
                    part.into_iter()
                        .map(|s| source_series(s, blocks))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

/// An engine series as PromQL reads it: with `blocks`, histograms of one layout in a series
/// without floats as a [`HistBlock`]; others one [`FloatHistogram`] each.
fn source_series(s: strata_engine::SeriesData, blocks: bool) -> SourceSeries {
    let samples: Vec<(i64, f64)> =
        // Same size and alignment: collected in place, without a second buffer.
        s.samples.into_iter().map(|x| (x.ts, x.value)).collect();
    let block = if blocks && samples.is_empty() {
        HistBlock::from_parts(&s.histogram_runs, &s.histograms).map(Arc::new)
    } else {
        None
    };
    let mut hists = s.histograms;
    if block.is_none() && !s.histogram_runs.is_empty() {
        // Runs and samples do not meet in time: their samples in time order.
        hists.extend(s.histogram_runs.iter().flat_map(|r| r.samples()));
        hists.sort_by_key(|h| h.ts);
    }
    let histograms = if hists.is_empty() || block.is_some() {
        Vec::new()
    } else {
        // One series' custom bounds are mostly the same from sample to sample: one shared
        // copy, which also makes the bounds checks of its arithmetic pointer compares.
        let mut bounds: Arc<[f64]> = Arc::from(&[][..]);
        // A sample read from a file is this series' alone: its buffers are moved, not
        // copied (one the head shares is cloned).
        let mut hs: Vec<(i64, FloatHistogram)> = hists
            .into_iter()
            .map(|x| {
                let h = Arc::try_unwrap(x.h).unwrap_or_else(|h| (*h).clone());
                (x.ts, FloatHistogram::from_engine_owned(h, &mut bounds))
            })
            .collect();
        // The hints Prometheus's TSDB would read back (see `tsdb_read_hints`).
        tsdb_read_hints(&samples, &mut hs);
        hs.into_iter().map(|(t, h)| (t, Arc::new(h))).collect()
    };
    SourceSeries {
        labels: Labels::from_sorted_pairs(|| {
            s.labels.iter().map(|l| (l.name.as_str(), l.value.as_str()))
        }),
        samples,
        histograms,
        block,
        intervals: s.intervals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_engine::{
        Counts, Histogram, HistogramRun, Labels as EngineLabels, ResetHint, RunCounts, Sample,
        SeriesData, Span,
    };

    /// Series `i`: 600 NHCB samples in one run (a counter reset in the middle), or floats.
    fn series(i: usize) -> SeriesData {
        let labels = EngineLabels::from_pairs([("__name__", "h"), ("i", &*i.to_string())]);
        let mut s = SeriesData {
            labels: Arc::new(labels.unwrap()),
            samples: Vec::new(),
            histograms: Vec::new(),
            histogram_runs: Vec::new(),
            intervals: Vec::new(),
        };
        if i % 10 == 9 {
            s.samples = (0..50)
                .map(|k| Sample {
                    ts: k * 15_000,
                    value: k as f64,
                })
                .collect();
            return s;
        }
        let n = 600u64;
        let c = |k: u64| if k < 300 { k * (i as u64 + 1) } else { k - 300 };
        let layout = Histogram {
            schema: -53,
            zero_threshold: 0.0,
            sum: 0.0,
            reset_hint: ResetHint::Unknown,
            positive_spans: vec![Span {
                offset: 0,
                length: 3,
            }],
            negative_spans: vec![],
            custom_values: vec![0.5, 1.0],
            counts: Counts::Int {
                count: 0,
                zero_count: 0,
                positive_deltas: vec![],
                negative_deltas: vec![],
            },
        };
        s.histogram_runs.push(HistogramRun {
            layout,
            ts: (0..n as i64).map(|k| k * 15_000).collect(),
            reset_hints: vec![ResetHint::NotReset; n as usize],
            sums: (0..n).map(|k| c(k) as f64 * 0.25).collect(),
            counts: RunCounts::Int {
                count: (0..n).map(|k| 3 * c(k)).collect(),
                zero: vec![0; n as usize],
                buckets: (0..n).flat_map(|k| [c(k), 2 * c(k), 3 * c(k)]).collect(),
            },
        });
        s
    }

    /// Enough histogram samples to split over threads: the same series, in the same
    /// order, as one thread builds them, with blocks and without.
    #[test]
    fn a_conversion_over_threads_is_the_one_thread_conversion() {
        let all: Vec<SeriesData> = (0..45).map(series).collect();
        let hists: usize = all
            .iter()
            .flat_map(|s| &s.histogram_runs)
            .map(|r| r.len())
            .sum();
        assert!(hists >= PARALLEL_HISTOGRAMS, "{hists}");
        for blocks in [true, false] {
            let one: Vec<SourceSeries> = all
                .iter()
                .cloned()
                .map(|s| source_series(s, blocks))
                .collect();
            assert_eq!(convert(all.clone(), blocks), one, "blocks {blocks}");
            assert_eq!(
                one.iter().filter(|s| s.block.is_some()).count(),
                if blocks { 41 } else { 0 }
            );
        }
    }
}
