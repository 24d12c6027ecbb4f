//! Many writers of one tenant at once: the head is sharded, so they place samples in
//! parallel. Every acknowledged sample must still be stored exactly once (across flushes
//! running meanwhile and a reopen), and the tenant-wide limits must hold exactly.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};

use strata_engine::{
    Engine, EngineConfig, Limits, MatchOp, Matcher, RejectReason, Sample, SeriesSamples, TenantId,
};

const WRITERS: usize = 8;

fn series(metric: &str, writer: usize, i: usize, samples: Vec<Sample>) -> SeriesSamples {
    SeriesSamples {
        labels: vec![
            ("__name__".into(), metric.into()),
            ("writer".into(), writer.to_string()),
            ("i".into(), i.to_string()),
        ],
        samples,
    }
}

fn tenant() -> TenantId {
    TenantId::new("acme").unwrap()
}

/// Runs `f(writer)` on [`WRITERS`] threads started together; returns their results.
fn together<T: Send + 'static>(f: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let f = Arc::new(f);
    let barrier = Arc::new(Barrier::new(WRITERS));
    let handles: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (f, barrier) = (f.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                f(w)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Every (labels, samples) `select` returns for metrics `m0`..`m31`, as sorted maps.
fn read_all(engine: &Engine) -> BTreeMap<String, Vec<(i64, f64)>> {
    let all = Matcher::new("__name__", MatchOp::Regex, "m.*").unwrap();
    engine
        .select(&tenant(), &[all], 0, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|s| {
            let samples = s.samples.iter().map(|x| (x.ts, x.value)).collect();
            (s.labels.to_string(), samples)
        })
        .collect()
}

#[test]
fn concurrent_writers_with_flushes_between_store_every_sample_once() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(Engine::open(dir.path(), common::config()).unwrap());
    let (rounds, per_writer) = (40usize, 200usize);
    // Each writer sends its own series (spread over 32 metrics, so over the shards) and a
    // series every writer shares, at timestamps only it uses.
    let e = engine.clone();
    let accepted: u64 = together(move |w| {
        let mut accepted = 0;
        for r in 0..rounds {
            let ts = (r * WRITERS + w) as i64 + 1;
            let mut batch: Vec<_> = (0..per_writer)
                .map(|i| {
                    let metric = format!("m{}", i % 32);
                    series(
                        &metric,
                        w,
                        i,
                        vec![Sample {
                            ts,
                            value: ts as f64,
                        }],
                    )
                })
                .collect();
            batch.push(series("m_shared", 0, 0, vec![Sample { ts, value: 0.5 }]));
            let out = e.write(&tenant(), &batch).unwrap();
            assert!(out.rejected.is_empty(), "{:?}", out.messages);
            accepted += out.accepted;
            if w == 0 && r % 10 == 5 {
                e.flush().unwrap();
            }
        }
        accepted
    })
    .into_iter()
    .sum();
    assert_eq!(accepted, (WRITERS * rounds * (per_writer + 1)) as u64);

    let mut expected: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for w in 0..WRITERS {
        for i in 0..per_writer {
            let s = series(&format!("m{}", i % 32), w, i, Vec::new());
            let labels = strata_engine::Labels::from_pairs(s.labels)
                .unwrap()
                .to_string();
            let samples = (0..rounds)
                .map(|r| ((r * WRITERS + w) as i64 + 1, ((r * WRITERS + w) + 1) as f64))
                .collect();
            expected.insert(labels, samples);
        }
    }
    let shared = series("m_shared", 0, 0, Vec::new());
    let shared = strata_engine::Labels::from_pairs(shared.labels)
        .unwrap()
        .to_string();
    expected.insert(
        shared,
        (1..=(rounds * WRITERS) as i64)
            .map(|ts| (ts, 0.5))
            .collect(),
    );
    assert_eq!(read_all(&engine), expected);
    let stats = engine.tenant_stats(&tenant());
    assert_eq!(stats.series, WRITERS * per_writer + 1);
    assert_eq!(stats.active_series, WRITERS * per_writer + 1);

    // Half still in memory (logged in per-shard WAL records), half in files: a reopen
    // replays the rest and reads the same.
    drop(Arc::into_inner(engine).unwrap());
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    assert_eq!(read_all(&engine), expected);
}

#[test]
fn the_series_caps_hold_exactly_under_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let (cap, per_metric) = (1000, 300);
    let config = EngineConfig {
        limits: Limits {
            max_active_series: cap,
            max_series_per_metric: per_metric,
            ..common::limits()
        },
        ..common::config()
    };
    let engine = Arc::new(Engine::open(dir.path(), config).unwrap());
    // 8 writers × 500 new series each: 4,000 series over 16 metrics race for 1,000 places,
    // none of the 16 metrics may pass 300.
    let e = engine.clone();
    let outcomes = together(move |w| {
        let mut outs = Vec::new();
        for chunk in 0..5 {
            let batch: Vec<_> = (0..100)
                .map(|j| {
                    let i = chunk * 100 + j;
                    let sample = Sample {
                        ts: 1_000 + i as i64,
                        value: 1.0,
                    };
                    series(&format!("m{}", (w + i) % 16), w, i, vec![sample])
                })
                .collect();
            outs.push(e.write(&tenant(), &batch).unwrap());
        }
        outs
    });
    let (mut accepted, mut rejected) = (0, BTreeMap::<RejectReason, u64>::new());
    for out in outcomes.iter().flatten() {
        accepted += out.accepted;
        for (r, n) in &out.rejected {
            *rejected.entry(*r).or_default() += n;
        }
    }
    assert_eq!(accepted, cap as u64, "rejected: {rejected:?}");
    assert_eq!(rejected.values().sum::<u64>(), 4_000 - cap as u64);
    let stats = engine.tenant_stats(&tenant());
    assert_eq!((stats.series, stats.active_series), (cap, cap));
    assert_eq!(stats.rejected, rejected);
    let stored = read_all(&engine);
    assert_eq!(stored.len(), cap);
    for m in 0..16 {
        let of_metric = stored
            .keys()
            .filter(|l| l.starts_with(&format!("m{m}{{")))
            .count();
        assert!(of_metric <= per_metric, "m{m} has {of_metric} series");
    }
}
