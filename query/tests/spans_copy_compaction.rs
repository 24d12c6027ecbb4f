//! Compaction of a dense spans and logs hour copies the flushes' full row groups as they
//! are encoded and merges only the small ones: every read path answers exactly as before
//! the compaction (trace lookups by id, trace search, SQL over `spans` and `logs`), and
//! the compacted file keeps a `trace_id` bloom filter on every row group. DuckDB and pyarrow
//! read the compacted file too, in the `python3` found on PATH: `.ci/test.sh` installs them
//! in the virtualenv `$CARGO_TARGET_DIR/venv` and puts that first on PATH; to run this test
//! alone, activate it (`. "$CARGO_TARGET_DIR/venv/bin/activate"`). Without them it fails
//! and says so.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use strata_engine::{
    Engine, EngineConfig, LogRecord, ManualClock, SpanRecord, SpanSearch, TraceId,
};
use strata_query::sql::{SqlConfig, tenant_session};

use common::{MINUTE, T0, acme, run_in};

/// Spans per flush: a file of one full row group (65,536 rows) and a partial one, a file
/// of one row group over the copy threshold, a late small flush.
const SPAN_FLUSHES: [u64; 3] = [70_000, 40_000, 300];
/// Log records per flush: one row group over the copy threshold, one under it.
const LOG_FLUSHES: [u64; 2] = [36_000, 200];
const SPANS_PER_TRACE: u64 = 5;

fn trace_id(n: u64) -> TraceId {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    let mut id = [0; 16];
    id[..8].copy_from_slice(&z.to_le_bytes());
    id[8..].copy_from_slice(&n.to_le_bytes());
    id
}

/// Span `n` of the hour at T0: trace `n / SPANS_PER_TRACE`, times spread over the hour.
fn span(n: u64) -> SpanRecord {
    let trace = n / SPANS_PER_TRACE;
    let start_ns =
        T0 * 1_000_000 + i64::try_from((trace * 7_919 + n % 5) % 3_500_000).unwrap() * 1_000_000;
    SpanRecord {
        trace_id: trace_id(trace),
        span_id: (n + 1).to_le_bytes(),
        service_name: ["web", "api", "db"][usize::try_from(n % 3).unwrap()].into(),
        name: format!("op{}", n % 4),
        start_ns,
        end_ns: start_ns + i64::try_from((n * 31) % 10_000).unwrap() * 1_000,
        ..SpanRecord::default()
    }
}

fn log(n: u64) -> LogRecord {
    LogRecord {
        time_ns: T0 * 1_000_000 + i64::try_from((n * 104_729) % 3_500_000).unwrap() * 1_000_000,
        service_name: ["web", "api"][usize::try_from(n % 2).unwrap()].into(),
        severity_number: i32::try_from(n % 24).unwrap() + 1,
        severity_text: format!("s{}", n % 24),
        trace_id: Some(trace_id(n / 3)),
        ..LogRecord::default()
    }
}

/// Sum of `duration_ns` of spans `0..n`.
fn sum_durations(n: u64) -> i64 {
    (0..n).map(|i| span(i).end_ns - span(i).start_ns).sum()
}

const EXTERNAL: &str = r#"
import duckdb, sys
import pyarrow.parquet as pq
path, ids = sys.argv[1], sys.argv[2:]
con = duckdb.connect()
total = con.execute(
    f"SELECT count(*), count(DISTINCT trace_id), sum(duration_ns) FROM read_parquet('{path}')"
).fetchone()
by_id = [con.execute(f"SELECT count(*) FROM read_parquet('{path}') WHERE trace_id = from_hex('{i}')").fetchone()[0] for i in ids]
f = pq.ParquetFile(path)
print("duckdb %d %d %d; by id %s; pyarrow %d rows, %d row groups" % (
    *total, " ".join(map(str, by_id)), f.read().num_rows, f.metadata.num_row_groups))
"#;

/// What DuckDB and pyarrow read of the spans file at `path` (and of the traces `ids`).
fn external_reads(path: &Path, ids: &[TraceId]) -> String {
    let hex = |id: &TraceId| id.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let out = std::process::Command::new("python3")
        .args(["-c", EXTERNAL])
        .arg(path)
        .args(ids.iter().map(hex))
        .output()
        .expect("python3 on PATH runs");
    assert!(
        out.status.success(),
        "DuckDB/pyarrow in the python3 on PATH failed (.ci/test.sh installs them in \
         $CARGO_TARGET_DIR/venv and puts that first on PATH: activate it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// What every read path answers, to compare before and after the compaction.
#[derive(Debug, PartialEq)]
struct Answers {
    traces: Vec<Vec<SpanRecord>>,
    searches: Vec<Vec<(TraceId, i64)>>,
    sql: Vec<String>,
}

const QUERIES: [&str; 5] = [
    "SELECT service_name, name, count(*), count(DISTINCT trace_id), sum(duration_ns), \
     min(start_time), max(start_time) FROM spans GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT trace_id, span_id, start_time FROM spans WHERE service_name = 'db' AND \
     duration_ns > 9990000 ORDER BY 1, 2",
    "SELECT count(*), sum(severity_number), min(time), max(time) FROM logs",
    "SELECT service_name, severity_text, count(*) FROM logs GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT time, severity_text FROM logs WHERE service_name = 'api' AND severity_number = 7 \
     ORDER BY 1, 2",
];

async fn answers(engine: &Arc<Engine>, ids: &[TraceId]) -> Answers {
    // In chunks: a lookup compares each row of the pages it reads with every id asked.
    let mut traces = Vec::new();
    for chunk in ids.chunks(16) {
        traces.extend(
            engine
                .find_traces(&acme(), chunk, i64::MIN, i64::MAX)
                .expect("find traces"),
        );
    }
    for t in &mut traces {
        t.sort_by_key(|s| s.span_id);
    }
    let searches = [
        SpanSearch {
            service: "api".into(),
            ..SpanSearch::default()
        },
        SpanSearch {
            service: "db".into(),
            operation: Some("op2".into()),
            min_duration_ns: Some(5_000_000),
            max_duration_ns: Some(6_000_000),
        },
    ]
    .iter()
    .map(|s| {
        engine
            .search_traces(&acme(), s, i64::MIN, i64::MAX, 40, 2)
            .expect("search")
    })
    .collect();
    let ctx = tenant_session(engine.clone(), &acme(), &SqlConfig::for_tests()).expect("session");
    let mut sql = Vec::new();
    for q in QUERIES {
        let (batches, _, _) = run_in(&ctx, q).await;
        sql.push(pretty_format_batches(&batches).expect("format").to_string());
    }
    Answers {
        traces,
        searches,
        sql,
    }
}

/// Rows of each row group of the parquet file at `path`, and whether each has a
/// `trace_id` bloom filter.
fn row_groups(path: &Path) -> Vec<(i64, bool)> {
    let reader =
        SerializedFileReader::new(std::fs::File::open(path).expect("open")).expect("parquet file");
    reader
        .metadata()
        .row_groups()
        .iter()
        .map(|g| {
            let bloom = g
                .columns()
                .iter()
                .find(|c| c.column_path().string() == "trace_id")
                .is_some_and(|c| c.bloom_filter_offset().is_some());
            (g.num_rows(), bloom)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_hour_answers_every_read_exactly_as_its_flushes_did() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(T0 + 3 * 60 * MINUTE);
    let engine = Arc::new(
        Engine::open_with_clock(dir.path(), EngineConfig::default(), clock).expect("open"),
    );
    let mut at = 0;
    for n in SPAN_FLUSHES {
        let spans: Vec<SpanRecord> = (at..at + n).map(span).collect();
        at += n;
        let out = engine.write_spans(&acme(), &spans).expect("write spans");
        assert_eq!(out.accepted, n, "{out:?}");
        engine.flush().expect("flush");
    }
    let mut at_log = 0;
    for n in LOG_FLUSHES {
        let logs: Vec<LogRecord> = (at_log..at_log + n).map(log).collect();
        at_log += n;
        let out = engine.write_logs(&acme(), &logs).expect("write logs");
        assert_eq!(out.accepted, n, "{out:?}");
        engine.flush().expect("flush");
    }
    // Every 23rd trace (of every flush), and the last one.
    let traces = at.div_ceil(SPANS_PER_TRACE);
    let ids: Vec<TraceId> = (0..traces)
        .step_by(23)
        .chain([traces - 1])
        .map(trace_id)
        .collect();
    let started = std::time::Instant::now();
    let before = answers(&engine, &ids).await;
    println!("reads before compaction: {:?}", started.elapsed());
    let found: Vec<usize> = before.traces.iter().map(Vec::len).collect();
    assert!(
        found.iter().all(|&n| n == SPANS_PER_TRACE as usize),
        "every span found by its trace id"
    );
    assert!(before.searches.iter().all(|s| !s.is_empty()));

    let stats = engine.compact_all().expect("compact");
    assert_eq!(
        (stats.partitions, stats.rows_out),
        (2, at + at_log),
        "{stats:?}"
    );
    let snap = engine
        .spans_snapshot(&acme(), i64::MIN, i64::MAX)
        .expect("snapshot");
    assert_eq!(snap.files.len(), 1);
    // The merged small row groups (70,000 - 65,536 + 300 rows) first, then the two big
    // ones copied, each with its bloom filter.
    let groups = row_groups(&snap.files[0].path());
    assert_eq!(
        groups,
        [(4_764, true), (65_536, true), (40_000, true)],
        "{groups:?}"
    );
    let logs = engine
        .logs_snapshot(&acme(), i64::MIN, i64::MAX)
        .expect("snapshot");
    assert_eq!(logs.files.len(), 1);
    let log_rows: Vec<i64> = row_groups(&logs.files[0].path())
        .iter()
        .map(|g| g.0)
        .collect();
    assert_eq!(log_rows, [200, 36_000]);

    // DuckDB and pyarrow read the file with copied row groups: every row, and a trace by
    // id (DuckDB prunes row groups by the bloom filters and the page index).
    let (n, traces_n, durations) = (at, at.div_ceil(SPANS_PER_TRACE), sum_durations(at));
    // Traces of the first, second and last flush.
    let some = [ids[1], ids[ids.len() * 3 / 4], ids[ids.len() - 1]];
    let external = external_reads(&snap.files[0].path(), &some);
    let k = SPANS_PER_TRACE;
    assert_eq!(
        external,
        format!(
            "duckdb {n} {traces_n} {durations}; by id {k} {k} {k}; pyarrow {n} rows, 3 row groups"
        )
    );

    let after = answers(&engine, &ids).await;
    let differ: BTreeMap<usize, &str> = QUERIES
        .iter()
        .enumerate()
        .filter(|(i, _)| before.sql[*i] != after.sql[*i])
        .map(|(i, q)| (i, *q))
        .collect();
    assert!(differ.is_empty(), "SQL answers changed: {differ:?}");
    assert_eq!(after.searches, before.searches);
    assert!(after.traces == before.traces, "trace lookups changed");
}
