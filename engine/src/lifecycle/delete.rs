//! Deletes: samples of the series that match matchers in a time range, and spans or log
//! records that meet a [`RecordPredicate`], removed from the files that hold them.
//!
//! *Why rewrite rather than tombstones:* every reader of a file set reads its Parquet
//! files directly: `select`, the SQL scans (DataFusion's Parquet reader, the dedup merge),
//! the trace lookup and search, LogQL's summaries, and any outside reader (DuckDB). A
//! tombstone would have to be applied in each; a rewritten set is simply the data without
//! the rows, committed by the manifest swap compaction already commits by. A delete is a
//! rare operator's act, so its cost (reading the sets of the range that hold a match,
//! writing them again) is paid once, not by every query.
//!
//! The protocol:
//!
//! 1. **Flush** everything in memory, so every sample and record acknowledged before the
//!    call is in committed files (and none is in memory or left to a WAL replay below the
//!    marker: deleting from memory alone would let a crash replay the rows back).
//! 2. Under the maintenance lock (no compaction or retention meanwhile), for each
//!    committed set of the tenant whose time range meets the delete's: find whether it
//!    holds a deleted row (metrics: the matchers through its index, then the pages of
//!    those series in the range; spans and logs: the filter's columns). If so, write the
//!    set again without those rows under new names (`metrics/delete.rs`,
//!    `spans_logs/compact/filter.rs`), its derived file too (trace-id filter, summary).
//! 3. Commit each rewrite by swapping the set in the manifest (`Core::commit_swap`, under
//!    the flush lock): written to a temporary name, fsynced, renamed. A set left empty
//!    leaves the manifest with nothing in its place. The old set is retired: queries in
//!    flight finish on it, and its files go when the last one lets go.
//!
//! *After a crash:* before a set's manifest rename, open finds the rewrite's files
//! unlisted and deletes them, and the old set is whole; after it, the old files are
//! unlisted and deleted. Each set is either before or after, never half; the rows deleted
//! are below the `FLUSHED` marker, so no WAL replay brings them back. A delete that fails
//! or is cut short may have rewritten some sets and not others; running it again
//! finishes it (a set with nothing left to delete is not rewritten).
//!
//! What arrives after the flush's cut is not deleted: a write racing the delete may stay.

use std::sync::Arc;

use tracing::info;

use crate::exemplars::file as exemplar_file;
use crate::lifecycle::Core;
use crate::metrics::compact::Target;
use crate::metrics::delete::{count_samples, matching_ids, rewrite_without};
use crate::metrics::flush::FlushStop;
use crate::model::delete::{DeleteStats, RecordPredicate, RecordSignal, invalid};
use crate::signal_kind::Signal;
use crate::spans_logs::compact::filter::{count_deleted, write_without};
use crate::spans_logs::order::sort_key;
use crate::spans_logs::row_filter::RowFilter;
use crate::spans_logs::store::{NS_PER_MS, SignalStore, StoredRecord};
use crate::storage::fs::unique_token;
use crate::storage::partition::{FileEntry, PartFile, derived_paths};
use crate::{Error, Matcher, Result, TenantId};

impl Core {
    /// See [`crate::Engine::delete_series`].
    pub(crate) fn delete_series(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<DeleteStats> {
        self.writable()?;
        if matchers.is_empty() {
            return Err(invalid("a delete needs at least one matcher".into()));
        }
        if start > end {
            return Err(invalid(format!("start {start} is after end {end}")));
        }
        self.flush_until(FlushStop::Never)?;
        let _one_pass = self
            .maintenance_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut stats = DeleteStats::default();
        for part in self.metrics.raw_file_sets(tenant, start, end) {
            stats.files_checked += 1;
            part.ensure_data()?;
            let ids = matching_ids(&part, matchers)?;
            if ids.is_empty() || count_samples(&part, &ids, start, end)? == 0 {
                continue;
            }
            stats.rows_deleted +=
                self.rewrite_set(tenant, &part, &ids, (start, end), &mut stats)?;
        }
        self.delete_in_tiers(tenant, matchers, (start, end), &mut stats)?;
        info!(%tenant, start, end, matchers = matchers.len(), rows = stats.rows_deleted,
              rewritten = stats.files_rewritten, removed = stats.files_removed,
              "deleted series samples");
        Ok(stats)
    }

    /// Writes `part` again without the samples of the series `ids` (sorted) in `[start,
    /// end]`, its exemplars carried over but theirs, and commits the swap (a set left empty
    /// goes). Returns the samples left out. The caller holds the maintenance lock.
    pub(crate) fn rewrite_set(
        &self,
        tenant: &TenantId,
        part: &Arc<PartFile>,
        ids: &[crate::model::series::SeriesId],
        (start, end): (i64, i64),
        stats: &mut DeleteStats,
    ) -> Result<u64> {
        let token = unique_token();
        let mut done = rewrite_without(part, ids, (start, end), &token)?;
        if let Some(entry) = done.entry.as_mut() {
            self.keep_exemplars(part, ids, (start, end), &token, entry)?;
        }
        let target = (&self.metrics.files, tenant.clone(), part.dir.clone());
        self.commit_delete(target, part, done.entry.as_ref(), stats)?;
        Ok(done.deleted)
    }

    /// Removes from `tenant`'s downsampled tiers the intervals of the series passing
    /// `matchers` that hold a sample in `[start, end]` (whole intervals: a tier cannot
    /// take part of one out), each set rewritten and swapped as a raw set is; counts the
    /// samples those intervals summarised. The caller holds the maintenance lock.
    fn delete_in_tiers(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        (start, end): (i64, i64),
        stats: &mut DeleteStats,
    ) -> Result<()> {
        use crate::metrics::tiers::resolution_of;
        let parts = self.metrics.tier_sets(tenant, |f| f.overlaps(start, end));
        for part in parts {
            let Some(res) = resolution_of(&part) else {
                continue;
            };
            stats.files_checked += 1;
            let ids = matching_ids(&part, matchers)?;
            if ids.is_empty() {
                continue;
            }
            self.rewrite_tier_set(tenant, &part, res, (&ids, (start, end)), stats)?;
        }
        Ok(())
    }

    /// Writes tier set `part` (resolution `res`) again without the series `ids` (sorted)
    /// in `[start, end]` (whole intervals holding a sample there; native histograms in
    /// it) and commits the swap (a set left empty goes), counting the samples as
    /// deleted; does nothing when no row is hit. The caller holds the maintenance lock.
    pub(crate) fn rewrite_tier_set(
        &self,
        tenant: &TenantId,
        part: &Arc<PartFile>,
        res: i64,
        (ids, (start, end)): (&[crate::model::series::SeriesId], (i64, i64)),
        stats: &mut DeleteStats,
    ) -> Result<()> {
        use crate::metrics::tiers::format_resolution;
        use crate::storage::tier_file::{TierRows, TierWriter};
        let hit = |id: &crate::model::series::SeriesId, row: &crate::Interval| {
            ids.binary_search(id).is_ok() && row.first_ts <= end && row.last_ts >= start
        };
        let mut rows = TierRows::open(&part.samples_path(), res)?;
        let mut any = false;
        while let Some((id, row)) = rows.take()? {
            if hit(&id, &row) {
                any = true;
                break;
            }
        }
        let hist_input = part
            .histograms_path()
            .map(|h| crate::storage::histograms::merge::Input {
                histograms: h,
                buckets: part.histogram_buckets_path(),
            });
        if !any && hist_input.is_none() {
            return Ok(());
        }
        let s = format!("-d{}-{}", unique_token(), format_resolution(res));
        let flush = part.entry.flush;
        let mut entry = FileEntry {
            samples: format!("samples-{flush}{s}.parquet"),
            series: format!("series-{flush}{s}.parquet"),
            index: format!("index-{flush}{s}.parquet"),
            ..part.entry.clone()
        };
        let mut w = TierWriter::create(&part.dir.join(&entry.samples))?;
        let mut rows = TierRows::open(&part.samples_path(), res)?;
        while let Some((id, row)) = rows.take()? {
            if hit(&id, &row) {
                stats.rows_deleted += row.count;
            } else {
                w.push(id, row)?;
            }
        }
        let (written, lo, hi) = (w.written, w.min_ts, w.max_ts);
        let mut bytes = w.finish()?;
        let (mut hist_rows, mut lo, mut hi) = (0, lo, hi);
        entry.histograms = String::new();
        entry.histogram_buckets = String::new();
        (entry.histogram_rows, entry.histogram_bucket_rows) = (0, 0);
        if let Some(input) = &hist_input {
            let (h, b) = (
                format!("histograms-{flush}{s}.parquet"),
                format!("histogram_buckets-{flush}{s}.parquet"),
            );
            let keep = |id, ts| !(ids.binary_search(&id).is_ok() && (start..=end).contains(&ts));
            let done = crate::storage::histograms::merge::rewrite_files(
                input,
                &part.dir.join(&h),
                &part.dir.join(&b),
                crate::storage::parquet_io::WrittenBy::Cold,
                keep,
            )?;
            if let Some(d) = done.histograms {
                stats.rows_deleted += d.rows_in - d.rows_out;
                (entry.histograms, entry.histogram_rows, hist_rows) = (h, d.rows_out, d.rows_out);
                (lo, hi) = (lo.min(d.min_ts), hi.max(d.max_ts));
                bytes += d.bytes;
            }
            if let Some(d) = done.buckets {
                (entry.histogram_buckets, entry.histogram_bucket_rows) = (b, d.rows_out);
                bytes += d.bytes;
            }
        }
        let entry = if written == 0 && hist_rows == 0 {
            let _ = std::fs::remove_file(part.dir.join(&entry.samples));
            None
        } else {
            // The series and index stay as they were, under the new set's names.
            for (from, to) in [
                (&part.entry.series, &entry.series),
                (&part.entry.index, &entry.index),
            ] {
                crate::storage::checkpoint::link_or_copy(&part.dir.join(from), &part.dir.join(to))?;
            }
            let size = |name: &str| std::fs::metadata(part.dir.join(name)).map_or(0, |m| m.len());
            let side = size(&part.entry.series) + size(&part.entry.index);
            (entry.rows, entry.min_ts, entry.max_ts, entry.bytes) = (written, lo, hi, bytes + side);
            Some(entry)
        };
        let target = (&self.metrics.tier_files, tenant.clone(), part.dir.clone());
        self.commit_delete(target, part, entry.as_ref(), stats)
    }

    /// Carries `part`'s exemplars over to the set rewritten from it (`entry`), without
    /// those of the deleted series `ids` in `[start, end]`. (When a delete leaves a set no
    /// sample, the set goes, and its exemplars with it.)
    fn keep_exemplars(
        &self,
        part: &PartFile,
        ids: &[crate::model::series::SeriesId],
        (start, end): (i64, i64),
        token: &str,
        entry: &mut FileEntry,
    ) -> Result<()> {
        let Some(path) = part.exemplars_path() else {
            return Ok(());
        };
        let deleted: std::collections::HashSet<crate::Labels> =
            crate::storage::parquet_io::read_series(&part.series_path())?
                .into_iter()
                .filter(|(id, _)| ids.binary_search(id).is_ok())
                .map(|(_, labels)| labels)
                .collect();
        let kept: Vec<_> = exemplar_file::read(&path)?
            .into_iter()
            .filter(|(l, e)| !((start..=end).contains(&e.ts) && deleted.contains(l)))
            .collect();
        if kept.is_empty() {
            return Ok(());
        }
        let suffix = crate::storage::parquet_io::WrittenBy::of_file(&entry.samples).suffix();
        entry.exemplars = format!("exemplars-{}-d{token}{suffix}.parquet", entry.flush);
        let mut rows: Vec<_> = kept.iter().map(|(l, e)| (l, e)).collect();
        entry.bytes += exemplar_file::write(&part.dir.join(&entry.exemplars), &mut rows)?;
        for (_, e) in &kept {
            entry.min_ts = entry.min_ts.min(e.ts);
            entry.max_ts = entry.max_ts.max(e.ts);
        }
        Ok(())
    }

    /// See [`crate::Engine::delete_records`].
    pub(crate) fn delete_records(
        &self,
        tenant: &TenantId,
        signal: RecordSignal,
        pred: &RecordPredicate,
    ) -> Result<DeleteStats> {
        self.writable()?;
        let stats = match signal {
            RecordSignal::Spans => self.delete_in(&self.traces, tenant, pred)?,
            RecordSignal::Logs => self.delete_in(&self.logs, tenant, pred)?,
        };
        info!(%tenant, signal = signal.as_str(), predicate = %pred, rows = stats.rows_deleted,
              rewritten = stats.files_rewritten, removed = stats.files_removed,
              "deleted records");
        Ok(stats)
    }

    fn delete_in<R: StoredRecord>(
        &self,
        store: &SignalStore<R>,
        tenant: &TenantId,
        pred: &RecordPredicate,
    ) -> Result<DeleteStats> {
        let schema = match R::SIGNAL {
            Signal::Traces => crate::spans_logs::spans::arrow::spans_schema(),
            _ => crate::spans_logs::logs::arrow::logs_schema(),
        };
        // Checked before the flush: a bad predicate changes nothing.
        let filter = RowFilter::new(R::SIGNAL, &schema, pred)?;
        self.flush_until(FlushStop::Never)?;
        let _one_pass = self
            .maintenance_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let (lo, hi) = filter.ms_range();
        let mut stats = DeleteStats::default();
        for part in store.file_sets(tenant, lo, hi) {
            stats.files_checked += 1;
            part.ensure_data()?;
            if count_deleted(&part.samples_path(), &filter)? == 0 {
                continue;
            }
            stats.rows_deleted +=
                self.rewrite_records(store, tenant, &part, &filter, &mut stats)?;
        }
        Ok(stats)
    }

    /// Writes the spans or logs set `part` again without the rows `filter` deletes (its
    /// derived file too) and commits the swap (a set left empty goes). Returns the rows
    /// left out. The caller holds the maintenance lock.
    pub(crate) fn rewrite_records<R: StoredRecord>(
        &self,
        store: &SignalStore<R>,
        tenant: &TenantId,
        part: &Arc<PartFile>,
        filter: &RowFilter,
        stats: &mut DeleteStats,
    ) -> Result<u64> {
        let key = sort_key(R::SIGNAL);
        let e = &part.entry;
        let name = format!(
            "{}-{}-{}-d{}-c.parquet",
            R::FILE_PREFIX,
            e.flush,
            e.flushes,
            unique_token()
        );
        let out = part.dir.join(&name);
        let done = write_without(&part.samples_path(), key, key[1], filter, &out)?;
        let entry = if done.rows_out == 0 {
            None
        } else {
            match R::SIGNAL {
                Signal::Traces => {
                    crate::spans_logs::spans::build_derived(&out, None)?;
                }
                _ => {
                    crate::spans_logs::logs::summary::build_from_file(&out, None)?;
                }
            }
            Some(FileEntry {
                flush: e.flush,
                samples: name,
                series: String::new(),
                index: String::new(),
                exemplars: String::new(),
                histograms: String::new(),
                histogram_rows: 0,
                histogram_buckets: String::new(),
                histogram_bucket_rows: 0,
                rows: done.rows_out,
                min_ts: done.min_ns.div_euclid(NS_PER_MS),
                max_ts: done.max_ns.div_euclid(NS_PER_MS)
                    + i64::from(done.max_ns.rem_euclid(NS_PER_MS) != 0),
                bytes: done.bytes,
                flushes: e.flushes,
            })
        };
        let target = (&store.files, tenant.clone(), part.dir.clone());
        if let Err(err) = self.commit_delete(target, part, entry.as_ref(), stats) {
            for d in entry.iter().flat_map(|e| derived_paths(&e.samples)) {
                let _ = std::fs::remove_file(part.dir.join(d));
            }
            return Err(err);
        }
        Ok(done.rows_in - done.rows_out)
    }

    /// Swaps `part` for `entry` (or nothing) in its partition, counting it.
    fn commit_delete(
        &self,
        target: Target<'_>,
        part: &Arc<PartFile>,
        entry: Option<&FileEntry>,
        stats: &mut DeleteStats,
    ) -> Result<()> {
        let dir = target.2.clone();
        // Under the maintenance lock nothing else removes a set, so the swap finds it.
        if !self.commit_swap(target, std::slice::from_ref(part), entry)? {
            return Err(Error::Io {
                path: dir,
                source: std::io::Error::other("the partition changed during a delete"),
            });
        }
        match entry {
            Some(_) => stats.files_rewritten += 1,
            None => stats.files_removed += 1,
        }
        Ok(())
    }
}
