//! Spans and log records end to end on a real directory: write, flush to Parquet, reopen and
//! read back equal; crashes (dropping the engine without closing, and stopping a flush
//! where a crash could) lose nothing acknowledged and duplicate nothing; a trace written in
//! two batches across a flush is found whole; trace lookups skip files by bloom filter;
//! rejections and truncations are counted.

use std::collections::BTreeMap;
use std::fs::File;
use std::sync::Arc;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};
use strata_engine::{
    AnyValue, Engine, EngineConfig, FlushStop, Limits, LogRecord, ManualClock, Scope, SignalReject,
    SpanEvent, SpanLink, SpanRecord, TenantId, Truncation, logs_from_batch, spans_from_batch,
};

/// 2025-11-21T13:00:00Z in ms: the partition hour the tests write into.
const T0_MS: i64 = 1_763_730_000_000;
const T0: i64 = T0_MS * 1_000_000;
const MS: i64 = 1_000_000;

fn open(dir: &std::path::Path, config: EngineConfig) -> Engine {
    // Half an hour after T0: inside the 7-day retention.
    let clock = Arc::new(ManualClock::new(T0_MS + 1_800_000));
    Engine::open_with_clock(dir, config, clock).unwrap()
}

fn acme() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn span(trace: u8, id: u8, parent: Option<u8>, service: &str, start_ms: i64) -> SpanRecord {
    SpanRecord {
        trace_id: [trace; 16],
        span_id: [id; 8],
        parent_span_id: parent.map(|p| [p; 8]),
        trace_state: "vendor=1".into(),
        flags: 1,
        service_name: service.into(),
        name: format!("op-{id}"),
        kind: 2,
        start_ns: T0 + start_ms * MS + 123,
        end_ns: T0 + start_ms * MS + 5 * MS,
        status_code: i32::from(id % 3),
        status_message: if id % 3 == 2 {
            "failed".into()
        } else {
            String::new()
        },
        attributes: vec![
            ("http.request.method".into(), AnyValue::String("GET".into())),
            ("http.route".into(), AnyValue::String("/users/{id}".into())),
            (
                "http.response.status_code".into(),
                AnyValue::Int(200 + i64::from(id)),
            ),
            ("retry".into(), AnyValue::Bool(id.is_multiple_of(2))),
            ("ratio".into(), AnyValue::Double(0.25 * f64::from(id))),
            ("blob".into(), AnyValue::Bytes(vec![0, id, 255])),
            (
                "tags".into(),
                AnyValue::Array(vec![AnyValue::String("a".into()), AnyValue::Int(-1)]),
            ),
            (
                "nested".into(),
                AnyValue::KvList(vec![("k".into(), AnyValue::Double(f64::INFINITY))]),
            ),
        ],
        resource_attributes: vec![
            ("service.name".into(), AnyValue::String(service.into())),
            ("host.name".into(), AnyValue::String("h1".into())),
        ]
        .into(),
        scope: Scope {
            name: "tracer".into(),
            version: "1.2".into(),
            attributes: vec![
                ("team".into(), AnyValue::String("core".into())),
                ("tier".into(), AnyValue::Int(1)),
            ],
        }
        .into(),
        events: vec![SpanEvent {
            time_ns: T0 + start_ms * MS + MS,
            name: "exception".into(),
            attributes: vec![("exception.type".into(), AnyValue::String("E".into()))],
            dropped_attributes_count: 1,
        }],
        links: vec![SpanLink {
            trace_id: [trace.wrapping_add(100); 16],
            span_id: [9; 8],
            trace_state: String::new(),
            attributes: vec![("link.kind".into(), AnyValue::Int(1))],
            dropped_attributes_count: 0,
        }],
        dropped_attributes_count: 0,
        dropped_events_count: 2,
        dropped_links_count: 0,
    }
}

fn log(i: u8, service: &str, trace: Option<u8>) -> LogRecord {
    LogRecord {
        time_ns: T0 + i64::from(i) * MS,
        observed_time_ns: T0 + i64::from(i) * MS + 7,
        severity_number: 9 + i32::from(i % 9),
        severity_text: "INFO".into(),
        body: Some(if i.is_multiple_of(2) {
            AnyValue::String(format!("request {i} done"))
        } else {
            AnyValue::KvList(vec![("msg".into(), AnyValue::String("structured".into()))])
        }),
        service_name: service.into(),
        trace_id: trace.map(|t| [t; 16]),
        span_id: trace.map(|_| [i.max(1); 8]),
        flags: 1,
        attributes: vec![("n".into(), AnyValue::Int(i64::from(i)))],
        resource_attributes: vec![("service.name".into(), AnyValue::String(service.into()))].into(),
        scope: Scope::default().into(),
        dropped_attributes_count: 0,
    }
}

/// Every span of the tenant, from a snapshot (files decoded, plus memory), sorted.
fn all_spans(engine: &Engine) -> Vec<SpanRecord> {
    let snap = engine.spans_snapshot(&acme(), 0, i64::MAX).unwrap();
    let mut out = Vec::new();
    for f in &snap.files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(f.path()).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for b in reader {
            out.extend(spans_from_batch(&b.unwrap()).unwrap());
        }
    }
    for b in &snap.memory {
        out.extend(spans_from_batch(b).unwrap());
    }
    out.sort_by_key(|s| (s.trace_id, s.span_id, s.start_ns));
    out
}

fn all_logs(engine: &Engine) -> Vec<LogRecord> {
    let snap = engine.logs_snapshot(&acme(), 0, i64::MAX).unwrap();
    let mut out = Vec::new();
    for f in &snap.files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(f.path()).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for b in reader {
            out.extend(logs_from_batch(&b.unwrap()).unwrap());
        }
    }
    for b in &snap.memory {
        out.extend(logs_from_batch(b).unwrap());
    }
    out.sort_by_key(|r| (r.time_ns, r.severity_number));
    out
}

fn sorted(mut spans: Vec<SpanRecord>) -> Vec<SpanRecord> {
    spans.sort_by_key(|s| (s.trace_id, s.span_id, s.start_ns));
    spans
}

#[test]
fn spans_and_logs_written_flushed_and_reopened_read_back_equal() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), EngineConfig::default());
    let spans: Vec<SpanRecord> = (1..=20u8)
        .map(|i| {
            let service = ["checkout", "api", "db"][usize::from(i % 3)];
            span(
                i % 4 + 1,
                i,
                (i > 4).then(|| i - 4),
                service,
                i64::from(i) * 10,
            )
        })
        .collect();
    let out = engine.write_spans(&acme(), &spans).unwrap();
    assert_eq!(
        (out.accepted, out.rejected_total(), out.truncated_total()),
        (20, 0, 0)
    );
    let logs: Vec<LogRecord> = (0..10u8)
        .map(|i| log(i, "api", (i % 3 == 0).then_some(1)))
        .collect();
    assert_eq!(engine.write_logs(&acme(), &logs).unwrap().accepted, 10);
    assert_eq!(all_spans(&engine), sorted(spans.clone()), "from memory");
    assert_eq!(all_logs(&engine), logs, "from memory");

    let stats = engine.flush().unwrap();
    assert_eq!((stats.spans, stats.logs), (20, 10));
    let snap = engine.spans_snapshot(&acme(), 0, i64::MAX).unwrap();
    assert_eq!((snap.files.len(), snap.memory.len()), (1, 0));
    assert!(
        snap.files[0].path().ends_with(format!(
            "traces/tenant=acme/date=2025-11-21/hour=13/spans-{}.parquet",
            stats.flushed_below_lsn
        )),
        "{}",
        snap.files[0].path().display()
    );
    // The file is sorted by (trace, start time), so a trace's spans sit together.
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(File::open(snap.files[0].path()).unwrap())
            .unwrap()
            .build()
            .unwrap();
    let in_file: Vec<SpanRecord> = reader
        .flat_map(|b| spans_from_batch(&b.unwrap()).unwrap())
        .collect();
    let keys: Vec<_> = in_file.iter().map(|s| (s.trace_id, s.start_ns)).collect();
    let mut want = keys.clone();
    want.sort();
    assert_eq!(keys, want);
    engine.close().unwrap();

    let engine = open(dir.path(), EngineConfig::default());
    assert_eq!(
        all_spans(&engine),
        sorted(spans.clone()),
        "from files after reopen"
    );
    assert_eq!(all_logs(&engine), logs);
    let trace2: Vec<SpanRecord> = {
        let mut t: Vec<_> = spans
            .iter()
            .filter(|s| s.trace_id == [2; 16])
            .cloned()
            .collect();
        t.sort_by_key(|s| s.start_ns);
        t
    };
    assert_eq!(
        engine
            .find_trace(&acme(), [2; 16], T0, T0 + 3_600 * 1_000 * MS)
            .unwrap(),
        trace2
    );
}

#[test]
fn a_crash_loses_no_acknowledged_span_or_log_and_duplicates_none() {
    for stop in [
        None,
        Some(FlushStop::BeforeCommit),
        Some(FlushStop::BeforeTruncate),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let engine = open(dir.path(), EngineConfig::default());
        let first: Vec<SpanRecord> = (1..=5u8)
            .map(|i| span(1, i, None, "api", i64::from(i)))
            .collect();
        engine.write_spans(&acme(), &first).unwrap();
        engine
            .write_logs(&acme(), &[log(1, "api", Some(1))])
            .unwrap();
        if let Some(stop) = stop {
            engine.flush_until(stop).unwrap();
        }
        let second: Vec<SpanRecord> = (6..=8u8)
            .map(|i| span(1, i, None, "db", i64::from(i)))
            .collect();
        engine.write_spans(&acme(), &second).unwrap();
        engine.write_logs(&acme(), &[log(2, "db", None)]).unwrap();
        drop(engine); // the "crash": no close, no flush

        let engine = open(dir.path(), EngineConfig::default());
        let want = sorted(first.iter().chain(&second).cloned().collect());
        assert_eq!(all_spans(&engine), want, "after a crash at {stop:?}");
        assert_eq!(
            all_logs(&engine),
            vec![log(1, "api", Some(1)), log(2, "db", None)]
        );
        // And once more through a flush and a clean reopen.
        engine.close().unwrap();
        let engine = open(dir.path(), EngineConfig::default());
        assert_eq!(
            all_spans(&engine),
            want,
            "after the crash at {stop:?} and a flush"
        );
    }
}

#[test]
fn a_trace_written_in_two_batches_across_a_flush_is_found_whole() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), EngineConfig::default());
    let root = span(7, 1, None, "gateway", 0);
    let child = span(7, 2, Some(1), "api", 3);
    let other = span(8, 3, None, "api", 1);
    engine.write_spans(&acme(), &[root.clone(), other]).unwrap();
    engine.flush().unwrap();
    engine
        .write_spans(&acme(), std::slice::from_ref(&child))
        .unwrap();
    let (found, stats) = engine
        .find_trace_with_stats(&acme(), [7; 16], T0, T0 + 60_000 * MS)
        .unwrap();
    assert_eq!(found, vec![root.clone(), child.clone()]);
    assert_eq!((stats.files, stats.row_groups_read), (1, 1));
    engine.close().unwrap();
    let engine = open(dir.path(), EngineConfig::default());
    let found = engine
        .find_trace(&acme(), [7; 16], T0, T0 + 60_000 * MS)
        .unwrap();
    assert_eq!(found, vec![root, child]);
    // A range that misses the trace finds nothing and reads no file.
    let (found, stats) = engine
        .find_trace_with_stats(&acme(), [7; 16], T0 + 7_200_000 * MS, T0 + 7_300_000 * MS)
        .unwrap();
    assert!(found.is_empty());
    assert_eq!(stats.files, 0);
}

#[test]
fn writes_of_one_resource_share_one_copy_of_its_attributes_and_scope_replayed_too() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), EngineConfig::default());
    // Three requests, each with its own copy of the resource and scope: two of one
    // content ("api" on h1), one of another ("web").
    let (a, b, c) = (
        span(9, 1, None, "api", 0),
        span(9, 2, Some(1), "api", 1),
        span(9, 3, Some(1), "web", 2),
    );
    assert!(!Arc::ptr_eq(&a.resource_attributes, &b.resource_attributes));
    for s in [&a, &b, &c] {
        engine
            .write_spans(&acme(), std::slice::from_ref(s))
            .unwrap();
    }
    let check = |found: Vec<SpanRecord>| {
        assert_eq!(found, vec![a.clone(), b.clone(), c.clone()]);
        let (x, y, z) = (&found[0], &found[1], &found[2]);
        assert!(Arc::ptr_eq(&x.resource_attributes, &y.resource_attributes));
        assert!(!Arc::ptr_eq(&x.resource_attributes, &z.resource_attributes));
        assert!(Arc::ptr_eq(&x.scope, &y.scope) && Arc::ptr_eq(&x.scope, &z.scope));
    };
    check(engine.find_trace(&acme(), [9; 16], 0, i64::MAX).unwrap());
    // A crash: the WAL's three records are replayed into one copy again.
    drop(engine);
    let engine = open(dir.path(), EngineConfig::default());
    check(engine.find_trace(&acme(), [9; 16], 0, i64::MAX).unwrap());
}

#[test]
fn a_lookup_skips_files_whose_bloom_filter_rules_the_trace_out() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), EngineConfig::default());
    // Three files in one partition: the trace is in the second only.
    for (k, trace) in [(0u8, 10u8), (1, 11), (2, 12)] {
        let batch: Vec<SpanRecord> = (0..200u8)
            .map(|i| {
                let mut s = span(
                    trace,
                    i.max(1),
                    None,
                    "api",
                    i64::from(k) * 1000 + i64::from(i),
                );
                s.trace_id[0] = i; // 200 distinct traces per file
                s
            })
            .collect();
        engine.write_spans(&acme(), &batch).unwrap();
        engine.flush().unwrap();
    }
    let mut wanted = [11u8; 16];
    wanted[0] = 42;
    let (found, stats) = engine
        .find_trace_with_stats(&acme(), wanted, T0, T0 + 3_600_000 * MS)
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].trace_id, wanted);
    assert_eq!(stats.files, 3);
    assert_eq!(stats.row_groups, 3);
    assert_eq!(stats.row_groups_read, 1, "{stats:?}");
    assert_eq!(stats.files_skipped, 2, "{stats:?}");
    // A trace in no file: every file is skipped, reading footers and bloom filters only.
    let (found, none) = engine
        .find_trace_with_stats(&acme(), [99; 16], T0, T0 + 3_600_000 * MS)
        .unwrap();
    assert!(found.is_empty());
    assert_eq!((none.files_skipped, none.row_groups_read), (3, 0));
    // What a miss may read: everything but the column chunks (footer, bloom filters).
    let (mut file_bytes, mut data_bytes) = (0, 0);
    for f in engine.spans_snapshot(&acme(), 0, i64::MAX).unwrap().files {
        file_bytes += f.samples_bytes();
        let meta = SerializedFileReader::new(File::open(f.path()).unwrap())
            .unwrap()
            .metadata()
            .clone();
        for g in meta.row_groups() {
            data_bytes += g.columns().iter().map(|c| c.byte_range().1).sum::<u64>();
        }
    }
    assert!(
        none.bytes_read <= file_bytes - data_bytes && none.bytes_read < stats.bytes_read,
        "a miss read {} bytes of {file_bytes}, of which {data_bytes} are column chunks \
         (a hit read {})",
        none.bytes_read,
        stats.bytes_read
    );
}

#[test]
fn bad_spans_are_rejected_by_reason_and_caps_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        limits: Limits {
            max_attributes: 4,
            max_attribute_value_len: 10,
            ..Limits::default()
        },
        ..EngineConfig::default()
    };
    let engine = open(dir.path(), config);
    let good = span(1, 1, None, "api", 0);
    let mut zero_trace = span(1, 2, None, "api", 0);
    zero_trace.trace_id = [0; 16];
    let mut zero_span = span(1, 3, None, "api", 0);
    zero_span.span_id = [0; 8];
    let mut backwards = span(1, 4, None, "api", 0);
    backwards.end_ns = backwards.start_ns - 1;
    let mut ancient = span(1, 5, None, "api", 0);
    ancient.start_ns = T0 - 8 * 86_400_000 * MS;
    ancient.end_ns = ancient.start_ns;
    let out = engine
        .write_spans(&acme(), &[good, zero_trace, zero_span, backwards, ancient])
        .unwrap();
    assert_eq!(out.accepted, 1);
    let want: BTreeMap<SignalReject, u64> = [
        (SignalReject::InvalidTraceId, 1),
        (SignalReject::InvalidSpanId, 1),
        (SignalReject::EndBeforeStart, 1),
        (SignalReject::OutOfRetention, 1),
    ]
    .into();
    assert_eq!(out.rejected, want);
    assert!(out.messages[&SignalReject::InvalidTraceId].contains("all-zero trace id"));
    // The accepted span had 8 attributes (4 dropped) and long values (cut).
    assert_eq!(out.truncated[&Truncation::AttributeDropped], 4);
    assert!(out.truncated[&Truncation::ValueTruncated] >= 1);
    let stored = engine.find_trace(&acme(), [1; 16], 0, i64::MAX).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].attributes.len(), 4);
    assert_eq!(stored[0].dropped_attributes_count, 4);
    assert_eq!(
        stored[0].attributes[1],
        ("http.route".into(), AnyValue::String("/users/{id".into()))
    );
    assert_eq!(engine.tenant_stats(&acme()).spans_rejected, want);
}

#[test]
fn records_and_bytes_rates_are_token_buckets_with_a_burst() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0_MS + 1_800_000));
    let config = EngineConfig {
        limits: Limits {
            signal_record_rate: 10.0,
            signal_record_burst: 20.0,
            signal_byte_rate: 1e12,
            signal_byte_burst: 1e12,
            ..Limits::default()
        },
        ..EngineConfig::default()
    };
    let engine = Engine::open_with_clock(dir.path(), config.clone(), clock.clone()).unwrap();
    let logs: Vec<LogRecord> = (0..30u8).map(|i| log(i, "api", None)).collect();
    let out = engine.write_logs(&acme(), &logs).unwrap();
    assert_eq!(out.accepted, 20, "the burst");
    assert_eq!(out.rejected[&SignalReject::RateLimited], 10);
    clock.advance(500);
    assert_eq!(
        engine.write_logs(&acme(), &logs).unwrap().accepted,
        5,
        "10/s for 0.5 s"
    );
    drop(engine);

    // Bytes: records of a bit over 600 encoded bytes against a burst of 1,000.
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        limits: Limits {
            signal_byte_rate: 100.0,
            signal_byte_burst: 1000.0,
            ..Limits::default()
        },
        ..EngineConfig::default()
    };
    let engine = Engine::open_with_clock(dir.path(), config, clock.clone()).unwrap();
    let big: Vec<LogRecord> = (0..2u8)
        .map(|i| LogRecord {
            body: Some(AnyValue::String("x".repeat(600))),
            ..log(i, "api", None)
        })
        .collect();
    let out = engine.write_logs(&acme(), &big).unwrap();
    assert_eq!(out.accepted, 1, "{out:?}");
    assert_eq!(out.rejected[&SignalReject::RateLimited], 1);
    clock.advance(1_000);
    let out = engine.write_logs(&acme(), &big[..1]).unwrap();
    assert_eq!(
        out.accepted, 0,
        "100 bytes/s for 1 s do not pay for 600: {out:?}"
    );
    clock.advance(9_000);
    assert_eq!(engine.write_logs(&acme(), &big[..1]).unwrap().accepted, 1);
}

#[test]
fn a_rate_limited_batch_that_fits_the_burst_is_refused_whole_so_a_retry_stores_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0_MS + 1_800_000));
    let config = EngineConfig {
        limits: Limits {
            signal_record_rate: 10.0,
            signal_record_burst: 20.0,
            ..Limits::default()
        },
        ..EngineConfig::default()
    };
    let engine = Engine::open_with_clock(dir.path(), config, clock.clone()).unwrap();
    let logs: Vec<LogRecord> = (0..25u8).map(|i| log(i, "api", None)).collect();
    assert_eq!(
        engine.write_logs(&acme(), &logs[..15]).unwrap().accepted,
        15
    );
    // 5 tokens left, 10 asked: nothing stored, all 10 reported.
    let out = engine.write_logs(&acme(), &logs[15..]).unwrap();
    assert_eq!(out.accepted, 0, "{out:?}");
    assert_eq!(out.rejected[&SignalReject::RateLimited], 10);
    // The client retries once the bucket refilled: stored once.
    clock.advance(500);
    assert_eq!(
        engine.write_logs(&acme(), &logs[15..]).unwrap().accepted,
        10
    );
    let snap = engine.logs_snapshot(&acme(), 0, i64::MAX).unwrap();
    let rows: usize = snap.memory.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 25, "each record exactly once");
}

/// Spans counted through `spans_snapshot`: rows in its memory batches and files.
fn snapshot_rows(engine: &Engine) -> i64 {
    let snap = engine.spans_snapshot(&acme(), 0, i64::MAX).unwrap();
    let memory: usize = snap.memory.iter().map(|b| b.num_rows()).sum();
    let files: i64 = snap
        .files
        .iter()
        .map(|f| {
            SerializedFileReader::new(File::open(f.path()).unwrap())
                .unwrap()
                .metadata()
                .file_metadata()
                .num_rows()
        })
        .sum();
    memory as i64 + files
}

#[test]
fn a_snapshot_taken_while_a_flush_publishes_sees_each_span_once() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), EngineConfig::default());
    let mut total = 0;
    for round in 1..=40u8 {
        let batch: Vec<SpanRecord> = (1..=20u8)
            .map(|i| span(round, i, None, "api", i64::from(i)))
            .collect();
        assert_eq!(engine.write_spans(&acme(), &batch).unwrap().accepted, 20);
        total += batch.len() as i64;
        std::thread::scope(|s| {
            let flush = s.spawn(|| engine.flush().unwrap());
            let mut reads = 0;
            while !flush.is_finished() || reads == 0 {
                assert_eq!(snapshot_rows(&engine), total, "round {round}");
                reads += 1;
            }
        });
    }
    assert_eq!(snapshot_rows(&engine), total);
}

/// What `strata_engine::record_memory` counts for `recs`, in order (each shared resource and
/// scope once per run of records sharing them).
fn counted<R>(recs: &[R], bytes: fn(&R, Option<&R>) -> usize) -> u64 {
    let mut prev = None;
    let mut n = 0;
    for r in recs {
        n += bytes(r, prev) as u64;
        prev = Some(r);
    }
    n
}

/// The memory unflushed spans and log records hold is what counts against the budget: a
/// write adds what its records hold (as stored: copies of the records given), a replay of
/// the WAL after a crash holds the same, and a flush gives it back.
#[test]
fn the_memory_unflushed_records_hold_is_counted_replayed_and_given_back() {
    use strata_engine::record_memory::{log_bytes, span_bytes};
    let dir = tempfile::tempdir().unwrap();
    // The records of one resource and scope share them, as a request delivers them.
    let resource = Arc::new(vec![(
        "service.name".to_owned(),
        AnyValue::String("api".into()),
    )]);
    let scope = Arc::new(Scope::default());
    let spans: Vec<SpanRecord> = (1..=12u8)
        .map(|i| SpanRecord {
            resource_attributes: resource.clone(),
            scope: scope.clone(),
            ..span(1 + i / 4, i, None, "api", i64::from(i))
        })
        .collect();
    let logs: Vec<LogRecord> = (1..=9u8)
        .map(|i| LogRecord {
            resource_attributes: resource.clone(),
            scope: scope.clone(),
            ..log(i, "api", Some(1))
        })
        .collect();
    // The engine stores copies (`write_spans` borrows): count those.
    let (want_spans, want_logs) = (
        counted(&spans.clone(), span_bytes),
        counted(&logs.clone(), log_bytes),
    );
    assert!(want_spans > 12 * std::mem::size_of::<SpanRecord>() as u64);

    let engine = open(dir.path(), EngineConfig::default());
    engine.write_spans(&acme(), &spans).unwrap();
    engine.write_logs(&acme(), &logs).unwrap();
    let stats = engine.tenant_stats(&acme());
    assert_eq!(
        (stats.spans_memory, stats.logs_memory),
        (want_spans, want_logs)
    );
    drop(engine); // a crash: nothing flushed

    let engine = open(dir.path(), EngineConfig::default());
    let stats = engine.tenant_stats(&acme());
    assert_eq!(
        (stats.spans_memory, stats.logs_memory),
        (want_spans, want_logs),
        "replayed records hold what the written ones held"
    );
    engine.flush().unwrap();
    let stats = engine.tenant_stats(&acme());
    assert_eq!((stats.spans_memory, stats.logs_memory), (0, 0));
    assert_eq!(all_spans(&engine).len(), 12);
}
