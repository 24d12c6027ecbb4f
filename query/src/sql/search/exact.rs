//! Exact line search: of the rows a line lookup keeps in a logs file (the blocks its line
//! filter leaves, narrowed by the scan's predicate on row-group statistics and the page
//! index), the rows whose `body` holds what the filters need ([`Need`]), found by
//! decompressing each `body` page those rows lie in once (`pages/raw.rs`: one zstd
//! context per thread), and testing its lines in place with `memmem`.
//!
//! The scan then reads only the matching rows (the pages that hold them, of each column it
//! returns) and applies its filters to them above the Parquet decoder. Before, the
//! decoder's row filter turned every candidate block's lines into Arrow arrays, evaluated
//! `strpos` over them, made a zstd context pair for each column chunk of each filter, and
//! decoded the returned rows' lines a second time.
//!
//! Only what the logs writer stores is searched: a flat `body` of `BYTE_ARRAY` in `PLAIN`
//! data pages (v1 or v2), with an offset index. Anything else (a dictionary, another
//! encoding) answers `None`, and the caller keeps the blocks as they were.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{ParquetAccessPlan, RowGroupAccess};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ParquetRecordBatchReaderBuilder,
};
use datafusion::parquet::basic::{Encoding, Type};
use datafusion::parquet::column::page::{Page, PageReader};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder};
use futures::{StreamExt, TryStreamExt};
use memchr::memmem::Finder;

use crate::sql::pages::access::{access_ranges, selection_of};
use crate::sql::pages::hybrid::Hybrid;
use crate::sql::pages::pread::Pread;
use crate::sql::pages::raw::raw_pages;

/// A file stops being searched once this many of its rows match: the lines are then
/// common, the blocks' pages are read anyway, and the decoder's row filter does as well.
pub(crate) const MAX_MATCHES: usize = 65_536;

type Result<T> = std::result::Result<T, ParquetError>;

/// What the filters require of a line: every entry holds alternatives, one of which
/// the line contains.
pub(crate) type Need = Vec<Vec<Vec<u8>>>;

/// Tests lines against a [`Need`]: every entry must have one alternative in the line.
pub(crate) struct Searcher {
    all_of: Vec<Vec<Finder<'static>>>,
}

impl Searcher {
    pub(crate) fn new(need: &Need) -> Self {
        let all_of = need
            .iter()
            .map(|any| any.iter().map(|n| Finder::new(n).into_owned()).collect())
            .collect();
        Self { all_of }
    }

    /// Whether `line` holds what the need asks.
    pub(crate) fn matches(&self, line: &[u8]) -> bool {
        self.all_of
            .iter()
            .all(|any| any.iter().any(|f| f.find(line).is_some()))
    }
}

/// What a search found: the matching rows as an access plan, and the bytes it read.
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) plan: ParquetAccessPlan,
    pub(crate) rows: usize,
    pub(crate) bytes_read: u64,
    /// The matching rows' lines, in file order.
    pub(crate) lines: Vec<String>,
}

/// The rows of `plan` in the logs file at `path` (whose footer and page index are `meta`)
/// whose line `searcher` matches; `None` when the file's `body` is not stored as this
/// search reads it, or more than [`MAX_MATCHES`] rows match.
pub(crate) fn search_file(
    path: &Path,
    meta: &ParquetMetaData,
    plan: &ParquetAccessPlan,
    searcher: &Searcher,
) -> Result<Option<Found>> {
    let schema = meta.file_metadata().schema_descr();
    let Some(column) = (0..schema.num_columns()).find(|&i| {
        let c = schema.column(i);
        c.path().parts() == ["body"]
    }) else {
        return Ok(None);
    };
    let descr = schema.column(column);
    if descr.physical_type() != Type::BYTE_ARRAY
        || descr.max_rep_level() != 0
        || descr.max_def_level() > 1
    {
        return Ok(None);
    }
    let Some(offsets) = meta.offset_index() else {
        return Ok(None);
    };
    let reader = Arc::new(Pread::open(path)?);
    let mut found = Vec::with_capacity(plan.len());
    let mut rows = 0usize;
    let mut lines = Vec::new();
    for (g, access) in plan.inner().iter().enumerate() {
        let group = meta.row_group(g);
        let n = usize::try_from(group.num_rows()).unwrap_or(0);
        let Some(ranges) = access_ranges(access, n) else {
            found.push(RowGroupAccess::Skip);
            continue;
        };
        let chunk = group.column(column);
        if chunk.dictionary_page_offset().is_some() {
            return Ok(None);
        }
        let Some(locations) = offsets.get(g).and_then(|c| c.get(column)) else {
            return Ok(None);
        };
        let locations = locations.page_locations().clone();
        let starts: Vec<usize> = locations
            .iter()
            .map(|p| usize::try_from(p.first_row_index).unwrap_or(0))
            .collect();
        let Some(mut pages) = raw_pages(reader.clone(), chunk, n, locations)? else {
            return Ok(None);
        };
        let mut matched = Vec::new();
        for (p, &first) in starts.iter().enumerate() {
            let end = starts.get(p + 1).copied().unwrap_or(n);
            if !ranges.iter().any(|&(a, b)| a < end && first < b) {
                pages.pages.skip_next_page()?;
                continue;
            }
            let Some(page) = pages.next()? else {
                return Err(ParquetError::General(format!(
                    "{}: row group {g} has fewer body pages than its offset index",
                    path.display()
                )));
            };
            let Some(page) = page else {
                return Ok(None);
            };
            let wanted = |row: usize| ranges.iter().any(|&(a, b)| a <= row && row < b);
            if !search_page(
                &page,
                descr.max_def_level() == 1,
                first,
                &wanted,
                searcher,
                &mut (&mut matched, &mut lines),
            )? {
                return Ok(None);
            }
            if rows + matched.len() > MAX_MATCHES {
                return Ok(None);
            }
        }
        rows += matched.len();
        found.push(if matched.is_empty() {
            RowGroupAccess::Skip
        } else {
            RowGroupAccess::Selection(selection_of(&matched, n))
        });
    }
    Ok(Some(Found {
        plan: ParquetAccessPlan::new(found),
        rows,
        bytes_read: reader.read(),
        lines,
    }))
}

/// A file to search: its rows that may match, and its footer with the page index.
pub(crate) type Job = (PartitionedFile, ArrowReaderMetadata, ParquetAccessPlan);

/// A searched file: with an access plan of the rows the scan must read, and, when the
/// search went to the end, what it found.
pub(crate) struct Searched {
    pub(crate) file: PartitionedFile,
    pub(crate) exact: Option<Exact>,
}

/// What a search that went to the end found in a file.
#[derive(Debug)]
pub(crate) struct Exact {
    /// The file as the scan was given it (its extension keeps the snapshot's file).
    pub(crate) original: PartitionedFile,
    /// Its footer, with the page index, and its Arrow schema.
    pub(crate) meta: ArrowReaderMetadata,
    /// The matching rows, as an access plan.
    pub(crate) plan: ParquetAccessPlan,
    /// Their lines, in file order.
    pub(crate) lines: Vec<String>,
}

/// Searches the planned rows of each file (as many files at a time as the machine has
/// cores, on the blocking pool). Each file comes back with an access plan of its matching
/// rows and what the search found, or, where the search gave up, of its planned rows; a
/// file without a match is left out. The bytes read count in the scan's `bytes_scanned`
/// under the file's name.
pub(crate) async fn search_files(
    jobs: Vec<Job>,
    need: &Need,
    services: Option<&[String]>,
    metrics: &ExecutionPlanMetricsSet,
) -> DfResult<Vec<Searched>> {
    let searcher = Arc::new(Searcher::new(need));
    let services: Option<Arc<[String]>> = services.map(Arc::from);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let searches = jobs
        .into_iter()
        .filter(|(_, _, plan)| plan.row_group_index_iter().next().is_some())
        .map(|(file, meta, plan)| {
            let (searcher, services) = (searcher.clone(), services.clone());
            async move {
                // The object store's paths are relative to the file system's root.
                let path = PathBuf::from(format!("/{}", file.object_meta.location));
                let found = tokio::task::spawn_blocking(move || {
                    let plan = match &services {
                        Some(s) => narrow_to_services(&path, &meta, plan, s)?,
                        None => plan,
                    };
                    search_file(&path, meta.metadata(), &plan, &searcher).map(|f| (f, plan, meta))
                })
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))?
                .map_err(|e| DataFusionError::ParquetError(Box::new(e)))?;
                Ok::<_, DataFusionError>((file, found))
            }
        });
    let done: Vec<_> = futures::stream::iter(searches)
        .buffered(cores)
        .try_collect()
        .await?;
    let mut out = Vec::with_capacity(done.len());
    for (file, (found, plan, meta)) in done {
        let scanned = MetricBuilder::new(metrics)
            .with_new_label("filename", file.object_meta.location.to_string())
            .counter("bytes_scanned", 0);
        match found {
            None => out.push(Searched {
                file: file.with_extension(plan),
                exact: None,
            }),
            Some(f) => {
                scanned.add(f.bytes_read as usize);
                if f.rows > 0 {
                    out.push(Searched {
                        file: file.clone().with_extension(f.plan.clone()),
                        exact: Some(Exact {
                            original: file,
                            meta,
                            plan: f.plan,
                            lines: f.lines,
                        }),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// `plan` without the rows whose `service_name` is none of `services` (a conjunct
/// `service_name = '…'` or `IN (…)` of the scan's filters): the statistics and page index
/// the plan was narrowed by keep whole 4,096-row pages of that column, and a row group
/// sorted by service holds a few services' rows in such a page; reading the column's few
/// bytes for the planned rows spares decompressing the `body` pages of the others.
/// `plan` as it is when the file has no such column.
pub(crate) fn narrow_to_services(
    path: &Path,
    arrow: &ArrowReaderMetadata,
    plan: ParquetAccessPlan,
    services: &[String],
) -> Result<ParquetAccessPlan> {
    let meta = arrow.metadata();
    let Ok(column) = arrow.schema().index_of("service_name") else {
        return Ok(plan);
    };
    let groups = plan.row_group_indexes();
    let Some(selection) = plan
        .clone()
        .into_overall_row_selection(meta.row_groups())
        .map_err(|e| ParquetError::General(e.to_string()))?
    else {
        return Ok(plan);
    };
    let mask = ProjectionMask::roots(meta.file_metadata().schema_descr(), [column]);
    let reader =
        ParquetRecordBatchReaderBuilder::new_with_metadata(Pread::open(path)?, arrow.clone())
            .with_projection(mask)
            .with_row_groups(groups.clone())
            .with_row_selection(selection)
            .with_batch_size(8192)
            .build()?;
    // Whether each planned row, in order, is of one of the services.
    let mut keep = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| ParquetError::General(e.to_string()))?;
        let Some(names) = batch.column(0).as_string_opt::<i32>() else {
            return Ok(plan);
        };
        keep.extend(
            (0..batch.num_rows())
                .map(|i| names.is_valid(i) && services.iter().any(|s| s == names.value(i))),
        );
    }
    let mut out = Vec::with_capacity(plan.len());
    let mut at = 0usize;
    for (g, access) in plan.inner().iter().enumerate() {
        let n = usize::try_from(meta.row_group(g).num_rows()).unwrap_or(0);
        let Some(ranges) = access_ranges(access, n) else {
            out.push(RowGroupAccess::Skip);
            continue;
        };
        let mut rows = Vec::new();
        for (a, b) in ranges {
            for r in a..b {
                if keep.get(at).copied().unwrap_or(true) {
                    rows.push(r);
                }
                at += 1;
            }
        }
        out.push(if rows.is_empty() {
            RowGroupAccess::Skip
        } else {
            RowGroupAccess::Selection(selection_of(&rows, n))
        });
    }
    Ok(ParquetAccessPlan::new(out))
}

/// Tests the lines of one data page whose first row is `first`, adding to `out` the rows
/// `wanted` keeps whose line matches (row in the row group, and line); `false` when the
/// page is not stored as this search reads it.
fn search_page(
    page: &Page,
    nullable: bool,
    first: usize,
    wanted: &dyn Fn(usize) -> bool,
    searcher: &Searcher,
    out: &mut (&mut Vec<usize>, &mut Vec<String>),
) -> Result<bool> {
    let (levels, values, n) = match page {
        Page::DataPage {
            buf,
            num_values,
            encoding: Encoding::PLAIN,
            def_level_encoding,
            ..
        } => {
            if !nullable {
                (None, &buf[..], *num_values as usize)
            } else {
                if *def_level_encoding != Encoding::RLE {
                    return Ok(false);
                }
                let len = buf
                    .get(..4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                    .ok_or_else(|| corrupt("definition levels' length"))?;
                let levels = buf
                    .get(4..4 + len)
                    .ok_or_else(|| corrupt("definition levels"))?;
                (Some(levels), &buf[4 + len..], *num_values as usize)
            }
        }
        Page::DataPageV2 {
            buf,
            num_values,
            encoding: Encoding::PLAIN,
            num_nulls,
            def_levels_byte_len,
            rep_levels_byte_len,
            ..
        } => {
            let (r, d) = (*rep_levels_byte_len as usize, *def_levels_byte_len as usize);
            let levels = buf
                .get(r..r + d)
                .ok_or_else(|| corrupt("definition levels"))?;
            let values = buf.get(r + d..).ok_or_else(|| corrupt("values"))?;
            let levels = (nullable && *num_nulls > 0).then_some(levels);
            (levels, values, *num_values as usize)
        }
        _ => return Ok(false),
    };
    let defined = match levels {
        Some(l) => Some(definition_levels(l, n)?),
        None => None,
    };
    let mut rest = values;
    for i in 0..n {
        if defined.as_ref().is_some_and(|d| !d[i]) {
            continue;
        }
        let len = rest
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| corrupt("a value's length"))?;
        let line = rest.get(4..4 + len).ok_or_else(|| corrupt("a value"))?;
        rest = &rest[4 + len..];
        if wanted(first + i) && searcher.matches(line) {
            let text = std::str::from_utf8(line).map_err(|_| corrupt("a line not UTF-8"))?;
            out.0.push(first + i);
            out.1.push(text.to_owned());
        }
    }
    Ok(true)
}

/// The first `n` definition levels of bit width 1 in Parquet's RLE/bit-packing hybrid
/// encoding, as whether each is 1.
fn definition_levels(data: &[u8], n: usize) -> Result<Vec<bool>> {
    let levels = Hybrid::new(data, 1, n)?.take(0, n)?;
    Ok(levels.into_iter().map(|l| l == 1).collect())
}

fn corrupt(what: &str) -> ParquetError {
    ParquetError::General(format!("corrupt body page: {what}"))
}

#[cfg(test)]
#[path = "exact_tests.rs"]
mod tests;
