//! The native histograms of one tenant's [`Snapshot`], deduplicated: every source (file
//! sets oldest flush first, then memory) read whole for the time range, and for each
//! (series_id, ts) the sample of the oldest source kept, as `samples` and the engine's own
//! reads do. Bucket rows are kept only for the samples that won.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray, UInt64Array,
};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{
    Float64Type, Int8Type, Int32Type, SchemaRef, TimestampMillisecondType, UInt8Type, UInt64Type,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use strata_engine::Snapshot;

use super::bounds::{BucketRowsBuilder, SampleShape};
use super::schema::{histograms_table_schema, reset_hint_name};
use crate::sql::scan::time_range::TimeRange;

/// One source's histogram rows and bucket rows, as stored.
struct Source {
    rows: Vec<RecordBatch>,
    buckets: Vec<RecordBatch>,
}

/// The deduplicated histograms of a snapshot: rows of the `histograms` table and, when
/// asked for, of the `histogram_buckets` table.
pub(crate) struct Deduped {
    pub(crate) rows: Vec<RecordBatch>,
    pub(crate) buckets: Vec<RecordBatch>,
}

fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>> {
    let file = File::open(path)
        .map_err(|e| DataFusionError::Execution(format!("cannot open {}: {e}", path.display())))?;
    ParquetRecordBatchReaderBuilder::try_new(file)?
        .build()?
        .map(|b| b.map_err(DataFusionError::from))
        .collect()
}

fn sources(snap: &Snapshot, with_buckets: bool) -> Result<Vec<Source>> {
    let mut out = Vec::new();
    for f in &snap.files {
        if f.histograms_path().is_none() {
            continue;
        }
        // Full rows: a file stores a run's spans and bounds once.
        let rows = f
            .histogram_rows_full()
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let buckets = match f.histogram_buckets_path() {
            Some(p) if with_buckets => read_parquet(&p)?,
            _ => Vec::new(),
        };
        out.push(Source { rows, buckets });
    }
    for (rows, buckets) in &snap.histograms_memory {
        out.push(Source {
            rows: vec![rows.clone()],
            buckets: if with_buckets {
                vec![buckets.clone()]
            } else {
                Vec::new()
            },
        });
    }
    Ok(out)
}

fn column<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    b.column_by_name(name)
        .ok_or_else(|| DataFusionError::Internal(format!("histograms batch without column {name}")))
}

fn keys(b: &RecordBatch) -> Result<(&UInt64Array, &[i64])> {
    let ids = column(b, "series_id")?
        .as_primitive_opt::<UInt64Type>()
        .ok_or_else(|| DataFusionError::Internal("series_id is not UInt64".into()))?;
    let ts = column(b, "ts")?
        .as_primitive_opt::<TimestampMillisecondType>()
        .ok_or_else(|| DataFusionError::Internal("ts is not Timestamp(ms)".into()))?;
    Ok((ids, ts.values()))
}

/// A stored histograms batch in the table's shape: `reset_hint` as its name, every other
/// column cast to the table's type (a Parquet read may name nested fields differently).
fn to_table(b: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let mut cols = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let c = column(b, field.name())?;
        if field.name() == "reset_hint" {
            let hints = c
                .as_primitive_opt::<UInt8Type>()
                .ok_or_else(|| DataFusionError::Internal("reset_hint is not UInt8".into()))?;
            let names =
                StringArray::from_iter_values(hints.values().iter().map(|&h| reset_hint_name(h)));
            cols.push(std::sync::Arc::new(names) as ArrayRef);
        } else if c.data_type() == field.data_type() {
            cols.push(c.clone());
        } else {
            cols.push(cast(c, field.data_type())?);
        }
    }
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}

/// The shape of row `i` of a stored histograms batch, for its buckets' bounds.
fn shape(b: &RecordBatch, i: usize) -> Result<SampleShape> {
    let bad = |what: &str| DataFusionError::Internal(format!("histograms batch: {what}"));
    let schema = column(b, "schema")?
        .as_primitive_opt::<Int8Type>()
        .ok_or_else(|| bad("schema is not Int8"))?
        .value(i);
    let zero_threshold = column(b, "zero_threshold")?
        .as_primitive_opt::<Float64Type>()
        .ok_or_else(|| bad("zero_threshold is not Float64"))?
        .value(i);
    let zi = column(b, "zero_count_int")?;
    let zf = column(b, "zero_count_float")?;
    let zero_count = if zf.is_valid(i) {
        zf.as_primitive_opt::<Float64Type>()
            .ok_or_else(|| bad("zero_count_float is not Float64"))?
            .value(i)
    } else if zi.is_valid(i) {
        zi.as_primitive_opt::<UInt64Type>()
            .ok_or_else(|| bad("zero_count_int is not UInt64"))?
            .value(i) as f64
    } else {
        0.0
    };
    let cv = column(b, "custom_values")?;
    let custom_values = match cv.as_list_opt::<i32>() {
        Some(list) if list.is_valid(i) => list
            .value(i)
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| bad("custom_values items are not Float64"))?
            .values()
            .to_vec(),
        _ => Vec::new(),
    };
    Ok(SampleShape {
        schema: i32::from(schema),
        zero_threshold,
        zero_count,
        custom_values,
    })
}

/// Reads and deduplicates `snap`'s histograms in `range`; bucket rows only if
/// `with_buckets`.
pub(crate) fn deduped(snap: &Snapshot, range: TimeRange, with_buckets: bool) -> Result<Deduped> {
    let schema = histograms_table_schema();
    let mut out = Deduped {
        rows: Vec::new(),
        buckets: Vec::new(),
    };
    // (series_id, ts) of every sample kept so far: a later source's copy loses.
    let mut seen: HashSet<(u64, i64)> = HashSet::new();
    for source in sources(snap, with_buckets)? {
        // The samples this source won, with the shape their buckets' bounds need.
        let mut won: HashMap<(u64, i64), SampleShape> = HashMap::new();
        for b in &source.rows {
            let (ids, ts) = keys(b)?;
            let mut keep = Vec::with_capacity(b.num_rows());
            for (i, &t) in ts.iter().enumerate() {
                let key = (ids.value(i), t);
                let k = t >= range.start && t <= range.end && !seen.contains(&key);
                if k {
                    seen.insert(key);
                    if with_buckets {
                        won.insert(key, shape(b, i)?);
                    }
                }
                keep.push(k);
            }
            let kept = filter_record_batch(b, &BooleanArray::from(keep))?;
            if kept.num_rows() > 0 {
                out.rows.push(to_table(&kept, &schema)?);
            }
        }
        if !with_buckets {
            continue;
        }
        let mut builder = BucketRowsBuilder::default();
        for b in &source.buckets {
            let (ids, ts) = keys(b)?;
            let negative = column(b, "negative")?.as_boolean();
            let bucket = column(b, "bucket")?
                .as_primitive_opt::<Int32Type>()
                .ok_or_else(|| DataFusionError::Internal("bucket is not Int32".into()))?;
            let count = column(b, "count")?.as_primitive::<UInt64Type>();
            let count_float = column(b, "count_float")?.as_primitive::<Float64Type>();
            for (i, &t) in ts.iter().enumerate() {
                let key = (ids.value(i), t);
                let Some(shape) = won.get(&key) else {
                    continue;
                };
                let c = if count_float.is_valid(i) {
                    count_float.value(i)
                } else {
                    count.value(i) as f64
                };
                builder.push_bucket(key, negative.value(i), bucket.value(i), c, shape);
            }
        }
        let mut zero: Vec<_> = won.iter().collect();
        zero.sort_unstable_by_key(|(k, _)| **k);
        for (key, shape) in zero {
            builder.push_zero(*key, shape);
        }
        if !builder.is_empty() {
            out.buckets.push(builder.finish()?);
        }
    }
    Ok(out)
}
