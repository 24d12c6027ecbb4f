//! Criterion benchmarks of `strata-wal`: append throughput by durability mode, writer count
//! and record size; replay from the page cache; and, as the physical limit of the same disk,
//! a plain `write_all` + `fdatasync` loop. Results, and the machine they came from, are in
//! `docs/benchmarks.md`. Run with `cargo bench -p strata-benches --bench wal`.

use std::fs::OpenOptions;
use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main,
};
use strata_benches::payload;
use strata_wal::{Durability, Record, Wal, WalOptions, WalStats};
use tempfile::TempDir;

const KIB: usize = 1024;

/// WAL bytes (frames included) per fsync in the 64-writer, 1 KiB `Fsync` bench; 0 until it
/// has run. The plain loop uses it as one of its chunk sizes.
static BYTES_PER_FSYNC: AtomicU64 = AtomicU64::new(0);

fn open(dir: &Path, durability: Durability) -> Wal {
    let options = WalOptions {
        durability,
        ..WalOptions::default()
    };
    Wal::open(dir, options).expect("open WAL")
}

/// A group with few, equal samples, since an iteration can wait on an fsync.
fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sampling_mode(SamplingMode::Flat);
    g
}

/// A record of `len` payload bytes. Its payload is a `bytes::Bytes`, so appending clones of it
/// shares one buffer instead of copying it per append.
fn record(len: usize) -> Record {
    let payload = payload(len as u64, len).into();
    Record { lsn: 0, payload }
}

fn label(size: usize) -> String {
    match size % KIB {
        0 => format!("{}KiB", size / KIB),
        _ => format!("{size}B"),
    }
}

/// Appends `iters` copies of `record` from `writers` threads (split as evenly as possible),
/// one `Wal::append` per record. Returns the wall time from the moment every thread is ready
/// until the last append is acknowledged.
fn append_from(wal: &Wal, writers: u64, iters: u64, record: &Record) -> Duration {
    let ready = Barrier::new(writers as usize + 1);
    let start = std::thread::scope(|s| {
        for w in 0..writers {
            let n = iters / writers + u64::from(w < iters % writers);
            let ready = &ready;
            s.spawn(move || {
                ready.wait();
                for _ in 0..n {
                    wal.append(record.payload.clone()).expect("append");
                }
            });
        }
        ready.wait();
        Instant::now()
    }); // The scope joins every writer before returning.
    start.elapsed()
}

/// Benchmarks `writers` threads appending `size`-byte records to a fresh WAL in a tempdir,
/// then prints how many records and bytes each fsync carried.
fn bench_append(
    g: &mut BenchmarkGroup<'_, WallTime>,
    mode: &str,
    durability: Durability,
    writers: u64,
    size: usize,
) -> WalStats {
    let dir = TempDir::new().expect("tempdir");
    let wal = open(dir.path(), durability);
    let record = record(size);
    let bytes = size as u64;
    g.throughput(Throughput::ElementsAndBytes { elements: 1, bytes });
    let param = format!("{writers}x{}", label(size));
    g.bench_function(BenchmarkId::new(mode, &param), |b| {
        b.iter_custom(|iters| append_from(&wal, writers, iters, &record))
    });
    let s = wal.stats();
    if s.records > 0 {
        eprintln!(
            "wal_append/{mode}/{param}: {} records, {} fsyncs, {:.1} records/fsync, {} bytes/fsync",
            s.records,
            s.syncs,
            s.records as f64 / s.syncs.max(1) as f64,
            s.bytes / s.syncs.max(1),
        );
    }
    s
}

/// `Durability::Fsync` appends, one `Wal::append` per record (each waits for the fsync it
/// shares with whatever else was queued): 1, 8 and 64 concurrent writers x 100 B, 1 KiB and
/// 64 KiB records. Throughput in records/s and payload bytes/s.
fn append_fsync(c: &mut Criterion) {
    let mut g = group(c, "wal_append");
    for writers in [1, 8, 64] {
        for size in [100, KIB, 64 * KIB] {
            let s = bench_append(&mut g, "fsync", Durability::Fsync, writers, size);
            if writers == 64 && size == KIB && s.syncs > 0 {
                BYTES_PER_FSYNC.store(s.bytes / s.syncs, Ordering::Relaxed);
            }
        }
    }
    g.finish();
}

/// `Durability::Interval(10ms)` and `Durability::None` appends: 8 writers, 1 KiB records
/// (compare `wal_append/fsync/8x1KiB`). Throughput in records/s and payload bytes/s.
fn append_relaxed(c: &mut Criterion) {
    let mut g = group(c, "wal_append");
    let modes = [
        (
            "interval_10ms",
            Durability::Interval(Duration::from_millis(10)),
        ),
        ("none", Durability::None),
    ];
    for (name, durability) in modes {
        bench_append(&mut g, name, durability, 8, KIB);
    }
    g.finish();
}

/// The disk's own limit: `write_all(chunk)` + `sync_data()` in a loop, appending to one file
/// in a tempdir beside the WAL's. Chunks of 100 B, 1 KiB and 64 KiB, and of the WAL's average
/// bytes per fsync in `wal_append/fsync/64x1KiB` (measured here if that bench was filtered
/// out). Throughput in fsyncs/s and bytes/s.
fn plain_fdatasync(c: &mut Criterion) {
    let wal_group = match BYTES_PER_FSYNC.load(Ordering::Relaxed) {
        0 => {
            let dir = TempDir::new().expect("tempdir");
            let wal = open(dir.path(), Durability::Fsync);
            append_from(&wal, 64, 20_000, &record(KIB));
            let s = wal.stats();
            s.bytes / s.syncs.max(1)
        }
        n => n,
    } as usize;
    eprintln!("plain_fdatasync: WAL group of the 64x1KiB fsync bench = {wal_group} bytes/fsync");
    let mut g = group(c, "plain_fdatasync");
    let chunks = [("chunk", 100), ("chunk", KIB), ("chunk", 64 * KIB)];
    for (name, chunk) in chunks.into_iter().chain([("wal_group", wal_group)]) {
        let dir = TempDir::new().expect("tempdir");
        let path = dir.path().join("plain");
        let open = OpenOptions::new().create(true).append(true).open(path);
        let mut file = open.expect("create file");
        let data = payload(chunk as u64, chunk);
        let bytes = chunk as u64;
        g.throughput(Throughput::ElementsAndBytes { elements: 1, bytes });
        g.bench_function(BenchmarkId::new(name, label(chunk)), |b| {
            b.iter(|| {
                file.write_all(&data).expect("write");
                file.sync_data().expect("fdatasync");
            })
        });
    }
    g.finish();
}

/// Replay from the page cache: `Wal::open` (recovery checks every frame) plus reading every
/// record with `Wal::reader(first_lsn)`, over a 256 MiB log of 1 KiB records written in
/// `None` mode and closed beforehand. Throughput in records/s and payload bytes/s.
fn replay(c: &mut Criterion) {
    const RECORDS: u64 = 256 * 1024;
    const BATCH: usize = 1024;
    let write_log = || {
        let dir = TempDir::new().expect("tempdir");
        let wal = open(dir.path(), Durability::None);
        let record = record(KIB);
        for _ in 0..RECORDS / BATCH as u64 {
            let batch = std::iter::repeat_n(record.payload.clone(), BATCH);
            wal.append_batch(batch).expect("append");
        }
        wal.close().expect("close");
        dir
    };
    let mut log: Option<TempDir> = None; // Written on first use, so a filter skips it.
    let mut g = group(c, "wal_replay");
    let bytes = RECORDS * KIB as u64;
    g.throughput(Throughput::ElementsAndBytes {
        elements: RECORDS,
        bytes,
    });
    g.bench_function("256MiB_1KiB", |b| {
        let dir = log.get_or_insert_with(write_log).path();
        b.iter(|| {
            let wal = open(dir, Durability::None);
            let records = wal.reader(wal.first_lsn()).expect("reader");
            let sum: u64 = records.map(|r| r.expect("read").payload.len() as u64).sum();
            assert_eq!(sum, bytes);
            black_box(sum)
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    append_fsync,
    plain_fdatasync,
    append_relaxed,
    replay
);
criterion_main!(benches);
