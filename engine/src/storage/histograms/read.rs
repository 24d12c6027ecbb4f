//! Reading one histograms file for a set of series and a time range, decoding only the row
//! groups and pages that can hold them: as the samples reader (`metrics/scan.rs`), row
//! groups are kept by their `series_id` and `ts` statistics, then pages by the page index
//! (column index and offset index) of those two columns, and the Parquet reader fetches
//! the selected rows' pages of every column.

use std::fs::File;
use std::path::Path;
use std::sync::OnceLock;

use arrow::array::{Array, TimestampMillisecondArray, UInt64Array};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::file::metadata::PageIndexPolicy;

use super::rows::Columns;
use crate::model::histogram::HistogramSample;
use crate::model::series::SeriesId;
use crate::storage::parquet_io::bad;
use crate::{Error, Result};

/// What a read decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReadStats {
    /// Rows decoded (whole selected pages).
    pub(crate) rows_decoded: u64,
    /// Samples handed to the caller.
    pub(crate) samples: u64,
}

/// Whether sorted `ids` has an element in `[lo, hi]`.
fn any_id_in(ids: &[SeriesId], lo: u64, hi: u64) -> bool {
    let i = ids.partition_point(|&id| id < lo);
    ids.get(i).is_some_and(|&id| id <= hi)
}

/// Min/max statistics (u64 ids or ms timestamps) as i64 pairs; `None` where absent.
fn bounds(mins: &dyn Array, maxes: &dyn Array, path: &Path) -> Result<Vec<Option<(i64, i64)>>> {
    let as_i64 = |a: &dyn Array| -> Result<Vec<Option<i64>>> {
        if let Some(a) = a.as_any().downcast_ref::<UInt64Array>() {
            return Ok(a.iter().map(|v| v.map(|v| v as i64)).collect());
        }
        if let Some(a) = a.as_any().downcast_ref::<TimestampMillisecondArray>() {
            return Ok(a.iter().collect());
        }
        Err(bad(path, "unexpected statistics type"))
    };
    let (mins, maxes) = (as_i64(mins)?, as_i64(maxes)?);
    Ok(mins
        .into_iter()
        .zip(maxes)
        .map(|(lo, hi)| lo.zip(hi))
        .collect())
}

/// Hands every histogram sample of a series in `ids` (sorted, distinct) with `ts` in
/// `[start, end]` to `visit`, in file order (series, then time).
pub(crate) fn read_histograms(
    path: &Path,
    ids: &[SeriesId],
    start: i64,
    end: i64,
    visit: impl FnMut(SeriesId, HistogramSample),
) -> Result<ReadStats> {
    read_histograms_cached(path, &OnceLock::new(), ids, start, end, visit)
}

/// [`read_histograms`], taking the file's footer and page index from `meta` (loaded into
/// it on first use, so a file set read again skips them).
pub(crate) fn read_histograms_cached(
    path: &Path,
    meta: &OnceLock<ArrowReaderMetadata>,
    ids: &[SeriesId],
    start: i64,
    end: i64,
    mut visit: impl FnMut(SeriesId, HistogramSample),
) -> Result<ReadStats> {
    let mut stats = ReadStats::default();
    if ids.is_empty() || start > end {
        return Ok(stats);
    }
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let loaded = match meta.get() {
        Some(m) => m.clone(),
        None => {
            let options =
                ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
            let m = ArrowReaderMetadata::load(&file, options).map_err(|e| bad(path, e))?;
            meta.get_or_init(|| m).clone()
        }
    };
    let want_ids = |lo: i64, hi: i64| any_id_in(ids, lo as u64, hi as u64);
    let want_ts = |lo: i64, hi: i64| hi >= start && lo <= end;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, loaded);
    let md = builder.metadata().clone();
    let schema = builder.schema().clone();
    let conv = |name: &str| {
        StatisticsConverter::try_new(name, &schema, md.file_metadata().schema_descr())
            .map_err(|e| bad(path, e))
    };
    let (id_conv, ts_conv) = (conv("series_id")?, conv("ts")?);
    let rgs = md.row_groups();
    let rg_ids = bounds(
        &*id_conv.row_group_mins(rgs).map_err(|e| bad(path, e))?,
        &*id_conv.row_group_maxes(rgs).map_err(|e| bad(path, e))?,
        path,
    )?;
    let rg_ts = bounds(
        &*ts_conv.row_group_mins(rgs).map_err(|e| bad(path, e))?,
        &*ts_conv.row_group_maxes(rgs).map_err(|e| bad(path, e))?,
        path,
    )?;
    let groups: Vec<usize> = (0..rgs.len())
        .filter(|&g| {
            rg_ids[g].is_none_or(|(lo, hi)| want_ids(lo, hi))
                && rg_ts[g].is_none_or(|(lo, hi)| want_ts(lo, hi))
        })
        .collect();
    if groups.is_empty() {
        return Ok(stats);
    }
    let mut builder = builder.with_row_groups(groups.clone());
    if let (Some(ci), Some(oi)) = (md.column_index(), md.offset_index()) {
        let pages = |c: &StatisticsConverter<'_>, keep: &dyn Fn(i64, i64) -> bool| {
            let mins = c
                .data_page_mins(ci, oi, &groups)
                .map_err(|e| bad(path, e))?;
            let maxes = c
                .data_page_maxes(ci, oi, &groups)
                .map_err(|e| bad(path, e))?;
            let counts = c
                .data_page_row_counts(oi, rgs, &groups)
                .map_err(|e| bad(path, e))?;
            let Some(counts) = counts else {
                return Ok::<_, Error>(None);
            };
            let selectors: Vec<RowSelector> = bounds(&*mins, &*maxes, path)?
                .iter()
                .zip(counts.values())
                .map(|(b, &n)| match b.is_none_or(|(lo, hi)| keep(lo, hi)) {
                    true => RowSelector::select(n as usize),
                    false => RowSelector::skip(n as usize),
                })
                .collect();
            Ok(Some(RowSelection::from(selectors)))
        };
        let selection = match (pages(&id_conv, &want_ids)?, pages(&ts_conv, &want_ts)?) {
            (Some(a), Some(b)) => Some(a.intersection(&b)),
            (a, b) => a.or(b),
        };
        if let Some(selection) = selection {
            if !selection.selects_any() {
                return Ok(stats);
            }
            builder = builder.with_row_selection(selection);
        }
    }
    for batch in builder.build().map_err(|e| bad(path, e))? {
        let batch = batch.map_err(|e| bad(path, e))?;
        stats.rows_decoded += batch.num_rows() as u64;
        let c = Columns::of(&batch, path)?;
        let (id_col, ts_col) = (c.ids.values(), c.ts.values());
        // Each wanted series' rows in the range are one run of the sorted rows.
        let mut from = 0;
        while from < id_col.len() {
            let id = id_col[from];
            let to = from + id_col[from..].partition_point(|&x| x == id);
            if ids.binary_search(&id).is_ok() {
                let run = &ts_col[from..to];
                let lo = from + run.partition_point(|&t| t < start);
                let hi = from + run.partition_point(|&t| t <= end);
                for i in lo..hi {
                    visit(id, c.sample(i)?);
                }
                stats.samples += (hi - lo) as u64;
            }
            from = to;
        }
    }
    Ok(stats)
}
