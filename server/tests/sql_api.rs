//! `POST /api/v1/sql` on the real `strata` binary: samples written with remote-write come
//! back equal in JSON, CSV and Arrow IPC; bad queries, DDL/DML, unknown formats and results
//! over their bounds are refused with a clear 4xx/503; auth and tenancy hold.

mod common;
mod sql_common;

use sql_common::{ALL_ROWS, assert_rows, expected, from_arrow, from_csv, from_json};
use strata_tests::STALE_NAN_BITS;
use strata_tests::http::Response;
use strata_tests::remote_write::{HEADERS, TestSeries, encode, node_and_http_series};
use strata_tests::server::Server;

const ARROW: &str = "application/vnd.apache.arrow.stream";

fn sql(server: &Server, headers: &[(&str, &str)], query: &str) -> Response {
    server
        .post("/api/v1/sql", headers, query.as_bytes())
        .expect("POST /api/v1/sql")
}

fn write(server: &Server, extra: &[(&str, &str)], series: &[TestSeries]) {
    let protos: Vec<_> = series.iter().map(|s| s.to_proto()).collect();
    let headers: Vec<_> = HEADERS
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect();
    for batch in protos.chunks(50) {
        let r = server
            .post("/api/v1/write", &headers, &encode(batch))
            .expect("remote-write");
        assert_eq!(r.status, 204, "{}", r.text());
    }
}

/// Values a text format must carry exactly: the staleness NaN, a repeating fraction, huge
/// and tiny magnitudes.
fn probe(end_ms: i64) -> TestSeries {
    let values = [
        f64::from_bits(STALE_NAN_BITS),
        0.1,
        1.0 / 3.0,
        1e300,
        -2.5e-308,
        f64::MAX,
        123_456_789.125,
    ];
    TestSeries {
        labels: vec![
            ("__name__".into(), "sql_probe".into()),
            ("quote".into(), "a \"b\", c".into()),
        ],
        samples: values
            .iter()
            .enumerate()
            .map(|(i, v)| (end_ms - 60_000 + i as i64 * 1_001, *v))
            .collect(),
    }
}

fn content_type(r: &Response) -> &str {
    r.header("content-type").unwrap_or("")
}

#[test]
fn sql_results_round_trip_in_json_csv_and_arrow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let mut series = node_and_http_series(2, 30, common::now_ms());
    series.push(probe(common::now_ms()));
    write(&server, &[], &series);
    let want = expected(&series);

    let r = sql(&server, &[], ALL_ROWS);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(content_type(&r), "application/json");
    assert_rows(&from_json(&r.body), &want, false, "json");

    let r = sql(&server, &[("Accept", "text/csv")], ALL_ROWS);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(content_type(&r).starts_with("text/csv"), "{r:?}");
    assert_rows(&from_csv(&r.body), &want, false, "csv");

    let r = sql(&server, &[("Accept", ARROW)], ALL_ROWS);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(content_type(&r), ARROW);
    assert_rows(&from_arrow(&r.body), &want, true, "arrow");

    // curl -d: a form with a query field; a WHERE clause and an aggregate.
    let form = "query=SELECT+count(*)+AS+n+FROM+metrics+WHERE+metric+%3D+%27sql_probe%27";
    let r = server
        .post(
            "/api/v1/sql",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form.as_bytes(),
        )
        .expect("form");
    assert_eq!(r.status, 200, "{}", r.text());
    let n = series.last().map_or(0, |s| s.samples.len());
    assert_eq!(r.text(), format!("[{{\"n\":{n}}}]"));

    // An empty result still names its columns in CSV and Arrow.
    let none = "SELECT metric, ts FROM metrics WHERE metric = 'absent'";
    let r = sql(&server, &[("Accept", "text/csv")], none);
    assert_eq!((r.status, r.text()), (200, "metric,ts\n".to_owned()));
    let r = sql(&server, &[("Accept", ARROW)], none);
    let reader = arrow::ipc::reader::StreamReader::try_new(&r.body[..], None).expect("ipc");
    assert_eq!(reader.schema().fields().len(), 2);
    assert_eq!(
        reader
            .map(|b| b.map(|b| b.num_rows()))
            .sum::<Result<usize, _>>()
            .ok(),
        Some(0)
    );
    let r = sql(&server, &[], none);
    assert_eq!((r.status, r.text()), (200, "[]".to_owned()));
    // curl -d 'SELECT ...': the bare query, labelled as a form.
    let curl_d = [("Content-Type", "application/x-www-form-urlencoded")];
    let r = sql(
        &server,
        &curl_d,
        "SELECT count(*) AS n FROM metrics WHERE metric = 'sql_probe'",
    );
    assert_eq!((r.status, r.text()), (200, format!("[{{\"n\":{n}}}]")));

    // Latency and status are in the request metrics under the route.
    let m = server.get("/metrics", &[]).expect("metrics").text();
    assert!(
        m.contains("strata_http_requests_total{endpoint=\"/api/v1/sql\",code=\"200\"} 8\n"),
        "{m}"
    );
    assert!(
        m.contains("strata_http_request_duration_seconds_count{endpoint=\"/api/v1/sql\"} 8\n"),
        "{m}"
    );
    assert!(server.terminate().success());
}

#[test]
fn sql_refusals_are_clear_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Nothing spills (the default spills to the data directory): the sort below is refused.
    let config = "[sql]\nmax_result_bytes = 4096\nmemory_pool_bytes = 1048576\nmax_spill_bytes = 0\ntimeout = \"2s\"\n";
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    let series = node_and_http_series(1, 40, common::now_ms());
    write(&server, &[], &series);
    let total: usize = series.iter().map(|s| s.samples.len()).sum();
    let count = "SELECT count(*) AS n FROM samples";
    let counted = |server: &Server| {
        let r = sql(server, &[], count);
        assert_eq!(r.status, 200, "{}", r.text());
        r.text()
    };
    assert_eq!(counted(&server), format!("[{{\"n\":{total}}}]"));

    let refused = |r: &Response, status: u16, needle: &str| {
        assert_eq!(r.status, status, "{}", r.text());
        assert_eq!(content_type(r), "text/plain; charset=utf-8");
        assert!(
            r.text().contains(needle),
            "want {needle:?} in {:?}",
            r.text()
        );
    };
    refused(&sql(&server, &[], "SELEC 1"), 400, "SELEC");
    refused(&sql(&server, &[], "SELECT * FROM nope"), 400, "nope");
    refused(&sql(&server, &[], "SELECT nope FROM samples"), 400, "nope");
    refused(&sql(&server, &[], ""), 400, "empty");

    // Read-only: DDL, DML, COPY and SET are refused and leave no trace.
    let copied = dir.path().join("copied.csv");
    let external = dir.path().join("external.csv");
    std::fs::write(&external, "a\n1\n").expect("write a csv");
    for ddl in [
        "CREATE TABLE t (a INT)".to_owned(),
        "CREATE VIEW v AS SELECT 1".to_owned(),
        format!(
            "CREATE EXTERNAL TABLE ext STORED AS CSV LOCATION '{}'",
            external.display()
        ),
        "INSERT INTO samples VALUES (1, now(), 1.0)".to_owned(),
        "DELETE FROM samples".to_owned(),
        "DROP TABLE samples".to_owned(),
        format!("COPY (SELECT * FROM samples) TO '{}'", copied.display()),
        "SET datafusion.execution.batch_size = 1".to_owned(),
    ] {
        let r = sql(&server, &[], &ddl);
        assert_eq!(r.status, 400, "{ddl}: {}", r.text());
        assert!(
            r.text().contains("not supported") || r.text().contains("Unsupported"),
            "{ddl}: {}",
            r.text()
        );
    }
    assert!(!copied.exists(), "COPY wrote {}", copied.display());
    assert_eq!(counted(&server), format!("[{{\"n\":{total}}}]"));

    refused(
        &sql(&server, &[("Accept", "text/html")], "SELECT 1"),
        406,
        "application/vnd.apache.arrow.stream",
    );
    let r = server
        .post(
            "/api/v1/sql",
            &[("Content-Type", "application/json")],
            b"{}",
        )
        .expect("post");
    refused(&r, 415, "text/plain");

    // Over sql.max_result_bytes: 422 in every format, while a result under it is fine.
    for accept in ["application/json", "text/csv", ARROW] {
        let r = sql(&server, &[("Accept", accept)], ALL_ROWS);
        refused(&r, 422, "sql.max_result_bytes");
    }
    let r = sql(
        &server,
        &[],
        "SELECT metric, ts, value FROM metrics LIMIT 5",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(from_rows(&r).len(), 5);

    // Over the memory budget (a sort of 3M rows in 1 MiB, nothing spills): 422.
    let sort = "SELECT value FROM generate_series(1, 3000000) ORDER BY value DESC";
    refused(
        &sql(&server, &[], sort),
        422,
        "memory budget of 1048576 bytes",
    );
    // Longer than sql.timeout: 503 with Retry-After. On a server with the default memory
    // pool: with 1 MiB, the repartition buffers of this streaming aggregate may exhaust the
    // pool (422) before the timeout, depending on scheduling.
    let roomy = tempfile::tempdir().expect("tempdir");
    let slow_server = Server::start(common::bin(), roomy.path(), "[sql]\ntimeout = \"2s\"\n");
    slow_server.wait_ready(common::READY);
    let slow = "SELECT max(value % 7) FROM generate_series(1, 100000000000)";
    let r = sql(&slow_server, &[], slow);
    refused(&r, 503, "timed out after 2s");
    assert_eq!(r.header("retry-after"), Some("1"));
    let m = slow_server.get("/metrics", &[]).expect("metrics").text();
    let line = "strata_http_requests_total{endpoint=\"/api/v1/sql\",code=\"503\"}";
    assert!(m.contains(line), "{line} in {m}");
    assert!(slow_server.terminate().success());

    assert_eq!(counted(&server), format!("[{{\"n\":{total}}}]"));
    let m = server.get("/metrics", &[]).expect("metrics").text();
    for code in [400, 406, 415, 422] {
        let line =
            format!("strata_http_requests_total{{endpoint=\"/api/v1/sql\",code=\"{code}\"}}");
        assert!(m.contains(&line), "{line} in {m}");
    }
    assert!(server.terminate().success());
}

fn from_rows(r: &Response) -> Vec<serde_json::Value> {
    serde_json::from_slice(&r.body).expect("JSON rows")
}

// sha256 of "acme-rw", "globex-rw", "acme-writer".
const AUTH: &str = r#"
[[auth.tokens]]
sha256 = "SHA_ACME"
tenant = "acme"
scopes = ["read", "write"]
[[auth.tokens]]
sha256 = "SHA_GLOBEX"
tenant = "globex"
scopes = ["read", "write"]
[[auth.tokens]]
sha256 = "SHA_WRITER"
tenant = "acme"
scopes = ["write"]
"#;

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

#[test]
fn sql_needs_a_read_token_and_sees_its_tenant_only() {
    let config = AUTH
        .replace("SHA_ACME", &sha256_hex("acme-rw"))
        .replace("SHA_GLOBEX", &sha256_hex("globex-rw"))
        .replace("SHA_WRITER", &sha256_hex("acme-writer"));
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), &config);
    server.wait_ready(common::READY);
    let now = common::now_ms();
    let acme_auth = [("Authorization", "Bearer acme-rw")];
    let globex_auth = [("Authorization", "Bearer globex-rw")];
    // Both tenants have a series of the same name; globex has more.
    let mut acme = node_and_http_series(1, 10, now);
    acme.push(probe(now));
    let mut globex = node_and_http_series(2, 12, now);
    globex.push(TestSeries {
        labels: vec![
            ("__name__".into(), "sql_probe".into()),
            ("tenant".into(), "globex".into()),
        ],
        samples: vec![(now - 5_000, 42.0)],
    });
    write(&server, &acme_auth, &acme);
    write(&server, &globex_auth, &globex);

    let r = sql(&server, &[], "SELECT 1");
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.header("www-authenticate").is_some());
    let r = sql(&server, &[("Authorization", "Bearer wrong")], "SELECT 1");
    assert_eq!(r.status, 401, "{}", r.text());
    let r = sql(
        &server,
        &[("Authorization", "Bearer acme-writer")],
        "SELECT 1",
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("read"), "{}", r.text());
    let r = sql(
        &server,
        &[
            ("Authorization", "Bearer acme-rw"),
            ("X-Scope-OrgID", "globex"),
        ],
        "SELECT 1",
    );
    assert_eq!(r.status, 403, "{}", r.text());

    let r = sql(&server, &acme_auth, ALL_ROWS);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_rows(&from_json(&r.body), &expected(&acme), false, "acme");
    let r = sql(&server, &globex_auth, ALL_ROWS);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_rows(&from_json(&r.body), &expected(&globex), false, "globex");
    let r = sql(&server, &acme_auth, "SELECT count(*) AS n FROM series");
    assert_eq!(r.text(), format!("[{{\"n\":{}}}]", acme.len()));
    assert!(server.terminate().success());
}
