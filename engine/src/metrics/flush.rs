//! Flushing the head to Parquet partitions, and loading them back on open.
//!
//! A flush is committed by one marker file, so it is atomic across tenants and partitions:
//!
//! 1. **Cut.** With every tenant's lock held (in id order), move each series' samples into
//!    the tenant's `flushing` set and its native histograms into `flushing_h` (both still
//!    readable), then `wal.sync()`. Writes submit their
//!    WAL record under their tenant's lock, so the LSN that sync returns, `B`, is exactly
//!    "after every record whose samples were taken", and those records are durable.
//! 2. **Write.** Per tenant and hour partition: `samples-B.parquet`, `series-B.parquet` and
//!    `index-B.parquet` (and `exemplars-B.parquet`, `histograms-B.parquet`,
//!    `histogram_buckets-B.parquet` when it has any), each written to a temp name, fsynced, renamed, directory fsynced; then the partition's
//!    `manifest.json` gains an entry for flush `B` (same protocol).
//! 3. **Commit.** `metrics/FLUSHED` := `{"flushed_below_lsn": B}` (same protocol).
//! 4. **Publish** the files to readers, then clear `flushing` and `flushing_h`; then truncate
//!    the WAL below `B`.
//!
//! On open, manifest entries of flushes above the marker are uncommitted (a crash between
//! 2 and 3): their files are deleted and their samples come back from the WAL, which is only
//! truncated after 3. WAL records below the marker are skipped: their samples are in files.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tracing::warn;

use crate::metrics::series::EncodedHist;
use crate::model::series::SeriesId;
use crate::model::series_key::SeriesKey;
use crate::signal_kind::Signal;
use crate::storage::partition::FileMap;
use crate::storage::partition::{self, FileEntry, Manifest, PartFile};
use crate::storage::retention;
use crate::{Error, Result, Sample, TenantId};

/// What a flush did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushStats {
    /// Samples written to Parquet.
    pub samples: u64,
    /// Spans written to Parquet.
    pub spans: u64,
    /// Log records written to Parquet.
    pub logs: u64,
    /// Exemplars written to Parquet.
    pub exemplars: u64,
    /// Native histogram samples written to Parquet (`histograms-<B>.parquet` rows).
    pub histograms: u64,
    /// Bucket rows written for them (`histogram_buckets-<B>.parquet`).
    pub histogram_buckets: u64,
    /// Partition files (samples, series, index, exemplars, histograms, spans and logs)
    /// written.
    pub files: usize,
    /// Bytes of those files.
    pub bytes: u64,
    /// WAL LSN below which everything is now in Parquet (0 if there was nothing to flush).
    pub flushed_below_lsn: u64,
}

/// Where a test may stop a flush, as a crash would.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushStop {
    /// After the partition files and manifests, before the commit marker.
    BeforeCommit,
    /// After the commit marker, before publishing and WAL truncation.
    BeforeTruncate,
    /// Run to the end.
    Never,
}

pub(crate) use crate::storage::partition::MARKER;

/// One partition's runs of samples and of native histograms (borrowed from the cut, each in
/// time order, the runs in id order) and the series they belong to (each once, in id
/// order).
pub(crate) type PartRows<'a> = (
    Vec<(SeriesId, &'a [Sample])>,
    Vec<(SeriesId, SeriesKey)>,
    Vec<(SeriesId, &'a [EncodedHist])>,
);

/// One series a cut took: its floats and its native histograms (`None`: it had none).
pub(crate) type TakenSeries = (
    SeriesId,
    SeriesKey,
    Arc<Vec<Sample>>,
    Option<Arc<Vec<EncodedHist>>>,
);

/// What a cut took of each tenant's head.
pub(crate) type Taken = Vec<(TenantId, Vec<TakenSeries>)>;

/// One partition's committed sets: `(tenant, dir, manifest version, sets)`.
type CommittedSets = (TenantId, PathBuf, u32, Vec<FileEntry>);

/// The committed file sets of every partition of `signal`. Sets of
/// flushes above `committed_below` are forgotten and their files deleted (the WAL still
/// holds their records), as are files no manifest lists; emptied or dropped partitions are
/// cleaned up and left out.
pub(crate) fn committed_sets(
    root: &Path,
    signal: Signal,
    committed_below: u64,
) -> Result<Vec<CommittedSets>> {
    committed_sets_of(
        partition::list_signal_partitions(root, signal)?,
        committed_below,
    )
}

/// [`committed_sets`] of the partition directories `dirs`.
pub(crate) fn committed_sets_of(
    dirs: Vec<(TenantId, PathBuf)>,
    committed_below: u64,
) -> Result<Vec<CommittedSets>> {
    let mut out = Vec::new();
    for (tenant, dir) in dirs {
        let manifest_path = dir.join("manifest.json");
        let mut manifest: Manifest = partition::read_json(&manifest_path)?;
        let before = manifest.files.len();
        manifest.files.retain(|f| f.flush <= committed_below);
        if manifest.files.len() != before {
            warn!(partition = %dir.display(), dropped = before - manifest.files.len(),
                  "dropping files of an uncommitted flush; the WAL still holds their records");
            partition::write_json(&manifest_path, &manifest)?;
        }
        remove_unlisted(&dir, &manifest)?;
        if manifest.files.is_empty() {
            // A dropped partition (see `retention`) or an empty one: nothing to load.
            retention::clean_dropped(&dir)?;
            continue;
        }
        out.push((tenant, dir, manifest.version, manifest.files));
    }
    Ok(out)
}

/// The committed file sets of a span or log signal, by tenant, oldest flush first.
pub(crate) fn signal_files(root: &Path, signal: Signal, committed_below: u64) -> Result<FileMap> {
    let mut files = FileMap::new();
    for (tenant, dir, _version, entries) in committed_sets(root, signal, committed_below)? {
        let list = files.entry(tenant).or_default();
        list.extend(
            entries
                .into_iter()
                .map(|e| Arc::new(PartFile::new(dir.clone(), e))),
        );
    }
    for list in files.values_mut() {
        list.sort_by_key(|f| f.entry.flush);
    }
    Ok(files)
}

/// Removes files a crash left in a partition that its manifest does not list.
fn remove_unlisted(dir: &Path, manifest: &Manifest) -> Result<()> {
    let keep: HashSet<&str> = manifest
        .files
        .iter()
        .flat_map(FileEntry::names)
        .chain(["manifest.json"])
        .collect();
    let io = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    let mut removed = false;
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let ours = name.ends_with(".parquet") || name.ends_with(".tmp");
        // A trace-id filter file goes with its spans file (`spans_logs/spans/trace_filter.rs`),
        // and so does a summary with its spans or logs file (`spans_logs/*/summary`).
        let orphan_filter = name
            .strip_suffix(".tid")
            .or_else(|| name.strip_suffix(".sum"))
            .is_some_and(|stem| !keep.contains(format!("{stem}.parquet").as_str()));
        if (ours && !keep.contains(name)) || orphan_filter {
            std::fs::remove_file(e.path()).map_err(io)?;
            removed = true;
        }
    }
    if removed {
        crate::storage::fs::sync_dir(dir)?;
    }
    Ok(())
}
