//! Deletes (`Engine::delete_series`, `Engine::delete_records`): the rows named are gone
//! from reads at once, from memory and files alike, and stay gone after flushes,
//! compaction and a reopen; other series, times, signals and tenants are untouched, and
//! bad requests change nothing.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use strata_engine::{
    AnyValue, Engine, EngineConfig, Error, Limits, LogRecord, ManualClock, MatchOp, Matcher,
    RecordPredicate, RecordSignal, Sample, SeriesSamples, SpanRecord, TenantId, logs_from_batch,
    spans_from_batch,
};

/// 2025-11-21T13:00:00Z (ms): the tests write into this hour and the next.
const T0: i64 = 1_763_730_000_000;
const HOUR: i64 = 3_600_000;
const MS: i64 = 1_000_000;

fn config() -> EngineConfig {
    EngineConfig {
        limits: Limits {
            metrics_retention: Duration::from_secs(30 * 86_400),
            ..Limits::default()
        },
        ..EngineConfig::default()
    }
}

fn open(dir: &Path) -> Engine {
    Engine::open_with_clock(dir, config(), Arc::new(ManualClock::new(T0 + 4 * HOUR))).unwrap()
}

fn t(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

fn series(job: &str, instance: &str, ts: impl IntoIterator<Item = i64>) -> SeriesSamples {
    SeriesSamples {
        labels: vec![
            ("__name__".into(), "up".into()),
            ("job".into(), job.into()),
            ("instance".into(), instance.into()),
        ],
        samples: ts
            .into_iter()
            .map(|ts| Sample {
                ts,
                value: (ts - T0) as f64,
            })
            .collect(),
    }
}

/// Every series of `tenant` with its sample times.
fn dump(engine: &Engine, tenant: &TenantId) -> BTreeMap<String, Vec<i64>> {
    engine
        .select(tenant, &[], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|s| {
            for x in &s.samples {
                assert_eq!(x.value, (x.ts - T0) as f64);
            }
            let ts = s.samples.iter().map(|x| x.ts).collect();
            (s.labels.to_string(), ts)
        })
        .collect()
}

/// Writes the same data for `tenant`: two series in two hours, the first hour flushed,
/// the second in memory.
fn write_metrics(engine: &Engine, tenant: &TenantId) {
    let first = (0..60).map(|i| T0 + i * 60_000);
    engine
        .write(
            tenant,
            &[series("api", "a", first.clone()), series("db", "b", first)],
        )
        .unwrap();
    engine.flush().unwrap();
    let second = (0..60).map(|i| T0 + HOUR + i * 60_000);
    engine
        .write(
            tenant,
            &[
                series("api", "a", second.clone()),
                series("db", "b", second),
            ],
        )
        .unwrap();
}

#[test]
fn deleted_samples_are_gone_from_memory_and_files_and_stay_gone() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let (acme, other) = (t("acme"), t("other"));
    write_metrics(&engine, &acme);
    write_metrics(&engine, &other);
    let before = dump(&engine, &acme);
    let other_before = dump(&engine, &other);
    // From the first hour's 30th minute into the second hour's 10th, of job="api" only.
    let (start, end) = (T0 + 30 * 60_000, T0 + HOUR + 10 * 60_000);
    let api = Matcher::new("job", MatchOp::Equal, "api").unwrap();
    let stats = engine
        .delete_series(&acme, std::slice::from_ref(&api), start, end)
        .unwrap();
    assert_eq!(stats.rows_deleted, 30 + 11);
    assert_eq!(stats.files_rewritten, 2, "{stats:?}");

    let mut want = before.clone();
    for (labels, ts) in want.iter_mut() {
        if labels.contains("job=\"api\"") {
            ts.retain(|&x| x < start || x > end);
        }
    }
    assert_eq!(dump(&engine, &acme), want, "gone from reads at once");
    assert_eq!(
        dump(&engine, &other),
        other_before,
        "another tenant untouched"
    );
    let again = engine.delete_series(&acme, &[api], start, end).unwrap();
    assert_eq!(
        (again.rows_deleted, again.files_rewritten),
        (0, 0),
        "nothing left to delete"
    );

    engine
        .write(&acme, &[series("db", "b", [T0 + 2 * HOUR])])
        .unwrap();
    let db = want.keys().find(|k| k.contains("job=\"db\"")).cloned();
    want.get_mut(&db.expect("the db series"))
        .expect("db series")
        .push(T0 + 2 * HOUR);
    engine.flush().unwrap();
    engine.compact_all().unwrap();
    assert_eq!(dump(&engine, &acme), want, "after a flush and compaction");
    engine.close().unwrap();
    let engine = open(dir.path());
    assert_eq!(dump(&engine, &acme), want, "after a reopen");
    assert_eq!(dump(&engine, &other), other_before);
    // No file of the tenant holds a deleted sample any more: the rewritten sets replaced
    // the old ones on disk.
    let files = parquet_rows(&dir.path().join("metrics/tenant=acme"));
    let (kept, total): (usize, usize) = (want.values().map(Vec::len).sum(), files);
    assert_eq!(total, kept, "samples rows on disk");
}

#[test]
fn a_set_left_empty_is_removed_and_its_series_leave_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let acme = t("acme");
    write_metrics(&engine, &acme);
    let all = Matcher::new("__name__", MatchOp::Equal, "up").unwrap();
    // The whole first hour, both series.
    let stats = engine
        .delete_series(&acme, &[all], T0, T0 + HOUR - 1)
        .unwrap();
    assert_eq!(
        (stats.files_removed, stats.rows_deleted),
        (1, 120),
        "{stats:?}"
    );
    assert!(
        engine
            .label_values(&acme, "job", T0, T0 + HOUR - 1)
            .unwrap()
            .is_empty()
    );
    let db = Matcher::new("job", MatchOp::Equal, "db").unwrap();
    engine
        .delete_series(&acme, &[db], T0 + HOUR, T0 + 2 * HOUR)
        .unwrap();
    engine.close().unwrap();
    let engine = open(dir.path());
    assert_eq!(
        engine.label_values(&acme, "job", T0, i64::MAX).unwrap(),
        vec!["api".to_owned()],
        "the deleted series is in no index"
    );
    assert_eq!(dump(&engine, &acme).len(), 1);
}

#[test]
fn bad_deletes_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let acme = t("acme");
    write_metrics(&engine, &acme);
    let before = dump(&engine, &acme);
    let api = Matcher::new("job", MatchOp::Equal, "api").unwrap();
    for e in [
        engine.delete_series(&acme, &[], T0, T0 + HOUR).unwrap_err(),
        engine
            .delete_series(&acme, &[api], T0 + HOUR, T0)
            .unwrap_err(),
    ] {
        assert!(matches!(e, Error::InvalidRequest { .. }), "{e}");
    }
    let p = RecordPredicate::parse("attributes = 'x'", 0, i64::MAX).unwrap();
    let e = engine
        .delete_records(&acme, RecordSignal::Spans, &p)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e}");
    assert_eq!(dump(&engine, &acme), before);
}

fn span(i: u8, addr: &str, start_ms: i64) -> SpanRecord {
    SpanRecord {
        trace_id: [i; 16],
        span_id: [1; 8],
        service_name: "shop".into(),
        name: "GET /cart".into(),
        start_ns: start_ms * MS,
        end_ns: start_ms * MS + 10,
        attributes: vec![
            ("client.address".into(), AnyValue::String(addr.into())),
            ("http.route".into(), AnyValue::String("/cart".into())),
        ],
        ..SpanRecord::default()
    }
}

fn log(i: u8, host: &str, time_ms: i64) -> LogRecord {
    LogRecord {
        time_ns: time_ms * MS,
        service_name: "shop".into(),
        body: Some(AnyValue::String(format!("line {i}"))),
        resource_attributes: vec![("host.name".into(), AnyValue::String(host.into()))].into(),
        ..LogRecord::default()
    }
}

/// Trace ids of `tenant`'s spans and bodies of its logs, from files and memory.
fn records(engine: &Engine, tenant: &TenantId) -> (Vec<u8>, Vec<String>) {
    let read = |snap: strata_engine::SignalSnapshot| {
        let mut batches = snap.memory.clone();
        for f in &snap.files {
            let r = ParquetRecordBatchReaderBuilder::try_new(File::open(f.path()).unwrap())
                .unwrap()
                .build()
                .unwrap();
            batches.extend(r.map(Result::unwrap));
        }
        batches
    };
    let mut spans: Vec<u8> = read(engine.spans_snapshot(tenant, 0, i64::MAX).unwrap())
        .iter()
        .flat_map(|b| spans_from_batch(b).unwrap())
        .map(|s| s.trace_id[0])
        .collect();
    let mut logs: Vec<String> = read(engine.logs_snapshot(tenant, 0, i64::MAX).unwrap())
        .iter()
        .flat_map(|b| logs_from_batch(b).unwrap())
        .map(|l| format!("{:?}", l.body))
        .collect();
    spans.sort_unstable();
    logs.sort();
    (spans, logs)
}

#[test]
fn deleted_spans_and_logs_are_gone_and_the_rest_is_found_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let (acme, other) = (t("acme"), t("other"));
    for tenant in [&acme, &other] {
        // Two flushed files in the first hour, then records in memory in the second.
        engine
            .write_spans(
                tenant,
                &[span(1, "1.2.3.4", T0), span(2, "5.6.7.8", T0 + 1)],
            )
            .unwrap();
        engine
            .write_logs(tenant, &[log(1, "h1", T0), log(2, "h2", T0 + 1)])
            .unwrap();
        engine.flush().unwrap();
        engine
            .write_spans(tenant, &[span(3, "1.2.3.4", T0 + 2)])
            .unwrap();
        engine.flush().unwrap();
        engine
            .write_spans(
                tenant,
                &[
                    span(4, "1.2.3.4", T0 + HOUR),
                    span(5, "1.2.3.4", T0 + 2 * HOUR),
                ],
            )
            .unwrap();
        engine
            .write_logs(tenant, &[log(3, "h1", T0 + HOUR)])
            .unwrap();
    }
    let other_before = records(&engine, &other);
    // Up to the second hour: span 5 (third hour) stays.
    let range = (T0 * MS, (T0 + 2 * HOUR) * MS - 1);
    let p = RecordPredicate::parse("client.address = '1.2.3.4'", range.0, range.1).unwrap();
    let stats = engine
        .delete_records(&acme, RecordSignal::Spans, &p)
        .unwrap();
    assert_eq!(stats.rows_deleted, 3, "{stats:?}");
    assert_eq!(
        (stats.files_rewritten, stats.files_removed),
        (1, 2),
        "{stats:?}"
    );
    let p = RecordPredicate::parse("resource_attributes['host.name'] = 'h1'", range.0, range.1)
        .unwrap();
    assert_eq!(
        engine
            .delete_records(&acme, RecordSignal::Logs, &p)
            .unwrap()
            .rows_deleted,
        2
    );

    let want = (
        vec![2, 5],
        vec![format!("{:?}", Some(AnyValue::String("line 2".into())))],
    );
    assert_eq!(records(&engine, &acme), want);
    assert_eq!(
        records(&engine, &other),
        other_before,
        "another tenant untouched"
    );
    // The rewritten file's trace-id filter was written with it: lookups find what is left.
    let found = engine.find_trace(&acme, [2; 16], 0, i64::MAX).unwrap();
    assert_eq!(found.len(), 1);
    let addr = AnyValue::String("5.6.7.8".into());
    assert!(
        found[0]
            .attributes
            .contains(&("client.address".into(), addr))
    );
    assert!(
        engine
            .find_trace(&acme, [1; 16], 0, i64::MAX)
            .unwrap()
            .is_empty()
    );

    engine.compact_all().unwrap();
    engine.close().unwrap();
    let engine = open(dir.path());
    assert_eq!(
        records(&engine, &acme),
        want,
        "after compaction and a reopen"
    );
    assert_eq!(records(&engine, &other), other_before);
    assert_eq!(
        engine.build_trace_filters(),
        0,
        "every spans file has its filter"
    );
}

/// Rows of every samples file below `dir`.
fn parquet_rows(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            n += parquet_rows(&p);
        } else if p
            .file_name()
            .is_some_and(|f| f.to_string_lossy().starts_with("samples-"))
        {
            let r = ParquetRecordBatchReaderBuilder::try_new(File::open(&p).unwrap()).unwrap();
            n += r.metadata().file_metadata().num_rows() as usize;
        }
    }
    n
}
