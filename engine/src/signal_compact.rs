//! Compaction of spans and logs partitions: the partition's files, each sorted by the
//! signal's sort key (`signal_flush::sort_key`), merged into one file in one streaming
//! pass (`signal_merge.rs`) that holds a bounded number of rows per input, never the
//! partition. Records are not deduplicated (a trace lookup drops identical copies).
//!
//! The output is written under a new name (temp file, fsync, rename), then
//! [`Core::commit_compaction`] swaps it for the inputs in the manifest: that rename is
//! the commit, as for metrics (`compact.rs`).
//!
//! A file that does not declare itself sorted by the current key (one written before the
//! key changed) is sorted in memory before the merge: that costs memory for that one file.

use std::path::Path;
use std::sync::Arc;

use arrow::compute::concat_batches;

use crate::Result;
use crate::compact::{CompactStats, Target};
use crate::engine::Core;
use crate::parquet_io::{self, bad};
use crate::partition::{FileEntry, PartFile};
use crate::signal_flush::sort_key;
use crate::signal_merge::{self, BatchStream, MergeStats};
use crate::signal_store::StoredRecord;

/// Rows the merge's inputs hold at once, all inputs together (each reads batches of this
/// divided by the number of inputs, within [`MIN_BATCH`, `MAX_BATCH`]).
const MERGE_ROWS: usize = 128 * 1024;
/// Fewest rows per input batch.
const MIN_BATCH: usize = 256;
/// Most rows per input batch.
const MAX_BATCH: usize = 8192;
/// Rows per output batch.
const OUT_ROWS: usize = 8192;

/// Rows each of `inputs` inputs reads at a time.
pub(crate) fn batch_rows(inputs: usize) -> usize {
    (MERGE_ROWS / inputs.max(1)).clamp(MIN_BATCH, MAX_BATCH)
}

impl Core {
    /// Merges one partition's spans or logs files (oldest flush first) into one file
    /// sorted by the signal's key.
    pub(crate) fn compact_records<R: StoredRecord>(
        &self,
        target: Target<'_>,
        inputs: &[Arc<PartFile>],
        stats: &mut CompactStats,
    ) -> Result<()> {
        let flush = inputs.iter().map(|f| f.entry.flush).max().unwrap_or(0);
        let name = format!("{}-{flush}-c.parquet", R::FILE_PREFIX);
        let out = target.2.join(&name);
        let paths: Vec<_> = inputs.iter().map(|f| f.samples_path()).collect();
        let (bytes, merged) = merge_files(&paths, sort_key(R::SIGNAL), &out)?;
        let entry = FileEntry {
            flush,
            samples: name,
            series: String::new(),
            index: String::new(),
            rows: merged.rows,
            min_ts: inputs.iter().map(|f| f.entry.min_ts).min().unwrap_or(0),
            max_ts: inputs.iter().map(|f| f.entry.max_ts).max().unwrap_or(0),
            bytes,
            flushes: inputs.iter().map(|f| f.entry.flushes).sum(),
        };
        if !self.commit_compaction(target, inputs, &entry)? {
            return Ok(());
        }
        stats.partitions += 1;
        stats.file_sets_in += inputs.len();
        stats.rows_in += entry.rows;
        stats.rows_out += entry.rows;
        stats.bytes_in += inputs.iter().map(|f| f.entry.bytes).sum::<u64>();
        stats.bytes_out += entry.bytes;
        Ok(())
    }
}

/// Merges the spans or logs files `inputs` (oldest first) into a new file `out` sorted by
/// `key`, durably written (not yet listed anywhere). Returns its size and what the merge
/// did.
pub(crate) fn merge_files(
    inputs: &[impl AsRef<Path>],
    key: &[&str],
    out: &Path,
) -> Result<(u64, MergeStats)> {
    let rows = batch_rows(inputs.len());
    let mut streams: Vec<BatchStream> = Vec::with_capacity(inputs.len());
    let mut schema = None;
    for path in inputs {
        let path = path.as_ref();
        let (s, stream, sorted) = parquet_io::signal_reader(path, rows, key)?;
        if sorted {
            streams.push(stream);
        } else {
            streams.push(sorted_in_memory(path, &s, stream, key, rows)?);
        }
        schema.get_or_insert(s);
    }
    let Some(schema) = schema else {
        return Err(bad(out, "nothing to compact"));
    };
    let mut writer = parquet_io::signal_writer(out, schema, key)?;
    let merged = signal_merge::merge_sorted(streams, key, OUT_ROWS, out, |b| writer.write(&b))?;
    Ok((writer.finish()?, merged))
}

/// The whole of an input not sorted by `key`, sorted, as batches of `rows`.
fn sorted_in_memory(
    path: &Path,
    schema: &arrow::datatypes::SchemaRef,
    stream: BatchStream,
    key: &[&str],
    rows: usize,
) -> Result<BatchStream> {
    let batches = stream.collect::<Result<Vec<_>>>()?;
    let all = concat_batches(schema, &batches).map_err(|e| bad(path, e))?;
    drop(batches);
    let sorted = signal_merge::sort_batch(&all, key)?;
    let n = sorted.num_rows();
    let slices: Vec<_> = (0..n)
        .step_by(rows.max(1))
        .map(|at| Ok(sorted.slice(at, rows.min(n - at))))
        .collect();
    Ok(Box::new(slices.into_iter()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::SpanRecord;
    use crate::signal::Signal;

    fn spans(seed: u8, n: u8) -> Vec<SpanRecord> {
        (0..n)
            .map(|i| SpanRecord {
                trace_id: [i.wrapping_mul(37).wrapping_add(seed) | 1; 16],
                span_id: [seed, i, 1, 1, 1, 1, 1, 1],
                service_name: ["web", "api", "db"][usize::from(i % 3)].into(),
                name: format!("op{i}"),
                start_ns: 1_000 * i64::from(n - i),
                end_ns: 1_000 * i64::from(n - i) + 10,
                ..SpanRecord::default()
            })
            .collect()
    }

    /// Writes `recs` as a spans file sorted (and declared sorted) by `key`.
    fn write(path: &Path, recs: &[SpanRecord], key: &[&str]) {
        let refs: Vec<&SpanRecord> = recs.iter().collect();
        let batch = crate::spans_arrow::spans_batch(&refs).unwrap();
        let batch = signal_merge::sort_batch(&batch, key).unwrap();
        parquet_io::write_signal_file(path, &batch, key).unwrap();
    }

    fn read(path: &Path) -> Vec<SpanRecord> {
        let mut out = Vec::new();
        for b in parquet_io::open_batches(path).unwrap() {
            out.extend(crate::spans_arrow::spans_from_batch_at(&b.unwrap(), path).unwrap());
        }
        out
    }

    #[test]
    fn a_file_sorted_by_an_older_key_is_resorted_and_merged_with_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let key = sort_key(Signal::Traces);
        let old_key = ["service_name", "start_time"];
        assert_ne!(key, old_key.as_slice());
        let (a, b, c) = (spans(1, 40), spans(2, 30), spans(3, 50));
        let paths = [0, 1, 2].map(|i| dir.path().join(format!("in{i}.parquet")));
        write(&paths[0], &a, key);
        write(&paths[1], &b, &old_key);
        write(&paths[2], &c, key);
        let out = dir.path().join("out.parquet");
        let (bytes, stats) = merge_files(&paths, key, &out).unwrap();
        assert!(bytes > 0);
        assert_eq!(stats.rows, 120);
        let got = read(&out);
        let mut want: Vec<SpanRecord> = [a, b, c].concat();
        // The merge is stable across inputs, and each input's ties are in its file order.
        want.sort_by_key(|s| (s.trace_id, s.start_ns, s.span_id));
        let mut sorted_got = got.clone();
        sorted_got.sort_by_key(|s| (s.trace_id, s.start_ns, s.span_id));
        assert_eq!(sorted_got, want, "every span once");
        let keys: Vec<_> = got.iter().map(|s| (s.trace_id, s.start_ns)).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]), "in key order");
        // And the output declares the current key, so the next merge streams it.
        let (_, _, declared) = parquet_io::signal_reader(&out, 100, key).unwrap();
        assert!(declared);
        let (_, _, declared) = parquet_io::signal_reader(&paths[1], 100, key).unwrap();
        assert!(!declared);
    }
}
