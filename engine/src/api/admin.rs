//! The operator's side of [`Engine`]: checkpoints (online snapshots of the data
//! directory) and deletes. The protocols and their crash arguments are in
//! `lifecycle/checkpoint.rs` and `lifecycle/delete.rs`.

use std::path::Path;

use crate::api::Engine;
use crate::lifecycle::checkpoint::{CheckpointOptions, CheckpointStats};
use crate::lifecycle::snapshots::SnapshotInfo;
use crate::model::delete::{DeleteStats, RecordPredicate, RecordSignal};
use crate::model::retention_filter::RetentionFilter;
use crate::{Matcher, Result, TenantId};

impl Engine {
    /// Writes a consistent copy of every signal's committed partitions into `dest` (absent,
    /// or an empty directory), after flushing memory: [`Engine::open`] opens `dest` as a
    /// data directory holding every sample, span and log record acknowledged before this
    /// call returns, except those acknowledged during its very last step (the copy of the
    /// WAL records written after the flush, which the copy's open replays).
    /// Partition files are hard-linked (copied where `dest` is on another file system), so a
    /// checkpoint on the same file system costs almost no space until compaction or
    /// retention delete the originals. Writes, flushes, compaction and retention go on
    /// meanwhile. On failure nothing is left in `dest`.
    ///
    /// ```
    /// use strata_engine::{Clock, Engine, EngineConfig, MatchOp, Matcher, Sample, SeriesSamples};
    /// use strata_engine::{SystemClock, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let t = TenantId::new("acme")?;
    /// let engine = Engine::open(dir.path().join("data"), EngineConfig::default())?;
    /// let now = SystemClock.now_ms();
    /// let up = SeriesSamples {
    ///     labels: vec![("__name__".into(), "up".into())],
    ///     samples: vec![Sample { ts: now, value: 1.0 }],
    /// };
    /// engine.write(&t, &[up])?;
    /// engine.checkpoint(&dir.path().join("copy"))?;
    ///
    /// let copy = Engine::open(dir.path().join("copy"), EngineConfig::default())?;
    /// let m = Matcher::new("__name__", MatchOp::Equal, "up")?;
    /// assert_eq!(copy.select(&t, &[m], now, now)?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checkpoint(&self, dest: &Path) -> Result<CheckpointStats> {
        self.core().checkpoint(dest, &CheckpointOptions::default())
    }

    /// [`Engine::checkpoint`] without the flush: only what is committed already
    /// (Prometheus's `skip_head`). What is in memory, up to `flush_interval` of writes, is
    /// not in it.
    pub fn checkpoint_committed(&self, dest: &Path) -> Result<CheckpointStats> {
        let options = CheckpointOptions {
            skip_head: true,
            tenant: None,
        };
        self.core().checkpoint(dest, &options)
    }

    /// [`Engine::checkpoint`] with its options: without the flush
    /// ([`CheckpointOptions::skip_head`], as [`Engine::checkpoint_committed`]), and of one
    /// tenant only ([`CheckpointOptions::tenant`]): that tenant's partitions of every
    /// signal and its WAL records, so that the copy opens holding that tenant's data and
    /// nothing of any other tenant's.
    ///
    /// ```
    /// use strata_engine::{CheckpointOptions, Clock, Engine, EngineConfig, MatchOp, Matcher};
    /// use strata_engine::{Sample, SeriesSamples, SystemClock, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let (acme, beta) = (TenantId::new("acme")?, TenantId::new("beta")?);
    /// let engine = Engine::open(dir.path().join("data"), EngineConfig::default())?;
    /// let now = SystemClock.now_ms();
    /// let up = SeriesSamples {
    ///     labels: vec![("__name__".into(), "up".into())],
    ///     samples: vec![Sample { ts: now, value: 1.0 }],
    /// };
    /// engine.write(&acme, &[up.clone()])?;
    /// engine.write(&beta, &[up])?;
    /// let only_acme = CheckpointOptions { skip_head: false, tenant: Some(acme.clone()) };
    /// engine.checkpoint_with(&dir.path().join("copy"), &only_acme)?;
    ///
    /// let copy = Engine::open(dir.path().join("copy"), EngineConfig::default())?;
    /// let m = Matcher::new("__name__", MatchOp::Equal, "up")?;
    /// assert_eq!(copy.select(&acme, &[m.clone()], now, now)?.len(), 1);
    /// assert!(copy.select(&beta, &[m], now, now)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checkpoint_with(
        &self,
        dest: &Path,
        options: &CheckpointOptions,
    ) -> Result<CheckpointStats> {
        self.core().checkpoint(dest, options)
    }

    /// Takes a named snapshot: a checkpoint ([`Engine::checkpoint_with`]) into
    /// `<data>/snapshots/<name>`, described (whose data, when, whether the head was
    /// skipped) so that [`Engine::snapshots`] lists it. The name is the UTC time and 16
    /// random hex digits, as Prometheus names its snapshots.
    ///
    /// ```
    /// use strata_engine::{CheckpointOptions, Engine, EngineConfig, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let engine = Engine::open(dir.path(), EngineConfig::default())?;
    /// let acme = CheckpointOptions { skip_head: false, tenant: Some(TenantId::new("acme")?) };
    /// let (taken, _) = engine.take_snapshot(&acme)?;
    /// assert!(dir.path().join("snapshots").join(&taken.name).is_dir());
    /// assert_eq!(engine.snapshots()?, vec![taken.clone()]);
    /// assert!(engine.remove_snapshot(&taken.name)?);
    /// assert!(engine.snapshots()?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_snapshot(
        &self,
        options: &CheckpointOptions,
    ) -> Result<(SnapshotInfo, CheckpointStats)> {
        self.core().take_snapshot(options)
    }

    /// Every snapshot under `<data>/snapshots/`, oldest first, each measured now (files,
    /// bytes, and the bytes only it holds).
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        self.core().snapshots()
    }

    /// [`Engine::snapshots`] as measured at most a minute ago (taking or removing a
    /// snapshot measures again): for telemetry scraped often. Empty when the directory
    /// cannot be read.
    pub fn snapshots_measured(&self) -> Vec<SnapshotInfo> {
        self.core().snapshots_measured()
    }

    /// Removes the snapshot `name`; `false` if there is none. Fails with
    /// [`crate::Error::InvalidRequest`] for a name that cannot be one (a path, a hidden
    /// name).
    pub fn remove_snapshot(&self, name: &str) -> Result<bool> {
        self.core().remove_snapshot(name)
    }

    /// Deletes the samples in `[start, end]` (ms, inclusive) of `tenant`'s series that
    /// match every matcher: once this returns, no read sees them, and they are gone from
    /// the files (each file set holding one is written again without them). Everything
    /// acknowledged before the call is covered (memory is flushed first); a write racing
    /// the delete may stay. Other series, times and tenants are untouched.
    ///
    /// Fails with [`crate::Error::InvalidRequest`], changing nothing, without a matcher or
    /// with `start` after `end`. A failure part-way may leave some file sets done and
    /// others not: calling it again finishes it.
    ///
    /// ```
    /// use strata_engine::{Clock, Engine, EngineConfig, MatchOp, Matcher, Sample, SeriesSamples};
    /// use strata_engine::{SystemClock, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let t = TenantId::new("acme")?;
    /// let engine = Engine::open(dir.path(), EngineConfig::default())?;
    /// let now = SystemClock.now_ms();
    /// let up = |job: &str| SeriesSamples {
    ///     labels: vec![("__name__".into(), "up".into()), ("job".into(), job.into())],
    ///     samples: vec![Sample { ts: now, value: 1.0 }],
    /// };
    /// engine.write(&t, &[up("api"), up("db")])?;
    /// let job = Matcher::new("job", MatchOp::Equal, "db")?;
    /// assert_eq!(engine.delete_series(&t, &[job], now - 1_000, now)?.rows_deleted, 1);
    /// let all = Matcher::new("__name__", MatchOp::Equal, "up")?;
    /// assert_eq!(engine.select(&t, &[all], now - 1_000, now)?.len(), 1); // api's is left
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_series(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<DeleteStats> {
        self.core().delete_series(tenant, matchers, start, end)
    }

    /// Deletes `tenant`'s spans or log records that `predicate` names (its time range and
    /// its conditions, e.g. `client.address = '1.2.3.4'`: [`RecordPredicate::parse`]), as
    /// [`Engine::delete_series`] deletes samples: every file holding one is written again
    /// without them. A predicate naming a column that cannot be compared is refused
    /// ([`crate::Error::InvalidRequest`]) before anything changes.
    pub fn delete_records(
        &self,
        tenant: &TenantId,
        signal: RecordSignal,
        predicate: &RecordPredicate,
    ) -> Result<DeleteStats> {
        self.core().delete_records(tenant, signal, predicate)
    }

    /// Sets the retention filters in force ([`RetentionFilter`]): from the next
    /// maintenance pass (every `maintenance_interval`), the series each matches are removed
    /// from the partitions older than its `keep`, unless a filter matching them too keeps
    /// them longer. Replaces the filters set before (a configuration reload); an empty list
    /// turns them off. What each removed is in [`Engine::telemetry`]'s
    /// `retention_filtered`.
    pub fn set_retention_filters(&self, filters: Vec<RetentionFilter>) -> Result<()> {
        for f in &filters {
            if let crate::FilterTarget::Series(m) = &f.target
                && m.is_empty()
            {
                return Err(crate::Error::InvalidConfig {
                    key: "retention.filters",
                    reason: format!("filter {:?} has no matcher", f.name),
                });
            }
        }
        self.core().filters.set(filters);
        Ok(())
    }

    /// Runs the retention filters now (the maintenance pass runs them every
    /// `maintenance_interval`); returns the samples removed.
    pub fn apply_retention_filters(&self) -> Result<u64> {
        self.core().apply_filters()
    }

    /// Runs downsampling now (the maintenance pass runs it every `maintenance_interval`):
    /// every day whose end is a tier's `after` ago moves into that tier
    /// ([`crate::Limits::downsampling`]), and tier partitions past the metrics retention
    /// are dropped.
    pub fn downsample(&self) -> Result<crate::DownsampleStats> {
        self.core().downsample()
    }
}
