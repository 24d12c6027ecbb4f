//! Flushing spans and log records: one Parquet file per (tenant, hour partition) and
//! flush, sorted by the signal's [`sort_key`], listed in the partition's manifest. The flush protocol
//! (cut, write, one commit marker for every signal, publish, WAL truncation) is the one in
//! `flush.rs`; this is the write step for the two record signals.

use std::sync::Arc;

use crate::engine::Core;
use crate::partition::{self, FileEntry, PartFile, create_dir_durable, signal_partition_dir};
use crate::records::{LogRecord, SpanRecord};
use crate::signal::Signal;
use crate::signal_store::{NS_PER_MS, SignalTaken, StoredRecord};
use crate::{FlushStats, Result, TenantId, parquet_io};

/// The columns files of `signal` are sorted by, ascending. Flushes sort by it, and
/// compaction merges flush files by it (`signal_compact.rs`), so both must use this.
///
/// Spans go by trace: a trace's spans sit together, so a lookup by trace id decodes one
/// page of each column in one row group, where (service, time) spread a trace that
/// crosses five services over five row groups (five pages of every column). It costs
/// ~1.8 B/span of disk (start and end times delta-encode less well): measured in
/// `docs/benchmarks.md`. Logs go by (service, time), their search path.
pub(crate) fn sort_key(signal: Signal) -> &'static [&'static str] {
    match signal {
        Signal::Traces => &["trace_id", "start_time"],
        _ => &["service_name", "time"],
    }
}

/// Puts rows in [`sort_key`] order before they are built into a batch, so the flush
/// does not build the batch and then copy every column into the sorted order.
///
/// Arrow compares ids and strings bytewise and times as `i64`, as Rust does, so this is
/// the order `signal_merge::sort_batch` gives (rows with equal keys may come in either
/// order, as there).
pub(crate) trait FlushOrder {
    /// Sorts `rows` by the signal's [`sort_key`].
    fn sort_rows(rows: &mut [&Self]);
}

impl FlushOrder for SpanRecord {
    fn sort_rows(rows: &mut [&Self]) {
        rows.sort_unstable_by_key(|r| (r.trace_id, r.start_ns));
    }
}

impl FlushOrder for LogRecord {
    fn sort_rows(rows: &mut [&Self]) {
        rows.sort_unstable_by(|a, b| {
            (a.service_name.as_str(), a.time_ns).cmp(&(b.service_name.as_str(), b.time_ns))
        });
    }
}

impl Core {
    /// Writes the files of the partitions a cut took (not yet committed); returns them for
    /// publishing once the commit marker is written.
    pub(crate) fn write_signal_parts<R: StoredRecord + FlushOrder>(
        &self,
        taken: &SignalTaken<R>,
        boundary: u64,
        stats: &mut FlushStats,
    ) -> Result<Vec<(TenantId, Arc<PartFile>)>> {
        let mut published = Vec::new();
        for (tenant, start, part) in taken {
            if part.recs.is_empty() {
                continue;
            }
            let mut rows: Vec<&R> = part.recs.iter().collect();
            let key = sort_key(R::SIGNAL);
            // Sorted as Arrow sorts, which is the order compaction's merge compares in.
            R::sort_rows(&mut rows);
            let batch = R::to_batch(&rows)?;
            let dir = signal_partition_dir(&self.dir, R::SIGNAL, tenant, *start);
            create_dir_durable(&dir)?;
            let name = format!("{}-{boundary}.parquet", R::FILE_PREFIX);
            let bytes = parquet_io::write_signal_file(&dir.join(&name), &batch, key)?;
            let (min_ns, max_ns) = rows.iter().fold((i64::MAX, i64::MIN), |(lo, hi), r| {
                (lo.min(r.time_ns()), hi.max(r.time_ns()))
            });
            let entry = FileEntry {
                flush: boundary,
                samples: name,
                series: String::new(),
                index: String::new(),
                rows: rows.len() as u64,
                // Milliseconds, widened to whole ms so they cover every record.
                min_ts: min_ns.div_euclid(NS_PER_MS),
                max_ts: max_ns.div_euclid(NS_PER_MS) + i64::from(max_ns.rem_euclid(NS_PER_MS) != 0),
                bytes,
                flushes: 1,
            };
            partition::add_to_manifest(&dir, &entry)?;
            stats.files += 1;
            stats.bytes += bytes;
            match R::SIGNAL {
                Signal::Traces => stats.spans += entry.rows,
                _ => stats.logs += entry.rows,
            }
            published.push((tenant.clone(), Arc::new(PartFile::new(dir, entry))));
        }
        Ok(published)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, FixedSizeBinaryArray, StringArray, TimestampNanosecondArray};
    use arrow::record_batch::RecordBatch;

    use super::*;
    use crate::signal_merge::sort_batch;

    /// The key columns of `batch`, row by row, as bytes and times.
    fn keys(batch: &RecordBatch, key: &[&str]) -> Vec<(Vec<u8>, i64)> {
        let col = |i: usize| batch.column_by_name(key[i]).unwrap();
        let first = col(0);
        let time = col(1)
            .as_any()
            .downcast_ref::<TimestampNanosecondArray>()
            .unwrap();
        (0..batch.num_rows())
            .map(|i| {
                let k = match first.as_any().downcast_ref::<FixedSizeBinaryArray>() {
                    Some(ids) => ids.value(i).to_vec(),
                    None => first
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .unwrap()
                        .value(i)
                        .as_bytes()
                        .to_vec(),
                };
                (k, time.value(i))
            })
            .collect()
    }

    /// Rows sorted by [`FlushOrder`] have the key order Arrow's sort gives the batch.
    fn same_order_as_arrow<R: StoredRecord + FlushOrder>(recs: &[R]) {
        let key = sort_key(R::SIGNAL);
        let mut rows: Vec<&R> = recs.iter().collect();
        R::sort_rows(&mut rows);
        let ours = R::to_batch(&rows).unwrap();
        let all: Vec<&R> = recs.iter().collect();
        let arrow = sort_batch(&R::to_batch(&all).unwrap(), key).unwrap();
        assert_eq!(keys(&ours, key), keys(&arrow, key));
    }

    #[test]
    fn flush_order_of_spans_and_logs_is_arrows_sort_order() {
        // Ids with high bytes (signed vs unsigned compare), equal ids with different
        // times, and times on both sides of zero.
        let mut spans = Vec::new();
        let mut logs = Vec::new();
        for i in 0..200u32 {
            let b = (i.wrapping_mul(2_654_435_761) >> 7) as u8;
            let mut trace_id = [0u8; 16];
            trace_id[0] = b;
            trace_id[15] = (i % 3) as u8;
            let t = i64::from(i % 7) * 1_000 - 3_000;
            spans.push(SpanRecord {
                trace_id,
                span_id: [1; 8],
                start_ns: t,
                end_ns: t,
                ..SpanRecord::default()
            });
            let service = ["b", "a", "ä", "ab", "B", ""][(b % 6) as usize];
            logs.push(LogRecord {
                time_ns: t,
                service_name: service.to_owned(),
                resource_attributes: Arc::default(),
                ..LogRecord::default()
            });
        }
        same_order_as_arrow(&spans);
        same_order_as_arrow(&logs);
    }
}
