//! Reading and writing the Parquet files of a partition.
//!
//! Samples: `series_id UInt64, ts Timestamp(ms, UTC), value Float64`, sorted by
//! (series_id, ts); timestamps delta-encoded, values byte-stream-split, zstd, page-level
//! statistics and the page index, so a reader can skip to one series' pages.
//! Series: `series_id UInt64, metric Utf8, labels Map<Utf8, Utf8>` (all labels but
//! `__name__`), sorted by series_id. Both are plain Parquet that DuckDB and pyarrow read.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, MapArray, MapBuilder, StringArray, StringBuilder,
    TimestampMillisecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::partition::sync_dir;
use crate::series::SeriesId;
use crate::{Error, Labels, METRIC_NAME, Sample};

fn bad(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
    }
}

pub(crate) fn samples_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("value", DataType::Float64, false),
    ]))
}

fn samples_props() -> WriterProperties {
    let zstd = ZstdLevel::try_new(3).unwrap_or_default();
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(zstd))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_data_page_row_count_limit(8192)
        .set_column_dictionary_enabled(ColumnPath::from("ts"), false)
        .set_column_encoding(ColumnPath::from("ts"), Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(ColumnPath::from("value"), false)
        .set_column_encoding(ColumnPath::from("value"), Encoding::BYTE_STREAM_SPLIT)
        .build()
}

/// Writes `batch` to `path` durably: temp file, fsync, rename, fsync dir.
fn write_file(path: &Path, batch: &RecordBatch, props: WriterProperties) -> Result<u64, Error> {
    let tmp = path.with_extension("parquet.tmp");
    let io = |source| Error::Io {
        path: tmp.clone(),
        source,
    };
    let file = File::create(&tmp).map_err(io)?;
    let mut w =
        ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(|e| bad(&tmp, e))?;
    w.write(batch).map_err(|e| bad(&tmp, e))?;
    let file = w.into_inner().map_err(|e| bad(&tmp, e))?;
    file.sync_all().map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    std::fs::rename(&tmp, path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    Ok(len)
}

/// Writes one flush's samples of a partition, `rows` sorted by (series id, ts).
pub(crate) fn write_samples(path: &Path, rows: &[(SeriesId, Sample)]) -> Result<u64, Error> {
    let ids: ArrayRef = Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.0)));
    let ts: ArrayRef = Arc::new(
        TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.1.ts))
            .with_timezone("UTC"),
    );
    let values: ArrayRef = Arc::new(Float64Array::from_iter_values(
        rows.iter().map(|r| r.1.value),
    ));
    let batch =
        RecordBatch::try_new(samples_schema(), vec![ids, ts, values]).map_err(|e| bad(path, e))?;
    write_file(path, &batch, samples_props())
}

/// Writes the series table for the series in a flush file, sorted by id.
pub(crate) fn write_series(path: &Path, series: &[(SeriesId, Arc<Labels>)]) -> Result<u64, Error> {
    let ids = UInt64Array::from_iter_values(series.iter().map(|s| s.0));
    let metrics = StringArray::from_iter_values(series.iter().map(|s| s.1.metric_name()));
    let mut map = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for (_, labels) in series {
        for l in labels.iter().filter(|l| l.name != METRIC_NAME) {
            map.keys().append_value(&l.name);
            map.values().append_value(&l.value);
        }
        map.append(true).map_err(|e| bad(path, e))?;
    }
    let map = map.finish();
    let schema = Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new("labels", map.data_type().clone(), false),
    ]));
    let cols: Vec<ArrayRef> = vec![Arc::new(ids), Arc::new(metrics), Arc::new(map)];
    let batch = RecordBatch::try_new(schema, cols).map_err(|e| bad(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    write_file(path, &batch, props)
}

fn open_batches(
    path: &Path,
) -> Result<impl Iterator<Item = Result<RecordBatch, Error>> + '_, Error> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| bad(path, e))?;
    Ok(reader.map(move |b| b.map_err(|e| bad(path, e))))
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, i: usize, path: &Path) -> Result<&'a T, Error> {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| bad(path, format!("column {i} has an unexpected type")))
}

/// Hands every sample with `ts` in `[start, end]` to `visit`, in file order.
pub(crate) fn read_samples(
    path: &Path,
    start: i64,
    end: i64,
    mut visit: impl FnMut(SeriesId, Sample),
) -> Result<(), Error> {
    for batch in open_batches(path)? {
        let batch = batch?;
        let ids = column::<UInt64Array>(&batch, 0, path)?;
        let ts = column::<TimestampMillisecondArray>(&batch, 1, path)?;
        let values = column::<Float64Array>(&batch, 2, path)?;
        for i in 0..batch.num_rows() {
            let (id, t) = (ids.value(i), ts.value(i));
            if t >= start && t <= end {
                visit(
                    id,
                    Sample {
                        ts: t,
                        value: values.value(i),
                    },
                );
            }
        }
    }
    Ok(())
}

/// Reads a series table.
pub(crate) fn read_series(path: &Path) -> Result<Vec<(SeriesId, Labels)>, Error> {
    let mut out = Vec::new();
    for batch in open_batches(path)? {
        let batch = batch?;
        let ids = column::<UInt64Array>(&batch, 0, path)?;
        let metrics = column::<StringArray>(&batch, 1, path)?;
        let maps = column::<MapArray>(&batch, 2, path)?;
        for i in 0..batch.num_rows() {
            let entry = maps.value(i);
            let strings = |j: usize| {
                entry
                    .column(j)
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .cloned()
                    .ok_or_else(|| bad(path, "labels map is not utf8 -> utf8"))
            };
            let (keys, values) = (strings(0)?, strings(1)?);
            let pairs = (0..keys.len())
                .map(|j| (keys.value(j), values.value(j)))
                .chain([(METRIC_NAME, metrics.value(i))]);
            let labels = Labels::from_pairs(pairs).map_err(|r| bad(path, r))?;
            out.push((ids.value(i), labels));
        }
    }
    Ok(out)
}
