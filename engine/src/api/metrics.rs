//! What an embedding program reads of the metrics: a snapshot of a tenant's samples.

use crate::metrics::seek;
use crate::metrics::series::EncodedHist;
use crate::metrics::snapshot::{histogram_batches, samples_batch};
use crate::model::series::SeriesId;
use crate::{
    Engine, Result, Sample, SeriesSamples, Snapshot, SnapshotFile, TenantId, WriteOutcome,
};
use std::sync::Arc;

impl Engine {
    /// [`Engine::write`] for history: the out-of-order window does not apply, so a sample
    /// however far behind its series' newest is placed (within retention), for an import
    /// into series that are already written live. The rest is as for a write: an exact
    /// re-send is a duplicate, a different value at a timestamp the head holds is
    /// `conflicting_value`, the caps and the rate limit apply, and the samples reach their
    /// own (possibly closed) partitions at the next flush, where compaction merges them.
    ///
    /// ```
    /// use strata_engine::{Clock, Engine, EngineConfig, Sample, SeriesSamples, SystemClock, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let engine = Engine::open(dir.path(), EngineConfig::default())?;
    /// let t = TenantId::new("acme")?;
    /// let now = SystemClock.now_ms();
    /// let series = |ts| SeriesSamples {
    ///     labels: vec![("__name__".into(), "up".into())],
    ///     samples: vec![Sample { ts, value: 1.0 }],
    /// };
    /// engine.write(&t, &[series(now)])?;
    /// let day_ago = now - 86_400_000;
    /// // A day behind the live sample: past the out-of-order window (1 h) for a write...
    /// assert_eq!(engine.write(&t, &[series(day_ago)])?.accepted, 0);
    /// // ...placed by a backfill.
    /// assert_eq!(engine.backfill(&t, &[series(day_ago)])?.accepted, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn backfill(&self, tenant: &TenantId, batch: &[SeriesSamples]) -> Result<WriteOutcome> {
        self.core().submit_within(tenant, batch, i64::MAX)?.wait()
    }

    /// A [`Snapshot`] of `tenant` for timestamps in `[start, end]` (ms, inclusive): memory is
    /// read first, then the committed file sets (a flush publishes its files before it
    /// releases its samples, so nothing is missed; a sample seen twice is deduplicated by
    /// the source order).
    pub fn snapshot(&self, tenant: &TenantId, start: i64, end: i64) -> Result<Snapshot> {
        self.metrics_snapshot(tenant, (start, end), false)
    }

    /// The resolutions (ms) of `tenant`'s downsampled tiers, configured or on disk,
    /// ascending ([`crate::Limits::downsampling`]).
    pub fn tier_resolutions(&self, tenant: &TenantId) -> Vec<i64> {
        let core = self.core();
        let mut out: Vec<i64> = core
            .config
            .limits_for(tenant)
            .downsampling
            .iter()
            .map(|d| d.resolution_ms())
            .collect();
        let map = core
            .metrics
            .tier_files
            .read()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(list) = map.get(tenant) {
            out.extend(
                list.iter()
                    .filter_map(|f| crate::metrics::tiers::resolution_of(f)),
            );
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The coarsest resolution (ms) of `tenant`'s downsampled tiers holding data within
    /// one interval of `t` (0 when none does): how far apart its samples may be there.
    pub fn tier_resolution_at(&self, tenant: &TenantId, t: i64) -> i64 {
        let near = |f: &crate::storage::partition::PartFile| {
            crate::metrics::tiers::resolution_of(f)
                .filter(|&r| f.overlaps(t.saturating_sub(r), t.saturating_add(r)))
        };
        self.core()
            .metrics
            .tier_sets(tenant, |f| near(f).is_some())
            .iter()
            .filter_map(|f| near(f))
            .max()
            .unwrap_or(0)
    }

    /// `tenant`'s file sets of the tier of resolution `res` (ms) whose rows meet
    /// `[start, end]`, held until dropped: their data files are tier files
    /// ([`crate::tier_schema`]), one per day, disjoint.
    pub fn tier_files(
        &self,
        tenant: &TenantId,
        res: i64,
        start: i64,
        end: i64,
    ) -> Result<Vec<SnapshotFile>> {
        let core = self.core();
        let parts = core.metrics.tier_sets(tenant, |f| {
            crate::metrics::tiers::resolution_of(f) == Some(res) && f.overlaps(start, end)
        });
        parts.into_iter().map(SnapshotFile::new).collect()
    }

    /// [`Self::snapshot`] without fetching a bucket's data files (a reader's): read them by
    /// key through the bucket, or call [`SnapshotFile::ensure_local`] before reading a
    /// file's path.
    pub fn snapshot_deferred(&self, tenant: &TenantId, start: i64, end: i64) -> Result<Snapshot> {
        self.metrics_snapshot(tenant, (start, end), true)
    }

    fn metrics_snapshot(
        &self,
        tenant: &TenantId,
        (start, end): (i64, i64),
        defer: bool,
    ) -> Result<Snapshot> {
        let core = self.core();
        let mut memory = Vec::new();
        let mut histograms_memory = Vec::new();
        let mut series = Vec::new();
        if let Some(head) = core.metrics.existing_head(tenant) {
            let in_range = |v: &[Sample]| {
                let r = seek::within(v, |s| s.ts, start, end);
                (r.start, r.end)
            };
            // Every shard at once, so memory is two batches (a flush in progress, then the
            // head), not two per shard for the readers to merge.
            let shards = head.lock_all();
            let mut flushing: Vec<(SeriesId, &[Sample])> = Vec::new();
            let mut data: Vec<(SeriesId, &[Sample])> = Vec::new();
            let (mut flushing_h, mut data_h) = (Vec::new(), Vec::new());
            for h in &shards {
                for (&id, v) in &h.flushing_h {
                    hists_into(id, v, (start, end), &mut flushing_h)?;
                }
                for (id, hs) in h.index.iter() {
                    hists_into(id, hs.buf.hists(), (start, end), &mut data_h)?;
                }
                for (&id, v) in &h.flushing {
                    let (lo, hi) = in_range(v);
                    if lo < hi {
                        flushing.push((id, &v[lo..hi]));
                    }
                }
                for (id, hs) in h.index.iter() {
                    let (lo, hi) = in_range(&hs.buf.samples);
                    if lo < hi {
                        data.push((id, &hs.buf.samples[lo..hi]));
                    }
                }
                series.extend(
                    h.index
                        .iter()
                        .map(|(id, hs)| (id, Arc::new(hs.key.to_labels()))),
                );
            }
            for part in [flushing, data] {
                if !part.is_empty() {
                    memory.push(samples_batch(part)?);
                }
            }
            for part in [flushing_h, data_h] {
                if !part.is_empty() {
                    histograms_memory.push(histogram_batches(part)?);
                }
            }
        }
        series.sort_unstable_by_key(|s| s.0);
        let mut files = Vec::new();
        for part in core.metrics.raw_file_sets(tenant, start, end) {
            files.push(if defer {
                SnapshotFile::deferred(part)?
            } else {
                SnapshotFile::new(part)?
            });
        }
        Ok(Snapshot {
            files,
            memory,
            histograms_memory,
            series,
        })
    }
}

/// Appends series `id`'s histograms of `v` (in time order) in `[start, end]`, decoded, to
/// `out`.
fn hists_into(
    id: SeriesId,
    v: &[EncodedHist],
    (start, end): (i64, i64),
    out: &mut Vec<(SeriesId, Vec<crate::HistogramSample>)>,
) -> Result<()> {
    let std::ops::Range { start: lo, end: hi } = seek::within(v, |h| h.0, start, end);
    if lo >= hi {
        return Ok(());
    }
    let mut ranked = Vec::with_capacity(hi - lo);
    crate::metrics::histograms::decode_into(id, &v[lo..hi], 0, &mut ranked)?;
    out.push((id, ranked.into_iter().map(|(_, s)| s).collect()));
    Ok(())
}
