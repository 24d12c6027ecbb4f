//! The `histograms-<B>.parquet` file of a metrics file set: native histogram samples, one
//! row per (series, ts), sorted by (series_id, ts), beside the set's `samples-<B>.parquet`
//! and optional like its `exemplars-<B>.parquet` (`docs/formats/partitions.md`).
//!
//! The columns mirror the remote-write 2.0 `Histogram` message, flat at the top level so
//! DuckDB and pyarrow read them as plain columns: integer histograms keep their bucket
//! deltas (`positive_deltas`, `negative_deltas`; the `*_counts` lists are null), float
//! histograms their absolute counts (`positive_counts`, `negative_counts`; the `*_deltas`
//! lists are null), and `count_int`/`count_float`, `zero_count_int`/`zero_count_float` are
//! one-of pairs. Every float is stored bit for bit (NaN sums, the stale marker, -0.0).
//!
//! Pieces: the schema and writer properties (here), the row builder and decoder
//! ([`rows`]), a reader pruned by the page index like the samples reader ([`read`]), and
//! the compaction merge and the filtered rewrite of deletes and retention ([`merge`]).

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowSchemaConverter;
use parquet::basic::Encoding;
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::Result;
use crate::storage::parquet_io::{DurableWriter, WrittenBy};

pub(crate) mod merge;
pub(crate) mod read;
pub(crate) mod rows;

#[cfg(test)]
mod tests;

/// Rows per data page of a histograms file (at most; pages also end at 1 MiB): the unit a
/// one-series read decodes. A row of ~20 buckets is ~250 bytes before compression, so a
/// page holds about what a samples page of 8,192 rows does.
pub(crate) const HISTOGRAMS_PAGE_ROWS: usize = 1024;

/// The file name of flush `flush`'s histograms file (`compacted`: compaction's, `-c`).
pub(crate) fn file_name(flush: u64, compacted: bool) -> String {
    if compacted {
        format!("histograms-{flush}-c.parquet")
    } else {
        format!("histograms-{flush}.parquet")
    }
}

/// The fields of a span: `offset Int32, length UInt32`.
fn span_fields() -> Fields {
    Fields::from(vec![
        Field::new("offset", DataType::Int32, false),
        Field::new("length", DataType::UInt32, false),
    ])
}

/// `List<Struct<offset Int32, length UInt32>>`: a side's spans.
fn spans_type() -> DataType {
    list_of(DataType::Struct(span_fields()))
}

/// `List<item>` with non-null items.
fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, false)))
}

/// The schema of histograms files (`docs/formats/partitions.md`, "histograms-<B>.parquet").
pub(crate) fn histograms_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("schema", DataType::Int8, false),
        Field::new("reset_hint", DataType::UInt8, false),
        Field::new("zero_threshold", DataType::Float64, false),
        Field::new("sum", DataType::Float64, false),
        Field::new("count_int", DataType::UInt64, true),
        Field::new("count_float", DataType::Float64, true),
        Field::new("zero_count_int", DataType::UInt64, true),
        Field::new("zero_count_float", DataType::Float64, true),
        Field::new("positive_spans", spans_type(), false),
        Field::new("negative_spans", spans_type(), false),
        Field::new("positive_deltas", list_of(DataType::Int64), true),
        Field::new("negative_deltas", list_of(DataType::Int64), true),
        Field::new("positive_counts", list_of(DataType::Float64), true),
        Field::new("negative_counts", list_of(DataType::Float64), true),
        Field::new("custom_values", list_of(DataType::Float64), true),
    ]))
}

/// The encoding of a leaf column by the top-level column it belongs to (`None`: the
/// writer's dictionary, which the small-domain columns `schema` and `reset_hint` keep).
fn leaf_encoding(top: &str) -> Option<Encoding> {
    match top {
        "series_id" | "custom_values" => Some(Encoding::PLAIN),
        "ts" | "count_int" | "zero_count_int" | "positive_spans" | "negative_spans"
        | "positive_deltas" | "negative_deltas" => Some(Encoding::DELTA_BINARY_PACKED),
        "zero_threshold" | "sum" | "count_float" | "zero_count_float" | "positive_counts"
        | "negative_counts" => Some(Encoding::BYTE_STREAM_SPLIT),
        _ => None,
    }
}

/// Writer properties of a histograms file written by `by`: zstd at the level of the
/// samples file beside it, sorted by (series_id, ts) (declared as the row groups' sorting
/// columns), page statistics and the page index on `series_id` and `ts` (what readers
/// prune by), chunk statistics on the other top-level columns and none on list leaves,
/// pages of at most [`HISTOGRAMS_PAGE_ROWS`] rows, and the encodings of
/// [`leaf_encoding`].
pub(crate) fn histograms_props(by: WrittenBy) -> WriterProperties {
    let schema = histograms_schema();
    let mut b = WriterProperties::builder()
        .set_compression(by.samples_zstd())
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_data_page_row_count_limit(HISTOGRAMS_PAGE_ROWS)
        .set_sorting_columns(Some(vec![
            SortingColumn {
                column_idx: 0,
                descending: false,
                nulls_first: false,
            },
            SortingColumn {
                column_idx: 1,
                descending: false,
                nulls_first: false,
            },
        ]));
    if let Ok(descr) = ArrowSchemaConverter::new().convert(&schema) {
        for leaf in descr.columns() {
            let path: ColumnPath = leaf.path().clone();
            let top = path.parts()[0].clone();
            let stats = if path.parts().len() > 1 {
                EnabledStatistics::None
            } else if top == "series_id" || top == "ts" {
                EnabledStatistics::Page
            } else {
                EnabledStatistics::Chunk
            };
            b = b.set_column_statistics_enabled(path.clone(), stats);
            if let Some(enc) = leaf_encoding(&top) {
                b = b
                    .set_column_dictionary_enabled(path.clone(), false)
                    .set_column_encoding(path, enc);
            }
        }
    }
    b.build()
}

/// A writer for a histograms file at `path` (batches from [`rows::RowsBuilder`], in
/// (series_id, ts) order).
pub(crate) fn histograms_writer(path: &Path, by: WrittenBy) -> Result<DurableWriter> {
    DurableWriter::create(path, histograms_schema(), histograms_props(by))
}
