//! A logs file's summary: `logs-….sum` beside `logs-….parquet`, the file's records counted
//! per group and second, where a group is the records of one stream (`service_name` and
//! resource attributes) with one severity and the same level-like attributes
//! (`docs/formats/spans-logs.md`, "Logs summary files").
//!
//! Why: the queries Grafana sends most (the logs volume histogram, `rate` and
//! `count_over_time` grouped by stream labels or level, the label browser) need counts and
//! bytes per stream and time, not the records. Read from the records they cost ~0.3 µs per
//! record; from a summary, a few nanoseconds per group and second.
//!
//! The file is derived data, not listed in manifests, as the spans files' trace-id filters
//! are: a flush and a compaction write it (synced) before the manifest lists their logs
//! file, maintenance builds it for a committed logs file that lacks one (see
//! `Core::build_log_summaries`), and it is deleted with its logs file. One that is
//! missing, of another length of logs file, or fails its checksum is not used: readers
//! then read the records.

mod build;
mod codec;
mod lines;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use memmap2::Mmap;

pub(crate) use build::{Builder, build_from_file, write_for};
use lines::Blocks;
pub use lines::{BLOCK_ROWS, LineFilter};

use crate::Result;

/// Nanoseconds per second: the summary's time resolution.
pub const NS_PER_SECOND: i64 = 1_000_000_000;

/// The summary file of the logs file at `logs`.
pub(crate) fn path_for(logs: &Path) -> PathBuf {
    logs.with_extension(crate::storage::partition::SUMMARY_EXT)
}

/// The second a time falls in, as the summary counts it: the `S` with
/// `(S - 1)·1 s < t ≤ S·1 s`; and whether `t` is exactly `S·1 s` (on the edge).
pub fn second_of(time_ns: i64) -> (i64, bool) {
    let (q, r) = (
        time_ns.div_euclid(NS_PER_SECOND),
        time_ns.rem_euclid(NS_PER_SECOND),
    );
    if r == 0 { (q, true) } else { (q + 1, false) }
}

/// The records of one group: one stream, one severity, the same level-like attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryGroup {
    /// The records' `service_name` column.
    pub service_name: String,
    /// Their resource attributes (key, text form), as stored.
    pub resource: Vec<(String, String)>,
    /// Their severity number.
    pub severity_number: i32,
    /// Their severity text.
    pub severity_text: String,
    /// Their attributes whose key, with every character other than ASCII letters, digits
    /// and `_` as `_`, is `level`, `detected_level` or `severity_text` (key, text form), in
    /// stored order.
    pub level_attributes: Vec<(String, String)>,
    /// Every attribute key some record of the group has, sorted: a reader that groups by a
    /// label an attribute could give knows from this whether one can.
    pub attribute_keys: Vec<String>,
    /// Where its seconds lie in the summary's bytes, and how many there are.
    seconds_at: (usize, usize),
    seconds: usize,
}

/// The records of one group in one second `S` (times in `((S - 1)·1 s, S·1 s]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondCount {
    /// `S`, seconds since the epoch.
    pub second: i64,
    /// Records.
    pub entries: u64,
    /// Bytes of their bodies' text forms.
    pub bytes: u64,
    /// Of those, the records at exactly `S·1 s`, and their bytes: what a reader of
    /// half-open ranges `[a, b)` moves to the next second.
    pub edge_entries: u64,
    /// Their bytes.
    pub edge_bytes: u64,
}

/// A summary's bytes: mapped from its file, or built in memory (records not yet flushed).
enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Self::Mapped(m) => m,
            Self::Owned(v) => v,
        }
    }
}

/// A parsed summary: its groups, each with its seconds decoded on demand.
pub struct LogSummary {
    bytes: Bytes,
    groups: Vec<SummaryGroup>,
    /// The earliest and latest second counted.
    seconds: (i64, i64),
    /// Its line filter: records covered, where its bit sets lie.
    filter: Option<codec::FilterAt>,
}

impl std::fmt::Debug for LogSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSummary")
            .field("groups", &self.groups.len())
            .field("seconds", &self.seconds)
            .finish()
    }
}

impl LogSummary {
    /// Maps the summary of the logs file at `logs`. `Ok(None)` when there is none, or it
    /// does not match the logs file (length) or its own checksum.
    #[cfg(test)]
    pub(crate) fn open(logs: &Path) -> Result<Option<Self>> {
        Self::open_sized(logs, None)
    }

    /// [`LogSummary::open`] for a logs file of `logs_len` bytes, when that is known without
    /// reading the disk (the file may not be there yet: a bucket's set).
    pub(crate) fn open_sized(logs: &Path, logs_len: Option<u64>) -> Result<Option<Self>> {
        let Some((map, logs_len)) =
            crate::storage::fs::map_derived(logs, &path_for(logs), logs_len)?
        else {
            return Ok(None);
        };
        Ok(Self::parse(Bytes::Mapped(map), Some(logs_len)))
    }

    /// A summary from encoded bytes (`None` if they are not a valid one).
    pub(crate) fn from_vec(bytes: Vec<u8>) -> Option<Self> {
        Self::parse(Bytes::Owned(bytes), None)
    }

    fn parse(bytes: Bytes, logs_len: Option<u64>) -> Option<Self> {
        let (groups, seconds, filter) = codec::parse(&bytes, logs_len)?;
        Some(Self {
            bytes,
            groups,
            seconds,
            filter,
        })
    }

    /// The line filter of the logs file's records (`None` for records in memory, or a
    /// summary written without one).
    pub fn line_filter(&self) -> Option<LineFilter<'_>> {
        let f = self.filter?;
        let blocks = match f.listed {
            Some((at, n)) => Blocks::Listed(self.bytes.get(at..at + n * 4)?),
            None => Blocks::Fixed(BLOCK_ROWS),
        };
        Some(LineFilter {
            rows: f.rows,
            blocks,
            bits: self.bytes.get(f.bits.0..f.bits.0 + f.bits.1)?,
        })
    }

    /// Its groups.
    pub fn groups(&self) -> &[SummaryGroup] {
        &self.groups
    }

    /// The earliest and latest second it counts (`(0, -1)` when empty).
    pub fn second_range(&self) -> (i64, i64) {
        self.seconds
    }

    /// The seconds of group `g` (an index into [`LogSummary::groups`]), ascending.
    pub fn seconds(&self, g: usize) -> impl Iterator<Item = SecondCount> + '_ {
        let (at, len, n) = self
            .groups
            .get(g)
            .map_or((0, 0, 0), |g| (g.seconds_at.0, g.seconds_at.1, g.seconds));
        codec::Seconds::new(self.bytes.get(at..at + len).unwrap_or(&[]), n)
    }

    /// Records and bytes over all groups (for tests and statistics).
    pub fn totals(&self) -> (u64, u64) {
        let mut t = (0, 0);
        for g in 0..self.groups.len() {
            for s in self.seconds(g) {
                t.0 += s.entries;
                t.1 += s.bytes;
            }
        }
        t
    }
}

/// Through the engine (in this file: test code may reach any layer).
#[cfg(test)]
mod engine_tests {
    use super::tests::{actual, expected, records};
    use super::{LogSummary, path_for};

    /// Through the engine: flush and compaction write summaries, `logs_summaries` counts
    /// files and memory once each, a lost summary is rebuilt by maintenance (and answers
    /// `None` until then), an orphan goes at open.
    #[test]
    fn the_engine_writes_uses_rebuilds_and_removes_summaries() {
        use crate::{Engine, EngineConfig, ManualClock, TenantId};
        let dir = tempfile::tempdir().unwrap();
        let now_ms = 1_795_000_000_000;
        let open = || {
            Engine::open_with_clock(
                dir.path(),
                EngineConfig::default(),
                ManualClock::new(now_ms),
            )
            .unwrap()
        };
        let t = TenantId::new("t").unwrap();
        let t0 = (now_ms - 7_200_000) * 1_000_000;
        let recs = records(t0, 30);
        let counted = |e: &Engine| -> Option<(u64, u64)> {
            let all = e.logs_summaries(&t, 0, i64::MAX).unwrap()?;
            Some(all.iter().fold((0, 0), |acc, s| {
                let (n, b) = s.totals();
                (acc.0 + n, acc.1 + b)
            }))
        };
        let bytes: u64 = recs
            .iter()
            .map(|r| r.body.as_ref().map_or(0, |b| b.to_text().len() as u64))
            .sum();
        let engine = open();
        let (a, b) = recs.split_at(100);
        engine.write_logs(&t, a).unwrap();
        engine.flush().unwrap();
        engine.write_logs(&t, b).unwrap();
        assert_eq!(
            counted(&engine),
            Some((recs.len() as u64, bytes)),
            "file + memory"
        );
        engine.flush().unwrap();
        let files = |e: &Engine| -> Vec<std::path::PathBuf> {
            e.logs_snapshot(&t, 0, i64::MAX)
                .unwrap()
                .files
                .iter()
                .map(|f| f.path())
                .collect()
        };
        let flushed = files(&engine);
        assert_eq!(flushed.len(), 2);
        assert!(flushed.iter().all(|p| path_for(p).exists()));
        assert_eq!(counted(&engine), Some((recs.len() as u64, bytes)));

        engine.compact_all().unwrap();
        let merged = files(&engine);
        assert_eq!(merged.len(), 1);
        assert!(path_for(&merged[0]).exists());
        assert!(flushed.iter().all(|p| !path_for(p).exists()));
        assert_eq!(counted(&engine), Some((recs.len() as u64, bytes)));
        let whole = expected(&recs);
        assert_eq!(
            actual(&LogSummary::open(&merged[0]).unwrap().unwrap()),
            whole
        );
        engine.close().unwrap();

        std::fs::remove_file(path_for(&merged[0])).unwrap();
        let orphan = merged[0].with_file_name("logs-4242.sum");
        std::fs::write(&orphan, b"stale").unwrap();
        let engine = open();
        assert!(!orphan.exists());
        assert_eq!(counted(&engine), None, "a file without a summary");
        assert_eq!(engine.build_log_summaries(), 1);
        assert_eq!(engine.build_log_summaries(), 0);
        assert_eq!(counted(&engine), Some((recs.len() as u64, bytes)));
    }
}
