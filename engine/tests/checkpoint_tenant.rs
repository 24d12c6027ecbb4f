//! One tenant's checkpoint (`Engine::checkpoint_with`, `CheckpointOptions::tenant`): taken
//! while two tenants write samples, spans and log records, it opens holding every write
//! of its tenant acknowledged before the call (from its files and from the WAL records it
//! copied) and nothing of the other tenant: no partition directory, no sample, span or log
//! record, no metric metadata.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use strata_engine::{
    CheckpointOptions, Engine, EngineConfig, LogRecord, MatchOp, Matcher, Sample, SeriesSamples,
    SpanRecord, TenantId,
};

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

/// Sample `seq` of the series `load`, at a millisecond of its own after `base`.
fn sample(base: i64, seq: u64) -> SeriesSamples {
    SeriesSamples {
        labels: vec![("__name__".into(), "load".into())],
        samples: vec![Sample {
            ts: base + seq as i64,
            value: seq as f64,
        }],
    }
}

/// Now in ms (spans and logs are checked for age against the system clock).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn record(seq: u64) -> (SpanRecord, LogRecord) {
    let t = (now_ms() - 60_000) * 1_000_000 + seq as i64;
    let mut trace_id = [9; 16];
    trace_id[..8].copy_from_slice(&seq.to_be_bytes());
    let span = SpanRecord {
        trace_id,
        span_id: [1; 8],
        service_name: "api".into(),
        name: "GET".into(),
        start_ns: t,
        end_ns: t + 5,
        ..SpanRecord::default()
    };
    let log = LogRecord {
        time_ns: t,
        service_name: "api".into(),
        ..LogRecord::default()
    };
    (span, log)
}

fn samples_of(engine: &Engine, t: &TenantId) -> Vec<u64> {
    let m = Matcher::new("__name__", MatchOp::Equal, "load").unwrap();
    let mut out: Vec<u64> = engine
        .select(t, &[m], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .flat_map(|s| s.samples)
        .map(|s| s.value as u64)
        .collect();
    out.sort_unstable();
    out
}

fn record_counts(engine: &Engine, t: &TenantId) -> (usize, usize) {
    let count = |snap: strata_engine::Result<strata_engine::SignalSnapshot>| {
        let snap = snap.unwrap();
        let files: usize = snap
            .files
            .iter()
            .map(|f| {
                let file = std::fs::File::open(f.path()).unwrap();
                let b =
                    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file);
                b.unwrap().metadata().file_metadata().num_rows() as usize
            })
            .sum();
        snap.memory.iter().map(|b| b.num_rows()).sum::<usize>() + files
    };
    (
        count(engine.spans_snapshot(t, 0, i64::MAX)),
        count(engine.logs_snapshot(t, 0, i64::MAX)),
    )
}

/// Every path below `dir`.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.to_string_lossy().into_owned());
        if p.is_dir() {
            out.extend(walk(&p));
        }
    }
    out
}

#[test]
fn a_tenant_checkpoint_holds_that_tenant_whole_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        flush_interval: Duration::from_millis(40),
        ..EngineConfig::default()
    };
    let engine = Arc::new(Engine::open(dir.path().join("data"), config.clone()).unwrap());
    let (acme, beta) = (tenant("acme"), tenant("beta"));
    let stop = Arc::new(AtomicBool::new(false));
    // Sequence numbers below `acked` were acknowledged for acme (samples, spans, logs).
    let acked = Arc::new(AtomicU64::new(0));
    let base = now_ms() - 600_000;
    let writers: Vec<_> = [acme.clone(), beta.clone()]
        .into_iter()
        .map(|t| {
            let (engine, stop, acked) = (engine.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut seq = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (span, log) = record(seq);
                    engine.write(&t, &[sample(base, seq)]).unwrap();
                    engine.write_spans(&t, &[span]).unwrap();
                    engine.write_logs(&t, &[log]).unwrap();
                    if t.as_str() == "acme" {
                        acked.store(seq + 1, Ordering::Release);
                    }
                    seq += 1;
                }
            })
        })
        .collect();
    while acked.load(Ordering::Acquire) < 50 {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Until one checkpoint also copied WAL records (writes acknowledged after its flush),
    // each checked the same way.
    let mut with_wal = 0;
    for i in 0..20 {
        let before = acked.load(Ordering::Acquire);
        let dest = dir.path().join(format!("copy{i}"));
        let options = CheckpointOptions {
            skip_head: false,
            tenant: Some(acme.clone()),
        };
        let stats = engine.checkpoint_with(&dest, &options).unwrap();
        let paths = walk(&dest);
        assert!(
            paths.iter().all(|p| !p.contains("tenant=beta")),
            "{paths:?}"
        );
        let copy = Engine::open(&dest, config.clone()).unwrap();
        let got = samples_of(&copy, &acme);
        assert!(
            (0..before).all(|s| got.binary_search(&s).is_ok()),
            "checkpoint {i}: an acknowledged sample of acme is missing ({} of {before})",
            got.len()
        );
        let (spans, logs) = record_counts(&copy, &acme);
        assert!(
            spans as u64 >= before && logs as u64 >= before,
            "{spans} {logs} {before}"
        );
        assert!(samples_of(&copy, &beta).is_empty());
        assert_eq!(record_counts(&copy, &beta), (0, 0));
        // The copy goes on by itself: its own flush keeps what it holds.
        copy.write(&acme, &[sample(base, 1_000_000)]).unwrap();
        copy.flush().unwrap();
        copy.close().unwrap();
        let copy = Engine::open(&dest, config.clone()).unwrap();
        assert_eq!(samples_of(&copy, &acme).len(), got.len() + 1);
        copy.close().unwrap();
        if stats.wal_records > 0 {
            with_wal += 1;
            if with_wal == 2 {
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(with_wal > 0, "no checkpoint copied WAL records");
}
