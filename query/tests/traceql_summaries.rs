//! A TraceQL search answers the same with the spans summaries as without them, over six
//! hours of several services (one hour with two files, one still in memory): the hours
//! whose summaries prove no span meets the query are skipped (a query no span meets reads
//! only the hour in memory), and files without a summary (an older version's, or one
//! lost) or with a damaged one are read, every answer unchanged.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use strata_engine::{AnyValue, Engine, EngineConfig, ManualClock, SpanRecord, TenantId};
use strata_query::sql::SqlConfig;
use strata_query::traceql::{SearchParams, SearchStats, TraceMatch, parse, search_with_stats};

/// 2025-01-01T00:00:00Z in ns.
const T0: i64 = 1_735_689_600 * 1_000_000_000;
const S: i64 = 1_000_000_000;
const H: i64 = 3_600 * S;

fn acme() -> TenantId {
    TenantId::new("acme").expect("tenant")
}

fn open(dir: &Path) -> Arc<Engine> {
    let clock = Arc::new(ManualClock::new((T0 + 7 * H) / 1_000_000));
    let config = EngineConfig {
        // No background pass builds summaries while the test looks.
        maintenance_interval: Duration::from_secs(3_600),
        ..EngineConfig::default()
    };
    Arc::new(Engine::open_with_clock(dir, config, clock).expect("open"))
}

fn s(v: &str) -> AnyValue {
    AnyValue::String(v.into())
}

/// Trace `n` of hour `hour`: a root span of `service` and two children. `api` spans carry
/// `http.response.status_code` (503 with an error status in hour 3, else 200) and
/// `http.route`; `grpc-*` spans `rpc.method` (and in hour 4 `grpc-a`'s resource
/// `tier=gold`); `worker` spans `job.priority` (9.5 in hour 1, else 1.5). Trace `n`'s
/// service is `api`, `grpc-a`, `grpc-b`, `worker` by `n % 4`; the error is trace 4's third
/// span, the high priority trace 3's.
fn trace(hour: i64, n: u8, service: &str) -> Vec<SpanRecord> {
    let mut resource = vec![("service.name".to_owned(), s(service))];
    if service == "grpc-a" && hour == 4 {
        resource.push(("tier".into(), s("gold")));
    }
    let resource = Arc::new(resource);
    let id = [hour as u8 + 1, n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
    (1..=3u8)
        .map(|k| {
            let start = T0 + hour * H + i64::from(n) * 60 * S + i64::from(k) * 1_000;
            let mut attributes = Vec::new();
            let mut status = 0;
            let name = match service {
                "api" => {
                    let error = hour == 3 && k == 3 && n == 4;
                    status = if error { 2 } else { 0 };
                    attributes.push((
                        "http.response.status_code".to_owned(),
                        AnyValue::Int(if error { 503 } else { 200 }),
                    ));
                    attributes.push(("http.route".into(), s(&format!("/r{k}"))));
                    format!("GET /r{k}")
                }
                "worker" => {
                    let p = if hour == 1 && n == 3 { 9.5 } else { 1.5 };
                    attributes.push(("job.priority".into(), AnyValue::Double(p)));
                    "job".into()
                }
                _ => {
                    attributes.push(("rpc.method".into(), s("Get")));
                    format!("{service}/Get")
                }
            };
            SpanRecord {
                trace_id: id,
                span_id: [n, k, 0, 0, 0, 0, 0, hour as u8],
                parent_span_id: (k > 1).then_some([n, 1, 0, 0, 0, 0, 0, hour as u8]),
                service_name: service.into(),
                name,
                kind: 2,
                start_ns: start,
                end_ns: start + i64::from(k) * 1_000_000,
                status_code: status,
                attributes,
                resource_attributes: resource.clone(),
                ..SpanRecord::default()
            }
        })
        .collect()
}

fn hour(h: i64, from: u8) -> Vec<SpanRecord> {
    let services = ["api", "grpc-a", "grpc-b", "worker"];
    (from..from + 8)
        .flat_map(|n| trace(h, n, services[n as usize % 4]))
        .collect()
}

/// Hours 0-4 flushed (hour 2 in two files), hour 5 in memory.
fn fill(engine: &Engine) {
    let t = acme();
    let flushed: Vec<SpanRecord> = (0..5).flat_map(|h| hour(h, 0)).collect();
    engine.write_spans(&t, &flushed).expect("write");
    engine.flush().expect("flush");
    engine.write_spans(&t, &hour(2, 8)).expect("write");
    engine.flush().expect("flush");
    engine.write_spans(&t, &hour(5, 0)).expect("write");
}

const QUERIES: [&str; 14] = [
    // No span meets these.
    r#"{ resource.service.name = "grpc-a" && span.http.response.status_code >= 500 }"#,
    "{ span.job.priority > 20 }",
    r#"{ name =~ "GET.*" && resource.service.name = "grpc-b" }"#,
    r#"{ resource.service.name = "api" } >> { span.rpc.method = "Put" }"#,
    // One hour only.
    "{ span.http.response.status_code >= 500 }",
    "{ status = error }",
    r#"{ .tier = "gold" }"#,
    "{ span.job.priority > 9 }",
    r#"{ resource.tier = "gold" && span.rpc.method = "Get" } | count() > 2"#,
    // Several hours, or undecided.
    r#"{ span.http.route != "/r1" && resource.service.name = "api" }"#,
    r#"{ span.rpc.method =~ "G.t" }"#,
    "{ span.rpc.method = nil }",
    "{ duration > 2ms }",
    "{ }",
];

/// Each query's answer over the six hours, and what the search read.
async fn answers(engine: &Arc<Engine>) -> Vec<(Vec<TraceMatch>, SearchStats)> {
    let p = SearchParams {
        start_ns: T0,
        end_ns: T0 + 6 * H - 1,
        limit: 100,
        spans_per_spanset: 10,
    };
    let mut out = Vec::new();
    for q in QUERIES {
        let parsed = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let got = search_with_stats(engine, &acme(), &SqlConfig::for_tests(), &parsed, &p)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        out.push(got);
    }
    out
}

/// The summary files under `dir`, each with its spans file's hour (sorted).
fn summaries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if p.is_dir() {
                todo.push(p);
            } else if name.starts_with("spans-") && name.ends_with(".sum") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn traces(found: &[TraceMatch]) -> Vec<[u8; 16]> {
    found.iter().map(|m| m.trace_id).collect()
}

#[tokio::test]
async fn searches_answer_the_same_with_and_without_summaries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path());
    fill(&engine);
    let with = answers(&engine).await;
    assert_eq!(summaries(dir.path()).len(), 6, "one per flushed file");

    // What each query found, and the hours it skipped.
    let found: Vec<usize> = with.iter().map(|(f, _)| f.len()).collect();
    assert_eq!(found, [0, 0, 0, 0, 1, 1, 2, 1, 2, 14, 28, 28, 56, 56]);
    let skipped: Vec<usize> = with.iter().map(|(_, s)| s.hours_skipped).collect();
    assert_eq!(skipped, [5, 5, 5, 5, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0]);
    assert!(with.iter().all(|(_, s)| s.hours == 6));
    let hours_of = |i: usize| -> Vec<u8> { traces(&with[i].0).iter().map(|t| t[0] - 1).collect() };
    assert_eq!(hours_of(4), [3]);
    assert_eq!(hours_of(6), [4, 4]);
    assert_eq!(hours_of(7), [1]);
    Arc::into_inner(engine)
        .expect("one handle")
        .close()
        .expect("close");

    // Without summaries (as an older version left its files): every hour read, the
    // same answers.
    for p in summaries(dir.path()) {
        std::fs::remove_file(p).expect("remove");
    }
    let engine = open(dir.path());
    let without = answers(&engine).await;
    for ((q, a), b) in QUERIES.iter().zip(&with).zip(&without) {
        assert_eq!(a.0, b.0, "{q}");
        assert_eq!(b.1.hours_skipped, 0, "{q}");
    }

    // Built again by maintenance; one lost, one damaged: those hours are read.
    // Hour 5's spans were flushed by the close.
    assert_eq!(engine.build_span_summaries(), 7);
    let files = summaries(dir.path());
    std::fs::remove_file(&files[0]).expect("remove");
    let mut bytes = std::fs::read(&files[1]).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&files[1], bytes).expect("write");
    let mixed = answers(&engine).await;
    for ((q, a), b) in QUERIES.iter().zip(&with).zip(&mixed) {
        assert_eq!(a.0, b.0, "{q}");
    }
    assert_eq!(mixed[0].1.hours_skipped, 4, "hours 2-5");
    Arc::into_inner(engine)
        .expect("one handle")
        .close()
        .expect("close");
}
