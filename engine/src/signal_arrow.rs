//! Arrow building blocks shared by the spans and logs layouts: attribute maps (text values
//! plus a types map), ids, timestamps, and typed column access when reading back.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, FixedSizeBinaryArray, FixedSizeBinaryBuilder, MapArray, MapBuilder,
    StringArray, StringBuilder, TimestampNanosecondArray,
};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::anyvalue::{AnyValue, Attributes};
use crate::parquet_io::bad;
use crate::{Error, Result};

/// Builds an attributes column pair: `attributes` (key -> text form of the value) and
/// `attribute_types` (key -> type name, for non-string values only); see
/// `docs/formats/spans-logs.md`.
pub(crate) struct AttrBuilder {
    kv: MapBuilder<StringBuilder, StringBuilder>,
    types: MapBuilder<StringBuilder, StringBuilder>,
}

impl AttrBuilder {
    pub(crate) fn new() -> Self {
        Self {
            kv: MapBuilder::new(None, StringBuilder::new(), StringBuilder::new()),
            types: MapBuilder::new(None, StringBuilder::new(), StringBuilder::new()),
        }
    }

    /// Appends one row's attributes.
    pub(crate) fn append(&mut self, attrs: &Attributes) -> Result<()> {
        for (k, v) in attrs {
            self.kv.keys().append_value(k);
            let values = self.kv.values();
            // The builder's `fmt::Write` appends to the value the next `append_value` ends.
            v.write_text(values).map_err(mem)?;
            values.append_value("");
            if let Some(t) = v.type_name() {
                self.types.keys().append_value(k);
                self.types.values().append_value(t);
            }
        }
        self.kv.append(true).map_err(mem)?;
        self.types.append(true).map_err(mem)
    }

    /// The two map arrays.
    pub(crate) fn finish(mut self) -> (ArrayRef, ArrayRef) {
        (Arc::new(self.kv.finish()), Arc::new(self.types.finish()))
    }
}

/// An error building an in-memory batch.
pub(crate) fn mem(e: impl std::fmt::Display) -> Error {
    bad(Path::new("<memory>"), e)
}

/// Reads row `i` of an attributes column pair back.
pub(crate) fn read_attrs(kv: &MapArray, types: &MapArray, i: usize) -> Result<Attributes, String> {
    let strings = |m: &MapArray, col: usize| -> Result<StringArray, String> {
        m.value(i)
            .column(col)
            .as_any()
            .downcast_ref::<StringArray>()
            .cloned()
            .ok_or_else(|| "an attributes map is not utf8 -> utf8".to_owned())
    };
    let (keys, values) = (strings(kv, 0)?, strings(kv, 1)?);
    let (tkeys, tvalues) = (strings(types, 0)?, strings(types, 1)?);
    let type_of = |k: &str| (0..tkeys.len()).find(|&j| tkeys.value(j) == k);
    (0..keys.len())
        .map(|j| {
            let k = keys.value(j);
            let t = type_of(k).map(|j| tvalues.value(j));
            let v = AnyValue::from_text(values.value(j), t).map_err(|e| e.to_string())?;
            Ok((k.to_owned(), v))
        })
        .collect()
}

/// A non-null id column.
pub(crate) fn ids<const N: usize>(values: impl Iterator<Item = [u8; N]>) -> Result<ArrayRef> {
    opt_ids(values.map(Some))
}

/// A nullable id column.
pub(crate) fn opt_ids<const N: usize>(
    values: impl Iterator<Item = Option<[u8; N]>>,
) -> Result<ArrayRef> {
    let mut b = FixedSizeBinaryBuilder::new(N as i32);
    for v in values {
        match v {
            Some(id) => b.append_value(id).map_err(mem)?,
            None => b.append_null(),
        }
    }
    Ok(Arc::new(b.finish()))
}

/// A UTC nanosecond timestamp column.
pub(crate) fn times(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from(values).with_timezone("UTC"))
}

/// A batch of `cols` (name, array, nullable) in order.
pub(crate) fn batch_of(cols: Vec<(&str, ArrayRef, bool)>) -> Result<RecordBatch> {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(name, a, nullable)| Field::new(*name, a.data_type().clone(), *nullable))
        .collect();
    let arrays = cols.into_iter().map(|c| c.1).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(mem)
}

/// The fields of `cols` (name, array, nullable), for a struct column.
pub(crate) fn fields_of(cols: &[(&str, ArrayRef, bool)]) -> Vec<Field> {
    cols.iter()
        .map(|(name, a, nullable)| Field::new(*name, a.data_type().clone(), *nullable))
        .collect()
}

/// Typed access to the columns of a batch read back, by name; errors name the file.
pub(crate) struct Cols<'a> {
    pub(crate) batch: &'a RecordBatch,
    pub(crate) path: &'a Path,
}

impl<'a> Cols<'a> {
    pub(crate) fn get<T: 'static>(&self, name: &str) -> Result<&'a T> {
        self.batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<T>())
            .ok_or_else(|| bad(self.path, format!("column {name} is missing or mistyped")))
    }

    pub(crate) fn id<const N: usize>(
        &self,
        a: &FixedSizeBinaryArray,
        i: usize,
    ) -> Result<Option<[u8; N]>> {
        if a.is_null(i) {
            return Ok(None);
        }
        a.value(i)
            .try_into()
            .map(Some)
            .map_err(|_| bad(self.path, format!("an id is not {N} bytes")))
    }

    pub(crate) fn bad(&self, e: impl std::fmt::Display) -> Error {
        bad(self.path, e)
    }
}
