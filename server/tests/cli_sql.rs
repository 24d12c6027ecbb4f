//! `strata sql` on a data directory written by the real server (remote-write) and left by
//! a SIGTERM: the rows come back equal as CSV and JSON, the table shows the same cells, and
//! bad SQL, DDL and bad settings exit non-zero with the error on stderr.

mod common;
mod sql_common;

use std::path::Path;
use std::process::{Command, Output};

use sql_common::{ALL_ROWS, assert_rows, expected, from_csv, from_json, parse_csv};
use strata_tests::remote_write::{HEADERS, encode, node_and_http_series};
use strata_tests::server::{Server, data_dir};

fn strata_sql(data: &Path, extra: &[&str], query: &str) -> Output {
    Command::new(common::bin())
        .arg("sql")
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .arg(query)
        .output()
        .expect("spawn strata sql")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn sql_command_reads_what_a_stopped_server_wrote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let series = node_and_http_series(2, 20, common::now_ms());
    let protos: Vec<_> = series.iter().map(|s| s.to_proto()).collect();
    for batch in protos.chunks(40) {
        let r = server
            .post("/api/v1/write", &HEADERS, &encode(batch))
            .expect("remote-write");
        assert_eq!(r.status, 204, "{}", r.text());
    }
    assert!(server.terminate().success());
    let data = data_dir(dir.path());
    let want = expected(&series);

    let csv = strata_sql(&data, &["--tenant", "default", "--format", "csv"], ALL_ROWS);
    assert_rows(&from_csv(stdout(&csv).as_bytes()), &want, false, "csv");
    let json = strata_sql(&data, &["--format", "json"], ALL_ROWS);
    assert_rows(&from_json(stdout(&json).as_bytes()), &want, false, "json");

    // The table (the default format) shows the cells of the CSV, row for row.
    let query = "SELECT metric, ts, value FROM metrics WHERE metric LIKE 'node_%' ORDER BY metric, ts, value";
    let csv = parse_csv(&stdout(&strata_sql(&data, &["--format", "csv"], query)));
    let table = stdout(&strata_sql(&data, &[], query));
    let cells: Vec<Vec<String>> = table
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect();
    assert!(csv.len() > 100, "{} rows", csv.len());
    assert_eq!(cells.len(), csv.len(), "{table}");
    for (t, c) in cells.iter().zip(&csv) {
        assert_eq!(t, c, "{table}");
    }

    // Another tenant's catalog is empty; an empty table still has its header.
    let other = stdout(&strata_sql(&data, &["--tenant", "acme"], query));
    assert!(other.contains("| metric | ts | value |"), "{other}");
    assert_eq!(other.lines().filter(|l| l.starts_with('|')).count(), 1);

    for (args, query, needle) in [
        (&[][..], "SELEC 1", "SELEC"),
        (&[], "SELECT * FROM nope", "nope"),
        (&[], "CREATE TABLE t (a INT)", "not supported"),
        (&["--tenant", "a/b"], "SELECT 1", "tenant"),
        (&["--format", "yaml"], "SELECT 1", "yaml"),
    ] {
        let out = strata_sql(&data, args, query);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{query}: {err}");
        assert!(err.contains(needle), "{query}: want {needle:?} in {err}");
        assert!(out.stdout.is_empty(), "{query}");
    }
    // A relative data directory (the default is ./strata-data) reads the same Parquet files.
    let relative = Command::new(common::bin())
        .current_dir(dir.path())
        .args(["sql", "--data-dir", "data", "--format", "csv", ALL_ROWS])
        .output()
        .expect("spawn");
    assert_rows(
        &from_csv(stdout(&relative).as_bytes()),
        &want,
        false,
        "relative dir",
    );

    std::fs::write(dir.path().join("bad.toml"), "[sql]\ntimeout = \"0s\"\n").expect("write");
    let out = Command::new(common::bin())
        .args(["sql", "--config"])
        .arg(dir.path().join("bad.toml"))
        .arg("--data-dir")
        .arg(&data)
        .arg("SELECT 1")
        .output()
        .expect("spawn");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("sql.timeout"),
        "{err}"
    );
}

#[test]
fn offline_commands_never_apply_retention_to_the_directory_they_read() {
    // A server keeping metrics ten years holds data 60 days old.
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        common::bin(),
        dir.path(),
        "[retention]\nmetrics = \"3650d\"\n",
    );
    server.wait_ready(common::READY);
    let old = common::now_ms() - 60 * 86_400_000;
    let series = node_and_http_series(1, 10, old);
    let total: usize = series.iter().map(|s| s.samples.len()).sum();
    let protos: Vec<_> = series.iter().map(|s| s.to_proto()).collect();
    let r = server
        .post("/api/v1/write", &HEADERS, &encode(&protos))
        .expect("remote-write");
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(server.terminate().success());
    let data = data_dir(dir.path());

    // `strata sql` and `strata promql` without --config (the 30-day default) see all of it,
    // and leave it on disk.
    let count = "SELECT count(*) AS n FROM samples";
    for _ in 0..2 {
        let out = stdout(&strata_sql(&data, &["--format", "csv"], count));
        assert_eq!(out.trim(), format!("n\n{total}"), "{out}");
    }
    let promql = Command::new(common::bin())
        .args(["promql", "--format", "json", "--time"])
        .arg(format!("{}", old / 1000))
        .arg("--data-dir")
        .arg(&data)
        .arg("count(up)")
        .output()
        .expect("spawn strata promql");
    assert!(
        promql.status.success(),
        "{}",
        String::from_utf8_lossy(&promql.stderr)
    );
    let out = stdout(&strata_sql(&data, &["--format", "csv"], count));
    assert_eq!(
        out.trim(),
        format!("n\n{total}"),
        "after strata promql: {out}"
    );
}
