//! The CPU of a span flush and of the compaction after it, without the request path:
//! generates the spans of `bench-spans load` (`strata_benches::span_gen`) into one closed
//! hour, writes them through the embedded API in `--flushes` equal parts with an explicit
//! [`Engine::flush`] after each (one file per part), then [`Engine::compact_all`] merges the
//! files into one. Prints one JSON object: process CPU (user + system) and wall time of the
//! flushes and of the compaction, spans per CPU-second of each, and the bytes on disk per
//! span against the OTLP protobuf bytes of the same spans (as `bench-spans load` sends them),
//! and the bytes per span the engine counts for them in memory (`record_memory`).
//!
//! ```text
//! bench-span-flush [--spans 200000] [--flushes 2] [--seed 1] [--dir DIR] [--columns]
//! ```
//!
//! `--columns` also prints, to stderr, the compressed bytes of each leaf column of the
//! spans files left (after the compaction: one file), largest first.
//!
//! The allocator is mimalloc, as in the `strata` binary. Nothing else runs in the process
//! while a flush or the compaction is timed (the engine's background flusher is idle).

use std::time::{Duration, Instant};

use prost::Message;
use strata_benches::span_gen::{Rng, request, trace};
use strata_benches::span_records::Resources;
use strata_benches::{arg, cpu_time, no_flush_config};
use strata_engine::record_memory::span_bytes;
use strata_engine::{Engine, SpanRecord, TenantId};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HOUR_NS: i64 = 3_600 * 1_000_000_000;
/// Traces per generated request (as `bench-spans load`).
const TRACES_PER_REQUEST: usize = 57;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let want: usize = arg(&args, "--spans", 200_000);
    let flushes: usize = arg(&args, "--flushes", 2usize).max(1);
    let seed: u64 = arg(&args, "--seed", 1);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir: String = arg(&args, "--dir", tmp.path().display().to_string());

    let (parts, otlp_bytes) = generate(want, flushes, seed);
    let spans: usize = parts.iter().map(Vec::len).sum();
    // What the engine counts for them in memory (`strata_engine::record_memory`).
    let memory_bytes: usize = parts
        .iter()
        .flat_map(|p| {
            p.iter()
                .scan(None, |prev, s| Some(span_bytes(s, prev.replace(s))))
        })
        .sum();
    let engine = Engine::open(&dir, no_flush_config()).expect("open engine");
    let tenant = TenantId::new("bench").expect("valid tenant");
    let (mut flush_cpu, mut flush_wall, mut flushed_bytes) = (Duration::ZERO, Duration::ZERO, 0);
    for part in parts {
        for chunk in part.chunks(1_000) {
            let out = engine.write_spans(&tenant, chunk).expect("write spans");
            assert_eq!(
                out.accepted,
                chunk.len() as u64,
                "every span accepted: {out:?}"
            );
        }
        drop(part);
        let (c0, w0) = (cpu_time(), Instant::now());
        let stats = engine.flush().expect("flush");
        flush_cpu += cpu_time() - c0;
        flush_wall += w0.elapsed();
        flushed_bytes += stats.bytes;
    }
    let (c0, w0) = (cpu_time(), Instant::now());
    let compacted = engine.compact_all().expect("compact");
    let (compact_cpu, compact_wall) = (cpu_time() - c0, w0.elapsed());
    assert!(
        flushes == 1 || compacted.rows_out == spans as u64,
        "{compacted:?}"
    );
    let compacted_bytes = if flushes == 1 {
        flushed_bytes
    } else {
        compacted.bytes_out
    };
    engine.close().expect("close");
    if args.iter().any(|a| a == "--columns") {
        print_columns(std::path::Path::new(&dir));
    }
    let per_cpu = |cpu: Duration| (spans as f64 / cpu.as_secs_f64().max(1e-9)).round();
    println!(
        "{{\"spans\":{spans},\"flushes\":{flushes},\"otlp_bytes_per_span\":{:.1},\
         \"memory_bytes_per_span\":{:.1},\
         \"flush_cpu_s\":{:.3},\"flush_wall_s\":{:.3},\"flush_spans_per_cpu_s\":{},\
         \"flushed_bytes_per_span\":{:.2},\"compact_cpu_s\":{:.3},\"compact_wall_s\":{:.3},\
         \"compact_spans_per_cpu_s\":{},\"compacted_bytes_per_span\":{:.2},\
         \"compacted_disk_vs_otlp_pct\":{:.2}}}",
        otlp_bytes as f64 / spans as f64,
        memory_bytes as f64 / spans as f64,
        flush_cpu.as_secs_f64(),
        flush_wall.as_secs_f64(),
        per_cpu(flush_cpu),
        flushed_bytes as f64 / spans as f64,
        compact_cpu.as_secs_f64(),
        compact_wall.as_secs_f64(),
        per_cpu(compact_cpu),
        compacted_bytes as f64 / spans as f64,
        100.0 * compacted_bytes as f64 / otlp_bytes as f64,
    );
}

/// At least `want` spans whose traces start in the hour that ended two hours ago, in
/// `parts` parts of whole requests, in time order; and the OTLP protobuf bytes of their
/// requests.
fn generate(want: usize, parts: usize, seed: u64) -> (Vec<Vec<SpanRecord>>, usize) {
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let end = now_ns / HOUR_NS * HOUR_NS - 2 * HOUR_NS;
    // Traces evenly over the hour, leaving room for the longest trace before its end.
    let traces = (want as f64 / 17.5).ceil() as i64 + 1;
    let step = (HOUR_NS - 2_000_000_000) / traces;
    let mut rng = Rng::new(seed);
    let mut resources = Resources::default();
    let (mut all, mut otlp_bytes, mut t) = (Vec::new(), 0, 0i64);
    while all.len() < want {
        let batch: Vec<_> = (0..TRACES_PER_REQUEST)
            .map(|_| {
                t += 1;
                trace(&mut rng, end - HOUR_NS + t * step)
            })
            .collect();
        let req = request(batch);
        otlp_bytes += req.encoded_len();
        resources.records(req, &mut all);
    }
    let per = all.len().div_ceil(parts);
    let mut out = Vec::with_capacity(parts);
    while !all.is_empty() {
        let rest = all.split_off(per.min(all.len()));
        out.push(std::mem::replace(&mut all, rest));
    }
    (out, otlp_bytes)
}

/// Prints the compressed bytes per leaf column of every spans file under `dir`, largest
/// first.
fn print_columns(dir: &std::path::Path) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let mut files = Vec::new();
    let mut stack = vec![dir.join("traces")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                files.push(p);
            }
        }
    }
    let mut cols: Vec<(String, i64, i64)> = Vec::new();
    for f in files {
        let r = SerializedFileReader::new(std::fs::File::open(&f).expect("open")).expect("read");
        for rg in r.metadata().row_groups() {
            for c in rg.columns() {
                let name = c.column_path().string();
                match cols.iter_mut().find(|e| e.0 == name) {
                    Some(e) => {
                        e.1 += c.compressed_size();
                        e.2 += c.uncompressed_size();
                    }
                    None => cols.push((name, c.compressed_size(), c.uncompressed_size())),
                }
            }
        }
    }
    cols.sort_by_key(|c| std::cmp::Reverse(c.1));
    for (name, compressed, uncompressed) in cols {
        eprintln!("{compressed:>12} {uncompressed:>12} {name}");
    }
}
