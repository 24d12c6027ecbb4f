//! Loki push ingest against a running Strata (`benches/logs/run-loki-push-bench.sh` drives
//! it): builds every request first (Loki's `logproto.PushRequest`, snappy, as Promtail and
//! Alloy send it: 8 services × 3 hosts as streams `{service_name, host, env}`, logfmt lines
//! of ~110 bytes like `bench-log-week`'s, times spread over the `--seconds` before the
//! hour that closed an hour ago, so compaction finds the partition settled), then
//! sends them from `--threads` threads with one keep-alive connection each and prints one
//! JSON object: entries acknowledged, wall time, rate.
//!
//! ```text
//! bench-loki-push --url URL [--entries 2000000] [--per-request 1000] [--threads 2]
//!                 [--seconds 3600] [--seed 1]
//! ```

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use prost::Message;
use strata_benches::http_client::Conn;
use strata_benches::span_gen::Rng;
use strata_benches::{arg, cpu_time};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `logproto.PushRequest` (Loki's `pkg/push/push.proto`).
#[derive(Clone, PartialEq, Message)]
struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    streams: Vec<StreamAdapter>,
}

#[derive(Clone, PartialEq, Message)]
struct StreamAdapter {
    #[prost(string, tag = "1")]
    labels: String,
    #[prost(message, repeated, tag = "2")]
    entries: Vec<EntryAdapter>,
}

#[derive(Clone, PartialEq, Message)]
struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    timestamp: Option<Timestamp>,
    #[prost(string, tag = "2")]
    line: String,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, PartialEq, Message)]
struct Timestamp {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

const SERVICES: [&str; 8] = [
    "frontend",
    "cart",
    "checkout",
    "payment",
    "shipping",
    "email",
    "ads",
    "recommendation",
];

fn build(k: u64, per: u64, start_ns: i64, step_ns: f64, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut streams: Vec<StreamAdapter> = Vec::new();
    for j in 0..per {
        let s = rng.below(SERVICES.len() as u64) as usize;
        let host = rng.below(3);
        let labels = format!(
            r#"{{service_name="{}", host="{}-{host}", env="prod"}}"#,
            SERVICES[s], SERVICES[s]
        );
        let t = start_ns + ((k * per + j) as f64 * step_ns) as i64;
        let level = ["info", "info", "info", "debug", "warn", "error"][rng.below(6) as usize];
        let line = format!(
            "level={level} method=GET path=/p{} status={} duration={}ms bytes={} user=u{} msg=\"request served\"",
            rng.below(20),
            200 + rng.below(4) * 100,
            1 + rng.below(900),
            rng.below(20_000),
            rng.below(5_000)
        );
        let entry = EntryAdapter {
            timestamp: Some(Timestamp {
                seconds: t.div_euclid(1_000_000_000),
                nanos: t.rem_euclid(1_000_000_000) as i32,
            }),
            line,
        };
        match streams.iter_mut().find(|st| st.labels == labels) {
            Some(st) => st.entries.push(entry),
            None => streams.push(StreamAdapter {
                labels,
                entries: vec![entry],
            }),
        }
    }
    let raw = PushRequest { streams }.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url: String = arg(&args, "--url", String::new());
    if url.is_empty() {
        eprintln!("usage: bench-loki-push --url URL [see the source's docs]");
        std::process::exit(2);
    }
    let entries: u64 = arg(&args, "--entries", 2_000_000);
    let per: u64 = arg(&args, "--per-request", 1_000u64).max(1);
    let threads: usize = arg(&args, "--threads", 2).max(1);
    let seconds: i64 = arg(&args, "--seconds", 3_600);
    let seed: u64 = arg(&args, "--seed", 1);
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    // An hour that closed an hour ago, so the server's compaction sees it settled.
    let hour = 3_600 * 1_000_000_000_i64;
    let end_ns = now_ns.div_euclid(hour) * hour - hour;
    let start_ns = end_ns - seconds * 1_000_000_000;
    let step_ns = (seconds * 1_000_000_000) as f64 / entries as f64;
    let n = entries.div_ceil(per);
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|k| build(k, per, start_ns, step_ns, seed))
        .collect();
    let bytes: u64 = bodies.iter().map(|b| b.len() as u64).sum();
    let (ok, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    let next = AtomicUsize::new(0);
    let (cpu0, t0) = (cpu_time(), Instant::now());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let Ok(mut conn) = Conn::new(&url) else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let headers = [("Content-Type", "application/x-protobuf")];
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(k) else { return };
                    loop {
                        match conn.post("/loki/api/v1/push", &headers, body) {
                            Ok(r) if r.status == 204 => {
                                ok.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            Ok(r) if r.status == 429 || r.status == 503 => {
                                std::thread::sleep(std::time::Duration::from_millis(100));
                            }
                            _ => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    let secs = t0.elapsed().as_secs_f64();
    let sent = ok.load(Ordering::Relaxed) * per;
    println!(
        "{{\"requests_ok\":{},\"requests_failed\":{},\"entries_ok\":{sent},\"snappy_bytes\":{bytes},\"seconds\":{secs:.3},\"entries_per_s\":{:.0},\"client_cpu_s\":{:.3}}}",
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        sent as f64 / secs,
        (cpu_time() - cpu0).as_secs_f64()
    );
}
