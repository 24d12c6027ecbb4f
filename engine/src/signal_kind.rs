//! The three signals the engine stores, each under its own directory of Hive partitions.

/// A kind of telemetry with its own tables and partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Signal {
    /// Samples (`metrics/`).
    Metrics,
    /// Spans (`traces/`).
    Traces,
    /// Log records (`logs/`).
    Logs,
}

impl Signal {
    /// The directory under the data directory.
    pub(crate) fn dir(self) -> &'static str {
        match self {
            Self::Metrics => "metrics",
            Self::Traces => "traces",
            Self::Logs => "logs",
        }
    }
}
