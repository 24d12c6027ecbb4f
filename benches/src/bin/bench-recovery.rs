//! Recovery time: replaying a large WAL on `Engine::open`.
//!
//! ```text
//! bench-recovery build --dir DIR [--gib 1.0] [--writers 2]
//! bench-recovery open  --dir DIR [--verify]
//! ```
//!
//! `build` writes scrape-like batches (1,000 series × 1 sample; 100 targets, so 100,000
//! series) with flush thresholds so high that nothing is flushed, until the WAL directory
//! holds `--gib` GiB, then drops the engine without `close()` (which would flush), leaving
//! everything in the WAL. It writes with WAL durability `None` to build quickly; the WAL's
//! content is the same as with `Fsync`. `open` times `Engine::open` (load partitions + WAL
//! replay) in a fresh process and reports RSS; the engine is dropped again without `close()`,
//! so the directory can be reopened repeatedly. `--verify` also counts the samples through
//! `select`. Both print one JSON object.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use strata_benches::{
    BASE_TS, arg, dir_bytes, flag, no_flush_config, rss, scrape_batch, set_samples,
};
use strata_engine::{Engine, TenantId};
use strata_wal::Durability;

const TARGETS: usize = 100;
const SERIES: usize = 1_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir: String = arg(&args, "--dir", String::new());
    assert!(!dir.is_empty(), "--dir DIR is required");
    match args.get(1).map(String::as_str) {
        Some("build") => build(Path::new(&dir), &args),
        Some("open") => open(Path::new(&dir), flag(&args, "--verify")),
        _ => panic!("usage: bench-recovery build|open --dir DIR"),
    }
}

fn build(dir: &Path, args: &[String]) {
    let gib: f64 = arg(args, "--gib", 1.0);
    let writers: usize = arg(args, "--writers", 2);
    let goal = (gib * (1u64 << 30) as f64) as u64;
    let mut config = no_flush_config();
    config.wal.durability = Durability::None;
    let engine = Arc::new(Engine::open(dir, config).expect("open engine"));
    let tenant = TenantId::new("bench").expect("valid tenant");
    let wal_dir = dir.join("wal");
    let start = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let (engine, tenant, wal_dir) = (engine.clone(), tenant.clone(), wal_dir.clone());
            std::thread::spawn(move || {
                // Writer w owns targets w, w + writers, ...
                let mut batches: Vec<_> = (w..TARGETS)
                    .step_by(writers)
                    .map(|t| scrape_batch(t, SERIES))
                    .collect();
                let mut written = 0u64;
                for round in 0u64.. {
                    if round % 10 == 0 && dir_bytes(&wal_dir) >= goal {
                        return written;
                    }
                    for b in &mut batches {
                        set_samples(b, BASE_TS + round as i64 * 15_000, round);
                        written += engine.write(&tenant, b).expect("write").accepted;
                    }
                }
                written
            })
        })
        .collect();
    let samples: u64 = handles
        .into_iter()
        .map(|h| h.join().expect("writer panicked"))
        .sum();
    let secs = start.elapsed().as_secs_f64();
    let (vm_rss, vm_hwm) = rss();
    drop(engine); // no close(): nothing is flushed, the WAL keeps everything
    println!(
        "{{\"cmd\":\"build\",\"samples\":{samples},\"seconds\":{secs:.2},\"wal_bytes\":{},\
         \"vm_rss\":{vm_rss},\"vm_hwm\":{vm_hwm}}}",
        dir_bytes(&wal_dir)
    );
}

fn open(dir: &Path, verify: bool) {
    let wal_bytes = dir_bytes(&dir.join("wal"));
    let metrics_bytes = dir_bytes(&dir.join("metrics"));
    let (rss_before, _) = rss();
    let start = Instant::now();
    let engine = Engine::open(dir, no_flush_config()).expect("open engine");
    let secs = start.elapsed().as_secs_f64();
    let (vm_rss, vm_hwm) = rss();
    let tenant = TenantId::new("bench").expect("valid tenant");
    let series = engine.series_count(&tenant);
    let mut out = format!(
        "{{\"cmd\":\"open\",\"wal_bytes\":{wal_bytes},\"metrics_bytes\":{metrics_bytes},\
         \"open_seconds\":{secs:.3},\"wal_gb_per_s\":{:.3},\"series\":{series},\
         \"rss_before\":{rss_before},\"vm_rss\":{vm_rss},\"vm_hwm\":{vm_hwm}",
        wal_bytes as f64 / 1e9 / secs
    );
    if verify {
        let all = engine
            .select(&tenant, &[], i64::MIN, i64::MAX)
            .expect("select");
        let samples: usize = all.iter().map(|s| s.samples.len()).sum();
        out += &format!(",\"samples\":{samples}");
    }
    println!("{out}}}");
    drop(engine); // no close(): keep the WAL for the next run
}
