//! Rewriting histograms and bucket files: compaction's k-way merge of a partition's files
//! into one of each, and the filtered copy of deletes.
//!
//! Rows are copied column by column (`arrow::compute::interleave_record_batch`,
//! `filter_record_batch`), never decoded into histograms, so neither depends on the
//! columns beyond the sort keys (`series_id`, `ts`; the bucket file's `negative`,
//! `bucket`) and the histograms file's lists, which are read full and written with their
//! repeats nulled again ([`super::repeat`]). The merge of the histograms files decides which input wins each (series,
//! ts); the merge of the bucket files keeps a bucket row only from that input (a resent
//! sample may have other buckets).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{
    Array, BooleanArray, Int32Array, RecordBatch, TimestampMillisecondArray, UInt64Array,
};
use arrow::compute::{filter_record_batch, interleave_record_batch};
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::repeat::{Compact, Expand};
use super::{buckets_schema, buckets_writer, histograms_schema, histograms_writer};
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

/// Makes a writer of one of the two files.
type Create = fn(&Path, WrittenBy) -> Result<DurableWriter>;

/// The sort key of a row: (series_id, negative, bucket, ts); a histograms file's rows
/// have `false, 0`.
type Key = (SeriesId, bool, i32, i64);

/// The output, created at its first row: a rewrite that keeps no row leaves no file.
struct Output<'a> {
    path: &'a Path,
    by: WrittenBy,
    create: Create,
    writer: Option<DurableWriter>,
    /// A histograms file's: its repeats nulled as they are written.
    compact: Option<Compact>,
    done: Rewritten,
}

impl<'a> Output<'a> {
    /// An output of full rows (`lists`: a histograms file, whose repeats are nulled).
    fn new(path: &'a Path, by: WrittenBy, create: Create, lists: bool) -> Self {
        Self {
            path,
            by,
            create,
            writer: None,
            compact: lists.then(Compact::default),
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
            None => self.writer.insert((self.create)(self.path, self.by)?),
        };
        match &mut self.compact {
            Some(c) => w.write(&c.batch(batch, self.path)?),
            None => w.write(batch),
        }
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

/// Whether files of `schema` are histograms files (with the list columns a row may repeat,
/// [`super::repeat`]).
fn has_lists(schema: &SchemaRef) -> bool {
    schema.column_with_name("positive_spans").is_some()
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
    /// A histograms file's: its rows read full.
    expand: Option<Expand>,
    path: PathBuf,
    batch: RecordBatch,
    pool: usize,
    ids: UInt64Array,
    ts: TimestampMillisecondArray,
    /// The bucket file's `negative` and `bucket` (`None` for a histograms file).
    side: Option<(BooleanArray, Int32Array)>,
    pos: usize,
}

impl Cursor {
    fn new(path: &Path, schema: SchemaRef) -> Result<Self> {
        let lists = has_lists(&schema);
        Ok(Self {
            reader: open(path)?,
            expand: lists.then(Expand::default),
            path: path.to_owned(),
            batch: RecordBatch::new_empty(schema),
            pool: 0,
            ids: UInt64Array::from(Vec::<u64>::new()),
            ts: TimestampMillisecondArray::from(Vec::<i64>::new()),
            side: None,
            pos: 0,
        })
    }

    /// Loads the next non-empty batch, adding it to `pool`; false at the end.
    fn refill(&mut self, pool: &mut Vec<RecordBatch>) -> Result<bool> {
        while self.pos >= self.ids.len() {
            let Some(batch) = self.reader.next() else {
                return Ok(false);
            };
            let mut batch = batch.map_err(|e| bad(&self.path, e))?;
            if let Some(x) = &mut self.expand {
                batch = x.batch(&batch, &self.path)?;
            }
            self.ids = ids_of(&batch, &self.path)?.clone();
            self.ts = ts_of(&batch, &self.path)?.clone();
            self.side = match batch.column_by_name("bucket") {
                None => None,
                Some(b) => {
                    let neg = batch
                        .column_by_name("negative")
                        .and_then(|c| c.as_any().downcast_ref::<BooleanArray>());
                    let b = b.as_any().downcast_ref::<Int32Array>();
                    let (Some(neg), Some(b)) = (neg, b) else {
                        return Err(bad(&self.path, "mistyped negative or bucket column"));
                    };
                    Some((neg.clone(), b.clone()))
                }
            };
            self.pos = 0;
            self.pool = pool.len();
            pool.push(batch.clone());
            self.batch = batch;
        }
        Ok(true)
    }

    fn key(&self) -> Key {
        let (id, ts) = (self.ids.value(self.pos), self.ts.value(self.pos));
        match &self.side {
            Some((neg, b)) => (id, neg.value(self.pos), b.value(self.pos), ts),
            None => (id, false, 0, ts),
        }
    }
}

/// One set's files, as inputs of a merge or rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Input {
    /// Its histograms file.
    pub(crate) histograms: PathBuf,
    /// Its bucket file, if it has one.
    pub(crate) buckets: Option<PathBuf>,
}

/// What a merge or rewrite of both files wrote: `None` for a file left out (no row).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Done {
    /// The histograms file.
    pub(crate) histograms: Option<Rewritten>,
    /// The bucket file.
    pub(crate) buckets: Option<Rewritten>,
}

/// Merges the files of `inputs` (one partition's sets, **oldest flush first**) into one
/// histograms file at `out` and one bucket file at `out_buckets`, each in its sort order.
/// Of histograms rows with the same (series_id, ts) the first in input order is kept (the
/// oldest flush's), as samples compaction (`metrics/compact.rs::merge_samples`) and reads
/// do; of the bucket rows of such a (series_id, ts), only the winning input's. Streams:
/// holds one batch per input, the rows of one output batch, and the (series_id, ts) keys
/// found more than once with their winner.
pub(crate) fn merge_files(
    inputs: &[Input],
    out: &Path,
    out_buckets: &Path,
    by: WrittenBy,
) -> Result<Done> {
    merge_files_except(inputs, out, out_buckets, by, |_, _| false)
}

/// [`merge_files`], leaving out every (series_id, ts) `skip` names (in both files):
/// compaction's histograms that lose to an older set's float.
pub(crate) fn merge_files_except(
    inputs: &[Input],
    out: &Path,
    out_buckets: &Path,
    by: WrittenBy,
    mut skip: impl FnMut(SeriesId, i64) -> bool,
) -> Result<Done> {
    let hist: Vec<(usize, &Path)> = inputs
        .iter()
        .enumerate()
        .map(|(i, f)| (i, f.histograms.as_path()))
        .collect();
    let mut winners: HashMap<(SeriesId, i64), usize> = HashMap::new();
    let mut last: Option<((SeriesId, i64), usize)> = None;
    let histograms = merge(
        &hist,
        out,
        by,
        histograms_writer,
        histograms_schema(),
        |k, i| {
            let key = (k.0, k.3);
            match last {
                Some((lk, w)) if lk == key => {
                    winners.insert(key, w);
                    false
                }
                _ => {
                    last = Some((key, i));
                    !skip(k.0, k.3)
                }
            }
        },
    )?;
    let bucket_inputs: Vec<(usize, &Path)> = inputs
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.buckets.as_deref().map(|b| (i, b)))
        .collect();
    let mut last: Option<Key> = None;
    let buckets = merge(
        &bucket_inputs,
        out_buckets,
        by,
        buckets_writer,
        buckets_schema(),
        |k, i| {
            let keep = last != Some(k)
                && winners.get(&(k.0, k.3)).is_none_or(|&w| w == i)
                && !skip(k.0, k.3);
            if keep {
                last = Some(k);
            }
            keep
        },
    )?;
    Ok(Done {
        histograms,
        buckets,
    })
}

/// Merges files `inputs` (input number, path; in input order) of one kind into `out` in
/// key order, keeping the rows `keep(key, input number)` accepts (called in key order,
/// ties in input order). `None` (and no file) if no row is kept.
fn merge(
    inputs: &[(usize, &Path)],
    out: &Path,
    by: WrittenBy,
    create: Create,
    schema: SchemaRef,
    mut keep: impl FnMut(Key, usize) -> bool,
) -> Result<Option<Rewritten>> {
    let mut pool: Vec<RecordBatch> = Vec::new();
    let mut cursors = Vec::with_capacity(inputs.len());
    let mut heap = BinaryHeap::new();
    for (c_i, &(_, path)) in inputs.iter().enumerate() {
        let mut c = Cursor::new(path, schema.clone())?;
        if c.refill(&mut pool)? {
            // Min-heap on (key, input order): ties go to the oldest input first.
            heap.push(Reverse((c.key(), c_i)));
        }
        cursors.push(c);
    }
    let mut output = Output::new(out, by, create, has_lists(&schema));
    let mut picks: Vec<(usize, usize)> = Vec::with_capacity(BATCH);
    let mut rows_in = 0u64;
    while let Some(Reverse((key, c_i))) = heap.pop() {
        rows_in += 1;
        let c = &mut cursors[c_i];
        if keep(key, inputs[c_i].0) {
            picks.push((c.pool, c.pos));
        }
        c.pos += 1;
        if picks.len() >= BATCH {
            flush_picks(&mut output, &mut pool, &mut picks, &mut cursors)?;
        }
        let c = &mut cursors[c_i];
        if c.refill(&mut pool)? {
            heap.push(Reverse((c.key(), c_i)));
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

/// Copies the rows of `input`'s files for which `keep(series_id, ts)` holds into new
/// files at `out` and `out_buckets` (a delete's rewrite), in the same
/// order: the same predicate on both files. A file that keeps no row is not written.
pub(crate) fn rewrite_files(
    input: &Input,
    out: &Path,
    out_buckets: &Path,
    by: WrittenBy,
    mut keep: impl FnMut(SeriesId, i64) -> bool,
) -> Result<Done> {
    let histograms = rewrite(
        &input.histograms,
        out,
        by,
        histograms_writer,
        true,
        &mut keep,
    )?;
    let buckets = match &input.buckets {
        Some(b) => rewrite(b, out_buckets, by, buckets_writer, false, &mut keep)?,
        None => None,
    };
    Ok(Done {
        histograms,
        buckets,
    })
}

/// Copies the rows of `input` (`lists`: a histograms file) for which `keep(series_id,
/// ts)` holds into `out`. `None` (and no file) if no row is kept.
fn rewrite(
    input: &Path,
    out: &Path,
    by: WrittenBy,
    create: Create,
    lists: bool,
    keep: &mut impl FnMut(SeriesId, i64) -> bool,
) -> Result<Option<Rewritten>> {
    let mut output = Output::new(out, by, create, lists);
    let mut expand = lists.then(Expand::default);
    let mut rows_in = 0u64;
    for batch in open(input)? {
        let mut batch = batch.map_err(|e| bad(input, e))?;
        if let Some(x) = &mut expand {
            batch = x.batch(&batch, input)?;
        }
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
