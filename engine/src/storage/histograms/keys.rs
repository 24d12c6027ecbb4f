//! The (series_id, ts) keys of several histograms files in merged order, each with the
//! first input that holds it: what compaction checks the floats against, so that a float
//! and a histogram at one (series, ts) in different sets keep only the oldest set's
//! (`lifecycle/compact.rs`). Reads only the two key columns.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, TimestampMillisecondArray, UInt64Array};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::model::series::SeriesId;
use crate::storage::parquet_io::bad;
use crate::{Error, Result};

/// Rows per batch read.
const BATCH: usize = 8192;

/// One file's keys.
struct Keys {
    reader: ParquetRecordBatchReader,
    path: PathBuf,
    ids: Vec<u64>,
    ts: Vec<i64>,
    pos: usize,
}

impl Keys {
    fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let b = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(path, e))?;
        let mask = ProjectionMask::roots(b.parquet_schema(), [0, 1]);
        let reader = b
            .with_projection(mask)
            .with_batch_size(BATCH)
            .build()
            .map_err(|e| bad(path, e))?;
        Ok(Self {
            reader,
            path: path.to_owned(),
            ids: Vec::new(),
            ts: Vec::new(),
            pos: 0,
        })
    }

    /// The current key, loading the next batch when needed; `None` at the end.
    fn current(&mut self) -> Result<Option<(SeriesId, i64)>> {
        while self.pos >= self.ids.len() {
            let Some(batch) = self.reader.next() else {
                return Ok(None);
            };
            let batch = batch.map_err(|e| bad(&self.path, e))?;
            let ids = batch
                .column(0)
                .as_any()
                .downcast_ref::<UInt64Array>()
                .ok_or_else(|| bad(&self.path, "no UInt64 series_id column"))?;
            let ts = batch
                .column(1)
                .as_any()
                .downcast_ref::<TimestampMillisecondArray>()
                .ok_or_else(|| bad(&self.path, "no Timestamp(ms) ts column"))?;
            self.ids = ids.values().to_vec();
            self.ts = ts.values().to_vec();
            self.pos = 0;
        }
        Ok(Some((self.ids[self.pos], self.ts[self.pos])))
    }
}

/// The merged keys of several histograms files, walked forward by [`MergedKeys::seek`].
pub(crate) struct MergedKeys {
    files: Vec<(usize, Keys)>,
    /// (key, position in `files`): ties go to the first input.
    heap: BinaryHeap<Reverse<((SeriesId, i64), usize)>>,
}

impl MergedKeys {
    /// Opens the histograms files `inputs` (input number, path; in input order).
    pub(crate) fn open(inputs: &[(usize, &Path)]) -> Result<Self> {
        let mut files = Vec::with_capacity(inputs.len());
        let mut heap = BinaryHeap::new();
        for (k, &(input, path)) in inputs.iter().enumerate() {
            let mut keys = Keys::open(path)?;
            if let Some(key) = keys.current()? {
                heap.push(Reverse((key, k)));
            }
            files.push((input, keys));
        }
        Ok(Self { files, heap })
    }

    /// Moves past every key below `key` (keys must be asked in ascending order) and returns
    /// the first input number holding `key`, if any does.
    pub(crate) fn seek(&mut self, key: (SeriesId, i64)) -> Result<Option<usize>> {
        while let Some(&Reverse((k, f))) = self.heap.peek() {
            if k >= key {
                return Ok((k == key).then_some(self.files[f].0));
            }
            self.heap.pop();
            let keys = &mut self.files[f].1;
            keys.pos += 1;
            if let Some(next) = keys.current()? {
                self.heap.push(Reverse((next, f)));
            }
        }
        Ok(None)
    }
}
