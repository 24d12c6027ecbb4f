//! Upload throughput of the object-storage mirror (`docs/scale-out.md`): opens the engine
//! on a copy of a data directory with `[storage]`'s S3 mirror pointed at an endpoint, runs
//! one pass (every partition uploaded), and prints bytes, seconds and the process's CPU.
//!
//! `bench-mirror --data DIR --endpoint http://127.0.0.1:PORT --bucket B [--prefix P]`
//! (the bucket must exist; `benches/storage/run-mirror-bench.sh` starts moto and makes one).

use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::aws::AmazonS3Builder;
use strata_engine::{Engine, EngineConfig, Limits, RemoteConfig};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "bench-mirror --data DIR --endpoint URL --bucket B [--prefix P]";
    let data = arg(&args, "--data").ok_or(usage)?;
    let endpoint = arg(&args, "--endpoint").ok_or(usage)?;
    let bucket = arg(&args, "--bucket").ok_or(usage)?;
    let prefix = arg(&args, "--prefix").unwrap_or_else(|| "bench".into());
    let store = AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_bucket_name(&bucket)
        .with_access_key_id("bench")
        .with_secret_access_key("bench")
        .build()?;
    let mut remote = RemoteConfig::new(Arc::new(store), prefix);
    remote.interval = Duration::from_secs(3600);
    let config = EngineConfig {
        limits: Limits {
            metrics_retention: Duration::from_secs(3650 * 86_400),
            traces_retention: Duration::from_secs(3650 * 86_400),
            logs_retention: Duration::from_secs(3650 * 86_400),
            ..Limits::default()
        },
        remote: Some(remote),
        ..EngineConfig::default()
    };
    let engine = Engine::open(&data, config)?;
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let stats = engine.sync_remote()?.ok_or("no mirror")?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let mb = stats.uploaded_bytes as f64 / 1e6;
    println!(
        "{{\"objects\": {}, \"bytes\": {}, \"seconds\": {secs:.2}, \"mb_per_s\": {:.1}, \
         \"cpu_seconds\": {cpu:.2}, \"mb_per_cpu_s\": {:.1}}}",
        stats.uploaded_objects,
        stats.uploaded_bytes,
        mb / secs,
        mb / cpu.max(0.001)
    );
    engine.close()?;
    Ok(())
}
