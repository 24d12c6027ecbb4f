//! Exemplars through the engine's handle: writes, reads by series selectors, and the
//! Arrow batch of the SQL table `exemplars`.

use arrow::record_batch::RecordBatch;

use crate::{
    Engine, ExemplarOutcome, Matcher, Result, SeriesExemplars, SeriesExemplarsRead, TenantId,
};

impl Engine {
    /// Stores exemplars for `tenant` (`docs/exemplars.md`). Each is checked (a `trace_id`
    /// label of 32 hex digits, labels of at most 128 characters, within the retention, not
    /// a duplicate of or older than its series' newest) and the rest are logged to the WAL
    /// and kept in memory, at most `limits.max_exemplars` (over it, the oldest go). Returns
    /// once they are durable, with exact counts by reason. Exemplars never count against
    /// the sample limits or rate, and a refused exemplar never refuses its sample (write
    /// samples with [`Engine::write`]).
    ///
    /// ```
    /// use strata_engine::{Clock, Engine, EngineConfig, Exemplar, SeriesExemplars, SystemClock, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let engine = Engine::open(dir.path(), EngineConfig::default())?;
    /// let t = TenantId::new("acme")?;
    /// let now = SystemClock.now_ms();
    /// let series = vec![("__name__".to_string(), "latency_bucket".to_string())];
    /// let ex = |trace: &str| Exemplar {
    ///     labels: vec![("trace_id".into(), trace.into())],
    ///     ts: now,
    ///     value: 0.2,
    /// };
    /// let good = ex("4bf92f3577b34da6a3ce929d0e0e4736");
    /// let out = engine.write_exemplars(&t, &[SeriesExemplars { series: series.clone(), exemplars: vec![good] }])?;
    /// assert_eq!(out.accepted, 1);
    /// let out = engine.write_exemplars(&t, &[SeriesExemplars { series, exemplars: vec![ex("xyz")] }])?;
    /// assert_eq!(out.rejected_total(), 1);
    /// assert_eq!(engine.select_exemplars(&t, &[], now - 1, now)?[0].exemplars.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_exemplars(
        &self,
        tenant: &TenantId,
        batch: &[SeriesExemplars],
    ) -> Result<ExemplarOutcome> {
        self.core().write_exemplars(tenant, batch)
    }

    /// `tenant`'s exemplars with a timestamp in `[start, end]` (ms, inclusive), from memory
    /// and the partitions' exemplars files, grouped by series (sorted by labels) and in time
    /// order. A series is kept when it matches every matcher of any of `selectors` (all
    /// series when `selectors` is empty).
    pub fn select_exemplars(
        &self,
        tenant: &TenantId,
        selectors: &[Vec<Matcher>],
        start: i64,
        end: i64,
    ) -> Result<Vec<SeriesExemplarsRead>> {
        self.core().select_exemplars(tenant, selectors, start, end)
    }

    /// [`Engine::select_exemplars`] of every series as one batch of
    /// [`crate::exemplars_schema`], ordered by series, then time.
    pub fn exemplars_batch(&self, tenant: &TenantId, start: i64, end: i64) -> Result<RecordBatch> {
        let read = self.select_exemplars(tenant, &[], start, end)?;
        let rows: Vec<_> = read
            .iter()
            .flat_map(|s| s.exemplars.iter().map(move |e| (&s.series, e)))
            .collect();
        crate::exemplars::file::batch(&rows)
    }
}
