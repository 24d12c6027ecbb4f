//! Partition layout on disk, manifests and the flush commit marker (see
//! `docs/formats/partitions.md`). All file access of flushed data goes through here and
//! `parquet_io`, so an object-store backend can follow.
//!
//! ```text
//! <data>/metrics/FLUSHED                                  commit marker: {"flushed_below_lsn": B}
//! <data>/metrics/tenant=<t>/date=YYYY-MM-DD/hour=HH/
//!     manifest.json                                       files of this partition, by flush
//!     samples-<B>.parquet                                 series_id, ts, value
//!     series-<B>.parquet                                  series_id, metric, labels
//!     index-<B>.parquet                                   label, value -> rows of series-<B>
//!     exemplars-<B>.parquet                               exemplars (optional)
//!     histograms-<B>.parquet                              native histogram samples (optional)
//!     histogram_buckets-<B>.parquet                       their bucket counts (optional)
//! ```

use std::any::Any;
use std::fs::{self};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parquet::arrow::arrow_reader::ArrowReaderMetadata;

use serde::{Deserialize, Serialize};

use tracing::warn;

use crate::signal_kind::Signal;
use crate::storage::fs::{io, write_atomic};
use crate::storage::parquet_io::WrittenBy;
use crate::{Error, Result, TenantId};

/// Width of a partition: one hour.
pub(crate) const PARTITION_MS: i64 = 3_600_000;

/// The layout compaction writes a metrics partition ending at `end` in at `now`: cold once
/// its end is `cold_after_ms` ago ([`crate::Limits::cold_after`]), else compaction's.
pub(crate) fn metrics_layout(end: i64, cold_after_ms: i64, now: i64) -> WrittenBy {
    if end.saturating_add(cold_after_ms) <= now {
        WrittenBy::Cold
    } else {
        WrittenBy::Compaction
    }
}

/// One file set of a partition: what one flush wrote, or what compaction merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileEntry {
    /// The flush that wrote it: the WAL LSN below which that flush covered everything. For a
    /// compacted set, the newest flush merged into it.
    pub(crate) flush: u64,
    /// The data file: samples for metrics; spans or log records for traces and logs.
    pub(crate) samples: String,
    /// The series table (metrics only; empty and left out of the JSON otherwise).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) series: String,
    /// The inverted index over `series` (label=value -> rows of the series table; metrics
    /// only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) index: String,
    pub(crate) rows: u64,
    pub(crate) min_ts: i64,
    pub(crate) max_ts: i64,
    /// The exemplars file (metrics only, `exemplars-<B>.parquet`; empty and left out of the
    /// JSON when the set has no exemplars).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) exemplars: String,
    /// The native histograms file (metrics only, `histograms-<B>.parquet`,
    /// `storage/histograms`; empty and left out of the JSON when the set has no histogram
    /// samples, so manifests without histograms stay as they were: no new `version`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) histograms: String,
    /// Histogram sample rows in `histograms` (left out of the JSON when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) histogram_rows: u64,
    /// The bucket file of `histograms` (`histogram_buckets-<B>.parquet`; empty and left
    /// out of the JSON when no histogram sample of the set has a bucket).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) histogram_buckets: String,
    /// Bucket rows in `histogram_buckets` (left out of the JSON when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) histogram_bucket_rows: u64,
    /// Bytes of the set's files together.
    pub(crate) bytes: u64,
    /// How many flushes were merged into it (1 for a flush's own files).
    #[serde(default = "one")]
    pub(crate) flushes: u32,
}

fn one() -> u32 {
    1
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl FileEntry {
    /// The file names of the set.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        [
            &self.samples,
            &self.series,
            &self.index,
            &self.exemplars,
            &self.histograms,
            &self.histogram_buckets,
        ]
        .into_iter()
        .map(String::as_str)
        .filter(|n| !n.is_empty())
    }

    /// Who wrote this set, which is its layout: a flush, compaction (files named
    /// `...-c.parquet`) or compaction of a cold partition (`...-cold.parquet`).
    pub(crate) fn layout(&self) -> WrittenBy {
        WrittenBy::of_file(&self.samples)
    }
}

/// A committed file set as readers see it, shared through `Arc`. Compaction and retention
/// [`retire`](PartFile::retire) a set once the manifest no longer lists it; its files are
/// deleted when the last holder (the engine's list, or a query still reading) lets go. A
/// crash before that leaves files the manifest does not list, which open deletes.
/// Committed file sets per tenant, oldest flush first.
pub(crate) type FileMap = std::collections::HashMap<TenantId, Vec<Arc<PartFile>>>;

/// One committed file set: where it is, its manifest entry, and what readers loaded of it.
/// Its files are deleted when the last holder drops a retired set.
#[derive(Debug)]
pub(crate) struct PartFile {
    pub(crate) dir: PathBuf,
    pub(crate) entry: FileEntry,
    retired: AtomicBool,
    /// The set's key in caches kept by file (unique in the process: [`file_uid`]).
    pub(crate) uid: u64,
    /// The data file's footer with the page index, read on first use.
    pub(crate) samples_meta: OnceLock<ArrowReaderMetadata>,
    /// What the set's signal derives from it on first use and keeps while the set is held
    /// (the metrics index and series ids, a spans file's trace-id filter), typed by that
    /// signal: see [`PartFile::derived`].
    derived: OnceLock<Arc<dyn Any + Send + Sync>>,
    /// For a set in a bucket: where its data file comes from when it is not on the local
    /// disk, and that file's length. Set at creation for a query process's sets, and once
    /// mirrored for a writer's when its local copies are a bounded cache.
    remote: OnceLock<(Arc<dyn Fetch>, u64)>,
}

/// Brings a set's data file to the local disk: a query process's cache of a bucket
/// (`storage/remote/cache.rs`).
pub(crate) trait Fetch: Send + Sync + std::fmt::Debug {
    /// Makes the data file of `part` present at [`PartFile::samples_path`] for as long as
    /// the caller holds `part`.
    fn fetch(&self, part: &Arc<PartFile>) -> Result<()>;

    /// Whether the data file of `part` is on the local disk now, without fetching it.
    fn is_local(&self, part: &PartFile) -> bool;

    /// Bytes `ranges` of `part`'s data file, read from the bucket with one ranged GET each,
    /// several at once (for a read of a few pages of a file not on the local disk).
    fn read_ranges(
        &self,
        part: &PartFile,
        ranges: Vec<std::ops::Range<u64>>,
    ) -> Result<Vec<bytes::Bytes>>;
}

/// A process-unique id for a file set, so cache keys are never reused.
pub(crate) fn file_uid() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Extension of a file derived from a set's data file and kept beside it (a spans file's
/// trace-id filter): rebuilt when missing, deleted with the set.
pub(crate) const SIDECAR_EXT: &str = "tid";

/// Extension of a logs file's summary (`spans_logs/logs/summary`) and of a spans file's
/// (`spans_logs/spans/summary`), derived as the trace-id filter is. The two never meet: a
/// data file's name starts with its signal (`logs-…`, `spans-…`), and so does its summary's.
pub(crate) const SUMMARY_EXT: &str = "sum";

/// The sidecar file of the data file at `data` ([`SIDECAR_EXT`]).
pub(crate) fn sidecar_path(data: &Path) -> PathBuf {
    data.with_extension(SIDECAR_EXT)
}

/// The names of the files derived from the data file named `data` and deleted with it: a
/// spans file's trace-id filter and summary (`spans_logs/spans/summary`), a logs file's
/// summary (`spans_logs/logs/summary`); none for other files.
pub(crate) fn derived_paths(data: &str) -> Vec<PathBuf> {
    let data = Path::new(data);
    let Some(name) = data.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    if name.starts_with("spans-") {
        vec![sidecar_path(data), data.with_extension(SUMMARY_EXT)]
    } else if name.starts_with("logs-") {
        vec![data.with_extension(SUMMARY_EXT)]
    } else {
        Vec::new()
    }
}

impl PartFile {
    pub(crate) fn new(dir: PathBuf, entry: FileEntry) -> Self {
        Self {
            dir,
            entry,
            retired: AtomicBool::new(false),
            uid: file_uid(),
            samples_meta: OnceLock::new(),
            derived: OnceLock::new(),
            remote: OnceLock::new(),
        }
    }

    /// A set of a bucket's partition, cached in `dir`: its data file (`data_len` bytes) is
    /// fetched by `source` on [`PartFile::ensure_data`]; its other files are already there.
    pub(crate) fn remote(
        dir: PathBuf,
        entry: FileEntry,
        source: Arc<dyn Fetch>,
        data_len: u64,
    ) -> Self {
        let part = Self::new(dir, entry);
        part.set_remote(source, data_len);
        part
    }

    /// Marks the set's data file (`data_len` bytes) as in a bucket, fetched by `source`
    /// when not on the local disk; whether it was not marked yet.
    pub(crate) fn set_remote(&self, source: Arc<dyn Fetch>, data_len: u64) -> bool {
        self.remote.set((source, data_len)).is_ok()
    }

    /// Whether the set's data file is marked as in a bucket.
    pub(crate) fn is_remote(&self) -> bool {
        self.remote.get().is_some()
    }

    /// Makes sure the data file is on the local disk (fetched from the bucket by a query
    /// process; always there for a writer's own sets), for as long as `self` is held.
    pub(crate) fn ensure_data(self: &Arc<Self>) -> Result<()> {
        match self.remote.get() {
            Some((source, _)) => source.fetch(self),
            None => Ok(()),
        }
    }

    /// Where to read the data file's byte ranges from when it is in a bucket and not on
    /// the local disk now (a query process's file it has not fetched): its source and
    /// length. `None` when it is local (read it there, after [`PartFile::ensure_data`]).
    pub(crate) fn remote_only(&self) -> Option<(Arc<dyn Fetch>, u64)> {
        let (source, len) = self.remote.get()?;
        (!source.is_local(self)).then(|| (source.clone(), *len))
    }

    /// The data file's length when known without reading the disk (a bucket's set):
    /// derived files check it against their own record of it.
    pub(crate) fn known_data_len(&self) -> Option<u64> {
        self.remote.get().map(|(_, len)| *len)
    }

    /// The signal's derived state of this set, made empty (`T::default()`) on first use.
    /// `None` if the set already holds another type (a set read as two signals: a bug,
    /// which then costs only the caching).
    pub(crate) fn derived<T: Any + Default + Send + Sync>(&self) -> Option<&T> {
        let slot = self.derived.get_or_init(|| Arc::new(T::default()));
        slot.as_ref().downcast_ref::<T>()
    }

    pub(crate) fn samples_path(&self) -> PathBuf {
        self.dir.join(&self.entry.samples)
    }

    pub(crate) fn series_path(&self) -> PathBuf {
        self.dir.join(&self.entry.series)
    }

    /// The exemplars file, when the set has one.
    pub(crate) fn exemplars_path(&self) -> Option<PathBuf> {
        (!self.entry.exemplars.is_empty()).then(|| self.dir.join(&self.entry.exemplars))
    }

    /// Whether the set has a native histograms file.
    pub(crate) fn has_histograms(&self) -> bool {
        !self.entry.histograms.is_empty()
    }

    /// The native histograms file, when the set has one.
    pub(crate) fn histograms_path(&self) -> Option<PathBuf> {
        (!self.entry.histograms.is_empty()).then(|| self.dir.join(&self.entry.histograms))
    }

    /// The bucket file of the native histograms file, when the set has one.
    pub(crate) fn histogram_buckets_path(&self) -> Option<PathBuf> {
        (!self.entry.histogram_buckets.is_empty())
            .then(|| self.dir.join(&self.entry.histogram_buckets))
    }

    pub(crate) fn index_path(&self) -> PathBuf {
        self.dir.join(&self.entry.index)
    }

    /// Whether the set has samples in `[start, end]`, by its manifest entry.
    pub(crate) fn overlaps(&self, start: i64, end: i64) -> bool {
        self.entry.max_ts >= start && self.entry.min_ts <= end
    }

    /// Marks the set for deletion once nobody holds it. Call only after a durable manifest
    /// stopped listing it.
    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.retired.load(Ordering::Acquire) {
            return;
        }
        let derived = derived_paths(&self.entry.samples)
            .into_iter()
            .map(|name| self.dir.join(name));
        let listed = self.entry.names().map(|name| self.dir.join(name));
        for path in listed.chain(derived) {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                // Harmless: the manifest no longer lists it, so the next open deletes it.
                Err(e) => warn!(path = %path.display(), error = %e, "removing a retired file"),
            }
        }
    }
}

/// A partition's manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) version: u32,
    pub(crate) files: Vec<FileEntry>,
}

/// The commit marker's file name, in `<data>/metrics`.
pub(crate) const MARKER: &str = "FLUSHED";

/// The commit marker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Flushed {
    pub(crate) flushed_below_lsn: u64,
}

/// Civil date (y, m, d) of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The partition start (ms) holding timestamp `ts`.
pub(crate) fn partition_start(ts: i64) -> i64 {
    ts.div_euclid(PARTITION_MS) * PARTITION_MS
}

/// `<root>/metrics`.
pub(crate) fn metrics_dir(root: &Path) -> PathBuf {
    root.join(Signal::Metrics.dir())
}

/// Directory of tenant `t`'s metrics partition starting at `start` (ms).
pub(crate) fn partition_dir(root: &Path, t: &TenantId, start: i64) -> PathBuf {
    signal_partition_dir(root, Signal::Metrics, t, start)
}

/// Directory of tenant `t`'s partition of `signal` starting at `start` (ms).
pub(crate) fn signal_partition_dir(
    root: &Path,
    signal: Signal,
    t: &TenantId,
    start: i64,
) -> PathBuf {
    let (y, m, d) = civil_from_days(start.div_euclid(86_400_000));
    let hour = start.rem_euclid(86_400_000) / PARTITION_MS;
    root.join(signal.dir())
        .join(format!("tenant={t}"))
        .join(format!("date={y:04}-{m:02}-{d:02}"))
        .join(format!("hour={hour:02}"))
}

pub(crate) fn read_json<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> Result<T> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Io {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(io(path)(e)),
    }
}

pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Io {
        path: path.to_owned(),
        source: std::io::Error::other(e),
    })?;
    write_atomic(path, &bytes)
}

/// The `version` of metrics manifests: 2 since series ids carry the metric name's hash
/// ([`crate::model::series::series_id`]). Span and log manifests stay at 1.
pub(crate) const METRICS_FORMAT: u32 = 2;

/// Adds (or replaces) flush `entry.flush`'s set in the manifest of a span or log partition
/// `dir`, durably.
pub(crate) fn add_to_manifest(dir: &Path, entry: &FileEntry) -> Result<()> {
    add_to_manifest_version(dir, entry, 1)
}

/// [`add_to_manifest`] with the manifest `version` to write ([`METRICS_FORMAT`] for metrics).
pub(crate) fn add_to_manifest_version(dir: &Path, entry: &FileEntry, version: u32) -> Result<()> {
    let manifest_path = dir.join("manifest.json");
    let mut manifest: Manifest = read_json(&manifest_path)?;
    manifest.version = version;
    manifest.files.retain(|f| f.flush != entry.flush);
    manifest.files.push(entry.clone());
    write_json(&manifest_path, &manifest)
}

/// Every partition directory of `signal` of every tenant: `(tenant, dir)`.
pub(crate) fn list_signal_partitions(
    root: &Path,
    signal: Signal,
) -> Result<Vec<(TenantId, PathBuf)>> {
    list_partitions(&root.join(signal.dir()), true)
}

/// Every partition directory under `base` (`tenant=/date=/hour=`, or `tenant=/date=` when
/// not `hourly`: a downsampled tier's), with its tenant.
pub(crate) fn list_partitions(base: &Path, hourly: bool) -> Result<Vec<(TenantId, PathBuf)>> {
    let mut out = Vec::new();
    for tenant_dir in read_dirs(base)? {
        let Some(t) = tenant_dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("tenant="))
            .and_then(|n| TenantId::new(n).ok())
        else {
            continue;
        };
        for date in read_dirs(&tenant_dir)? {
            if !hourly {
                out.push((t.clone(), date));
                continue;
            }
            for hour in read_dirs(&date)? {
                out.push((t.clone(), hour));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn read_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(io(dir))?;
        if e.file_type().map_err(io(dir))?.is_dir() {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_dirs_are_hive_style_utc_hours() {
        let t = TenantId::new("acme").unwrap();
        // 2025-11-21T14:30:00Z
        let ts = 1_763_735_400_000;
        let dir = partition_dir(Path::new("/d"), &t, partition_start(ts));
        assert_eq!(
            dir,
            Path::new("/d/metrics/tenant=acme/date=2025-11-21/hour=14")
        );
        assert_eq!(partition_start(ts) % PARTITION_MS, 0);
        // Before the epoch still lands in the right hour.
        let dir = partition_dir(Path::new("/d"), &t, partition_start(-1));
        assert_eq!(
            dir,
            Path::new("/d/metrics/tenant=acme/date=1969-12-31/hour=23")
        );
    }

    /// A manifest written before histograms files existed (field order of that struct).
    const OLD_MANIFEST: &str = r#"{
  "version": 2,
  "files": [
    {
      "flush": 1234,
      "samples": "samples-1234.parquet",
      "series": "series-1234.parquet",
      "index": "index-1234.parquet",
      "rows": 5400,
      "min_ts": 1763730000000,
      "max_ts": 1763733540000,
      "exemplars": "exemplars-1234.parquet",
      "bytes": 48213,
      "flushes": 1
    }
  ]
}"#;

    #[test]
    fn old_manifests_load_and_are_written_back_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        std::fs::write(&path, OLD_MANIFEST).unwrap();
        let m: Manifest = read_json(&path).unwrap();
        assert_eq!(m.version, METRICS_FORMAT);
        let e = &m.files[0];
        assert_eq!((e.histograms.as_str(), e.histogram_rows), ("", 0));
        assert_eq!(
            (e.histogram_buckets.as_str(), e.histogram_bucket_rows),
            ("", 0)
        );
        assert_eq!(
            e.names().collect::<Vec<_>>(),
            [
                "samples-1234.parquet",
                "series-1234.parquet",
                "index-1234.parquet",
                "exemplars-1234.parquet"
            ]
        );
        let part = PartFile::new(dir.path().to_owned(), e.clone());
        assert_eq!(part.histograms_path(), None);
        assert_eq!(part.histogram_buckets_path(), None);
        write_json(&path, &m).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), OLD_MANIFEST);
    }

    #[test]
    fn a_histograms_file_is_listed_and_kept_in_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        let mut m: Manifest = serde_json::from_str(OLD_MANIFEST).unwrap();
        m.files[0].histograms = "histograms-1234.parquet".into();
        m.files[0].histogram_rows = 77;
        m.files[0].histogram_buckets = "histogram_buckets-1234.parquet".into();
        m.files[0].histogram_bucket_rows = 6_006;
        write_json(&path, &m).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(r#""histograms": "histograms-1234.parquet""#),
            "{text}"
        );
        assert!(text.contains(r#""histogram_rows": 77"#), "{text}");
        assert!(
            text.contains(r#""histogram_buckets": "histogram_buckets-1234.parquet""#),
            "{text}"
        );
        assert!(text.contains(r#""histogram_bucket_rows": 6006"#), "{text}");
        let back: Manifest = read_json(&path).unwrap();
        assert_eq!(back, m);
        let e = &back.files[0];
        assert!(e.names().any(|n| n == "histograms-1234.parquet"));
        assert!(e.names().any(|n| n == "histogram_buckets-1234.parquet"));
        let part = PartFile::new(dir.path().to_owned(), e.clone());
        assert_eq!(
            part.histograms_path(),
            Some(dir.path().join("histograms-1234.parquet"))
        );
        assert_eq!(
            part.histogram_buckets_path(),
            Some(dir.path().join("histogram_buckets-1234.parquet"))
        );
    }

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_413), (2025, 11, 21));
    }
}
