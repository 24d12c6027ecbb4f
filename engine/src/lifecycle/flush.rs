//! The flush protocol: cutting what memory holds, writing it as Parquet, publishing the files, moving the FLUSHED marker and truncating the WAL, for every signal.

use crate::exemplars::file as exemplar_file;
use crate::exemplars::ring::Entry;
use crate::exemplars::store::{ExemplarStore, ExemplarsTaken};
use crate::lifecycle::Core;
use crate::metrics::flush::FlushStop;
use crate::metrics::flush::MARKER;
use crate::metrics::flush::PartRows;
use crate::metrics::flush::Taken;
use crate::metrics::flush::TakenSeries;
use crate::metrics::flush::committed_sets;
use crate::metrics::flush::signal_files;
use crate::metrics::index::PartIndex;
use crate::metrics::series::EncodedHist;
use crate::model::records::{LogRecord, SpanRecord};
use crate::model::series::IdMap;
use crate::signal_kind::Signal;
use crate::spans_logs::flush::{FLUSH_BATCH_ROWS, write_sorted};
use crate::spans_logs::order::FlushOrder;
use crate::spans_logs::store::{NS_PER_MS, SignalStore, SignalTaken, StoredRecord};
use crate::storage::fs::create_dir_durable;
use crate::storage::histograms::{self as hist_file, write::write_runs};
use crate::storage::parquet_io::WrittenBy;
use crate::storage::partition::{
    FileEntry, Flushed, PartFile, partition_dir, partition_start, signal_partition_dir,
};
use crate::storage::{parquet_io, partition};
use crate::telemetry::Timer;
use crate::{Error, FlushStats, Histogram, HistogramSample, Result, TenantId};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tracing::{error, info};

impl Core {
    /// See [`crate::Engine::flush`]. A failure poisons the engine.
    pub(crate) fn flush_until(&self, stop: FlushStop) -> Result<FlushStats> {
        if self.reader.is_some() {
            // A query process holds nothing in memory to flush.
            return Ok(FlushStats::default());
        }
        let _one_at_a_time = self.flush_lock.lock().unwrap_or_else(|p| p.into_inner());
        let result = self.flush_locked(stop);
        if let Err(e) = &result {
            let reason = format!("flush failed: {e}");
            if self.poisoned.set(reason.clone()).is_ok() {
                error!(error = %e, "flush failed; the engine refuses writes until reopened");
            }
        }
        result
    }

    fn flush_locked(&self, stop: FlushStop) -> Result<FlushStats> {
        let timer = Timer::start(&self.latency.flush);
        let (cut, boundary) = self.cut()?;
        if cut.is_empty() {
            timer.discard(); // nothing to flush is not a flush
            return Ok(FlushStats::default());
        }
        self.relog_metadata()?; // metadata is in the WAL only (`lifecycle/metadata.rs`)
        match self.write_and_commit(&cut, boundary, stop) {
            Ok(stats) => {
                drop(cut);
                self.traces.prune_shared();
                self.logs.prune_shared();
                Ok(stats)
            }
            Err(e) => {
                // Nothing committed: give the samples back to the heads (the WAL still has
                // them too) so reads keep seeing them, and let their age count again.
                self.oldest_unflushed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert_with(Instant::now);
                self.traces.restore();
                self.logs.restore();
                self.exemplars.restore();
                for (tenant, _) in &cut.metrics {
                    let head = self.metrics.head(tenant);
                    for mut h in head.lock_all() {
                        for (id, samples) in std::mem::take(&mut h.flushing) {
                            if let Some(series) = h.index.get_mut(id) {
                                for s in samples.iter() {
                                    series.buf.restore(*s);
                                }
                            }
                        }
                        // Their bytes stayed counted in `head_hist_bytes`.
                        for (id, hists) in std::mem::take(&mut h.flushing_h) {
                            if let Some(series) = h.index.get_mut(id) {
                                for e in hists.iter() {
                                    series.buf.restore_hist(e.clone());
                                }
                            }
                        }
                    }
                }
                Err(e)
            }
        }
    }

    fn cut(&self) -> Result<(Cut, u64)> {
        let heads = self.metrics.heads_sorted();
        // No write is between placing and logging its samples (the gates), and every shard
        // of every tenant is held, in order.
        let gates: Vec<_> = heads.iter().map(|(_, h)| h.cut_gate()).collect();
        let mut guards: Vec<_> = heads.iter().map(|(_, h)| h.lock_all()).collect();
        let mut taken = Vec::new();
        for ((tenant, _), shards) in heads.iter().zip(guards.iter_mut()) {
            let mut series = Vec::new();
            for h in shards.iter_mut() {
                let h = &mut **h;
                h.next_wal_epoch();
                // Float samples and native histograms, each into its flushing map (read
                // until the files are published).
                for (id, s) in h
                    .index
                    .iter_mut()
                    .filter(|(_, s)| !s.buf.samples.is_empty() || !s.buf.hists().is_empty())
                {
                    // Taking the Vec frees the head's share of the memory once written.
                    let samples = Arc::new(s.buf.take_samples());
                    if !samples.is_empty() {
                        h.flushing.insert(id, samples.clone());
                    }
                    let hists = s.buf.take_hists();
                    let hists = (!hists.is_empty()).then(|| Arc::new(hists));
                    if let Some(hs) = &hists {
                        h.flushing_h.insert(id, hs.clone());
                    }
                    series.push((id, s.key.clone(), samples, hists));
                }
            }
            if !series.is_empty() {
                taken.push((tenant.clone(), series));
            }
        }
        // After the head shards' locks (the order every cut takes them in; writers of spans
        // and logs take only their store's lock).
        let mut span_heads = self.traces.lock();
        let mut log_heads = self.logs.lock();
        let mut rings = self.exemplars.lock();
        let mut cut = Cut {
            metrics: taken,
            spans: SignalStore::cut(&mut span_heads),
            logs: SignalStore::cut(&mut log_heads),
            exemplars: ExemplarStore::cut(&mut rings),
        };
        let boundary = if cut.is_empty() { 0 } else { self.wal.sync()? };
        // Everything in memory is now taken (writers wait on these locks): the age clock
        // restarts with the next accepted write, so an idle engine stops flushing.
        *self
            .oldest_unflushed
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        drop((span_heads, log_heads, rings));
        drop(guards);
        drop(gates);
        // In id order (outside the locks), so each partition's rows come out sorted by
        // (id, ts) without sorting the rows: each series' samples are in time order already.
        for (_, series) in &mut cut.metrics {
            series.sort_unstable_by_key(|(id, ..)| *id);
        }
        Ok((cut, boundary))
    }

    /// Writes what `cut` took, commits it with the `FLUSHED` marker, publishes the files to
    /// readers and truncates the WAL below `boundary`, in that order (`stop` ends it early,
    /// for crash tests).
    fn write_and_commit(&self, cut: &Cut, boundary: u64, stop: FlushStop) -> Result<FlushStats> {
        let mut stats = FlushStats {
            flushed_below_lsn: boundary,
            ..FlushStats::default()
        };
        let published = self.write_metrics_parts(cut, boundary, &mut stats)?;
        let spans = self.write_signal_parts(&cut.spans, boundary, &mut stats)?;
        let logs = self.write_signal_parts(&cut.logs, boundary, &mut stats)?;
        if stop == FlushStop::BeforeCommit {
            return Ok(stats);
        }
        self.write_marker(boundary)?;
        if stop == FlushStop::BeforeTruncate {
            return Ok(stats);
        }
        // Committed: the mirror to an object store may copy these partitions now.
        let changed: Vec<std::path::PathBuf> = published
            .iter()
            .chain(&spans)
            .chain(&logs)
            .map(|(_, f)| f.dir.clone())
            .collect();
        self.publish_metrics(published, &cut.metrics);
        // After the files are published: reads of memory then skip what they hold.
        self.exemplars.publish();
        self.traces.finish(spans, &cut.spans);
        self.logs.finish(logs, &cut.logs);
        self.head_samples.fetch_sub(
            stats.samples.min(self.head_samples.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
        self.wal.truncate_below(boundary)?;
        self.flushed_below.store(boundary, Ordering::Release);
        info!(
            samples = stats.samples,
            histograms = stats.histograms,
            spans = stats.spans,
            logs = stats.logs,
            files = stats.files,
            bytes = stats.bytes,
            flushed_below_lsn = boundary,
            "flushed head to Parquet"
        );
        for dir in &changed {
            self.touch_remote(dir);
        }
        Ok(stats)
    }

    /// Writes the cut's samples, native histograms and exemplars, one set per tenant and
    /// partition: a partition's exemplars go with its samples, or in a set of their own
    /// where this flush has no samples. Returns the sets, not yet published.
    fn write_metrics_parts(
        &self,
        cut: &Cut,
        boundary: u64,
        stats: &mut FlushStats,
    ) -> Result<Vec<(TenantId, Arc<PartFile>)>> {
        let mut published = Vec::new();
        let mut exemplars = exemplars_by_partition(&cut.exemplars);
        for (tenant, series) in &cut.metrics {
            let parts = partition_rows(series);
            let mut ex_parts = exemplars.remove(tenant).unwrap_or_default();
            for (start, rows) in parts {
                let ex = ex_parts.remove(&start).unwrap_or_default();
                let part = self.write_metrics_set(tenant, start, rows, &ex, boundary, stats)?;
                published.push((tenant.clone(), part));
            }
            self.write_exemplar_sets(tenant, ex_parts, boundary, stats, &mut published)?;
        }
        for (tenant, ex_parts) in exemplars {
            self.write_exemplar_sets(tenant, ex_parts, boundary, stats, &mut published)?;
        }
        Ok(published)
    }

    /// Writes sets holding only exemplars, one per partition of `ex_parts`.
    fn write_exemplar_sets(
        &self,
        tenant: &TenantId,
        ex_parts: BTreeMap<i64, Vec<&Entry>>,
        boundary: u64,
        stats: &mut FlushStats,
        published: &mut Vec<(TenantId, Arc<PartFile>)>,
    ) -> Result<()> {
        for (start, ex) in ex_parts {
            let part =
                self.write_metrics_set(tenant, start, Default::default(), &ex, boundary, stats)?;
            published.push((tenant.clone(), part));
        }
        Ok(())
    }

    /// Commits a flush: the `FLUSHED` marker says the WAL below `boundary` is in committed
    /// Parquet.
    fn write_marker(&self, boundary: u64) -> Result<()> {
        let metrics = partition::metrics_dir(&self.dir);
        create_dir_durable(&metrics)?;
        partition::write_json(
            &metrics.join(MARKER),
            &Flushed {
                flushed_below_lsn: boundary,
            },
        )
    }

    /// Publishes the metrics sets of a committed flush to readers, then lets go of what
    /// the heads held of `taken` while it was written: the flushing maps, and the bytes of
    /// its native histograms.
    fn publish_metrics(&self, published: Vec<(TenantId, Arc<PartFile>)>, taken: &Taken) {
        {
            let mut files = self
                .metrics
                .files
                .write()
                .unwrap_or_else(|p| p.into_inner());
            for (tenant, f) in published {
                files.entry(tenant).or_default().push(f);
            }
        }
        let mut hist_held = 0u64;
        for (tenant, series) in taken {
            // A new map, not `clear()`: a cleared map keeps its table (17 B per series).
            for mut h in self.metrics.head(tenant).lock_all() {
                h.flushing = IdMap::default();
                if !h.flushing_h.is_empty() {
                    h.flushing_h = IdMap::default();
                }
            }
            hist_held += series
                .iter()
                .filter_map(|(.., hists)| hists.as_deref())
                .flatten()
                .map(|(_, b)| crate::lifecycle::hist_bytes(b.len()))
                .sum::<u64>();
        }
        if hist_held > 0 {
            // The head no longer holds them (the cut's `Arc`s go with the cut).
            let _ = self
                .head_hist_bytes
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                    Some(b.saturating_sub(hist_held))
                });
        }
    }

    /// After a final flush: if no record was written since, starts a new WAL segment and
    /// drops the old ones, so a clean shutdown leaves no flushed records to read at the next
    /// open. Records written since the flush (none, once writers are stopped) keep the tail.
    pub(crate) fn release_flushed_wal(&self) -> Result<()> {
        let below = self.flushed_below.load(Ordering::Acquire);
        if below == 0 || below != self.wal.next_lsn() {
            return Ok(());
        }
        self.wal.rotate()?;
        self.wal.truncate_below(below)?;
        Ok(())
    }

    /// Loads committed partitions (series into the index, files for readers), deletes the
    /// files of uncommitted flushes, and returns the LSN below which the WAL is flushed.
    pub(crate) fn load_partitions(&self) -> Result<u64> {
        let marker: Flushed =
            partition::read_json(&partition::metrics_dir(&self.dir).join(MARKER))?;
        let committed_below = marker.flushed_below_lsn;
        let mut files: HashMap<TenantId, Vec<Arc<PartFile>>> = HashMap::new();
        for (tenant, dir, version, entries) in
            committed_sets(&self.dir, Signal::Metrics, committed_below)?
        {
            if version != partition::METRICS_FORMAT {
                return Err(Error::DataFormat {
                    path: dir.join("manifest.json"),
                    found: version,
                    expected: partition::METRICS_FORMAT,
                });
            }
            let head = self.metrics.head(&tenant);
            for entry in entries {
                let series = parquet_io::read_series_keys(&dir.join(&entry.series))?;
                for (id, key) in series {
                    if !head.restore_series(id, key.bytes()) {
                        return Err(Error::Io {
                            path: dir.join(&entry.series),
                            source: std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                format!("series id {id} is stored for two label sets"),
                            ),
                        });
                    }
                }
                files
                    .entry(tenant.clone())
                    .or_default()
                    .push(Arc::new(PartFile::new(dir.clone(), entry)));
            }
        }
        let tiers = crate::metrics::tiers::load(&self.dir, committed_below)?;
        for (tenant, list) in &tiers {
            let head = self.metrics.head(tenant);
            for part in list {
                for (id, key) in parquet_io::read_series_keys(&part.series_path())? {
                    // A series a tier and a raw set both name is the same: ids are per tenant.
                    head.restore_series(id, key.bytes());
                }
            }
        }
        *self
            .metrics
            .tier_files
            .write()
            .unwrap_or_else(|p| p.into_inner()) = tiers;
        *self.traces.files.write().unwrap_or_else(|p| p.into_inner()) =
            signal_files(&self.dir, Signal::Traces, committed_below)?;
        *self.logs.files.write().unwrap_or_else(|p| p.into_inner()) =
            signal_files(&self.dir, Signal::Logs, committed_below)?;
        for list in files.values_mut() {
            list.sort_by_key(|f| f.entry.flush);
        }
        *self
            .metrics
            .files
            .write()
            .unwrap_or_else(|p| p.into_inner()) = files;
        Ok(committed_below)
    }
}

impl Core {
    /// Writes one metrics partition's set for flush `boundary`: its samples, series and
    /// index files, its exemplars file when it has exemplars (a set with exemplars only
    /// has empty samples, series and index files), and its histograms files when it has
    /// native histograms (`storage/histograms`; a set with histograms only has an empty
    /// samples file). Listed in the manifest, not committed.
    fn write_metrics_set(
        &self,
        tenant: &TenantId,
        start: i64,
        (runs, defs, hist_runs): PartRows<'_>,
        exemplars: &[&Entry],
        boundary: u64,
        stats: &mut FlushStats,
    ) -> Result<Arc<PartFile>> {
        debug_assert!(runs.is_sorted_by_key(|(id, _)| *id));
        debug_assert!(defs.is_sorted_by_key(|(id, _)| *id));
        let dir = partition_dir(&self.dir, tenant, start);
        create_dir_durable(&dir)?;
        // Every run is non-empty and in time order; the set's time range covers its
        // exemplars too, so reads of either find it.
        let first = runs.iter().filter_map(|(_, r)| r.first()).map(|s| s.ts);
        let last = runs.iter().filter_map(|(_, r)| r.last()).map(|s| s.ts);
        let h_first = hist_runs.iter().filter_map(|(_, r)| r.first()).map(|h| h.0);
        let h_last = hist_runs.iter().filter_map(|(_, r)| r.last()).map(|h| h.0);
        let first = first.chain(h_first);
        let last = last.chain(h_last);
        let ex_ts = exemplars.iter().map(|e| e.exemplar.ts);
        let mut entry = FileEntry {
            flush: boundary,
            samples: format!("samples-{boundary}.parquet"),
            series: format!("series-{boundary}.parquet"),
            index: format!("index-{boundary}.parquet"),
            exemplars: String::new(),
            histograms: String::new(),
            histogram_rows: 0,
            histogram_buckets: String::new(),
            histogram_bucket_rows: 0,
            rows: runs.iter().map(|(_, r)| r.len() as u64).sum(),
            min_ts: first.chain(ex_ts.clone()).min().unwrap_or(start),
            max_ts: last.chain(ex_ts).max().unwrap_or(start),
            bytes: 0,
            flushes: 1,
        };
        entry.bytes += parquet_io::write_sample_runs(&dir.join(&entry.samples), &runs)?;
        entry.bytes += parquet_io::write_series(&dir.join(&entry.series), &defs)?;
        entry.bytes += PartIndex::build(&defs).write(&dir.join(&entry.index))?;
        stats.files += 3;
        if !exemplars.is_empty() {
            entry.exemplars = format!("exemplars-{boundary}.parquet");
            let mut rows: Vec<_> = exemplars
                .iter()
                .map(|e| (&*e.series, &e.exemplar))
                .collect();
            entry.bytes += exemplar_file::write(&dir.join(&entry.exemplars), &mut rows)?;
            stats.files += 1;
            stats.exemplars += exemplars.len() as u64;
        }
        if !hist_runs.is_empty() {
            self.write_histograms(&dir, &mut entry, &hist_runs, stats)?;
        }
        stats.bytes += entry.bytes;
        stats.samples += entry.rows;
        partition::add_to_manifest_version(&dir, &entry, partition::METRICS_FORMAT)?;
        Ok(Arc::new(PartFile::new(dir, entry)))
    }
}

impl Core {
    /// Writes the files of the partitions a cut took (not yet committed); returns them for
    /// publishing once the commit marker is written.
    pub(crate) fn write_signal_parts<R: StoredRecord + FlushOrder>(
        &self,
        taken: &SignalTaken<R>,
        boundary: u64,
        stats: &mut FlushStats,
    ) -> Result<Vec<(TenantId, Arc<PartFile>)>> {
        let mut published = Vec::new();
        for (tenant, start, part) in taken {
            if part.is_empty() {
                continue;
            }
            let mut rows: Vec<&R> = part.iter().collect();
            // Sorted as Arrow sorts, which is the order compaction's merge compares in.
            R::sort_rows(&mut rows);
            let dir = signal_partition_dir(&self.dir, R::SIGNAL, tenant, *start);
            create_dir_durable(&dir)?;
            let name = format!("{}-{boundary}.parquet", R::FILE_PREFIX);
            let bytes = write_sorted(&dir.join(&name), &rows, FLUSH_BATCH_ROWS)?;
            // Before the manifest lists the file: a reader never meets it without its
            // trace-id filter or summary.
            R::write_derived(&dir.join(&name), &rows)?;
            let (min_ns, max_ns) = rows.iter().fold((i64::MAX, i64::MIN), |(lo, hi), r| {
                (lo.min(r.time_ns()), hi.max(r.time_ns()))
            });
            let entry = FileEntry {
                flush: boundary,
                samples: name,
                series: String::new(),
                index: String::new(),
                exemplars: String::new(),
                histograms: String::new(),
                histogram_rows: 0,
                histogram_buckets: String::new(),
                histogram_bucket_rows: 0,
                rows: rows.len() as u64,
                // Milliseconds, widened to whole ms so they cover every record.
                min_ts: min_ns.div_euclid(NS_PER_MS),
                max_ts: max_ns.div_euclid(NS_PER_MS) + i64::from(max_ns.rem_euclid(NS_PER_MS) != 0),
                bytes,
                flushes: 1,
            };
            partition::add_to_manifest(&dir, &entry)?;
            stats.files += 1;
            stats.bytes += bytes;
            match R::SIGNAL {
                Signal::Traces => stats.spans += entry.rows,
                _ => stats.logs += entry.rows,
            }
            published.push((tenant.clone(), Arc::new(PartFile::new(dir, entry))));
        }
        Ok(published)
    }
}

/// What a flush cut took from memory: samples (floats and native histograms), spans, log
/// records and exemplars.
pub(crate) struct Cut {
    pub(crate) metrics: Taken,
    pub(crate) spans: SignalTaken<SpanRecord>,
    pub(crate) logs: SignalTaken<LogRecord>,
    pub(crate) exemplars: ExemplarsTaken,
}

impl Cut {
    pub(crate) fn is_empty(&self) -> bool {
        self.metrics.is_empty()
            && self.spans.is_empty()
            && self.logs.is_empty()
            && self.exemplars.is_empty()
    }
}

/// A cut's exemplars by tenant and partition.
fn exemplars_by_partition(
    taken: &ExemplarsTaken,
) -> HashMap<&TenantId, BTreeMap<i64, Vec<&Entry>>> {
    let mut exemplars: HashMap<&TenantId, BTreeMap<i64, Vec<&Entry>>> = HashMap::new();
    for (tenant, entries) in taken {
        let parts = exemplars.entry(tenant).or_default();
        for e in entries {
            parts
                .entry(partition_start(e.exemplar.ts))
                .or_default()
                .push(e);
        }
    }
    exemplars
}

/// Runs and series per partition of one tenant's `series`, rows sorted by (series id, ts):
/// the series are in id order (`cut`), the samples of each in time order. The runs borrow
/// the cut's samples, so a flush holds one bounded batch per file being written, not a copy
/// of everything it writes.
fn partition_rows(series: &[TakenSeries]) -> BTreeMap<i64, PartRows<'_>> {
    let mut parts: BTreeMap<i64, PartRows<'_>> = BTreeMap::new();
    for (id, key, samples, hists) in series {
        // One run of samples per partition (they are in time order).
        let mut rest = &samples[..];
        while let Some(first) = rest.first() {
            let p = partition_start(first.ts);
            let n = rest.partition_point(|s| partition_start(s.ts) == p);
            let part = parts.entry(p).or_default();
            part.0.push((*id, &rest[..n]));
            part.1.push((*id, key.clone()));
            rest = &rest[n..];
        }
        // And one run of histograms; the series is defined once per partition.
        let mut rest = hists.as_deref().map_or(&[][..], |v| &v[..]);
        while let Some(first) = rest.first() {
            let p = partition_start(first.0);
            let n = rest.partition_point(|h| partition_start(h.0) == p);
            let part = parts.entry(p).or_default();
            part.2.push((*id, &rest[..n]));
            if part.1.last().is_none_or(|(last, _)| last != id) {
                part.1.push((*id, key.clone()));
            }
            rest = &rest[n..];
        }
    }
    parts
}

impl Core {
    /// Writes a flush's native histograms of one partition (`runs`: each series' in time
    /// order, the series in id order) to the set's histograms files, and lists them in
    /// `entry`.
    fn write_histograms(
        &self,
        dir: &std::path::Path,
        entry: &mut FileEntry,
        runs: &[(crate::model::series::SeriesId, &[EncodedHist])],
        stats: &mut FlushStats,
    ) -> Result<()> {
        // Decoded one partition at a time: the head holds them encoded.
        let mut decoded = Vec::with_capacity(runs.len());
        for &(id, run) in runs {
            let mut v = Vec::with_capacity(run.len());
            for (ts, bytes) in run {
                let h = Histogram::decode(bytes).map_err(|e| Error::HeadHistogram {
                    id,
                    ts: *ts,
                    reason: e.to_string(),
                })?;
                v.push(HistogramSample {
                    ts: *ts,
                    h: Arc::new(h),
                });
            }
            decoded.push((id, v));
        }
        let refs: Vec<_> = decoded.iter().map(|(id, v)| (*id, &v[..])).collect();
        let flush = entry.flush;
        let name = hist_file::file_name(flush, WrittenBy::Flush);
        let buckets = hist_file::buckets_file_name(flush, WrittenBy::Flush);
        let w = write_runs(
            &dir.join(&name),
            &dir.join(&buckets),
            WrittenBy::Flush,
            &refs,
        )?;
        entry.histograms = name;
        entry.histogram_rows = w.rows;
        entry.bytes += w.bytes + w.bucket_bytes;
        stats.files += 1;
        if w.bucket_rows > 0 {
            entry.histogram_buckets = buckets;
            entry.histogram_bucket_rows = w.bucket_rows;
            stats.files += 1;
        }
        stats.histograms += w.rows;
        stats.histogram_buckets += w.bucket_rows;
        Ok(())
    }
}
