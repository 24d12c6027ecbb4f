//! The real server inside a 256 MiB memory cgroup with the default settings (it reads the
//! limit from the cgroup), under remote-write from two senders while four clients loop
//! heavy PromQL range queries and SQL scans and a fifth sends gzip bombs: the process is
//! never killed, no connection is dropped, every answer is a result or a clear refusal,
//! and every acknowledged sample is stored. The full-scale figures are
//! `benches/memory/run.sh`'s (`docs/benchmarks.md`).
//!
//! Needs a cgroup v1 memory group (root): where one cannot be made the test says so on
//! stderr and passes without running.

mod common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_tests::cgroup::MemoryGroup;
use strata_tests::http::{Framing, Response, request};
use strata_tests::remote_write::{HEADERS, TestSeries, encode};
use strata_tests::server::{Server, data_dir, serve_command};

const LIMIT: u64 = 256 << 20;
/// How long the load runs.
const LOAD: Duration = Duration::from_secs(20);
/// Series per writer and samples per series per batch.
const SERIES: usize = 200;
const STEPS: usize = 10;

/// Writer `w`'s batch `n`: its `SERIES` series, `STEPS` samples each, 15 s apart, after
/// batch `n - 1`'s.
fn batch(w: usize, n: usize, start: i64) -> Vec<TestSeries> {
    (0..SERIES)
        .map(|s| TestSeries {
            labels: vec![
                ("__name__".into(), "mem_test_total".into()),
                ("instance".into(), format!("host-{s}")),
                ("job".into(), format!("writer-{w}")),
            ],
            samples: (0..STEPS)
                .map(|i| {
                    let step = (n * STEPS + i) as i64;
                    (start + step * 15_000, (step * (s as i64 + 1)) as f64)
                })
                .collect(),
        })
        .collect()
}

fn encode_query(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// 1 GiB of zeros as 1,024 gzip members of 1 MiB each (about 1 MB on the wire; a gzip
/// body may concatenate members, and the last trailer declares 1 MiB).
fn gzip_bomb() -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&vec![0u8; 1 << 20]).expect("gzip");
    gz.finish().expect("gzip").repeat(1024)
}

#[derive(Default)]
struct Tally {
    answered: AtomicU64,
    refused: AtomicU64,
    write_retries: AtomicU64,
}

#[test]
fn the_server_keeps_under_a_256_mib_cgroup_under_load() {
    let name = format!("strata-memtest-{}", std::process::id());
    let group = match MemoryGroup::new(&name, LIMIT) {
        Ok(g) => g,
        Err(why) => {
            eprintln!("SKIPPED memory_limit: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cmd = serve_command(common::bin(), dir.path(), "");
    let mut server = Server::spawn(group.wrap(&cmd));
    server.wait_ready(common::READY);
    let addr = server.http;

    let limit = server.get("/metrics", &[]).expect("metrics").text();
    assert!(
        limit.contains(&format!("strata_memory_limit_bytes {}", LIMIT / 4 * 3)),
        "the limit is 0.75 of the cgroup's: {}",
        limit
            .lines()
            .find(|l| l.starts_with("strata_memory_limit"))
            .unwrap_or("none")
    );

    let start = common::now_ms() - 3_600_000;
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<TestSeries>>> = Arc::default();
    let tally = Arc::new(Tally::default());
    let deadline = Instant::now() + LOAD;

    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (acked, tally) = (acked.clone(), tally.clone());
            std::thread::spawn(move || write_until(addr, w, start, deadline, &acked, &tally))
        })
        .collect();

    let end_s = (start + 3_600_000) / 1000;
    let readers: Vec<_> = (0..4)
        .map(|r| {
            let (stop, tally) = (stop.clone(), tally.clone());
            std::thread::spawn(move || read_until_stopped(addr, r, end_s, &stop, &tally))
        })
        .collect();

    let bomb = gzip_bomb();
    let bombs = {
        let stop = stop.clone();
        std::thread::spawn(move || send_bombs(addr, &bomb, &stop))
    };

    for w in writers {
        w.join().expect("a writer failed");
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("a reader failed");
    }
    bombs.join().expect("the bomb sender failed");

    assert_eq!(server.exited(), None, "the server died under the load");
    assert_eq!(
        group.oom_kills(),
        0,
        "the kernel's OOM killer ran in the group"
    );
    let answered = tally.answered.load(Ordering::Relaxed);
    let refused = tally.refused.load(Ordering::Relaxed);
    eprintln!(
        "memory_limit: {answered} queries answered, {refused} refused, {} write retries, peak usage {} MiB of {} MiB",
        tally.write_retries.load(Ordering::Relaxed),
        group.max_usage() >> 20,
        LIMIT >> 20
    );
    assert!(answered > 0, "no query was answered ({refused} refused)");
    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    assert!(
        metrics.contains("strata_queries_admitted_total"),
        "admission is visible"
    );

    let status = server.terminate();
    assert!(status.success(), "{status}");
    drop(group);
    let acked = std::mem::take(&mut *acked.lock().expect("lock"));
    assert!(!acked.is_empty(), "nothing was acknowledged");
    let got = common::read_back(&data_dir(dir.path()), "default");
    // One series spans many batches: their samples together.
    let mut want = common::SeriesMap::new();
    for s in &acked {
        want.entry(s.labels.clone())
            .or_default()
            .extend(s.samples.iter().map(|(t, v)| (*t, v.to_bits())));
    }
    for (labels, samples) in &want {
        assert_eq!(
            got.get(labels),
            Some(samples),
            "acknowledged series {labels:?}"
        );
    }
}

/// Writer `w`: batches of its series until the deadline (or the hour is full), each retried
/// on 429 / 503 until stored, then added to `acked`.
fn write_until(
    addr: SocketAddr,
    w: usize,
    start: i64,
    deadline: Instant,
    acked: &Mutex<Vec<TestSeries>>,
    tally: &Tally,
) {
    for n in 0.. {
        if Instant::now() > deadline || (n + 1) * STEPS * 15_000 > 3_500_000 {
            return;
        }
        let b = batch(w, n, start);
        let protos: Vec<_> = b.iter().map(|s| s.to_proto()).collect();
        let body = encode(&protos);
        loop {
            let r = request(
                addr,
                "POST",
                "/api/v1/write",
                &HEADERS,
                &body,
                Framing::Length,
            )
            .unwrap_or_else(|e| panic!("writer {w}: connection dropped: {e}"));
            match r.status {
                204 => break,
                429 | 503 => {
                    assert!(r.header("retry-after").is_some(), "{}", r.text());
                    tally.write_retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(200));
                }
                s => panic!("writer {w} batch {n}: {s} {}", r.text()),
            }
        }
        acked.lock().expect("lock").extend(b);
    }
}

/// Reader `r`: PromQL range queries and SQL queries in turn until `stop`; each answered or
/// refused for memory, saying why.
fn read_until_stopped(addr: SocketAddr, r: usize, end_s: i64, stop: &AtomicBool, tally: &Tally) {
    let promql = [
        "sum by (job) (rate(mem_test_total[5m]))",
        "quantile_over_time(0.9, mem_test_total[10m])",
        "count_values(\"v\", mem_test_total)",
        "mem_test_total * on (instance, job) mem_test_total",
    ];
    let sql = [
        "SELECT series_id, count(*), avg(value) FROM samples GROUP BY series_id",
        "SELECT count(DISTINCT value) FROM samples",
        "SELECT approx_percentile_cont(value, 0.9) FROM samples",
    ];
    let mut i = r;
    while !stop.load(Ordering::Relaxed) {
        let resp: Response = if i.is_multiple_of(2) {
            let q = promql[(i / 2) % promql.len()];
            let path = format!(
                "/api/v1/query_range?query={}&start={}&end={end_s}&step=15",
                encode_query(q),
                end_s - 3600
            );
            request(addr, "GET", &path, &[], b"", Framing::Length)
        } else {
            let q = sql[(i / 2) % sql.len()];
            request(
                addr,
                "POST",
                "/api/v1/sql",
                &[("content-type", "text/plain")],
                q.as_bytes(),
                Framing::Length,
            )
        }
        .unwrap_or_else(|e| panic!("reader {r}: connection dropped: {e}"));
        match resp.status {
            200 => tally.answered.fetch_add(1, Ordering::Relaxed),
            422 | 503 => {
                let text = resp.text();
                assert!(
                    text.contains("memory")
                        || text.contains("too many queries")
                        || text.contains("samples"),
                    "a refusal says why: {} {text}",
                    resp.status
                );
                tally.refused.fetch_add(1, Ordering::Relaxed)
            }
            s => panic!("reader {r}: {s} {}", resp.text()),
        };
        i += 1;
    }
}

/// Up to 20 gzip bombs until `stop`: each refused with 413 or 503.
fn send_bombs(addr: SocketAddr, bomb: &[u8], stop: &AtomicBool) {
    let headers = [
        ("content-type", "application/x-protobuf"),
        ("content-encoding", "gzip"),
    ];
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) && n < 20 {
        let r = request(addr, "POST", "/v1/metrics", &headers, bomb, Framing::Length)
            .unwrap_or_else(|e| panic!("bomb {n}: connection dropped: {e}"));
        assert!(
            matches!(r.status, 413 | 503),
            "bomb {n}: {} {}",
            r.status,
            r.text()
        );
        n += 1;
    }
}
