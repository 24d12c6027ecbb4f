//! Checkpoints (`Engine::checkpoint`) of a running engine: taken while threads write
//! samples, spans and logs and while flushes, compaction and retention run, each opens as
//! a data directory holding every write acknowledged before the call; the copy carries
//! the WAL's numbering on, so its own flushes never undo what it holds.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use strata_engine::{
    AnyValue, Engine, EngineConfig, Error, Limits, LogRecord, ManualClock, MatchOp, Matcher,
    Sample, SeriesSamples, SpanRecord, TenantId, logs_from_batch, spans_from_batch,
};

/// 2025-11-21T13:00:00Z (ms): the hour every test writes into.
const T0_MS: i64 = 1_763_730_000_000;
const MS: i64 = 1_000_000;
const DAY: Duration = Duration::from_secs(86_400);

fn config() -> EngineConfig {
    EngineConfig {
        limits: Limits {
            metrics_retention: 30 * DAY,
            ingest_rate: 1e9,
            ingest_burst: 1e9,
            signal_record_rate: 1e9,
            signal_record_burst: 1e9,
            signal_byte_rate: 1e12,
            signal_byte_burst: 1e12,
            ..Limits::default()
        },
        ..EngineConfig::default()
    }
}

/// Three hours after `T0_MS`: its hour is closed, so compaction merges it.
fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(T0_MS + 3 * 3_600_000))
}

fn open(dir: &Path, config: EngineConfig) -> Engine {
    Engine::open_with_clock(dir, config, clock()).unwrap()
}

fn acme() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn sample(writer: &str, seq: u64) -> SeriesSamples {
    SeriesSamples {
        labels: vec![
            ("__name__".into(), "load".into()),
            ("writer".into(), writer.into()),
        ],
        samples: vec![Sample {
            ts: T0_MS + seq as i64,
            value: seq as f64,
        }],
    }
}

fn span(seq: u64) -> SpanRecord {
    let mut trace_id = [7; 16];
    trace_id[..8].copy_from_slice(&seq.to_be_bytes());
    SpanRecord {
        trace_id,
        span_id: [1; 8],
        service_name: "api".into(),
        name: "GET".into(),
        start_ns: (T0_MS + seq as i64) * MS,
        end_ns: (T0_MS + seq as i64) * MS + 5,
        attributes: vec![("seq".into(), AnyValue::Int(seq as i64))],
        ..SpanRecord::default()
    }
}

fn log(seq: u64) -> LogRecord {
    LogRecord {
        time_ns: (T0_MS + seq as i64) * MS,
        service_name: "api".into(),
        body: Some(AnyValue::String(format!("line {seq}"))),
        attributes: vec![("seq".into(), AnyValue::Int(seq as i64))],
        ..LogRecord::default()
    }
}

/// The `writer` label's samples in `engine`, as sequence numbers.
fn samples_of(engine: &Engine, writer: &str) -> BTreeSet<u64> {
    let m = Matcher::new("writer", MatchOp::Equal, writer).unwrap();
    let mut out = BTreeSet::new();
    for s in engine.select(&acme(), &[m], i64::MIN, i64::MAX).unwrap() {
        for x in s.samples {
            let seq = (x.ts - T0_MS) as u64;
            assert_eq!(x.value, seq as f64, "a sample came back with another value");
            assert!(out.insert(seq), "sample {seq} twice");
        }
    }
    out
}

/// The `seq` attribute of every span (`logs` false) or log record in `engine`.
fn records_of(engine: &Engine, logs: bool) -> BTreeSet<u64> {
    let snap = if logs {
        engine.logs_snapshot(&acme(), 0, i64::MAX)
    } else {
        engine.spans_snapshot(&acme(), 0, i64::MAX)
    }
    .unwrap();
    let mut batches = snap.memory.clone();
    for f in &snap.files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(f.path()).unwrap())
            .unwrap()
            .build()
            .unwrap();
        batches.extend(reader.map(Result::unwrap));
    }
    let mut out = BTreeSet::new();
    for b in &batches {
        let attrs: Vec<_> = if logs {
            logs_from_batch(b)
                .unwrap()
                .into_iter()
                .map(|r| r.attributes)
                .collect()
        } else {
            spans_from_batch(b)
                .unwrap()
                .into_iter()
                .map(|r| r.attributes)
                .collect()
        };
        for a in attrs {
            let Some((_, AnyValue::Int(seq))) = a.iter().find(|(k, _)| k == "seq") else {
                panic!("a record without its seq");
            };
            assert!(out.insert(*seq as u64), "record {seq} twice");
        }
    }
    out
}

/// Writes until `stop`, noting each acknowledged sequence number with when its write
/// returned.
fn writer(
    engine: &Arc<Engine>,
    stop: &Arc<AtomicBool>,
    acked: &Arc<Mutex<Vec<(u64, Instant)>>>,
    write: impl Fn(&Engine, u64) -> strata_engine::Result<bool> + Send + 'static,
) -> std::thread::JoinHandle<()> {
    let (engine, stop, acked) = (engine.clone(), stop.clone(), acked.clone());
    std::thread::spawn(move || {
        let mut seq = 0u64;
        while !stop.load(Ordering::Relaxed) {
            match write(&engine, seq) {
                Ok(true) => acked.lock().unwrap().push((seq, Instant::now())),
                Ok(false) => panic!("write {seq} not accepted"),
                Err(Error::OverCapacity { .. }) => {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                Err(e) => panic!("write {seq}: {e}"),
            }
            seq += 1;
        }
    })
}

#[test]
fn a_checkpoint_under_writes_flushes_and_compaction_holds_every_write_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        flush_head_samples: 300,
        flush_interval: Duration::from_millis(50),
        // Compaction comes from the thread below (the background pass would take its
        // work); flushes from the background.
        maintenance_interval: Duration::from_secs(3_600),
        ..config()
    };
    let engine = Arc::new(open(&dir.path().join("data"), config.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let logs = [
        Arc::new(Mutex::new(Vec::new())),
        Arc::new(Mutex::new(Vec::new())),
        Arc::new(Mutex::new(Vec::new())),
        Arc::new(Mutex::new(Vec::new())),
    ];
    let mut threads = Vec::new();
    for (i, acked) in logs[..2].iter().enumerate() {
        let name = format!("w{i}");
        threads.push(writer(&engine, &stop, acked, move |e, seq| {
            Ok(e.write(&acme(), &[sample(&name, seq)])?.accepted == 1)
        }));
    }
    threads.push(writer(&engine, &stop, &logs[2], |e, seq| {
        Ok(e.write_spans(&acme(), &[span(seq)])?.accepted == 1)
    }));
    threads.push(writer(&engine, &stop, &logs[3], |e, seq| {
        Ok(e.write_logs(&acme(), &[log(seq)])?.accepted == 1)
    }));
    // Compaction of the (closed) hour being written, beside the background passes.
    let compactor = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut passes = 0;
            while !stop.load(Ordering::Relaxed) {
                passes += engine.compact().unwrap().partitions;
                std::thread::sleep(Duration::from_millis(3));
            }
            passes
        })
    };
    // Each writer has some writes acknowledged before the checkpoint (a fixed wait was not
    // enough for one writer on a loaded machine).
    let deadline = Instant::now() + Duration::from_secs(30);
    while logs.iter().any(|l| l.lock().unwrap().len() <= 10) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let copy = dir.path().join("copy");
    let began = Instant::now();
    let stats = engine.checkpoint(&copy).unwrap();
    let ended = Instant::now();
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let compactions = compactor.join().unwrap();
    assert!(
        stats.files_linked > 0 && stats.files_copied == 0,
        "{stats:?}"
    );
    assert!(compactions > 0, "compaction ran meanwhile");

    let copy = open(&copy, config);
    let found = [
        samples_of(&copy, "w0"),
        samples_of(&copy, "w1"),
        records_of(&copy, false),
        records_of(&copy, true),
    ];
    for (what, (acked, found)) in ["w0", "w1", "spans", "logs"]
        .iter()
        .zip(logs.iter().zip(&found))
    {
        let acked = acked.lock().unwrap();
        let before: Vec<u64> = acked
            .iter()
            .filter(|(_, at)| *at < began)
            .map(|(s, _)| *s)
            .collect();
        assert!(
            before.len() > 10,
            "{what}: only {} writes before",
            before.len()
        );
        let missing: Vec<_> = before.iter().filter(|s| !found.contains(s)).collect();
        assert!(
            missing.is_empty(),
            "{what}: acknowledged before the checkpoint, missing: {missing:?}"
        );
        let attempted: BTreeSet<u64> = (0..=acked.last().map_or(0, |a| a.0)).collect();
        assert!(
            found.is_subset(&attempted),
            "{what}: a record never written"
        );
        let during = acked
            .iter()
            .filter(|(s, at)| *at >= began && *at < ended && found.contains(s))
            .count();
        eprintln!(
            "{what}: {} acknowledged before the call, all in the copy; {during} acknowledged during it are too ({} WAL records copied)",
            before.len(),
            stats.wal_records
        );
    }
}

#[test]
fn checkpoints_taken_while_compaction_and_retention_delete_files_open_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    // A tenant whose every partition retention drops at once.
    config.tenant_limits.insert(
        "gone".into(),
        Limits {
            disk_budget: Some(1),
            ..config.limits.clone()
        },
    );
    let engine = Arc::new(open(&dir.path().join("data"), config.clone()));
    let gone = TenantId::new("gone").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let maintenance = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut merged, mut dropped) = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                merged += engine.compact().unwrap().partitions;
                dropped += engine.apply_retention().unwrap().over_budget;
            }
            (merged, dropped)
        })
    };
    for round in 0..12u64 {
        engine.write(&acme(), &[sample("w", round)]).unwrap();
        engine.write(&gone, &[sample("w", round)]).unwrap();
        // A set per round in the closed hour: compaction has something to merge each time.
        engine.flush().unwrap();
        let dest = dir.path().join(format!("copy-{round}"));
        engine.checkpoint(&dest).unwrap();
        let copy = open(&dest, config.clone());
        assert_eq!(
            samples_of(&copy, "w"),
            (0..=round).collect::<BTreeSet<_>>(),
            "round {round}"
        );
        copy.close().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let (merged, dropped) = maintenance.join().unwrap();
    assert!(
        merged > 0 && dropped > 0,
        "merged {merged}, dropped {dropped}"
    );
}

#[test]
fn a_copy_carries_the_wal_numbering_on_so_its_own_flushes_keep_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir.path().join("data"), config());
    for seq in 0..50 {
        engine.write(&acme(), &[sample("w", seq)]).unwrap();
    }
    engine.write_spans(&acme(), &[span(1), span(2)]).unwrap();
    engine.write_logs(&acme(), &[log(1)]).unwrap();
    let copy_dir = dir.path().join("copy");
    std::fs::create_dir(&copy_dir).unwrap();
    std::fs::write(copy_dir.join("x"), b"x").unwrap();
    let e = engine.checkpoint(&copy_dir).unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e}");
    std::fs::remove_file(copy_dir.join("x")).unwrap();
    let stats = engine.checkpoint(&copy_dir).unwrap();
    assert_eq!(stats.flush.samples, 50);
    assert!(stats.flushed_below_lsn > 1);
    for ext in ["tid", "sum"] {
        let found = walk(&copy_dir).iter().any(|p| p.ends_with(ext));
        assert!(found, "the derived .{ext} file is in the copy");
    }

    // The copy takes writes and flushes of its own, and keeps what it was given.
    let copy = open(&copy_dir, config());
    copy.write(&acme(), &[sample("w", 50)]).unwrap();
    copy.flush().unwrap();
    copy.close().unwrap();
    let copy = open(&copy_dir, config());
    assert_eq!(samples_of(&copy, "w"), (0..=50).collect::<BTreeSet<_>>());
    assert_eq!(records_of(&copy, false), [1, 2].into());
    assert_eq!(records_of(&copy, true), [1].into());
    let trace = span(2).trace_id;
    let found = copy.find_trace(&acme(), trace, 0, i64::MAX).unwrap();
    assert_eq!(found.len(), 1);

    // Without the head: only what is committed.
    engine.write(&acme(), &[sample("w", 51)]).unwrap();
    let committed = dir.path().join("committed");
    let stats = engine.checkpoint_committed(&committed).unwrap();
    assert_eq!(stats.flush.samples, 0);
    let copy = open(&committed, config());
    assert_eq!(samples_of(&copy, "w"), (0..50).collect::<BTreeSet<_>>());
}

/// Every file below `dir`, as strings.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    out
}
