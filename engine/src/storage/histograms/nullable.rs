//! Count columns that may be left out of a read: an integer histogram's `count_float`
//! columns (and a float one's integer columns) are all null, and decoding them still costs
//! their definition levels and a validity bitmap per batch. A reader projects out each such
//! column whose chunks in every row group it reads say (by their statistics) that all their
//! rows are null; the typed view then reads the missing column as null everywhere.

use std::path::Path;

use arrow::array::{Array, ArrowPrimitiveType, PrimitiveArray, RecordBatch};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;

use crate::Result;
use crate::storage::parquet_io::bad;

/// A nullable primitive column of a batch, or none: every row null.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nullable<'a, T: ArrowPrimitiveType>(Option<&'a PrimitiveArray<T>>);

impl<'a, T: ArrowPrimitiveType> Nullable<'a, T> {
    /// Column `name` of `batch` (of the `file` column set at `path`, for errors): left
    /// out, it reads as null; there, it must have the type.
    pub(crate) fn of(batch: &'a RecordBatch, name: &str, file: &str, path: &Path) -> Result<Self> {
        match batch.column_by_name(name) {
            None => Ok(Self(None)),
            Some(c) => c
                .as_any()
                .downcast_ref::<PrimitiveArray<T>>()
                .map(|a| Self(Some(a)))
                .ok_or_else(|| bad(path, format!("{file} column {name} is mistyped"))),
        }
    }

    /// Whether row `i` is null.
    pub(crate) fn is_null(&self, i: usize) -> bool {
        self.0.is_none_or(|a| a.is_null(i))
    }

    /// Whether the column was left out (every row null).
    pub(crate) fn is_absent(&self) -> bool {
        self.0.is_none()
    }

    /// Whether no row is null.
    pub(crate) fn no_nulls(&self) -> bool {
        self.0.is_some_and(|a| a.null_count() == 0)
    }

    /// Row `i`'s value (any value for a null row).
    pub(crate) fn value(&self, i: usize) -> T::Native {
        self.0.map_or_else(T::Native::default, |a| a.values()[i])
    }

    /// The values buffer (empty when the column was left out).
    pub(crate) fn values(&self) -> &'a [T::Native] {
        self.0.map_or(&[], |a| a.values())
    }
}

/// The projection of a file (`meta`) read over row groups `groups`: every top-level
/// column but those named in `optional` whose chunk in each of `groups` has statistics
/// saying all its rows are null. `None`: every column.
pub(crate) fn projection(
    meta: &ArrowReaderMetadata,
    groups: &[usize],
    optional: &[&str],
) -> Option<ProjectionMask> {
    let schema = meta.metadata().file_metadata().schema_descr();
    let all_null = |leaf: usize| {
        groups.iter().all(|&g| {
            let rg = meta.metadata().row_group(g);
            rg.column(leaf)
                .statistics()
                .and_then(|s| s.null_count_opt())
                .is_some_and(|n| i64::try_from(n).is_ok_and(|n| n == rg.num_rows()))
        })
    };
    let dropped: Vec<usize> = (0..schema.num_columns())
        .filter(|&leaf| {
            let c = schema.column(leaf);
            c.path().parts().len() == 1 && optional.contains(&c.name()) && all_null(leaf)
        })
        .map(|leaf| schema.get_column_root_idx(leaf))
        .collect();
    if dropped.is_empty() || groups.is_empty() {
        return None;
    }
    let roots = schema.root_schema().get_fields().len();
    let kept = (0..roots).filter(|r| !dropped.contains(r));
    Some(ProjectionMask::roots(schema, kept))
}
