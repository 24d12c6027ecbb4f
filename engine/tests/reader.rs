//! A query process's engine over a bucket (`EngineConfig::reader`), on the in-memory
//! store (the server's tests run it on an S3 server): it answers what the writer's own
//! engine answers, follows flushes, compaction and retention by refreshing, keeps its
//! cache of data files within its bound, looks traces up by ranged reads of files it has
//! not cached, and takes no writes.

use std::sync::Arc;
use std::time::Duration;

use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt};
use strata_engine::{
    AnyValue, Engine, EngineConfig, Error, Limits, LogRecord, ManualClock, MatchOp, Matcher,
    ReaderConfig, RemoteConfig, Sample, SeriesSamples, SpanRecord, SpanSearch, TenantId,
};

const HOUR: i64 = 3_600_000;
/// 2025-11-21T00:00:00Z
const DAY: i64 = 1_763_683_200_000;
const NS: i64 = 1_000_000;

fn limits() -> Limits {
    Limits {
        ingest_rate: 1e9,
        ingest_burst: 1e9,
        metrics_retention: Duration::from_secs(30 * 86_400),
        logs_retention: Duration::from_secs(30 * 86_400),
        traces_retention: Duration::from_secs(30 * 86_400),
        ..Limits::default()
    }
}

fn writer(store: Arc<dyn ObjectStore>) -> EngineConfig {
    let mut remote = RemoteConfig::new(store, "strata/r");
    remote.delete_grace = Duration::ZERO;
    remote.interval = Duration::from_secs(3600);
    EngineConfig {
        limits: limits(),
        remote: Some(remote),
        ..EngineConfig::default()
    }
}

fn reader(store: Arc<dyn ObjectStore>, cache_bytes: u64) -> EngineConfig {
    let mut r = ReaderConfig::new(store, "strata/r");
    r.cache_bytes = cache_bytes;
    // Refreshes run when the test asks.
    r.refresh = Duration::from_secs(3600);
    EngineConfig {
        limits: limits(),
        reader: Some(r),
        ..EngineConfig::default()
    }
}

/// A bucket, a writer over it (tenant `acme`, clock at 03:00), and a directory for a reader.
struct Setup {
    store: Arc<dyn ObjectStore>,
    wdir: tempfile::TempDir,
    rdir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    t: TenantId,
    w: Engine,
}

fn setup() -> Setup {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let (wdir, rdir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let clock = Arc::new(ManualClock::new(DAY + 3 * HOUR));
    let t = TenantId::new("acme").expect("tenant");
    let w =
        Engine::open_with_clock(wdir.path(), writer(store.clone()), clock.clone()).expect("writer");
    Setup {
        store,
        wdir,
        rdir,
        clock,
        t,
        w,
    }
}

fn series(job: &str, hour: i64, round: i64) -> SeriesSamples {
    SeriesSamples {
        labels: vec![("__name__".into(), "up".into()), ("job".into(), job.into())],
        samples: (0..30)
            .map(|m| Sample {
                ts: DAY + hour * HOUR + round * 1_800_000 + m * 1000,
                value: (hour * 100 + m) as f64,
            })
            .collect(),
    }
}

fn spans(hour: i64, round: u8) -> Vec<SpanRecord> {
    (0..20u8)
        .map(|i| SpanRecord {
            trace_id: [
                i % 5 + 10 * round,
                hour as u8,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                1,
            ],
            span_id: [i, round, hour as u8, 0, 0, 0, 0, 1],
            service_name: ["api", "db"][usize::from(i % 2)].into(),
            name: format!("op{}", i % 3),
            start_ns: (DAY + hour * HOUR + i64::from(round) * 1_800_000 + i64::from(i) * 1000) * NS,
            end_ns: (DAY + hour * HOUR + i64::from(round) * 1_800_000 + i64::from(i) * 1000 + 7)
                * NS,
            attributes: vec![("i".into(), AnyValue::Int(i64::from(i)))],
            ..SpanRecord::default()
        })
        .collect()
}

fn logs(hour: i64, round: i64) -> Vec<LogRecord> {
    (0..50)
        .map(|i| LogRecord {
            time_ns: (DAY + hour * HOUR + round * 1_800_000 + i * 1000) * NS,
            service_name: "api".into(),
            body: Some(AnyValue::String(format!("line {round} {i}"))),
            ..LogRecord::default()
        })
        .collect()
}

/// Everything both engines answer, as text to compare: metrics by matcher, label names,
/// traces by id, trace search, and the rows of the logs and spans snapshots.
fn answers(e: &Engine, t: &TenantId) -> Vec<String> {
    let (lo, hi) = (DAY, DAY + 48 * HOUR);
    let mut out = Vec::new();
    for job in ["a", "b"] {
        let m = Matcher::new("job", MatchOp::Equal, job).expect("matcher");
        let found = e.select(t, &[m], lo, hi).expect("select");
        out.push(format!("{job}: {found:?}"));
    }
    out.push(format!("{:?}", e.label_names(t, lo, hi).expect("labels")));
    for round in 0..3u8 {
        for hour in 0..3u8 {
            let id = [
                10 * round + 3,
                hour,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                1,
            ];
            let trace = e.find_trace(t, id, lo * NS, hi * NS).expect("trace");
            out.push(format!("{round}/{hour}: {trace:?}"));
        }
    }
    let search = SpanSearch {
        service: "db".into(),
        operation: Some("op1".into()),
        ..SpanSearch::default()
    };
    out.push(format!(
        "{:?}",
        e.search_traces(t, &search, lo * NS, hi * NS, 20, 2)
            .expect("search")
    ));
    for snap in [
        e.logs_snapshot(t, lo * NS, hi * NS).expect("logs"),
        e.spans_snapshot(t, lo * NS, hi * NS).expect("spans"),
    ] {
        let rows: u64 = snap.files.iter().map(|f| f.rows()).sum();
        let memory: usize = snap.memory.iter().map(|b| b.num_rows()).sum();
        out.push(format!("rows {}", rows + memory as u64));
    }
    out
}

fn write_round(w: &Engine, t: &TenantId, round: i64) {
    for hour in 0..2 {
        w.write(t, &[series("a", hour, round), series("b", hour, round)])
            .expect("write");
        w.write_spans(t, &spans(hour, round as u8)).expect("spans");
        w.write_logs(t, &logs(hour, round)).expect("logs");
    }
    w.flush().expect("flush");
    w.sync_remote().expect("sync");
}

#[test]
fn a_reader_answers_as_the_writer_and_follows_it() {
    let Setup {
        store,
        wdir: _wdir,
        rdir,
        clock,
        t,
        w,
    } = setup();
    write_round(&w, &t, 0);

    let r = Engine::open_with_clock(rdir.path(), reader(store.clone(), 1 << 30), clock.clone())
        .expect("reader");
    assert!(r.is_reader());
    let stats = r.reader_stats().expect("a reader");
    // Two hours of each of three signals, found through the writer's catalog.
    assert_eq!(stats.partitions, 6, "{stats:?}");
    assert_eq!((stats.listings, stats.catalog_reads), (0, 1), "{stats:?}");
    let first = answers(&w, &t);
    assert_eq!(answers(&r, &t), first);
    assert!(!first[0].ends_with(": []"), "{first:?}");
    assert!(!r.refresh().expect("refresh"), "nothing changed");
    let stats = r.reader_stats().expect("a reader");
    assert_eq!(
        (stats.listings, stats.catalog_reads, stats.manifests_read),
        (0, 2, 6)
    );

    // A second flush: the reader sees it after a refresh.
    write_round(&w, &t, 1);
    assert!(r.refresh().expect("refresh"));
    let second = answers(&w, &t);
    assert_ne!(second, first);
    assert_eq!(answers(&r, &t), second);

    // Compaction replaces each partition's sets; the reader's answers stay the same.
    clock.set(DAY + 30 * HOUR);
    assert!(w.compact_all().expect("compact").partitions > 0);
    w.sync_remote().expect("sync");
    assert!(r.refresh().expect("refresh"));
    assert_eq!(answers(&r, &t), second);
    assert_eq!(answers(&w, &t), second);

    // Retention drops the first hour; the reader follows and its cached files go.
    clock.set(DAY + HOUR + 30 * 86_400_000);
    assert_eq!(w.apply_retention().expect("retention").expired, 3);
    w.sync_remote().expect("sync");
    assert!(r.refresh().expect("refresh"));
    let third = answers(&w, &t);
    assert_ne!(third, second);
    assert_eq!(answers(&r, &t), third);
    assert_eq!(r.reader_stats().expect("reader").partitions, 3);
    let cached_hour0 = walk(rdir.path())
        .into_iter()
        .filter(|p| p.contains("hour=00") && p.ends_with(".parquet"))
        .collect::<Vec<_>>();
    assert!(cached_hour0.is_empty(), "{cached_hour0:?}");

    // No writes, no maintenance.
    let refused = r.write(&t, &[series("a", 1, 5)]);
    assert!(matches!(refused, Err(Error::ReadOnly)), "{refused:?}");
    assert!(matches!(
        r.write_logs(&t, &logs(1, 5)),
        Err(Error::ReadOnly)
    ));
    assert!(matches!(r.compact(), Err(Error::ReadOnly)));
    r.close().expect("close");
    w.close().expect("close");
}

/// Every file below `root`, as paths relative to it.
fn walk(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p.strip_prefix(root).expect("below").display().to_string());
            }
        }
    }
    out
}

#[test]
fn the_cache_stays_within_its_bound_and_fetches_again() {
    let Setup {
        store,
        wdir: _wdir,
        rdir,
        clock,
        t,
        w,
    } = setup();
    write_round(&w, &t, 0);
    // Room for about one data file.
    let r = Engine::open_with_clock(rdir.path(), reader(store.clone(), 4096), clock.clone())
        .expect("reader");
    let expected = answers(&w, &t);
    for _ in 0..2 {
        assert_eq!(answers(&r, &t), expected);
    }
    let stats = r.reader_stats().expect("reader");
    assert!(stats.evicted > 0, "{stats:?}");
    assert!(
        stats.cache_misses > 6,
        "fetched again after eviction: {stats:?}"
    );
    // Files queries held past the bound go at the next refresh once let go.
    assert!(!r.refresh().expect("refresh"));
    let stats = r.reader_stats().expect("reader");
    assert!(stats.cached_bytes <= 4096, "{stats:?}");
    let data: u64 = walk(rdir.path())
        .iter()
        .filter(|p| {
            let name = p.rsplit('/').next().unwrap_or("");
            name.ends_with(".parquet")
                && ["samples-", "spans-", "logs-"]
                    .iter()
                    .any(|s| name.starts_with(s))
        })
        .map(|p| std::fs::metadata(rdir.path().join(p)).expect("meta").len())
        .sum();
    assert_eq!(data, stats.cached_bytes, "the count matches the disk");
}

#[test]
fn a_reader_needs_a_directory_of_its_own() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let wdir = tempfile::tempdir().expect("dir");
    let clock = Arc::new(ManualClock::new(DAY + 3 * HOUR));
    let t = TenantId::new("acme").expect("tenant");
    let w =
        Engine::open_with_clock(wdir.path(), writer(store.clone()), clock.clone()).expect("writer");
    write_round(&w, &t, 0);
    w.close().expect("close");
    let err = Engine::open_with_clock(wdir.path(), reader(store, 1 << 30), clock)
        .expect_err("a writer's directory");
    assert!(
        err.to_string()
            .contains("query process needs a directory of its own"),
        "{err}"
    );
    // The writer's data is untouched.
    assert!(walk(wdir.path()).iter().any(|p| p.ends_with(".parquet")));
}

#[test]
fn a_restarted_reader_keeps_its_cache() {
    let Setup {
        store,
        wdir: _wdir,
        rdir,
        clock,
        t,
        w,
    } = setup();
    write_round(&w, &t, 0);
    let expected = answers(&w, &t);
    let r = Engine::open_with_clock(rdir.path(), reader(store.clone(), 1 << 30), clock.clone())
        .expect("reader");
    assert_eq!(answers(&r, &t), expected);
    let first = r.reader_stats().expect("reader");
    assert!(first.cache_misses > 0, "{first:?}");
    r.close().expect("close");

    // What a kill leaves: a download not renamed into place, a set since gone.
    let hour = walk(rdir.path())
        .into_iter()
        .find(|p| p.starts_with("logs/") && p.ends_with(".parquet"))
        .expect("a cached logs file");
    let dir = rdir.path().join(&hour).parent().expect("dir").to_owned();
    std::fs::write(dir.join("logs-99.parquet.12345.tmp"), b"half").expect("write");
    std::fs::write(dir.join("logs-98.parquet"), b"gone").expect("write");

    let r = Engine::open_with_clock(rdir.path(), reader(store, 1 << 30), clock).expect("reader");
    assert_eq!(answers(&r, &t), expected);
    let again = r.reader_stats().expect("reader");
    assert_eq!(
        (again.fetched_objects, again.cache_misses),
        (0, 0),
        "nothing fetched again: {again:?}"
    );
    assert_eq!(again.cached_bytes, first.cached_bytes);
    assert!(!dir.join("logs-99.parquet.12345.tmp").exists());
    assert!(!dir.join("logs-98.parquet").exists());
    drop(w);
}

/// Every data file (samples, spans, logs) on the local disk below `root`.
fn local_data(root: &std::path::Path) -> Vec<String> {
    walk(root)
        .into_iter()
        .filter(|p| {
            let name = p.rsplit('/').next().unwrap_or("");
            name.ends_with(".parquet")
                && ["samples-", "spans-", "logs-"]
                    .iter()
                    .any(|s| name.starts_with(s))
        })
        .collect()
}

/// A writer whose local copies are a cache of 1 byte: once mirrored, every data file
/// leaves the disk, and reads, compaction, a reopen and retention fetch what they need
/// back from the bucket, with the same answers.
#[test]
fn a_writer_with_bounded_local_copies_answers_from_the_bucket() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let wdir = tempfile::tempdir().expect("dir");
    let clock = Arc::new(ManualClock::new(DAY + 3 * HOUR));
    let t = TenantId::new("acme").expect("tenant");
    let bounded = || {
        let mut c = writer(store.clone());
        if let Some(r) = c.remote.as_mut() {
            r.cache_bytes = Some(1);
        }
        c
    };
    let w = Engine::open_with_clock(wdir.path(), bounded(), clock.clone()).expect("writer");
    for round in 0..2 {
        for hour in 0..2 {
            w.write(&t, &[series("a", hour, round), series("b", hour, round)])
                .expect("write");
            w.write_spans(&t, &spans(hour, round as u8)).expect("spans");
            w.write_logs(&t, &logs(hour, round)).expect("logs");
        }
        w.flush().expect("flush");
    }
    let expected = answers(&w, &t);
    assert!(!local_data(wdir.path()).is_empty());
    w.sync_remote().expect("sync");
    assert_eq!(
        local_data(wdir.path()),
        Vec::<String>::new(),
        "evicted once mirrored"
    );
    assert_eq!(answers(&w, &t), expected, "read back from the bucket");

    // Compaction reads its inputs back; its output is evicted once mirrored.
    clock.set(DAY + 30 * HOUR);
    assert!(w.compact_all().expect("compact").partitions > 0);
    w.sync_remote().expect("sync");
    assert_eq!(answers(&w, &t), expected);
    // What those reads fetched is evicted again at the next pass (or flusher tick).
    assert!(!local_data(wdir.path()).is_empty());
    w.sync_remote().expect("sync");
    assert_eq!(local_data(wdir.path()), Vec::<String>::new());
    w.close().expect("close");

    // A reopen finds the evicted files in the bucket before anything reads them.
    let w = Engine::open_with_clock(wdir.path(), bounded(), clock.clone()).expect("reopen");
    assert_eq!(answers(&w, &t), expected);

    // Retention drops the first hour: its manifests and files go from the bucket too.
    clock.set(DAY + HOUR + 30 * 86_400_000);
    assert_eq!(w.apply_retention().expect("retention").expired, 3);
    w.sync_remote().expect("sync");
    let after = answers(&w, &t);
    assert_ne!(after, expected);
    let qdir = tempfile::tempdir().expect("dir");
    let r = Engine::open_with_clock(qdir.path(), reader(store, 1 << 30), clock).expect("reader");
    assert_eq!(answers(&r, &t), after);
}

/// A bucket without the writer's catalog (an older writer's) is listed instead.
#[test]
fn without_a_catalog_the_bucket_is_listed() {
    let Setup {
        store,
        wdir: _wdir,
        rdir,
        clock,
        t,
        w,
    } = setup();
    write_round(&w, &t, 0);
    let catalog = object_store::path::Path::from("strata/r/_catalog.json");
    futures::executor::block_on(store.delete(&catalog)).expect("delete the catalog");
    let r = Engine::open_with_clock(rdir.path(), reader(store.clone(), 1 << 30), clock.clone())
        .expect("reader");
    assert_eq!(answers(&r, &t), answers(&w, &t));
    let stats = r.reader_stats().expect("a reader");
    assert_eq!((stats.listings, stats.partitions), (1, 6), "{stats:?}");
    // The writer's next pass that changes a manifest writes the catalog again.
    write_round(&w, &t, 1);
    assert!(r.refresh().expect("refresh"));
    assert_eq!(answers(&r, &t), answers(&w, &t));
    assert_eq!(
        r.reader_stats().expect("a reader").listings,
        1,
        "read the catalog"
    );
}

/// A trace id spread over the id space: `n`'s bytes hashed into the first eight (never
/// all zeros, an invalid id).
fn spread_id(n: u32) -> [u8; 16] {
    let n = n + 1;
    let h = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&h.to_be_bytes());
    id[12..].copy_from_slice(&n.to_be_bytes());
    id
}

#[test]
fn a_cold_trace_lookup_reads_byte_ranges_not_the_file() {
    let Setup {
        store,
        wdir,
        rdir,
        clock,
        t,
        w,
    } = setup();
    // 40,000 traces of 5 spans in one hour: one spans file of four row groups (65,536
    // rows each) of 16 pages per column.
    let spans: Vec<SpanRecord> = (0..200_000u32)
        .map(|i| SpanRecord {
            trace_id: spread_id(i / 5),
            span_id: (u64::from(i) + 1).to_be_bytes(),
            service_name: "api".into(),
            name: format!("op{}", i % 7),
            start_ns: (DAY + i64::from(i) / 100) * NS + i64::from(i),
            end_ns: (DAY + i64::from(i) / 100 + 3) * NS,
            attributes: vec![("n".into(), AnyValue::Int(i64::from(i)))],
            ..SpanRecord::default()
        })
        .collect();
    w.write_spans(&t, &spans).expect("spans");
    w.flush().expect("flush");
    w.sync_remote().expect("sync");
    let file_bytes: u64 = walk(wdir.path())
        .iter()
        .filter(|p| p.contains("spans-") && p.ends_with(".parquet"))
        .map(|p| std::fs::metadata(wdir.path().join(p)).expect("file").len())
        .sum();
    assert!(file_bytes > 2_000_000, "{file_bytes}");

    let r = Engine::open_with_clock(rdir.path(), reader(store.clone(), 1 << 30), clock.clone())
        .expect("reader");
    let (lo, hi) = (DAY * NS, (DAY + HOUR) * NS);
    for n in [1234u32, 1, 39_999, 0] {
        let id = spread_id(n);
        let got = r.find_trace(&t, id, lo, hi).expect("trace");
        assert_eq!(got.len(), 5, "trace {n}");
        assert_eq!(got, w.find_trace(&t, id, lo, hi).expect("trace"));
    }
    // An id the file does not hold: no row.
    assert!(
        r.find_trace(&t, spread_id(99_999), lo, hi)
            .expect("trace")
            .is_empty()
    );
    let stats = r.reader_stats().expect("a reader");
    // No data file was fetched whole: its footer once (kept), then a few pages a lookup,
    // each page its own GET, the GETs of a lookup at once.
    assert_eq!(stats.cache_misses, 0, "{stats:?}");
    assert!(stats.ranged_gets > 0, "{stats:?}");
    let id = spread_id(2500);
    assert_eq!(r.find_trace(&t, id, lo, hi).expect("trace").len(), 5);
    let one = r.reader_stats().expect("a reader");
    let (gets, bytes) = (
        one.ranged_gets - stats.ranged_gets,
        one.ranged_bytes - stats.ranged_bytes,
    );
    // The page index of the id's row group, then the pages of every column covering its
    // candidate rows (one GET each, as they lie close): two GETs, a part of the file.
    assert!(bytes * 2 < file_bytes, "{bytes} of {file_bytes} bytes read");
    assert_eq!(gets, 2, "{one:?}");
    assert!(
        walk(rdir.path())
            .iter()
            .all(|p| !p.ends_with(".parquet") || !p.contains("spans-")),
        "a spans file was cached"
    );

    // Once the file is cached (a query read it whole), lookups read it there.
    let search = SpanSearch {
        service: "api".into(),
        ..SpanSearch::default()
    };
    assert!(
        !r.search_traces(&t, &search, lo, hi, 5, 1)
            .expect("search")
            .is_empty()
    );
    let before = r.reader_stats().expect("a reader");
    assert_eq!(before.cache_misses, 1, "{before:?}");
    let id = spread_id(77);
    assert_eq!(
        r.find_trace(&t, id, lo, hi).expect("trace"),
        w.find_trace(&t, id, lo, hi).expect("trace")
    );
    assert_eq!(
        r.reader_stats().expect("a reader").ranged_gets,
        before.ranged_gets
    );
    r.close().expect("close");
    w.close().expect("close");
}

/// A compacted hour holds the flushes' row groups as they were, so their `trace_id` ranges
/// overlap and the statistics leave every one of them: the trace-id filter file's
/// row-group table (fetched with the set) names the one row group to read.
#[test]
fn a_cold_trace_lookup_in_a_compacted_hour_reads_one_row_group() {
    let Setup {
        store,
        wdir: _wdir,
        rdir,
        clock,
        t,
        w,
    } = setup();
    // Four flushes of 7,000 traces of 5 spans, their ids spread over the whole id space:
    // one row group each, big enough to be copied by compaction, so one file of four
    // overlapping row groups.
    for f in 0..4u32 {
        let spans: Vec<SpanRecord> = (0..35_000u32)
            .map(|i| {
                let n = f * 7_000 + i / 5;
                SpanRecord {
                    trace_id: spread_id(n),
                    span_id: (u64::from(f * 35_000 + i) + 1).to_be_bytes(),
                    service_name: "api".into(),
                    name: format!("op{}", i % 7),
                    start_ns: (DAY + i64::from(n)) * NS + i64::from(i % 5),
                    end_ns: (DAY + i64::from(n) + 3) * NS,
                    ..SpanRecord::default()
                }
            })
            .collect();
        w.write_spans(&t, &spans).expect("spans");
        w.flush().expect("flush");
    }
    w.compact_all().expect("compact");
    w.sync_remote().expect("sync");

    let r = Engine::open_with_clock(rdir.path(), reader(store.clone(), 1 << 30), clock.clone())
        .expect("reader");
    let (lo, hi) = (DAY * NS, (DAY + HOUR) * NS);
    // The first lookup reads the footer too.
    assert_eq!(
        r.find_trace(&t, spread_id(7), lo, hi).expect("trace").len(),
        5
    );
    let (mut groups, mut read, mut gets) = (0, 0, 0);
    for n in (0..28_000).step_by(1_163) {
        let id = spread_id(n);
        let before = r.reader_stats().expect("a reader").ranged_gets;
        let (got, stats) = r.find_trace_with_stats(&t, id, lo, hi).expect("trace");
        assert_eq!(got.len(), 5, "trace {n}");
        assert_eq!(
            got,
            w.find_trace(&t, id, lo, hi).expect("trace"),
            "trace {n}"
        );
        gets = gets.max(r.reader_stats().expect("a reader").ranged_gets - before);
        groups += stats.row_groups;
        read += stats.row_groups_read;
    }
    // 25 lookups, each over a file of four row groups of which one holds the trace: a
    // spurious row group (1 in 1,000 per row group) is allowed once.
    assert_eq!(groups, 25 * 4);
    assert!(read <= 26, "{read} row groups read");
    // The trace's pages (the footer is kept): two GETs here, as in a file of one row group
    // (without the table, all four row groups; a dense hour's lie ~2.7 MB apart, so each
    // would be another GET).
    assert!(gets <= 2, "{gets} GETs in one lookup");
    assert!(
        walk(rdir.path())
            .iter()
            .all(|p| !p.ends_with(".parquet") || !p.contains("spans-")),
        "a spans file was cached"
    );
    r.close().expect("close");
    w.close().expect("close");
}
