//! A consistent read view of one tenant's metrics for query engines (the SQL catalog):
//! the committed file sets meeting a time range, held open, and the samples in memory as
//! Arrow batches.
//!
//! Sources come oldest first: file sets in flush order, then samples a flush is writing,
//! then the head. When two sources hold a sample of the same (series, timestamp), the
//! older source's wins; [`Engine::select`] applies the same rule.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, MapBuilder, StringArray, StringBuilder,
    TimestampMillisecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::model::series::SeriesId;
use crate::storage::histograms::buckets::{BucketRow, BucketsBuilder, rows_of};
use crate::storage::histograms::rows::RowsBuilder;
use crate::storage::parquet_io::bad;
use crate::{HistogramSample, SnapshotFile};
use crate::{Labels, METRIC_NAME, Result, Sample};

/// The schema of samples files and of [`Snapshot::memory`] batches:
/// `series_id UInt64, ts Timestamp(ms, "UTC"), value Float64`, none nullable.
pub fn samples_schema() -> SchemaRef {
    crate::storage::parquet_io::samples_schema()
}

/// The schema of a set's `histograms-<B>.parquet` and of the first batch of each
/// [`Snapshot::histograms_memory`] pair: one row per native histogram sample
/// (`docs/formats/partitions.md`).
pub fn histograms_schema() -> SchemaRef {
    crate::storage::histograms::histograms_schema()
}

/// The schema of [`Snapshot::series_batch`]: `series_id UInt64, metric Utf8,
/// labels Map<Utf8, Utf8>` (every label but `__name__`), as in the series files.
pub fn series_schema() -> SchemaRef {
    series_batch(&[])
        .map(|b| b.schema())
        .unwrap_or_else(|_| Arc::new(Schema::empty()))
}

/// What one tenant holds in a time range, read consistently: see the module docs.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Committed samples files whose time range meets the snapshot's, oldest flush first.
    pub files: Vec<SnapshotFile>,
    /// Samples in memory with a timestamp in the range, older source first (a flush in
    /// progress, then the head). Each batch has schema [`samples_schema`] and is sorted by
    /// (series id, ts) with one row per (series id, ts).
    pub memory: Vec<RecordBatch>,
    /// Native histograms in memory with a timestamp in the range, as `memory` (a flush in
    /// progress, then the head), each source as a pair of batches in the shape of the
    /// sets' files: one row per sample (schema of `histograms-<B>.parquet`, sorted by
    /// (series id, ts)) and one per bucket (schema of `histogram_buckets-<B>.parquet`,
    /// sorted by (series id, negative, bucket, ts)); see `docs/formats/partitions.md`.
    /// The committed ones are in [`SnapshotFile::histograms_path`] and
    /// [`SnapshotFile::histogram_buckets_path`] of `files`.
    pub histograms_memory: Vec<(RecordBatch, RecordBatch)>,
    /// Every series the tenant has in memory (all series since open), by id.
    pub series: Vec<(SeriesId, Arc<Labels>)>,
}

impl Snapshot {
    /// The series as one batch of schema [`series_schema`], sorted by id.
    pub fn series_batch(&self) -> Result<RecordBatch> {
        series_batch(&self.series)
    }
}

/// One batch of samples, sorted by (series id, ts).
pub(crate) fn samples_batch(mut parts: Vec<(SeriesId, &[Sample])>) -> Result<RecordBatch> {
    parts.sort_unstable_by_key(|p| p.0);
    let n = parts.iter().map(|p| p.1.len()).sum();
    let (mut ids, mut ts, mut values) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (id, samples) in parts {
        for s in samples {
            ids.push(id);
            ts.push(s.ts);
            values.push(s.value);
        }
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from(ids)),
        Arc::new(TimestampMillisecondArray::from(ts).with_timezone("UTC")),
        Arc::new(Float64Array::from(values)),
    ];
    RecordBatch::try_new(samples_schema(), cols).map_err(|e| bad(&PathBuf::from("<memory>"), e))
}

fn series_batch(series: &[(SeriesId, Arc<Labels>)]) -> Result<RecordBatch> {
    let memory = PathBuf::from("<memory>");
    let ids = UInt64Array::from_iter_values(series.iter().map(|s| s.0));
    let metrics = StringArray::from_iter_values(series.iter().map(|s| s.1.metric_name()));
    let mut map = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for (_, labels) in series {
        for l in labels.iter().filter(|l| l.name != METRIC_NAME) {
            map.keys().append_value(&l.name);
            map.values().append_value(&l.value);
        }
        map.append(true).map_err(|e| bad(&memory, e))?;
    }
    let map = map.finish();
    let schema = Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new("labels", map.data_type().clone(), false),
    ]));
    let cols: Vec<ArrayRef> = vec![Arc::new(ids), Arc::new(metrics), Arc::new(map)];
    RecordBatch::try_new(schema, cols).map_err(|e| bad(&memory, e))
}

/// One source's native histograms (`parts`: series in any order, each's samples in time
/// order) as a histograms batch and a bucket batch, sorted as their files are.
pub(crate) fn histogram_batches(
    mut parts: Vec<(SeriesId, Vec<HistogramSample>)>,
) -> Result<(RecordBatch, RecordBatch)> {
    parts.sort_unstable_by_key(|p| p.0);
    let mut rows = RowsBuilder::new();
    let mut buckets = BucketsBuilder::default();
    let mut series_rows: Vec<BucketRow> = Vec::new();
    for (id, samples) in &parts {
        series_rows.clear();
        for s in samples {
            rows.push(*id, s.ts, &s.h)?;
            rows_of(*id, s.ts, &s.h, &mut series_rows)?;
        }
        // Stable: each bucket's rows stay in time order.
        series_rows.sort_by_key(|r| (r.negative, r.bucket));
        for r in &series_rows {
            buckets.push(*id, r);
        }
    }
    Ok((rows.finish()?, buckets.finish()?))
}

#[cfg(test)]
mod tests {
    use crate::Engine;
    use crate::{EngineConfig, ManualClock, Sample, SeriesSamples, TenantId};

    use super::*;

    #[test]
    fn snapshot_holds_files_then_memory_and_every_series() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(10_000_000);
        let engine = Engine::open_with_clock(dir.path(), EngineConfig::default(), clock).unwrap();
        let t = TenantId::new("a").unwrap();
        let series = |v: f64, ts: i64| SeriesSamples {
            labels: vec![("__name__".into(), "m".into()), ("k".into(), "v".into())],
            samples: vec![Sample { ts, value: v }],
        };
        engine.write(&t, &[series(1.0, 9_000_000)]).unwrap();
        engine.flush().unwrap();
        engine.write(&t, &[series(2.0, 9_500_000)]).unwrap();
        let snap = engine.snapshot(&t, 0, 10_000_000).unwrap();
        assert_eq!(snap.files.len(), 1);
        assert_eq!(snap.files[0].min_ts(), 9_000_000);
        assert_eq!(snap.files[0].rows(), 1);
        assert!(snap.files[0].samples_bytes() > 0);
        assert_eq!(snap.memory.len(), 1);
        assert_eq!(snap.memory[0].num_rows(), 1);
        assert_eq!(snap.series.len(), 1);
        assert_eq!(snap.series_batch().unwrap().schema(), series_schema());
        // A range that misses the file and the head sample.
        let snap = engine.snapshot(&t, 0, 1_000).unwrap();
        assert!(snap.files.is_empty() && snap.memory.is_empty());
        // Another tenant sees nothing.
        let other = engine
            .snapshot(&TenantId::new("b").unwrap(), 0, i64::MAX)
            .unwrap();
        assert!(other.files.is_empty() && other.memory.is_empty() && other.series.is_empty());
    }
}
