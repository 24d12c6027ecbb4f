//! Generates hours of log records at a real rate straight into a data directory through
//! the embedded API, for the LogQL benchmarks (`benches/logs/run-logql-bench.sh`): a week
//! at 1,000 records/s is 605 M records, which OTLP or Loki pushes would take hours to send.
//! The same style as `bench-span-week`.
//!
//! ```text
//! bench-log-week --dir DIR --end-ms MS [--hours 168] [--records-per-s 1000] [--seed 7]
//!                [--part 0 --parts 1] [--tenant default] [--flush-every-s 600]
//!                [--cold-after SECONDS]
//! ```
//!
//! Hour `h` (0-based) is `[end - (hours - h) h, end - (hours - h - 1) h)`; this process
//! writes the hours with `h % parts == part`. Records are spread evenly over the hour
//! (random offset below the step), in requests of 500, from 8 services (`service.name`,
//! `k8s.namespace.name`, `host.name` resources, 3 hosts each), levels info 70 %, debug
//! 15 %, warn 10 %, error 5 % (severity number and text), logfmt bodies of ~110 bytes
//! (`level=… method=… path=… status=… duration=…ms bytes=… user=… msg="…"`) with an
//! `http.route` attribute and a trace id on half of them. One record in 10,000 carries
//! the word `needle` in its message. Flushed every `--flush-every-s` of simulated time and
//! compacted per hour, as a server with the default configuration leaves them.
//!
//! WAL durability is `none`. One JSON line per hour goes to stderr, one for the run to
//! stdout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_benches::span_gen::Rng;
use strata_benches::{arg, cpu_time, no_flush_config};
use strata_engine::{AnyValue, Engine, EngineConfig, LogRecord, Scope, TenantId};
use strata_wal::Durability;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HOUR_NS: i64 = 3_600 * 1_000_000_000;
/// A resource's attributes, shared by its records.
type Resource = Arc<Vec<(String, AnyValue)>>;
const PER_REQUEST: u64 = 500;
/// The services, with their routes.
const SERVICES: [(&str, &[&str]); 8] = [
    ("frontend", &["/", "/product", "/cart"]),
    ("cart", &["/cart/add", "/cart/get"]),
    ("checkout", &["/checkout", "/order"]),
    ("payment", &["/charge", "/refund"]),
    ("shipping", &["/quote", "/ship"]),
    ("email", &["/confirm"]),
    ("ads", &["/ads"]),
    ("recommendation", &["/recommend"]),
];
const MESSAGES: [&str; 8] = [
    "request served",
    "cache miss, fetched from store",
    "retrying upstream call",
    "user session refreshed",
    "slow query detected",
    "connection pool exhausted",
    "order state changed",
    "payload validated",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir: String = arg(&args, "--dir", String::new());
    let end_ms: i64 = arg(&args, "--end-ms", 0);
    if dir.is_empty() || end_ms <= 0 {
        eprintln!("usage: bench-log-week --dir DIR --end-ms MS [see the source's docs]");
        std::process::exit(2);
    }
    let hours: i64 = arg(&args, "--hours", 168);
    let rate: f64 = arg(&args, "--records-per-s", 1000.0);
    let seed: u64 = arg(&args, "--seed", 7);
    let parts: i64 = arg(&args, "--parts", 1i64).max(1);
    let part: i64 = arg(&args, "--part", 0);
    let flush_every_ns = arg(&args, "--flush-every-s", 600i64) * 1_000_000_000;
    let tenant: String = arg(&args, "--tenant", "default".to_string());
    let tenant = TenantId::new(&tenant).expect("tenant");

    let mut config = config();
    // `--cold-after S`: partitions that old are compacted in the cold layout (docs/retention.md).
    if let Some(i) = args.iter().position(|a| a == "--cold-after") {
        let secs: u64 = args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .expect("--cold-after SECONDS");
        config.limits.cold_after = Duration::from_secs(secs);
    }
    let engine = Engine::open(&dir, config).expect("open engine");
    let resources: Vec<Vec<Resource>> = SERVICES
        .iter()
        .map(|(name, _)| {
            (0..3)
                .map(|host| {
                    Arc::new(vec![
                        (
                            "service.name".to_owned(),
                            AnyValue::String((*name).to_owned()),
                        ),
                        (
                            "k8s.namespace.name".to_owned(),
                            AnyValue::String("shop".to_owned()),
                        ),
                        (
                            "host.name".to_owned(),
                            AnyValue::String(format!("{name}-{host}")),
                        ),
                    ])
                })
                .collect()
        })
        .collect();
    let scope = Arc::new(Scope {
        name: "bench".to_owned(),
        version: String::new(),
        ..Scope::default()
    });
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    let end_ns = end_ms * 1_000_000;
    let per_hour = (rate * 3_600.0).round() as u64;
    let step = HOUR_NS as f64 / per_hour as f64;
    let mut total = 0u64;
    for h in (0..hours).filter(|h| h % parts == part) {
        let (hc, hw) = (cpu_time(), Instant::now());
        let hour_start = end_ns - (hours - h) * HOUR_NS;
        let mut rng = Rng::new(seed ^ (hour_start as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (mut written, mut next_flush, mut j) = (0u64, hour_start + flush_every_ns, 0u64);
        let mut records = Vec::with_capacity(PER_REQUEST as usize);
        while j < per_hour {
            let hi = (j + PER_REQUEST).min(per_hour);
            records.clear();
            for k in j..hi {
                let jitter = rng.below(step.max(1.0) as u64) as i64;
                let t = hour_start + (k as f64 * step) as i64 + jitter;
                records.push(record(&mut rng, t, &resources, &scope));
            }
            j = hi;
            let out = engine.write_logs(&tenant, &records).expect("write logs");
            assert_eq!(out.accepted, records.len() as u64, "all accepted: {out:?}");
            written += out.accepted;
            if records.last().is_some_and(|r| r.time_ns >= next_flush) {
                engine.flush().expect("flush");
                next_flush += flush_every_ns;
            }
        }
        engine.flush().expect("flush");
        let compacted = engine.compact_all().expect("compact");
        total += written;
        eprintln!(
            "{{\"hour\":{h},\"records\":{written},\"cpu_s\":{:.1},\"wall_s\":{:.1},\"bytes\":{}}}",
            (cpu_time() - hc).as_secs_f64(),
            hw.elapsed().as_secs_f64(),
            compacted.bytes_out
        );
    }
    engine.close().expect("close");
    println!(
        "{{\"records\":{total},\"cpu_s\":{:.1},\"wall_s\":{:.1}}}",
        (cpu_time() - cpu0).as_secs_f64(),
        wall0.elapsed().as_secs_f64()
    );
}

fn record(rng: &mut Rng, t: i64, resources: &[Vec<Resource>], scope: &Arc<Scope>) -> LogRecord {
    let s = rng.below(SERVICES.len() as u64) as usize;
    let (service, routes) = SERVICES[s];
    let resource = resources[s][rng.below(3) as usize].clone();
    let (number, text) = match rng.below(100) {
        0..=69 => (9, "info"),
        70..=84 => (5, "debug"),
        85..=94 => (13, "warn"),
        _ => (17, "error"),
    };
    let route = routes[rng.below(routes.len() as u64) as usize];
    let status = if number == 17 {
        500 + rng.below(4)
    } else {
        200 + 4 * rng.below(2)
    };
    let mut msg = MESSAGES[rng.below(MESSAGES.len() as u64) as usize].to_owned();
    if rng.below(10_000) == 0 {
        msg.push_str(" needle");
    }
    let body = format!(
        "level={text} method={} path={route} status={status} duration={}ms bytes={} user=u{} msg=\"{msg}\"",
        if rng.below(4) == 0 { "POST" } else { "GET" },
        1 + rng.below(900),
        rng.below(20_000),
        rng.below(5_000),
    );
    let trace_id = (rng.below(2) == 0).then(|| {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&rng.below(u64::MAX).to_le_bytes());
        id[8..].copy_from_slice(&(rng.below(u64::MAX) | 1).to_le_bytes());
        id
    });
    LogRecord {
        time_ns: t,
        observed_time_ns: t,
        severity_number: number,
        severity_text: text.to_owned(),
        body: Some(AnyValue::String(body)),
        service_name: service.to_owned(),
        trace_id,
        span_id: None,
        flags: 0,
        attributes: vec![("http.route".to_owned(), AnyValue::String(route.to_owned()))],
        resource_attributes: resource,
        scope: scope.clone(),
        dropped_attributes_count: 0,
    }
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
