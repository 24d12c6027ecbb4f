//! Reading one samples file for a set of series and a time range, fetching only the row
//! groups and pages that can hold them.
//!
//! Samples files are sorted by (series_id, ts) and carry row-group statistics and the page
//! index (column index + offset index). A read keeps the row groups and then the pages whose
//! `series_id` range contains a wanted id and whose `ts` range meets the wanted range; the
//! Parquet reader then fetches those pages only. Every byte fetched from the file, footer
//! and page index included, is counted in [`ScanStats::bytes_read`].

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arrow::array::{Float64Array, TimestampMillisecondArray, UInt64Array};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::file::metadata::{ParquetOffsetIndex, RowGroupMetaData};
use parquet::file::reader::{ChunkReader, Length};

use crate::metrics::page_cache::{Page, PageCache};
use crate::model::series::SeriesId;
use crate::storage::parquet_io::{bad, column};
use crate::storage::prune::{self, Key, Wanted};
use crate::{Error, Result};

/// What a read touched, for tests, benchmarks and query statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// File sets whose time range met the query's.
    pub file_sets: u64,
    /// Of those, sets whose index had no matching series (their samples were not opened).
    pub file_sets_skipped: u64,
    /// Bytes fetched from samples files: footers, page indexes and data pages (none for
    /// pages found in the page cache).
    pub bytes_read: u64,
    /// Bytes of the index and series tables read to find the series.
    pub index_bytes_read: u64,
    /// Rows decoded from samples files (a page's rows are decoded whole; pages found in the
    /// engine's page cache are not decoded again).
    pub rows_decoded: u64,
    /// Samples handed to the reader (in the range, of a wanted series), before dedupe.
    pub samples: u64,
}

impl ScanStats {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &ScanStats) {
        self.file_sets += other.file_sets;
        self.file_sets_skipped += other.file_sets_skipped;
        self.bytes_read += other.bytes_read;
        self.index_bytes_read += other.index_bytes_read;
        self.rows_decoded += other.rows_decoded;
        self.samples += other.samples;
    }
}

/// A file that counts the bytes the Parquet reader fetches from it.
struct CountingFile {
    file: File,
    len: u64,
    read: Arc<AtomicU64>,
}

impl Length for CountingFile {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for CountingFile {
    type T = CountingRead;

    fn get_read(&self, start: u64) -> parquet::errors::Result<CountingRead> {
        Ok(CountingRead {
            file: self.file.try_clone()?,
            pos: start,
            read: self.read.clone(),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let mut buf = vec![0; length];
        self.file.read_exact_at(&mut buf, start)?;
        self.read.fetch_add(length as u64, Ordering::Relaxed);
        Ok(buf.into())
    }
}

/// A positioned, unbuffered reader over a [`CountingFile`].
struct CountingRead {
    file: File,
    pos: u64,
    read: Arc<AtomicU64>,
}

impl Read for CountingRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Hands every sample of a series in `ids` (sorted, distinct) with `ts` in `[start, end]` to
/// `visit`, in file order, reading only row groups and pages that can hold one.
#[cfg(test)]
pub(crate) fn read_samples(
    path: &Path,
    ids: &[SeriesId],
    start: i64,
    end: i64,
    stats: &mut ScanStats,
    mut visit: impl FnMut(SeriesId, crate::Sample),
) -> Result<()> {
    let each = |id, ts: &[i64], vs: &[f64]| {
        for (&ts, &value) in ts.iter().zip(vs) {
            visit(id, crate::Sample { ts, value });
        }
    };
    read_samples_cached(path, &OnceLock::new(), None, ids, start, end, stats, each)
}

/// [`read_samples`], taking the file's footer and page index from `meta` (loaded into it on
/// first use) and, with `cache` (the page cache and the file set's key in it), reading
/// decoded pages from it and keeping the pages it decodes there.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_samples_cached(
    path: &Path,
    meta: &OnceLock<ArrowReaderMetadata>,
    cache: Option<(&PageCache, u64)>,
    ids: &[SeriesId],
    start: i64,
    end: i64,
    stats: &mut ScanStats,
    mut visit: impl FnMut(SeriesId, &[i64], &[f64]),
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let counter = Arc::new(AtomicU64::new(0));
    let reader = CountingFile {
        file,
        len,
        read: counter.clone(),
    };
    let cache = cache.filter(|(c, _)| c.enabled());
    let result = read_pruned(
        reader, path, meta, cache, ids, start, end, stats, &mut visit,
    );
    stats.bytes_read += counter.load(Ordering::Relaxed);
    result
}

#[allow(clippy::too_many_arguments)]
fn read_pruned(
    reader: CountingFile,
    path: &Path,
    cached: &OnceLock<ArrowReaderMetadata>,
    cache: Option<(&PageCache, u64)>,
    ids: &[SeriesId],
    start: i64,
    end: i64,
    stats: &mut ScanStats,
    visit: &mut impl FnMut(SeriesId, &[i64], &[f64]),
) -> Result<()> {
    let w = Wanted { ids, start, end };
    let loaded = prune::metadata(&reader, cached, path)?;
    let groups = prune::row_groups(&loaded, &w, path)?;
    if groups.is_empty() {
        return Ok(());
    }
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(reader, loaded.clone());
    let mut builder = builder.with_row_groups(groups.clone());
    let meta = loaded.metadata();
    if let (Some((cache, uid)), Some(oi)) = (cache, meta.offset_index()) {
        let rgs = meta.row_groups();
        let pages = |key: Key, col: usize| -> Result<Option<Vec<PageRows>>> {
            let flags = prune::page_flags(&loaded, &groups, key, &w, path)?;
            Ok(flags.and_then(|f| page_rows(oi, rgs, &groups, col, &f)))
        };
        if let (Some(id_pages), Some(ts_pages)) = (pages(Key::SeriesId, 0)?, pages(Key::Ts, 1)?) {
            let units = wanted_units(&id_pages, &ts_pages);
            let total = groups.iter().map(|&g| rgs[g].num_rows() as u64).sum();
            let mut each = |p: &Page, stats: &mut ScanStats| {
                stats.samples += p.visit(ids, start, end, visit);
            };
            return paged(builder, cache, uid, &units, total, path, stats, &mut each);
        }
    }
    if let Some(selection) = prune::page_selection(&loaded, &groups, &w, path)? {
        if !selection.selects_any() {
            return Ok(());
        }
        builder = builder.with_row_selection(selection);
    }
    let batches = builder.build().map_err(|e| bad(path, e))?;
    for batch in batches {
        let batch = batch.map_err(|e| bad(path, e))?;
        stats.rows_decoded += batch.num_rows() as u64;
        let id_col = column::<UInt64Array>(&batch, 0, path)?;
        let ts_col = column::<TimestampMillisecondArray>(&batch, 1, path)?;
        let values = column::<Float64Array>(&batch, 2, path)?;
        // Rows come sorted by series, and by time within one: each wanted series' rows in
        // the time range are one run.
        let (ids_col, ts_col, values) = (id_col.values(), ts_col.values(), values.values());
        let mut from = 0;
        while from < ids_col.len() {
            let id = ids_col[from];
            let to = from + ids_col[from..].partition_point(|&x| x == id);
            if ids.binary_search(&id).is_ok() {
                let run = &ts_col[from..to];
                let lo = from + run.partition_point(|&t| t < start);
                let hi = from + run.partition_point(|&t| t <= end);
                if lo < hi {
                    stats.samples += (hi - lo) as u64;
                    visit(id, &ts_col[lo..hi], &values[lo..hi]);
                }
            }
            from = to;
        }
    }
    Ok(())
}

/// A page of one column: its rows relative to the kept row groups (start, end), its first
/// row in the file, and whether its statistics keep it.
#[derive(Debug, Clone, Copy)]
struct PageRows {
    start: u64,
    end: u64,
    file_row: u64,
    keep: bool,
}

/// Column `col`'s pages in row groups `groups` with their keep `flags` (one per page, in
/// that order); `None` if the counts disagree.
fn page_rows(
    oi: &ParquetOffsetIndex,
    rgs: &[RowGroupMetaData],
    groups: &[usize],
    col: usize,
    flags: &[bool],
) -> Option<Vec<PageRows>> {
    let mut out = Vec::with_capacity(flags.len());
    let mut rel = 0u64;
    for &g in groups {
        let file_start: u64 = rgs[..g].iter().map(|r| r.num_rows() as u64).sum();
        let rows = rgs[g].num_rows() as u64;
        let locs = oi.get(g)?.get(col)?.page_locations();
        for (i, loc) in locs.iter().enumerate() {
            let first = loc.first_row_index as u64;
            let next = locs.get(i + 1).map_or(rows, |l| l.first_row_index as u64);
            out.push(PageRows {
                start: rel + first,
                end: rel + next,
                file_row: file_start + first,
                keep: *flags.get(out.len())?,
            });
        }
        rel += rows;
    }
    (out.len() == flags.len()).then_some(out)
}

/// The `series_id` pages kept by their statistics whose rows meet a `ts` page kept by its.
fn wanted_units(id_pages: &[PageRows], ts_pages: &[PageRows]) -> Vec<PageRows> {
    let mut out = Vec::new();
    let mut j = 0;
    for p in id_pages.iter().filter(|p| p.keep) {
        while j < ts_pages.len() && ts_pages[j].end <= p.start {
            j += 1;
        }
        let meets = ts_pages[j..]
            .iter()
            .take_while(|t| t.start < p.end)
            .any(|t| t.keep);
        if meets {
            out.push(*p);
        }
    }
    out
}

/// Hands each of the pages `units` to `visit`, in file order: from `cache` where it has
/// it; the others are decoded in one read (only their rows selected), kept in the cache
/// if it admits them, and dropped once visited, so a read holds one decoded page at a time
/// beside what the cache keeps. `total` is the kept row groups' rows.
#[allow(clippy::too_many_arguments)]
fn paged(
    builder: ParquetRecordBatchReaderBuilder<CountingFile>,
    cache: &PageCache,
    uid: u64,
    units: &[PageRows],
    total: u64,
    path: &Path,
    stats: &mut ScanStats,
    visit: &mut impl FnMut(&Page, &mut ScanStats),
) -> Result<()> {
    let cached: Vec<Option<Arc<Page>>> = units.iter().map(|u| cache.get(uid, u.file_row)).collect();
    let missing: Vec<usize> = (0..units.len()).filter(|&i| cached[i].is_none()).collect();
    let mut decoder = None;
    let mut keep = false;
    if !missing.is_empty() {
        let rows: u64 = missing.iter().map(|&i| units[i].end - units[i].start).sum();
        keep = cache.admits(rows);
        let mut selectors = Vec::new();
        let mut pos = 0;
        for &i in &missing {
            let u = units[i];
            if u.start > pos {
                selectors.push(RowSelector::skip((u.start - pos) as usize));
            }
            selectors.push(RowSelector::select((u.end - u.start) as usize));
            pos = u.end;
        }
        if total > pos {
            selectors.push(RowSelector::skip((total - pos) as usize));
        }
        let reader = builder
            .with_row_selection(RowSelection::from(selectors))
            .build()
            .map_err(|e| bad(path, e))?;
        decoder = Some(Rows {
            reader,
            batch: None,
            row: 0,
        });
    }
    for (u, page) in units.iter().zip(cached) {
        if let Some(page) = page {
            visit(&page, stats);
            continue;
        }
        let Some(rows) = decoder.as_mut() else {
            return Err(bad(path, "a page neither cached nor selected"));
        };
        let page = rows.page((u.end - u.start) as usize, path, stats)?;
        visit(&page, stats);
        if keep {
            cache.insert(uid, u.file_row, Arc::new(page));
        }
    }
    if let Some(mut rows) = decoder
        && rows.page(1, path, stats).is_ok()
    {
        return Err(bad(path, "more rows than the selected pages hold"));
    }
    Ok(())
}

/// The rows a selecting Parquet reader yields, taken a page at a time.
struct Rows {
    reader: ParquetRecordBatchReader,
    /// The batch being taken: its series ids, times and values.
    batch: Option<(UInt64Array, TimestampMillisecondArray, Float64Array)>,
    /// The next row of `batch` to take.
    row: usize,
}

impl Rows {
    /// The next `n` rows as a page; an error if the reader has fewer.
    fn page(&mut self, n: usize, path: &Path, stats: &mut ScanStats) -> Result<Page> {
        let mut page = Page::default();
        while page.len() < n {
            let have = self.batch.as_ref().map_or(0, |(ids, ..)| ids.len());
            if self.row >= have {
                let Some(batch) = self.reader.next() else {
                    return Err(bad(path, "fewer rows than the selected pages hold"));
                };
                let batch = batch.map_err(|e| bad(path, e))?;
                stats.rows_decoded += batch.num_rows() as u64;
                self.batch = Some((
                    column::<UInt64Array>(&batch, 0, path)?.clone(),
                    column::<TimestampMillisecondArray>(&batch, 1, path)?.clone(),
                    column::<Float64Array>(&batch, 2, path)?.clone(),
                ));
                self.row = 0;
                continue;
            }
            let Some((ids, ts, vs)) = &self.batch else {
                continue;
            };
            let take = (n - page.len()).min(have - self.row);
            for r in self.row..self.row + take {
                page.push(ids.value(r), ts.value(r), vs.value(r));
            }
            self.row += take;
        }
        Ok(page)
    }
}
