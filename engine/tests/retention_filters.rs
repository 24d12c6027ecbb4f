//! Retention by selector: series a filter matches leave partitions older than its `keep`,
//! the longest matching filter wins, other series stay, and each filter's removals are
//! counted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use strata_engine::{
    Engine, EngineConfig, FilterTarget, Limits, LogRecord, ManualClock, MatchOp, Matcher,
    RecordPredicate, RecordSignal, RetentionFilter, Sample, SeriesSamples, TenantId,
};

const HOUR: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR;
/// 2025-11-21T00:00:00Z
const DAY: i64 = 1_763_683_200_000;

fn config() -> EngineConfig {
    EngineConfig {
        limits: Limits {
            ingest_rate: 1e9,
            ingest_burst: 1e9,
            ..Limits::default()
        },
        ..EngineConfig::default()
    }
}

fn series(name: &str, job: &str) -> SeriesSamples {
    SeriesSamples {
        labels: vec![("__name__".into(), name.into()), ("job".into(), job.into())],
        samples: (0..60)
            .map(|k| Sample {
                ts: DAY + k * 60_000,
                value: k as f64,
            })
            .collect(),
    }
}

fn names(engine: &Engine, t: &TenantId) -> Vec<String> {
    let all = Matcher::new("__name__", MatchOp::Regex, ".+").unwrap();
    let mut out: Vec<String> = engine
        .select(t, &[all], i64::MIN / 2, i64::MAX / 2)
        .unwrap()
        .into_iter()
        .map(|s| {
            assert_eq!(s.samples.len(), 60, "{}", s.labels);
            s.labels.to_string()
        })
        .collect();
    out.sort();
    out
}

fn filter(name: &str, matchers: Vec<Matcher>, days: u64) -> RetentionFilter {
    RetentionFilter {
        name: name.into(),
        target: FilterTarget::Series(matchers),
        keep: Duration::from_secs(days * 86_400),
    }
}

#[test]
fn matched_series_leave_old_partitions_and_the_longest_filter_wins() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(DAY + 2 * HOUR));
    let engine = Engine::open_with_clock(dir.path(), config(), clock.clone()).unwrap();
    let t = TenantId::new("acme").unwrap();
    let other = TenantId::new("other").unwrap();
    let batch = [
        series("go_gc_seconds", "a"),
        series("go_gc_seconds", "b"),
        series("up", "a"),
    ];
    engine.write(&t, &batch).unwrap();
    engine.write(&other, &batch[..1]).unwrap();
    engine.flush().unwrap();
    engine.compact().unwrap();

    let go = filter(
        "{__name__=~\"go_.*\"}",
        vec![Matcher::new("__name__", MatchOp::Regex, "go_.*").unwrap()],
        3,
    );
    let keep_b = filter(
        "{job=\"b\"}",
        vec![Matcher::new("job", MatchOp::Equal, "b").unwrap()],
        10,
    );
    engine
        .set_retention_filters(vec![go.clone(), keep_b.clone()])
        .unwrap();
    let all = vec![
        "go_gc_seconds{job=\"a\"}",
        "go_gc_seconds{job=\"b\"}",
        "up{job=\"a\"}",
    ];
    // The partition ends at DAY + 1h: not yet 3 days old.
    clock.set(DAY + HOUR + 3 * DAY_MS);
    assert_eq!(engine.apply_retention_filters().unwrap(), 0);
    assert_eq!(names(&engine, &t), all);

    // Past 3 days: go_* goes, but job="b" is kept 10 days by the longer filter.
    clock.set(DAY + HOUR + 3 * DAY_MS + 1);
    assert_eq!(engine.apply_retention_filters().unwrap(), 60 + 60);
    assert_eq!(
        names(&engine, &t),
        vec!["go_gc_seconds{job=\"b\"}", "up{job=\"a\"}"]
    );
    assert!(names(&engine, &other).is_empty(), "every tenant");
    assert_eq!(engine.apply_retention_filters().unwrap(), 0, "once");
    let counted = |e: &Engine| e.telemetry().retention_filtered;
    assert_eq!(counted(&engine), BTreeMap::from([(go.name.clone(), 120)]));

    // Past 10 days: job="b" goes too, counted under its own (the longest) filter.
    clock.set(DAY + HOUR + 10 * DAY_MS + 1);
    assert_eq!(engine.apply_retention_filters().unwrap(), 60);
    assert_eq!(names(&engine, &t), vec!["up{job=\"a\"}"]);
    assert_eq!(
        counted(&engine),
        BTreeMap::from([(go.name.clone(), 120), (keep_b.name.clone(), 60)])
    );

    // Gone for good: after a restart, with the filters set again, nothing comes back
    // and nothing more is removed.
    engine.close().unwrap();
    let engine = Engine::open_with_clock(dir.path(), config(), clock.clone()).unwrap();
    engine.set_retention_filters(vec![go, keep_b]).unwrap();
    assert_eq!(engine.apply_retention_filters().unwrap(), 0);
    assert_eq!(names(&engine, &t), vec!["up{job=\"a\"}"]);
}

#[test]
fn log_records_a_predicate_matches_leave_old_partitions_unless_a_longer_filter_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(DAY + 2 * HOUR));
    let config = EngineConfig {
        limits: Limits {
            logs_retention: Duration::from_secs(30 * 86_400),
            ..config().limits
        },
        ..config()
    };
    let engine = Engine::open_with_clock(dir.path(), config, clock.clone()).unwrap();
    let t = TenantId::new("acme").unwrap();
    let record = |i: i64, severity: &str, service: &str| LogRecord {
        time_ns: (DAY + i * 1000) * 1_000_000,
        severity_text: severity.into(),
        service_name: service.into(),
        ..LogRecord::default()
    };
    let mut records = Vec::new();
    for i in 0..30 {
        records.push(record(i, "DEBUG", "api"));
        records.push(record(i, "DEBUG", "billing"));
        records.push(record(i, "INFO", "api"));
    }
    let outcome = engine.write_logs(&t, &records).unwrap();
    assert_eq!(outcome.accepted, 90);
    engine.flush().unwrap();
    let pred = |text: &str| RecordPredicate::parse(text, 0, 0).unwrap();
    let debug = RetentionFilter {
        name: "severity_text = 'DEBUG'".into(),
        target: FilterTarget::Records(RecordSignal::Logs, pred("severity_text = 'DEBUG'")),
        keep: Duration::from_secs(86_400),
    };
    let billing = RetentionFilter {
        name: "service_name = 'billing'".into(),
        target: FilterTarget::Records(RecordSignal::Logs, pred("service_name = 'billing'")),
        keep: Duration::from_secs(10 * 86_400),
    };
    engine
        .set_retention_filters(vec![debug.clone(), billing.clone()])
        .unwrap();
    let count = |e: &Engine| {
        let snap = e.logs_snapshot(&t, 0, i64::MAX).unwrap();
        let mut n: BTreeMap<(String, String), usize> = BTreeMap::new();
        for f in &snap.files {
            let file = std::fs::File::open(f.path()).unwrap();
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .unwrap()
                    .build()
                    .unwrap();
            for batch in reader {
                for r in strata_engine::logs_from_batch(&batch.unwrap()).unwrap() {
                    *n.entry((r.severity_text, r.service_name)).or_default() += 1;
                }
            }
        }
        n
    };
    assert_eq!(
        engine.apply_retention_filters().unwrap(),
        0,
        "a day not yet past"
    );
    assert_eq!(count(&engine).values().sum::<usize>(), 90);

    // Past a day: DEBUG goes, but billing's DEBUG is kept 10 days by the longer filter.
    clock.set(DAY + HOUR + 86_400_000 + 1);
    assert_eq!(engine.apply_retention_filters().unwrap(), 30);
    assert_eq!(engine.apply_retention_filters().unwrap(), 0, "once");
    let left = count(&engine);
    assert_eq!(
        left,
        BTreeMap::from([
            (("DEBUG".into(), "billing".into()), 30),
            (("INFO".into(), "api".into()), 30),
        ])
    );
    // Past 10 days: billing's records go too.
    clock.set(DAY + HOUR + 10 * 86_400_000 + 1);
    assert_eq!(engine.apply_retention_filters().unwrap(), 30);
    assert_eq!(
        count(&engine),
        BTreeMap::from([(("INFO".into(), "api".into()), 30)])
    );
    assert_eq!(
        engine.telemetry().retention_filtered,
        BTreeMap::from([(debug.name, 30), (billing.name, 30)])
    );
}

#[test]
fn a_filter_without_a_matcher_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), config()).unwrap();
    let err = engine
        .set_retention_filters(vec![filter("none", vec![], 1)])
        .unwrap_err();
    assert!(err.to_string().contains("retention.filters"), "{err}");
}
