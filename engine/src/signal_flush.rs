//! Flushing spans and log records: one Parquet file per (tenant, hour partition) and
//! flush, sorted by (service, time), listed in the partition's manifest. The flush protocol
//! (cut, write, one commit marker for every signal, publish, WAL truncation) is the one in
//! `flush.rs`; this is the write step for the two record signals.

use std::collections::HashMap;
use std::sync::Arc;

use crate::engine::Core;
use crate::partition::{self, FileEntry, PartFile, create_dir_durable, signal_partition_dir};
use crate::signal::Signal;
use crate::signal_store::{NS_PER_MS, SignalTaken, StoredRecord};
use crate::{FlushStats, Result, TenantId, parquet_io};

/// The time column files of `signal` are sorted on (after `service_name`).
pub(crate) fn time_column(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "start_time",
        _ => "time",
    }
}

/// `recs` sorted by (service, time), stably. Services are ranked first (records of one
/// resource come in runs, so most rows cost one string comparison with the previous row),
/// then the rows are sorted on fixed-size keys instead of comparing strings.
fn sorted<R: StoredRecord>(recs: &[R]) -> Vec<&R> {
    let mut rank: HashMap<&str, usize> = HashMap::new();
    let mut ids = Vec::with_capacity(recs.len());
    let mut prev: Option<(&str, usize)> = None;
    for r in recs {
        let id = match prev {
            Some((s, id)) if s == r.service() => id,
            _ => {
                let next = rank.len();
                *rank.entry(r.service()).or_insert(next)
            }
        };
        prev = Some((r.service(), id));
        ids.push(id);
    }
    // Service ids in order of first arrival; map them to the order of the names.
    let mut names: Vec<(&str, usize)> = rank.into_iter().collect();
    names.sort_unstable();
    let mut order = vec![0usize; names.len()];
    for (pos, (_, id)) in names.iter().enumerate() {
        order[*id] = pos;
    }
    // (service order, time, arrival): unique keys, so an unstable sort is stable.
    let mut keys: Vec<(usize, i64, usize)> = recs
        .iter()
        .zip(&ids)
        .enumerate()
        .map(|(i, (r, id))| (order[*id], r.time_ns(), i))
        .collect();
    keys.sort_unstable();
    keys.into_iter().map(|(_, _, i)| &recs[i]).collect()
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
            let rows = sorted(&part.recs);
            let batch = R::to_batch(&rows)?;
            let dir = signal_partition_dir(&self.dir, R::SIGNAL, tenant, *start);
            create_dir_durable(&dir)?;
            let name = format!("{}-{boundary}.parquet", R::FILE_PREFIX);
            let bytes =
                parquet_io::write_signal_file(&dir.join(&name), &batch, time_column(R::SIGNAL))?;
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
    use proptest::prelude::*;

    use super::*;
    use crate::records::LogRecord;

    proptest! {
        /// The key sort gives exactly the order of a stable sort by (service, time).
        #[test]
        fn sorted_is_a_stable_sort_by_service_and_time(
            rows in prop::collection::vec((0usize..4, -3i64..3), 0..60),
        ) {
            let services = ["b", "a", "ab", ""];
            let recs: Vec<LogRecord> = rows
                .iter()
                .enumerate()
                .map(|(i, (s, t))| LogRecord {
                    service_name: services[*s].to_owned(),
                    time_ns: *t,
                    // Tells equal keys apart.
                    observed_time_ns: i as i64,
                    ..LogRecord::default()
                })
                .collect();
            let mut want: Vec<&LogRecord> = recs.iter().collect();
            want.sort_by(|a, b| (a.service(), a.time_ns()).cmp(&(b.service(), b.time_ns())));
            prop_assert_eq!(sorted(&recs), want);
        }
    }
}
