//! Re-encoding a data directory's metrics samples files with other Parquet writer settings:
//! `bench-load-vm --reencode` (sizes of every variant, in memory) and `--rewrite KEY` (the
//! files rewritten in place with one variant, so reads can be timed on it). Every variant
//! keeps the samples schema (`series_id UInt64, ts Timestamp(ms), value Float64`), so the
//! files stay plain Parquet that DuckDB and pyarrow read; only encodings, compression and
//! page sizes change.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, ArrayRef, Float64Array, TimestampMillisecondArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;
use serde_json::{Value, json};

use crate::files_under;

/// One row of a samples file: (series id, ts, value).
type Row = (u64, i64, f64);

/// Partition directory (relative to `metrics/`) -> its files.
pub fn partitions(metrics: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut parts: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for f in files_under(metrics) {
        if let Some(parent) = f.parent().and_then(|p| p.strip_prefix(metrics).ok()) {
            parts
                .entry(parent.display().to_string())
                .or_default()
                .push(f);
        }
    }
    parts.retain(|k, _| !k.is_empty());
    parts
}

/// Whether `f` is a samples file (`samples-*.parquet`).
pub fn is_samples(f: &Path) -> bool {
    f.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("samples-") && n.ends_with(".parquet"))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn samples_schema() -> SchemaRef {
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

fn zstd(level: i32) -> Compression {
    Compression::ZSTD(ZstdLevel::try_new(level).expect("zstd level"))
}

/// The samples writer settings of the engine's flush, and of its compaction before issue
/// 35 (zstd 3, 8,192-row pages; `docs/formats/partitions.md`): the base every variant
/// changes.
pub fn engine_props() -> WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_compression(zstd(3))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_data_page_row_count_limit(8192)
        .set_column_dictionary_enabled(ColumnPath::from("series_id"), false)
        .set_column_encoding(ColumnPath::from("series_id"), Encoding::PLAIN)
        .set_column_dictionary_enabled(ColumnPath::from("ts"), false)
        .set_column_encoding(ColumnPath::from("ts"), Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(ColumnPath::from("value"), false)
        .set_column_encoding(ColumnPath::from("value"), Encoding::BYTE_STREAM_SPLIT)
}

/// [`engine_props`] with `value` pages of up to `rows` rows while `series_id` pages keep
/// 8,192 rows (64 KiB of PLAIN ids): a one-series read still selects 8,192-row units by
/// the `series_id` page index, and decompresses the one larger `value` page under them.
fn value_pages(b: WriterPropertiesBuilder, rows: usize) -> WriterPropertiesBuilder {
    b.set_data_page_row_count_limit(rows)
        .set_column_data_page_size_limit(ColumnPath::from("series_id"), 8192 * 8)
        .set_column_data_page_size_limit(ColumnPath::from("value"), rows * 8 + 1)
}

/// Every page of every column of up to `rows` rows (up to `rows` × 8 bytes).
fn all_pages(b: WriterPropertiesBuilder, rows: usize) -> WriterPropertiesBuilder {
    b.set_data_page_row_count_limit(rows)
        .set_data_page_size_limit(rows * 8 + 1)
}

/// The variants `--reencode` measures: (key, description, settings).
pub fn variants() -> Vec<(&'static str, &'static str, WriterProperties)> {
    let e = engine_props;
    let value = || ColumnPath::from("value");
    vec![
        (
            "engine",
            "engine flush (zstd 3, ts delta, value byte_stream_split, 8,192-row pages)",
            e().build(),
        ),
        ("z6", "zstd 6", e().set_compression(zstd(6)).build()),
        ("z9", "zstd 9", e().set_compression(zstd(9)).build()),
        (
            "z12",
            "zstd 12 (compaction since issue 35)",
            e().set_compression(zstd(12)).build(),
        ),
        ("z15", "zstd 15", e().set_compression(zstd(15)).build()),
        ("z19", "zstd 19", e().set_compression(zstd(19)).build()),
        ("z22", "zstd 22", e().set_compression(zstd(22)).build()),
        (
            "z19v",
            "zstd 19 on value only (zstd 3 on series_id, ts)",
            e().set_column_compression(value(), zstd(19)).build(),
        ),
        (
            "value-plain",
            "value PLAIN (no byte_stream_split)",
            e().set_column_encoding(value(), Encoding::PLAIN).build(),
        ),
        (
            "id-delta",
            "series_id DELTA_BINARY_PACKED",
            e().set_column_encoding(ColumnPath::from("series_id"), Encoding::DELTA_BINARY_PACKED)
                .build(),
        ),
        (
            "p32k",
            "all pages 32k rows",
            all_pages(e(), 1 << 15).build(),
        ),
        (
            "p64k",
            "all pages 64k rows",
            all_pages(e(), 1 << 16).build(),
        ),
        (
            "p1m",
            "pages of up to 1M rows / 1 MiB",
            e().set_data_page_row_count_limit(1 << 20)
                .set_data_page_size_limit(1 << 20)
                .build(),
        ),
        (
            "v32k",
            "value pages 32k rows (ids 8k)",
            value_pages(e(), 1 << 15).build(),
        ),
        (
            "v64k",
            "value pages 64k rows (ids 8k)",
            value_pages(e(), 1 << 16).build(),
        ),
        (
            "z19-v16k",
            "zstd 19, value pages 16k rows (ids 8k)",
            value_pages(e(), 1 << 14).set_compression(zstd(19)).build(),
        ),
        (
            "z19-v32k",
            "zstd 19, value pages 32k rows (ids 8k)",
            value_pages(e(), 1 << 15).set_compression(zstd(19)).build(),
        ),
        (
            "z19-v64k",
            "zstd 19, value pages 64k rows (ids 8k)",
            value_pages(e(), 1 << 16).set_compression(zstd(19)).build(),
        ),
        (
            "z19-v128k",
            "zstd 19, value pages 128k rows (ids 8k)",
            value_pages(e(), 1 << 17).set_compression(zstd(19)).build(),
        ),
        (
            "z19-p1m",
            "zstd 19, pages of up to 1M rows / 1 MiB",
            e().set_data_page_row_count_limit(1 << 20)
                .set_data_page_size_limit(1 << 20)
                .set_compression(zstd(19))
                .build(),
        ),
        (
            "z12-v32k",
            "zstd 12, value pages 32k rows (ids 8k)",
            value_pages(e(), 1 << 15).set_compression(zstd(12)).build(),
        ),
    ]
}

/// All rows of `files`, sorted by (series id, ts), one per (series id, ts).
fn read_rows(files: &[&PathBuf]) -> Vec<Row> {
    let mut rows = Vec::new();
    for f in files {
        let file = File::open(f).expect("open samples file");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .expect("parquet reader");
        for batch in reader {
            let batch = batch.expect("record batch");
            let ids = batch
                .column(0)
                .as_any()
                .downcast_ref::<UInt64Array>()
                .expect("series_id");
            let ts = batch
                .column(1)
                .as_any()
                .downcast_ref::<TimestampMillisecondArray>()
                .expect("ts");
            let vals = batch
                .column(2)
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("value");
            for i in 0..batch.num_rows() {
                rows.push((ids.value(i), ts.value(i), vals.value(i)));
            }
        }
    }
    rows.sort_by_key(|r| (r.0, r.1));
    rows.dedup_by_key(|r| (r.0, r.1));
    rows
}

/// `rows` as one samples file with `props`: its bytes.
fn encode(rows: &[Row], props: WriterProperties) -> Vec<u8> {
    let ids: ArrayRef = Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.0)));
    let ts: ArrayRef = Arc::new(
        TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.1)).with_timezone("UTC"),
    );
    let vals: ArrayRef = Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2)));
    let batch = RecordBatch::try_new(samples_schema(), vec![ids, ts, vals]).expect("batch");
    let mut w = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props)).expect("writer");
    // The engine hands the writer 64 k-row batches (flush and compaction alike).
    for start in (0..batch.num_rows()).step_by(1 << 16) {
        let n = (1 << 16).min(batch.num_rows() - start);
        w.write(&batch.slice(start, n)).expect("write");
    }
    w.into_inner().expect("finish")
}

/// Rewrites every samples file under `metrics` in place with variant `key`'s settings
/// (same rows, same name): reads can then be timed on that layout. Returns the samples
/// files' bytes after.
pub fn rewrite(metrics: &Path, key: &str) -> u64 {
    let props = variants()
        .into_iter()
        .find(|v| v.0 == key)
        .unwrap_or_else(|| panic!("--rewrite: no variant {key}"))
        .2;
    let mut total = 0;
    for list in partitions(metrics).values() {
        for f in list.iter().filter(|f| is_samples(f)) {
            let bytes = encode(&read_rows(&[f]), props.clone());
            let tmp = f.with_extension("parquet.rewrite");
            std::fs::write(&tmp, &bytes).expect("write rewritten file");
            std::fs::rename(&tmp, f).expect("rename rewritten file");
            total += bytes.len() as u64;
        }
    }
    total
}

/// Merges each partition's samples files into one (as compaction would) and re-encodes
/// them with each variant whose key is in `only` (all if empty), on `threads` threads;
/// also rows ordered by (metric, series, ts) and the whole dataset as one file, with the
/// engine's settings, and values as scaled decimals (not the engine's schema).
pub fn reencode(metrics: &Path, total: u64, only: &[String], threads: usize) -> Value {
    let parts = partitions(metrics);
    let series_bytes: u64 = parts
        .values()
        .flatten()
        .filter(|f| !is_samples(f))
        .map(|f| f.metadata().map_or(0, |m| m.len()))
        .sum();
    let chosen: Vec<usize> = variants()
        .iter()
        .enumerate()
        .filter(|(_, v)| only.is_empty() || only.iter().any(|k| k == v.0))
        .map(|(i, _)| i)
        .collect();
    let mut sums = vec![(0u64, 0f64); variants().len()];
    let (mut by_metric, mut decimal, mut decimal_series, mut series_runs) = (0, 0, 0, 0);
    let mut all_rows = Vec::new();
    for list in parts.values() {
        let files: Vec<&PathBuf> = list.iter().filter(|f| is_samples(f)).collect();
        let mut rows = read_rows(&files);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..threads.max(1) {
                s.spawn(|| {
                    let all = variants();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&i) = chosen.get(k) else { return };
                        let t = Instant::now();
                        let n = encode(&rows, all[i].2.clone()).len() as u64;
                        let secs = t.elapsed().as_secs_f64();
                        results.lock().expect("results").push((i, n, secs));
                    }
                });
            }
        });
        for (i, n, secs) in results.into_inner().expect("results") {
            sums[i].0 += n;
            sums[i].1 += secs;
        }
        let (bytes, exact, runs) = encode_decimal(&rows);
        decimal += bytes;
        decimal_series += exact;
        series_runs += runs;
        // Rows ordered by (metric name, series id, ts): series of one metric side by side.
        let metric = metric_names(list);
        let key = |r: &Row| metric.get(&r.0).cloned().unwrap_or_default();
        rows.sort_by(|a, b| key(a).cmp(&key(b)).then((a.0, a.1).cmp(&(b.0, b.1))));
        by_metric += encode(&rows, engine_props().build()).len() as u64;
        all_rows.extend(rows);
    }
    all_rows.sort_by_key(|r| (r.0, r.1));
    let one_file = encode(&all_rows, engine_props().build()).len() as u64;
    let per_variant: Vec<Value> = chosen
        .iter()
        .map(|&i| {
            let (key, name, _) = &variants()[i];
            let (bytes, secs) = sums[i];
            json!({
                "key": key,
                "variant": name,
                "samples_bytes": bytes,
                "samples_bytes_per_sample": round3(bytes as f64 / total as f64),
                "with_series_and_manifests_bytes_per_sample":
                    round3((bytes + series_bytes) as f64 / total as f64),
                "encode_seconds": round3(secs),
            })
        })
        .collect();
    json!({
        "note": "one merged, sorted samples file per partition (what compaction would write); \
                 series files and manifests as flushed; encode_seconds: one thread per \
                 variant, `threads` variants at a time",
        "threads": threads,
        "rows": all_rows.len(),
        "series_and_manifest_bytes": series_bytes,
        "variants": per_variant,
        "whole_dataset_one_file_engine_settings_bytes_per_sample":
            round3(one_file as f64 / total as f64),
        "sorted_by_metric_then_series_engine_settings_bytes_per_sample":
            round3(by_metric as f64 / total as f64),
        "decimal_int64_values": {
            "note": "not the engine's schema: per series, values that are exact decimals with \
                     at most 9 fraction digits stored as value_int: Int64 (delta-binary-packed, \
                     zstd 3) scaled by 10^k (k per series, would live in the series table); \
                     other series as value_f: Float64 (byte_stream_split). Lossless, but \
                     readers must divide by 10^k.",
            "samples_bytes_per_sample": round3(decimal as f64 / total as f64),
            "series_partition_runs": series_runs,
            "runs_stored_as_decimal": decimal_series,
        },
    })
}

/// Metric name of each series id in a partition, from its series files.
fn metric_names(files: &[PathBuf]) -> HashMap<u64, String> {
    let mut out = HashMap::new();
    let series = files.iter().filter(|f| {
        f.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("series-") && n.ends_with(".parquet"))
    });
    for f in series {
        let file = File::open(f).expect("open series file");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .expect("parquet reader");
        for batch in reader {
            let batch = batch.expect("record batch");
            let ids = batch
                .column(0)
                .as_any()
                .downcast_ref::<UInt64Array>()
                .expect("series_id");
            let names = batch
                .column(1)
                .as_any()
                .downcast_ref::<arrow::array::StringArray>()
                .expect("metric");
            for i in 0..batch.num_rows() {
                out.insert(ids.value(i), names.value(i).to_owned());
            }
        }
    }
    out
}

/// The smallest k <= 9 with every value of `values` exactly `n / 10^k` for an integer n
/// below 2^53 in magnitude, and those integers.
fn as_decimal(values: &[f64]) -> Option<(u32, Vec<i64>)> {
    'k: for k in 0..=9u32 {
        let scale = 10f64.powi(k as i32);
        let mut ints = Vec::with_capacity(values.len());
        for &v in values {
            let n = (v * scale).round();
            if !n.is_finite() || n.abs() >= 9_007_199_254_740_992.0 || n / scale != v {
                continue 'k;
            }
            ints.push(n as i64);
        }
        return Some((k, ints));
    }
    None
}

/// Encodes `rows` (sorted by series id, ts) with decimal values as scaled integers; returns
/// (bytes, series runs stored as decimals, series runs).
fn encode_decimal(rows: &[Row]) -> (u64, u64, u64) {
    let mut ints: Vec<Option<i64>> = Vec::with_capacity(rows.len());
    let mut floats: Vec<Option<f64>> = Vec::with_capacity(rows.len());
    let (mut exact, mut runs) = (0, 0);
    for run in rows.chunk_by(|a, b| a.0 == b.0) {
        runs += 1;
        let values: Vec<f64> = run.iter().map(|r| r.2).collect();
        match as_decimal(&values) {
            Some((_, n)) => {
                exact += 1;
                ints.extend(n.into_iter().map(Some));
                floats.extend(std::iter::repeat_n(None, run.len()));
            }
            None => {
                ints.extend(std::iter::repeat_n(None, run.len()));
                floats.extend(values.into_iter().map(Some));
            }
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("value_int", DataType::Int64, true),
        Field::new("value_f", DataType::Float64, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(
            TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.1))
                .with_timezone("UTC"),
        ),
        Arc::new(arrow::array::Int64Array::from(ints)),
        Arc::new(Float64Array::from(floats)),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols).expect("batch");
    let props = engine_props()
        .set_column_dictionary_enabled(ColumnPath::from("value_int"), false)
        .set_column_encoding(ColumnPath::from("value_int"), Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(ColumnPath::from("value_f"), false)
        .set_column_encoding(ColumnPath::from("value_f"), Encoding::BYTE_STREAM_SPLIT)
        .build();
    let mut w = ArrowWriter::try_new(Vec::new(), schema, Some(props)).expect("writer");
    w.write(&batch).expect("write");
    (w.into_inner().expect("finish").len() as u64, exact, runs)
}
