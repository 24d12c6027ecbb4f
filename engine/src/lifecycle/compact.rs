//! Compaction passes over closed partitions: choosing them, running the signal's merge, committing the new manifest.

use crate::exemplars::file as exemplar_file;
use crate::lifecycle::Core;
use crate::metrics::compact::Scope;
use crate::metrics::compact::merge_samples;
use crate::metrics::compact::{CompactStats, Target};
use crate::metrics::index::PartIndex;
use crate::model::records::{LogRecord, SpanRecord};
use crate::model::series::SeriesId;
use crate::model::series_key::SeriesKey;
use crate::signal_kind::Signal;
use crate::spans_logs::compact;
use crate::spans_logs::compact::copy::compact_files_by;
use crate::spans_logs::compact::settle_ms;
use crate::spans_logs::order::sort_key;
use crate::spans_logs::store::{SignalStore, StoredRecord};
use crate::storage::histograms::keys::MergedKeys;
use crate::storage::histograms::merge::{Input, merge_files_except};
use crate::storage::histograms::{self as hist_file};
use crate::storage::parquet_io::{WrittenBy, bad};
use crate::storage::partition::{FileEntry, Manifest, PARTITION_MS, PartFile, partition_start};
use crate::storage::{parquet_io, partition};
use crate::telemetry::Timer;
use crate::{Result, TenantId};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tracing::{info, warn};

impl Core {
    /// The background thread's periodic work: retention, then compaction of closed
    /// partitions. Failures are logged; they leave the partitions as they were.
    pub(crate) fn maintain(&self) {
        if self.reader.is_some() {
            return; // the writer maintains the bucket
        }
        // A delete (or a pass a caller runs) holds the lock: skip this round rather than
        // keep the background thread, which also flushes, waiting behind it.
        if let Err(std::sync::TryLockError::WouldBlock) = self.maintenance_lock.try_lock() {
            return;
        }
        if let Err(e) = self.apply_retention() {
            warn!(error = %e, "retention failed; will retry");
        }
        self.maintain_tiers();
        if let Err(e) = self.compact(Scope::Closed) {
            warn!(error = %e, "compaction failed; will retry");
        }
        if let Err(e) = self.apply_filters() {
            warn!(error = %e, "retention filters failed; will retry");
        }
        self.build_trace_filters();
        self.build_span_summaries();
        self.build_log_summaries();
    }

    /// Compacts the partitions in `scope` that hold more than one file set, and the metrics
    /// partitions whose one set a flush wrote.
    pub(crate) fn compact(&self, scope: Scope) -> Result<CompactStats> {
        self.writable()?;
        let _one_pass = self
            .maintenance_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let _timer = Timer::start(&self.latency.compaction);
        let now = self.clock.now_ms();
        let window = self.config.window_ms();
        let mut stats = CompactStats::default();
        let mut settling = HashSet::new();
        for (signal, file_map) in self.file_maps() {
            let mut groups: BTreeMap<(TenantId, PathBuf), Vec<Arc<PartFile>>> = BTreeMap::new();
            {
                let files = file_map.read().unwrap_or_else(|p| p.into_inner());
                for (tenant, list) in files.iter() {
                    for f in list {
                        groups
                            .entry((tenant.clone(), f.dir.clone()))
                            .or_default()
                            .push(f.clone());
                    }
                }
            }
            for ((tenant, dir), inputs) in groups {
                let end = partition_start(inputs[0].entry.min_ts) + PARTITION_MS;
                let closed = end.saturating_add(window) <= now;
                // A metrics partition's one set is rewritten too while its layout is below
                // the one the partition's age asks for: a flush's set once the partition
                // is closed, a compacted one once it is cold (`parquet_io::WrittenBy`).
                let cold_after = self.config.limits_for(&tenant).cold_after_ms();
                let layout = partition::metrics_layout(end, cold_after, now);
                let rewrite = signal == Signal::Metrics && inputs[0].entry.layout() < layout;
                // A logs partition turns cold as a metrics one does: once closed and its
                // end `cold_after` ago, all its files are written again in one cold file.
                let cold_logs = signal == Signal::Logs
                    && closed
                    && layout == WrittenBy::Cold
                    && inputs.iter().any(|f| f.entry.layout() < WrittenBy::Cold);
                let rewrite = rewrite || cold_logs;
                if (inputs.len() < 2 && !rewrite) || (scope == Scope::Closed && !closed) {
                    continue;
                }
                // Spans and logs of a closed hour keep arriving: merge whole only once
                // settled (`spans_logs/compact/mod.rs`). Metrics merge whole (duplicates are
                // dropped oldest-first, which needs every set).
                let inputs = if scope == Scope::Closed && signal != Signal::Metrics && !cold_logs {
                    settling.insert(dir.clone());
                    let settled = self.settled(&dir, &inputs, now);
                    let picked = compact::pick_inputs(&inputs, settled);
                    if picked.len() < 2 {
                        continue;
                    }
                    picked
                } else {
                    inputs
                };
                let target = (file_map, tenant.clone(), dir.clone());
                match signal {
                    Signal::Metrics => {
                        self.compact_partition(&tenant, &dir, &inputs, layout, &mut stats)?;
                    }
                    Signal::Traces => {
                        let by = WrittenBy::Compaction;
                        self.compact_records::<SpanRecord>(target, &inputs, by, &mut stats)?;
                    }
                    Signal::Logs => {
                        let by = if cold_logs {
                            WrittenBy::Cold
                        } else {
                            WrittenBy::Compaction
                        };
                        self.compact_records::<LogRecord>(target, &inputs, by, &mut stats)?;
                    }
                }
            }
        }
        if scope == Scope::Closed {
            self.forget_settling(&settling);
        }
        if stats.partitions > 0 {
            info!(
                partitions = stats.partitions,
                file_sets = stats.file_sets_in,
                rows_in = stats.rows_in,
                rows_out = stats.rows_out,
                bytes_in = stats.bytes_in,
                bytes_out = stats.bytes_out,
                "compacted"
            );
        }
        Ok(stats)
    }

    /// Merges `inputs` (one partition's sets, oldest flush first) into one set in layout
    /// `by`: samples, native histograms, series table, index and exemplars written, then
    /// the manifest committed.
    fn compact_partition(
        &self,
        tenant: &TenantId,
        dir: &Path,
        inputs: &[Arc<PartFile>],
        by: WrittenBy,
        stats: &mut CompactStats,
    ) -> Result<()> {
        // Inputs a bounded local cache evicted come back from the bucket.
        for f in inputs {
            f.ensure_data()?;
        }
        let mut entry = compacted_entry(inputs, by);
        let defs = united_series(inputs)?;
        let hist_inputs = histogram_inputs(inputs);
        let (rows_in, rows_out, losing_hists) =
            merge_floats(inputs, dir, &hist_inputs, by, &mut entry)?;
        let hist_rows = merge_histograms(dir, hist_inputs, &losing_hists, by, &mut entry)?;
        entry.bytes += parquet_io::write_series(&dir.join(&entry.series), &defs)?;
        entry.bytes += PartIndex::build(&defs).write(&dir.join(&entry.index))?;
        merge_exemplars(inputs, dir, by, &mut entry)?;

        if !self.commit_compaction(
            (&self.metrics.files, tenant.clone(), dir.to_owned()),
            inputs,
            &entry,
        )? {
            return Ok(());
        }
        stats.partitions += 1;
        stats.file_sets_in += inputs.len();
        stats.rows_in += rows_in;
        stats.rows_out += rows_out;
        stats.histogram_rows_in += hist_rows.0;
        stats.histogram_rows_out += hist_rows.1;
        stats.bytes_in += inputs.iter().map(|f| f.entry.bytes).sum::<u64>();
        stats.bytes_out += entry.bytes;
        if by == WrittenBy::Cold {
            stats.cold_partitions += 1;
        }
        Ok(())
    }
}

/// The entry of the set that compacting `inputs` in layout `by` writes, its files named
/// after the newest flush among them and `by`; rows, times and bytes are filled in as its
/// files are written.
fn compacted_entry(inputs: &[Arc<PartFile>], by: WrittenBy) -> FileEntry {
    let flush = inputs.iter().map(|f| f.entry.flush).max().unwrap_or(0);
    let s = by.suffix();
    FileEntry {
        flush,
        samples: format!("samples-{flush}{s}.parquet"),
        series: format!("series-{flush}{s}.parquet"),
        index: format!("index-{flush}{s}.parquet"),
        exemplars: String::new(),
        histograms: String::new(),
        histogram_rows: 0,
        histogram_buckets: String::new(),
        histogram_bucket_rows: 0,
        rows: 0,
        min_ts: i64::MAX,
        max_ts: i64::MIN,
        bytes: 0,
        flushes: inputs.iter().map(|f| f.entry.flushes).sum(),
    }
}

/// The series tables of `inputs` united (one row per series, in id order), in memory as
/// compact keys. An id stored for two label sets is an error.
pub(crate) fn united_series(inputs: &[Arc<PartFile>]) -> Result<Vec<(SeriesId, SeriesKey)>> {
    let mut series: BTreeMap<SeriesId, SeriesKey> = BTreeMap::new();
    for f in inputs {
        for (id, key) in parquet_io::read_series_keys(&f.series_path())? {
            match series.get(&id) {
                Some(known) if *known != key => {
                    return Err(bad(
                        &f.series_path(),
                        format!("series id {id} is stored for two label sets"),
                    ));
                }
                Some(_) => {}
                None => {
                    series.insert(id, key);
                }
            }
        }
    }
    Ok(series.into_iter().collect())
}

/// The histograms files of `inputs`, with each one's input index.
fn histogram_inputs(inputs: &[Arc<PartFile>]) -> Vec<(usize, Input)> {
    inputs
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            f.histograms_path().map(|histograms| {
                let buckets = f.histogram_buckets_path();
                (
                    i,
                    Input {
                        histograms,
                        buckets,
                    },
                )
            })
        })
        .collect()
}

/// Histograms that lose to a float of an older set at their (series, ts).
type LosingHists = HashSet<(SeriesId, i64)>;

/// Merges the float samples of `inputs` into `entry`'s samples file. Native histograms: a
/// float and a histogram at one (series, ts) in different sets keep the oldest set's, as
/// reads do (`metrics/histograms.rs`). The floats' merge walks the histograms' keys beside
/// its own; floats that lose are skipped there, histograms that lose are returned, for
/// their merge to skip. Returns the rows read and written, and those histograms.
fn merge_floats(
    inputs: &[Arc<PartFile>],
    dir: &Path,
    hist_inputs: &[(usize, Input)],
    by: WrittenBy,
    entry: &mut FileEntry,
) -> Result<(u64, u64, LosingHists)> {
    let mut keys = if hist_inputs.is_empty() {
        None
    } else {
        let paths: Vec<(usize, &Path)> = hist_inputs
            .iter()
            .map(|(i, f)| (*i, f.histograms.as_path()))
            .collect();
        Some(MergedKeys::open(&paths)?)
    };
    let mut losing_hists = LosingHists::new();
    let (rows_in, rows_out, min_ts, max_ts, samples_bytes) =
        merge_samples(inputs, &dir.join(&entry.samples), by, |id, ts, input| {
            let Some(keys) = keys.as_mut() else {
                return Ok(false);
            };
            Ok(match keys.seek((id, ts))? {
                Some(h) if h < input => true,
                Some(_) => {
                    losing_hists.insert((id, ts));
                    false
                }
                None => false,
            })
        })?;
    drop(keys);
    entry.rows = rows_out;
    entry.min_ts = min_ts;
    entry.max_ts = max_ts;
    entry.bytes = samples_bytes;
    Ok((rows_in, rows_out, losing_hists))
}

/// Merges the histograms files of `hist_inputs`, but for `losing` (series, ts), into
/// `entry`'s. Returns the histogram rows read and written.
fn merge_histograms(
    dir: &Path,
    hist_inputs: Vec<(usize, Input)>,
    losing: &LosingHists,
    by: WrittenBy,
    entry: &mut FileEntry,
) -> Result<(u64, u64)> {
    let mut hist_rows = (0, 0);
    if hist_inputs.is_empty() {
        return Ok(hist_rows);
    }
    let name = hist_file::file_name(entry.flush, by);
    let buckets = hist_file::buckets_file_name(entry.flush, by);
    let list: Vec<Input> = hist_inputs.into_iter().map(|(_, f)| f).collect();
    let done = merge_files_except(
        &list,
        &dir.join(&name),
        &dir.join(&buckets),
        by,
        |id, ts| losing.contains(&(id, ts)),
    )?;
    if let Some(h) = done.histograms {
        hist_rows = (h.rows_in, h.rows_out);
        entry.histograms = name;
        entry.histogram_rows = h.rows_out;
        entry.bytes += h.bytes;
        entry.min_ts = entry.min_ts.min(h.min_ts);
        entry.max_ts = entry.max_ts.max(h.max_ts);
    }
    if let Some(b) = done.buckets {
        entry.histogram_buckets = buckets;
        entry.histogram_bucket_rows = b.rows_out;
        entry.bytes += b.bytes;
    }
    Ok(hist_rows)
}

/// The exemplars of `inputs`, merged into one file of `entry`'s (layout `by`) in time order.
fn merge_exemplars(
    inputs: &[Arc<PartFile>],
    dir: &Path,
    by: WrittenBy,
    entry: &mut FileEntry,
) -> Result<()> {
    let mut exemplars = Vec::new();
    for path in inputs.iter().filter_map(|f| f.exemplars_path()) {
        exemplars.extend(exemplar_file::read(&path)?);
    }
    if !exemplars.is_empty() {
        entry.exemplars = format!("exemplars-{}{}.parquet", entry.flush, by.suffix());
        let mut rows: Vec<_> = exemplars.iter().map(|(l, e)| (l, e)).collect();
        entry.bytes += exemplar_file::write(&dir.join(&entry.exemplars), &mut rows)?;
        for (_, e) in &exemplars {
            entry.min_ts = entry.min_ts.min(e.ts);
            entry.max_ts = entry.max_ts.max(e.ts);
        }
    }
    Ok(())
}

impl Core {
    /// Commits a compaction: swaps `inputs` for `entry` in the manifest (under the flush
    /// lock so a flush's manifest update cannot interleave), then in the readers' list, and
    /// retires the inputs. Returns false, deleting the output, if the partition changed
    /// meanwhile (retention dropped it).
    pub(crate) fn commit_compaction(
        &self,
        target: Target<'_>,
        inputs: &[Arc<PartFile>],
        entry: &FileEntry,
    ) -> Result<bool> {
        self.commit_swap(target, inputs, Some(entry))
    }

    /// [`Core::commit_compaction`] whose output may be nothing (`None`: a delete left no
    /// row of the inputs): the inputs leave the manifest and the readers' list, and no
    /// set takes their place.
    pub(crate) fn commit_swap(
        &self,
        (file_map, tenant, dir): Target<'_>,
        inputs: &[Arc<PartFile>],
        entry: Option<&FileEntry>,
    ) -> Result<bool> {
        let _flush = self.flush_lock.lock().unwrap_or_else(|p| p.into_inner());
        let manifest_path = dir.join("manifest.json");
        let mut manifest: Manifest = partition::read_json(&manifest_path)?;
        let names: Vec<&str> = inputs.iter().map(|f| f.entry.samples.as_str()).collect();
        let listed = manifest
            .files
            .iter()
            .filter(|e| names.contains(&e.samples.as_str()));
        if listed.count() != inputs.len() {
            warn!(partition = %dir.display(), "partition changed during compaction; skipped");
            for name in entry.iter().flat_map(|e| e.names()) {
                let _ = std::fs::remove_file(dir.join(name));
            }
            return Ok(false);
        }
        manifest
            .files
            .retain(|e| !names.contains(&e.samples.as_str()));
        manifest.files.extend(entry.cloned());
        manifest.files.sort_by_key(|e| e.flush);
        partition::write_json(&manifest_path, &manifest)?;
        {
            let mut files = file_map.write().unwrap_or_else(|p| p.into_inner());
            let list = files.entry(tenant).or_default();
            list.retain(|f| !inputs.iter().any(|i| Arc::ptr_eq(f, i)));
            if let Some(entry) = entry {
                list.push(Arc::new(PartFile::new(dir.clone(), entry.clone())));
            }
            list.sort_by_key(|f| f.entry.flush);
        }
        for f in inputs {
            f.retire();
        }
        self.touch_remote(&dir);
        Ok(true)
    }
}

impl Core {
    /// Whether the closed partition in `dir`, holding `inputs`, has had this same file set
    /// for [`settle_ms`] (as seen by the passes so far; the first pass to see a set
    /// starts its clock).
    pub(crate) fn settled(&self, dir: &Path, inputs: &[Arc<PartFile>], now: i64) -> bool {
        let set = (
            inputs.len(),
            inputs.iter().map(|f| f.entry.flush).max().unwrap_or(0),
        );
        let mut seen = self.settling.lock().unwrap_or_else(|p| p.into_inner());
        match seen.get(dir) {
            Some(&(s, since)) if s == set => {
                now.saturating_sub(since) >= settle_ms(self.config.flush_interval)
            }
            _ => {
                seen.insert(dir.to_owned(), (set, now));
                false
            }
        }
    }

    /// Forgets the partitions a pass did not find with more than one closed file.
    pub(crate) fn forget_settling(&self, keep: &std::collections::HashSet<std::path::PathBuf>) {
        let mut seen = self.settling.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|d, _| keep.contains(d));
    }
}

impl Core {
    /// Compacts one partition's spans or logs files (oldest flush first) into one file,
    /// each row group sorted by the signal's key.
    pub(crate) fn compact_records<R: StoredRecord>(
        &self,
        target: Target<'_>,
        inputs: &[Arc<PartFile>],
        by: WrittenBy,
        stats: &mut CompactStats,
    ) -> Result<()> {
        // Inputs a bounded local cache evicted come back from the bucket.
        for f in inputs {
            f.ensure_data()?;
        }
        let flush = inputs.iter().map(|f| f.entry.flush).max().unwrap_or(0);
        let flushes: u32 = inputs.iter().map(|f| f.entry.flushes).sum();
        // Unique: the newest flush `B` is in exactly one input, which merged fewer
        // flushes; so is every earlier file named for `B` (a merge of a subset can leave
        // an older, bigger file out, so `B` alone could name an input again).
        let name = format!(
            "{}-{flush}-{flushes}{}.parquet",
            R::FILE_PREFIX,
            by.suffix()
        );
        let out = target.2.join(&name);
        let paths: Vec<_> = inputs.iter().map(|f| f.samples_path()).collect();
        let (bytes, written) = compact_files_by(&paths, sort_key(R::SIGNAL), &out, by)?;
        match R::SIGNAL {
            Signal::Traces => {
                // The inputs' summaries merged when every input has one; else the merged
                // file read.
                let summaries: Option<Vec<_>> = inputs
                    .iter()
                    .map(|f| SignalStore::<crate::SpanRecord>::span_summary(f))
                    .collect();
                let refs: Option<Vec<&crate::SpanSummary>> = summaries
                    .as_ref()
                    .map(|s| s.iter().map(|s| s.as_ref()).collect());
                crate::spans_logs::spans::build_derived(&out, refs.as_deref())?;
            }
            Signal::Logs => {
                // The inputs' summaries merged when every input has one; else the
                // merged file read.
                let summaries: Option<Vec<_>> = inputs
                    .iter()
                    .map(|f| SignalStore::<crate::LogRecord>::log_summary(f))
                    .collect();
                let refs: Option<Vec<&crate::LogSummary>> = summaries
                    .as_ref()
                    .map(|s| s.iter().map(|s| s.as_ref()).collect());
                crate::spans_logs::logs::summary::build_from_file(&out, refs.as_deref())?;
            }
            Signal::Metrics => {}
        }
        let entry = FileEntry {
            flush,
            samples: name,
            series: String::new(),
            index: String::new(),
            exemplars: String::new(),
            histograms: String::new(),
            histogram_rows: 0,
            histogram_buckets: String::new(),
            histogram_bucket_rows: 0,
            rows: written.rows(),
            min_ts: inputs.iter().map(|f| f.entry.min_ts).min().unwrap_or(0),
            max_ts: inputs.iter().map(|f| f.entry.max_ts).max().unwrap_or(0),
            bytes,
            flushes,
        };
        let dir = target.2.clone();
        if !self.commit_compaction(target, inputs, &entry)? {
            for derived in crate::storage::partition::derived_paths(&entry.samples) {
                let _ = std::fs::remove_file(dir.join(derived));
            }
            return Ok(());
        }
        stats.partitions += 1;
        stats.file_sets_in += inputs.len();
        stats.rows_in += entry.rows;
        stats.rows_out += entry.rows;
        stats.bytes_in += inputs.iter().map(|f| f.entry.bytes).sum::<u64>();
        stats.bytes_out += entry.bytes;
        if by == WrittenBy::Cold {
            stats.cold_partitions += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::lifecycle::Core;
    use crate::{EngineConfig, SystemClock};

    #[test]
    fn a_maintenance_pass_skips_its_round_while_a_delete_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::open(dir.path(), EngineConfig::default(), SystemClock).unwrap();
        let held = core.maintenance_lock.lock().unwrap();
        // Would wait for the lock (here: forever, on this thread) without the skip.
        core.maintain();
        drop(held);
        core.maintain();
    }
}
