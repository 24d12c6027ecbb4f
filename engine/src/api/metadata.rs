//! Metric metadata through the engine's handle: writes and reads (`docs/http-api.md`,
//! `/api/v1/metadata`).

use crate::{Engine, FamilyMetadata, MetadataOutcome, MetadataRead, Result, TenantId};

impl Engine {
    /// Stores metric metadata for `tenant`: each entry that its family does not have yet
    /// is kept (the newest last; past [`crate::MAX_METADATA_PER_METRIC`] distinct entries
    /// the oldest goes) and logged to the WAL; an entry equal to one the family has writes
    /// nothing. Refused, counted by reason: empty or overlong names, help over 64 KiB, and
    /// new families past [`crate::MAX_METADATA_METRICS`] per tenant. Returns once the new
    /// entries are durable. Metadata survives flushes and restarts (it is logged again at
    /// each flush cut) and is never written to Parquet.
    ///
    /// ```
    /// use strata_engine::{Engine, EngineConfig, FamilyMetadata, Metadata, MetricType, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let engine = Engine::open(dir.path(), EngineConfig::default())?;
    /// let t = TenantId::new("acme")?;
    /// let m = Metadata { kind: MetricType::Counter, help: "Requests.".into(), unit: String::new() };
    /// let e = FamilyMetadata { family: "http_requests_total".into(), metadata: m.clone() };
    /// assert_eq!(engine.write_metadata(&t, &[e.clone()])?.stored, 1);
    /// assert_eq!(engine.write_metadata(&t, &[e])?.unchanged, 1);
    /// assert_eq!(engine.metadata(&t, None, None, None), vec![("http_requests_total".to_string(), vec![m])]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_metadata(
        &self,
        tenant: &TenantId,
        entries: &[FamilyMetadata],
    ) -> Result<MetadataOutcome> {
        self.core().write_metadata(tenant, entries)
    }

    /// `tenant`'s metadata: families sorted by name (only `metric` when given), each with
    /// its distinct entries, oldest first; at most `limit` families and `limit_per_metric`
    /// entries per family (`None`: all).
    pub fn metadata(
        &self,
        tenant: &TenantId,
        metric: Option<&str>,
        limit: Option<usize>,
        limit_per_metric: Option<usize>,
    ) -> MetadataRead {
        self.core()
            .read_metadata(tenant, metric, limit, limit_per_metric)
    }
}
