//! The order spans and logs files are sorted in: the key flushes sort by and compaction merges by.

use crate::model::records::{LogRecord, SpanRecord};
use crate::signal_kind::Signal;

/// The columns files of `signal` are sorted by, ascending. Flushes sort by it, and
/// compaction merges flush files by it (`spans_logs/compact/mod.rs`), so both must use this.
///
/// Spans go by trace: a trace's spans sit together, so a lookup by trace id decodes one
/// page of each column in one row group, where (service, time) spread a trace that
/// crosses five services over five row groups (five pages of every column). It costs
/// ~1.8 B/span of disk (start and end times delta-encode less well): measured in
/// `docs/benchmarks-history.md`. Logs go by (service, time), their search path.
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
/// the order `spans_logs::compact::merge::sort_batch` gives (rows with equal keys may come in either
/// order, as there).
pub(crate) trait FlushOrder {
    /// Sorts `rows` by the signal's [`sort_key`].
    fn sort_rows(rows: &mut [&Self]);
}

impl FlushOrder for SpanRecord {
    fn sort_rows(rows: &mut [&Self]) {
        // The keys copied next to the references: comparisons read one array instead of
        // two records per comparison, wherever they lie in memory. The trace id as a
        // big-endian integer orders as its bytes do, and compares in two instructions
        // where the byte array called `memcmp`.
        let mut keyed: Vec<(u128, i64, &Self)> = rows
            .iter()
            .map(|r| (u128::from_be_bytes(r.trace_id), r.start_ns, *r))
            .collect();
        keyed.sort_unstable_by_key(|k| (k.0, k.1));
        for (slot, (_, _, r)) in rows.iter_mut().zip(keyed) {
            *slot = r;
        }
    }
}

impl FlushOrder for LogRecord {
    fn sort_rows(rows: &mut [&Self]) {
        rows.sort_unstable_by(|a, b| {
            (a.service_name.as_str(), a.time_ns).cmp(&(b.service_name.as_str(), b.time_ns))
        });
    }
}
