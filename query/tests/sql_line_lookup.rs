//! A substring search over `logs` (`strpos(body, …) > 0`, `body LIKE '%…%'`: what LogQL's
//! `|=` becomes) reads only the pages of the blocks whose line filter may hold it: a rare
//! word costs a fraction of the bytes a common one does, a word no file has costs no
//! file read, and every answer is the rows that hold it.

mod common;

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use strata_engine::{AnyValue, Engine, EngineConfig, LogRecord, ManualClock};
use strata_query::sql::{SqlConfig, tenant_session};

use common::{MINUTE, T0, acme, metric, run_in};

const FILES: u64 = 3;
const RECORDS: u64 = 40_000;

/// A reproducible line; one record in 40,000 (one per file) carries `needle`.
fn line(i: u64) -> String {
    let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    let needle = if i % 40_000 == 7_777 { " needle" } else { "" };
    format!(
        "level=info method=GET path=/api/v{} status={} duration={}ms user=u{} msg=\"served{needle}\"",
        x % 7,
        200 + x % 300,
        x % 997,
        x % 100_000
    )
}

fn engine(dir: &Path) -> (Arc<Engine>, u64) {
    let clock = ManualClock::new(T0 + (FILES as i64 + 1) * 60 * MINUTE);
    let engine = Engine::open_with_clock(dir, EngineConfig::default(), clock).expect("open");
    let mut needles = 0;
    // Three resources; records with no attributes, one, or several.
    let resources: Vec<Arc<Vec<(String, AnyValue)>>> = (0..3)
        .map(|r| {
            Arc::new(vec![
                (
                    "service.name".to_owned(),
                    AnyValue::String(format!("svc{r}")),
                ),
                ("host.name".to_owned(), AnyValue::String(format!("h{r}"))),
            ])
        })
        .collect();
    for f in 0..FILES {
        let base = (T0 + f as i64 * 60 * MINUTE) * 1_000_000;
        let logs: Vec<LogRecord> = (0..RECORDS)
            .map(|i| {
                let n = f * RECORDS + i;
                let body = line(n);
                needles += u64::from(body.contains("needle"));
                LogRecord {
                    time_ns: base + i as i64 * 1_000,
                    service_name: format!("svc{}", n % 3),
                    body: Some(AnyValue::String(body)),
                    attributes: (0..(n + f) % 4)
                        .map(|a| (format!("k{a}"), AnyValue::Int((n % 11 + a) as i64)))
                        .collect(),
                    resource_attributes: resources[(n % 3) as usize].clone(),
                    ..LogRecord::default()
                }
            })
            .collect();
        let out = engine.write_logs(&acme(), &logs).expect("write");
        assert_eq!(out.accepted, RECORDS, "{out:?}");
        engine.flush().expect("flush");
    }
    (Arc::new(engine), needles)
}

fn count(batches: &[RecordBatch]) -> i64 {
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

/// The count a query gives, and the bytes its Parquet reader asked for (`bytes_scanned`:
/// the pages it decodes; the store may fetch more, merging nearby ranges).
async fn search(engine: &Arc<Engine>, sql: &str) -> (i64, u64) {
    let ctx = tenant_session(engine.clone(), &acme(), &SqlConfig::for_tests()).expect("session");
    let (batches, _, plan) = run_in(&ctx, sql).await;
    (count(&batches), metric(&plan, "bytes_scanned") as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rare_word_reads_a_fraction_of_the_pages_and_finds_every_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine, needles) = engine(dir.path());
    assert_eq!(needles, FILES * RECORDS / 40_000);
    let snap = engine
        .logs_snapshot(&acme(), i64::MIN, i64::MAX)
        .expect("snapshot");
    assert_eq!(snap.files.len(), FILES as usize);
    assert!(
        snap.files
            .iter()
            .all(|f| f.logs_summary().is_some_and(|s| s.line_filter().is_some()))
    );

    let q = |cond: &str| format!("SELECT count(*) FROM logs WHERE {cond}");
    let (all, all_bytes) = search(&engine, &q("strpos(body, 'served') > 0")).await;
    assert_eq!(all, (FILES * RECORDS) as i64);
    let (n, bytes) = search(&engine, &q("strpos(body, 'needle') > 0")).await;
    assert_eq!(n, needles as i64);
    let (like, like_bytes) = search(&engine, &q("body LIKE '%needle\"%'")).await;
    assert_eq!(like, needles as i64);
    // Either of two words: the rows of both.
    let (either, _) = search(
        &engine,
        &q("(strpos(body, 'needle') > 0 OR strpos(body, 'status=207') > 0)"),
    )
    .await;
    let truth = (0..FILES * RECORDS)
        .filter(|&i| {
            let l = line(i);
            l.contains("needle") || l.contains("status=207")
        })
        .count();
    assert_eq!(either, truth as i64);
    // A regex: the literals its matches start with.
    let (re, re_bytes) = search(&engine, &q("regexp_like(body, 'need(le|ful)')")).await;
    assert_eq!(re, needles as i64);
    assert!(re_bytes * 2 < all_bytes, "regex {re_bytes} of {all_bytes}");
    // Absent: no file read at all.
    let (none, none_bytes) = search(&engine, &q("strpos(body, 'no such word') > 0")).await;
    assert_eq!((none, none_bytes), (0, 0));
    println!("bytes read: 'served' {all_bytes}, 'needle' {bytes}, LIKE {like_bytes}");
    // One body page of ten per file, plus footers and page indexes.
    assert!(bytes * 2 < all_bytes, "needle {bytes} of {all_bytes}");
    assert!(
        like_bytes * 2 < all_bytes,
        "LIKE {like_bytes} of {all_bytes}"
    );
}

/// The rows of a query, as text, in `time` order.
/// The rows of a query, as text, in `time` order, its plan, and how many rows had their
/// attribute maps read in place (`map_rows_in_place`).
async fn rows(engine: &Arc<Engine>, sql: &str) -> (Vec<String>, String, usize) {
    let ctx = tenant_session(engine.clone(), &acme(), &SqlConfig::for_tests()).expect("session");
    let (batches, plan, exec) = run_in(&ctx, sql).await;
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .expect("format")
        .to_string();
    let in_place = metric(&exec, "map_rows_in_place");
    (text.lines().map(str::to_owned).collect(), plan, in_place)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_found_by_a_line_search_come_whole_with_their_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine, needles) = engine(dir.path());
    let q = |cond: &str| {
        format!(
            "SELECT time, service_name, body, severity_number, attributes, \
             resource_attributes FROM logs \
             WHERE {cond} AND service_name <> 'svc9' ORDER BY time"
        )
    };
    // Every file searched to the end: the rows are read with the lines the search found.
    let (found, plan, in_place) = rows(&engine, &q("strpos(body, 'needle') > 0")).await;
    assert!(plan.contains("LineLookupExec"), "{plan}");
    // Their attribute maps read from their pages in place.
    assert_eq!(in_place, needles as usize, "{plan}");
    // `>= 1` is no line lookup: the Parquet scan reads and filters every row.
    let (scanned, plain, _) = rows(&engine, &q("strpos(body, 'needle') >= 1")).await;
    assert!(!plain.contains("LineLookupExec"), "{plain}");
    assert_eq!(found, scanned);
    assert!(
        found
            .iter()
            .any(|r| r.contains("k2: ") && r.contains("host.name: h"))
    );
    assert_eq!(found.len(), needles as usize + 4, "{found:?}");
    // Only the columns the filters and the answer need; none but `body`.
    let ctx = tenant_session(engine.clone(), &acme(), &SqlConfig::for_tests()).expect("session");
    let (batches, _, _) = run_in(
        &ctx,
        "SELECT body FROM logs WHERE strpos(body, 'needle') > 0",
    )
    .await;
    let lines: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let a = b.column(0).as_string::<i32>().clone();
            (0..b.num_rows()).map(move |i| a.value(i).to_owned())
        })
        .collect();
    assert_eq!(lines.len(), needles as usize);
    assert!(lines.iter().all(|l| l.contains("needle")), "{lines:?}");
}
