//! Exemplars: checks and counts, the ring's limit, crash safety through the WAL, the
//! partitions' exemplars files (flush, reopen, compaction, retention, delete).

use std::sync::Arc;
use std::time::Duration;

use strata_engine::{
    Engine, EngineConfig, Exemplar, ExemplarReject, Limits, ManualClock, MatchOp, Matcher, Sample,
    SeriesExemplars, SeriesSamples, TenantId,
};

const HOUR: i64 = 3_600_000;
/// 2025-11-21T00:00:00Z
const DAY: i64 = 1_763_683_200_000;
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn config(max_exemplars: usize) -> EngineConfig {
    EngineConfig {
        limits: Limits {
            max_exemplars,
            metrics_retention: Duration::from_secs(2 * 86_400),
            ..Limits::default()
        },
        ..EngineConfig::default()
    }
}

fn series(name: &str) -> Vec<(String, String)> {
    vec![
        ("__name__".into(), name.into()),
        ("job".into(), "api".into()),
    ]
}

fn ex(trace: &str, ts: i64, value: f64) -> Exemplar {
    Exemplar {
        labels: vec![
            ("trace_id".into(), trace.into()),
            ("span_id".into(), "00f067aa0ba902b7".into()),
        ],
        ts,
        value,
    }
}

fn write(
    engine: &Engine,
    t: &TenantId,
    name: &str,
    exemplars: Vec<Exemplar>,
) -> strata_engine::ExemplarOutcome {
    engine
        .write_exemplars(
            t,
            &[SeriesExemplars {
                series: series(name),
                exemplars,
            }],
        )
        .unwrap()
}

/// (metric, ts, value, trace id) of every exemplar in `[start, end]`.
fn read(engine: &Engine, t: &TenantId, start: i64, end: i64) -> Vec<(String, i64, f64, String)> {
    engine
        .select_exemplars(t, &[], start, end)
        .unwrap()
        .into_iter()
        .flat_map(|s| {
            let name = s.series.metric_name().to_owned();
            s.exemplars.into_iter().map(move |e| {
                (
                    name.clone(),
                    e.ts,
                    e.value,
                    e.label("trace_id").unwrap_or_default().to_owned(),
                )
            })
        })
        .collect()
}

fn open(dir: &std::path::Path, clock: &Arc<ManualClock>, max: usize) -> Engine {
    Engine::open_with_clock(dir, config(max), clock.clone()).unwrap()
}

#[test]
fn rejections_are_counted_by_reason_and_the_rest_stored() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(DAY + HOUR));
    let engine = open(dir.path(), &clock, 100);
    let t = TenantId::new("a").unwrap();
    let out = write(
        &engine,
        &t,
        "m",
        vec![
            ex(TRACE, DAY + 10, 1.0),
            ex(TRACE, DAY + 10, 1.0),             // duplicate of the newest
            ex(TRACE, DAY + 5, 1.0),              // older than the newest
            ex("not-a-trace-id", DAY + 20, 1.0),  // bad trace id
            ex(&TRACE[..16], DAY + 21, 1.0),      // 8 bytes: bad trace id
            ex(TRACE, DAY - 3 * 86_400_000, 1.0), // older than the retention
            ex(TRACE, DAY + 30, 2.0),
        ],
    );
    assert_eq!(out.accepted, 2);
    assert_eq!(out.rejected[&ExemplarReject::Duplicate], 1);
    assert_eq!(out.rejected[&ExemplarReject::OutOfOrder], 1);
    assert_eq!(out.rejected[&ExemplarReject::BadTraceId], 2);
    assert_eq!(out.rejected[&ExemplarReject::OutOfRetention], 1);
    assert!(
        out.message().unwrap().contains("bad_trace_id 2"),
        "{:?}",
        out.message()
    );
    let stats = engine.tenant_stats(&t);
    assert_eq!(stats.exemplars_rejected[&ExemplarReject::BadTraceId], 2);
    assert_eq!(stats.exemplars_memory, 2);
    let got = read(&engine, &t, DAY, DAY + HOUR);
    assert_eq!(
        got,
        vec![
            ("m".into(), DAY + 10, 1.0, TRACE.into()),
            ("m".into(), DAY + 30, 2.0, TRACE.into())
        ]
    );
    // Off: every exemplar refused as such.
    let off = Engine::open_with_clock(
        tempfile::tempdir().unwrap().path(),
        config(0),
        clock.clone(),
    )
    .unwrap();
    let out = write(&off, &t, "m", vec![ex(TRACE, DAY, 1.0)]);
    assert_eq!(out.rejected[&ExemplarReject::Disabled], 1);
}

#[test]
fn over_the_limit_the_oldest_go() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(DAY + HOUR));
    let engine = open(dir.path(), &clock, 5);
    let t = TenantId::new("a").unwrap();
    for i in 0..12 {
        let name = if i % 2 == 0 { "even" } else { "odd" };
        assert_eq!(
            write(&engine, &t, name, vec![ex(TRACE, DAY + i, i as f64)]).accepted,
            1
        );
    }
    let mut ts: Vec<i64> = read(&engine, &t, DAY, DAY + HOUR)
        .iter()
        .map(|r| r.1)
        .collect();
    ts.sort();
    assert_eq!(ts, (7..12).map(|i| DAY + i).collect::<Vec<_>>());
    assert_eq!(engine.tenant_stats(&t).exemplars_evicted, 7);
    // Selectors pick series.
    let odd = Matcher::new("__name__", MatchOp::Equal, "odd").unwrap();
    let read = engine
        .select_exemplars(&t, &[vec![odd]], DAY, DAY + HOUR)
        .unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].exemplars.len(), 3);
}

#[test]
fn exemplars_survive_a_crash_before_a_flush_and_a_reopen_after_one() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(DAY + 2 * HOUR));
    let t = TenantId::new("a").unwrap();
    let engine = open(dir.path(), &clock, 100);
    write(&engine, &t, "m", vec![ex(TRACE, DAY + HOUR + 1, 1.5)]);
    drop(engine); // no close, no flush: the WAL alone
    let engine = open(dir.path(), &clock, 100);
    let want = vec![("m".to_string(), DAY + HOUR + 1, 1.5, TRACE.to_string())];
    assert_eq!(read(&engine, &t, DAY, DAY + 2 * HOUR), want);
    // The WAL's checks survive too: the same exemplar is a duplicate.
    let out = write(&engine, &t, "m", vec![ex(TRACE, DAY + HOUR + 1, 1.5)]);
    assert_eq!(out.rejected[&ExemplarReject::Duplicate], 1);

    // Flushed (an exemplar in a partition without samples too), then reopened.
    assert_eq!(
        write(&engine, &t, "early", vec![ex(TRACE, DAY + 5, 2.5)]).accepted,
        1
    );
    engine
        .write(
            &t,
            &[SeriesSamples {
                labels: series("m"),
                samples: vec![Sample {
                    ts: DAY + HOUR + 1,
                    value: 3.0,
                }],
            }],
        )
        .unwrap();
    let stats = engine.flush().unwrap();
    assert_eq!(stats.exemplars, 2);
    let hour0 = dir.path().join("metrics/tenant=a/date=2025-11-21/hour=00");
    let names: Vec<String> = std::fs::read_dir(&hour0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("exemplars-")),
        "{names:?}"
    );
    let both = vec![
        ("early".to_string(), DAY + 5, 2.5, TRACE.to_string()),
        ("m".to_string(), DAY + HOUR + 1, 1.5, TRACE.to_string()),
    ];
    assert_eq!(
        read(&engine, &t, DAY, DAY + 2 * HOUR),
        both,
        "read once, not twice"
    );
    engine.close().unwrap();
    let engine = open(dir.path(), &clock, 100);
    assert_eq!(read(&engine, &t, DAY, DAY + 2 * HOUR), both);
    assert_eq!(
        read(&engine, &t, DAY + HOUR, DAY + 2 * HOUR),
        both[1..].to_vec()
    );
    // Samples read as before, the exemplar-only set holding none.
    let samples = engine.select(&t, &[], DAY, DAY + 2 * HOUR).unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(
        samples[0].samples,
        vec![Sample {
            ts: DAY + HOUR + 1,
            value: 3.0
        }]
    );

    // Compaction keeps them: a second flush into hour 01, then a merge.
    write(&engine, &t, "m", vec![ex(TRACE, DAY + HOUR + 2, 4.5)]);
    engine.flush().unwrap();
    clock.set(DAY + 4 * HOUR);
    let compacted = engine.compact_all().unwrap();
    assert!(compacted.partitions >= 1, "{compacted:?}");
    let mut all = both.clone();
    all.push(("m".to_string(), DAY + HOUR + 2, 4.5, TRACE.to_string()));
    assert_eq!(read(&engine, &t, DAY, DAY + 2 * HOUR), all);
    engine.close().unwrap();
    let engine = open(dir.path(), &clock, 100);
    assert_eq!(read(&engine, &t, DAY, DAY + 2 * HOUR), all);

    // Retention drops hour 00 with its exemplars.
    clock.set(DAY + 2 * 86_400_000 + HOUR);
    engine.apply_retention().unwrap();
    assert_eq!(read(&engine, &t, DAY, DAY + 2 * HOUR), all[1..].to_vec());
}

#[test]
fn a_delete_removes_the_exemplars_of_the_deleted_series_only() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(DAY + 2 * HOUR));
    let t = TenantId::new("a").unwrap();
    let engine = open(dir.path(), &clock, 100);
    for name in ["gone", "kept"] {
        engine
            .write(
                &t,
                &[SeriesSamples {
                    labels: series(name),
                    samples: vec![Sample {
                        ts: DAY + 10,
                        value: 1.0,
                    }],
                }],
            )
            .unwrap();
        write(&engine, &t, name, vec![ex(TRACE, DAY + 10, 1.0)]);
    }
    engine.flush().unwrap();
    let gone = Matcher::new("__name__", MatchOp::Equal, "gone").unwrap();
    engine.delete_series(&t, &[gone], DAY, DAY + HOUR).unwrap();
    let names: Vec<String> = read(&engine, &t, DAY, DAY + HOUR)
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(names, vec!["kept".to_string()]);
}
