//! What of a Parquet file sorted by (`series_id`, `ts`) a read of some series over a time
//! range must decode: the row groups whose statistics can hold one of the series in the
//! range, then the pages of those row groups whose page-index statistics can. The samples
//! reader (`metrics/scan.rs`) and the histogram reader (`histograms/read.rs`) both prune
//! this way; an item without statistics is always kept.

use std::path::Path;
use std::sync::OnceLock;

use arrow::array::{Array, TimestampMillisecondArray, UInt64Array};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, RowSelection, RowSelector,
};
use parquet::file::metadata::PageIndexPolicy;
use parquet::file::reader::ChunkReader;

use crate::model::series::SeriesId;
use crate::storage::parquet_io::bad;
use crate::{Error, Result};

/// The series (sorted, distinct) and the closed time range a read wants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wanted<'a> {
    pub(crate) ids: &'a [SeriesId],
    pub(crate) start: i64,
    pub(crate) end: i64,
}

/// The two sort columns pruning looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    SeriesId,
    Ts,
}

impl Wanted<'_> {
    /// Whether an item whose `key` statistics are `[lo, hi]` can hold a wanted row.
    fn keeps(&self, key: Key, lo: i64, hi: i64) -> bool {
        match key {
            Key::SeriesId => any_id_in(self.ids, lo as u64, hi as u64),
            Key::Ts => hi >= self.start && lo <= self.end,
        }
    }
}

/// Whether sorted `ids` has an element in `[lo, hi]`.
pub(crate) fn any_id_in(ids: &[SeriesId], lo: u64, hi: u64) -> bool {
    let i = ids.partition_point(|&id| id < lo);
    ids.get(i).is_some_and(|&id| id <= hi)
}

/// The footer and page index of the file `reader` reads (at `path`, for errors), from
/// `cached` or loaded into it.
pub(crate) fn metadata<R: ChunkReader>(
    reader: &R,
    cached: &OnceLock<ArrowReaderMetadata>,
    path: &Path,
) -> Result<ArrowReaderMetadata> {
    if let Some(m) = cached.get() {
        return Ok(m.clone());
    }
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
    let m = ArrowReaderMetadata::load(reader, options).map_err(|e| bad(path, e))?;
    Ok(cached.get_or_init(|| m).clone())
}

fn converter<'a>(
    meta: &'a ArrowReaderMetadata,
    key: Key,
    path: &Path,
) -> Result<StatisticsConverter<'a>> {
    let name = match key {
        Key::SeriesId => "series_id",
        Key::Ts => "ts",
    };
    let md = meta.metadata();
    StatisticsConverter::try_new(name, meta.schema(), md.file_metadata().schema_descr())
        .map_err(|e| bad(path, e))
}

/// Per-item keep flags from min/max arrays (u64 ids or ms timestamps).
fn keep_flags(
    mins: &dyn Array,
    maxes: &dyn Array,
    path: &Path,
    keep: impl Fn(i64, i64) -> bool,
) -> Result<Vec<bool>> {
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
        .iter()
        .zip(&maxes)
        .map(|(lo, hi)| match (lo, hi) {
            (Some(lo), Some(hi)) => keep(*lo, *hi),
            _ => true,
        })
        .collect())
}

/// The row groups that can hold a wanted row, in file order.
pub(crate) fn row_groups(
    meta: &ArrowReaderMetadata,
    w: &Wanted<'_>,
    path: &Path,
) -> Result<Vec<usize>> {
    let rgs = meta.metadata().row_groups();
    let flags = |key: Key| {
        let c = converter(meta, key, path)?;
        keep_flags(
            &*c.row_group_mins(rgs).map_err(|e| bad(path, e))?,
            &*c.row_group_maxes(rgs).map_err(|e| bad(path, e))?,
            path,
            |lo, hi| w.keeps(key, lo, hi),
        )
    };
    let (by_id, by_ts) = (flags(Key::SeriesId)?, flags(Key::Ts)?);
    Ok((0..rgs.len()).filter(|&g| by_id[g] && by_ts[g]).collect())
}

/// Per page of `key`'s column in row groups `groups` (in that order), whether its
/// statistics can hold a wanted row; `None` without a page index.
pub(crate) fn page_flags(
    meta: &ArrowReaderMetadata,
    groups: &[usize],
    key: Key,
    w: &Wanted<'_>,
    path: &Path,
) -> Result<Option<Vec<bool>>> {
    let md = meta.metadata();
    let (Some(ci), Some(oi)) = (md.column_index(), md.offset_index()) else {
        return Ok(None);
    };
    let c = converter(meta, key, path)?;
    let mins = c.data_page_mins(ci, oi, groups).map_err(|e| bad(path, e))?;
    let maxes = c
        .data_page_maxes(ci, oi, groups)
        .map_err(|e| bad(path, e))?;
    keep_flags(&*mins, &*maxes, path, |lo, hi| w.keeps(key, lo, hi)).map(Some)
}

/// The rows of row groups `groups` in pages that can hold a wanted row, by both columns'
/// page statistics; `None` without a page index (every row of the groups, then).
pub(crate) fn page_selection(
    meta: &ArrowReaderMetadata,
    groups: &[usize],
    w: &Wanted<'_>,
    path: &Path,
) -> Result<Option<RowSelection>> {
    let md = meta.metadata();
    let Some(oi) = md.offset_index() else {
        return Ok(None);
    };
    let select = |key: Key| {
        let Some(flags) = page_flags(meta, groups, key, w, path)? else {
            return Ok::<_, Error>(None);
        };
        let c = converter(meta, key, path)?;
        let counts = c
            .data_page_row_counts(oi, md.row_groups(), groups)
            .map_err(|e| bad(path, e))?;
        let Some(counts) = counts else {
            return Ok(None);
        };
        let selectors: Vec<RowSelector> = flags
            .iter()
            .zip(counts.values())
            .map(|(&keep, &n)| match keep {
                true => RowSelector::select(n as usize),
                false => RowSelector::skip(n as usize),
            })
            .collect();
        Ok(Some(RowSelection::from(selectors)))
    };
    Ok(match (select(Key::SeriesId)?, select(Key::Ts)?) {
        (Some(a), Some(b)) => Some(a.intersection(&b)),
        (a, b) => a.or(b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_id_in_checks_the_closed_range() {
        let ids = [3, 7, 10];
        assert!(any_id_in(&ids, 3, 3));
        assert!(any_id_in(&ids, 4, 7));
        assert!(any_id_in(&ids, 10, 20));
        assert!(!any_id_in(&ids, 4, 6));
        assert!(!any_id_in(&ids, 11, 20));
        assert!(!any_id_in(&ids, 0, 2));
        assert!(!any_id_in(&[], 0, u64::MAX));
    }
}
