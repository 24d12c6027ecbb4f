//! Generates a week (or any number of hours) of spans at a real rate straight into a data
//! directory through the embedded API, for the trace-by-id benchmark over 7 days at 1,000
//! spans/s (605 M spans), which would take ~2 h of OTLP ingest on this machine.
//! `benches/spans/gen-span-week.sh` runs one process per core and merges their directories.
//!
//! ```text
//! bench-span-week --dir DIR --end-ms MS [--hours 168] [--spans-per-s 1000] [--seed 7]
//!                 [--part 0 --parts 1] [--tenant default] [--flush-every-s 600]
//!                 [--ids-out FILE]
//! ```
//!
//! Hour `h` (0-based) is `[end - (hours - h) h, end - (hours - h - 1) h)`; this process
//! writes the hours with `h % parts == part`. Traces (`strata_benches::span_gen`, the same
//! shape `bench-spans load` sends: 17.5 spans per trace on average) start evenly over each
//! hour with a random offset below the step, leaving 2 s at its end so every span of a trace
//! lands in its hour's partition. They are written in requests of 57 traces, as the load
//! sends them. The head is flushed every `--flush-every-s` of simulated time (the server's
//! default `flush_interval` of 10 min at this rate), and each hour is compacted into one
//! file once written, as the server's maintenance leaves a closed hour. So the files are
//! what a server with the default configuration would hold after the week.
//!
//! WAL durability is `none` (nothing is acknowledged to anyone). Not resumable: an
//! interrupted run leaves a partial hour (and its unflushed spans in the WAL, which the
//! next engine opened on the directory replays); start again in an empty directory.
//!
//! `--ids-out` writes the first trace of every request as `hex_id start_ms span_count`
//! lines, in time order, for `bench-spans lookup`. An hour's lines are appended once the
//! hour is compacted, so a stopped run's file lists exactly its complete hours. One JSON
//! line per hour goes to stderr (progress), one JSON object for the whole run to stdout.

use std::io::Write;
use std::time::{Duration, Instant};

use strata_benches::span_gen::{Rng, request, trace};
use strata_benches::span_records::Resources;
use strata_benches::{arg, cpu_time, no_flush_config};
use strata_engine::{Engine, EngineConfig, TenantId};
use strata_wal::Durability;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HOUR_NS: i64 = 3_600 * 1_000_000_000;
/// Room left at the end of each hour for the longest generated trace (~1.3 s).
const TAIL_NS: i64 = 2_000_000_000;
/// Average spans per generated trace (as `bench-spans`).
const SPANS_PER_TRACE: f64 = 17.5;
/// Traces per request (as `bench-spans load`).
const TRACES_PER_REQUEST: u64 = 57;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir: String = arg(&args, "--dir", String::new());
    let end_ms: i64 = arg(&args, "--end-ms", 0);
    if dir.is_empty() || end_ms <= 0 {
        eprintln!("usage: bench-span-week --dir DIR --end-ms MS [see the source's docs]");
        std::process::exit(2);
    }
    let hours: i64 = arg(&args, "--hours", 168);
    let rate: f64 = arg(&args, "--spans-per-s", 1000.0);
    let seed: u64 = arg(&args, "--seed", 7);
    let parts: i64 = arg(&args, "--parts", 1i64).max(1);
    let part: i64 = arg(&args, "--part", 0);
    let flush_every_ns = arg(&args, "--flush-every-s", 600i64) * 1_000_000_000;
    let tenant: String = arg(&args, "--tenant", "default".to_string());
    let tenant = TenantId::new(&tenant).expect("tenant");
    let ids_out: Option<String> = args
        .iter()
        .position(|a| a == "--ids-out")
        .and_then(|i| args.get(i + 1).cloned());

    let mut ids_file = ids_out.map(|path| std::fs::File::create(path).expect("create ids file"));
    let engine = Engine::open(&dir, config()).expect("open engine");
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    let end_ns = end_ms * 1_000_000;
    let traces_per_hour = (rate * 3_600.0 / SPANS_PER_TRACE).round() as u64;
    let step = (HOUR_NS - TAIL_NS) as f64 / traces_per_hour as f64;
    let (mut spans_total, mut bytes_total) = (0u64, 0u64);
    for h in (0..hours).filter(|h| h % parts == part) {
        let (hc, hw) = (cpu_time(), Instant::now());
        let hour_start = end_ns - (hours - h) * HOUR_NS;
        let mut rng = Rng::new(seed ^ (hour_start as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut resources = Resources::default();
        let (mut spans, mut next_flush, mut j) = (0u64, hour_start + flush_every_ns, 0u64);
        let mut records = Vec::new();
        let mut ids = String::new();
        while j < traces_per_hour {
            let hi = (j + TRACES_PER_REQUEST).min(traces_per_hour);
            let batch: Vec<_> = (j..hi)
                .map(|k| {
                    let jitter = rng.below(step.max(1.0) as u64) as i64;
                    trace(&mut rng, hour_start + (k as f64 * step) as i64 + jitter)
                })
                .collect();
            j = hi;
            let first = &batch[0];
            let line = format!(
                "{} {} {}\n",
                hex::encode(first.trace_id),
                first.start_ns / 1_000_000,
                first.spans.len()
            );
            ids.push_str(&line);
            let last_start = batch[batch.len() - 1].start_ns;
            records.clear();
            resources.records(request(batch), &mut records);
            let out = engine.write_spans(&tenant, &records).expect("write spans");
            assert_eq!(out.accepted, records.len() as u64, "all accepted: {out:?}");
            spans += out.accepted;
            if last_start >= next_flush {
                engine.flush().expect("flush");
                next_flush += flush_every_ns;
            }
        }
        engine.flush().expect("flush");
        let compacted = engine.compact_all().expect("compact");
        spans_total += spans;
        bytes_total += compacted.bytes_out;
        if let Some(f) = ids_file.as_mut() {
            f.write_all(ids.as_bytes()).expect("write ids");
            f.flush().expect("flush ids");
        }
        eprintln!(
            "{{\"hour\":{h},\"spans\":{spans},\"cpu_s\":{:.1},\"wall_s\":{:.1},\"bytes\":{}}}",
            (cpu_time() - hc).as_secs_f64(),
            hw.elapsed().as_secs_f64(),
            compacted.bytes_out
        );
    }
    engine.close().expect("close");
    println!(
        "{{\"spans\":{spans_total},\"bytes\":{bytes_total},\"cpu_s\":{:.1},\"wall_s\":{:.1}}}",
        (cpu_time() - cpu0).as_secs_f64(),
        wall0.elapsed().as_secs_f64()
    );
}

/// No background flush or maintenance, no limits in the way ([`no_flush_config`]), and a
/// WAL without fsync.
fn config() -> EngineConfig {
    let base = no_flush_config();
    let mut wal = base.wal.clone();
    wal.durability = Durability::None;
    EngineConfig {
        wal,
        maintenance_interval: Duration::from_secs(1 << 30),
        ..base
    }
}
