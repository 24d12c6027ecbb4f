//! Samples as a writer submits them and as a read returns them.

use std::sync::Arc;

use crate::{HistogramSample, Labels};

/// One sample: a millisecond timestamp and a value (any f64, NaN and ±Inf included).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub ts: i64,
    /// The value.
    pub value: f64,
}

/// Samples for one series, as a writer submits them.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamples {
    /// The series' labels, `__name__` included, in any order.
    pub labels: Vec<(String, String)>,
    /// Its samples, in any order.
    pub samples: Vec<Sample>,
}

/// Native histogram samples for one series, as a writer submits them
/// ([`crate::Engine::write_histograms`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesHistograms {
    /// The series' labels, `__name__` included, in any order.
    pub labels: Vec<(String, String)>,
    /// Its histogram samples, in any order.
    pub histograms: Vec<HistogramSample>,
}

/// A series and its samples in a time range, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    /// The series' canonical labels.
    pub labels: Arc<Labels>,
    /// Samples in time order, one per timestamp.
    pub samples: Vec<Sample>,
    /// Native histogram samples in time order, one per timestamp (a timestamp has a float
    /// sample or a histogram, never both).
    pub histograms: Vec<HistogramSample>,
    /// Only from [`crate::Engine::select_histogram_runs`]: more of the series' native
    /// histograms, as runs of one layout read whole from a file set, in time order; no
    /// run meets another or a sample of `histograms` in time, and a series with runs has
    /// no float sample. Empty from every other read.
    pub histogram_runs: Vec<crate::HistogramRun>,
    /// Where a downsampled tier holds the series (`docs/retention.md`): its intervals in
    /// the range, in time order. `samples` then holds each interval's last sample.
    pub intervals: Vec<crate::Interval>,
}
