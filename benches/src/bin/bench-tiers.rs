//! Downsampled tiers on a loaded data directory: what downsampling costs, what the tiers
//! take on disk, and how PromQL answers over them compare with the raw data's.
//!
//! ```text
//! bench-load-vm --ds DS --dir DIR --order file --flush end --compact --cold
//! bench-tiers --dir DIR [--queries Q.json]
//! ```
//!
//! `DIR` holds one UTC day or less of raw data (the shared generator's `--duration 24h`
//! from midnight). The tool opens it at the day's end with tiers `5m` then `1h`, evaluates
//! every query on the raw data, moves the day into 5m (timing the pass's CPU and measuring
//! the tier's bytes), evaluates again, then into 1h, and again. Queries are range queries
//! over the day with a step per tier; each answer is compared point by point with the raw
//! one: the largest relative difference, and the points raw data had that the tier lost.
//! Prints one JSON object.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value as Json, json};
use strata_benches::{arg, cpu_time, dir_bytes};
use strata_engine::{Downsampling, Engine, EngineConfig, ManualClock, MatchOp, Matcher, TenantId};
use strata_query::promql::{EngineSource, PromqlEngine, QueryOptions, Value};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

/// The queries: (PromQL with `W` for the window, windows per tier).
const QUERIES: &[&str] = &[
    "rate(node_network_receive_bytes_total[W])",
    "increase(http_requests_total[W])",
    "sum by (instance) (rate(node_cpu_seconds_total[W]))",
    "rate(node_disk_io_time_seconds_total[W])",
    "avg_over_time(node_load1[W])",
    "max_over_time(node_memory_MemAvailable_bytes[W])",
    "min_over_time(node_hwmon_temp_celsius[W])",
    "sum_over_time(go_goroutines[W])",
    "count_over_time(up[W])",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(arg(&args, "--dir", String::new()));
    assert!(
        dir.join("metrics").exists(),
        "--dir DIR: a data directory bench-load-vm loaded"
    );
    let tenant = TenantId::new("default").expect("tenant");
    let (lo, hi) = data_range(&dir, &tenant);
    let day = lo.div_euclid(DAY) * DAY;
    assert!(hi <= day + DAY, "the data spans more than one UTC day");
    let raw_bytes = dir_bytes(&dir.join("metrics"));
    let clock = Arc::new(ManualClock::new(day + DAY + HOUR));
    let engine = open(&dir, clock.clone());
    let promql = PromqlEngine::new(QueryOptions::default());
    // Steps: 5m and 1h, over the day less its first and last 4 hours' windows.
    let grids = [("5m", 5 * MIN, ["20m", "1h"]), ("1h", HOUR, ["4h", "12h"])];
    let mut raw = Vec::new();
    for (_, step, windows) in grids {
        for w in windows {
            for q in QUERIES {
                let q = q.replace('W', w);
                raw.push(answer(
                    &promql,
                    &engine,
                    &tenant,
                    &q,
                    (day + 12 * HOUR, day + DAY, step),
                ));
            }
        }
    }
    let mut out = json!({ "dir": dir.display().to_string(), "raw_metrics_bytes": raw_bytes });
    // Into 5m, then into 1h.
    for (k, (name, _, _)) in grids.iter().enumerate() {
        clock.set(day + DAY + (k as i64 + 1) * 10 * DAY);
        let cpu0 = cpu_time();
        let stats = engine.downsample().expect("downsample");
        let cpu = (cpu_time() - cpu0).as_secs_f64();
        let bytes = dir_bytes(&dir.join(format!("metrics_{name}")));
        let mut compared = Vec::new();
        let mut i = 0;
        for (gname, step, windows) in grids {
            for w in windows {
                for q in QUERIES {
                    let q = q.replace('W', w);
                    let got = answer(
                        &promql,
                        &engine,
                        &tenant,
                        &q,
                        (day + 12 * HOUR, day + DAY, step),
                    );
                    compared.push(compare(&q, gname, &raw[i], &got));
                    i += 1;
                }
            }
        }
        out[*name] = json!({
            "downsample_cpu_seconds": (cpu * 1000.0).round() / 1000.0,
            "stats": format!("{stats:?}"),
            "tier_bytes": bytes,
            "queries": compared,
        });
    }
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
}

/// The engine over `dir`, every tier far in the past of `clock`'s days.
fn open(dir: &Path, clock: Arc<ManualClock>) -> Engine {
    let mut config: EngineConfig = strata_benches::no_flush_config();
    config.limits.metrics_retention = Duration::from_secs(100 * 365 * 86_400);
    config.limits.downsampling = vec![
        Downsampling {
            matchers: Vec::new(),
            after: Duration::from_secs(5 * 86_400),
            resolution: Duration::from_secs(300),
        },
        Downsampling {
            matchers: Vec::new(),
            after: Duration::from_secs(15 * 86_400),
            resolution: Duration::from_secs(3_600),
        },
    ];
    Engine::open_with_clock(dir, config, clock).expect("open")
}

/// The first and last sample times of the tenant.
fn data_range(dir: &Path, tenant: &TenantId) -> (i64, i64) {
    let engine = Engine::open(dir, strata_benches::no_flush_config()).expect("open");
    let m = Matcher::new("__name__", MatchOp::Equal, "up").expect("matcher");
    let series = engine
        .select(tenant, &[m], i64::MIN / 2, i64::MAX / 2)
        .expect("select");
    let lo = series
        .iter()
        .filter_map(|s| s.samples.first())
        .map(|s| s.ts)
        .min();
    let hi = series
        .iter()
        .filter_map(|s| s.samples.last())
        .map(|s| s.ts)
        .max();
    (lo.expect("samples of `up`"), hi.expect("samples of `up`"))
}

type Answer = (Vec<(String, Vec<(i64, f64)>)>, Vec<String>);

fn answer(
    promql: &PromqlEngine,
    e: &Engine,
    t: &TenantId,
    q: &str,
    (start, end, step): (i64, i64, i64),
) -> Answer {
    let r = promql
        .range(&EngineSource::new(e, t), q, start, end, step)
        .expect(q);
    let Value::Matrix(m) = r.value else {
        panic!("{q}: not a matrix")
    };
    (
        m.into_iter()
            .map(|s| (s.labels.to_string(), s.points))
            .collect(),
        r.infos,
    )
}

/// Point by point: the largest relative difference, the points raw had and the tier not.
fn compare(q: &str, grid: &str, raw: &Answer, got: &Answer) -> Json {
    let mut worst = 0.0f64;
    let (mut points, mut lost) = (0u64, 0u64);
    for (labels, pts) in &raw.0 {
        let other = got
            .0
            .iter()
            .find(|(l, _)| l == labels)
            .map(|(_, p)| p.as_slice())
            .unwrap_or(&[]);
        for &(t, v) in pts {
            points += 1;
            match other.iter().find(|p| p.0 == t) {
                Some(&(_, w)) if v != 0.0 => worst = worst.max((v - w).abs() / v.abs()),
                Some(_) => {}
                None => lost += 1,
            }
        }
    }
    json!({
        "query": q, "step": grid, "points": points, "lost": lost,
        "max_rel_diff": worst,
        "info": got.1.iter().any(|i| i.contains("downsampled")),
    })
}
