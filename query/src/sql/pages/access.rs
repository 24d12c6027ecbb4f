//! Row selections of a row group as `[start, end)` row ranges and back: which rows an
//! access of a `ParquetAccessPlan` reads, and the access that reads chosen rows.

use datafusion::datasource::physical_plan::parquet::RowGroupAccess;
use datafusion::parquet::arrow::arrow_reader::{RowSelection, RowSelector};

/// The `[start, end)` rows an access reads of a row group of `n` rows; `None` to skip it.
pub(crate) fn access_ranges(access: &RowGroupAccess, n: usize) -> Option<Vec<(usize, usize)>> {
    match access {
        RowGroupAccess::Skip => None,
        RowGroupAccess::Scan => Some(vec![(0, n)]),
        RowGroupAccess::Selection(s) => Some(selected_ranges(s)),
    }
}

/// The `[start, end)` row ranges a selection selects.
fn selected_ranges(s: &RowSelection) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    for sel in s.iter() {
        if !sel.skip && sel.row_count > 0 {
            out.push((at, at + sel.row_count));
        }
        at += sel.row_count;
    }
    out
}

/// A selection of the sorted rows `rows` of a row group of `n` rows.
pub(crate) fn selection_of(rows: &[usize], n: usize) -> RowSelection {
    let mut out = Vec::with_capacity(rows.len() * 2 + 1);
    let mut at = 0;
    for &r in rows {
        if r > at {
            out.push(RowSelector::skip(r - at));
        }
        out.push(RowSelector::select(1));
        at = r + 1;
    }
    if n > at {
        out.push(RowSelector::skip(n - at));
    }
    RowSelection::from(out)
}
