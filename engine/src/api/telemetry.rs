//! The engine's self-measurements through the handle.

use crate::{Engine, EngineTelemetry};

impl Engine {
    /// The engine's self-measurements since it opened (disk usage: as of now).
    pub fn telemetry(&self) -> EngineTelemetry {
        let core = self.core();
        EngineTelemetry {
            flush: core.latency.flush.snapshot(),
            compaction: core.latency.compaction.snapshot(),
            retention: core.latency.retention.snapshot(),
            wal_fsync: core.wal.fsync_latency(),
            wal: core.wal.stats(),
            disk: core.disk_usage(),
            retention_filtered: core.filters.removed(),
            downsampled: core
                .downsampled
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}
