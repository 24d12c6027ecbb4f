//! The cold layout of logs: a logs partition whose end is `cold_after` ago is written again
//! by compaction as one `-cold` file (zstd 12, pages and row groups as before), smaller,
//! with the same records, and left alone afterwards; spans keep their layout.

use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use strata_engine::{
    AnyValue, Engine, EngineConfig, Limits, LogRecord, ManualClock, TenantId, logs_from_batch,
};

/// 2025-11-21T13:00:00Z in ms.
const T0_MS: i64 = 1_763_730_000_000;
const HOUR_MS: i64 = 3_600_000;

fn config(cold_after: Duration) -> EngineConfig {
    EngineConfig {
        limits: Limits {
            signal_record_rate: 1e9,
            signal_record_burst: 1e9,
            signal_byte_rate: 1e12,
            signal_byte_burst: 1e12,
            cold_after,
            ..Limits::default()
        },
        ..EngineConfig::default()
    }
}

/// 40,000 log lines of hour 13, logfmt-like bodies that repeat in part.
fn logs(from: u32, to: u32) -> Vec<LogRecord> {
    (from..to)
        .map(|i| LogRecord {
            time_ns: (T0_MS + i64::from(i) * 90) * 1_000_000,
            body: Some(AnyValue::String(format!(
                "level=info method=GET path=/api/v{}/items/{} status={} duration={}ms user=u{}",
                i % 3,
                i % 977,
                [200, 200, 404, 500][(i % 4) as usize],
                (i * 7919) % 1000,
                i % 53
            ))),
            service_name: format!("svc{}", i % 5),
            ..LogRecord::default()
        })
        .collect()
}

/// The tenant's log records read from its files, and the files' names.
fn read(engine: &Engine, t: &TenantId) -> (Vec<LogRecord>, Vec<String>) {
    let snap = engine.logs_snapshot(t, 0, i64::MAX).unwrap();
    let (mut out, mut names) = (Vec::new(), Vec::new());
    for f in &snap.files {
        names.push(f.path().file_name().unwrap().to_string_lossy().into_owned());
        let r = ParquetRecordBatchReaderBuilder::try_new(File::open(f.path()).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for b in r {
            out.extend(logs_from_batch(&b.unwrap()).unwrap());
        }
    }
    out.sort_by_key(|r| r.time_ns);
    (out, names)
}

/// Writes the logs in two flushes into hour 13 of an engine with `cold_after`, compacts it
/// at `now`, and returns what it holds and the bytes of the partition's files.
fn run(cold_after: Duration) -> (Vec<LogRecord>, Vec<String>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let t = TenantId::new("acme").unwrap();
    let clock = Arc::new(ManualClock::new(T0_MS + 2 * HOUR_MS));
    let engine = Engine::open_with_clock(dir.path(), config(cold_after), clock.clone()).unwrap();
    for (a, b) in [(0, 20_000), (20_000, 40_000)] {
        engine.write_logs(&t, &logs(a, b)).unwrap();
        engine.flush().unwrap();
    }
    // A day and an hour later: closed, settled, and (with a 24 h cold_after) cold.
    clock.set(T0_MS + 26 * HOUR_MS);
    for _ in 0..3 {
        engine.compact().unwrap();
    }
    let (records, names) = read(&engine, &t);
    let bytes = engine.telemetry().disk[&(t.clone(), "logs")].bytes;
    // Nothing left to do: a cold partition is not written again.
    assert_eq!(engine.compact().unwrap().partitions, 0);
    (records, names, bytes)
}

#[test]
fn an_old_logs_partition_turns_cold_smaller_with_the_same_records() {
    let century = Duration::from_secs(100 * 365 * 86_400);
    let (young, young_names, young_bytes) = run(century);
    let (cold, cold_names, cold_bytes) = run(Duration::from_secs(86_400));
    assert_eq!(young.len(), 40_000);
    assert_eq!(cold, young, "the same records");
    assert!(
        young_names.len() == 1 && young_names[0].ends_with("-c.parquet"),
        "{young_names:?}"
    );
    assert!(
        cold_names.len() == 1 && cold_names[0].ends_with("-cold.parquet"),
        "{cold_names:?}"
    );
    assert!(
        cold_bytes < young_bytes,
        "cold {cold_bytes} B against young {young_bytes} B"
    );
}
