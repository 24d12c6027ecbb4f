//! The schemas of the `histograms` and `histogram_buckets` tables.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

fn ts_field() -> Field {
    Field::new(
        "ts",
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        false,
    )
}

/// The `histograms` table: the columns of `histograms-<B>.parquet`
/// (`docs/formats/partitions.md`, [`strata_engine::histograms_schema`]), `reset_hint` as its
/// name ([`reset_hint_name`]) instead of its number.
pub(crate) fn histograms_table_schema() -> SchemaRef {
    let fields: Vec<Field> = strata_engine::histograms_schema()
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            "reset_hint" => Field::new("reset_hint", DataType::Utf8, false),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
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
