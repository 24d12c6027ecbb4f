//! Processes over one bucket on loopback (`docs/scale-out.md`), on a real S3-compatible
//! server (moto, installed by `.ci/test.sh`): a writer, three workers (`--role worker`), a
//! query process spreading its SQL scans over them (`[cluster] workers`) and, as the
//! single-process reference, a query process without workers. The distributed one answers
//! a set of SQL queries, PromQL, LogQL and the Jaeger lookups exactly as the writer and the
//! reference do (native histograms included), the workers did the scans (they fetched data files), a query process
//! without the cluster token is refused by the workers, and a worker that dies while
//! queries run fails none of them, over the SQL API or Flight SQL: what it failed is
//! planned again over the workers still up, and in the query process alone once all are gone.

mod bucket;
mod common;

use serde_json::Value as Json;
use strata_tests::moto::{Moto, free_port, storage_section, until};
use strata_tests::server::Server;

const BUCKET: &str = "strata-cluster";

/// SQL that scans every signal's files: aggregates, groups, a join, filters, a lookup.
const SQL_SET: [&str; 8] = [
    "SELECT count(*) AS n, sum(value) AS s, min(ts) AS lo, max(ts) AS hi FROM samples",
    "SELECT metric, count(*) AS n, avg(value) AS a FROM metrics GROUP BY metric ORDER BY metric",
    "SELECT service_name, count(*) AS n FROM logs GROUP BY service_name ORDER BY service_name",
    "SELECT count(*) AS n FROM logs WHERE body LIKE '%line 17%'",
    "SELECT body FROM logs WHERE body = 'round 1 line 3' ORDER BY body",
    "SELECT name, count(*) AS n, min(start_time) AS first FROM spans GROUP BY name ORDER BY name",
    "SELECT name, span_id FROM spans WHERE trace_id = X'0000000000000000000000005b8e0001' \
     ORDER BY span_id",
    "SELECT s.series_id, count(*) AS n FROM samples s JOIN series USING (series_id) \
     WHERE s.value > 150 GROUP BY s.series_id ORDER BY s.series_id",
];

fn config(port: u16, cluster: &str) -> String {
    format!(
        "{}cache_bytes = 1048576\n[cluster]\n{cluster}\n",
        storage_section(port, BUCKET, "c")
    )
}

fn sql_answers(server: &Server) -> Vec<Json> {
    SQL_SET.iter().map(|q| bucket::sql(server, q)).collect()
}

#[test]
fn a_query_spread_over_three_workers_answers_as_one_process() {
    let port = free_port();
    let _moto = Moto::start(port, BUCKET);
    let dirs: Vec<_> = (0..7).map(|_| tempfile::tempdir().expect("dir")).collect();
    // The workers and the distributed query process share a cluster token.
    let token = |name: &str, secret: &str| {
        let path = dirs[0].path().join(name);
        std::fs::write(&path, secret).expect("token file");
        format!("token_file = {:?}", path.display().to_string())
    };
    let (good, wrong) = (
        token("cluster-token", "cluster-token-0123456789"),
        token("wrong-token", "another-token-0123456789"),
    );
    let writer = Server::start(
        common::bin(),
        dirs[0].path(),
        &format!(
            // No RED metrics from the spans: written every 15 s, they would change the
            // answers between the reference and the later comparisons.
            "[engine]\nflush_interval = \"1s\"\n[derived]\nenabled = false\n{}",
            storage_section(port, BUCKET, "c")
        ),
    );
    writer.wait_ready(common::READY);
    let workers: Vec<Server> = (1..4)
        .map(|i| {
            Server::start(
                common::bin(),
                dirs[i].path(),
                &config(port, &format!("role = \"worker\"\n{good}")),
            )
        })
        .collect();
    let urls: Vec<String> = workers
        .iter()
        .map(|w| format!("\"http://{}\"", w.grpc))
        .collect();
    let distributed = Server::start(
        common::bin(),
        dirs[4].path(),
        &config(
            port,
            &format!(
                "role = \"query\"\nworkers = [{}]\nbytes_per_partition = 1\n{good}",
                urls.join(", ")
            ),
        ),
    );
    let intruder = Server::start(
        common::bin(),
        dirs[6].path(),
        &config(
            port,
            &format!(
                "role = \"query\"\nworkers = [{}]\nbytes_per_partition = 1\n{wrong}",
                urls.join(", ")
            ),
        ),
    );
    let single = Server::start(
        common::bin(),
        dirs[5].path(),
        &config(port, "role = \"query\""),
    );
    for s in workers.iter().chain([&distributed, &single, &intruder]) {
        s.wait_ready(common::READY);
    }

    // Three rounds, each flushed into file sets of its own, so scans have files to split.
    let t = common::now_ms() - 120_000;
    for r in 0..3u8 {
        bucket::ingest(&writer, t + i64::from(r) * 40_000, r);
        std::thread::sleep(std::time::Duration::from_millis(1_500));
    }
    let mut expected = (Vec::new(), Vec::new());
    until("the query processes to agree with the writer", || {
        expected = (bucket::answers(&writer, t, 3), sql_answers(&writer));
        bucket::answers(&single, t, 3) == expected.0 && sql_answers(&single) == expected.1
    });
    // Real answers: 90 samples, 120 lines, 18 spans in three traces.
    assert_eq!(expected.1[0][0]["n"], 90, "{:?}", expected.1);
    assert_eq!(expected.1[2][0]["n"], 120, "{:?}", expected.1);
    assert_eq!(expected.1[6].as_array().map(Vec::len), Some(6));
    assert_eq!(expected.1[4].as_array().map(Vec::len), Some(1));
    // 18 native histograms (4 positive and 1 negative bucket each), read by PromQL and by
    // both SQL tables, on the workers too.
    let h = bucket::native_answers(3).start;
    assert_eq!(expected.0[h + 2][0]["n"], 18, "{:?}", expected.0[h + 2]);
    // Each histogram's 4 positive buckets and its zero bucket, then its negative one.
    assert_eq!(expected.0[h + 3][0]["n"], 90, "{:?}", expected.0[h + 3]);
    assert_eq!(expected.0[h + 3][1]["n"], 18, "{:?}", expected.0[h + 3]);
    // histogram_count + histogram_sum of the last histogram (n = 26): 4 n + 1 + 2.5 n.
    let values = expected.0[h]["result"][0]["values"]
        .as_array()
        .expect("a series");
    assert_eq!(
        values.last().map(|v| &v[1]),
        Some(&Json::from("170")),
        "{values:?}"
    );

    // The distributed process: the same answers, every API.
    assert_eq!(sql_answers(&distributed), expected.1);
    assert_eq!(bucket::answers(&distributed, t, 3), expected.0);
    // The scans ran on the workers: they fetched data files into their caches (each file
    // into one worker's: `query/tests/sql_distributed.rs` counts them).
    let fetched: f64 = workers
        .iter()
        .map(|w| bucket::metric(w, "strata_reader_cache_misses_total"))
        .sum();
    assert!(fetched > 0.0, "the workers read no data file");
    // A query process with another token: the workers refuse its tasks, and it says so.
    let r = intruder
        .post("/api/v1/sql", &[], SQL_SET[0].as_bytes())
        .expect("sql");
    assert!(r.status >= 500, "{}: {}", r.status, r.text());
    assert!(r.text().contains("not the cluster token"), "{}", r.text());

    // A worker is a query process too: it answers, and refuses writes.
    assert_eq!(sql_answers(&workers[0]), expected.1);
    bucket::assert_push_refused(&workers[0]);

    workers_die_one_then_all(&distributed, workers, &expected.1);
    assert_eq!(sql_answers(&single), expected.1);
}

/// One of `workers` dies while queries run on `distributed`, then the others: every query
/// answers `expected` all along, over the SQL API and Flight SQL.
fn workers_die_one_then_all(distributed: &Server, mut workers: Vec<Server>, expected: &[Json]) {
    // A worker dies while queries run, then stays gone: what it failed is planned again
    // over the other two (before its first row) or run in the query process (a stream
    // broken after rows went out; which one depends on when the kill lands), and the
    // other two alone take the queries that follow.
    a_dying_worker_fails_no_query(distributed, workers.remove(2), &expected[0]);
    assert_eq!(sql_answers(distributed), expected);
    let recovered = bucket::metric(distributed, "strata_sql_worker_retries_total")
        + bucket::metric(distributed, "strata_sql_worker_local_runs_total");
    assert!(
        recovered > 0.0,
        "no query was planned again or run here after the worker died"
    );
    let tasks = |ws: &[Server]| -> f64 {
        ws.iter()
            .map(|w| bucket::metric(w, "strata_sql_worker_tasks_total"))
            .sum()
    };
    let (tasks_before, local_before) = (
        tasks(&workers),
        bucket::metric(distributed, "strata_sql_worker_local_runs_total"),
    );
    // Flight SQL (ADBC's driver) too: its result streams, so it is started again before
    // any row goes out. (A worker found down is left out for 30 s, and found again by the
    // first query after: the gauge is read right after one.)
    assert_eq!(
        flight_sql_count(distributed, SQL_SET[0]),
        expected[0][0]["n"]
    );
    assert_eq!(bucket::metric(distributed, "strata_sql_workers_down"), 1.0);
    assert!(
        tasks(&workers) > tasks_before,
        "the workers still up took no task"
    );
    // The last two die: queries run in the query process alone.
    workers.drain(..).for_each(Server::kill);
    assert_eq!(
        flight_sql_count(distributed, SQL_SET[0]),
        expected[0][0]["n"]
    );
    assert_eq!(bucket::metric(distributed, "strata_sql_workers_down"), 3.0);
    assert_eq!(sql_answers(distributed), expected);
    let local_runs = bucket::metric(distributed, "strata_sql_worker_local_runs_total");
    assert!(
        local_runs > local_before,
        "no query ran in the query process with no worker up"
    );
}

/// The column `n` of `sql`'s one row, read over Flight SQL with ADBC's driver.
fn flight_sql_count(server: &Server, sql: &str) -> Json {
    let script = "import sys, adbc_driver_flightsql.dbapi as f\n\
                  c = f.connect('grpc://' + sys.argv[1], autocommit=True).cursor()\n\
                  c.execute(sys.argv[2])\n\
                  print(c.fetch_arrow_table().column('n')[0].as_py())\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script, &server.grpc.to_string(), sql])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "Flight SQL: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).expect("a number")
}

/// Every query still answers, and answers right, while `gone` dies and after: a query a
/// worker failed is planned again without it, and each such retry is counted.
fn a_dying_worker_fails_no_query(distributed: &Server, gone: Server, expected: &Json) {
    let answers = std::thread::scope(|scope| {
        let runner = scope.spawn(|| {
            (0..12)
                .map(|_| {
                    let r = distributed
                        .post("/api/v1/sql", &[], SQL_SET[0].as_bytes())
                        .expect("sql");
                    (r.status, r.text())
                })
                .collect::<Vec<_>>()
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        gone.kill();
        runner.join().expect("queries")
    });
    for (status, text) in &answers {
        assert_eq!(*status, 200, "{text}");
        let got: Json = serde_json::from_str(text).expect("JSON");
        assert_eq!(&got, expected, "a wrong answer after the worker died");
    }
}
