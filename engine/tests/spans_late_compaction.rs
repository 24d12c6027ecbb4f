//! Compaction of a closed spans partition that keeps receiving late spans: a big file is
//! not rewritten for every small flush; small files merge among themselves; once the
//! partition's files stop changing for two flush intervals, it is merged into one file.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use strata_engine::{
    AnyValue, Engine, EngineConfig, ManualClock, SpanRecord, TenantId, spans_from_batch,
};

/// 2025-11-21T13:00:00Z in ms.
const T0_MS: i64 = 1_763_730_000_000;
const MS: i64 = 1_000_000;
const HOUR_MS: i64 = 3_600_000;

fn span(n: u32) -> SpanRecord {
    let mut trace_id = [1u8; 16];
    trace_id[..4].copy_from_slice(&n.wrapping_mul(2_654_435_761).to_be_bytes());
    let at_ms = T0_MS + i64::from(n % 3_000_000);
    SpanRecord {
        trace_id,
        span_id: (u64::from(n) + 1).to_le_bytes(),
        service_name: "api".into(),
        name: format!("op{}", n % 5),
        start_ns: at_ms * MS,
        end_ns: at_ms * MS + 10,
        attributes: vec![("n".into(), AnyValue::Int(i64::from(n)))],
        ..SpanRecord::default()
    }
}

/// Writes spans `from..to` of the hour at T0 and flushes them into one file.
fn flush_spans(engine: &Engine, t: &TenantId, from: u32, to: u32) {
    let batch: Vec<SpanRecord> = (from..to).map(span).collect();
    assert_eq!(
        engine.write_spans(t, &batch).unwrap().accepted,
        u64::from(to - from)
    );
    engine.flush().unwrap();
}

/// The partition's files (path, rows) and every span in them, by span id.
fn files(engine: &Engine, t: &TenantId) -> (Vec<(PathBuf, usize)>, BTreeSet<[u8; 8]>) {
    let snap = engine.spans_snapshot(t, 0, i64::MAX).unwrap();
    let mut ids = BTreeSet::new();
    let mut out = Vec::new();
    for f in &snap.files {
        let r = ParquetRecordBatchReaderBuilder::try_new(File::open(f.path()).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let mut rows = 0;
        for b in r {
            for s in spans_from_batch(&b.unwrap()).unwrap() {
                assert!(ids.insert(s.span_id), "each span once");
                rows += 1;
            }
        }
        out.push((f.path(), rows));
    }
    assert!(snap.memory.is_empty());
    out.sort_by_key(|f| std::cmp::Reverse(f.1));
    (out, ids)
}

#[test]
fn a_closed_partition_is_not_rewritten_whole_for_each_late_flush() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0_MS + 3 * HOUR_MS));
    let config = EngineConfig::default();
    let settle_ms = 2 * i64::try_from(config.flush_interval.as_millis()).unwrap();
    let engine = Engine::open_with_clock(dir.path(), config, clock.clone()).unwrap();
    let t = TenantId::new("acme").unwrap();

    // Two flushes of the same size: merged into one file.
    flush_spans(&engine, &t, 0, 400);
    flush_spans(&engine, &t, 400, 800);
    let stats = engine.compact().unwrap();
    assert_eq!((stats.partitions, stats.file_sets_in), (1, 2), "{stats:?}");
    let (f, _) = files(&engine, &t);
    assert_eq!(f.len(), 1);
    let big = f[0].0.clone();
    // Nothing new: nothing to do.
    assert_eq!(engine.compact().unwrap().partitions, 0);

    // A late flush of 20 spans: the 800-span file is not rewritten for it.
    flush_spans(&engine, &t, 800, 820);
    assert_eq!(engine.compact().unwrap().partitions, 0);
    // Another of 20: the two small files merge, the big one stays as it is.
    flush_spans(&engine, &t, 820, 840);
    let stats = engine.compact().unwrap();
    assert_eq!(
        (stats.partitions, stats.file_sets_in, stats.rows_in),
        (1, 2, 40),
        "{stats:?}"
    );
    let (f, ids) = files(&engine, &t);
    assert_eq!(
        f.iter().map(|f| f.1).collect::<Vec<_>>(),
        [800, 40],
        "{f:?}"
    );
    assert_eq!(f[0].0, big, "the big file was not rewritten");
    assert_eq!(ids.len(), 840);

    // Small files adding up to the big one are merged with it.
    flush_spans(&engine, &t, 840, 1_600);
    let stats = engine.compact().unwrap();
    assert_eq!((stats.file_sets_in, stats.rows_in), (3, 1_600), "{stats:?}");
    flush_spans(&engine, &t, 1_600, 1_610);
    assert_eq!(engine.compact().unwrap().partitions, 0);
    flush_spans(&engine, &t, 1_610, 1_620);
    assert_eq!(engine.compact().unwrap().file_sets_in, 2);
    let (f, _) = files(&engine, &t);
    assert_eq!(f.iter().map(|f| f.1).collect::<Vec<_>>(), [1_600, 20]);
    // The pass that first sees this file set starts its settling clock.
    assert_eq!(engine.compact().unwrap().partitions, 0);

    // Unchanged for less than two flush intervals: left as it is; then merged whole
    // (the newest flush is in the small merged file: the output gets a name of its own).
    clock.set(T0_MS + 3 * HOUR_MS + settle_ms - 1);
    assert_eq!(engine.compact().unwrap().partitions, 0);
    clock.set(T0_MS + 3 * HOUR_MS + settle_ms);
    let stats = engine.compact().unwrap();
    assert_eq!((stats.file_sets_in, stats.rows_in), (2, 1_620), "{stats:?}");
    let want: BTreeSet<[u8; 8]> = (0..1_620).map(|n| span(n).span_id).collect();
    let (f, ids) = files(&engine, &t);
    assert_eq!(f.iter().map(|f| f.1).collect::<Vec<_>>(), [1_620]);
    assert_eq!(ids, want);
    engine.close().unwrap();
    let engine = Engine::open_with_clock(dir.path(), EngineConfig::default(), clock).unwrap();
    let (f, ids) = files(&engine, &t);
    assert_eq!((f.len(), ids), (1, want));
    engine.close().unwrap();
}
