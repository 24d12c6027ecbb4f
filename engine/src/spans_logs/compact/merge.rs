//! A bounded-memory k-way merge of record-batch streams that are each sorted by the same
//! key columns (ascending), as spans and logs files are (`spans_logs::order::sort_key`).
//!
//! Keys are compared as Arrow rows (`arrow::row`), so the order is exactly the one
//! `lexsort_to_indices` gives (the flush sorts with it). Each input holds one batch at a
//! time; a min-heap holds each input's next key. The merge takes, from the input with the
//! smallest key, every row up to the next input's key in one go (a run: flush files of
//! consecutive flushes hardly overlap, so runs are long), then builds output batches of
//! at most `out_rows` rows with `interleave_record_batch`. Ties go to the earlier input
//! (the older flush). Rows held at any time: the current batch of every input, the
//! batches an output batch still draws from, and the output batch: O(inputs × batch +
//! out_rows), never the whole partition. [`MergeStats::peak_rows_held`] reports it.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::path::Path;

use arrow::array::ArrayRef;
use arrow::compute::{SortColumn, interleave_record_batch, lexsort_to_indices, take_record_batch};
use arrow::record_batch::RecordBatch;
use arrow::row::{OwnedRow, RowConverter, Rows, SortField};

use crate::Result;
use crate::storage::parquet_io::bad;

/// A stream of record batches of one input.
pub(crate) type BatchStream = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

/// What a merge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MergeStats {
    /// Rows written.
    pub(crate) rows: u64,
    /// The most rows held in memory at once (input batches plus the output being built).
    pub(crate) peak_rows_held: usize,
}

/// One input's position: its current batch (by slot in the batches the output draws
/// from), the batch's keys as rows, and the next row.
struct Cursor {
    stream: BatchStream,
    slot: usize,
    rows: Rows,
    pos: usize,
    /// The key of the last row taken, to check the input's order across batches.
    last: Option<OwnedRow>,
}

/// The merge state: inputs, their next keys, the batches the pending output draws from.
struct Merger<'a> {
    key: &'a [&'a str],
    conv: RowConverter,
    cursors: Vec<Option<Cursor>>,
    heap: BinaryHeap<Reverse<(OwnedRow, usize)>>,
    /// Batches the pending output rows come from (and every input's current batch).
    live: Vec<RecordBatch>,
    /// Pending output rows: (slot in `live`, row).
    picks: Vec<(usize, usize)>,
    stats: MergeStats,
    /// Names the output in errors.
    out: &'a Path,
}

/// Merges `inputs` (each sorted ascending by the `key` columns) into batches of at most
/// `out_rows` rows, sorted by `key`, given to `sink` in order. An input found out of order
/// is an error. Inputs are listed oldest first: equal keys keep that order.
pub(crate) fn merge_sorted(
    inputs: Vec<BatchStream>,
    key: &[&str],
    out_rows: usize,
    out: &Path,
    mut sink: impl FnMut(RecordBatch) -> Result<()>,
) -> Result<MergeStats> {
    let out_rows = out_rows.max(1);
    // Every input's first non-empty batch; the first of all gives the key's types (all
    // inputs share the schema).
    let mut firsts = Vec::with_capacity(inputs.len());
    for mut stream in inputs {
        let first = next_non_empty(&mut stream)?;
        firsts.push((stream, first));
    }
    let Some(sample) = firsts.iter().find_map(|f| f.1.as_ref()) else {
        return Ok(MergeStats::default());
    };
    let mut m = Merger::new(key, sample, out)?;
    m.cursors = firsts.iter().map(|_| None).collect();
    for (i, (stream, first)) in firsts.into_iter().enumerate() {
        if let Some(b) = first {
            m.start(i, stream, b)?;
        }
    }
    while let Some(Reverse((_, i))) = m.heap.pop() {
        let bound = m.heap.peek().map(|Reverse((k, j))| (k.clone(), *j));
        m.take_run(i, bound, out_rows, &mut sink)?;
    }
    m.emit(&mut sink)?;
    Ok(m.stats)
}

/// The next batch of `stream` with rows, if any.
fn next_non_empty(stream: &mut BatchStream) -> Result<Option<RecordBatch>> {
    for b in stream.by_ref() {
        let b = b?;
        if b.num_rows() > 0 {
            return Ok(Some(b));
        }
    }
    Ok(None)
}

impl<'a> Merger<'a> {
    fn new(key: &'a [&'a str], sample: &RecordBatch, out: &'a Path) -> Result<Self> {
        let fields = key
            .iter()
            .map(|name| {
                sample
                    .column_by_name(name)
                    .map(|c| SortField::new(c.data_type().clone()))
                    .ok_or_else(|| bad(out, format!("an input has no sort column {name}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            key,
            conv: RowConverter::new(fields).map_err(|e| bad(out, e))?,
            cursors: Vec::new(),
            heap: BinaryHeap::new(),
            live: Vec::new(),
            picks: Vec::new(),
            stats: MergeStats::default(),
            out,
        })
    }

    /// The key columns of `batch` as rows.
    fn rows_of(&self, batch: &RecordBatch) -> Result<Rows> {
        let cols = self
            .key
            .iter()
            .map(|name| {
                batch
                    .column_by_name(name)
                    .cloned()
                    .ok_or_else(|| bad(self.out, format!("an input has no sort column {name}")))
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        self.conv
            .convert_columns(&cols)
            .map_err(|e| bad(self.out, e))
    }

    /// Makes `batch` live, returning its slot.
    fn hold(&mut self, batch: RecordBatch) -> usize {
        self.live.push(batch);
        let held = self.live.iter().map(RecordBatch::num_rows).sum::<usize>() + self.picks.len();
        self.stats.peak_rows_held = self.stats.peak_rows_held.max(held);
        self.live.len() - 1
    }

    /// Sets up input `i` with its first batch and queues its first key.
    fn start(&mut self, i: usize, stream: BatchStream, batch: RecordBatch) -> Result<()> {
        let rows = self.rows_of(&batch)?;
        let slot = self.hold(batch);
        self.heap.push(Reverse((rows.row(0).owned(), i)));
        self.cursors[i] = Some(Cursor {
            stream,
            slot,
            rows,
            pos: 0,
            last: None,
        });
        Ok(())
    }

    /// Takes rows of input `i` while they sort before `bound` (the smallest key of the
    /// other inputs, with its input: ties go to the lower input), then queues its next key.
    fn take_run(
        &mut self,
        i: usize,
        bound: Option<(OwnedRow, usize)>,
        out_rows: usize,
        sink: &mut impl FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        loop {
            let Some(c) = self.cursors[i].as_mut() else {
                return Ok(());
            };
            let row = c.rows.row(c.pos);
            if let Some((k, j)) = &bound {
                let after = match row.cmp(&k.row()) {
                    Ordering::Less => false,
                    Ordering::Equal => i > *j,
                    Ordering::Greater => true,
                };
                if after {
                    self.heap.push(Reverse((row.owned(), i)));
                    return Ok(());
                }
            }
            let before = if c.pos > 0 {
                c.rows.row(c.pos - 1) > row
            } else {
                c.last.as_ref().is_some_and(|l| l.row() > row)
            };
            if before {
                return Err(bad(
                    self.out,
                    format!("merge input {i} is not sorted by {:?}", self.key),
                ));
            }
            self.picks.push((c.slot, c.pos));
            c.pos += 1;
            if c.pos == c.rows.num_rows() {
                c.last = Some(c.rows.row(c.pos - 1).owned());
                self.next_batch(i)?;
            }
            if self.picks.len() >= out_rows {
                self.emit(sink)?;
            }
        }
    }

    /// Moves input `i` to its next non-empty batch, or closes it.
    fn next_batch(&mut self, i: usize) -> Result<()> {
        let Some(c) = self.cursors[i].as_mut() else {
            return Ok(());
        };
        let Some(batch) = next_non_empty(&mut c.stream)? else {
            self.cursors[i] = None;
            return Ok(());
        };
        let rows = self.rows_of(&batch)?;
        let slot = self.hold(batch);
        if let Some(c) = self.cursors[i].as_mut() {
            c.rows = rows;
            c.pos = 0;
            c.slot = slot;
        }
        Ok(())
    }

    /// Builds the pending rows into a batch for `sink`, then keeps only the batches the
    /// inputs still read from.
    fn emit(&mut self, sink: &mut impl FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        if !self.picks.is_empty() {
            let batches: Vec<&RecordBatch> = self.live.iter().collect();
            let batch =
                interleave_record_batch(&batches, &self.picks).map_err(|e| bad(self.out, e))?;
            self.stats.rows += batch.num_rows() as u64;
            self.picks.clear();
            sink(batch)?;
        }
        let old = std::mem::take(&mut self.live);
        for c in self.cursors.iter_mut().flatten() {
            self.live.push(old[c.slot].clone());
            c.slot = self.live.len() - 1;
        }
        Ok(())
    }
}

/// `batch` sorted by the `key` columns, ascending (the order [`merge_sorted`] merges in).
pub(crate) fn sort_batch(batch: &RecordBatch, key: &[&str]) -> Result<RecordBatch> {
    let mem = Path::new("<memory>");
    let cols = key
        .iter()
        .map(|name| {
            batch
                .column_by_name(name)
                .map(|c| SortColumn {
                    values: c.clone(),
                    options: None,
                })
                .ok_or_else(|| bad(mem, format!("no sort column {name}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let order = lexsort_to_indices(&cols, None).map_err(|e| bad(mem, e))?;
    take_record_batch(batch, &order).map_err(|e| bad(mem, e))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray, UInt64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use proptest::prelude::*;

    use super::*;

    const KEY: [&str; 2] = ["service_name", "time"];

    /// One input: rows (service, time) sorted, each tagged with a unique id, served in
    /// batches of `batch` rows.
    fn input(mut rows: Vec<(String, i64)>, first_id: u64, batch: usize) -> BatchStream {
        rows.sort();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::UInt64, false),
            Field::new("service_name", DataType::Utf8, false),
            Field::new("time", DataType::Int64, false),
        ]));
        let n = rows.len() as u64;
        let all = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(UInt64Array::from_iter_values(first_id..first_id + n)),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.0))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            ],
        )
        .unwrap();
        let batches: Vec<_> = (0..rows.len())
            .step_by(batch)
            .map(|at| Ok(all.slice(at, batch.min(rows.len() - at))))
            .collect();
        Box::new(batches.into_iter())
    }

    /// Merges `inputs` (rows per input) and returns the ids in output order, the rows of
    /// the expected order (every input's rows stably sorted by key: ties in input order),
    /// and the stats.
    fn merge(
        inputs: &[Vec<(String, i64)>],
        batch: usize,
        out_rows: usize,
    ) -> (Vec<u64>, Vec<u64>, MergeStats) {
        let mut streams = Vec::new();
        let mut want = Vec::new();
        let mut next = 0;
        for rows in inputs {
            let mut sorted = rows.clone();
            sorted.sort();
            for (k, r) in sorted.iter().enumerate() {
                want.push((r.clone(), next + k as u64));
            }
            streams.push(input(rows.clone(), next, batch));
            next += rows.len() as u64;
        }
        want.sort_by(|a, b| a.0.cmp(&b.0));
        let mut got = Vec::new();
        let stats = merge_sorted(streams, &KEY, out_rows, Path::new("out"), |b| {
            assert!(b.num_rows() <= out_rows);
            let ids = b.column(0).as_any().downcast_ref::<UInt64Array>().unwrap();
            got.extend(ids.values().iter().copied());
            Ok(())
        })
        .unwrap();
        (got, want.into_iter().map(|w| w.1).collect(), stats)
    }

    fn rows(seed: u64, n: usize, services: u64) -> Vec<(String, i64)> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (format!("svc{}", x % services), ((x >> 20) % 10_000) as i64)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn the_merge_is_the_stable_sort_of_its_inputs(
            inputs in prop::collection::vec(
                prop::collection::vec(("[a-c]{0,2}", 0i64..20), 0..40), 0..12),
            batch in 1usize..9,
            out_rows in 1usize..30,
        ) {
            let (got, want, stats) = merge(&inputs, batch, out_rows);
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(stats.rows, want.len() as u64);
        }
    }

    #[test]
    fn many_inputs_merge_into_key_order_with_every_row_once() {
        let inputs: Vec<_> = (0..60).map(|i| rows(i, 500 + 37 * i as usize, 8)).collect();
        let (got, want, stats) = merge(&inputs, 128, 1000);
        let total: usize = inputs.iter().map(Vec::len).sum();
        assert_eq!(got.len(), total);
        assert_eq!(got, want);
        assert_eq!(stats.rows, total as u64);
    }

    #[test]
    fn the_merge_holds_a_bounded_number_of_rows_not_its_inputs() {
        let (n, per, batch, out_rows) = (100, 2_000, 16, 64);
        let inputs: Vec<_> = (0..n).map(|i| rows(i as u64 + 7, per, 8)).collect();
        let (got, want, stats) = merge(&inputs, batch, out_rows);
        assert_eq!(got, want);
        // Each input's current batch, the batches an output batch drew from (a new one
        // only after one was used up), and the output batch.
        let bound = 2 * n * batch + 2 * out_rows;
        assert!(
            stats.peak_rows_held <= bound,
            "held {} rows at once, bound {bound} (inputs total {})",
            stats.peak_rows_held,
            n * per
        );
    }

    #[test]
    fn an_input_out_of_key_order_is_an_error_not_a_wrong_file() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("service_name", DataType::Utf8, false),
            Field::new("time", DataType::Int64, false),
        ]));
        let unsorted = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["a", "b", "a"])),
                Arc::new(Int64Array::from(vec![1, 2, 3])),
            ],
        )
        .unwrap();
        let streams: Vec<BatchStream> = vec![
            Box::new(vec![Ok(unsorted.clone())].into_iter()),
            input(vec![("a".into(), 2)], 0, 1),
        ];
        let err = merge_sorted(streams, &KEY, 10, Path::new("out"), |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("not sorted"), "{err}");
        let sorted = sort_batch(&unsorted, &KEY).unwrap();
        let streams: Vec<BatchStream> = vec![Box::new(vec![Ok(sorted)].into_iter())];
        let stats = merge_sorted(streams, &KEY, 10, Path::new("out"), |_| Ok(())).unwrap();
        assert_eq!(stats.rows, 3);
    }
}
