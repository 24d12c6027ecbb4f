//! Compaction of spans and logs partitions: the partition's files, each row group sorted
//! by the signal's sort key (`spans_logs::order::sort_key`), written as one file in one
//! streaming pass (`spans_logs/compact/copy.rs`): big row groups are copied as they are encoded, small
//! ones merged into new row groups (`spans_logs/compact/merge.rs`), holding a bounded number of rows,
//! never the partition. Records are not deduplicated (a trace lookup drops identical
//! copies), so copying loses nothing.
//!
//! The output is written under a new name (temp file, fsync, rename), then
//! [`Core::commit_compaction`] swaps it for the inputs in the manifest: that rename is
//! the commit, as for metrics (`metrics/compact.rs`).
//!
//! A file that does not declare itself sorted by the current key (one written before the
//! key changed) is sorted in memory before the merge: that costs memory for that one file.
//!
//! Which files a maintenance pass merges ([`pick_inputs`]): spans and logs keep arriving
//! for a closed hour (they are accepted back to the retention), and merging the whole
//! partition whenever a flush added a small file rewrote the hour once per flush. A
//! file with more rows than all the smaller files together is left alone, so small files
//! merge among themselves and reach a big file once they add up to it (each row is
//! rewritten O(log n) times, and a partition holds O(log n) files meanwhile). Once a
//! partition's file set has not changed for [`settle_ms`], it is merged into one file.

pub(crate) mod copy;
pub(crate) mod filter;
pub(crate) mod merge;

use std::sync::Arc;

use crate::storage::partition::PartFile;

/// The file set of a partition a pass saw: (number of files, newest flush), and when it
/// first saw that set (engine clock, ms).
pub(crate) type SetSeen = ((usize, u64), i64);

/// How long a closed spans or logs partition's file set must stay unchanged before a
/// pass merges it whole: two flush intervals (ms), so that a partition still receiving
/// late records every flush is not rewritten whole each time.
pub(crate) fn settle_ms(flush_interval: std::time::Duration) -> i64 {
    i64::try_from(flush_interval.as_millis().saturating_mul(2)).unwrap_or(i64::MAX)
}

/// The files of one closed spans or logs partition (oldest flush first) that a pass
/// merges, oldest flush first: all of them if the partition has `settled`; else the
/// files left after setting aside, largest first, each file holding more rows than all
/// smaller ones together. Fewer than two means nothing to do.
pub(crate) fn pick_inputs(inputs: &[Arc<PartFile>], settled: bool) -> Vec<Arc<PartFile>> {
    if settled {
        return inputs.to_vec();
    }
    let mut by_rows: Vec<&Arc<PartFile>> = inputs.iter().collect();
    by_rows.sort_by_key(|f| std::cmp::Reverse(f.entry.rows));
    let mut smaller: u64 = by_rows.iter().map(|f| f.entry.rows).sum();
    let mut big = 0;
    for f in &by_rows {
        smaller -= f.entry.rows;
        if f.entry.rows <= smaller {
            break;
        }
        big += 1;
    }
    let mut picked: Vec<Arc<PartFile>> = by_rows[big..].iter().map(|f| Arc::clone(f)).collect();
    picked.sort_by_key(|f| f.entry.flush);
    picked
}

#[cfg(test)]
mod tests {

    use crate::model::records::SpanRecord;
    use crate::signal_kind::Signal;
    use crate::spans_logs::compact::copy::Input;
    use crate::spans_logs::compact::copy::compact_files_by;
    use crate::spans_logs::compact::merge;
    use crate::spans_logs::order::sort_key;
    use crate::storage::parquet_io;
    use std::path::Path;

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
        let batch = crate::spans_logs::spans::arrow::spans_batch(&refs).unwrap();
        let batch = merge::sort_batch(&batch, key).unwrap();
        parquet_io::write_signal_file(path, &batch, key).unwrap();
    }

    fn read(path: &Path) -> Vec<SpanRecord> {
        let mut out = Vec::new();
        for b in parquet_io::open_batches(path).unwrap() {
            out.extend(
                crate::spans_logs::spans::arrow::spans_from_batch_at(&b.unwrap(), path).unwrap(),
            );
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
        let (bytes, stats) = compact_files_by(
            &paths,
            key,
            &out,
            crate::storage::parquet_io::WrittenBy::Compaction,
        )
        .unwrap();
        assert!(bytes > 0);
        assert_eq!((stats.merged.rows, stats.copied_rows), (120, 0));
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
        assert!(Input::open(&out, key).unwrap().sorted);
        assert!(!Input::open(&paths[1], key).unwrap().sorted);
    }
}
