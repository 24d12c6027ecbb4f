//! SQL spread over workers (`datafusion-distributed`, `docs/scale-out.md`): a writer mirrors
//! metrics, spans and logs to a bucket (the in-memory store); a query process and two
//! workers read it, each with a cache of its own; the workers serve the library's gRPC
//! service on loopback. A set of queries answers the same through them as on the writer,
//! the scans are split across the workers (each fetched files, and no file twice), every
//! task carries the cluster token (the workers refuse tasks without it), and a query a
//! worker that is gone failed is run again without it, with the same answer.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::util::pretty::pretty_format_batches;
use object_store::ObjectStore;
use object_store::memory::InMemory;
use strata_engine::{
    AnyValue, Engine, EngineConfig, Limits, LogRecord, ManualClock, ReaderConfig, RemoteConfig,
    Sample, SeriesSamples, SpanRecord, TenantId,
};
use strata_query::sql::{ClusterToken, SqlConfig, run_sql, tenant_session, worker};

const HOUR: i64 = 3_600_000;
/// 2025-11-21T00:00:00Z
const DAY: i64 = 1_763_683_200_000;
const NS: i64 = 1_000_000;

fn limits() -> Limits {
    Limits {
        ingest_rate: 1e9,
        ingest_burst: 1e9,
        metrics_retention: Duration::from_secs(3650 * 86_400),
        logs_retention: Duration::from_secs(3650 * 86_400),
        traces_retention: Duration::from_secs(3650 * 86_400),
        ..Limits::default()
    }
}

fn reader(store: Arc<dyn ObjectStore>) -> EngineConfig {
    let mut r = ReaderConfig::new(store, "d");
    r.refresh = Duration::from_secs(3600);
    EngineConfig {
        limits: limits(),
        reader: Some(r),
        ..EngineConfig::default()
    }
}

/// `load{host="h<s>"}` for `s` below `hosts`: 60 samples 10 s apart from `base`, valued
/// `value(s, m)` for the `m`-th.
fn load(hosts: i64, base: i64, value: impl Fn(i64, i64) -> f64) -> Vec<SeriesSamples> {
    (0..hosts)
        .map(|s| SeriesSamples {
            labels: vec![
                ("__name__".into(), "load".into()),
                ("host".into(), format!("h{s}")),
            ],
            samples: (0..60)
                .map(|m| Sample {
                    ts: base + m * 10_000,
                    value: value(s, m),
                })
                .collect(),
        })
        .collect()
}

/// Four hours of metrics, spans and logs, flushed twice an hour, mirrored.
fn write(dir: &std::path::Path, store: Arc<dyn ObjectStore>, t: &TenantId) -> Engine {
    let mut remote = RemoteConfig::new(store, "d");
    remote.interval = Duration::from_secs(3600);
    let config = EngineConfig {
        limits: limits(),
        remote: Some(remote),
        ..EngineConfig::default()
    };
    let clock = Arc::new(ManualClock::new(DAY + 5 * HOUR));
    let w = Engine::open_with_clock(dir, config, clock).expect("writer");
    for round in 0..2i64 {
        for hour in 0..4i64 {
            let base = DAY + hour * HOUR + round * 1_800_000;
            w.write(t, &load(20, base, |s, m| (s * 100 + m) as f64))
                .expect("metrics");
            let logs: Vec<LogRecord> = (0..200)
                .map(|i| LogRecord {
                    time_ns: (base + i * 1000) * NS,
                    service_name: ["api", "db"][(i % 2) as usize].into(),
                    body: Some(AnyValue::String(format!("line {i} of hour {hour}"))),
                    ..LogRecord::default()
                })
                .collect();
            w.write_logs(t, &logs).expect("logs");
            let spans: Vec<SpanRecord> = (0..50u8)
                .map(|i| SpanRecord {
                    trace_id: [
                        i % 10,
                        hour as u8,
                        round as u8,
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
                    span_id: [i, hour as u8, round as u8, 0, 0, 0, 0, 1],
                    service_name: "shop".into(),
                    name: format!("op{}", i % 3),
                    start_ns: (base + i64::from(i) * 1000) * NS,
                    end_ns: (base + i64::from(i) * 1000 + 5) * NS,
                    ..SpanRecord::default()
                })
                .collect();
            w.write_spans(t, &spans).expect("spans");
        }
        w.flush().expect("flush");
    }
    // Samples sent again (a retried remote-write): their set overlaps hour 3's first, so
    // a scan of that hour merges the two (`DedupExec`), keeping the first values.
    w.write(t, &load(5, DAY + 3 * HOUR, |_, _| -1.0))
        .expect("metrics again");
    w.flush().expect("flush");
    w.sync_remote().expect("sync");
    w
}

const QUERIES: [&str; 6] = [
    "SELECT count(*) AS n, sum(value) AS s, min(ts) AS lo, max(ts) AS hi FROM samples",
    "SELECT series_id, avg(value) AS a FROM samples GROUP BY series_id ORDER BY series_id",
    "SELECT service_name, count(*) AS n FROM logs GROUP BY service_name ORDER BY service_name",
    "SELECT name, count(*) AS n, min(start_time) AS first FROM spans GROUP BY name ORDER BY name",
    "SELECT count(*) AS n FROM logs WHERE body LIKE '%line 17 of%'",
    "SELECT name, span_id FROM spans WHERE trace_id = X'03020100000000000000000000000001' ORDER BY span_id",
];

async fn answers(engine: Arc<Engine>, t: &TenantId, config: &SqlConfig) -> Vec<String> {
    let ctx = tenant_session(engine, t, config).expect("session");
    let mut out = Vec::new();
    for q in QUERIES {
        let batches = run_sql(&ctx, q, config)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        out.push(pretty_format_batches(&batches).expect("format").to_string());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_spread_over_two_workers_answer_as_one_process() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let dirs: Vec<_> = (0..5).map(|_| tempfile::tempdir().expect("dir")).collect();
    let t = TenantId::new("acme").expect("tenant");
    let writer = Arc::new(write(dirs[0].path(), store.clone(), &t));
    let config = SqlConfig::for_tests();
    let expected = answers(writer.clone(), &t, &config).await;
    assert!(expected[0].contains("| 7200 |"), "{}", expected[0]);
    // Hour 3's sets overlap: its samples are merged (and the copies sent again dropped).
    let ctx = tenant_session(writer.clone(), &t, &config).expect("session");
    let plan = run_sql(&ctx, "EXPLAIN SELECT count(*) FROM samples", &config)
        .await
        .expect("explain");
    let plan = pretty_format_batches(&plan).expect("format").to_string();
    assert!(plan.contains("DedupExec"), "{plan}");

    let open = |i: usize| {
        let clock = Arc::new(ManualClock::new(DAY + 5 * HOUR));
        Arc::new(
            Engine::open_with_clock(dirs[i].path(), reader(store.clone()), clock).expect("reader"),
        )
    };
    let (query, workers) = (open(1), [open(2), open(3)]);
    let mut urls = Vec::new();
    let mut servers = Vec::new();
    let token = ClusterToken::new("a-cluster-token-for-tests").expect("token");
    for w in &workers {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        urls.push(format!("http://{}", listener.local_addr().expect("addr")));
        let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
            .build_arc()
            .expect("runtime");
        // Every task must carry the cluster token: from the query process, and from a
        // worker reading another's stage.
        let service = worker(w.clone(), runtime, Some(&token))
            .expect("worker")
            .into_worker_server();
        let expected = format!("Bearer {}", token.secret());
        let service = tonic::service::interceptor::InterceptedService::new(
            service,
            move |req: tonic::Request<()>| {
                let given = req.metadata().get("authorization").map(|v| v.to_str());
                match given {
                    Some(Ok(v)) if v == expected => Ok(req),
                    _ => Err(tonic::Status::unauthenticated("no cluster token")),
                }
            },
        );
        servers.push(tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
        }));
    }
    let distributed = SqlConfig {
        workers: urls,
        // The data is small: a task per byte (capped at the workers) splits every scan.
        bytes_per_partition: 1,
        cluster_token: Some(token.clone()),
        ..SqlConfig::for_tests()
    };
    // Scans alone (no lookup), the merge of overlapping sets too: the workers fetch and
    // read the data files; the query process plans them by key and fetches none.
    let misses = |e: &Engine| e.reader_stats().expect("a reader").cache_misses;
    let ctx = tenant_session(query.clone(), &t, &distributed).expect("session");
    for q in [QUERIES[0], QUERIES[2], QUERIES[3]] {
        let batches = run_sql(&ctx, q, &distributed)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        assert!(!batches.is_empty(), "{q}");
    }
    assert_eq!(misses(&query), 0, "the query process fetched data files");
    assert!(
        workers.iter().all(|w| misses(w) > 0),
        "a worker read nothing"
    );
    // Each file was fetched by one worker only: together they fetched what one process
    // alone fetches for the same queries.
    let alone = open(4);
    let ctx_alone = tenant_session(alone.clone(), &t, &config).expect("session");
    for q in [QUERIES[0], QUERIES[2], QUERIES[3]] {
        run_sql(&ctx_alone, q, &config)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
    }
    let fetched = misses(&workers[0]) + misses(&workers[1]);
    assert_eq!(fetched, misses(&alone), "a file fetched by both workers");
    // And the same worker scans it at the next query: nothing is fetched again.
    for q in [QUERIES[0], QUERIES[2], QUERIES[3]] {
        run_sql(&ctx, q, &distributed)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
    }
    assert_eq!(
        misses(&workers[0]) + misses(&workers[1]),
        fetched,
        "a file moved to the other worker"
    );
    assert_eq!(answers(query.clone(), &t, &distributed).await, expected);
    // The scans ran on the workers: each fetched data files into its own cache.
    for w in &workers {
        let stats = w.reader_stats().expect("a reader");
        assert!(stats.cache_misses > 0, "a worker read nothing: {stats:?}");
    }

    // Without the token, the workers refuse the query's tasks.
    let tokenless = SqlConfig {
        cluster_token: None,
        ..distributed.clone()
    };
    let ctx = tenant_session(query.clone(), &t, &tokenless).expect("session");
    let e = run_sql(&ctx, QUERIES[0], &tokenless)
        .await
        .expect_err("tasks without the token");
    assert!(e.to_string().contains("no cluster token"), "{e}");

    // A worker gone: the query it fails is planned again without it (here, with one
    // worker left, in the query process) and answers the same; the worker is left out of
    // the queries that follow.
    servers[1].abort();
    let _ = (&mut servers[1]).await;
    let before = strata_query::sql::spread_stats();
    let ctx = tenant_session(query, &t, &distributed).expect("session");
    for _ in 0..2 {
        let batches = run_sql(&ctx, QUERIES[0], &distributed)
            .await
            .expect("a query a gone worker failed is run again");
        let text = pretty_format_batches(&batches).expect("format").to_string();
        assert_eq!(text, expected[0]);
    }
    let after = strata_query::sql::spread_stats();
    assert!(
        after.retries + after.local_runs > before.retries + before.local_runs,
        "{before:?} {after:?}"
    );
    assert!(after.down >= 1, "{after:?}");
}
