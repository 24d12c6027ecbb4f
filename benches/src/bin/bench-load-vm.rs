//! Loads a `../shared/bench` dataset (`vm.jsonl`, VictoriaMetrics import JSON lines:
//! `{"metric":{...},"values":[...],"timestamps":[...]}`) into Strata through the embedded API
//! with durable acks, flushes, and measures what lands on disk: bytes of `metrics/` (Parquet
//! and manifests) per sample, and the load rate. Prints one JSON object.
//!
//! ```text
//! bench-load-vm --ds DS_DIR --dir DATA_DIR [--order file|time] [--flush end|default|N]
//!               [--writers 2] [--lines 200] [--compact] [--analyze] [--reencode]
//!               [--select SELECTOR,...]
//! ```
//!
//! - `--order file`: one write per `--lines` lines of the file, each line a whole series
//!   (as `load_peers.py vm-import` sends them to VictoriaMetrics). `--order time`: the
//!   dataset is replayed as live scrapes would arrive: one write per 1,000 series and
//!   1-minute window, windows in time order.
//! - `--flush end`: nothing is flushed until the load is done, then one `flush()`.
//!   `--flush default`: the engine's default background flush (4 M samples or 10 min).
//!   `--flush N`: the loader calls `flush()` after every N accepted samples (and at the end).
//! - `--compact`: after the final flush, `Engine::compact_all()` (one sorted, deduplicated
//!   file set per partition); `metrics_bytes` is then measured after compaction, and
//!   `metrics_bytes_after_flush_before_compaction` before it.
//! - `--analyze`: per-column compressed sizes, encodings and pages of the samples files
//!   (Parquet metadata), files and rows per partition.
//! - `--select`: after the load (and compaction), reads each selector's series over the whole
//!   time range (`Engine::select_with_stats`, cold page cache) and reports rows decoded and
//!   bytes read against the samples files' size. A selector is `metric` or
//!   `metric{label=value,...}` (equality only), e.g.
//!   `--select 'node_load1{instance=host-00007:9100},http_requests_total'`.
//! - `--reencode`: merges each partition's samples files into one sorted file (what
//!   compaction would write) and re-encodes it with variants of the writer settings, in
//!   memory, to show where the bytes go and what other settings would yield.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, Float64Array, TimestampMillisecondArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::ColumnPath;
use serde_json::{Value, json};
use strata_benches::{arg, bench_config, cpu_time, dir_bytes, files_under, flag, no_flush_config};
use strata_engine::{Engine, Sample, SeriesSamples, TenantId};

/// Scrape steps per write in `--order time` (4 × 15 s = 1 minute).
const WINDOW_STEPS: usize = 4;
/// Series per write in `--order time`.
const TIME_BATCH_SERIES: usize = 1_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ds: String = arg(&args, "--ds", String::new());
    let dir: String = arg(&args, "--dir", String::new());
    assert!(
        !ds.is_empty() && !dir.is_empty(),
        "--ds DS_DIR and --dir DATA_DIR are required"
    );
    let order: String = arg(&args, "--order", "file".to_owned());
    let flush_mode: String = arg(&args, "--flush", "end".to_owned());
    let writers: usize = arg(&args, "--writers", 2);
    let lines: usize = arg(&args, "--lines", 200);
    let dir = PathBuf::from(dir);
    assert!(
        !dir.join("metrics").exists() && !dir.join("wal").exists(),
        "{} already holds data; give an empty directory",
        dir.display()
    );

    let t0 = Instant::now();
    let series = read_vm_jsonl(&Path::new(&ds).join("vm.jsonl"));
    let total: u64 = series.iter().map(|s| s.samples.len() as u64).sum();
    let batches = match order.as_str() {
        "file" => series.chunks(lines).map(<[_]>::to_vec).collect::<Vec<_>>(),
        "time" => time_major(&series),
        other => panic!("--order file|time, not {other}"),
    };
    drop(series);
    let parse_secs = t0.elapsed().as_secs_f64();

    let (config, flush_every) = match flush_mode.as_str() {
        "end" => (no_flush_config(), 0),
        "default" => (bench_config(), 0),
        n => {
            let n: u64 = n.parse().expect("--flush end|default|N (samples)");
            (no_flush_config(), n)
        }
    };
    let engine = Arc::new(Engine::open(&dir, config).expect("open engine"));
    let tenant = TenantId::new("default").expect("valid tenant");
    let next = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let flushes = Arc::new(AtomicU64::new(0));
    let batches = Arc::new(batches);
    let cpu0 = cpu_time();
    let start = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|_| {
            let (engine, tenant, next) = (engine.clone(), tenant.clone(), next.clone());
            let (accepted, flushes, batches) = (accepted.clone(), flushes.clone(), batches.clone());
            std::thread::spawn(move || {
                let mut retries = 0u64;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(i) else {
                        return retries;
                    };
                    let outcome = loop {
                        match engine.write(&tenant, batch) {
                            Ok(o) => break o,
                            Err(strata_engine::Error::OverCapacity { .. }) => {
                                retries += 1;
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            Err(e) => panic!("write failed: {e}"),
                        }
                    };
                    assert_eq!(
                        outcome.rejected_total(),
                        0,
                        "rejected samples: {:?}",
                        outcome.messages
                    );
                    let n = outcome.accepted;
                    let before = accepted.fetch_add(n, Ordering::Relaxed);
                    if flush_every > 0 && (before + n) / flush_every > before / flush_every {
                        engine.flush().expect("flush");
                        flushes.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let retries: u64 = handles
        .into_iter()
        .map(|h| h.join().expect("writer panicked"))
        .sum();
    let load_secs = start.elapsed().as_secs_f64();
    let load_cpu = (cpu_time() - cpu0).as_secs_f64();
    let t_flush = Instant::now();
    let last_flush = engine.flush().expect("final flush");
    let flush_secs = t_flush.elapsed().as_secs_f64();
    let flushed_metrics_bytes = dir_bytes(&dir.join("metrics"));
    let compacted = flag(&args, "--compact").then(|| {
        let t = Instant::now();
        let stats = engine.compact_all().expect("compact_all");
        (t.elapsed().as_secs_f64(), format!("{stats:?}"))
    });
    let accepted = accepted.load(Ordering::Relaxed);
    assert_eq!(accepted, total, "every sample of the dataset is accepted");

    let metrics = dir.join("metrics");
    let metrics_bytes = dir_bytes(&metrics);
    let mut by_kind: BTreeMap<&str, u64> = BTreeMap::new();
    for f in files_under(&metrics) {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let kind = if name.starts_with("samples-") {
            "samples_parquet"
        } else if name.starts_with("series-") {
            "series_parquet"
        } else if name.starts_with("index-") {
            "index_parquet"
        } else if name == "manifest.json" {
            "manifests"
        } else {
            "other"
        };
        *by_kind.entry(kind).or_default() += f.metadata().map_or(0, |m| m.len());
    }
    let mut out = json!({
        "dataset": ds,
        "samples": total,
        "series": engine.series_count(&tenant),
        "order": order,
        "flush": flush_mode,
        "writers": writers,
        "writes": batches.len(),
        "parse_seconds": round3(parse_secs),
        "load_seconds": round3(load_secs),
        "load_samples_per_s": (total as f64 / load_secs).round(),
        "load_cpu_seconds": round3(load_cpu),
        "over_capacity_retries": retries,
        "explicit_flushes": flushes.load(Ordering::Relaxed) + 1,
        "final_flush_seconds": round3(flush_secs),
        "final_flush_samples": last_flush.samples,
        "metrics_bytes": metrics_bytes,
        "metrics_bytes_by_kind": by_kind,
        "bytes_per_sample": round3(metrics_bytes as f64 / total as f64),
        "wal_bytes_after_flush": dir_bytes(&dir.join("wal")),
        "metrics_bytes_after_flush_before_compaction": flushed_metrics_bytes,
        "bytes_per_sample_before_compaction": round3(flushed_metrics_bytes as f64 / total as f64),
    });
    if let Some((secs, stats)) = compacted {
        out["compaction_seconds"] = json!(round3(secs));
        out["compaction"] = json!(stats);
    }
    let select: String = arg(&args, "--select", String::new());
    let samples_bytes: u64 = partitions(&metrics)
        .values()
        .flatten()
        .filter(|f| is_samples(f))
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let selects: Vec<Value> = split_selects(&select)
        .iter()
        .map(|item| {
            let matchers = parse_select(item);
            let t = Instant::now();
            let (got, stats) = engine
                .select_with_stats(&tenant, &matchers, i64::MIN, i64::MAX)
                .expect("select");
            json!({
                "selector": item,
                "series": got.len(),
                "seconds": round3(t.elapsed().as_secs_f64()),
                "file_sets": stats.file_sets,
                "samples": stats.samples,
                "rows_decoded": stats.rows_decoded,
                "bytes_read": stats.bytes_read,
                "index_bytes_read": stats.index_bytes_read,
                "samples_files_bytes": samples_bytes,
            })
        })
        .collect();
    if !selects.is_empty() {
        out["select"] = json!(selects);
    }
    drop(engine);
    if flag(&args, "--analyze") {
        out["analyze"] = analyze(&metrics, total);
    }
    if flag(&args, "--reencode") {
        out["reencode"] = reencode(&metrics, total);
    }
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
}

/// Splits `--select` at the commas that are not inside `{...}`.
fn split_selects(arg: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0u32);
    for c in arg.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

/// `metric` or `metric{label=value,...}` (equality only, values unquoted) as matchers.
fn parse_select(item: &str) -> Vec<strata_engine::Matcher> {
    let eq = |name: &str, value: &str| {
        strata_engine::Matcher::new(name, strata_engine::MatchOp::Equal, value).expect("matcher")
    };
    let (name, rest) = item.split_once('{').unwrap_or((item, ""));
    let mut matchers = vec![eq("__name__", name)];
    for pair in rest
        .trim_end_matches('}')
        .split(',')
        .filter(|p| !p.is_empty())
    {
        let (l, v) = pair
            .split_once('=')
            .expect("--select labels are label=value");
        matchers.push(eq(l, v));
    }
    matchers
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Parses `vm.jsonl` into one `SeriesSamples` per line.
fn read_vm_jsonl(path: &Path) -> Vec<SeriesSamples> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            let labels = v["metric"]
                .as_object()
                .expect("\"metric\" is an object")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("label value").to_owned()))
                .collect();
            let values = v["values"].as_array().expect("\"values\" is an array");
            let ts = v["timestamps"]
                .as_array()
                .expect("\"timestamps\" is an array");
            assert_eq!(
                values.len(),
                ts.len(),
                "values and timestamps differ in length"
            );
            let samples = ts
                .iter()
                .zip(values)
                .map(|(t, v)| Sample {
                    ts: t.as_i64().expect("integer ms timestamp"),
                    value: match v {
                        Value::Number(n) => n.as_f64().expect("finite number"),
                        // VM import JSON writes NaN/Inf as strings or null.
                        Value::String(s) => s.parse().unwrap_or(f64::NAN),
                        _ => f64::NAN,
                    },
                })
                .collect();
            SeriesSamples { labels, samples }
        })
        .collect()
}

/// The dataset as live scrapes would send it: windows of `WINDOW_STEPS` consecutive samples
/// of every series, in time order, `TIME_BATCH_SERIES` series per write.
fn time_major(series: &[SeriesSamples]) -> Vec<Vec<SeriesSamples>> {
    let steps = series.iter().map(|s| s.samples.len()).max().unwrap_or(0);
    let mut out = Vec::new();
    for w in (0..steps).step_by(WINDOW_STEPS) {
        for chunk in series.chunks(TIME_BATCH_SERIES) {
            let batch: Vec<SeriesSamples> = chunk
                .iter()
                .filter(|s| s.samples.len() > w)
                .map(|s| SeriesSamples {
                    labels: s.labels.clone(),
                    samples: s.samples[w..(w + WINDOW_STEPS).min(s.samples.len())].to_vec(),
                })
                .collect();
            out.push(batch);
        }
    }
    out
}

/// Partition directory (relative to `metrics/`) -> its files.
fn partitions(metrics: &Path) -> BTreeMap<String, Vec<PathBuf>> {
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

fn is_samples(f: &Path) -> bool {
    f.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("samples-") && n.ends_with(".parquet"))
}

/// Per-column sizes and encodings of every samples file, from the Parquet footers.
fn analyze(metrics: &Path, total: u64) -> Value {
    #[derive(Default)]
    struct Col {
        compressed: u64,
        uncompressed: u64,
        encodings: BTreeMap<String, ()>,
        column_index: u64,
        offset_index: u64,
    }
    let mut cols: BTreeMap<String, Col> = BTreeMap::new();
    let (mut files, mut row_groups, mut file_bytes, mut rows) = (0u64, 0u64, 0u64, 0u64);
    let mut per_partition = Vec::new();
    for (part, list) in partitions(metrics) {
        let mut part_rows = 0;
        let samples_files = list.iter().filter(|f| is_samples(f)).count();
        for f in list.iter().filter(|f| is_samples(f)) {
            let file = File::open(f).expect("open samples file");
            file_bytes += file.metadata().map_or(0, |m| m.len());
            let reader = SerializedFileReader::new(file).expect("parquet footer");
            let meta = reader.metadata();
            files += 1;
            row_groups += meta.num_row_groups() as u64;
            part_rows += meta.file_metadata().num_rows() as u64;
            for rg in meta.row_groups() {
                for c in rg.columns() {
                    let e = cols.entry(c.column_path().string()).or_default();
                    e.compressed += c.compressed_size() as u64;
                    e.uncompressed += c.uncompressed_size() as u64;
                    for enc in c.encodings() {
                        e.encodings.insert(format!("{enc:?}"), ());
                    }
                    e.column_index += c.column_index_length().unwrap_or(0) as u64;
                    e.offset_index += c.offset_index_length().unwrap_or(0) as u64;
                }
            }
        }
        rows += part_rows;
        per_partition
            .push(json!({"partition": part, "samples_files": samples_files, "rows": part_rows}));
    }
    let data: u64 = cols.values().map(|c| c.compressed).sum();
    let index: u64 = cols.values().map(|c| c.column_index + c.offset_index).sum();
    let columns: BTreeMap<String, Value> = cols
        .into_iter()
        .map(|(name, c)| {
            let v = json!({
                "compressed_bytes": c.compressed,
                "uncompressed_bytes": c.uncompressed,
                "bytes_per_sample": round3(c.compressed as f64 / total as f64),
                "encodings": c.encodings.keys().collect::<Vec<_>>(),
                "column_index_bytes": c.column_index,
                "offset_index_bytes": c.offset_index,
            });
            (name, v)
        })
        .collect();
    json!({
        "samples_files": files,
        "row_groups": row_groups,
        "rows": rows,
        "samples_file_bytes": file_bytes,
        "column_chunk_bytes": data,
        "page_index_bytes": index,
        "footer_and_other_bytes": file_bytes.saturating_sub(data + index),
        "columns": columns,
        "partitions": per_partition,
    })
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

/// The engine's samples writer settings (engine/src/storage/parquet_io.rs, `samples_props`).
fn engine_props() -> WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("zstd level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_data_page_row_count_limit(8192)
        .set_column_dictionary_enabled(ColumnPath::from("series_id"), false)
        .set_column_encoding(ColumnPath::from("series_id"), Encoding::PLAIN)
        .set_column_dictionary_enabled(ColumnPath::from("ts"), false)
        .set_column_encoding(ColumnPath::from("ts"), Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(ColumnPath::from("value"), false)
        .set_column_encoding(ColumnPath::from("value"), Encoding::BYTE_STREAM_SPLIT)
}

/// Named writer-setting variants to compare.
fn variants() -> Vec<(&'static str, WriterProperties)> {
    let value = || ColumnPath::from("value");
    vec![
        (
            "engine (zstd 3, ts delta, value byte_stream_split)",
            engine_props().build(),
        ),
        (
            "zstd 9",
            engine_props()
                .set_compression(Compression::ZSTD(
                    ZstdLevel::try_new(9).expect("zstd level"),
                ))
                .build(),
        ),
        (
            "zstd 19",
            engine_props()
                .set_compression(Compression::ZSTD(
                    ZstdLevel::try_new(19).expect("zstd level"),
                ))
                .build(),
        ),
        (
            "value plain (no byte_stream_split)",
            engine_props()
                .set_column_encoding(value(), Encoding::PLAIN)
                .build(),
        ),
        (
            "value dictionary (fallback byte_stream_split)",
            engine_props()
                .set_column_dictionary_enabled(value(), true)
                .build(),
        ),
        (
            "pages of 1M rows, 1 MiB (fewer page headers and stats)",
            engine_props()
                .set_data_page_row_count_limit(1 << 20)
                .set_data_page_size_limit(1 << 20)
                .build(),
        ),
        (
            "pages of 32k rows",
            engine_props()
                .set_data_page_row_count_limit(1 << 15)
                .build(),
        ),
        (
            "pages of 64k rows",
            engine_props()
                .set_data_page_row_count_limit(1 << 16)
                .build(),
        ),
        (
            "pages of 64k rows, value plain",
            engine_props()
                .set_data_page_row_count_limit(1 << 16)
                .set_column_encoding(value(), Encoding::PLAIN)
                .build(),
        ),
        (
            "zstd 6",
            engine_props()
                .set_compression(Compression::ZSTD(
                    ZstdLevel::try_new(6).expect("zstd level"),
                ))
                .build(),
        ),
        (
            "ts plain (no delta)",
            engine_props()
                .set_column_encoding(ColumnPath::from("ts"), Encoding::PLAIN)
                .build(),
        ),
        (
            "no page statistics (chunk statistics only)",
            engine_props()
                .set_statistics_enabled(EnabledStatistics::Chunk)
                .build(),
        ),
    ]
}

/// All rows of `files`, sorted by (series id, ts), one per (series id, ts).
fn read_rows(files: &[&PathBuf]) -> Vec<(u64, i64, f64)> {
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

fn encode(rows: &[(u64, i64, f64)], props: WriterProperties) -> u64 {
    let ids: ArrayRef = Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.0)));
    let ts: ArrayRef = Arc::new(
        TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.1)).with_timezone("UTC"),
    );
    let vals: ArrayRef = Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2)));
    let batch = RecordBatch::try_new(samples_schema(), vec![ids, ts, vals]).expect("batch");
    let mut w = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props)).expect("writer");
    w.write(&batch).expect("write");
    w.into_inner().expect("finish").len() as u64
}

/// Merges each partition's samples files into one (as compaction would) and re-encodes
/// them with each variant; also the whole dataset as one file (a 6 h partition).
fn reencode(metrics: &Path, total: u64) -> Value {
    let parts = partitions(metrics);
    let series_bytes: u64 = parts
        .values()
        .flatten()
        .filter(|f| !is_samples(f))
        .map(|f| f.metadata().map_or(0, |m| m.len()))
        .sum();
    let mut sums = vec![0u64; variants().len()];
    let (mut by_metric, mut decimal, mut decimal_series, mut series_runs) = (0, 0, 0, 0);
    let mut all_rows = Vec::new();
    for list in parts.values() {
        let files: Vec<&PathBuf> = list.iter().filter(|f| is_samples(f)).collect();
        let mut rows = read_rows(&files);
        for (i, (_, props)) in variants().into_iter().enumerate() {
            sums[i] += encode(&rows, props);
        }
        let (bytes, exact, runs) = encode_decimal(&rows);
        decimal += bytes;
        decimal_series += exact;
        series_runs += runs;
        // Rows ordered by (metric name, series id, ts): series of one metric side by side.
        let metric = metric_names(list);
        let key = |r: &(u64, i64, f64)| metric.get(&r.0).cloned().unwrap_or_default();
        rows.sort_by(|a, b| key(a).cmp(&key(b)).then((a.0, a.1).cmp(&(b.0, b.1))));
        by_metric += encode(&rows, engine_props().build());
        all_rows.extend(rows);
    }
    all_rows.sort_by_key(|r| (r.0, r.1));
    let one_file = encode(&all_rows, engine_props().build());
    let per_variant: Vec<Value> = variants()
        .into_iter()
        .zip(&sums)
        .map(|((name, _), &bytes)| {
            json!({
                "variant": name,
                "samples_bytes": bytes,
                "samples_bytes_per_sample": round3(bytes as f64 / total as f64),
                "with_series_and_manifests_bytes_per_sample":
                    round3((bytes + series_bytes) as f64 / total as f64),
            })
        })
        .collect();
    json!({
        "note": "one merged, sorted samples file per partition (what compaction would write); \
                 series files and manifests as flushed",
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
fn metric_names(files: &[PathBuf]) -> std::collections::HashMap<u64, String> {
    let mut out = std::collections::HashMap::new();
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
fn encode_decimal(rows: &[(u64, i64, f64)]) -> (u64, u64, u64) {
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
