//! What a write did: how many samples were stored, and how many rejected, by reason.

use std::collections::BTreeMap;
use std::fmt;

/// Why a sample was not stored. Every rejection is counted by reason and reported to the
/// writer; nothing is dropped silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The series has no `__name__` label.
    MissingMetricName,
    /// A label with an empty name.
    EmptyLabelName,
    /// Two labels with the same name.
    DuplicateLabelName,
    /// More labels than `max_labels_per_series`.
    TooManyLabels,
    /// A label name longer than `max_label_name_len`.
    LabelNameTooLong,
    /// A label value longer than `max_label_value_len`.
    LabelValueTooLong,
    /// A new (or re-activated) series while the tenant has `max_active_series`.
    SeriesLimit,
    /// A new series while its metric name has `max_series_per_metric` active series.
    MetricSeriesLimit,
    /// Over the tenant's ingest rate (token bucket empty). Retry later.
    RateLimited,
    /// Older than the series' newest sample by more than the out-of-order window.
    TooOld,
    /// Older than the tenant's metrics retention: it would be dropped at once.
    OutOfRetention,
    /// A different value at a timestamp the series already has (identical re-sends are
    /// accepted as duplicates instead). Prometheus rejects these too.
    ConflictingValue,
    /// A native histogram that fails Prometheus's validation (spans against buckets,
    /// negative counts, count against buckets, custom bounds, schema).
    InvalidHistogram,
    /// A native histogram with more buckets than `max_native_histogram_buckets` even at
    /// the lowest resolution (or custom buckets, which cannot be reduced).
    TooManyBuckets,
}

impl RejectReason {
    /// A stable snake_case name, for self-metrics and API messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingMetricName => "missing_metric_name",
            Self::EmptyLabelName => "empty_label_name",
            Self::DuplicateLabelName => "duplicate_label_name",
            Self::TooManyLabels => "too_many_labels",
            Self::LabelNameTooLong => "label_name_too_long",
            Self::LabelValueTooLong => "label_value_too_long",
            Self::SeriesLimit => "series_limit",
            Self::MetricSeriesLimit => "metric_series_limit",
            Self::RateLimited => "rate_limited",
            Self::TooOld => "too_old",
            Self::OutOfRetention => "out_of_retention",
            Self::ConflictingValue => "conflicting_value",
            Self::InvalidHistogram => "invalid_histogram",
            Self::TooManyBuckets => "too_many_buckets",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for RejectReason {}

/// The result of one write: exact counts. `accepted + duplicates + rejected` equals the
/// number of samples submitted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Samples stored (durable once the write returned), native histograms included (each
    /// counts as one sample).
    pub accepted: u64,
    /// The native histogram samples among `accepted`.
    pub accepted_histograms: u64,
    /// Zero samples (and empty histograms) stored at start timestamps, not counted in
    /// `accepted`: see [`crate::KeyedSeries::sample_starts`].
    pub start_zero_samples: u64,
    /// Samples identical to ones already stored (same series, timestamp and value bits):
    /// harmless re-sends, stored once.
    pub duplicates: u64,
    /// Samples rejected, by reason.
    pub rejected: BTreeMap<RejectReason, u64>,
    /// For each reason, a message about its first occurrence in this write, naming the
    /// series and the limit with its value.
    pub messages: BTreeMap<RejectReason, String>,
}

impl WriteOutcome {
    /// Total samples rejected.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    pub(crate) fn reject(
        &mut self,
        reason: RejectReason,
        n: u64,
        message: impl FnOnce() -> String,
    ) {
        if n == 0 {
            return;
        }
        *self.rejected.entry(reason).or_default() += n;
        self.messages.entry(reason).or_insert_with(message);
    }
}
