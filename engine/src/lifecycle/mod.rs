//! [`Core`]: the engine's shared state, holding every subsystem (the metrics store, the
//! spans and logs stores, the WAL, the locks and markers of the flush and of maintenance),
//! and the protocols that span them, one file each: opening and WAL replay (`replay.rs`),
//! writes (`write.rs`), the flush (`flush.rs`), compaction passes (`compact.rs`), retention,
//! the disk budget and trace-filter upkeep (`maintenance.rs`), checkpoints (`checkpoint.rs`) and
//! deletes (`delete.rs`). The only place with
//! `impl Core`; [`crate::Engine`] (`api/`) is the handle around it.

pub(crate) mod checkpoint;
pub(crate) mod compact;
pub(crate) mod copies;
pub(crate) mod delete;
pub(crate) mod downsample;
pub(crate) mod exemplars;
pub(crate) mod filters;
pub(crate) mod flush;
pub(crate) mod maintenance;
pub(crate) mod metadata;
pub(crate) mod reader;
pub(crate) mod replay;
pub(crate) mod snapshots;
pub(crate) mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use strata_wal::Wal;
use tracing::info;

use crate::clock::Clock;
use crate::metrics::store::MetricsStore;

use crate::metrics::head::SHARDS;
use crate::model::records::{LogRecord, SpanRecord};
use crate::model::series::SeriesId;
use crate::spans_logs::store::SignalStore;
use crate::{EngineConfig, Error, Result, Sample, TenantId, TenantStats};

/// The engine's shared state; [`crate::Engine`] is the handle around it.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) config: EngineConfig,
    pub(crate) clock: Box<dyn Clock>,
    pub(crate) dir: PathBuf,
    pub(crate) wal: Wal,
    /// Samples: the heads, the committed file sets and the page cache.
    pub(crate) metrics: MetricsStore,
    pub(crate) flush_lock: Mutex<()>,
    /// One compaction or retention pass at a time.
    pub(crate) maintenance_lock: Mutex<()>,
    /// Dropped partitions whose marker and directory are still to be removed.
    pub(crate) pending_drops: Mutex<Vec<PathBuf>>,
    /// Samples in memory (head and flushing), for flush triggers and backpressure.
    pub(crate) head_samples: AtomicU64,
    /// Bytes of the native histograms in memory, head and flushing ([`hist_bytes`] each),
    /// for flush triggers and backpressure; a flush subtracts what it wrote.
    pub(crate) head_hist_bytes: AtomicU64,
    /// WAL LSN below which every record is in committed Parquet (the `FLUSHED` marker).
    pub(crate) flushed_below: AtomicU64,
    /// When the oldest sample not yet taken by a flush arrived.
    pub(crate) oldest_unflushed: Mutex<Option<Instant>>,
    /// Wakes the background flusher early.
    pub(crate) kick: (Sender<()>, Receiver<()>),
    /// Set by a failed flush; every later write fails with it.
    pub(crate) poisoned: OnceLock<String>,
    /// How long flushes, compactions and retention passes take (`telemetry.rs`).
    pub(crate) latency: crate::telemetry::Latencies,
    /// Spans in memory and their committed files.
    pub(crate) traces: SignalStore<SpanRecord>,
    /// Log records in memory and their committed files.
    pub(crate) logs: SignalStore<LogRecord>,
    /// Exemplars in memory (their files are listed with the metrics sets).
    pub(crate) exemplars: crate::exemplars::store::ExemplarStore,
    /// Metric metadata (memory and WAL only, `lifecycle/metadata.rs`).
    pub(crate) metadata: crate::metrics::metadata::MetadataStore,
    /// Closed spans and logs partitions with more than one file: the file set a pass saw
    /// (`spans_logs::compact::SetSeen`), to tell when it has settled.
    pub(crate) settling: Mutex<HashMap<PathBuf, crate::spans_logs::compact::SetSeen>>,
    /// The mirror to an object store, when configured (`storage/remote`).
    pub(crate) remote: Option<crate::storage::remote::Remote>,
    /// The bucket this engine reads, read-only, when it is a query process's
    /// (`lifecycle/reader.rs`).
    pub(crate) reader: Option<Arc<crate::storage::remote::reader::Reader>>,
    /// The retention filters in force and what they removed (`lifecycle/filters.rs`).
    pub(crate) filters: filters::FilterState,
    /// What downsampling passes did since open (`lifecycle/downsample.rs`).
    pub(crate) downsampled: Mutex<crate::telemetry::DownsampleStats>,
    /// The snapshots as last measured, for telemetry (`lifecycle/snapshots.rs`).
    pub(crate) snapshots_measure: snapshots::Measured,
}

impl Core {
    /// Tells the object-storage mirror, if any, that the partition in `dir` changed.
    pub(crate) fn touch_remote(&self, dir: &Path) {
        if let Some(r) = &self.remote {
            r.touch(dir);
        }
    }

    /// See [`crate::Engine::open_with_clock`].
    pub(crate) fn open(
        dir: impl AsRef<Path>,
        config: EngineConfig,
        clock: impl Clock,
    ) -> Result<Self> {
        config.validate()?;
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let wal = Wal::open(dir.join("wal"), config.wal.clone())?;
        let metrics = MetricsStore::new(config.page_cache_bytes);
        let remote = match &config.remote {
            Some(r) => {
                let remote = crate::storage::remote::Remote::new(&dir, r.clone())?;
                // One writer per bucket prefix: another writer's claim fails the open. An
                // unreachable bucket does not (ingest goes on locally); the mirror then
                // claims the prefix before its first upload.
                match remote.claim() {
                    Ok(()) => {}
                    Err(e @ crate::RemoteError::Locked { .. }) => return Err(e.into()),
                    Err(e) => {
                        tracing::warn!(error = %e, "object store unreachable at open; mirroring once it answers");
                    }
                }
                Some(remote)
            }
            None => None,
        };
        // After the WAL's lock: no other process uses the directory it may empty.
        let reader = Self::open_reader(&dir, &config)?;
        let engine = Self {
            remote,
            reader,
            metrics,
            config,
            clock: Box::new(clock),
            dir,
            wal,
            flush_lock: Mutex::new(()),
            maintenance_lock: Mutex::new(()),
            pending_drops: Mutex::default(),
            head_samples: AtomicU64::new(0),
            head_hist_bytes: AtomicU64::new(0),
            flushed_below: AtomicU64::new(0),
            oldest_unflushed: Mutex::new(None),
            kick: crossbeam_channel::bounded(1),
            poisoned: OnceLock::new(),
            latency: Default::default(),
            settling: Mutex::default(),
            traces: SignalStore::default(),
            logs: SignalStore::default(),
            exemplars: Default::default(),
            metadata: Default::default(),
            filters: Default::default(),
            downsampled: Mutex::default(),
            snapshots_measure: snapshots::Measured::default(),
        };
        if engine.reader.is_some() {
            engine.refresh_reader()?;
            engine.sweep_cache()?;
            info!(dir = %engine.dir.display(), "engine opened read-only over object storage");
            return Ok(engine);
        }
        let flushed_below = engine.load_partitions()?;
        engine.flushed_below.store(flushed_below, Ordering::Release);
        let Replayed {
            records,
            samples,
            signal_bytes,
            hist_bytes,
        } = engine.replay_wal(flushed_below)?;
        engine.note_accepted(samples);
        engine.head_hist_bytes.store(hist_bytes, Ordering::Relaxed);
        engine.note_histograms(hist_bytes);
        engine.note_signal_bytes(signal_bytes);
        info!(dir = %engine.dir.display(), flushed_below, records, samples, signal_bytes,
              "engine opened, WAL replayed");
        if let Some(r) = &engine.remote {
            // After the partitions are loaded (uncommitted flushes dropped from their
            // manifests): its first pass checks every partition against the bucket.
            r.start()?;
        }
        engine.find_evicted();
        Ok(engine)
    }

    /// Counters of `tenant`, for self-metrics.
    pub(crate) fn tenant_stats(&self, tenant: &TenantId) -> TenantStats {
        let mut stats = TenantStats {
            spans_rejected: self.traces.rejected(tenant),
            logs_rejected: self.logs.rejected(tenant),
            spans_memory: self.traces.memory_of(tenant),
            logs_memory: self.logs.memory_of(tenant),
            ..TenantStats::default()
        };
        (
            stats.exemplars_rejected,
            stats.exemplars_evicted,
            stats.exemplars_memory,
        ) = self.exemplars.stats(tenant);
        if let Some(head) = self.metrics.existing_head(tenant) {
            stats.active_series = head.active_series();
            stats.rejected = head.rejected();
            stats.memory.raw_keys = head.raw_keys_bytes() as u64;
            for i in 0..SHARDS {
                let h = head.shard(i);
                stats.series += h.index.len();
                stats.memory.series_table += h.index.table_bytes() as u64;
                stats.memory.series_keys += h.index.key_bytes() as u64;
                stats.memory.postings += h.index.postings_bytes() as u64;
                stats.memory.histograms += h
                    .index
                    .iter()
                    .filter_map(|(_, s)| s.buf.hists.as_deref())
                    .map(|b| b.bytes() as u64)
                    .sum::<u64>();
                stats.memory.flushing_table += (h.flushing.capacity()
                    * (std::mem::size_of::<(SeriesId, Arc<Vec<Sample>>)>() + 1))
                    as u64;
            }
        }
        stats
    }

    /// Tenants that have written anything, sorted.
    pub(crate) fn tenants(&self) -> Vec<TenantId> {
        let mut t = self.metrics.tenants();
        t.extend(self.traces.tenants());
        t.extend(self.logs.tenants());
        t.extend(self.exemplars.tenants());
        t.extend(self.metadata.tenants());
        t.sort();
        t.dedup();
        t
    }

    /// Counts `n` newly accepted samples for flush triggers and backpressure.
    pub(crate) fn note_accepted(&self, n: u64) {
        if n == 0 {
            return;
        }
        let total = self.head_samples.fetch_add(n, Ordering::Relaxed) + n;
        self.oldest_unflushed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(Instant::now);
        if total >= self.config.flush_head_samples {
            let _ = self.kick.0.try_send(()); // a kick already pending is as good
        }
    }

    /// Counts `bytes` of newly accepted spans or log records for flush triggers and
    /// backpressure.
    pub(crate) fn note_signal_bytes(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        self.oldest_unflushed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(Instant::now);
        if self.unflushed_bytes() >= self.flush_bytes() {
            let _ = self.kick.0.try_send(());
        }
    }

    /// Notes newly accepted native histograms of `bytes` (already counted in
    /// `head_hist_bytes`) for flush triggers: they start the age clock, and their bytes
    /// with the spans' and logs' trigger a flush at [`Core::flush_bytes`].
    pub(crate) fn note_histograms(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        self.oldest_unflushed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(Instant::now);
        if self.unflushed_bytes() >= self.flush_bytes() {
            let _ = self.kick.0.try_send(());
        }
    }

    /// Bytes in memory counted by size rather than by samples: spans, log records and
    /// native histograms.
    fn unflushed_bytes(&self) -> u64 {
        self.signal_bytes() + self.head_hist_bytes.load(Ordering::Relaxed)
    }

    /// Bytes spans and log records in memory hold (`spans_logs/record_memory.rs`).
    fn signal_bytes(&self) -> u64 {
        self.traces.bytes.load(Ordering::Relaxed) + self.logs.bytes.load(Ordering::Relaxed)
    }

    /// Bytes of spans, logs and native histograms that trigger a flush: as many as
    /// `flush_head_samples` take.
    fn flush_bytes(&self) -> u64 {
        self.config
            .flush_head_samples
            .saturating_mul(HEAD_BYTES_PER_SAMPLE)
    }

    /// Whether a flush is due: the head holds `flush_head_samples` (or spans, logs and histograms as
    /// many bytes as those take), or its oldest record arrived `flush_interval` ago.
    pub(crate) fn needs_flush(&self) -> bool {
        if self.unflushed_bytes() >= self.flush_bytes() {
            return true;
        }
        let n = self.head_samples.load(Ordering::Relaxed);
        let oldest = *self
            .oldest_unflushed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        n >= self.config.flush_head_samples
            || oldest.is_some_and(|t| t.elapsed() >= self.config.flush_interval)
    }

    /// Refuses a write when the engine is poisoned or memory is over budget.
    pub(crate) fn admit(&self) -> Result<()> {
        self.writable()?;
        if let Some(reason) = self.poisoned.get() {
            return Err(Error::Poisoned {
                reason: reason.clone(),
            });
        }
        let bytes = self.head_bytes();
        if bytes > self.config.max_head_bytes {
            let _ = self.kick.0.try_send(());
            return Err(Error::OverCapacity {
                head_bytes: bytes,
                budget: self.config.max_head_bytes,
            });
        }
        Ok(())
    }

    /// What the head holds against `max_head_bytes`: unflushed samples (16 bytes each),
    /// native histograms, spans and log records.
    pub(crate) fn head_bytes(&self) -> u64 {
        self.head_samples.load(Ordering::Relaxed) * HEAD_BYTES_PER_SAMPLE
            + self.head_hist_bytes.load(Ordering::Relaxed)
            + self.signal_bytes()
    }

    /// Whether a write would be admitted now as far as the head's budget goes; when not,
    /// the background thread is woken to flush.
    pub(crate) fn head_has_room(&self) -> bool {
        let room = self.head_bytes() <= self.config.max_head_bytes;
        if !room {
            let _ = self.kick.0.try_send(());
        }
        room
    }
}

/// Estimated bytes of memory per sample held in memory (timestamp and value), for
/// `max_head_bytes`. Series and index overhead is not counted.
pub(crate) const HEAD_BYTES_PER_SAMPLE: u64 = 16;

/// Totals of a replay, for the open's log line.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Replayed {
    pub(crate) records: u64,
    pub(crate) samples: u64,
    /// Bytes the replayed spans and log records hold in memory.
    pub(crate) signal_bytes: u64,
    /// Bytes the replayed native histograms hold in memory ([`hist_bytes`]).
    pub(crate) hist_bytes: u64,
}

/// Bytes one native histogram of `len` encoded bytes holds in the head, for
/// `max_head_bytes`: the encoding, its shared allocation's counters and its buffer entry.
pub(crate) fn hist_bytes(len: usize) -> u64 {
    (len + 16 + std::mem::size_of::<crate::metrics::series::EncodedHist>()) as u64
}
