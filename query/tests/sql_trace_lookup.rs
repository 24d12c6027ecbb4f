//! A `trace_id` lookup in SQL reads, of every file without the id, at most its footer and
//! its bloom filters: measured per file by counting what the session's object store hands
//! out, and compared with the sizes the file's own Parquet metadata gives.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use strata_engine::{Engine, EngineConfig, LogRecord, ManualClock, SpanRecord, TraceId};
use strata_query::sql::{SqlConfig, tenant_session};

use common::counting_store::CountingStore;
use common::{MINUTE, T0, acme, run_in};

const FLUSHES: u64 = 12;
const TRACES: u64 = 2_000;
const SPANS: u64 = 3;
const HOUR_NS: i64 = 60 * MINUTE * 1_000_000;

/// A well-mixed, reproducible trace id (splitmix64 of the flush and trace number).
fn trace_id(flush: u64, trace: u64) -> TraceId {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let n = flush * 1_000_000 + trace;
    let mut id = [0; 16];
    id[..8].copy_from_slice(&mix(n).to_le_bytes());
    id[8..].copy_from_slice(&mix(n ^ 0xffff).to_le_bytes());
    id
}

fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// One flush per hour for `FLUSHES` hours: `TRACES` traces of `SPANS` spans each, and one
/// log record per trace.
fn engine(dir: &Path) -> Arc<Engine> {
    let clock = ManualClock::new(T0 + (FLUSHES as i64 + 1) * 60 * MINUTE);
    let engine = Engine::open_with_clock(dir, EngineConfig::default(), clock).expect("open");
    for f in 0..FLUSHES {
        let base = T0 * 1_000_000 + f as i64 * HOUR_NS;
        let mut spans = Vec::new();
        let mut logs = Vec::new();
        for t in 0..TRACES {
            let start_ns = base + t as i64 * 1_000_000;
            for s in 0..SPANS {
                spans.push(SpanRecord {
                    trace_id: trace_id(f, t),
                    span_id: [s as u8 + 1; 8],
                    service_name: format!("svc{s}"),
                    name: "op".into(),
                    start_ns,
                    end_ns: start_ns + 500,
                    ..SpanRecord::default()
                });
            }
            logs.push(LogRecord {
                time_ns: start_ns,
                trace_id: Some(trace_id(f, t)),
                service_name: "svc0".into(),
                ..LogRecord::default()
            });
        }
        let out = engine.write_spans(&acme(), &spans).expect("write spans");
        assert_eq!(out.accepted, TRACES * SPANS, "{out:?}");
        let out = engine.write_logs(&acme(), &logs).expect("write logs");
        assert_eq!(out.accepted, TRACES, "{out:?}");
        engine.flush().expect("flush");
    }
    Arc::new(engine)
}

fn count(batches: &[RecordBatch]) -> i64 {
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

/// Footer (metadata, its length and the magic) plus every `trace_id` bloom filter of the
/// Parquet file at `path`, in bytes: what a lookup may read of a file without the id.
fn footer_and_blooms(path: &Path) -> u64 {
    let data = std::fs::read(path).expect("read file");
    let len_at = data.len() - 8;
    let meta_len = u32::from_le_bytes(data[len_at..len_at + 4].try_into().expect("4 bytes"));
    let reader = SerializedFileReader::new(std::fs::File::open(path).expect("open file"))
        .expect("parquet file");
    let blooms: u64 = reader
        .metadata()
        .row_groups()
        .iter()
        .map(|g| {
            let col = g
                .columns()
                .iter()
                .find(|c| c.column_path().string() == "trace_id")
                .expect("trace_id column");
            u64::try_from(col.bloom_filter_length().expect("bloom filter length"))
                .expect("a length")
        })
        .sum();
    assert!(blooms > 0, "{} has bloom filters", path.display());
    u64::from(meta_len) + 8 + blooms
}

/// Runs a query in a fresh session (no cached footers); returns the row count, the plan
/// text and the bytes read per file.
async fn lookup(engine: &Arc<Engine>, sql: &str) -> (i64, String, BTreeMap<String, u64>) {
    let ctx = tenant_session(engine.clone(), &acme(), &SqlConfig::for_tests()).expect("session");
    let read = CountingStore::install(&ctx);
    let (batches, text, _) = run_in(&ctx, sql).await;
    let read = read.lock().expect("counts").clone();
    (count(&batches), text, read)
}

/// Every file of `table` (`spans`/`logs`) that `holding` does not name read at most its
/// footer and bloom filters; returns the bytes of all files and of those bounds.
fn assert_footer_and_blooms_only(
    engine: &Engine,
    table: &str,
    bytes: &BTreeMap<String, u64>,
    holding: &[String],
) -> (u64, u64) {
    let snap = match table {
        "spans" => engine.spans_snapshot(&acme(), i64::MIN, i64::MAX),
        _ => engine.logs_snapshot(&acme(), i64::MIN, i64::MAX),
    }
    .expect("snapshot");
    assert_eq!(snap.files.len(), FLUSHES as usize);
    let (mut read, mut bound) = (0, 0);
    for f in &snap.files {
        let path = std::path::absolute(f.path()).expect("absolute");
        let key = path.to_string_lossy().trim_start_matches('/').to_owned();
        let got = bytes.get(&key).copied().unwrap_or(0);
        if holding.iter().any(|h| key.ends_with(h.as_str())) {
            continue;
        }
        let limit = footer_and_blooms(&path);
        assert!(got > 0, "{key}: the lookup checked the file");
        assert!(
            got <= limit,
            "{key}: read {got} bytes, footer + bloom filters are {limit}"
        );
        read += got;
        bound += limit;
    }
    (read, bound)
}

/// Names of the data files of `table` in the plan text.
fn files_in_plan(text: &str, prefix: &str) -> Vec<String> {
    let mut files: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter_map(|w| w.rsplit('/').next())
        .filter(|w| w.starts_with(prefix) && w.ends_with(".parquet"))
        .map(str::to_owned)
        .collect();
    files.sort();
    files.dedup();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_lookup_reads_only_footers_and_bloom_filters_of_other_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = engine(dir.path());
    let (all, _, _) = lookup(&engine, "SELECT count(*) FROM spans").await;
    assert_eq!(all, (FLUSHES * TRACES * SPANS) as i64);

    // One id, written in flush 5: one file left in the plan.
    let id = hex(&trace_id(5, 1_017));
    let sql = format!("SELECT count(*), max(service_name) FROM spans WHERE trace_id = X'{id}'");
    let (n, text, bytes) = lookup(&engine, &sql).await;
    assert_eq!(n, SPANS as i64, "{text}");
    // The same lookup on the id's text: no bloom filter answers it, every trace_id page
    // is read.
    let range = format!(
        "SELECT count(*), max(service_name) FROM spans WHERE encode(trace_id, 'hex') = '{id}'"
    );
    let (n_range, _, full) = lookup(&engine, &range).await;
    assert_eq!(n_range, n);
    let full_bytes: u64 = full.values().sum();
    let kept = files_in_plan(&text, "spans-");
    assert_eq!(kept.len(), 1, "{text}");
    let (read, bound) = assert_footer_and_blooms_only(&engine, "spans", &bytes, &kept);
    let total: u64 = bytes.values().sum();
    println!(
        "trace lookup over {FLUSHES} spans files: {total} bytes read ({read} from the {} \
         files without the id, bound {bound}); by its text, {full_bytes}",
        FLUSHES - 1
    );
    // By the text, the same files are read past their footer and bloom filters.
    for (file, got) in &bytes {
        let scanned = full.get(file).copied().unwrap_or(0);
        if !kept.iter().any(|k| file.ends_with(k.as_str())) {
            assert!(scanned > *got, "{file}: by text {scanned}, lookup {got}");
        }
    }

    // The same id as a decoded string, and an IN list over two files.
    let sql = format!("SELECT count(*) FROM spans WHERE trace_id = decode('{id}', 'hex')");
    let (n, text, _) = lookup(&engine, &sql).await;
    assert_eq!((n, files_in_plan(&text, "spans-")), (SPANS as i64, kept));
    let (a, b) = (hex(&trace_id(2, 0)), hex(&trace_id(9, 1_999)));
    let sql = format!("SELECT count(*) FROM spans WHERE trace_id IN (X'{a}', X'{b}')");
    let (n, text, bytes) = lookup(&engine, &sql).await;
    assert_eq!(n, 2 * SPANS as i64, "{text}");
    let kept = files_in_plan(&text, "spans-");
    assert_eq!(kept.len(), 2, "{text}");
    assert_footer_and_blooms_only(&engine, "spans", &bytes, &kept);

    // An id nobody wrote: every file is ruled out on its bloom filters.
    let sql = format!(
        "SELECT count(*) FROM spans WHERE trace_id = X'{}'",
        hex(&[7; 16])
    );
    let (n, text, bytes) = lookup(&engine, &sql).await;
    assert_eq!(n, 0);
    assert!(files_in_plan(&text, "spans-").is_empty(), "{text}");
    assert_footer_and_blooms_only(&engine, "spans", &bytes, &[]);

    // Logs carry the same bloom filter.
    let sql = format!("SELECT count(*) FROM logs WHERE trace_id = X'{id}'");
    let (n, text, bytes) = lookup(&engine, &sql).await;
    assert_eq!(n, 1, "{text}");
    let kept = files_in_plan(&text, "logs-");
    assert_eq!(kept.len(), 1, "{text}");
    assert_footer_and_blooms_only(&engine, "logs", &bytes, &kept);
}
