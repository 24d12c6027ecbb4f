//! Loads a `../shared/bench` dataset (`vm.jsonl`, VictoriaMetrics import JSON lines:
//! `{"metric":{...},"values":[...],"timestamps":[...]}`) into Strata through the embedded API
//! with durable acks, flushes, and measures what lands on disk: bytes of `metrics/` (Parquet
//! and manifests) per sample, and the load rate. Prints one JSON object.
//!
//! ```text
//! bench-load-vm --ds DS_DIR --dir DATA_DIR [--order file|time] [--flush end|default|N]
//!               [--writers 2] [--lines 200] [--compact [--cold]] [--analyze]
//!               [--reencode [--variants KEY,...] [--threads N]] [--rewrite KEY]
//!               [--select SELECTOR,... [--select-rounds N]]
//! bench-load-vm --existing --dir DATA_DIR [--samples N] [--rewrite KEY] [--analyze]
//!               [--reencode ...] [--select ...]
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
//!   `metrics_bytes_after_flush_before_compaction` before it. Compaction writes the young
//!   layout (zstd 12); with `--cold`, the cold one (`cold_after` 0: zstd 19, 65,536-row
//!   `value` pages, `docs/formats/partitions.md`).
//! - `--analyze`: per-column compressed sizes, encodings and pages of the samples files
//!   (Parquet metadata), files and rows per partition.
//! - `--select`: after the load (and compaction), reads each selector's series over the whole
//!   time range (`Engine::select_with_stats`) on a freshly opened engine (empty page cache)
//!   and reports rows decoded, bytes read against the samples files' size, and the time;
//!   `--select-rounds N` repeats that N times, each round on a new engine, and adds every
//!   round's time, the median and the minimum. A selector is `metric` or
//!   `metric{label=value,...}` (equality only), e.g.
//!   `--select 'node_load1{instance=host-00007:9100},http_requests_total'`.
//! - `--reencode`: merges each partition's samples files into one sorted file (what
//!   compaction would write) and re-encodes it with variants of the writer settings
//!   (`strata_benches::reencode::variants`; `--variants` picks some by key, `--threads`
//!   encodes that many at a time), in memory, to show what other settings would yield.
//! - `--rewrite KEY`: rewrites the samples files in place with variant KEY's settings (same
//!   rows) before `--select`, so reads can be timed on that layout.
//! - `--existing`: no load; measures the data directory an earlier run left in `--dir`
//!   (`--samples`: the dataset's sample count, default 14,400,000).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::{Value, json};
use strata_benches::reencode::{is_samples, partitions, reencode, rewrite};
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
    assert!(!dir.is_empty(), "--dir DATA_DIR is required");
    if flag(&args, "--existing") {
        return existing(&args, Path::new(&dir));
    }
    assert!(!ds.is_empty(), "--ds DS_DIR is required");
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
    let mut config = config;
    if flag(&args, "--cold") {
        // Every closed partition in the cold layout (the dataset is old enough for it).
        config.limits.cold_after = Duration::ZERO;
    }
    let engine = Arc::new(Engine::open(&dir, config).expect("open engine"));
    let tenant = TenantId::new("default").expect("valid tenant");
    let batches = Arc::new(batches);
    let cpu0 = cpu_time();
    let start = Instant::now();
    let load = write_all(&engine, &tenant, &batches, writers, flush_every);
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
    assert_eq!(
        load.accepted, total,
        "every sample of the dataset is accepted"
    );

    let metrics = dir.join("metrics");
    let metrics_bytes = dir_bytes(&metrics);
    let by_kind = bytes_by_kind(&metrics);
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
        "over_capacity_retries": load.retries,
        "explicit_flushes": load.flushes + 1,
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
    drop(engine);
    let rewritten = arg(&args, "--rewrite", String::new());
    if !rewritten.is_empty() {
        out["rewrite"] =
            json!({"variant": rewritten, "samples_bytes": rewrite(&metrics, &rewritten)});
        let after = dir_bytes(&metrics);
        out["metrics_bytes_rewritten"] = json!(after);
        out["bytes_per_sample_rewritten"] = json!(round3(after as f64 / total as f64));
    }
    finish(&args, &dir, out, total);
}

/// What the writer threads did.
struct Load {
    accepted: u64,
    retries: u64,
    flushes: u64,
}

/// Writes every batch from `writers` threads, each taking the next unwritten batch, retrying
/// a write refused for capacity after 1 ms, and flushing every `flush_every` samples (0:
/// never).
fn write_all(
    engine: &Arc<Engine>,
    tenant: &TenantId,
    batches: &Arc<Vec<Vec<SeriesSamples>>>,
    writers: usize,
    flush_every: u64,
) -> Load {
    let next = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let flushes = Arc::new(AtomicU64::new(0));
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
    let retries = handles
        .into_iter()
        .map(|h| h.join().expect("writer panicked"))
        .sum();
    Load {
        accepted: accepted.load(Ordering::Relaxed),
        retries,
        flushes: flushes.load(Ordering::Relaxed),
    }
}

/// Bytes under `metrics` by kind of file.
fn bytes_by_kind(metrics: &Path) -> BTreeMap<&'static str, u64> {
    let mut by_kind = BTreeMap::new();
    for f in files_under(metrics) {
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
    by_kind
}

/// The measurements after the load: `--select` (`--select-rounds`), `--analyze`,
/// `--reencode`; prints `out` with them.
fn finish(args: &[String], dir: &Path, mut out: Value, total: u64) {
    let metrics = dir.join("metrics");
    let select: String = arg(args, "--select", String::new());
    let rounds: usize = arg(args, "--select-rounds", 1);
    let selects = timed_selects(dir, &split_selects(&select), rounds);
    if !selects.is_empty() {
        out["select"] = json!(selects);
    }
    if flag(args, "--analyze") {
        out["analyze"] = analyze(&metrics, total);
    }
    if flag(args, "--reencode") {
        let only: String = arg(args, "--variants", String::new());
        let only: Vec<String> = only
            .split(',')
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
        let threads: usize = arg(args, "--threads", 1);
        out["reencode"] = reencode(&metrics, total, &only, threads);
    }
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
}

/// `--existing`: measures a data directory an earlier run left (no load), after an optional
/// `--rewrite KEY` of its samples files.
fn existing(args: &[String], dir: &Path) {
    let metrics = dir.join("metrics");
    let total: u64 = arg(args, "--samples", 14_400_000);
    let mut out = json!({"dir": dir.display().to_string(), "samples": total});
    let rewritten = arg(args, "--rewrite", String::new());
    if !rewritten.is_empty() {
        out["rewrite"] =
            json!({"variant": rewritten, "samples_bytes": rewrite(&metrics, &rewritten)});
    }
    let bytes = dir_bytes(&metrics);
    out["metrics_bytes"] = json!(bytes);
    out["bytes_per_sample"] = json!(round3(bytes as f64 / total as f64));
    finish(args, dir, out, total);
}

/// Reads each selector's series over the whole time range, `rounds` times, each round on a
/// freshly opened engine (its page cache empty; the OS page cache is left as it is), and
/// reports rows decoded, bytes read and the time of every round.
fn timed_selects(dir: &Path, selectors: &[String], rounds: usize) -> Vec<Value> {
    if selectors.is_empty() {
        return Vec::new();
    }
    let tenant = TenantId::new("default").expect("valid tenant");
    let samples_bytes: u64 = partitions(&dir.join("metrics"))
        .values()
        .flatten()
        .filter(|f| is_samples(f))
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let mut times = vec![Vec::new(); selectors.len()];
    let mut first = Vec::new();
    for round in 0..rounds.max(1) {
        let engine = Engine::open(dir, no_flush_config()).expect("open engine");
        for (i, item) in selectors.iter().enumerate() {
            let matchers = parse_select(item);
            let t = Instant::now();
            let (got, stats) = engine
                .select_with_stats(&tenant, &matchers, i64::MIN, i64::MAX)
                .expect("select");
            times[i].push(t.elapsed().as_secs_f64() * 1e3);
            if round == 0 {
                first.push(json!({
                    "selector": item,
                    "series": got.len(),
                    "file_sets": stats.file_sets,
                    "samples": stats.samples,
                    "rows_decoded": stats.rows_decoded,
                    "bytes_read": stats.bytes_read,
                    "index_bytes_read": stats.index_bytes_read,
                    "samples_files_bytes": samples_bytes,
                }));
            }
        }
    }
    first
        .into_iter()
        .zip(times)
        .map(|(mut v, mut ms)| {
            v["ms_by_round"] = json!(ms.iter().map(|m| round3(*m)).collect::<Vec<_>>());
            ms.sort_by(f64::total_cmp);
            v["ms_median"] = json!(round3(ms[ms.len() / 2]));
            v["ms_min"] = json!(round3(ms[0]));
            v
        })
        .collect()
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
