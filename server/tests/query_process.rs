//! A query process (`strata serve --role query`) over the bucket a writer mirrors to, on a
//! real S3-compatible server on loopback (moto, installed by `.ci/test.sh`): once the
//! writer has flushed and mirrored, the query process answers PromQL, SQL, the Jaeger and
//! the Loki APIs exactly as the writer does; it follows new writes, refuses writes of its
//! own with 403, and keeps answering with the writer gone.

mod bucket;
mod common;

use std::time::Duration;

use bucket::{answers, ingest, metric};
use strata_tests::moto::{Moto, free_port, storage_section, until};
use strata_tests::remote_write::{HEADERS, TestSeries, encode};
use strata_tests::server::Server;

const BUCKET: &str = "strata-query";

fn writer_config(port: u16) -> String {
    format!(
        "[engine]\nflush_interval = \"1s\"\n{}",
        storage_section(port, BUCKET, "q")
    )
}

fn query_config(port: u16) -> String {
    format!(
        "{}cache_bytes = 1048576\n[cluster]\nrole = \"query\"\n",
        storage_section(port, BUCKET, "q")
    )
}

#[test]
fn a_query_process_answers_from_the_bucket_as_the_writer_does() {
    let port = free_port();
    let _moto = Moto::start(port, BUCKET);
    let (wdir, qdir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let writer = Server::start(common::bin(), wdir.path(), &writer_config(port));
    writer.wait_ready(common::READY);
    let t = common::now_ms() - 120_000;
    ingest(&writer, t, 0);

    let query = Server::start(common::bin(), qdir.path(), &query_config(port));
    query.wait_ready(common::READY);
    let mut expected = Vec::new();
    until("the query process to agree with the writer", || {
        expected = answers(&writer, t, 1);
        answers(&query, t, 1) == expected
    });
    // Real answers: 30 samples, 40 lines, 6 spans, one trace.
    assert_eq!(expected[3][0]["n"], 30, "{expected:?}");
    assert_eq!(expected[4][0]["n"], 40);
    assert_eq!(expected[6][0]["values"].as_array().map(Vec::len), Some(40));
    assert_eq!(expected[7][0]["spans"].as_array().map(Vec::len), Some(6));
    let h = bucket::native_answers(1).start;
    assert_eq!(expected[h + 2][0]["n"], 6, "{:?}", expected[h + 2]);

    // Writes are the writer's.
    let one = TestSeries {
        labels: vec![("__name__".into(), "queued".into())],
        samples: vec![(t, 1.0)],
    };
    let refused = query
        .post("/api/v1/write", &HEADERS, &encode(&[one.to_proto()]))
        .expect("remote write");
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.text().contains("query process"),
        "{}",
        refused.text()
    );
    bucket::assert_push_refused(&query);

    // It follows what the writer publishes next.
    ingest(&writer, t + 40_000, 1);
    until("the query process to follow", || {
        expected = answers(&writer, t, 2);
        answers(&query, t, 2) == expected
    });
    assert_eq!(expected[3][0]["n"], 60);
    assert!(metric(&query, "strata_reader_partitions") >= 3.0);
    assert!(metric(&query, "strata_reader_fetched_objects_total") > 0.0);
    assert!(metric(&query, "strata_reader_seconds_since_refresh") < 30.0);

    // The writer gone (killed): the bucket still answers.
    writer.kill();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(answers(&query, t, 2), expected);
}
