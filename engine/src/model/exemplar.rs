//! Exemplars: a sample picked out of a series with labels of its own (a trace id and span
//! id, mostly), as Prometheus keeps them. What a write of exemplars did, by reason.

use std::collections::BTreeMap;
use std::fmt;

use crate::Labels;

/// The exemplar label holding the trace id, 32 lowercase or uppercase hex digits.
pub const TRACE_ID_LABEL: &str = "trace_id";
/// The exemplar label holding the span id, in hex.
pub const SPAN_ID_LABEL: &str = "span_id";
/// Most UTF-8 characters an exemplar's label names and values may hold together, as in
/// Prometheus (`ExemplarMaxLabelSetLength`).
pub const MAX_EXEMPLAR_LABELS_CHARS: usize = 128;

/// One exemplar: its own labels, a millisecond timestamp and a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The exemplar's labels (`trace_id`, `span_id`, filtered attributes), in any order.
    pub labels: Vec<(String, String)>,
    /// Milliseconds since the epoch.
    pub ts: i64,
    /// The observed value.
    pub value: f64,
}

impl Exemplar {
    /// The value of the label `name`, if set.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Same labels (in any order), timestamp and value bits.
    pub(crate) fn same(&self, other: &Exemplar) -> bool {
        self.ts == other.ts
            && self.value.to_bits() == other.value.to_bits()
            && sorted(&self.labels) == sorted(&other.labels)
    }

    /// Ordering as Prometheus's exemplar storage checks it: by time, then value, then
    /// labels.
    pub(crate) fn before(&self, other: &Exemplar) -> bool {
        if self.ts != other.ts {
            return self.ts < other.ts;
        }
        if self.value != other.value {
            return self.value < other.value;
        }
        sorted(&self.labels) < sorted(&other.labels)
    }
}

fn sorted(labels: &[(String, String)]) -> Vec<&(String, String)> {
    let mut v: Vec<_> = labels.iter().collect();
    v.sort();
    v
}

/// Exemplars of one series, as a write hands them to the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesExemplars {
    /// The series' labels, `__name__` included.
    pub series: Vec<(String, String)>,
    /// Its exemplars, oldest first.
    pub exemplars: Vec<Exemplar>,
}

/// One series' exemplars as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesExemplarsRead {
    /// The series.
    pub series: Labels,
    /// Its exemplars in the range, oldest first.
    pub exemplars: Vec<Exemplar>,
}

/// Why an exemplar was not stored (its sample is stored all the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExemplarReject {
    /// The same as the series' newest exemplar (labels, timestamp and value).
    Duplicate,
    /// Older than the series' newest exemplar.
    OutOfOrder,
    /// A `trace_id` label that is not 32 hex digits (16 bytes).
    BadTraceId,
    /// Labels longer than 128 characters together, or with an empty name or duplicate.
    BadLabels,
    /// The series' labels are invalid (no `__name__`, an empty or repeated name).
    BadSeries,
    /// Older than the tenant's metrics retention.
    OutOfRetention,
    /// The tenant's `max_exemplars` is 0: exemplar storage is off.
    Disabled,
}

impl ExemplarReject {
    /// A stable snake_case name, for self-metrics and API messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate",
            Self::OutOfOrder => "out_of_order",
            Self::BadTraceId => "bad_trace_id",
            Self::BadLabels => "bad_labels",
            Self::BadSeries => "bad_series",
            Self::OutOfRetention => "out_of_retention",
            Self::Disabled => "disabled",
        }
    }
}

impl fmt::Display for ExemplarReject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one write of exemplars did: `accepted` plus every rejection is the number sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExemplarOutcome {
    /// Exemplars stored (durable once the write returned).
    pub accepted: u64,
    /// Exemplars refused, by reason.
    pub rejected: BTreeMap<ExemplarReject, u64>,
    /// For each reason, a message about its first occurrence in this write.
    pub messages: BTreeMap<ExemplarReject, String>,
}

impl ExemplarOutcome {
    /// Total exemplars refused.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Counts one refusal of `reason`, keeping the first message (for refusals made
    /// before the engine, e.g. by a decoder).
    pub fn reject(&mut self, reason: ExemplarReject, message: impl FnOnce() -> String) {
        *self.rejected.entry(reason).or_default() += 1;
        self.messages.entry(reason).or_insert_with(message);
    }

    /// "rejected 2 exemplars: out_of_order 1 (first: ...); duplicate 1 (first: ...)", or
    /// `None` when none was refused.
    pub fn message(&self) -> Option<String> {
        if self.rejected.is_empty() {
            return None;
        }
        let mut m = format!("rejected {} exemplars:", self.rejected_total());
        for (reason, n) in &self.rejected {
            m.push_str(&format!(" {reason} {n}"));
            if let Some(first) = self.messages.get(reason) {
                m.push_str(&format!(" (first: {first})"));
            }
            m.push(';');
        }
        m.pop();
        Some(m)
    }
}

/// Whether `id` is a valid trace id: 32 hex digits.
pub(crate) fn valid_trace_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}
