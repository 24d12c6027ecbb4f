//! Histogram samples to and from record batches of [`histograms_schema`], without their
//! bucket counts: a decoded row is a sample whose bucket lists are empty, filled from the
//! bucket file by [`super::assemble`].

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Int8Array, Int32Array, ListArray, StructArray,
    TimestampMillisecondArray, UInt8Array, UInt32Array, UInt64Array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type, UInt64Type};
use arrow::record_batch::RecordBatch;

use super::nullable::Nullable;
use super::{histograms_schema, span_fields};
use crate::model::histogram::{
    Counts, Histogram, HistogramRun, ResetHint, RunCounts, SCHEMA_CUSTOM, Span,
};
use crate::model::series::SeriesId;
use crate::storage::parquet_io::bad;
use crate::{Error, Result};

/// One list column being built: offsets, values, and which rows are not null.
struct ListCol<T> {
    offsets: Vec<i32>,
    values: Vec<T>,
    valid: Vec<bool>,
}

impl<T: Copy> ListCol<T> {
    fn new() -> Self {
        Self {
            offsets: vec![0],
            values: Vec::new(),
            valid: Vec::new(),
        }
    }

    fn push(&mut self, items: Option<&[T]>) {
        if let Some(items) = items {
            self.values.extend_from_slice(items);
        }
        self.valid.push(items.is_some());
        self.offsets.push(self.values.len() as i32);
    }

    /// The list array, its items made by `items`.
    fn finish(self, item: &DataType, items: impl FnOnce(Vec<T>) -> ArrayRef) -> ListArray {
        let field: FieldRef = Arc::new(Field::new_list_field(item.clone(), false));
        let nulls = self
            .valid
            .iter()
            .any(|v| !v)
            .then(|| NullBuffer::from(self.valid));
        let offsets = OffsetBuffer::new(ScalarBuffer::from(self.offsets));
        ListArray::new(field, offsets, items(self.values), nulls)
    }
}

/// Record batches of [`histograms_schema`], one row at a time.
pub(crate) struct RowsBuilder {
    ids: Vec<u64>,
    ts: Vec<i64>,
    schema: Vec<i8>,
    reset_hint: Vec<u8>,
    zero_threshold: Vec<f64>,
    sum: Vec<f64>,
    count_int: Vec<Option<u64>>,
    count_float: Vec<Option<f64>>,
    zero_count_int: Vec<Option<u64>>,
    zero_count_float: Vec<Option<f64>>,
    positive_spans: ListCol<Span>,
    negative_spans: ListCol<Span>,
    custom_values: ListCol<f64>,
}

impl Default for RowsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl RowsBuilder {
    pub(crate) fn new() -> Self {
        Self {
            ids: Vec::new(),
            ts: Vec::new(),
            schema: Vec::new(),
            reset_hint: Vec::new(),
            zero_threshold: Vec::new(),
            sum: Vec::new(),
            count_int: Vec::new(),
            count_float: Vec::new(),
            zero_count_int: Vec::new(),
            zero_count_float: Vec::new(),
            positive_spans: ListCol::new(),
            negative_spans: ListCol::new(),
            custom_values: ListCol::new(),
        }
    }

    /// Rows added.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no row was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Spans and custom bounds added, over all rows.
    pub(crate) fn values(&self) -> usize {
        self.positive_spans.values.len()
            + self.negative_spans.values.len()
            + self.custom_values.values.len()
    }

    /// Adds series `id`'s histogram `h` at `ts` (rows must come in (id, ts) order for a
    /// file). A schema outside i8 (never stored: validation keeps -53 and -4..=8) is an
    /// error.
    pub(crate) fn push(&mut self, id: SeriesId, ts: i64, h: &Histogram) -> Result<()> {
        let schema = i8::try_from(h.schema).map_err(|_| {
            bad(
                Path::new("<histograms>"),
                format!("series {id} at {ts}: schema {} does not fit", h.schema),
            )
        })?;
        self.ids.push(id);
        self.ts.push(ts);
        self.schema.push(schema);
        self.reset_hint.push(h.reset_hint as u8);
        self.zero_threshold.push(h.zero_threshold);
        self.sum.push(h.sum);
        self.positive_spans.push(Some(&h.positive_spans));
        self.negative_spans.push(Some(&h.negative_spans));
        // Null unless schema -53 (or bounds a valid histogram never has, kept as given).
        let custom = (h.schema == SCHEMA_CUSTOM || !h.custom_values.is_empty())
            .then_some(h.custom_values.as_slice());
        self.custom_values.push(custom);
        match &h.counts {
            Counts::Int {
                count, zero_count, ..
            } => {
                self.count_int.push(Some(*count));
                self.count_float.push(None);
                self.zero_count_int.push(Some(*zero_count));
                self.zero_count_float.push(None);
            }
            Counts::Float {
                count, zero_count, ..
            } => {
                self.count_int.push(None);
                self.count_float.push(Some(*count));
                self.zero_count_int.push(None);
                self.zero_count_float.push(Some(*zero_count));
            }
        }
        Ok(())
    }

    /// The rows added, as one batch; the builder is empty again.
    pub(crate) fn finish(&mut self) -> Result<RecordBatch> {
        let b = std::mem::take(self);
        let spans = |c: ListCol<Span>| {
            c.finish(&DataType::Struct(span_fields()), |v| {
                let offset: ArrayRef =
                    Arc::new(Int32Array::from_iter_values(v.iter().map(|s| s.offset)));
                let length: ArrayRef =
                    Arc::new(UInt32Array::from_iter_values(v.iter().map(|s| s.length)));
                Arc::new(StructArray::new(span_fields(), vec![offset, length], None))
            })
        };
        let floats = |c: ListCol<f64>| {
            c.finish(&DataType::Float64, |v| {
                Arc::new(Float64Array::from(v)) as ArrayRef
            })
        };
        let cols: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(b.ids)),
            Arc::new(TimestampMillisecondArray::from(b.ts).with_timezone("UTC")),
            Arc::new(Int8Array::from(b.schema)),
            Arc::new(UInt8Array::from(b.reset_hint)),
            Arc::new(Float64Array::from(b.zero_threshold)),
            Arc::new(Float64Array::from(b.sum)),
            Arc::new(UInt64Array::from(b.count_int)),
            Arc::new(Float64Array::from(b.count_float)),
            Arc::new(UInt64Array::from(b.zero_count_int)),
            Arc::new(Float64Array::from(b.zero_count_float)),
            Arc::new(spans(b.positive_spans)),
            Arc::new(spans(b.negative_spans)),
            Arc::new(floats(b.custom_values)),
        ];
        RecordBatch::try_new(histograms_schema(), cols)
            .map_err(|e| bad(Path::new("<histograms>"), e))
    }
}

/// The columns of a batch of [`histograms_schema`] (all of them, or a projection keeping
/// their names), typed.
pub(crate) struct Columns<'a> {
    pub(crate) ids: &'a UInt64Array,
    pub(crate) ts: &'a TimestampMillisecondArray,
    schema: &'a Int8Array,
    reset_hint: &'a UInt8Array,
    zero_threshold: &'a Float64Array,
    sum: &'a Float64Array,
    count_int: Nullable<'a, UInt64Type>,
    count_float: Nullable<'a, Float64Type>,
    zero_count_int: Nullable<'a, UInt64Type>,
    zero_count_float: Nullable<'a, Float64Type>,
    positive_spans: SpanList<'a>,
    negative_spans: SpanList<'a>,
    custom_values: FloatList<'a>,
    path: &'a Path,
}

/// A list column of spans, its child arrays typed once for the whole batch (a row's spans
/// are read from the slices, without slicing arrays per row).
pub(crate) struct SpanList<'a> {
    offsets: &'a [i32],
    offs: &'a [i32],
    lens: &'a [u32],
    /// Null rows: repeats ([`super::repeat`]).
    nulls: Option<&'a NullBuffer>,
}

impl<'a> SpanList<'a> {
    pub(crate) fn of(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<Self> {
        let list: &ListArray = col(batch, name, path)?;
        let mistyped = || {
            bad(
                path,
                format!("histograms column {name}: span fields are mistyped"),
            )
        };
        let st = list
            .values()
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(mistyped)?;
        let offs = st.column(0).as_any().downcast_ref::<Int32Array>();
        let lens = st.column(1).as_any().downcast_ref::<UInt32Array>();
        let (Some(offs), Some(lens)) = (offs, lens) else {
            return Err(mistyped());
        };
        Ok(Self {
            offsets: list.value_offsets(),
            offs: offs.values(),
            lens: lens.values(),
            nulls: list.nulls(),
        })
    }

    /// Whether row `i` is null.
    pub(crate) fn is_null(&self, i: usize) -> bool {
        self.nulls.is_some_and(|n| n.is_null(i))
    }

    /// Row `i`'s (offset, length) slices; `None` past the child arrays (a damaged file).
    pub(crate) fn row(&self, i: usize) -> Option<(&'a [i32], &'a [u32])> {
        let (a, b) = (
            *self.offsets.get(i)? as usize,
            *self.offsets.get(i + 1)? as usize,
        );
        Some((self.offs.get(a..b)?, self.lens.get(a..b)?))
    }
}

/// A nullable list column of f64, typed once for the whole batch.
pub(crate) struct FloatList<'a> {
    list: &'a ListArray,
    values: &'a [f64],
}

impl<'a> FloatList<'a> {
    pub(crate) fn of(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<Self> {
        let list: &ListArray = col(batch, name, path)?;
        let values = list
            .values()
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| bad(path, format!("histograms column {name} is mistyped")))?;
        Ok(Self {
            list,
            values: values.values(),
        })
    }

    /// Row `i`'s values (`Some(&[])` for a null row); `None` past the child array.
    pub(crate) fn row(&self, i: usize) -> Option<&'a [f64]> {
        if self.list.is_null(i) {
            return Some(&[]);
        }
        let o = self.list.value_offsets();
        let (a, b) = (*o.get(i)? as usize, *o.get(i + 1)? as usize);
        self.values.get(a..b)
    }

    /// Whether row `i` and `other`'s row `j` are both null, or both hold the same values
    /// to the bit.
    pub(crate) fn same(&self, i: usize, other: &FloatList<'_>, j: usize) -> bool {
        match (self.list.is_null(i), other.list.is_null(j)) {
            (true, true) => true,
            (false, false) => match (self.row(i), other.row(j)) {
                (Some(a), Some(b)) => {
                    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
                }
                _ => false,
            },
            _ => false,
        }
    }
}

/// A row's spans and custom bounds, owned: the lists a batch's first rows repeat when the
/// row they repeat was in the batch before ([`super::repeat`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Lists {
    pub(crate) positive: Vec<Span>,
    pub(crate) negative: Vec<Span>,
    pub(crate) custom: Vec<f64>,
}

/// Where a row's lists are: in a row of the batch (itself, or the row it repeats), or
/// carried over from the batch before.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ListsAt<'l> {
    Row(usize),
    Carried(&'l Lists),
}

fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a T> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| {
            bad(
                path,
                format!("histograms column {name} is missing or mistyped"),
            )
        })
}

impl<'a> Columns<'a> {
    /// The columns of `batch`, read from `path` (for errors); a count column may be left
    /// out when all its rows are null ([`super::nullable`]).
    pub(crate) fn of(batch: &'a RecordBatch, path: &'a Path) -> Result<Self> {
        Ok(Self {
            ids: col(batch, "series_id", path)?,
            ts: col(batch, "ts", path)?,
            schema: col(batch, "schema", path)?,
            reset_hint: col(batch, "reset_hint", path)?,
            zero_threshold: col(batch, "zero_threshold", path)?,
            sum: col(batch, "sum", path)?,
            count_int: Nullable::of(batch, "count_int", "histograms", path)?,
            count_float: Nullable::of(batch, "count_float", "histograms", path)?,
            zero_count_int: Nullable::of(batch, "zero_count_int", "histograms", path)?,
            zero_count_float: Nullable::of(batch, "zero_count_float", "histograms", path)?,
            positive_spans: SpanList::of(batch, "positive_spans", path)?,
            negative_spans: SpanList::of(batch, "negative_spans", path)?,
            custom_values: FloatList::of(batch, "custom_values", path)?,
            path,
        })
    }

    fn damaged(&self, i: usize, what: &str) -> Error {
        bad(
            self.path,
            format!(
                "histogram row of series {} at {}: {what}",
                self.ids.value(i),
                self.ts.value(i)
            ),
        )
    }

    /// Whether row `i` repeats the lists of the previous row of its series (its lists are
    /// null, [`super::repeat`]).
    pub(crate) fn repeats(&self, i: usize) -> bool {
        self.positive_spans.is_null(i)
    }

    /// Row `i`'s own lists (the row must not repeat).
    pub(crate) fn lists(&self, i: usize) -> Result<Lists> {
        Ok(Lists {
            positive: self.spans(&self.positive_spans, i)?,
            negative: self.spans(&self.negative_spans, i)?,
            custom: self
                .custom_values
                .row(i)
                .ok_or_else(|| self.damaged(i, "custom_values offsets outside the values"))?
                .to_vec(),
        })
    }

    /// The lists of row `i`, at `at`; `None` (a repeat row with no earlier row of its
    /// series) is an error naming row `i`.
    pub(crate) fn lists_at(&self, i: usize, at: Option<ListsAt<'_>>) -> Result<Lists> {
        match at {
            Some(ListsAt::Row(j)) => self.lists(j),
            Some(ListsAt::Carried(l)) => Ok(l.clone()),
            None => Err(self.damaged(i, "repeats the lists of no earlier row of its series")),
        }
    }

    fn spans(&self, list: &SpanList<'_>, i: usize) -> Result<Vec<Span>> {
        let (offs, lens) = list
            .row(i)
            .ok_or_else(|| self.damaged(i, "span offsets outside the span arrays"))?;
        Ok(offs
            .iter()
            .zip(lens)
            .map(|(&offset, &length)| Span { offset, length })
            .collect())
    }

    /// Row `i`'s histogram without its bucket counts: the bucket lists are empty, to be
    /// filled from the bucket file ([`super::assemble`]); its spans and bounds are those at
    /// `at` (row `i` itself unless it repeats).
    pub(crate) fn head(&self, i: usize, at: Option<ListsAt<'_>>) -> Result<Histogram> {
        let reset_hint = ResetHint::from_u8(self.reset_hint.value(i))
            .ok_or_else(|| self.damaged(i, "reset_hint is not 0..=3"))?;
        let counts = if !self.count_int.is_null(i) {
            if self.zero_count_int.is_null(i) {
                return Err(self.damaged(i, "an integer histogram without zero_count_int"));
            }
            Counts::Int {
                count: self.count_int.value(i),
                zero_count: self.zero_count_int.value(i),
                positive_deltas: Vec::new(),
                negative_deltas: Vec::new(),
            }
        } else {
            if self.count_float.is_null(i) || self.zero_count_float.is_null(i) {
                return Err(self.damaged(i, "neither count_int nor count_float is set"));
            }
            Counts::Float {
                count: self.count_float.value(i),
                zero_count: self.zero_count_float.value(i),
                positive: Vec::new(),
                negative: Vec::new(),
            }
        };
        let lists = self.lists_at(i, at)?;
        Ok(Histogram {
            schema: i32::from(self.schema.value(i)),
            zero_threshold: self.zero_threshold.value(i),
            sum: self.sum.value(i),
            reset_hint,
            positive_spans: lists.positive,
            negative_spans: lists.negative,
            custom_values: lists.custom,
            counts,
        })
    }
}

impl Columns<'_> {
    /// Whether row `i` is a well-formed histogram of `layout`'s layout: its schema, zero
    /// threshold (to the bit), spans, custom bounds and kind of counts, with a valid hint.
    /// Compared in place, without building the row's histogram. A repeat row's lists are
    /// taken to be `layout`'s: the caller holds the previous row of its series in a run of
    /// `layout`.
    pub(crate) fn same_layout(&self, i: usize, layout: &Histogram) -> bool {
        let int = matches!(layout.counts, Counts::Int { .. });
        let counts_ok = if int {
            !self.count_int.is_null(i) && !self.zero_count_int.is_null(i)
        } else {
            self.count_int.is_null(i)
                && !self.count_float.is_null(i)
                && !self.zero_count_float.is_null(i)
        };
        let spans_eq = |list: &SpanList<'_>, spans: &[Span]| {
            list.row(i).is_some_and(|(offs, lens)| {
                offs.len() == spans.len()
                    && spans
                        .iter()
                        .zip(offs.iter().zip(lens))
                        .all(|(s, (&o, &l))| s.offset == o && s.length == l)
            })
        };
        let scalars = counts_ok
            && self.reset_hint.value(i) <= 3
            && i32::from(self.schema.value(i)) == layout.schema
            && self.zero_threshold.value(i).to_bits() == layout.zero_threshold.to_bits();
        if self.repeats(i) {
            return scalars && self.negative_spans.is_null(i) && self.custom_values.list.is_null(i);
        }
        scalars
            && spans_eq(&self.positive_spans, &layout.positive_spans)
            && spans_eq(&self.negative_spans, &layout.negative_spans)
            && self
                .custom_values
                .row(i)
                .is_some_and(|v| v == layout.custom_values.as_slice())
    }

    /// Appends row `i`'s time, hint, sum and counts to `run` (bucket counts come from the
    /// bucket file); the row must be of `run`'s layout ([`Self::same_layout`]).
    pub(crate) fn append_to(&self, i: usize, run: &mut HistogramRun) {
        run.ts.push(self.ts.value(i));
        run.reset_hints
            .push(ResetHint::from_u8(self.reset_hint.value(i)).unwrap_or_default());
        run.sums.push(self.sum.value(i));
        match &mut run.counts {
            RunCounts::Int { count, zero, .. } => {
                count.push(self.count_int.value(i));
                zero.push(self.zero_count_int.value(i));
            }
            RunCounts::Float { count, zero, .. } => {
                count.push(self.count_float.value(i));
                zero.push(self.zero_count_float.value(i));
            }
        }
    }
}

/// Every row of `batch` as (series id, ts, histogram without bucket counts), in batch
/// order; a repeat row takes the lists of the row it repeats, which must be in the batch.
pub(crate) fn decode(batch: &RecordBatch, path: &Path) -> Result<Vec<(SeriesId, i64, Histogram)>> {
    let c = Columns::of(batch, path)?;
    let mut at: Option<(SeriesId, usize)> = None;
    (0..batch.num_rows())
        .map(|i| {
            let id = c.ids.value(i);
            if !c.repeats(i) {
                at = Some((id, i));
            } else if at.is_some_and(|(a, _)| a != id) {
                at = None;
            }
            let src = at.map(|(_, j)| ListsAt::Row(j));
            Ok((id, c.ts.value(i), c.head(i, src)?))
        })
        .collect()
}
