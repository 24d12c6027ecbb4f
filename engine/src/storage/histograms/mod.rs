//! The native histograms files of a metrics file set (`docs/formats/partitions.md`), beside
//! the set's `samples-<B>.parquet` and optional like its `exemplars-<B>.parquet`:
//!
//! - `histograms-<B>.parquet`: one row per histogram sample, sorted by (series_id, ts): the
//!   remote-write 2.0 `Histogram` message without its bucket counts (schema, reset hint,
//!   zero bucket, sum, count, spans, custom bounds), flat at the top level;
//!   `count_int`/`count_float` and `zero_count_int`/`zero_count_float` are one-of pairs.
//! - `histogram_buckets-<B>.parquet`: one row per bucket of every sample (every index the
//!   spans cover, zero counts included), sorted by (series_id, negative, bucket, ts), with
//!   the bucket's absolute count; so the count column runs over time within one bucket and
//!   delta-encodes to a few bits, and SQL reads buckets as plain rows. Absent when no
//!   sample has a bucket.
//!
//! Every float is stored bit for bit (NaN sums, the stale marker, -0.0); integer deltas
//! come back by differencing the absolute counts.
//!
//! Pieces: schemas, file names and writer properties (here), the row builders and
//! decoders ([`rows`], [`buckets`]), the writer of both files ([`write`]), reassembly of
//! samples from both ([`assemble`]), a reader pruned by the page index like the samples
//! reader ([`read`]), the compaction merge and the filtered rewrite of deletes
//! ([`merge`]), and the merged keys compaction checks floats against ([`keys`]).

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

pub(crate) mod assemble;
pub(crate) mod buckets;
pub(crate) mod gathered;
pub(crate) mod keys;
pub(crate) mod merge;
pub(crate) mod nullable;
pub(crate) mod read;
pub(crate) mod repeat;
pub(crate) mod rows;
pub(crate) mod tier;
pub(crate) mod write;

#[cfg(test)]
mod tests;

/// Rows per data page of a histograms file (at most; pages also end at 1 MiB): the unit a
/// one-series read decodes, as in the samples file. A row without its buckets is ~60
/// bytes before compression. `tests/size.rs` measured (log-normal latencies, hourly
/// partitions, zstd 12) 10.2 B/sample at 1,024 rows, 9.4 at 4,096, 9.2 at 8,192.
pub(crate) const HISTOGRAMS_PAGE_ROWS: usize = 8192;

/// Rows per data page of a bucket file: a row is ~25 bytes before compression and a
/// series holds ~80 rows per sample, ~19,000 an hour at a 15 s scrape. Measured as above:
/// 27.6 B/sample at 8,192 rows, 24.9 at 16,384, 26.5 at 32,768 (each page restarts the
/// delta encoding and zstd; a one-series read decodes 2-3 pages).
pub(crate) const BUCKETS_PAGE_ROWS: usize = 16_384;

/// The file name of flush `flush`'s histograms file written by `by` (`-c` for
/// compaction's, `-cold` for a cold partition's).
pub(crate) fn file_name(flush: u64, by: WrittenBy) -> String {
    format!("histograms-{flush}{}.parquet", by.suffix())
}

/// The file name of flush `flush`'s bucket file written by `by`, as [`file_name`].
pub(crate) fn buckets_file_name(flush: u64, by: WrittenBy) -> String {
    format!("histogram_buckets-{flush}{}.parquet", by.suffix())
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

fn ts_field() -> Field {
    Field::new(
        "ts",
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        false,
    )
}

/// The schema of histograms files (`docs/formats/partitions.md`, "histograms-<B>.parquet").
pub(crate) fn histograms_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        ts_field(),
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
        Field::new("custom_values", list_of(DataType::Float64), true),
    ]))
}

/// The schema of bucket files (`docs/formats/partitions.md`,
/// "histogram_buckets-<B>.parquet").
pub(crate) fn buckets_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        ts_field(),
        Field::new("negative", DataType::Boolean, false),
        Field::new("bucket", DataType::Int32, false),
        Field::new("count", DataType::UInt64, true),
        Field::new("count_float", DataType::Float64, true),
    ]))
}

/// The encoding of a leaf column by the top-level column it belongs to (`None`: the
/// writer's dictionary, which the small-domain columns `schema` and `reset_hint` keep;
/// `negative` is a boolean, RLE).
fn leaf_encoding(top: &str) -> Option<Encoding> {
    match top {
        "series_id" | "custom_values" => Some(Encoding::PLAIN),
        "ts" | "count_int" | "zero_count_int" | "positive_spans" | "negative_spans" | "bucket"
        | "count" => Some(Encoding::DELTA_BINARY_PACKED),
        "zero_threshold" | "sum" | "count_float" | "zero_count_float" => {
            Some(Encoding::BYTE_STREAM_SPLIT)
        }
        "negative" => Some(Encoding::RLE),
        _ => None,
    }
}

/// Writer properties of a file of `schema` sorted by `sorted` (column indexes) written by
/// `by`: zstd at the level of the samples file beside it, the sort order declared as the
/// row groups' sorting columns, page statistics and the page index on `series_id` and
/// `ts` (what readers prune by), chunk statistics on the other top-level columns and none
/// on list leaves, pages of at most `page_rows` rows, and the encodings of
/// [`leaf_encoding`].
fn props(schema: &SchemaRef, sorted: &[i32], page_rows: usize, by: WrittenBy) -> WriterProperties {
    let sorting = sorted
        .iter()
        .map(|&column_idx| SortingColumn {
            column_idx,
            descending: false,
            nulls_first: false,
        })
        .collect();
    let mut b = WriterProperties::builder()
        .set_compression(by.samples_zstd())
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_data_page_row_count_limit(page_rows)
        .set_sorting_columns(Some(sorting));
    if let Ok(descr) = ArrowSchemaConverter::new().convert(schema) {
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

/// Writer properties of a histograms file written by `by` (sorted by series_id, ts; pages
/// of [`HISTOGRAMS_PAGE_ROWS`]; its format version in the footer, [`repeat::VERSION_KEY`]).
pub(crate) fn histograms_props(by: WrittenBy) -> WriterProperties {
    let p = props(&histograms_schema(), &[0, 1], HISTOGRAMS_PAGE_ROWS, by);
    p.into_builder()
        .set_key_value_metadata(Some(vec![repeat::version_entry()]))
        .build()
}

/// Writer properties of a bucket file written by `by` (sorted by series_id, negative,
/// bucket, ts; pages of `page_rows`, [`BUCKETS_PAGE_ROWS`] but for the size probe).
pub(crate) fn buckets_props(by: WrittenBy, page_rows: usize) -> WriterProperties {
    props(&buckets_schema(), &[0, 2, 3, 1], page_rows, by)
}

/// A writer for a histograms file at `path`: batches of [`repeat::file_schema`] in
/// (series_id, ts) order, their repeats nulled by a [`repeat::Compact`].
pub(crate) fn histograms_writer(path: &Path, by: WrittenBy) -> Result<DurableWriter> {
    DurableWriter::create(path, repeat::file_schema(), histograms_props(by))
}

/// A writer for a bucket file at `path` (batches from [`buckets::BucketsBuilder`], in
/// (series_id, negative, bucket, ts) order).
pub(crate) fn buckets_writer(path: &Path, by: WrittenBy) -> Result<DurableWriter> {
    DurableWriter::create(path, buckets_schema(), buckets_props(by, BUCKETS_PAGE_ROWS))
}
