//! Layouts stored once per run (histograms files of format version 2,
//! `docs/formats/partitions.md`): a row whose spans and custom bounds are those of the
//! previous row of its series has `positive_spans`, `negative_spans` and `custom_values`
//! all null. A series' first row in a file always has its lists; a version 1 file (no
//! [`VERSION_KEY`] in its footer) has them in every row.
//!
//! Writers hand full rows to [`Compact`], which nulls the repeats; the merges of
//! compaction, deletes and tiers and the SQL tables read full rows through [`Expand`]. The
//! PromQL read path (`read.rs`) reads the repeats in place instead, without copying the
//! lists.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, ListArray, RecordBatch, UInt32Array, UInt64Array};
use arrow::buffer::NullBuffer;
use arrow::compute::{concat, take};
use arrow::datatypes::{Field, Schema, SchemaRef};
use parquet::file::metadata::{FileMetaData, KeyValue};

use super::rows::{FloatList, SpanList};
use crate::model::series::SeriesId;
use crate::storage::parquet_io::{bad, open_batches};
use crate::{Error, Result};

/// The footer key naming a histograms file's format version; absent: version 1.
pub(crate) const VERSION_KEY: &str = "strata.histograms.version";

/// The format version histograms files are written in.
pub(crate) const VERSION: u32 = 2;

/// The three list columns a repeat row leaves null.
const LISTS: [&str; 3] = ["positive_spans", "negative_spans", "custom_values"];

/// The footer entry of [`VERSION`].
pub(crate) fn version_entry() -> KeyValue {
    KeyValue::new(VERSION_KEY.to_owned(), VERSION.to_string())
}

/// The format version of the histograms file at `path` whose footer is `meta`: 1 without
/// [`VERSION_KEY`]; a version this build does not know is an error.
pub(crate) fn version(meta: &FileMetaData, path: &Path) -> Result<u32> {
    let Some(kv) = meta
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|e| e.key == VERSION_KEY))
    else {
        return Ok(1);
    };
    match kv.value.as_deref().map(str::parse::<u32>) {
        Some(Ok(v)) if (1..=VERSION).contains(&v) => Ok(v),
        _ => Err(bad(
            path,
            format!(
                "histograms file of format version {:?}: this build reads 1..={VERSION}",
                kv.value
            ),
        )),
    }
}

/// The schema of histograms files as stored: [`super::histograms_schema`] with the span
/// lists nullable (a repeat row).
pub(crate) fn file_schema() -> SchemaRef {
    let full = super::histograms_schema();
    let fields: Vec<Field> = full
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            "positive_spans" | "negative_spans" => f.as_ref().clone().with_nullable(true),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn list<'a>(b: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a ListArray> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<ListArray>())
        .ok_or_else(|| {
            bad(
                path,
                format!("histograms column {name} is missing or mistyped"),
            )
        })
}

fn ids<'a>(b: &'a RecordBatch, path: &Path) -> Result<&'a [u64]> {
    b.column_by_name("series_id")
        .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
        .map(|a| a.values().as_ref())
        .ok_or_else(|| bad(path, "histograms column series_id is missing or mistyped"))
}

/// Nulls the lists of every row whose series and lists are the previous row's, the
/// previous row of the first being the last of the batch before. Batches must be full
/// rows of one file, in order.
#[derive(Debug, Default)]
pub(crate) struct Compact {
    /// The last row handed over: its series, and its lists as a batch of one row.
    last: Option<(SeriesId, RecordBatch)>,
}

impl Compact {
    /// `b` (full rows of [`super::histograms_schema`]) with its repeats nulled, in
    /// [`file_schema`].
    pub(crate) fn batch(&mut self, b: &RecordBatch, path: &Path) -> Result<RecordBatch> {
        let n = b.num_rows();
        if n == 0 {
            return RecordBatch::try_new(file_schema(), b.columns().to_vec())
                .map_err(|e| bad(path, e));
        }
        let id = ids(b, path)?;
        let (pos, neg, cv) = (
            SpanList::of(b, LISTS[0], path)?,
            SpanList::of(b, LISTS[1], path)?,
            FloatList::of(b, LISTS[2], path)?,
        );
        let same = |i: usize, j: usize| {
            pos.row(i) == pos.row(j) && neg.row(i) == neg.row(j) && cv.same(i, &cv, j)
        };
        let mut keep = Vec::with_capacity(n);
        for i in 0..n {
            let repeat = if i == 0 {
                match &self.last {
                    Some((last_id, last)) if *last_id == id[0] => {
                        let l = (
                            SpanList::of(last, LISTS[0], path)?,
                            SpanList::of(last, LISTS[1], path)?,
                            FloatList::of(last, LISTS[2], path)?,
                        );
                        pos.row(0) == l.0.row(0) && neg.row(0) == l.1.row(0) && cv.same(0, &l.2, 0)
                    }
                    _ => false,
                }
            } else {
                id[i] == id[i - 1] && same(i, i - 1)
            };
            keep.push(!repeat);
        }
        self.last = Some((id[n - 1], b.slice(n - 1, 1)));
        let mut cols = b.columns().to_vec();
        for name in LISTS {
            let idx = b.schema().index_of(name).map_err(|e| bad(path, e))?;
            let l = list(b, name, path)?;
            let valid: Vec<bool> = keep
                .iter()
                .enumerate()
                .map(|(i, &k)| k && l.is_valid(i))
                .collect();
            let (field, offsets, values, _) = l.clone().into_parts();
            let nulls = Some(NullBuffer::from(valid)).filter(|nb| nb.null_count() > 0);
            let l = ListArray::try_new(field, offsets, values, nulls).map_err(|e| bad(path, e))?;
            cols[idx] = Arc::new(l);
        }
        RecordBatch::try_new(file_schema(), cols).map_err(|e| bad(path, e))
    }
}

/// Fills every repeat row's lists from the row it repeats, across the batches of one file
/// read in order.
#[derive(Debug, Default)]
pub(crate) struct Expand {
    /// The last row of the batch before: its series, and its three lists (full).
    carry: Option<(SeriesId, [ArrayRef; 3])>,
}

impl Expand {
    /// `b` (rows of a histograms file of either version) as full rows of
    /// [`super::histograms_schema`]. A repeat row whose series has no previous row, or
    /// with only some of its lists null, is an error naming it.
    pub(crate) fn batch(&mut self, b: &RecordBatch, path: &Path) -> Result<RecordBatch> {
        let n = b.num_rows();
        let id = ids(b, path)?;
        let lists = [
            list(b, LISTS[0], path)?,
            list(b, LISTS[1], path)?,
            list(b, LISTS[2], path)?,
        ];
        let mut cols = b.columns().to_vec();
        if lists[0].null_count() > 0 {
            // Index into [the carried row, then the batch's rows] of each row's lists.
            let mut idx: Vec<u32> = Vec::with_capacity(n);
            let mut prev = self.carry.as_ref().map(|(id, _)| (*id, 0u32));
            for (i, &row_id) in id.iter().enumerate() {
                let repeat = lists[0].is_null(i);
                if repeat && (lists[1].is_valid(i) || lists[2].is_valid(i))
                    || !repeat && lists[1].is_null(i)
                {
                    return Err(damaged(
                        path,
                        row_id,
                        b,
                        i,
                        "only some of its lists are null",
                    ));
                }
                let src = if repeat {
                    match prev {
                        Some((p, src)) if p == row_id => src,
                        _ => {
                            return Err(damaged(
                                path,
                                row_id,
                                b,
                                i,
                                "repeats the lists of no earlier row of its series",
                            ));
                        }
                    }
                } else {
                    i as u32 + 1
                };
                idx.push(src);
                prev = Some((row_id, src));
            }
            let idx = UInt32Array::from(idx);
            for (k, name) in LISTS.iter().enumerate() {
                let carried = match &self.carry {
                    Some((_, c)) => c[k].clone(),
                    None => arrow::array::new_null_array(lists[k].data_type(), 1),
                };
                let all = concat(&[carried.as_ref(), lists[k] as &dyn Array])
                    .map_err(|e| bad(path, e))?;
                let filled = take(all.as_ref(), &idx, None).map_err(|e| bad(path, e))?;
                let at = b.schema().index_of(name).map_err(|e| bad(path, e))?;
                cols[at] = filled;
            }
        }
        let out =
            RecordBatch::try_new(super::histograms_schema(), cols).map_err(|e| bad(path, e))?;
        if n > 0 {
            let last = |k: usize| out.column_by_name(LISTS[k]).map(|c| c.slice(n - 1, 1));
            if let (Some(a), Some(b2), Some(c)) = (last(0), last(1), last(2)) {
                self.carry = Some((id[n - 1], [a, b2, c]));
            }
        }
        Ok(out)
    }
}

/// Every row of the histograms file at `path`, full ([`Expand`]), in file order.
pub(crate) fn read_full(path: &Path) -> Result<Vec<RecordBatch>> {
    let mut expand = Expand::default();
    open_batches(path)?
        .map(|b| expand.batch(&b?, path))
        .collect()
}

fn damaged(path: &Path, id: SeriesId, b: &RecordBatch, i: usize, what: &str) -> Error {
    let ts = b
        .column_by_name("ts")
        .and_then(|c| {
            c.as_any()
                .downcast_ref::<arrow::array::TimestampMillisecondArray>()
        })
        .map_or_else(|| "?".to_owned(), |t| t.value(i).to_string());
    bad(
        path,
        format!("histogram row of series {id} at {ts}: {what}"),
    )
}
