//! Compaction: merging the file sets of a partition into one sorted, deduplicated set.
//!
//! A partition gains one file set per flush that had samples for it. Once it is closed (its
//! end is more than the out-of-order window ago, so writes to it have all but stopped),
//! compaction merges its sets: series tables united, samples merged by (series_id, ts) in
//! one streaming pass that holds one batch per input and one output batch, duplicates of
//! a (series, ts) dropped keeping the first written (the oldest flush), as reads do.
//!
//! The merged set is written under new names, then the manifest is replaced to list it
//! instead of its inputs (write-temp, fsync, rename, fsync directory): that rename is the
//! commit. A crash before it leaves unlisted files, deleted on open; after it, the inputs
//! are unlisted and deleted on open. In a running engine the inputs are retired and their
//! files deleted once no query holds them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use arrow::array::{Float64Array, TimestampMillisecondArray, UInt64Array};
use arrow::record_batch::RecordBatch;

use crate::model::series::SeriesId;
use crate::storage::parquet_io::{self, bad, column};
use crate::storage::partition::FileMap;
use crate::storage::partition::PartFile;
use crate::{Error, Result, TenantId};

/// Rows per output batch.
const OUT_BATCH: usize = 64 * 1024;

/// What a compaction pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactStats {
    /// Partitions compacted.
    pub partitions: usize,
    /// File sets merged away (inputs).
    pub file_sets_in: usize,
    /// Sample rows read, and written (fewer by the duplicates dropped).
    pub rows_in: u64,
    /// Sample rows written.
    pub rows_out: u64,
    /// Native histogram rows read (`histograms-<B>.parquet`).
    pub histogram_rows_in: u64,
    /// Native histogram rows written (fewer by the duplicates dropped).
    pub histogram_rows_out: u64,
    /// Bytes of the inputs, and of the outputs.
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Of the partitions compacted, those written in the cold layout.
    pub cold_partitions: usize,
}

/// Which partitions a pass compacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Partitions whose end is more than the out-of-order window ago.
    Closed,
    /// Every partition with more than one file set.
    All,
}

/// One input's read position.
struct Cursor {
    batches: Box<dyn Iterator<Item = Result<RecordBatch>>>,
    path: PathBuf,
    ids: UInt64Array,
    ts: TimestampMillisecondArray,
    values: Float64Array,
    pos: usize,
}

impl Cursor {
    fn open(path: PathBuf) -> Result<Self> {
        let iter = OwnedBatches::new(path.clone())?;
        let mut c = Self {
            batches: Box::new(iter),
            path,
            ids: UInt64Array::from(Vec::<u64>::new()),
            ts: TimestampMillisecondArray::from(Vec::<i64>::new()),
            values: Float64Array::from(Vec::<f64>::new()),
            pos: 0,
        };
        c.refill()?;
        Ok(c)
    }

    /// Loads the next non-empty batch; false at the end.
    fn refill(&mut self) -> Result<bool> {
        while self.pos >= self.ids.len() {
            let Some(batch) = self.batches.next() else {
                return Ok(false);
            };
            let batch = batch?;
            self.ids = column::<UInt64Array>(&batch, 0, &self.path)?.clone();
            self.ts = column::<TimestampMillisecondArray>(&batch, 1, &self.path)?.clone();
            self.values = column::<Float64Array>(&batch, 2, &self.path)?.clone();
            self.pos = 0;
        }
        Ok(true)
    }

    fn key(&self) -> (SeriesId, i64) {
        (self.ids.value(self.pos), self.ts.value(self.pos))
    }
}

/// Record batches of a Parquet file, owning the file.
struct OwnedBatches {
    reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    path: PathBuf,
}

impl OwnedBatches {
    fn new(path: PathBuf) -> Result<Self> {
        let file = std::fs::File::open(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.with_batch_size(8192).build())
            .map_err(|e| bad(&path, e))?;
        Ok(Self { reader, path })
    }
}

impl Iterator for OwnedBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.reader
            .next()
            .map(|b| b.map_err(|e| bad(&self.path, e)))
    }
}

/// Where a compaction's output goes: the signal's file sets, the tenant, the partition.
pub(crate) type Target<'a> = (&'a RwLock<FileMap>, TenantId, PathBuf);

/// Streams the samples of the files at `inputs`, merged by (series_id, ts) with duplicates
/// dropped (the earliest input wins), to `each(series_id, ts, value, input)`, holding one
/// batch per input. Returns the rows read.
pub(crate) fn merged(
    inputs: &[PathBuf],
    mut each: impl FnMut(SeriesId, i64, f64, usize) -> Result<()>,
) -> Result<u64> {
    let mut cursors = Vec::with_capacity(inputs.len());
    for path in inputs {
        cursors.push(Cursor::open(path.clone())?);
    }
    // Min-heap on (series_id, ts, input order): ties go to the oldest input first.
    let mut heap = BinaryHeap::new();
    for (i, c) in cursors.iter().enumerate() {
        if c.pos < c.ids.len() {
            let (id, ts) = c.key();
            heap.push(Reverse((id, ts, i)));
        }
    }
    let mut rows_in = 0u64;
    let mut last: Option<(SeriesId, i64)> = None;
    while let Some(Reverse((id, ts, i))) = heap.pop() {
        let c = &mut cursors[i];
        rows_in += 1;
        if last != Some((id, ts)) {
            each(id, ts, c.values.value(c.pos), i)?;
            last = Some((id, ts));
        }
        c.pos += 1;
        if c.refill()? {
            let (id, ts) = c.key();
            heap.push(Reverse((id, ts, i)));
        }
    }
    Ok(rows_in)
}

/// Streams the inputs' samples, merged by (series_id, ts) with duplicates dropped (the
/// earliest input wins), into a new samples file at `out` in layout `by`, leaving out the winning
/// samples for which `skip(series_id, ts, input)` holds (a native histogram of an older
/// input takes that place). Returns (rows read, rows written, min ts, max ts, bytes).
pub(crate) fn merge_samples(
    inputs: &[Arc<PartFile>],
    out: &Path,
    by: parquet_io::WrittenBy,
    mut skip: impl FnMut(SeriesId, i64, usize) -> Result<bool>,
) -> Result<(u64, u64, i64, i64, u64)> {
    let paths: Vec<PathBuf> = inputs.iter().map(|f| f.samples_path()).collect();
    let mut writer = parquet_io::samples_writer(out, by)?;
    let (mut ids, mut tss, mut values) = (Vec::new(), Vec::new(), Vec::new());
    let mut rows_out = 0u64;
    let (mut min_ts, mut max_ts) = (i64::MAX, i64::MIN);
    let rows_in = merged(&paths, |id, ts, value, i| {
        if skip(id, ts, i)? {
            return Ok(());
        }
        ids.push(id);
        tss.push(ts);
        values.push(value);
        min_ts = min_ts.min(ts);
        max_ts = max_ts.max(ts);
        rows_out += 1;
        if ids.len() >= OUT_BATCH {
            let batch = parquet_io::samples_batch(
                std::mem::take(&mut ids),
                std::mem::take(&mut tss),
                std::mem::take(&mut values),
                out,
            )?;
            writer.write(&batch)?;
        }
        Ok(())
    })?;
    if !ids.is_empty() {
        writer.write(&parquet_io::samples_batch(ids, tss, values, out)?)?;
    }
    let bytes = writer.finish()?;
    Ok((rows_in, rows_out, min_ts, max_ts, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::Core;
    use crate::metrics::scan::{self, ScanStats};
    use crate::storage::partition::PARTITION_MS;
    use crate::storage::partition::partition_start;
    use crate::{EngineConfig, Sample, SeriesSamples, SystemClock};

    #[test]
    fn a_reader_holding_retired_sets_keeps_reading_them_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::open(dir.path(), EngineConfig::default(), SystemClock).unwrap();
        let t = TenantId::new("t").unwrap();
        let hour = partition_start(crate::Clock::now_ms(&SystemClock) - 2 * PARTITION_MS);
        for k in 0..2 {
            let s = SeriesSamples {
                labels: vec![("__name__".into(), "up".into())],
                samples: vec![Sample {
                    ts: hour + k,
                    value: 1.0,
                }],
            };
            core.write(&t, &[s]).unwrap();
            core.flush_until(crate::FlushStop::Never).unwrap();
        }
        // A query in flight: it took its snapshot of the sets before compaction.
        let held = core.metrics.file_sets(&t, hour, hour + 10);
        assert_eq!(held.len(), 2);
        let stats = core.compact(Scope::All).unwrap();
        assert_eq!(stats.partitions, 1);
        assert_eq!(core.metrics.file_sets(&t, hour, hour + 10).len(), 1);
        let ids = parquet_io::read_series_ids(&held[0].series_path()).unwrap();
        for f in &held {
            let mut n = 0;
            scan::read_samples(
                &f.samples_path(),
                &ids,
                hour,
                hour + 10,
                &mut ScanStats::default(),
                |_, _| n += 1,
            )
            .unwrap();
            assert_eq!(n, 1, "a retired set is still readable while held");
        }
        let paths: Vec<PathBuf> = held.iter().map(|f| f.samples_path()).collect();
        drop(held);
        assert!(paths.iter().all(|p| !p.exists()), "deleted once let go");
    }
}
