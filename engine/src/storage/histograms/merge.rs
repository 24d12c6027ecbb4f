//! Rewriting histograms files: compaction's k-way merge of a partition's files into one,
//! and the filtered copy of deletes and retention.
//!
//! Rows are copied column by column (`arrow::compute::interleave_record_batch`,
//! `filter_record_batch`), never decoded into histograms, so neither depends on the
//! columns beyond `series_id` and `ts`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, BooleanArray, RecordBatch, TimestampMillisecondArray, UInt64Array};
use arrow::compute::{filter_record_batch, interleave_record_batch};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::histograms_writer;
use crate::model::series::SeriesId;
use crate::storage::parquet_io::{DurableWriter, WrittenBy, bad};
use crate::{Error, Result};

/// Rows per batch read from an input and written to the output.
const BATCH: usize = 4096;

/// What a rewrite wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Rewritten {
    /// Rows read from the inputs.
    pub(crate) rows_in: u64,
    /// Rows written.
    pub(crate) rows_out: u64,
    /// Oldest and newest timestamp written (`i64::MAX`, `i64::MIN` when none).
    pub(crate) min_ts: i64,
    /// Newest timestamp written.
    pub(crate) max_ts: i64,
    /// The output file's size (0 when no row was written and so no file).
    pub(crate) bytes: u64,
}

impl Rewritten {
    fn new() -> Self {
        Self {
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            ..Self::default()
        }
    }
}

/// The output, created at its first row: a rewrite that keeps no row leaves no file.
struct Output<'a> {
    path: &'a Path,
    by: WrittenBy,
    writer: Option<DurableWriter>,
    done: Rewritten,
}

impl<'a> Output<'a> {
    fn new(path: &'a Path, by: WrittenBy) -> Self {
        Self {
            path,
            by,
            writer: None,
            done: Rewritten::new(),
        }
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let ts = ts_of(batch, self.path)?;
        self.done.rows_out += batch.num_rows() as u64;
        for &t in ts.values() {
            self.done.min_ts = self.done.min_ts.min(t);
            self.done.max_ts = self.done.max_ts.max(t);
        }
        let w = match &mut self.writer {
            Some(w) => w,
            None => self.writer.insert(histograms_writer(self.path, self.by)?),
        };
        w.write(batch)
    }

    fn finish(mut self) -> Result<Option<Rewritten>> {
        match self.writer.take() {
            Some(w) => {
                self.done.bytes = w.finish()?;
                Ok(Some(self.done))
            }
            None => Ok(None),
        }
    }
}

fn ids_of<'b>(batch: &'b RecordBatch, path: &Path) -> Result<&'b UInt64Array> {
    batch
        .column_by_name("series_id")
        .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
        .ok_or_else(|| bad(path, "no UInt64 series_id column"))
}

fn ts_of<'b>(batch: &'b RecordBatch, path: &Path) -> Result<&'b TimestampMillisecondArray> {
    batch
        .column_by_name("ts")
        .and_then(|c| c.as_any().downcast_ref::<TimestampMillisecondArray>())
        .ok_or_else(|| bad(path, "no Timestamp(ms) ts column"))
}

fn open(path: &Path) -> Result<ParquetRecordBatchReader> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(BATCH).build())
        .map_err(|e| bad(path, e))
}

/// One input of a merge: its current batch (an index into the merge's batch pool), its
/// keys, and its position.
struct Cursor {
    reader: ParquetRecordBatchReader,
    path: PathBuf,
    batch: RecordBatch,
    pool: usize,
    ids: UInt64Array,
    ts: TimestampMillisecondArray,
    pos: usize,
}

impl Cursor {
    /// Loads the next non-empty batch, adding it to `pool`; false at the end.
    fn refill(&mut self, pool: &mut Vec<RecordBatch>) -> Result<bool> {
        while self.pos >= self.ids.len() {
            let Some(batch) = self.reader.next() else {
                return Ok(false);
            };
            let batch = batch.map_err(|e| bad(&self.path, e))?;
            self.ids = ids_of(&batch, &self.path)?.clone();
            self.ts = ts_of(&batch, &self.path)?.clone();
            self.pos = 0;
            self.pool = pool.len();
            pool.push(batch.clone());
            self.batch = batch;
        }
        Ok(true)
    }

    fn key(&self) -> (SeriesId, i64) {
        (self.ids.value(self.pos), self.ts.value(self.pos))
    }
}

/// Merges histograms files `inputs` (one partition's, **oldest flush first**) into one
/// file at `out`, sorted by (series_id, ts). Of rows with the same (series_id, ts) the
/// first in input order is kept (the oldest flush's), as samples compaction
/// (`metrics/compact.rs::merge_samples`) and reads do. Streams: holds one batch per input
/// and the rows of one output batch. `None` (and no file) if the inputs hold no row.
pub(crate) fn merge_files(
    inputs: &[PathBuf],
    out: &Path,
    by: WrittenBy,
) -> Result<Option<Rewritten>> {
    let mut pool: Vec<RecordBatch> = Vec::new();
    let mut cursors = Vec::with_capacity(inputs.len());
    let mut heap = BinaryHeap::new();
    for (i, path) in inputs.iter().enumerate() {
        let mut c = Cursor {
            reader: open(path)?,
            path: path.clone(),
            batch: RecordBatch::new_empty(super::histograms_schema()),
            pool: 0,
            ids: UInt64Array::from(Vec::<u64>::new()),
            ts: TimestampMillisecondArray::from(Vec::<i64>::new()),
            pos: 0,
        };
        if c.refill(&mut pool)? {
            let (id, ts) = c.key();
            // Min-heap on (series_id, ts, input order): ties go to the oldest input first.
            heap.push(Reverse((id, ts, i)));
        }
        cursors.push(c);
    }
    let mut output = Output::new(out, by);
    let mut picks: Vec<(usize, usize)> = Vec::with_capacity(BATCH);
    let mut last: Option<(SeriesId, i64)> = None;
    let mut rows_in = 0u64;
    while let Some(Reverse((id, ts, i))) = heap.pop() {
        rows_in += 1;
        let c = &mut cursors[i];
        if last != Some((id, ts)) {
            picks.push((c.pool, c.pos));
            last = Some((id, ts));
        }
        c.pos += 1;
        if picks.len() >= BATCH {
            flush_picks(&mut output, &mut pool, &mut picks, &mut cursors)?;
        }
        let c = &mut cursors[i];
        if c.refill(&mut pool)? {
            let (id, ts) = c.key();
            heap.push(Reverse((id, ts, i)));
        }
    }
    flush_picks(&mut output, &mut pool, &mut picks, &mut cursors)?;
    let mut done = output.finish()?;
    if let Some(d) = &mut done {
        d.rows_in = rows_in;
    }
    Ok(done)
}

/// Writes the picked rows (pool batch, row) as one batch, then starts a new pool holding
/// only the inputs' current batches.
fn flush_picks(
    output: &mut Output<'_>,
    pool: &mut Vec<RecordBatch>,
    picks: &mut Vec<(usize, usize)>,
    cursors: &mut [Cursor],
) -> Result<()> {
    if !picks.is_empty() {
        let refs: Vec<&RecordBatch> = pool.iter().collect();
        let batch = interleave_record_batch(&refs, picks).map_err(|e| bad(output.path, e))?;
        output.write(&batch)?;
        picks.clear();
    }
    pool.clear();
    for c in cursors.iter_mut() {
        c.pool = pool.len();
        pool.push(c.batch.clone());
    }
    Ok(())
}

/// Copies the rows of histograms file `input` for which `keep(series_id, ts)` holds into
/// a new file at `out` (a delete's or retention's rewrite), in the same order. `None` (and
/// no file) if no row is kept.
pub(crate) fn rewrite_file(
    input: &Path,
    out: &Path,
    by: WrittenBy,
    mut keep: impl FnMut(SeriesId, i64) -> bool,
) -> Result<Option<Rewritten>> {
    let mut output = Output::new(out, by);
    let mut rows_in = 0u64;
    for batch in open(input)? {
        let batch = batch.map_err(|e| bad(input, e))?;
        rows_in += batch.num_rows() as u64;
        let (ids, ts) = (ids_of(&batch, input)?, ts_of(&batch, input)?);
        let mask: BooleanArray = ids
            .values()
            .iter()
            .zip(ts.values())
            .map(|(&id, &t)| Some(keep(id, t)))
            .collect();
        let kept = filter_record_batch(&batch, &mask).map_err(|e| bad(input, e))?;
        output.write(&kept)?;
    }
    let mut done = output.finish()?;
    if let Some(d) = &mut done {
        d.rows_in = rows_in;
    }
    Ok(done)
}
