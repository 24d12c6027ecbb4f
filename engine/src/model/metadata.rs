//! Metric metadata: a metric family's type, help and unit, as remote-write and OTLP send
//! them and `/api/v1/metadata` answers them (`docs/http-api.md`).

use std::collections::BTreeMap;
use std::fmt;

/// Bytes a help text may hold; a longer one is refused ([`MetadataReject::TooLong`]).
pub const MAX_METADATA_HELP_BYTES: usize = 64 * 1024;
/// Bytes a unit or a metric family name may hold; longer ones are refused.
pub const MAX_METADATA_NAME_BYTES: usize = 1024;
/// Distinct metadata entries kept per metric family (several senders may describe one
/// metric differently); a new one past it pushes the oldest out.
pub const MAX_METADATA_PER_METRIC: usize = 10;
/// Metric families with metadata one tenant may have; past it, entries for new names are
/// refused ([`MetadataReject::TooManyMetrics`]).
pub const MAX_METADATA_METRICS: usize = 100_000;

/// A metric family's type, as Prometheus names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum MetricType {
    /// `unknown` (remote-write's `UNKNOWN`/`METRIC_TYPE_UNSPECIFIED`, 0).
    #[default]
    Unknown,
    /// `counter` (1).
    Counter,
    /// `gauge` (2).
    Gauge,
    /// `histogram` (3).
    Histogram,
    /// `gaugehistogram` (4).
    GaugeHistogram,
    /// `summary` (5).
    Summary,
    /// `info` (6).
    Info,
    /// `stateset` (7).
    StateSet,
}

impl MetricType {
    const ALL: [Self; 8] = [
        Self::Unknown,
        Self::Counter,
        Self::Gauge,
        Self::Histogram,
        Self::GaugeHistogram,
        Self::Summary,
        Self::Info,
        Self::StateSet,
    ];

    /// The name Prometheus's API answers (`counter`, `gaugehistogram`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::GaugeHistogram => "gaugehistogram",
            Self::Summary => "summary",
            Self::Info => "info",
            Self::StateSet => "stateset",
        }
    }

    /// The type of remote-write's enum number (`MetricMetadata.MetricType` in 1.0,
    /// `Metadata.MetricType` in 2.0: the same numbers, 0 to 7); `None` for any other.
    pub fn from_number(n: i64) -> Option<Self> {
        usize::try_from(n)
            .ok()
            .and_then(|i| Self::ALL.get(i))
            .copied()
    }

    /// The enum number ([`MetricType::from_number`]'s inverse), the WAL's code too.
    pub fn number(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One metadata entry: type, help and unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Metadata {
    /// The type.
    pub kind: MetricType,
    /// The help text (OTLP's description).
    pub help: String,
    /// The unit (may be empty).
    pub unit: String,
}

/// A metadata entry for a metric family, as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FamilyMetadata {
    /// The metric family's name (a series' `__name__` for remote-write 2.0).
    pub family: String,
    /// Its metadata.
    pub metadata: Metadata,
}

/// Why a metadata entry was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetadataReject {
    /// An empty family name, or one over [`MAX_METADATA_NAME_BYTES`].
    BadName,
    /// A help over [`MAX_METADATA_HELP_BYTES`] or a unit over [`MAX_METADATA_NAME_BYTES`].
    TooLong,
    /// A new family name while the tenant has [`MAX_METADATA_METRICS`].
    TooManyMetrics,
    /// Refused by a decoder before the engine: a type number outside 0..=7, text that is
    /// not UTF-8.
    Invalid,
}

impl MetadataReject {
    /// A stable snake_case name, for self-metrics and API messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadName => "bad_name",
            Self::TooLong => "too_long",
            Self::TooManyMetrics => "too_many_metrics",
            Self::Invalid => "invalid",
        }
    }
}

impl fmt::Display for MetadataReject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one [`crate::Engine::write_metadata`] did: `stored + unchanged` plus every
/// rejection is the number of entries sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataOutcome {
    /// Entries that were new for their family (logged, durable once the write returned).
    pub stored: u64,
    /// Entries equal to one the family has already (nothing written).
    pub unchanged: u64,
    /// Older entries pushed out by new ones over [`MAX_METADATA_PER_METRIC`].
    pub evicted: u64,
    /// Entries refused, by reason.
    pub rejected: BTreeMap<MetadataReject, u64>,
    /// For each reason, a message about its first occurrence in this write.
    pub messages: BTreeMap<MetadataReject, String>,
}

impl MetadataOutcome {
    /// Total entries refused.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Counts one refusal of `reason`, keeping the first message.
    pub fn reject(&mut self, reason: MetadataReject, message: impl FnOnce() -> String) {
        *self.rejected.entry(reason).or_default() += 1;
        self.messages.entry(reason).or_insert_with(message);
    }

    /// Adds `other`'s counts (and first messages) to these.
    pub fn merge(&mut self, other: MetadataOutcome) {
        self.stored += other.stored;
        self.unchanged += other.unchanged;
        self.evicted += other.evicted;
        for (r, n) in other.rejected {
            *self.rejected.entry(r).or_default() += n;
        }
        for (r, m) in other.messages {
            self.messages.entry(r).or_insert(m);
        }
    }

    /// "rejected 2 metadata entries: too_long 1 (first: ...); ...", or `None` when none
    /// was refused.
    pub fn message(&self) -> Option<String> {
        if self.rejected.is_empty() {
            return None;
        }
        let mut m = format!("rejected {} metadata entries:", self.rejected_total());
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

/// A tenant's metadata as read: families sorted by name, each with its distinct entries,
/// oldest first.
pub type MetadataRead = Vec<(String, Vec<Metadata>)>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_remote_writes() {
        // prompb/types.proto MetricMetadata.MetricType and write/v2 Metadata.MetricType.
        let expect = [
            (0, "unknown"),
            (1, "counter"),
            (2, "gauge"),
            (3, "histogram"),
            (4, "gaugehistogram"),
            (5, "summary"),
            (6, "info"),
            (7, "stateset"),
        ];
        for (n, name) in expect {
            let t = MetricType::from_number(n).unwrap();
            assert_eq!(t.as_str(), name);
            assert_eq!(i64::from(t.number()), n);
        }
        assert_eq!(MetricType::from_number(8), None);
        assert_eq!(MetricType::from_number(-1), None);
    }
}
