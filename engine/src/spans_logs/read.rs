//! Reading spans and logs: snapshots for query engines (files held open plus memory as
//! Arrow batches, like [`crate::Snapshot`] for metrics), and the trace-by-id lookup, which
//! prunes files by time, then row groups by their bloom filter on `trace_id`, and decodes
//! only the rows of the trace.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{Array, AsArray};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::reader::{ChunkReader, Length};

use crate::spans_logs::bloom::{BLOCK as BLOOM_BLOCK, FileBlooms};
use crate::spans_logs::meta::SpansFileMeta;
use crate::spans_logs::ranged::{RangedFile, RangedRead};
use crate::spans_logs::spans::trace_filter::TraceFilter;
use crate::spans_logs::store::{NS_PER_MS, SignalStore, StoredRecord};
use crate::storage::parquet_io::bad;
use crate::storage::prefetch;
use crate::{Error, Result, SnapshotFile, SpanRecord, TenantId, TraceId};

/// What one tenant holds of spans or logs in a time range, read consistently: the
/// committed files whose range meets it (held: compaction or retention cannot delete them
/// while the snapshot lives) and the records in memory whose time is in it.
#[derive(Debug, Clone)]
pub struct SignalSnapshot {
    /// Committed files (schema [`crate::spans_schema`] or [`crate::logs_schema`]), oldest
    /// flush first; each sorted (spans by (trace_id, start_time), logs by (service_name,
    /// time)) with statistics, the page index and a bloom filter on `trace_id`. Their rows may lie outside the range: filter on time.
    pub files: Vec<SnapshotFile>,
    /// Records in memory with their time in the range, older source first (a flush in
    /// progress, then the head); same schema as the files.
    pub memory: Vec<RecordBatch>,
}

/// What a trace lookup touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceLookupStats {
    /// Files whose time range meets the lookup's.
    pub files: usize,
    /// Of those, files that cannot hold the trace: by their trace-id filter file (one
    /// block read) or, without one, by every row group's bloom filter (one block each).
    pub files_skipped: usize,
    /// Row groups in those files.
    pub row_groups: usize,
    /// Row groups read (their bloom filter may hold the id).
    pub row_groups_read: usize,
    /// Bytes read from files: footers, bloom filters and the pages of the row groups read.
    pub bytes_read: u64,
}

/// The inclusive ms range covering `[start_ns, end_ns]`.
pub(crate) fn ms_range(start_ns: i64, end_ns: i64) -> (i64, i64) {
    (
        start_ns.div_euclid(NS_PER_MS),
        end_ns.div_euclid(NS_PER_MS) + i64::from(end_ns.rem_euclid(NS_PER_MS) != 0),
    )
}

/// `tenant`'s records of `store` in `[start_ns, end_ns]`; with `defer`, a bucket's data
/// files are not fetched ([`SnapshotFile::deferred`]).
pub(crate) fn snapshot<R: StoredRecord>(
    store: &SignalStore<R>,
    tenant: &TenantId,
    (start_ns, end_ns): (i64, i64),
    defer: bool,
) -> Result<SignalSnapshot> {
    let (start_ms, end_ms) = ms_range(start_ns, end_ns);
    // Memory and files in one step (see `SignalStore::with_memory`): each record once.
    let mut memory = Vec::new();
    let parts = store.with_memory(tenant, start_ms, end_ms, |recs| {
        let rows: Vec<&R> = recs
            .iter()
            .filter(|r| (start_ns..=end_ns).contains(&r.time_ns()))
            .collect();
        if !rows.is_empty() {
            memory.push(R::to_batch(&rows)?);
        }
        Ok(())
    })?;
    let mut files = Vec::new();
    for part in parts {
        files.push(if defer {
            SnapshotFile::deferred(part)?
        } else {
            SnapshotFile::new(part)?
        });
    }
    Ok(SignalSnapshot { files, memory })
}

/// Byte ranges of a file: (offset, length).
pub(crate) type Ranges = Arc<Mutex<Vec<(u64, u64)>>>;

/// What a [`read_traces`] did to its file, recorded for tests: the ranges it read and
/// those it asked the kernel to read ahead.
#[derive(Clone, Default)]
pub(crate) struct Recorded {
    pub(crate) read: Ranges,
    pub(crate) ahead: Ranges,
}

/// Where a [`Counted`] reads: a file on the local disk, or a bucket's by ranged GETs.
#[derive(Clone)]
enum Source {
    Local(Arc<File>),
    Ranged(Arc<RangedFile>),
}

/// A file that counts (and optionally records) the bytes read from it; clones share the
/// file and the counts.
#[derive(Clone)]
struct Counted {
    file: Source,
    bytes: Arc<AtomicU64>,
    ranges: Option<Ranges>,
    ahead: Option<Ranges>,
}

impl Counted {
    fn note(&self, start: u64, len: u64) {
        self.bytes.fetch_add(len, Ordering::Relaxed);
        if let Some(r) = &self.ranges {
            r.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((start, len));
        }
    }

    /// Asks the kernel to read `ranges` ahead ([`prefetch::will_need`]), or fetches them
    /// from the bucket in as few GETs as they allow. A failed fetch is left to the read
    /// that needs the bytes, which fails with the bucket's error.
    fn will_need(&self, ranges: Vec<(u64, u64)>) {
        if let Some(r) = &self.ahead {
            r.lock().unwrap_or_else(|p| p.into_inner()).extend(&ranges);
        }
        match &self.file {
            Source::Local(file) => prefetch::will_need(file, ranges),
            Source::Ranged(file) => {
                let _ = file.fetch_ahead(ranges);
            }
        }
    }
}

impl Length for Counted {
    fn len(&self) -> u64 {
        match &self.file {
            Source::Local(file) => Length::len(&**file),
            Source::Ranged(file) => Length::len(&**file),
        }
    }
}

/// A reader over part of a [`Counted`] file, counting as it goes.
struct CountedRead {
    inner: Box<dyn Read + Send>,
    start: u64,
    read: u64,
    bytes: Arc<AtomicU64>,
    ranges: Option<Ranges>,
}

impl Read for CountedRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(r) = &self.ranges {
            r.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((self.start + self.read, n as u64));
        }
        self.read += n as u64;
        Ok(n)
    }
}

impl ChunkReader for Counted {
    type T = CountedRead;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let inner: Box<dyn Read + Send> = match &self.file {
            Source::Local(file) => Box::new(ChunkReader::get_read(&**file, start)?),
            Source::Ranged(file) => Box::new(RangedRead::new((**file).clone(), start)),
        };
        Ok(CountedRead {
            inner,
            start,
            read: 0,
            bytes: self.bytes.clone(),
            ranges: self.ranges.clone(),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let b = match &self.file {
            Source::Local(file) => ChunkReader::get_bytes(&**file, start, length)?,
            Source::Ranged(file) => ChunkReader::get_bytes(&**file, start, length)?,
        };
        self.note(start, b.len() as u64);
        Ok(b)
    }
}

/// The rows of row group `rg` of `md` whose `trace_id` (leaf `leaf`) page may hold one of
/// `ids` (by the page index: page min and max ids), as ranges within the row group; the
/// whole row group when there is no page index.
fn candidate_rows(
    md: &ParquetMetaData,
    leaf: usize,
    rg: usize,
    rows: usize,
    ids: &[TraceId],
) -> Vec<Range<usize>> {
    let (Some(ColumnIndexMetaData::FIXED_LEN_BYTE_ARRAY(index)), Some(offsets)) = (
        md.column_index()
            .and_then(|c| c.get(rg))
            .and_then(|c| c.get(leaf)),
        md.offset_index()
            .and_then(|o| o.get(rg))
            .and_then(|o| o.get(leaf)),
    ) else {
        return vec![Range {
            start: 0,
            end: rows,
        }];
    };
    let pages = offsets.page_locations();
    if index.num_pages() as usize != pages.len() {
        return vec![Range {
            start: 0,
            end: rows,
        }];
    }
    let mut out: Vec<Range<usize>> = Vec::new();
    for (p, loc) in pages.iter().enumerate() {
        let (Some(min), Some(max)) = (index.min_value(p), index.max_value(p)) else {
            continue;
        };
        if !ids.iter().any(|id| min <= &id[..] && &id[..] <= max) {
            continue;
        }
        let first = usize::try_from(loc.first_row_index).unwrap_or(0).min(rows);
        let end = pages.get(p + 1).map_or(rows, |n| {
            usize::try_from(n.first_row_index).unwrap_or(rows).min(rows)
        });
        match out.last_mut() {
            Some(last) if last.end == first => last.end = end,
            _ => out.push(first..end),
        }
    }
    out
}

/// The spans of `ids` in a spans file whose filters are `blooms` (in file order, ids
/// mixed): row groups whose bloom filter rules out every id are not read (a file with none
/// left is not even opened, and `meta` may be `None`); of the others, the page index alone
/// is read, then only the pages of `trace_id` whose min and max ids may hold one of the
/// ids, then only the pages holding rows with the ids, and only those rows are decoded.
pub(crate) fn read_traces(
    path: &Path,
    meta: Option<&SpansFileMeta>,
    blooms: &FileBlooms,
    ids: &[TraceId],
    stats: &mut TraceLookupStats,
    record: Option<&Recorded>,
) -> Result<Vec<SpanRecord>> {
    // Per row group, the ids its filter may hold.
    let mut by_group: BTreeMap<usize, Vec<TraceId>> = BTreeMap::new();
    for id in ids {
        for g in blooms.candidates(id) {
            by_group.entry(g).or_default().push(*id);
        }
    }
    stats.files += 1;
    stats.row_groups += blooms.row_groups();
    stats.row_groups_read += by_group.len();
    stats.bytes_read += (blooms.row_groups() * BLOOM_BLOCK * ids.len()) as u64;
    let Some(meta) = meta.filter(|_| !by_group.is_empty()) else {
        stats.files_skipped += usize::from(by_group.is_empty());
        return Ok(Vec::new());
    };
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    read_from(
        path,
        meta,
        Source::Local(Arc::new(file)),
        &by_group,
        ids,
        stats,
        record,
    )
}

/// The spans of `ids` in the spans file at `path` (`meta` its footer, read from `file`),
/// which is not on the local disk: a lookup by byte ranges ([`RangedFile`]). The row
/// groups that may hold an id are those whose `trace_id` range holds it and, when `filter`
/// (the file's trace-id filter, fetched with the set) is given, whose filter in its
/// row-group table does (the row groups' own filters in the file are not read: a GET
/// each); then as [`read_traces`].
pub(crate) fn read_traces_ranged(
    path: &Path,
    meta: &SpansFileMeta,
    filter: Option<&TraceFilter>,
    file: Arc<RangedFile>,
    ids: &[TraceId],
    stats: &mut TraceLookupStats,
) -> Result<Vec<SpanRecord>> {
    let mut by_group: BTreeMap<usize, Vec<TraceId>> = BTreeMap::new();
    let groups = meta.plain.metadata().row_groups();
    // Per id, the row groups its table entry allows (every one without a usable table).
    let allowed: Vec<Option<Vec<usize>>> = ids
        .iter()
        .map(|id| {
            filter
                .filter(|f| f.groups().len() == groups.len())
                .map(|f| f.groups_may_hold(id))
        })
        .collect();
    for (g, rg) in groups.iter().enumerate() {
        let range = meta.trace_id_range(rg);
        for (id, allowed) in ids.iter().zip(&allowed) {
            if range.is_none_or(|(lo, hi)| lo <= &id[..] && &id[..] <= hi)
                && allowed.as_ref().is_none_or(|a| a.binary_search(&g).is_ok())
            {
                by_group.entry(g).or_default().push(*id);
            }
        }
    }
    stats.files += 1;
    stats.row_groups += groups.len();
    stats.row_groups_read += by_group.len();
    if by_group.is_empty() {
        stats.files_skipped += 1;
        return Ok(Vec::new());
    }
    // Their page index (column and offset indexes lie together near the footer), in one
    // GET before it is read index by index.
    let index: Vec<(u64, u64)> = by_group
        .keys()
        .filter_map(|&g| groups.get(g))
        .flat_map(|rg| rg.columns())
        .flat_map(|c| {
            [
                c.column_index_offset().zip(c.column_index_length()),
                c.offset_index_offset().zip(c.offset_index_length()),
            ]
        })
        .flatten()
        .filter_map(|(at, len)| Some((u64::try_from(at).ok()?, u64::try_from(len).ok()?)))
        .collect();
    file.fetch_ahead(index)?;
    let source = Source::Ranged(file);
    read_from(path, meta, source, &by_group, ids, stats, None)
}

/// [`read_groups`] over `file`, counting the bytes read in `stats`.
fn read_from(
    path: &Path,
    meta: &SpansFileMeta,
    file: Source,
    by_group: &BTreeMap<usize, Vec<TraceId>>,
    ids: &[TraceId],
    stats: &mut TraceLookupStats,
    record: Option<&Recorded>,
) -> Result<Vec<SpanRecord>> {
    let bytes = Arc::new(AtomicU64::new(0));
    let counted = Counted {
        file,
        bytes: bytes.clone(),
        ranges: record.map(|r| r.read.clone()),
        ahead: record.map(|r| r.ahead.clone()),
    };
    let result = read_groups(path, meta, &counted, by_group, ids);
    stats.bytes_read += bytes.load(Ordering::Relaxed);
    result
}

/// [`read_traces`] in the row groups `by_group` names (with the ids each may hold): the
/// `trace_id` pages the page index allows are read first, to find the rows of the ids;
/// then every page those rows need is asked of the kernel at once ([`prefetch`]) and the
/// rows are decoded.
fn read_groups(
    path: &Path,
    meta: &SpansFileMeta,
    counted: &Counted,
    by_group: &BTreeMap<usize, Vec<TraceId>>,
    ids: &[TraceId],
) -> Result<Vec<SpanRecord>> {
    let groups: Vec<usize> = by_group.keys().copied().collect();
    // Those row groups alone, with their page index.
    let narrowed = meta.for_groups(path, counted, &groups)?;
    let md = narrowed.metadata();
    // Per kept row group, the rows whose `trace_id` page may hold one of its ids.
    let candidates: Vec<Vec<Range<usize>>> = by_group
        .values()
        .enumerate()
        .map(|(i, group_ids)| {
            candidate_rows(md, meta.trace_id_leaf, i, group_rows(md, i), group_ids)
        })
        .collect();
    if candidates.iter().all(Vec::is_empty) {
        return Ok(Vec::new());
    }
    if let Source::Ranged(file) = &counted.file {
        // From a bucket, each read is a request: fetch the pages of every column that
        // cover the candidate rows at once (the rows of the ids lie within them), so the
        // `trace_id` pages and the rows' pages below cost one round of GETs, not two. A
        // failure is left to the reads, which fail with it.
        let leaves: Vec<usize> = (0..narrowed.parquet_schema().num_columns()).collect();
        let _ = file.fetch_ahead(prefetch::page_ranges(md, &candidates, &leaves));
    }
    let rows = matching_rows(
        path,
        counted,
        &narrowed,
        meta.trace_id_leaf,
        &candidates,
        ids,
    )?;
    if rows.iter().all(Vec::is_empty) {
        return Ok(Vec::new());
    }
    let leaves: Vec<usize> = (0..narrowed.parquet_schema().num_columns()).collect();
    counted.will_need(prefetch::page_ranges(md, &rows, &leaves));
    let (keep, selection) = selection(md, &rows);
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(counted.clone(), narrowed)
        .with_row_groups(keep)
        .with_row_selection(selection)
        .build()
        .map_err(|e| bad(path, e))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(path, e))?;
        out.extend(SpanRecord::from_batch(&batch, path)?);
    }
    Ok(out)
}

/// Rows in row group `g` of `md`.
fn group_rows(md: &ParquetMetaData, g: usize) -> usize {
    md.row_groups()
        .get(g)
        .map_or(0, |rg| usize::try_from(rg.num_rows()).unwrap_or(0))
}

/// The row groups of `md` with rows in `rows` (ranges within each row group, ascending),
/// and a selection of those rows over them.
fn selection(md: &ParquetMetaData, rows: &[Vec<Range<usize>>]) -> (Vec<usize>, RowSelection) {
    let mut keep = Vec::new();
    let mut selectors = Vec::new();
    for (g, wanted) in rows.iter().enumerate() {
        if wanted.is_empty() {
            continue;
        }
        keep.push(g);
        let mut at = 0;
        for r in wanted {
            if r.start > at {
                selectors.push(RowSelector::skip(r.start - at));
            }
            selectors.push(RowSelector::select(r.end - r.start));
            at = r.end;
        }
        let n = group_rows(md, g);
        if n > at {
            selectors.push(RowSelector::skip(n - at));
        }
    }
    (keep, RowSelection::from(selectors))
}

/// Of the `candidates` rows (per row group of `narrowed`), those whose `trace_id` (leaf
/// `leaf`) is one of `ids`, as ranges per row group: their `trace_id` pages read alone.
fn matching_rows(
    path: &Path,
    counted: &Counted,
    narrowed: &ArrowReaderMetadata,
    leaf: usize,
    candidates: &[Vec<Range<usize>>],
    ids: &[TraceId],
) -> Result<Vec<Vec<Range<usize>>>> {
    let md = narrowed.metadata();
    counted.will_need(prefetch::page_ranges(md, candidates, &[leaf]));
    let (keep, selection) = selection(md, candidates);
    let builder =
        ParquetRecordBatchReaderBuilder::new_with_metadata(counted.clone(), narrowed.clone());
    let col = builder
        .schema()
        .index_of("trace_id")
        .map_err(|e| bad(path, e))?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [col]);
    let reader = builder
        .with_projection(mask)
        .with_row_groups(keep)
        .with_row_selection(selection)
        .build()
        .map_err(|e| bad(path, e))?;
    // The candidate rows, in the order the reader returns them.
    let mut at = candidates.iter().enumerate().flat_map(|(g, ranges)| {
        ranges
            .iter()
            .flat_map(move |r| r.clone().map(move |row| (g, row)))
    });
    let mut out: Vec<Vec<Range<usize>>> = vec![Vec::new(); candidates.len()];
    for batch in reader {
        let batch = batch.map_err(|e| bad(path, e))?;
        let got = batch
            .column(0)
            .as_fixed_size_binary_opt()
            .ok_or_else(|| bad(path, "trace_id is not FixedSizeBinary"))?;
        for i in 0..got.len() {
            let (g, row) = at
                .next()
                .ok_or_else(|| bad(path, "more trace ids read than rows selected"))?;
            if got.is_valid(i) && ids.iter().any(|w| got.value(i) == &w[..]) {
                match out[g].last_mut() {
                    Some(last) if last.end == row => last.end = row + 1,
                    _ => out[g].push(row..row + 1),
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::Engine;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use std::path::PathBuf;

    use super::*;
    use crate::{AnyValue, EngineConfig, ManualClock};

    /// Reads of `ranges` that touch a column chunk (dictionary or data pages).
    fn page_reads(path: &Path, ranges: &Ranges) -> usize {
        pages_read(path, ranges).len()
    }

    /// The ranges of `ranges` that touch a column chunk.
    fn pages_read(path: &Path, ranges: &Ranges) -> Vec<(u64, u64)> {
        let meta = SerializedFileReader::new(File::open(path).unwrap())
            .unwrap()
            .metadata()
            .clone();
        let chunks: Vec<(u64, u64)> = meta
            .row_groups()
            .iter()
            .flat_map(|g| g.columns().iter().map(|c| c.byte_range()))
            .collect();
        let ranges = ranges.lock().unwrap();
        ranges
            .iter()
            .filter(|(s, l)| {
                chunks
                    .iter()
                    .any(|(cs, cl)| *s < cs + cl && *cs < s + l && *l > 0)
            })
            .copied()
            .collect()
    }

    /// `spans` written to a fresh engine in `dir` at `now_ms` and flushed: the one spans
    /// file, its filters and its kept footer.
    fn flushed(
        dir: &Path,
        now_ms: i64,
        spans: &[SpanRecord],
    ) -> (PathBuf, FileBlooms, SpansFileMeta) {
        let engine =
            Engine::open_with_clock(dir, EngineConfig::default(), ManualClock::new(now_ms))
                .unwrap();
        let t = TenantId::new("t").unwrap();
        let outcome = engine.write_spans(&t, spans).unwrap();
        assert_eq!(outcome.accepted, spans.len() as u64, "{outcome:?}");
        engine.flush().unwrap();
        let snap = engine.spans_snapshot(&t, 0, i64::MAX).unwrap();
        let path = snap.files[0].path();
        let blooms = FileBlooms::open(&path).unwrap();
        let meta = SpansFileMeta::load(&path).unwrap();
        (path, blooms, meta)
    }

    #[test]
    fn a_lookup_of_an_absent_trace_reads_no_page_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let now_ms = 1_763_730_000_000;
        let spans: Vec<SpanRecord> = (1..=100u8)
            .map(|i| SpanRecord {
                trace_id: [i; 16],
                span_id: [i; 8],
                service_name: format!("svc{}", i % 3),
                start_ns: now_ms * NS_PER_MS - i64::from(i),
                end_ns: now_ms * NS_PER_MS,
                ..SpanRecord::default()
            })
            .collect();
        let (path, blooms, meta) = flushed(dir.path(), now_ms, &spans);
        let record = Recorded::default();
        let ranges = record.read.clone();
        let mut stats = TraceLookupStats::default();
        let found = read_traces(
            &path,
            Some(&meta),
            &blooms,
            &[[200; 16]],
            &mut stats,
            Some(&record),
        )
        .unwrap();
        assert!(found.is_empty());
        assert_eq!((stats.row_groups, stats.row_groups_read), (1, 0));
        assert_eq!(
            page_reads(&path, &ranges),
            0,
            "{:?}",
            ranges.lock().unwrap()
        );

        // The same check sees the pages a hit reads.
        let record = Recorded::default();
        let found = read_traces(
            &path,
            Some(&meta),
            &blooms,
            &[[7; 16]],
            &mut stats,
            Some(&record),
        )
        .unwrap();
        assert_eq!(found, vec![spans[6].clone()]);
        assert!(page_reads(&path, &record.read) > 0);
    }

    /// The tail a lookup reads ahead holds the footer and the page index of every row
    /// group (what `file_meta` and `for_groups` read), and no data page.
    #[test]
    fn the_tail_read_ahead_holds_the_footer_and_the_page_index() {
        let dir = tempfile::tempdir().unwrap();
        let now_ms = 1_763_730_000_000;
        let spans: Vec<SpanRecord> = (1..=70_000u32)
            .map(|i| SpanRecord {
                trace_id: [(i % 251) as u8 + 1; 16],
                span_id: i.to_be_bytes().repeat(2).try_into().unwrap(),
                service_name: format!("svc{}", i % 3),
                start_ns: now_ms * NS_PER_MS - i64::from(i),
                end_ns: now_ms * NS_PER_MS,
                ..SpanRecord::default()
            })
            .collect();
        let (path, blooms, meta) = flushed(dir.path(), now_ms, &spans);
        assert_eq!(meta.plain.metadata().num_row_groups(), 2);
        crate::spans_logs::bloom::assert_tail_holds_the_page_index(&path, &blooms);
    }

    /// Every page a lookup decodes was asked for ahead (so a read from disk waits once for
    /// all of them, not once per column), and what it asks for is the pages of the trace,
    /// not whole column chunks.
    #[test]
    fn a_lookup_reads_ahead_every_page_it_decodes_and_little_else() {
        let dir = tempfile::tempdir().unwrap();
        let now_ms = 1_763_730_000_000;
        // 2,000 traces of 10 spans: ~5 pages of 4,096 rows per column, a trace within one
        // (or two) of them.
        let resource = Arc::new(vec![(
            "host.name".to_owned(),
            AnyValue::String("h1".to_owned()),
        )]);
        let spans: Vec<SpanRecord> = (0..20_000u32)
            .map(|i| {
                let mut trace_id = [1; 16];
                trace_id[..4].copy_from_slice(&(i / 10).to_be_bytes());
                let mut span_id = [1; 8];
                span_id[..4].copy_from_slice(&i.to_be_bytes());
                SpanRecord {
                    trace_id,
                    span_id,
                    service_name: format!("svc{}", i % 3),
                    name: format!("op{}", i % 7),
                    start_ns: now_ms * NS_PER_MS - i64::from(i),
                    end_ns: now_ms * NS_PER_MS,
                    attributes: vec![
                        (
                            "http.route".to_owned(),
                            AnyValue::String(format!("/r{}", i % 5)),
                        ),
                        ("n".to_owned(), AnyValue::Int(i64::from(i))),
                    ],
                    resource_attributes: resource.clone(),
                    ..SpanRecord::default()
                }
            })
            .collect();
        let (path, blooms, meta) = flushed(dir.path(), now_ms, &spans);

        let record = Recorded::default();
        let mut stats = TraceLookupStats::default();
        let id = spans[12_345].trace_id;
        let mut found = read_traces(
            &path,
            Some(&meta),
            &blooms,
            &[id],
            &mut stats,
            Some(&record),
        )
        .unwrap();
        found.sort_by_key(|s| s.span_id);
        let want: Vec<SpanRecord> = spans.iter().filter(|s| s.trace_id == id).cloned().collect();
        assert_eq!(found.len(), 10);
        assert_eq!(found, want);

        let read = pages_read(&path, &record.read);
        let ahead = record.ahead.lock().unwrap().clone();
        assert!(!read.is_empty());
        for (start, len) in &read {
            assert!(
                ahead
                    .iter()
                    .any(|(a, l)| a <= start && start + len <= a + l),
                "read ({start}, {len}) was not asked for ahead: {ahead:?}"
            );
        }
        let chunks: u64 = SerializedFileReader::new(File::open(&path).unwrap())
            .unwrap()
            .metadata()
            .row_groups()
            .iter()
            .flat_map(|g| g.columns().iter().map(|c| c.byte_range().1))
            .sum();
        let asked: u64 = ahead.iter().map(|r| r.1).sum();
        assert!(
            asked * 2 < chunks,
            "asked {asked} of {chunks} bytes of pages"
        );
    }
}
