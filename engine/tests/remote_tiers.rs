//! Downsampled tiers and the object-storage mirror, on the in-memory store: a tier's
//! partitions reach the bucket as the raw partitions do (files first, manifest last), the
//! raw day it replaced leaves the bucket, a query process reads the tier and answers what
//! the writer answers, and a tier's partition past the retention leaves the bucket and the
//! query process's cache.

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::memory::InMemory;
use strata_engine::{
    Downsampling, Engine, EngineConfig, Limits, ManualClock, MatchOp, Matcher, ReaderConfig,
    RemoteConfig, Sample, SeriesData, SeriesSamples, TenantId,
};

const HOUR: i64 = 3_600_000;
const D: i64 = 86_400_000;
/// 2025-11-21T00:00:00Z
const DAY0: i64 = 1_763_683_200_000;
const PREFIX: &str = "strata/t";

fn limits() -> Limits {
    Limits {
        ingest_rate: 1e9,
        ingest_burst: 1e9,
        metrics_retention: Duration::from_secs(10 * 86_400),
        cold_after: Duration::from_secs(100 * 365 * 86_400),
        downsampling: vec![Downsampling {
            matchers: Vec::new(),
            after: Duration::from_secs(2 * 86_400),
            resolution: Duration::from_secs(300),
        }],
        ..Limits::default()
    }
}

fn writer(store: Arc<dyn ObjectStore>) -> EngineConfig {
    let mut remote = RemoteConfig::new(store, PREFIX);
    remote.delete_grace = Duration::ZERO;
    remote.interval = Duration::from_secs(3600);
    EngineConfig {
        limits: limits(),
        remote: Some(remote),
        ..EngineConfig::default()
    }
}

fn reader(store: Arc<dyn ObjectStore>) -> EngineConfig {
    let mut r = ReaderConfig::new(store, PREFIX);
    r.refresh = Duration::from_secs(3600);
    EngineConfig {
        limits: limits(),
        reader: Some(r),
        ..EngineConfig::default()
    }
}

/// Two counters over days 0 and 1, a sample every 30 s.
fn two_days() -> Vec<SeriesSamples> {
    (0..2i64)
        .map(|s| SeriesSamples {
            labels: vec![
                ("__name__".into(), "req_total".into()),
                ("s".into(), s.to_string()),
            ],
            samples: (0..2 * D / 30_000)
                .map(|k| Sample {
                    ts: DAY0 + k * 30_000,
                    value: (k * (s + 1) % 500) as f64,
                })
                .collect(),
        })
        .collect()
}

fn all(e: &Engine, t: &TenantId) -> Vec<SeriesData> {
    let m = Matcher::new("__name__", MatchOp::Equal, "req_total").unwrap();
    e.select(t, &[m], DAY0 - D, DAY0 + 5 * D).unwrap()
}

/// The keys below the prefix.
fn keys(store: &Arc<dyn ObjectStore>) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let metas: Vec<_> = rt
        .block_on(store.list(Some(&PREFIX.into())).try_collect())
        .unwrap();
    metas.into_iter().map(|m| m.location.to_string()).collect()
}

#[test]
fn tiers_are_mirrored_read_by_a_query_process_and_leave_with_the_retention() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let (wdir, rdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let t = TenantId::new("acme").unwrap();
    let clock = Arc::new(ManualClock::new(DAY0 + 3 * D + HOUR));
    let w = Engine::open_with_clock(wdir.path(), writer(store.clone()), clock.clone()).unwrap();
    w.write(&t, &two_days()).unwrap();
    w.flush().unwrap();
    w.sync_remote().unwrap();
    let raw_day0 = |k: &String| k.contains("/metrics/tenant=acme/date=2025-11-21/");
    assert!(keys(&store).iter().any(raw_day0), "raw day 0 mirrored");

    // Day 0 moves into 5m: its tier partition is mirrored, its raw hours leave.
    assert_eq!(w.downsample().unwrap().days, 1);
    w.sync_remote().unwrap();
    w.sync_remote().unwrap();
    let listed = keys(&store);
    let tier: Vec<&String> = listed
        .iter()
        .filter(|k| k.starts_with(&format!("{PREFIX}/metrics_5m/tenant=acme/date=2025-11-21/")))
        .collect();
    assert!(
        tier.iter().any(|k| k.ends_with("/manifest.json")),
        "{listed:?}"
    );
    assert!(
        tier.iter().any(|k| k.ends_with("-5m.parquet")),
        "{listed:?}"
    );
    assert!(!listed.iter().any(raw_day0), "raw day 0 left: {listed:?}");

    // A query process answers what the writer answers, tier and raw day alike.
    let r = Engine::open_with_clock(rdir.path(), reader(store.clone()), clock.clone()).unwrap();
    let want = all(&w, &t);
    assert_eq!(want.len(), 2);
    // A day of 5m intervals, and the one ending at its first millisecond (its first
    // sample, at midnight).
    let n: Vec<usize> = want.iter().map(|s| s.intervals.len()).collect();
    assert_eq!(n, [289, 289], "a day of 5m intervals");
    let got = all(&r, &t);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.labels, w.labels);
        assert_eq!(g.samples, w.samples, "{}", w.labels);
        assert_eq!(g.intervals, w.intervals, "{}", w.labels);
    }
    assert_eq!(r.tier_resolutions(&t), [300_000]);

    // Past the retention the tier's day goes from the writer, the bucket and the reader.
    clock.set(DAY0 + 12 * D + HOUR);
    w.downsample().unwrap();
    w.sync_remote().unwrap();
    w.sync_remote().unwrap();
    let listed = keys(&store);
    assert!(
        !listed.iter().any(|k| k.contains("/metrics_5m/")),
        "{listed:?}"
    );
    assert!(r.refresh().unwrap());
    assert!(all(&r, &t).iter().all(|s| s.intervals.is_empty()));
    let cached: Vec<_> = walk(rdir.path())
        .into_iter()
        .filter(|p| p.starts_with("metrics_5m") && p.ends_with(".parquet"))
        .collect();
    assert!(cached.is_empty(), "{cached:?}");
    r.close().unwrap();
    w.close().unwrap();
}

/// Every file below `root`, as paths relative to it.
fn walk(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out
}
