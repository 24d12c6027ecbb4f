//! What a span or log write did: records stored, records rejected by reason, and the
//! truncations made to stored records, by kind. Nothing is dropped or cut silently.

use std::collections::BTreeMap;
use std::fmt;

/// Why a span or log record was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SignalReject {
    /// An all-zero trace id (span, link or log record).
    InvalidTraceId,
    /// An all-zero span id (span, link or log record).
    InvalidSpanId,
    /// A span ending before it starts.
    EndBeforeStart,
    /// No timestamp: a span starting at 0, a log record without time or observed time.
    MissingTimestamp,
    /// Older than the tenant's retention for the signal: it would be dropped at once.
    OutOfRetention,
    /// Over the tenant's records/s or bytes/s rate (token bucket empty). Retry later.
    RateLimited,
}

impl SignalReject {
    /// A stable snake_case name, for self-metrics and API messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidTraceId => "invalid_trace_id",
            Self::InvalidSpanId => "invalid_span_id",
            Self::EndBeforeStart => "end_before_start",
            Self::MissingTimestamp => "missing_timestamp",
            Self::OutOfRetention => "out_of_retention",
            Self::RateLimited => "rate_limited",
        }
    }
}

impl fmt::Display for SignalReject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change the engine's caps made to a record it stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Truncation {
    /// An attribute dropped because its list had `max_attributes` already, or because its
    /// key repeats an earlier one (counted in the record's `dropped_attributes_count` too).
    AttributeDropped,
    /// An attribute dropped because its value nests deeper than `max_attribute_depth`
    /// (counted in `dropped_attributes_count` too).
    AttributeTooDeep,
    /// A string or bytes value (attribute, array element, log body) cut to
    /// `max_attribute_value_len` bytes (strings at a character boundary).
    ValueTruncated,
    /// An event dropped past `max_events` (counted in `dropped_events_count`).
    EventDropped,
    /// A link dropped past `max_links` (counted in `dropped_links_count`).
    LinkDropped,
}

impl Truncation {
    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AttributeDropped => "attribute_dropped",
            Self::AttributeTooDeep => "attribute_too_deep",
            Self::ValueTruncated => "value_truncated",
            Self::EventDropped => "event_dropped",
            Self::LinkDropped => "link_dropped",
        }
    }
}

impl fmt::Display for Truncation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one span or log write: exact counts. `accepted + rejected_total()` equals
/// the number of records submitted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignalOutcome {
    /// Records stored (durable once the write returned).
    pub accepted: u64,
    /// Records rejected, by reason.
    pub rejected: BTreeMap<SignalReject, u64>,
    /// For each reason, a message about its first occurrence in this write.
    pub messages: BTreeMap<SignalReject, String>,
    /// Changes made to accepted records, by kind (one count per attribute, value, event or
    /// link affected).
    pub truncated: BTreeMap<Truncation, u64>,
}

impl SignalOutcome {
    /// Total records rejected.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Total truncations.
    pub fn truncated_total(&self) -> u64 {
        self.truncated.values().sum()
    }

    pub(crate) fn reject(
        &mut self,
        reason: SignalReject,
        n: u64,
        message: impl FnOnce() -> String,
    ) {
        if n == 0 {
            return;
        }
        *self.rejected.entry(reason).or_default() += n;
        self.messages.entry(reason).or_insert_with(message);
    }

    pub(crate) fn add_truncations(&mut self, t: &BTreeMap<Truncation, u64>) {
        for (k, n) in t {
            *self.truncated.entry(*k).or_default() += n;
        }
    }
}
