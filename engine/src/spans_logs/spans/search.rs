//! Trace search without SQL: the traces with a span of one service (and operation, and
//! duration bounds) starting in a time range, ranked by their newest such span, ties by
//! trace id, the first `limit` of them. That is what
//! `SELECT trace_id, max(start_time) ... GROUP BY trace_id ORDER BY 2 DESC, trace_id LIMIT n`
//! over the `spans` table answers, at a fraction of the cost:
//!
//! 1. **Scan.** Of each file, only `service_name`, `name`, `duration_ns` and `start_time`
//!    are decoded, the strings as dictionaries: the service and operation are compared once
//!    per dictionary entry, and a row costs an integer lookup, not a string copy. Row
//!    groups whose statistics rule out the time range or the durations are not read. Each
//!    match is kept as (start time, row number in its file); records in memory are checked
//!    as they are.
//! 2. **Rank.** Matches are sorted newest first, and their trace ids read (the `trace_id`
//!    pages holding those rows only) in growing chunks from the newest, until `limit`
//!    distinct traces are known and no match left unread can tie or beat the last of them.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{Int32Type, Int64Type, TimestampNanosecondType};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use parquet::file::statistics::Statistics;

use crate::spans_logs::meta::SpansFileMeta;
use crate::storage::parquet_io::bad;
use crate::storage::prefetch;
use crate::{Error, Result, SpanRecord, TraceId};

/// What a trace search matches: spans of `service`, of `operation` when given, with
/// `duration_ns` (end minus start, saturating) within the bounds given (inclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanSearch {
    /// `service_name`, exactly.
    pub service: String,
    /// `name`, exactly.
    pub operation: Option<String>,
    /// Least `duration_ns`.
    pub min_duration_ns: Option<i64>,
    /// Greatest `duration_ns`.
    pub max_duration_ns: Option<i64>,
}

impl SpanSearch {
    fn duration_ok(&self, d: i64) -> bool {
        self.min_duration_ns.is_none_or(|m| d >= m) && self.max_duration_ns.is_none_or(|m| d <= m)
    }

    pub(crate) fn matches(&self, s: &SpanRecord, start_ns: i64, end_ns: i64) -> bool {
        (start_ns..=end_ns).contains(&s.start_ns)
            && s.service_name == self.service
            && self.operation.as_ref().is_none_or(|o| s.name == *o)
            && self.duration_ok(s.end_ns.saturating_sub(s.start_ns))
    }
}

/// Rows a scan batch holds.
const SCAN_BATCH_ROWS: usize = 8_192;
/// Row groups per scan task: a dense hour's file (~56) spreads over the cores.
const SCAN_TASK_ROW_GROUPS: usize = 8;
/// Row groups the first wave of a search scans: a dense hour's file has ~56, a flush's
/// ~9 of them share one 10-minute range, so two waves (8, then 8 more) usually pass the
/// newest flush's and let the search stop.
const FIRST_WAVE: usize = 8;
/// Matches whose trace ids the first ranking round reads, at least.
const FIRST_CHUNK: usize = 64;

/// Where a match is: a record in memory (its id known) or a row of a file.
#[derive(Debug, Clone, Copy)]
pub(crate) enum At {
    Memory(TraceId),
    File { file: usize, row: u64 },
}

/// A row group to scan: its file, its place, and the newest start its statistics allow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unit {
    file: usize,
    group: Group,
    pub(crate) max_start: i64,
}

/// The row groups of `files` that may hold a match, newest first (by the newest start
/// their statistics allow).
pub(crate) fn units(
    files: &[ScanFile],
    search: &SpanSearch,
    start_ns: i64,
    end_ns: i64,
) -> Result<Vec<Unit>> {
    let mut out = Vec::new();
    for (f, (path, meta)) in files.iter().enumerate() {
        for (group, range) in row_groups(path, meta, search, start_ns, end_ns)? {
            let newest = range.map_or(end_ns, |(_, hi)| hi);
            out.push(Unit {
                file: f,
                group,
                max_start: newest.min(end_ns),
            });
        }
    }
    out.sort_by_key(|u| std::cmp::Reverse(u.max_start));
    Ok(out)
}

/// How many of `units` (newest first) the first wave scans: [`FIRST_WAVE`], or one per
/// thread if more. (Not "the row groups meeting the newest one's time range": a
/// compacted file's merged row groups hold the tails of every flush, so they meet the
/// whole hour.)
pub(crate) fn first_wave(units: &[Unit], threads: usize) -> usize {
    FIRST_WAVE.max(threads).min(units.len())
}

/// A file to scan: its path and metadata.
type ScanFile = (std::path::PathBuf, Arc<SpansFileMeta>);

/// The matches of every file: (start ns, where).
#[cfg(test)]
fn scan(
    files: &[ScanFile],
    search: &SpanSearch,
    start_ns: i64,
    end_ns: i64,
    threads: usize,
) -> Result<Vec<(i64, At)>> {
    let units = units(files, search, start_ns, end_ns)?;
    scan_units(files, &units, search, start_ns, end_ns, threads)
}

/// The matches in row groups `units`: (start ns, where).
pub(crate) fn scan_units(
    files: &[ScanFile],
    units: &[Unit],
    search: &SpanSearch,
    start_ns: i64,
    end_ns: i64,
    threads: usize,
) -> Result<Vec<(i64, At)>> {
    // Tasks: up to SCAN_TASK_ROW_GROUPS row groups of one file each, in file order.
    let mut by_file: std::collections::BTreeMap<usize, Vec<Group>> = Default::default();
    for u in units {
        by_file.entry(u.file).or_default().push(u.group);
    }
    let mut tasks = Vec::new();
    for (f, mut groups) in by_file {
        groups.sort_by_key(|g| g.index);
        for chunk in groups.chunks(SCAN_TASK_ROW_GROUPS) {
            tasks.push((f, chunk.to_vec()));
        }
    }
    read_ahead(files, &tasks);
    let next = AtomicUsize::new(0);
    let work = || -> Result<Vec<(i64, At)>> {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some((f, groups)) = tasks.get(i) else {
                return Ok(out);
            };
            let (path, meta) = &files[*f];
            scan_groups(
                path,
                meta,
                groups,
                search,
                start_ns,
                end_ns,
                &mut |start, row| out.push((start, At::File { file: *f, row })),
            )?;
        }
    };
    let threads = threads.clamp(1, tasks.len().max(1));
    if threads == 1 {
        return work();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
        let mut all = Vec::new();
        for h in handles {
            match h.join() {
                Ok(found) => all.extend(found?),
                Err(_) => {
                    return Err(Error::Io {
                        path: files.first().map(|f| f.0.clone()).unwrap_or_default(),
                        source: std::io::Error::other("a trace search scan thread panicked"),
                    });
                }
            }
        }
        Ok(all)
    })
}

/// Columns the scan decodes.
const SCAN_COLUMNS: [&str; 4] = ["service_name", "name", "start_time", "duration_ns"];

/// Asks the kernel for every column chunk the scan `tasks` (file, row groups) will read,
/// at once, so that chunks not in memory are read in parallel rather than one after
/// another as the scan reaches them ([`prefetch`]).
fn read_ahead(files: &[ScanFile], tasks: &[(usize, Vec<Group>)]) {
    let mut by_file: std::collections::BTreeMap<usize, Vec<(u64, u64)>> = Default::default();
    for (f, groups) in tasks {
        let Some((_, meta)) = files.get(*f) else {
            continue;
        };
        let md = meta.plain.metadata();
        let leaves: Vec<usize> = SCAN_COLUMNS
            .iter()
            .filter_map(|c| leaf(&meta.plain, c))
            .collect();
        let ranges = by_file.entry(*f).or_default();
        for g in groups {
            if let Some(rg) = md.row_groups().get(g.index) {
                ranges.extend(leaves.iter().map(|&l| rg.column(l).byte_range()));
            }
        }
    }
    for (f, ranges) in by_file {
        if let Ok(file) = File::open(&files[f].0) {
            prefetch::will_need(&file, ranges);
        }
    }
}

/// The (min, max) start time a row group's statistics give.
type TimeRange = (i64, i64);

/// A row group's first row in the file and its row count.
#[derive(Debug, Clone, Copy)]
struct Group {
    index: usize,
    first_row: u64,
    rows: u64,
}

fn leaf(meta: &ArrowReaderMetadata, name: &str) -> Option<usize> {
    meta.parquet_schema()
        .columns()
        .iter()
        .position(|c| c.path().string() == name)
}

/// The `(min, max)` of an `INT64` column chunk, when its statistics have both.
fn min_max(stats: Option<&Statistics>) -> Option<(i64, i64)> {
    match stats {
        Some(Statistics::Int64(s)) => Some((*s.min_opt()?, *s.max_opt()?)),
        _ => None,
    }
}

/// The row groups of a file that may hold a match, by the statistics of `start_time` and
/// `duration_ns`, each with its `start_time` range when its statistics have one.
fn row_groups(
    path: &Path,
    meta: &SpansFileMeta,
    search: &SpanSearch,
    start_ns: i64,
    end_ns: i64,
) -> Result<Vec<(Group, Option<TimeRange>)>> {
    let m = &meta.plain;
    let (Some(start), Some(duration)) = (leaf(m, "start_time"), leaf(m, "duration_ns")) else {
        return Err(bad(path, "no start_time or duration_ns column"));
    };
    let mut out = Vec::new();
    let mut first_row = 0u64;
    for (index, rg) in m.metadata().row_groups().iter().enumerate() {
        let rows = u64::try_from(rg.num_rows()).unwrap_or(0);
        let times = min_max(rg.column(start).statistics());
        let times_meet = times.is_none_or(|(lo, hi)| hi >= start_ns && lo <= end_ns);
        let durations_meet = min_max(rg.column(duration).statistics()).is_none_or(|(lo, hi)| {
            search.min_duration_ns.is_none_or(|m| hi >= m)
                && search.max_duration_ns.is_none_or(|m| lo <= m)
        });
        if rows > 0 && times_meet && durations_meet {
            out.push((
                Group {
                    index,
                    first_row,
                    rows,
                },
                times,
            ));
        }
        first_row += rows;
    }
    Ok(out)
}

/// A string column of a scan batch, compared with one value.
enum StrEq<'a> {
    /// Dictionary keys, and which dictionary entries equal the value.
    Dict {
        keys: &'a [i32],
        equal: Vec<bool>,
        array: &'a dyn Array,
    },
    Plain(&'a StringArray, &'a str),
}

impl<'a> StrEq<'a> {
    fn new(col: &'a ArrayRef, want: &'a str) -> Option<Self> {
        if let Some(d) = col.as_dictionary_opt::<Int32Type>() {
            let values = d.values().as_string_opt::<i32>()?;
            let equal = (0..values.len())
                .map(|i| values.is_valid(i) && values.value(i) == want)
                .collect();
            return Some(Self::Dict {
                keys: d.keys().values(),
                equal,
                array: col.as_ref(),
            });
        }
        col.as_string_opt::<i32>().map(|a| Self::Plain(a, want))
    }

    fn at(&self, i: usize) -> bool {
        match self {
            Self::Dict { keys, equal, array } => {
                array.is_valid(i) && usize::try_from(keys[i]).is_ok_and(|k| equal[k])
            }
            Self::Plain(a, want) => a.is_valid(i) && a.value(i) == *want,
        }
    }
}

/// Scans row groups `groups` of a file, calling `found(start_ns, row in file)` for each
/// match, in row order.
fn scan_groups(
    path: &Path,
    meta: &SpansFileMeta,
    groups: &[Group],
    search: &SpanSearch,
    start_ns: i64,
    end_ns: i64,
    found: &mut dyn FnMut(i64, u64),
) -> Result<()> {
    if groups.is_empty() {
        return Ok(());
    }
    let m = meta.dict.as_ref().unwrap_or(&meta.plain);
    let schema = m.schema().clone();
    let col = |name: &str| schema.index_of(name).map_err(|e| bad(path, e));
    let roots = SCAN_COLUMNS
        .iter()
        .map(|c| col(c))
        .collect::<Result<Vec<_>>>()?;
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, m.clone());
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_row_groups(groups.iter().map(|g| g.index).collect())
        .with_batch_size(SCAN_BATCH_ROWS)
        .build()
        .map_err(|e| bad(path, e))?;
    // Batches run through the row groups in order, possibly across their boundaries.
    let (mut group, mut in_group) = (0usize, 0u64);
    for batch in reader {
        let batch = batch.map_err(|e| bad(path, e))?;
        let rows = batch.num_rows();
        let by_name = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| bad(path, format!("the scan lost column {name}")))
        };
        let service_col = by_name("service_name")?;
        let name_col = by_name("name")?;
        let service = StrEq::new(service_col, &search.service)
            .ok_or_else(|| bad(path, "service_name is not a string column"))?;
        let op = match &search.operation {
            Some(o) => Some(
                StrEq::new(name_col, o).ok_or_else(|| bad(path, "name is not a string column"))?,
            ),
            None => None,
        };
        let starts = by_name("start_time")?
            .as_primitive_opt::<TimestampNanosecondType>()
            .ok_or_else(|| bad(path, "start_time is not a ns timestamp"))?;
        let durations = by_name("duration_ns")?
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| bad(path, "duration_ns is not Int64"))?;
        let (starts, durations) = (starts.values(), durations.values());
        for i in 0..rows {
            let start = starts[i];
            if service.at(i)
                && (start_ns..=end_ns).contains(&start)
                && search.duration_ok(durations[i])
                && op.as_ref().is_none_or(|o| o.at(i))
            {
                // Row i of the batch is row `in_group + offset` of the current group.
                let (mut g, mut at) = (group, in_group + i as u64);
                while g < groups.len() && at >= groups[g].rows {
                    at -= groups[g].rows;
                    g += 1;
                }
                if let Some(gr) = groups.get(g) {
                    found(start, gr.first_row + at);
                }
            }
        }
        in_group += rows as u64;
        while group < groups.len() && in_group >= groups[group].rows {
            in_group -= groups[group].rows;
            group += 1;
        }
    }
    Ok(())
}

/// The first `limit` traces of `matches` (sorted newest first), reading the trace ids of
/// file rows in growing chunks from the front.
pub(crate) fn rank(
    files: &[ScanFile],
    matches: &[(i64, At)],
    limit: usize,
) -> Result<Vec<(TraceId, i64)>> {
    let mut ids: Vec<TraceId> = Vec::new();
    let mut chunk = limit.max(FIRST_CHUNK);
    while !complete(matches, &ids, limit) {
        let end = (ids.len() + chunk).min(matches.len());
        let mut wanted: HashMap<usize, Vec<(u64, usize)>> = HashMap::new();
        let mut got: Vec<Option<TraceId>> = Vec::with_capacity(end - ids.len());
        for (i, (_, at)) in matches[ids.len()..end].iter().enumerate() {
            match at {
                At::Memory(id) => got.push(Some(*id)),
                At::File { file, row } => {
                    got.push(None);
                    wanted.entry(*file).or_default().push((*row, i));
                }
            }
        }
        for (file, mut rows) in wanted {
            rows.sort_unstable();
            let (path, meta) = &files[file];
            let found = read_ids(path, meta, rows.iter().map(|r| r.0))?;
            if found.len() != rows.len() {
                return Err(bad(path, "the trace ids of a search's rows are missing"));
            }
            for ((_, i), id) in rows.into_iter().zip(found) {
                got[i] = Some(id);
            }
        }
        for id in got {
            ids.push(
                id.ok_or_else(|| bad(Path::new("<search>"), "a match's trace id was not read"))?,
            );
        }
        chunk = chunk.saturating_mul(2);
    }
    // Each trace's newest match is its first in `matches`.
    let mut seen = HashSet::new();
    let mut out: Vec<(TraceId, i64)> = ids
        .iter()
        .zip(matches)
        .filter(|(id, _)| seen.insert(**id))
        .map(|(id, m)| (*id, m.0))
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out.truncate(limit);
    Ok(out)
}

/// Whether the trace ids of the first `ids.len()` matches settle the first `limit` traces:
/// every match is read, or `limit` distinct traces are, and the next match is older than
/// the newest match of the `limit`-th of them (so it can neither beat nor tie it).
fn complete(matches: &[(i64, At)], ids: &[TraceId], limit: usize) -> bool {
    if ids.len() >= matches.len() {
        return true;
    }
    let mut seen = HashSet::new();
    for (i, id) in ids.iter().enumerate() {
        if seen.insert(*id) && seen.len() == limit {
            return matches[ids.len()].0 < matches[i].0;
        }
    }
    false
}

/// The `trace_id` of each row in `rows` (ascending, distinct) of a spans file, in order:
/// only the pages holding those rows are read (by the page index of their row groups).
fn read_ids(
    path: &Path,
    meta: &SpansFileMeta,
    rows: impl Iterator<Item = u64>,
) -> Result<Vec<TraceId>> {
    let groups: Vec<u64> = meta
        .plain
        .metadata()
        .row_groups()
        .iter()
        .map(|rg| u64::try_from(rg.num_rows()).unwrap_or(0))
        .collect();
    // Row groups holding a row, and each row's position among the rows of those groups.
    let mut keep: Vec<usize> = Vec::new();
    let mut positions: Vec<u64> = Vec::new();
    // Per kept row group, its rows wanted (for reading their pages ahead).
    let mut in_group: Vec<Vec<std::ops::Range<usize>>> = Vec::new();
    let (mut g, mut first, mut kept_before) = (0usize, 0u64, 0u64);
    for row in rows {
        while g < groups.len() && row >= first + groups[g] {
            if keep.last() == Some(&g) {
                kept_before += groups[g];
            }
            first += groups[g];
            g += 1;
        }
        if g == groups.len() {
            return Err(bad(path, format!("row {row} is past the end of the file")));
        }
        if keep.last() != Some(&g) {
            keep.push(g);
            in_group.push(Vec::new());
        }
        positions.push(kept_before + (row - first));
        let r = usize::try_from(row - first).unwrap_or(usize::MAX);
        if let Some(ranges) = in_group.last_mut() {
            ranges.push(r..r.saturating_add(1));
        }
    }
    if keep.is_empty() {
        return Ok(Vec::new());
    }
    let total: u64 = keep.iter().map(|&g| groups[g]).sum();
    let mut selectors = Vec::new();
    let mut at = 0u64;
    for p in positions {
        if p > at {
            selectors.push(RowSelector::skip((p - at) as usize));
        }
        selectors.push(RowSelector::select(1));
        at = p + 1;
    }
    if total > at {
        selectors.push(RowSelector::skip((total - at) as usize));
    }
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    // Those row groups alone (row group `i` of `narrowed` is `keep[i]`), with their page
    // index.
    let narrowed = meta.for_groups(path, &file, &keep)?;
    let ahead = prefetch::page_ranges(narrowed.metadata(), &in_group, &[meta.trace_id_leaf]);
    prefetch::will_need(&file, ahead);
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, narrowed);
    let col = builder
        .schema()
        .index_of("trace_id")
        .map_err(|e| bad(path, e))?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [col]);
    let reader = builder
        .with_projection(mask)
        .with_row_groups((0..keep.len()).collect())
        .with_row_selection(RowSelection::from(selectors))
        .build()
        .map_err(|e| bad(path, e))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch.map_err(|e| bad(path, e))?;
        let ids = batch
            .column(0)
            .as_fixed_size_binary_opt()
            .ok_or_else(|| bad(path, "trace_id is not FixedSizeBinary"))?;
        for i in 0..ids.len() {
            let id = TraceId::try_from(ids.value(i))
                .map_err(|_| bad(path, "a trace_id is not 16 bytes"))?;
            out.push(id);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::{Engine, TenantId};
    use parquet::file::properties::{EnabledStatistics, WriterProperties};

    use super::*;
    use crate::spans_logs::store::NS_PER_MS;
    use crate::{EngineConfig, ManualClock};

    const SERVICES: [&str; 3] = ["shop", "db", "cache"];
    const NAMES: [&str; 3] = ["GET /", "POST /pay", "SELECT"];

    /// `n` spans over `traces` traces from `t0` (ns): starts on a coarse grid (many ties),
    /// services, names and durations cycling at different periods. Trace 0 has a run of
    /// newest `shop`/`GET /` spans, so ranking needs several rounds to see a second trace.
    fn spans(n: u32, traces: u32, t0: i64, salt: u8) -> Vec<SpanRecord> {
        (0..n)
            .map(|i| {
                let t = (i.wrapping_mul(2_654_435_761) >> 3) % traces;
                let mut trace_id = [salt; 16];
                trace_id[..4].copy_from_slice(&t.to_be_bytes());
                let mut span_id = [salt; 8];
                span_id[..4].copy_from_slice(&i.to_be_bytes());
                let newest = t == 0 && i % 3 == 0;
                let start_ns = if newest {
                    t0 + 3_000 * NS_PER_MS
                } else {
                    t0 + i64::from(i % 997) * NS_PER_MS
                };
                SpanRecord {
                    trace_id,
                    span_id,
                    service_name: if newest {
                        "shop"
                    } else {
                        SERVICES[(i % 3) as usize]
                    }
                    .into(),
                    name: if newest {
                        "GET /"
                    } else {
                        NAMES[(i / 3 % 3) as usize]
                    }
                    .into(),
                    start_ns,
                    end_ns: start_ns + i64::from(i % 11) * NS_PER_MS,
                    ..SpanRecord::default()
                }
            })
            .collect()
    }

    /// The answer by definition: every matching span, each trace's newest, ranked.
    fn brute(
        all: &[SpanRecord],
        q: &SpanSearch,
        lo: i64,
        hi: i64,
        limit: usize,
    ) -> Vec<(TraceId, i64)> {
        let mut newest: HashMap<TraceId, i64> = HashMap::new();
        for s in all.iter().filter(|s| q.matches(s, lo, hi)) {
            let e = newest.entry(s.trace_id).or_insert(s.start_ns);
            *e = (*e).max(s.start_ns);
        }
        let mut v: Vec<_> = newest.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(limit);
        v
    }

    fn searches() -> Vec<SpanSearch> {
        let q = |op: Option<&str>, min: Option<i64>, max: Option<i64>| SpanSearch {
            service: "shop".into(),
            operation: op.map(str::to_owned),
            min_duration_ns: min.map(|m| m * NS_PER_MS),
            max_duration_ns: max.map(|m| m * NS_PER_MS),
        };
        vec![
            q(None, None, None),
            q(Some("GET /"), None, None),
            q(Some("POST /pay"), Some(3), Some(7)),
            q(None, Some(10), None),
            q(None, None, Some(0)),
            q(Some("nothing"), None, None),
            SpanSearch {
                service: "nobody".into(),
                ..SpanSearch::default()
            },
        ]
    }

    /// A file with small row groups and pages (so scan batches cross row groups, and ids
    /// are read from a few pages of many), scanned and ranked as the engine does.
    #[test]
    fn the_scan_and_ranking_of_a_file_equal_the_definition() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.parquet");
        let t0 = 1_700_000_000_000 * NS_PER_MS;
        let mut all = spans(20_000, 700, t0, 1);
        all.sort_by_key(|s| (s.trace_id, s.start_ns));
        let rows: Vec<&SpanRecord> = all.iter().collect();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(1_000))
            .set_data_page_row_count_limit(300)
            .set_write_batch_size(100)
            .set_statistics_enabled(EnabledStatistics::Page)
            .build();
        let batch = crate::spans_logs::spans::arrow::spans_batch(&rows).unwrap();
        crate::storage::parquet_io::write_file(&path, &batch, props).unwrap();
        let meta = Arc::new(SpansFileMeta::load(&path).unwrap());
        assert!(meta.dict.is_some(), "service and name read as dictionaries");
        assert!(meta.plain.metadata().num_row_groups() >= 20);
        let files = vec![(path.clone(), meta)];
        let windows = [
            (t0, t0 + 10_000 * NS_PER_MS),
            (t0 + 100 * NS_PER_MS, t0 + 500 * NS_PER_MS),
            (t0 + 3_000 * NS_PER_MS, t0 + 3_000 * NS_PER_MS),
        ];
        let mut non_empty = 0;
        for q in searches() {
            for (lo, hi) in windows {
                for threads in [1, 3] {
                    let mut matches = scan(&files, &q, lo, hi, threads).unwrap();
                    matches.sort_unstable_by_key(|m| std::cmp::Reverse(m.0));
                    for limit in [1, 2, 7, 20, 100_000] {
                        let want = brute(&all, &q, lo, hi, limit);
                        let got = rank(&files, &matches, limit).unwrap();
                        assert_eq!(got, want, "{q:?} [{lo}, {hi}] limit {limit}");
                        non_empty += usize::from(!want.is_empty());
                    }
                }
            }
        }
        assert!(non_empty > 50, "{non_empty}");
    }

    /// An engine on `dir` whose clock stands still, the clock's time (ms) and a tenant.
    fn engine_at(dir: &Path) -> (Engine, i64, TenantId) {
        let now_ms = 1_763_730_000_000;
        let engine =
            Engine::open_with_clock(dir, EngineConfig::default(), ManualClock::new(now_ms))
                .unwrap();
        (engine, now_ms, TenantId::new("t").unwrap())
    }

    /// Through the engine: two flushed files and records in memory of one hour.
    #[test]
    fn search_traces_over_files_and_memory_equals_the_definition() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, now_ms, t) = engine_at(dir.path());
        let t0 = (now_ms - 3_600_000) * NS_PER_MS;
        let mut all = Vec::new();
        for (salt, flush) in [(1u8, true), (2, true), (1, false)] {
            let batch = spans(3_000, 150, t0, salt);
            assert_eq!(engine.write_spans(&t, &batch).unwrap().accepted, 3_000);
            if flush {
                engine.flush().unwrap();
            }
            all.extend(batch);
        }
        let snap = engine.spans_snapshot(&t, 0, i64::MAX).unwrap();
        assert_eq!((snap.files.len(), snap.memory.len()), (2, 1));
        for q in searches() {
            for limit in [1, 3, 20, 10_000] {
                let (lo, hi) = (t0, t0 + 5_000 * NS_PER_MS);
                let got = engine.search_traces(&t, &q, lo, hi, limit, 2).unwrap();
                assert_eq!(got, brute(&all, &q, lo, hi, limit), "{q:?} limit {limit}");
            }
        }
    }

    /// Flushes of different times (files whose row groups' time ranges differ): the search
    /// scans them newest first in waves and stops early, with the definition's answer.
    #[test]
    fn a_search_stopping_early_over_flushes_of_different_times_equals_the_definition() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, now_ms, t) = engine_at(dir.path());
        let hour = (now_ms - 2 * 3_600_000) / 3_600_000 * 3_600_000;
        let mut all = Vec::new();
        // Six flushes of ten minutes each, the last one's records left in memory.
        for step in 0..6u8 {
            let t0 = (hour + i64::from(step) * 600_000) * NS_PER_MS;
            let batch = spans(2_000, 90, t0, step + 1);
            assert_eq!(engine.write_spans(&t, &batch).unwrap().accepted, 2_000);
            if step < 5 {
                engine.flush().unwrap();
            }
            all.extend(batch);
        }
        let (lo, hi) = (hour * NS_PER_MS, (hour + 3_600_000) * NS_PER_MS - 1);
        for q in searches() {
            for limit in [1, 2, 5, 40, 200, 10_000] {
                for threads in [1, 2] {
                    let got = engine
                        .search_traces(&t, &q, lo, hi, limit, threads)
                        .unwrap();
                    assert_eq!(got, brute(&all, &q, lo, hi, limit), "{q:?} limit {limit}");
                }
            }
        }
        // After compaction (one file, row groups of different times), the same.
        engine.compact_all().unwrap();
        assert_eq!(
            engine.spans_snapshot(&t, 0, i64::MAX).unwrap().files.len(),
            1
        );
        for q in searches() {
            for limit in [1, 5, 200] {
                let got = engine.search_traces(&t, &q, lo, hi, limit, 2).unwrap();
                assert_eq!(got, brute(&all, &q, lo, hi, limit), "{q:?} limit {limit}");
            }
        }
    }
}
