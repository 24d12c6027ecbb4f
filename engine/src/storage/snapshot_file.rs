//! A committed file held for a reader: the file stays on disk while the holder keeps it, even if compaction or retention retires its set.

use std::path::PathBuf;
use std::sync::Arc;

use crate::storage::partition::PartFile;
use crate::{Error, Result};

/// One committed samples file of a [`crate::Snapshot`]. Holding it keeps the file on disk even if
/// compaction or retention retires its set meanwhile.
#[derive(Debug, Clone)]
pub struct SnapshotFile {
    pub(crate) part: Arc<PartFile>,
    samples_bytes: u64,
}

impl SnapshotFile {
    /// Holds `part`, its data file fetched from the bucket first if it is one's.
    pub(crate) fn new(part: Arc<PartFile>) -> Result<Self> {
        part.ensure_data()?;
        let path = part.samples_path();
        let samples_bytes = std::fs::metadata(&path)
            .map_err(|source| Error::Io { path, source })?
            .len();
        Ok(Self {
            part,
            samples_bytes,
        })
    }

    /// Holds `part` without fetching its data file when it is a bucket's (its size is
    /// known): the holder reads it through the bucket, or calls [`Self::ensure_local`].
    pub(crate) fn deferred(part: Arc<PartFile>) -> Result<Self> {
        match part.known_data_len() {
            Some(samples_bytes) => Ok(Self {
                part,
                samples_bytes,
            }),
            None => Self::new(part),
        }
    }

    /// Makes sure the data file is at [`Self::path`] (fetched into the cache if it is a
    /// bucket's) while `self` is held. Needed before reading the path of a file of a
    /// snapshot taken with deferred fetches (`Engine::*_deferred`).
    pub fn ensure_local(&self) -> Result<()> {
        self.part.ensure_data()
    }

    /// Whether the file is a bucket's: its bytes are read through the bucket's key, not at
    /// a path known to be on the local disk.
    pub fn in_bucket(&self) -> bool {
        self.part.is_remote()
    }

    /// Path of the data file: the samples file of a metrics [`crate::Snapshot`], the spans or logs
    /// file of a [`crate::SignalSnapshot`].
    pub fn path(&self) -> PathBuf {
        self.part.samples_path()
    }

    /// Path of the samples file (sorted by series id then timestamp, with page statistics
    /// and the page index; schema [`crate::samples_schema`]).
    pub fn samples_path(&self) -> PathBuf {
        self.part.samples_path()
    }

    /// Path of the set's native histograms file (`histograms-<B>.parquet`: one row per
    /// histogram sample, sorted by series id then timestamp), if the set has one.
    pub fn histograms_path(&self) -> Option<PathBuf> {
        self.part.histograms_path()
    }

    /// Every row of the set's histograms file (none without one) as batches of
    /// [`crate::histograms_schema`], in file order: rows whose spans and custom bounds the
    /// file stores once for a run of them (`docs/formats/partitions.md`) are given them.
    pub fn histogram_rows_full(&self) -> Result<Vec<arrow::array::RecordBatch>> {
        match self.part.histograms_path() {
            Some(p) => crate::storage::histograms::repeat::read_full(&p),
            None => Ok(Vec::new()),
        }
    }

    /// Path of the set's bucket file (`histogram_buckets-<B>.parquet`: one row per bucket
    /// of every histogram sample), if the set has one.
    pub fn histogram_buckets_path(&self) -> Option<PathBuf> {
        self.part.histogram_buckets_path()
    }

    /// Native histogram samples in the set's histograms file.
    pub fn histogram_rows(&self) -> u64 {
        self.part.entry.histogram_rows
    }

    /// Size of the data file in bytes.
    pub fn samples_bytes(&self) -> u64 {
        self.samples_bytes
    }

    /// Oldest timestamp (ms; for spans and logs, the ms at or before the oldest record's
    /// time) in the file.
    pub fn min_ts(&self) -> i64 {
        self.part.entry.min_ts
    }

    /// Newest timestamp (ms; for spans and logs, the ms at or after the newest record's
    /// time) in the file.
    pub fn max_ts(&self) -> i64 {
        self.part.entry.max_ts
    }

    /// Rows (samples, spans or log records) in the file.
    pub fn rows(&self) -> u64 {
        self.part.entry.rows
    }
}
