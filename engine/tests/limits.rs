//! Series-count and rate limits: exactly the offending samples are rejected, with their
//! reason; the rest is stored; other tenants are unaffected; time (a manual clock) frees
//! the limits again.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use strata_engine::{
    Engine, EngineConfig, Error, Limits, ManualClock, RejectReason, Sample, SeriesSamples, TenantId,
};

fn one(metric: &str, i: usize, ts: i64) -> SeriesSamples {
    SeriesSamples {
        labels: vec![
            ("__name__".into(), metric.into()),
            ("i".into(), i.to_string()),
        ],
        samples: vec![Sample {
            ts,
            value: i as f64,
        }],
    }
}

fn open(dir: &std::path::Path, config: EngineConfig) -> (Engine, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    (
        Engine::open_with_clock(dir, config, clock.clone()).unwrap(),
        clock,
    )
}

fn t(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

#[test]
fn the_series_cap_admits_exactly_n_and_keeps_existing_series_ingesting() {
    let dir = tempfile::tempdir().unwrap();
    let n = 1000;
    let config = EngineConfig {
        limits: Limits {
            max_active_series: n,
            ..common::limits()
        },
        ..common::config()
    };
    let (engine, clock) = open(dir.path(), config);
    let acme = t("acme");
    let batch: Vec<_> = (0..n + 10_000).map(|i| one("m", i, 1)).collect();
    let out = engine.write(&acme, &batch).unwrap();
    assert_eq!(out.accepted, n as u64);
    assert_eq!(
        out.rejected,
        BTreeMap::from([(RejectReason::SeriesLimit, 10_000)])
    );
    assert!(out.messages[&RejectReason::SeriesLimit].contains("max_active_series = 1000"));
    assert_eq!(
        engine.series_count(&acme),
        n,
        "rejected series are not registered"
    );

    // At the cap, series already active keep ingesting; new ones are still refused.
    let more: Vec<_> = (0..10)
        .map(|i| one("m", i, 2))
        .chain([one("m", n + 1, 2)])
        .collect();
    let out = engine.write(&acme, &more).unwrap();
    assert_eq!((out.accepted, out.rejected_total()), (10, 1));

    // Other tenants have their own count.
    let other: Vec<_> = (0..500).map(|i| one("m", i, 1)).collect();
    assert_eq!(engine.write(&t("other"), &other).unwrap().accepted, 500);

    // Once series go idle for the active window, room opens up again.
    clock.advance(3_600_001);
    let fresh: Vec<_> = (n + 20..n + 30).map(|i| one("m", i, 3)).collect();
    assert_eq!(engine.write(&acme, &fresh).unwrap().accepted, 10);
    let stats = engine.tenant_stats(&acme);
    assert_eq!(stats.active_series, 10);
    assert_eq!(
        stats.rejected,
        BTreeMap::from([(RejectReason::SeriesLimit, 10_001)])
    );
}

#[test]
fn the_per_metric_cap_counts_each_metric_separately() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        limits: Limits {
            max_series_per_metric: 5,
            ..common::limits()
        },
        ..common::config()
    };
    let (engine, _) = open(dir.path(), config);
    let batch: Vec<_> = (0..8)
        .map(|i| one("a", i, 1))
        .chain((0..3).map(|i| one("b", i, 1)))
        .collect();
    let out = engine.write(&t("x"), &batch).unwrap();
    assert_eq!(out.accepted, 8);
    assert_eq!(
        out.rejected,
        BTreeMap::from([(RejectReason::MetricSeriesLimit, 3)])
    );
    assert!(
        out.messages[&RejectReason::MetricSeriesLimit]
            .contains("metric a has max_series_per_metric = 5")
    );
}

#[test]
fn the_rate_limit_stores_what_the_bucket_allows_and_refills_with_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        limits: Limits {
            ingest_rate: 1000.0,
            ingest_burst: 2000.0,
            ..common::limits()
        },
        ..common::config()
    };
    let (engine, clock) = open(dir.path(), config);
    let x = t("x");
    let samples = |from: i64, n: i64| SeriesSamples {
        labels: vec![("__name__".into(), "m".into())],
        samples: (from..from + n)
            .map(|ts| Sample { ts, value: 1.0 })
            .collect(),
    };
    let out = engine.write(&x, &[samples(0, 3000)]).unwrap();
    assert_eq!(out.accepted, 2000, "the burst");
    assert_eq!(
        out.rejected,
        BTreeMap::from([(RejectReason::RateLimited, 1000)])
    );
    assert!(out.messages[&RejectReason::RateLimited].contains("1000 samples/s"));
    // The stored ones are the first 2000 of the batch.
    let stored = &engine.select(&x, &[], 0, i64::MAX).unwrap()[0].samples;
    assert_eq!(
        (stored.len(), stored.last().map(|s| s.ts)),
        (2000, Some(1999))
    );

    clock.advance(500);
    let out = engine.write(&x, &[samples(3000, 1000)]).unwrap();
    assert_eq!(
        (out.accepted, out.rejected_total()),
        (500, 500),
        "1000/s for 0.5 s"
    );
    // Another tenant has its own bucket.
    assert_eq!(
        engine.write(&t("y"), &[samples(0, 2000)]).unwrap().accepted,
        2000
    );
}

#[test]
fn per_tenant_overrides_replace_the_defaults_for_that_tenant_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config();
    config.tenant_limits.insert(
        "small".into(),
        Limits {
            max_active_series: 3,
            ..common::limits()
        },
    );
    let (engine, _) = open(dir.path(), config);
    let batch: Vec<_> = (0..10).map(|i| one("m", i, 1)).collect();
    assert_eq!(engine.write(&t("small"), &batch).unwrap().accepted, 3);
    assert_eq!(engine.write(&t("big"), &batch).unwrap().accepted, 10);
}

#[test]
fn nonsense_limits_are_rejected_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad_tenant = common::config();
    bad_tenant
        .tenant_limits
        .insert("../x".into(), common::limits());
    let zero_rate = EngineConfig {
        limits: Limits {
            ingest_rate: 0.0,
            ..common::limits()
        },
        ..common::config()
    };
    let no_window = EngineConfig {
        limits: Limits {
            active_series_window: Duration::ZERO,
            ..common::limits()
        },
        ..common::config()
    };
    assert!(matches!(
        Engine::open(dir.path(), bad_tenant),
        Err(Error::InvalidTenant { .. })
    ));
    let err = Engine::open(dir.path(), zero_rate).unwrap_err();
    assert!(err.to_string().contains("limits.ingest_rate"), "{err}");
    let err = Engine::open(dir.path(), no_window).unwrap_err();
    assert!(err.to_string().contains("active_series_window"), "{err}");
}
