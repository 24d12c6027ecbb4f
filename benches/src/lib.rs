//! Helpers shared by Strata's criterion benchmarks (`benches/*.rs`) and the measurement
//! binaries beside them (`src/bin/*.rs`). Figures are in `docs/benchmarks.md`.

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use strata_engine::{Engine, EngineConfig, KeyedSeries, Limits, Sample, SeriesSamples, TenantId};

/// A deterministic, poorly compressible payload of `len` bytes derived from `seed`
/// (xorshift), so benchmarks neither write zeros nor pay for a real RNG.
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Tenant limits high enough that no benchmark is ever rate-, series- or retention-limited.
pub fn unlimited() -> Limits {
    Limits {
        max_active_series: 100_000_000,
        max_series_per_metric: 100_000_000,
        ingest_rate: 1e15,
        ingest_burst: 1e15,
        signal_record_rate: 1e15,
        signal_record_burst: 1e15,
        signal_byte_rate: 1e18,
        signal_byte_burst: 1e18,
        // The peer dataset starts in 2024: keep a century so nothing is out of retention.
        metrics_retention: Duration::from_secs(100 * 365 * 86_400),
        traces_retention: Duration::from_secs(100 * 365 * 86_400),
        logs_retention: Duration::from_secs(100 * 365 * 86_400),
        // And young as long: compaction writes the young layout unless a bench asks for
        // the cold one (`bench-load-vm --cold`).
        cold_after: Duration::from_secs(100 * 365 * 86_400),
        ..Limits::default()
    }
}

/// The engine's default configuration (WAL durability `Fsync`, default flush thresholds)
/// with [`unlimited`] tenant limits.
pub fn bench_config() -> EngineConfig {
    EngineConfig {
        limits: unlimited(),
        ..EngineConfig::default()
    }
}

/// [`bench_config`] with flush thresholds so high that nothing is flushed until
/// [`Engine::flush`] or [`Engine::close`] is called, and no memory budget.
pub fn no_flush_config() -> EngineConfig {
    EngineConfig {
        flush_interval: Duration::from_secs(1 << 30),
        flush_head_samples: 1 << 40,
        max_head_bytes: u64::MAX,
        ..bench_config()
    }
}

/// Labels of series `i` of a scrape target: node_exporter-like, about the shape (5-7 labels,
/// ~100 bytes) of the series in `../shared/bench`'s dataset. `target` names the host.
pub fn series_labels(target: usize, i: usize) -> Vec<(String, String)> {
    vec![
        ("__name__".into(), format!("node_bench_metric_{}", i % 64)),
        ("host".into(), format!("host-{target:05}")),
        ("instance".into(), format!("host-{target:05}:9100")),
        ("job".into(), "node".into()),
        (
            "zone".into(),
            format!("eu-west-1{}", ['a', 'b', 'c'][target % 3]),
        ),
        ("series".into(), format!("{i}")),
    ]
}

/// A scrape-like batch: `series` series of target `target`, one sample each (timestamp
/// 0; [`set_samples`] fills them in).
pub fn scrape_batch(target: usize, series: usize) -> Vec<SeriesSamples> {
    (0..series)
        .map(|i| SeriesSamples {
            labels: series_labels(target, i),
            samples: vec![Sample { ts: 0, value: 0.0 }],
        })
        .collect()
}

/// Sets every sample of `batch` to timestamp `ts` and a counter-like value for `step`.
pub fn set_samples(batch: &mut [SeriesSamples], ts: i64, step: u64) {
    for (i, ss) in batch.iter_mut().enumerate() {
        for s in &mut ss.samples {
            *s = Sample {
                ts,
                value: (step * (i as u64 % 7 + 1)) as f64 * 0.25,
            };
        }
    }
}

/// A start timestamp for benchmark data: a fixed hour-aligned instant (2026-11-22 00:00 UTC),
/// so data lands in few partitions.
pub const BASE_TS: i64 = 1_795_305_600_000;

/// Result of [`ingest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IngestRun {
    /// Wall time from the barrier to the last writer's last acknowledged batch.
    pub elapsed: Duration,
    /// Samples accepted, summed over writers.
    pub accepted: u64,
    /// Writes that failed with a retryable over-capacity error and were retried.
    pub over_capacity_retries: u64,
}

/// How [`ingest_with`]'s writers hand their batches to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePath {
    /// [`Engine::write`] with owned label sets: every write validates, canonicalises and
    /// hashes every label set.
    Labels,
    /// [`Engine::known_series`] then [`Engine::write_keyed`] with a raw key per series (as
    /// the remote-write receiver does): label sets are only validated the first time.
    Keyed,
}

/// Writes `batches` scrape-like batches of `series` series × 1 sample from each of `writers`
/// threads (writer `w` owns target `first_target + w`) and returns the wall time. Each writer's
/// batch `k` has timestamp `ts0 + k * ts_step_ms`. A write rejected with `OverCapacity` is
/// retried after 1 ms; any other error panics (this is a benchmark).
#[allow(clippy::too_many_arguments)]
pub fn ingest(
    engine: &Arc<Engine>,
    tenant: &TenantId,
    writers: usize,
    first_target: usize,
    series: usize,
    batches: u64,
    ts0: i64,
    ts_step_ms: i64,
) -> IngestRun {
    let shape = IngestShape {
        writers,
        first_target,
        series,
        batches,
        ts0,
        ts_step_ms,
    };
    ingest_with(engine, tenant, WritePath::Labels, shape)
}

/// The load [`ingest_with`] generates; see [`ingest`].
#[derive(Debug, Clone, Copy)]
pub struct IngestShape {
    /// Concurrent writer threads.
    pub writers: usize,
    /// Writer `w` owns target `first_target + w`.
    pub first_target: usize,
    /// Series per batch (and per writer).
    pub series: usize,
    /// Batches per writer.
    pub batches: u64,
    /// Timestamp of each writer's first batch.
    pub ts0: i64,
    /// Milliseconds between a writer's batches.
    pub ts_step_ms: i64,
}

/// [`ingest`] through the chosen [`WritePath`].
pub fn ingest_with(
    engine: &Arc<Engine>,
    tenant: &TenantId,
    path: WritePath,
    shape: IngestShape,
) -> IngestRun {
    let barrier = Arc::new(Barrier::new(shape.writers + 1));
    let handles: Vec<_> = (0..shape.writers)
        .map(|w| {
            let engine = engine.clone();
            let tenant = tenant.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut batch = scrape_batch(shape.first_target + w, shape.series);
                // Keyed path: one raw key per series, built once, as a receiver would have
                // the label bytes of its request at hand.
                let keys: Vec<Vec<u8>> = batch
                    .iter()
                    .map(|ss| {
                        let mut key = Vec::new();
                        for (n, v) in &ss.labels {
                            key.extend_from_slice(n.as_bytes());
                            key.push(0);
                            key.extend_from_slice(v.as_bytes());
                            key.push(0);
                        }
                        key
                    })
                    .collect();
                let mut run = IngestRun::default();
                barrier.wait();
                for k in 0..shape.batches {
                    set_samples(&mut batch, shape.ts0 + k as i64 * shape.ts_step_ms, k);
                    loop {
                        let written = match path {
                            WritePath::Labels => engine.write(&tenant, &batch),
                            WritePath::Keyed => write_keyed(&engine, &tenant, &keys, &batch),
                        };
                        match written {
                            Ok(outcome) => {
                                run.accepted += outcome.accepted;
                                break;
                            }
                            Err(strata_engine::Error::OverCapacity { .. }) => {
                                run.over_capacity_retries += 1;
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            Err(e) => panic!("write failed: {e}"),
                        }
                    }
                }
                run
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut total = IngestRun::default();
    for h in handles {
        let run = h.join().expect("writer thread panicked");
        total.accepted += run.accepted;
        total.over_capacity_retries += run.over_capacity_retries;
    }
    total.elapsed = start.elapsed();
    total
}

/// One batch through [`Engine::known_series`] and [`Engine::write_keyed`].
fn write_keyed(
    engine: &Engine,
    tenant: &TenantId,
    keys: &[Vec<u8>],
    batch: &[SeriesSamples],
) -> strata_engine::Result<strata_engine::WriteOutcome> {
    let key_refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let known = engine.known_series(tenant, &key_refs)?;
    let labels: Vec<Vec<(&str, &str)>> = batch
        .iter()
        .zip(&known)
        .map(|(ss, k)| match k {
            Some(_) => Vec::new(),
            None => ss
                .labels
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect(),
        })
        .collect();
    let series: Vec<KeyedSeries<'_>> = batch
        .iter()
        .zip(&known)
        .zip(&labels)
        .zip(&key_refs)
        .map(|(((ss, known), labels), key)| KeyedSeries {
            key,
            by_symbols: false,
            known: *known,
            labels,
            samples: &ss.samples,
            histograms: &[],
            sample_starts: &[],
            histogram_starts: &[],
        })
        .collect();
    engine.write_keyed(tenant, &series)
}

/// `VmRSS` and `VmHWM` of this process in bytes, from `/proc/self/status` (0 if absent).
pub fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// User + system CPU time this process has used so far, from `/proc/self/stat`.
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Linux's USER_HZ is 100 on every architecture Strata targets.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Apparent size in bytes of every file under `path` (0 if it does not exist).
pub fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// Every file under `path`, recursively, sorted.
pub fn files_under(path: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(path) else {
        return out;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The value following `--name` in `args`, parsed; `default` if absent. Panics with a
/// message on a value that does not parse (for the measurement binaries).
pub fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} needs a valid value")),
        None => default,
    }
}

/// Whether the flag `name` is in `args`.
pub fn flag(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}

pub mod grpc_client;
pub mod http_client;
pub mod reencode;
pub mod rw_otlp;
pub mod span_gen;
pub mod span_records;
