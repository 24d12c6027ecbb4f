//! Flushing spans and log records: one Parquet file per (tenant, hour partition) and
//! flush, sorted by the signal's [`sort_key`], listed in the partition's manifest. The flush protocol
//! (cut, write, one commit marker for every signal, publish, WAL truncation) is the one in
//! `flush.rs`; this is the write step for the two record signals.

use std::sync::Arc;

use crate::engine::Core;
use crate::partition::{self, FileEntry, PartFile, create_dir_durable, signal_partition_dir};
use crate::signal::Signal;
use crate::signal_store::{NS_PER_MS, SignalTaken, StoredRecord};
use crate::{FlushStats, Result, TenantId, parquet_io, signal_merge};

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

impl Core {
    /// Writes the files of the partitions a cut took (not yet committed); returns them for
    /// publishing once the commit marker is written.
    pub(crate) fn write_signal_parts<R: StoredRecord>(
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
            let rows: Vec<&R> = part.recs.iter().collect();
            let key = sort_key(R::SIGNAL);
            // Sorted as Arrow sorts, which is the order compaction's merge compares in.
            let batch = signal_merge::sort_batch(&R::to_batch(&rows)?, key)?;
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
