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
        let ms = Self::matchers(matchers)?;
        let series = self
            .engine
            .select_histogram_runs(self.tenant, &ms, (start_ms, end_ms), None)
            .map_err(|e| Error::Storage(e.to_string()))?;
        Ok(series.into_iter().map(source_series).collect())
    }

    fn select_within(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
        max_bytes: usize,
    ) -> Result<Option<Vec<SourceSeries>>> {
        let ms = Self::matchers(matchers)?;
        match self.engine.select_histogram_runs(
            self.tenant,
            &ms,
            (start_ms, end_ms),
            Some(max_bytes),
        ) {
            Ok(series) => Ok(Some(series.into_iter().map(source_series).collect())),
            Err(strata_engine::Error::ReadLimit { .. }) => Ok(None),
            Err(e) => Err(Error::Storage(e.to_string())),
        }
    }
}

/// An engine series as PromQL reads it: histograms of one layout in a series without
/// floats as a [`HistBlock`], others one [`FloatHistogram`] each.
fn source_series(s: strata_engine::SeriesData) -> SourceSeries {
    let samples: Vec<(i64, f64)> =
        // Same size and alignment: collected in place, without a second buffer.
        s.samples.into_iter().map(|x| (x.ts, x.value)).collect();
    let block = if samples.is_empty() {
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
