//! Retention and compaction of `traces/` and `logs/` partitions, through the same passes as
//! metrics: expired partitions dropped whole (per-tenant retention), closed partitions'
//! files merged into one sorted file with the same records, before and after a reopen.

use std::collections::BTreeMap;
use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use strata_engine::{
    AnyValue, Engine, EngineConfig, Limits, LogRecord, ManualClock, SpanRecord, TenantId,
    spans_from_batch,
};

/// 2025-11-21T13:00:00Z in ms.
const T0_MS: i64 = 1_763_730_000_000;
const MS: i64 = 1_000_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

fn tenant(t: &str) -> TenantId {
    TenantId::new(t).unwrap()
}

fn span(trace: u8, id: u8, service: &str, at_ms: i64) -> SpanRecord {
    SpanRecord {
        trace_id: [trace; 16],
        span_id: [id; 8],
        service_name: service.into(),
        name: format!("op{id}"),
        start_ns: at_ms * MS,
        end_ns: at_ms * MS + 10,
        attributes: vec![("i".into(), AnyValue::Int(i64::from(id)))],
        ..SpanRecord::default()
    }
}

fn log(at_ms: i64) -> LogRecord {
    LogRecord {
        time_ns: at_ms * MS,
        body: Some(AnyValue::String("hello".into())),
        service_name: "api".into(),
        ..LogRecord::default()
    }
}

/// Every span of `t` read from its files (decoded) and memory, with the files' count.
fn spans(engine: &Engine, t: &TenantId) -> (Vec<SpanRecord>, usize) {
    let snap = engine.spans_snapshot(t, 0, i64::MAX).unwrap();
    let mut out = Vec::new();
    for f in &snap.files {
        let r = ParquetRecordBatchReaderBuilder::try_new(File::open(f.path()).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for b in r {
            out.extend(spans_from_batch(&b.unwrap()).unwrap());
        }
    }
    for b in &snap.memory {
        out.extend(spans_from_batch(b).unwrap());
    }
    (out, snap.files.len())
}

#[test]
fn expired_trace_and_log_partitions_are_dropped_whole_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0_MS + 10 * 60_000));
    let config = EngineConfig {
        tenant_limits: BTreeMap::from([(
            "keep".to_owned(),
            Limits {
                traces_retention: Duration::from_secs(30 * 86_400),
                ..Limits::default()
            },
        )]),
        ..EngineConfig::default()
    };
    let engine = Engine::open_with_clock(dir.path(), config.clone(), clock.clone()).unwrap();
    for t in [tenant("acme"), tenant("keep")] {
        engine.write_spans(&t, &[span(1, 1, "api", T0_MS)]).unwrap();
        engine.write_logs(&t, &[log(T0_MS)]).unwrap();
    }
    engine.flush().unwrap();
    let hour = |signal: &str, t: &str| {
        dir.path()
            .join(format!("{signal}/tenant={t}/date=2025-11-21/hour=13"))
    };
    assert!(hour("traces", "acme").is_dir() && hour("logs", "acme").is_dir());

    // Not yet: the partition ends at 14:00, so it expires at 14:00 + 7 d.
    clock.set(T0_MS + HOUR_MS + 7 * DAY_MS - 1);
    assert_eq!(engine.apply_retention().unwrap().expired, 0);
    clock.set(T0_MS + HOUR_MS + 7 * DAY_MS);
    let stats = engine.apply_retention().unwrap();
    // acme's spans and logs, and keep's logs (its traces are kept for 30 days).
    assert_eq!(stats.expired, 3, "{stats:?}");
    assert!(stats.bytes > 0);
    assert!(!hour("traces", "acme").exists() && !hour("logs", "acme").exists());
    assert!(!hour("logs", "keep").exists());
    assert!(hour("traces", "keep").is_dir());
    assert!(
        engine
            .find_trace(&tenant("acme"), [1; 16], 0, i64::MAX)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        engine
            .find_trace(&tenant("keep"), [1; 16], 0, i64::MAX)
            .unwrap()
            .len(),
        1
    );
    assert!(
        engine
            .logs_snapshot(&tenant("acme"), 0, i64::MAX)
            .unwrap()
            .files
            .is_empty()
    );
    // Spans older than the retention are refused on write instead.
    let out = engine
        .write_spans(&tenant("acme"), &[span(2, 2, "api", T0_MS)])
        .unwrap();
    assert_eq!(out.accepted, 0);
    engine.close().unwrap();

    // A reopen does not bring anything back.
    let engine = Engine::open_with_clock(dir.path(), config, clock).unwrap();
    assert!(
        engine
            .find_trace(&tenant("acme"), [1; 16], 0, i64::MAX)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        engine
            .find_trace(&tenant("keep"), [1; 16], 0, i64::MAX)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn closed_partitions_are_compacted_into_one_sorted_file_with_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0_MS + 10 * 60_000));
    let engine =
        Engine::open_with_clock(dir.path(), EngineConfig::default(), clock.clone()).unwrap();
    let t = tenant("acme");
    for k in 0..3u8 {
        let batch: Vec<SpanRecord> = (0..10u8)
            .map(|i| {
                let service = ["web", "api", "db"][usize::from((i + k) % 3)];
                span(
                    k + 1,
                    k * 10 + i + 1,
                    service,
                    T0_MS + i64::from(10 * i + k),
                )
            })
            .collect();
        engine.write_spans(&t, &batch).unwrap();
        engine.write_logs(&t, &[log(T0_MS + i64::from(k))]).unwrap();
        engine.flush().unwrap();
    }
    let (mut before, files) = spans(&engine, &t);
    assert_eq!((before.len(), files), (30, 3));
    // Open (the hour plus the out-of-order window has not passed): nothing to do.
    assert_eq!(engine.compact().unwrap().partitions, 0);
    clock.set(T0_MS + 2 * HOUR_MS);
    let stats = engine.compact().unwrap();
    assert_eq!(
        stats.partitions, 2,
        "the traces and the logs partition: {stats:?}"
    );
    assert_eq!((stats.rows_in, stats.rows_out), (33, 33));
    let (after, files) = spans(&engine, &t);
    assert_eq!(files, 1);
    assert_sorted_as_declared(&engine.spans_snapshot(&t, 0, i64::MAX).unwrap().files[0].path());
    let keys: Vec<_> = after.iter().map(|s| (s.trace_id, s.start_ns)).collect();
    let mut want = keys.clone();
    want.sort();
    assert_eq!(keys, want, "sorted by (trace, start)");
    let mut after = after;
    let key = |s: &SpanRecord| (s.trace_id, s.span_id);
    before.sort_by_key(key);
    after.sort_by_key(key);
    assert_eq!(after, before);
    // The merged files are the only ones left on disk.
    let part = dir
        .path()
        .join("traces/tenant=acme/date=2025-11-21/hour=13");
    let parquet: Vec<_> = std::fs::read_dir(&part)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".parquet"))
        .collect();
    assert_eq!(parquet.len(), 1, "{parquet:?}");
    assert!(parquet[0].ends_with("-c.parquet"));
    let trace = engine.find_trace(&t, [2; 16], 0, i64::MAX).unwrap();
    assert_eq!(trace.len(), 10);
    engine.close().unwrap();

    let engine = Engine::open_with_clock(dir.path(), EngineConfig::default(), clock).unwrap();
    let (mut reopened, files) = spans(&engine, &t);
    reopened.sort_by_key(key);
    assert_eq!((reopened, files), (before, 1));
    assert_eq!(
        engine.logs_snapshot(&t, 0, i64::MAX).unwrap().files.len(),
        1
    );
}

/// Bytes of the Parquet files in `<data>/<signal>/tenant=t/date=2025-11-21/hour=<h>`.
fn hour_bytes(data: &std::path::Path, signal: &str, hour: u32) -> u64 {
    let dir = data.join(format!("{signal}/tenant=t/date=2025-11-21/hour={hour:02}"));
    match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
            .map(|e| e.metadata().unwrap().len())
            .sum(),
        Err(_) => 0,
    }
}

#[test]
fn a_disk_budget_counts_every_signal_and_drops_the_oldest_hours_first() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0_MS + 4 * HOUR_MS + 60_000));
    let t = tenant("t");
    let engine =
        Engine::open_with_clock(dir.path(), EngineConfig::default(), clock.clone()).unwrap();
    let up = strata_engine::SeriesSamples {
        labels: vec![("__name__".into(), "up".into())],
        samples: (0..60)
            .map(|k| strata_engine::Sample {
                ts: T0_MS + k * 60_000,
                value: 1.0,
            })
            .collect(),
    };
    assert_eq!(engine.write(&t, &[up]).unwrap().accepted, 60);
    let spans_at = |trace: u8, at: i64| -> Vec<SpanRecord> {
        (1..=30)
            .map(|i| span(trace, i, "api", at + i64::from(i)))
            .collect()
    };
    engine
        .write_spans(&t, &spans_at(1, T0_MS + HOUR_MS))
        .unwrap();
    let logs: Vec<LogRecord> = (0..30).map(|i| log(T0_MS + 2 * HOUR_MS + i)).collect();
    engine.write_logs(&t, &logs).unwrap();
    engine
        .write_spans(&t, &spans_at(2, T0_MS + 3 * HOUR_MS))
        .unwrap();
    engine.close().unwrap();

    let d = dir.path();
    let (m13, s14, l15, s16) = (
        hour_bytes(d, "metrics", 13),
        hour_bytes(d, "traces", 14),
        hour_bytes(d, "logs", 15),
        hour_bytes(d, "traces", 16),
    );
    assert!(m13 > 0 && s14 > 0 && l15 > 0 && s16 > 0);
    // Room for the two newest hours and half of the third: the metrics hour and the older
    // spans hour must go, though neither signal alone is over the budget.
    let config = EngineConfig {
        tenant_limits: BTreeMap::from([(
            "t".to_owned(),
            Limits {
                disk_budget: Some(l15 + s16 + s14 / 2),
                ..Limits::default()
            },
        )]),
        ..EngineConfig::default()
    };
    let engine = Engine::open_with_clock(d, config, clock).unwrap();
    let disk = engine.telemetry().disk;
    assert!(!disk.contains_key(&(t.clone(), "metrics")), "{disk:?}");
    assert_eq!(disk[&(t.clone(), "traces")].bytes, s16);
    assert_eq!(disk[&(t.clone(), "logs")].bytes, l15);
    let (kept, _) = spans(&engine, &t);
    assert_eq!(kept.len(), 30);
    assert!(kept.iter().all(|s| s.trace_id == [2; 16]));
    assert!(
        engine
            .select(&t, &[], i64::MIN, i64::MAX)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        hour_bytes(d, "traces", 14),
        0,
        "the dropped hour's files are gone"
    );
}

#[test]
fn many_flush_files_compact_into_one_file_in_key_order_with_every_span_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0_MS + 50 * 60_000));
    let engine =
        Engine::open_with_clock(dir.path(), EngineConfig::default(), clock.clone()).unwrap();
    let t = tenant("acme");
    // 40 flushes; traces cross flushes and services, and two flushes repeat a span (as a
    // retried export would): copies are kept, one per write.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for k in 0..40u8 {
        let batch: Vec<SpanRecord> = (0..50u8)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let service = ["web", "api", "db", "cache"][(x % 4) as usize];
                let mut s = span(
                    (x >> 8) as u8 % 64 + 1,
                    i,
                    service,
                    T0_MS + i64::from(k) * 60_000 + (x >> 16) as i64 % 90_000,
                );
                s.span_id[0] = k + 1;
                s
            })
            .collect();
        let out = engine.write_spans(&t, &batch).unwrap();
        assert_eq!(out.accepted, 50, "{out:?}");
        if k % 20 == 0 {
            engine.write_spans(&t, &batch[..5]).unwrap();
        }
        engine.flush().unwrap();
    }
    let (mut before, files) = spans(&engine, &t);
    assert_eq!((before.len(), files), (40 * 50 + 2 * 5, 40));
    clock.set(T0_MS + 2 * HOUR_MS);
    let stats = engine.compact().unwrap();
    assert_eq!(stats.partitions, 1, "{stats:?}");
    assert_eq!(stats.file_sets_in, 40);
    assert_eq!(stats.rows_out, before.len() as u64);
    let (mut after, files) = spans(&engine, &t);
    assert_eq!(files, 1);
    assert_sorted_as_declared(&engine.spans_snapshot(&t, 0, i64::MAX).unwrap().files[0].path());
    let id = |s: &SpanRecord| (s.trace_id, s.span_id, s.start_ns);
    before.sort_by_key(id);
    after.sort_by_key(id);
    assert_eq!(
        after, before,
        "every span kept, exactly as often as written"
    );
}

/// Checks that the Parquet file at `path` declares sorting columns and that its rows are in
/// that order (compared as Arrow rows).
fn assert_sorted_as_declared(path: &std::path::Path) {
    use arrow::row::{RowConverter, SortField};
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let meta = builder.metadata().clone();
    let declared = meta.row_group(0).sorting_columns().cloned().unwrap();
    assert!(!declared.is_empty());
    assert!(
        meta.row_groups()
            .iter()
            .all(|rg| rg.sorting_columns() == Some(&declared))
    );
    let schema = builder.schema().clone();
    let cols: Vec<usize> = declared.iter().map(|c| c.column_idx as usize).collect();
    let conv = RowConverter::new(
        cols.iter()
            .map(|&i| SortField::new(schema.field(i).data_type().clone()))
            .collect(),
    )
    .unwrap();
    let mut last: Option<arrow::row::OwnedRow> = None;
    let mut n = 0;
    for b in builder.build().unwrap() {
        let b = b.unwrap();
        let arrays: Vec<_> = cols.iter().map(|&i| b.column(i).clone()).collect();
        let rows = conv.convert_columns(&arrays).unwrap();
        for r in rows.iter() {
            if let Some(l) = &last {
                assert!(l.row() <= r, "row {n} is out of the declared order");
            }
            last = Some(r.owned());
            n += 1;
        }
    }
    assert!(n > 0);
}
