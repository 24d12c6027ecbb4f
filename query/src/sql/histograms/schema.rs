//! The schemas of the `histograms` and `histogram_buckets` tables.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

fn ts_field() -> Field {
    Field::new(
        "ts",
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        false,
    )
}

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, false)))
}

fn spans_type() -> DataType {
    list_of(DataType::Struct(Fields::from(vec![
        Field::new("offset", DataType::Int32, false),
        Field::new("length", DataType::UInt32, false),
    ])))
}

/// The `histograms` table: the columns of `histograms-<B>.parquet`
/// (`docs/formats/partitions.md`), `reset_hint` as its name ([`reset_hint_name`]).
pub(crate) fn histograms_table_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        ts_field(),
        Field::new("schema", DataType::Int8, false),
        Field::new("reset_hint", DataType::Utf8, false),
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

/// The `histogram_buckets` table: one row per bucket of every histogram sample, the zero
/// bucket with `bucket` NULL.
pub(crate) fn buckets_table_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        ts_field(),
        Field::new("negative", DataType::Boolean, false),
        Field::new("bucket", DataType::Int32, true),
        Field::new("count", DataType::Float64, false),
        Field::new("lower", DataType::Float64, false),
        Field::new("upper", DataType::Float64, false),
        Field::new("lower_inclusive", DataType::Boolean, false),
        Field::new("upper_inclusive", DataType::Boolean, false),
    ]))
}

/// The name of stored reset hint `h` (remote-write numbering).
pub(crate) fn reset_hint_name(h: u8) -> &'static str {
    match h {
        0 => "unknown",
        1 => "reset",
        2 => "not_reset",
        3 => "gauge",
        _ => "invalid",
    }
}
