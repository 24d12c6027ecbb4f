//! Ingest through the embedded API for a fixed number of batches, reporting samples/s and
//! the process's CPU time (so samples per CPU-second), for profiling with `perf record`.
//! The criterion benchmark `benches/ingest.rs` is the reference figure; this binary is its
//! twin with the knobs exposed.
//!
//! ```text
//! bench-ingest [--writers 2] [--series 1000] [--batches 2000] [--durability fsync|none]
//!              [--no-flush] [--keyed] [--dir DIR]
//! ```
//!
//! `--keyed`: writers resolve their series by raw key (`Engine::known_series`, then
//! `Engine::write_keyed`, as the remote-write receiver does) instead of `Engine::write`.

use std::sync::Arc;

use strata_benches::{
    BASE_TS, IngestShape, WritePath, arg, bench_config, cpu_time, flag, ingest_with,
    no_flush_config, rss,
};
use strata_engine::{Engine, TenantId};
use strata_wal::Durability;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let writers: usize = arg(&args, "--writers", 2);
    let series: usize = arg(&args, "--series", 1_000);
    let batches: u64 = arg(&args, "--batches", 2_000);
    let durability: String = arg(&args, "--durability", "fsync".to_owned());
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir: String = arg(&args, "--dir", tmp.path().display().to_string());

    let mut config = if flag(&args, "--no-flush") {
        no_flush_config()
    } else {
        bench_config()
    };
    config.wal.durability = match durability.as_str() {
        "fsync" => Durability::Fsync,
        "none" => Durability::None,
        other => panic!("--durability fsync|none, not {other}"),
    };
    let engine = Arc::new(Engine::open(&dir, config).expect("open engine"));
    let tenant = TenantId::new("bench").expect("valid tenant");
    let cpu0 = cpu_time();
    let path = if flag(&args, "--keyed") {
        WritePath::Keyed
    } else {
        WritePath::Labels
    };
    let shape = IngestShape {
        writers,
        first_target: 0,
        series,
        batches,
        ts0: BASE_TS,
        ts_step_ms: 10,
    };
    let run = ingest_with(&engine, &tenant, path, shape);
    let cpu = cpu_time() - cpu0;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let secs = run.elapsed.as_secs_f64();
    let rate = run.accepted as f64 / secs;
    let (vm_rss, vm_hwm) = rss();
    println!(
        "{{\"writers\":{writers},\"series\":{series},\"batches\":{batches},\"durability\":\"{durability}\",\"keyed\":{},\
         \"samples\":{},\"seconds\":{secs:.3},\"samples_per_s\":{rate:.0},\"cpu_s\":{:.2},\
         \"samples_per_cpu_s\":{:.0},\"cores\":{cores},\"samples_per_s_per_core\":{:.0},\"over_capacity_retries\":{},\
         \"vm_rss\":{vm_rss},\"vm_hwm\":{vm_hwm}}}",
        path == WritePath::Keyed,
        run.accepted,
        cpu.as_secs_f64(),
        run.accepted as f64 / cpu.as_secs_f64().max(1e-9),
        rate / cores as f64,
        run.over_capacity_retries,
    );
    if let Ok(engine) = Arc::try_unwrap(engine) {
        engine.close().expect("close");
    }
}
