//! What the engine reports about itself for `/metrics`: how long flushes, compactions and
//! retention passes take, the WAL's fsync latency and counters, and partitions and bytes on
//! disk per tenant.

use std::collections::BTreeMap;
use std::time::Instant;

use strata_wal::{LatencyHistogram, LatencySnapshot, WalStats};

use crate::TenantId;

/// Duration histograms of the background work, recorded by [`Core`].
#[derive(Debug, Default)]
pub(crate) struct Latencies {
    pub(crate) flush: LatencyHistogram,
    pub(crate) compaction: LatencyHistogram,
    pub(crate) retention: LatencyHistogram,
}

/// Records the time from its creation to its drop into a histogram, so that every exit of
/// the timed function (errors included) is counted.
pub(crate) struct Timer<'a> {
    histogram: &'a LatencyHistogram,
    started: Instant,
}

impl<'a> Timer<'a> {
    pub(crate) fn start(histogram: &'a LatencyHistogram) -> Self {
        Self {
            histogram,
            started: Instant::now(),
        }
    }

    /// Ends the measurement without recording it (the operation turned out to be a no-op).
    pub(crate) fn discard(self) {
        std::mem::forget(self);
    }
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.histogram.record(self.started.elapsed());
    }
}

/// A copy of the engine's self-measurements (see [`Engine::telemetry`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineTelemetry {
    /// Flushes of memory to Parquet, failed ones included.
    pub flush: LatencySnapshot,
    /// Compaction passes.
    pub compaction: LatencySnapshot,
    /// Retention passes.
    pub retention: LatencySnapshot,
    /// fsyncs of WAL segment data.
    pub wal_fsync: LatencySnapshot,
    /// WAL counters (appends, records, bytes, fsyncs).
    pub wal: WalStats,
    /// Committed Parquet data per tenant and signal (`"metrics"`, `"traces"`, `"logs"`,
    /// and each downsampled tier as `"metrics_<res>"`, e.g. `"metrics_5m"`); pairs with no
    /// data are absent.
    pub disk: BTreeMap<(TenantId, &'static str), DiskUsage>,
    /// Samples the retention filters removed since open, per filter name.
    pub retention_filtered: BTreeMap<String, u64>,
    /// What downsampling did since open, all tenants ([`crate::Limits::downsampling`]).
    pub downsampled: DownsampleStats,
}

/// Committed Parquet data of one tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Partition directories holding at least one committed file set.
    pub partitions: usize,
    /// Committed file sets (samples, series and index files each).
    pub file_sets: usize,
    /// Bytes of those files.
    pub bytes: u64,
    /// Of those bytes, the cold file sets' (metrics and logs partitions older than
    /// [`crate::Limits::cold_after`], in the dense layout; 0 for spans).
    pub cold_bytes: u64,
}

/// What a downsampling pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownsampleStats {
    /// Tier partitions (one tier, one day) written.
    pub days: usize,
    /// Source rows read: raw samples, or a finer tier's rows.
    pub rows_in: u64,
    /// Tier rows written.
    pub rows_out: u64,
    /// Source partitions dropped once their tier was committed (or, where a late write
    /// shares the partition, the sets the tier took swapped out of it).
    pub dropped: usize,
    /// Source sets written again without the series a tier's selector took (the others
    /// stay).
    pub trimmed: usize,
    /// Tier partitions dropped by the metrics retention.
    pub expired: usize,
    /// Bytes of the tier files written.
    pub bytes_out: u64,
}

impl DownsampleStats {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &DownsampleStats) {
        self.days += other.days;
        self.rows_in += other.rows_in;
        self.rows_out += other.rows_out;
        self.dropped += other.dropped;
        self.trimmed += other.trimmed;
        self.expired += other.expired;
        self.bytes_out += other.bytes_out;
    }
}
