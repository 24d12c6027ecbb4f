//! A log query whose selector names a label other than `service_name` opens no file whose
//! summary has no stream it selects (`query/src/logql/summary.rs`, `none_selected`):
//! measured by the bytes the session's object store hands out per file.

mod common;

use std::sync::Arc;

use strata_engine::{AnyValue, Engine, EngineConfig, LogRecord, ManualClock};
use strata_query::logql::{Direction, Expr, Limits, LogOptions, Stream, parse, select_logs};
use strata_query::sql::{SqlConfig, tenant_session};

use common::counting_store::CountingStore;
use common::{MINUTE, T0, acme};

const HOURS: i64 = 3;
const RECORDS: i64 = 5_000;

/// One flushed file per hour; only hour 1's records carry `k8s.namespace.name = "two"`.
fn engine(dir: &std::path::Path) -> Arc<Engine> {
    let clock = ManualClock::new(T0 + (HOURS + 1) * 60 * MINUTE);
    let engine = Engine::open_with_clock(dir, EngineConfig::default(), clock).expect("open");
    for h in 0..HOURS {
        let namespace = if h == 1 { "two" } else { "other" };
        let resource = Arc::new(vec![
            ("service.name".to_owned(), AnyValue::String("shop".into())),
            (
                "k8s.namespace.name".to_owned(),
                AnyValue::String(namespace.into()),
            ),
        ]);
        let base = (T0 + h * 60 * MINUTE) * 1_000_000;
        let logs: Vec<LogRecord> = (0..RECORDS)
            .map(|i| LogRecord {
                time_ns: base + i * 1_000_000,
                service_name: "shop".into(),
                body: Some(AnyValue::String(format!("line {h} {i}"))),
                resource_attributes: resource.clone(),
                ..LogRecord::default()
            })
            .collect();
        assert_eq!(
            engine.write_logs(&acme(), &logs).expect("write").accepted,
            RECORDS as u64
        );
        engine.flush().expect("flush");
    }
    Arc::new(engine)
}

/// The bytes of a Parquet file's footer: its metadata, their length and the magic.
fn footer(key: &str) -> u64 {
    let data = std::fs::read(format!("/{key}")).expect("read file");
    let at = data.len() - 8;
    u64::from(u32::from_le_bytes(
        data[at..at + 4].try_into().expect("4 bytes"),
    )) + 8
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_without_a_selected_stream_are_not_opened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = engine(dir.path());
    let files: Vec<String> = engine
        .logs_snapshot(&acme(), i64::MIN, i64::MAX)
        .expect("snapshot")
        .files
        .iter()
        .map(|f| {
            f.path()
                .to_string_lossy()
                .trim_start_matches('/')
                .to_owned()
        })
        .collect();
    assert_eq!(files.len(), HOURS as usize);
    let run = |q: &str| {
        let engine = engine.clone();
        let q = q.to_owned();
        async move {
            let ctx = tenant_session(engine, &acme(), &SqlConfig::for_tests()).expect("session");
            let read = CountingStore::install(&ctx);
            let streams = select(&ctx, &q, 100_000, Direction::Backward).await;
            let entries: usize = streams.iter().map(|s| s.entries.len()).sum();
            let read = read.lock().expect("counts").clone();
            (entries, read)
        }
    };
    let (n, read) = run(r#"{k8s_namespace_name="two"}"#).await;
    assert_eq!(n, RECORDS as usize);
    // Hour 1's file is read; hour 2's, which starts where the window ends, at most its
    // footer (the scan's time statistics rule it out); hour 0's not at all.
    assert!(
        read.get(&files[1]).is_some_and(|b| *b > footer(&files[1])),
        "{read:?}"
    );
    assert!(
        read.get(&files[2]).is_none_or(|b| *b <= footer(&files[2])),
        "{read:?}"
    );
    assert_eq!(read.get(&files[0]), None, "{read:?}");
    // Nowhere: no file opened.
    let (n, read) = run(r#"{k8s_namespace_name="three"}"#).await;
    assert_eq!((n, read.values().sum::<u64>()), (0, 0));
    // Everywhere: every file read.
    let (n, read) = run(r#"{service_name="shop"}"#).await;
    assert_eq!(n, (HOURS * RECORDS) as usize);
    assert!(
        files.iter().all(|f| read.get(f).is_some_and(|b| *b > 0)),
        "{read:?}"
    );
}

/// The streams a log query over all hours returns.
async fn select(
    ctx: &datafusion::prelude::SessionContext,
    q: &str,
    limit: usize,
    direction: Direction,
) -> Vec<Stream> {
    let Ok(Expr::Log(expr)) = parse(q) else {
        panic!("{q} is a log query");
    };
    let opts = LogOptions {
        limit,
        direction,
        categorize: false,
        interval_ns: 0,
    };
    let range = (T0 * 1_000_000, (T0 + HOURS * 60 * MINUTE) * 1_000_000);
    let config = SqlConfig::for_tests();
    select_logs(ctx, &config, &Limits::default(), &expr, range, &opts)
        .await
        .expect("query")
        .0
}

/// The times of the entries a log query returns, in its order, over all hours.
async fn times(engine: &Arc<Engine>, q: &str, limit: usize, direction: Direction) -> Vec<i64> {
    let ctx = tenant_session(engine.clone(), &acme(), &SqlConfig::for_tests()).expect("session");
    let mut ts: Vec<i64> = select(&ctx, q, limit, direction)
        .await
        .iter()
        .flat_map(|s| s.entries.iter().map(|e| e.ts_ns))
        .collect();
    ts.sort_unstable();
    if direction == Direction::Backward {
        ts.reverse();
    }
    ts
}

/// Windows grow past one hour when the hours read held few entries (`next_hours` in
/// `query/src/logql/logs.rs`): the answer is still the `limit` entries nearest the end the
/// direction starts from, whichever windows they were read in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_across_grown_windows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = engine(dir.path());
    let at = |h: i64, i: i64| (T0 + h * 60 * MINUTE + i) * 1_000_000;
    // Every record: the first hour read fills most of the limit, the next one the rest.
    let all = r#"{service_name="shop"} |= "line""#;
    let newest: Vec<i64> = (0..7_000)
        .map(|k| {
            if k < 5_000 {
                at(2, 4_999 - k)
            } else {
                at(1, 9_999 - k)
            }
        })
        .collect();
    assert_eq!(
        times(&engine, all, 7_000, Direction::Backward).await,
        newest
    );
    let oldest: Vec<i64> = (0..7_000)
        .map(|k| {
            if k < 5_000 {
                at(0, k)
            } else {
                at(1, k - 5_000)
            }
        })
        .collect();
    assert_eq!(times(&engine, all, 7_000, Direction::Forward).await, oldest);
    // One record an hour: after the first hour, the other two are read in one window.
    let rare = r#"{service_name="shop"} |~ "line [0-9] 42$""#;
    let three = vec![at(2, 42), at(1, 42), at(0, 42)];
    assert_eq!(times(&engine, rare, 100, Direction::Backward).await, three);
    assert_eq!(
        times(&engine, rare, 2, Direction::Backward).await,
        three[..2]
    );
    let mut forward = three.clone();
    forward.reverse();
    assert_eq!(times(&engine, rare, 100, Direction::Forward).await, forward);
    assert_eq!(
        times(&engine, rare, 1, Direction::Forward).await,
        forward[..1]
    );
}
