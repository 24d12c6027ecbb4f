//! The `exemplars-<B>.parquet` file of a metrics partition (`docs/formats/exemplars.md`):
//! one row per exemplar, sorted by time, in plain Parquet. The same schema is the SQL
//! table `exemplars` ([`exemplars_schema`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, MapArray, MapBuilder, StringArray, StringBuilder,
    TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::model::exemplar::{Exemplar, SPAN_ID_LABEL, TRACE_ID_LABEL};
use crate::storage::parquet_io::{DurableWriter, bad, column, open_batches};
use crate::{Labels, METRIC_NAME, Result};

fn map_type() -> DataType {
    let entries = Field::new(
        "entries",
        DataType::Struct(
            vec![
                Field::new("keys", DataType::Utf8, false),
                Field::new("values", DataType::Utf8, true),
            ]
            .into(),
        ),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

/// The schema of exemplars files and of the SQL table `exemplars`: `ts Timestamp(ms,
/// "UTC")`, `metric Utf8`, `labels Map<Utf8, Utf8>` (the series' labels but `__name__`),
/// `value Float64`, `trace_id Utf8` and `span_id Utf8` (null when absent), and
/// `exemplar_labels Map<Utf8, Utf8>` (the exemplar's other labels).
pub fn exemplars_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("metric", DataType::Utf8, false),
        Field::new("labels", map_type(), false),
        Field::new("value", DataType::Float64, false),
        Field::new(TRACE_ID_LABEL, DataType::Utf8, true),
        Field::new(SPAN_ID_LABEL, DataType::Utf8, true),
        Field::new("exemplar_labels", map_type(), false),
    ]))
}

/// One batch of exemplars, in the given order.
pub(crate) fn batch(rows: &[(&Labels, &Exemplar)]) -> Result<RecordBatch> {
    let memory = PathBuf::from("<exemplars>");
    let ts = TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.1.ts))
        .with_timezone("UTC");
    let metric = StringArray::from_iter_values(rows.iter().map(|r| r.0.metric_name()));
    let value = Float64Array::from_iter_values(rows.iter().map(|r| r.1.value));
    let trace = StringArray::from_iter(rows.iter().map(|r| r.1.label(TRACE_ID_LABEL)));
    let span = StringArray::from_iter(rows.iter().map(|r| r.1.label(SPAN_ID_LABEL)));
    let mut series = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    let mut own = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for (labels, e) in rows {
        for l in labels.iter().filter(|l| l.name != METRIC_NAME) {
            series.keys().append_value(&l.name);
            series.values().append_value(&l.value);
        }
        series.append(true).map_err(|e| bad(&memory, e))?;
        let mut mine: Vec<_> = e
            .labels
            .iter()
            .filter(|(n, _)| n != TRACE_ID_LABEL && n != SPAN_ID_LABEL)
            .collect();
        mine.sort();
        for (n, v) in mine {
            own.keys().append_value(n);
            own.values().append_value(v);
        }
        own.append(true).map_err(|e| bad(&memory, e))?;
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(ts),
        Arc::new(metric),
        Arc::new(series.finish()),
        Arc::new(value),
        Arc::new(trace),
        Arc::new(span),
        Arc::new(own.finish()),
    ];
    RecordBatch::try_new(exemplars_schema(), cols).map_err(|e| bad(&memory, e))
}

/// Writes `rows` (sorted by time here) durably to `path`; returns the file's size.
pub(crate) fn write(path: &Path, rows: &mut [(&Labels, &Exemplar)]) -> Result<u64> {
    rows.sort_by_key(|r| r.1.ts);
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut w = DurableWriter::create(path, exemplars_schema(), props)?;
    for chunk in rows.chunks(8192) {
        w.write(&batch(chunk)?)?;
    }
    w.finish()
}

/// The exemplars of a file (or batches of [`exemplars_schema`]).
pub(crate) fn read(path: &Path) -> Result<Vec<(Labels, Exemplar)>> {
    let mut out = Vec::new();
    for b in open_batches(path)? {
        rows(&b?, path, &mut out)?;
    }
    Ok(out)
}

fn pairs(map: &MapArray, i: usize, path: &Path) -> Result<Vec<(String, String)>> {
    let entries = map.value(i);
    let keys = entries
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| bad(path, "map keys are not strings"))?;
    let values = entries
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| bad(path, "map values are not strings"))?;
    Ok((0..keys.len())
        .map(|j| (keys.value(j).to_owned(), values.value(j).to_owned()))
        .collect())
}

/// Appends the rows of `b` to `out`.
pub(crate) fn rows(b: &RecordBatch, path: &Path, out: &mut Vec<(Labels, Exemplar)>) -> Result<()> {
    let ts = column::<TimestampMillisecondArray>(b, 0, path)?;
    let metric = column::<StringArray>(b, 1, path)?;
    let series = column::<MapArray>(b, 2, path)?;
    let value = column::<Float64Array>(b, 3, path)?;
    let trace = column::<StringArray>(b, 4, path)?;
    let span = column::<StringArray>(b, 5, path)?;
    let own = column::<MapArray>(b, 6, path)?;
    for i in 0..b.num_rows() {
        let mut labels = pairs(series, i, path)?;
        labels.push((METRIC_NAME.to_owned(), metric.value(i).to_owned()));
        let labels = Labels::from_pairs(labels).map_err(|r| bad(path, r))?;
        let mut mine = Vec::new();
        if trace.is_valid(i) {
            mine.push((TRACE_ID_LABEL.to_owned(), trace.value(i).to_owned()));
        }
        if span.is_valid(i) {
            mine.push((SPAN_ID_LABEL.to_owned(), span.value(i).to_owned()));
        }
        mine.extend(pairs(own, i, path)?);
        out.push((
            labels,
            Exemplar {
                labels: mine,
                ts: ts.value(i),
                value: value.value(i),
            },
        ));
    }
    Ok(())
}
