//! Loki's push API (`POST /loki/api/v1/push`, `/api/prom/push`) on the real `strata`
//! binary: PyPI's `python-logging-loki` pushes JSON, this file pushes protobuf + snappy
//! built from its own copy of Loki's `push.proto` and gzipped JSON, and everything is read
//! back through `POST /api/v1/sql` (`logs`). Bad bodies are refused and store nothing,
//! `X-Scope-OrgID` picks the tenant, and a 204 survives SIGKILL.
//!
//! `python-logging-loki` runs in the `python3` found on PATH: `.ci/test.sh` installs it in
//! the virtualenv `$CARGO_TARGET_DIR/venv` and puts that first on PATH; to run this test
//! alone, activate it (`. "$CARGO_TARGET_DIR/venv/bin/activate"`). Without it the test
//! fails and says how to install it.

mod common;

use std::io::Write as _;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;
use serde_json::{Value, json};
use strata_tests::http::Response;
use strata_tests::server::Server;

/// Loki's `pkg/push/push.proto`, written here independently of the server's structs.
mod logproto {
    /// `logproto.PushRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct PushRequest {
        #[prost(message, repeated, tag = "1")]
        pub(crate) streams: Vec<StreamAdapter>,
        #[prost(string, tag = "2")]
        pub(crate) format: String,
    }

    /// `logproto.StreamAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct StreamAdapter {
        #[prost(string, tag = "1")]
        pub(crate) labels: String,
        #[prost(message, repeated, tag = "2")]
        pub(crate) entries: Vec<EntryAdapter>,
        #[prost(uint64, tag = "3")]
        pub(crate) hash: u64,
    }

    /// `logproto.EntryAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct EntryAdapter {
        #[prost(message, optional, tag = "1")]
        pub(crate) timestamp: Option<Timestamp>,
        #[prost(string, tag = "2")]
        pub(crate) line: String,
        #[prost(message, repeated, tag = "3")]
        pub(crate) structured_metadata: Vec<LabelPairAdapter>,
    }

    /// `logproto.LabelPairAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct LabelPairAdapter {
        #[prost(string, tag = "1")]
        pub(crate) name: String,
        #[prost(string, tag = "2")]
        pub(crate) value: String,
    }

    /// `google.protobuf.Timestamp`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Timestamp {
        #[prost(int64, tag = "1")]
        pub(crate) seconds: i64,
        #[prost(int32, tag = "2")]
        pub(crate) nanos: i32,
    }
}

use logproto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};

const PROTOBUF: [(&str, &str); 1] = [("Content-Type", "application/x-protobuf")];
const JSON: [(&str, &str); 1] = [("Content-Type", "application/json")];

fn now_ns() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH);
    now.map_or(0, |d| d.as_nanos() as i64)
}

fn start(config: &str) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    (dir, server)
}

fn post(server: &Server, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    server.post(path, headers, body).expect("POST")
}

/// A push that must be stored whole.
fn push_ok(server: &Server, path: &str, headers: &[(&str, &str)], body: &[u8]) {
    let r = post(server, path, headers, body);
    assert_eq!(r.status, 204, "{path}: {}", r.text());
    assert!(r.body.is_empty(), "204 has no body");
}

/// The rows `query` answers for `headers`' tenant.
fn sql(server: &Server, headers: &[(&str, &str)], query: &str) -> Vec<Value> {
    let r = post(server, "/api/v1/sql", headers, query.as_bytes());
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    serde_json::from_slice(&r.body).expect("JSON rows")
}

fn count(server: &Server, headers: &[(&str, &str)]) -> i64 {
    let rows = sql(server, headers, "SELECT count(*) AS n FROM logs");
    rows[0]["n"].as_i64().expect("a count")
}

/// Every pushed record's fields that the mapping sets, oldest first.
const ROWS: &str = "SELECT CAST(time AS BIGINT) AS t, body, service_name, severity_text, \
     severity_number, resource_attributes['app'] AS app, resource_attributes['service_name'] \
     AS sn, resource_attributes['logger'] AS logger, resource_attributes['request'] AS request, \
     resource_attributes['severity'] AS severity, attributes['trace_id'] AS trace_id, \
     scope_name, scope_version, CAST(observed_time AS BIGINT) AS observed FROM logs ORDER BY t, body";

fn snappy(msg: &impl Message) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(&msg.encode_to_vec())
        .expect("snappy")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

fn entry(time_ns: i64, line: &str, metadata: &[(&str, &str)]) -> EntryAdapter {
    EntryAdapter {
        timestamp: Some(Timestamp {
            seconds: time_ns.div_euclid(1_000_000_000),
            nanos: time_ns.rem_euclid(1_000_000_000) as i32,
        }),
        line: line.into(),
        structured_metadata: metadata
            .iter()
            .map(|(n, v)| LabelPairAdapter {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect(),
    }
}

fn stream(labels: &str, entries: Vec<EntryAdapter>) -> StreamAdapter {
    StreamAdapter {
        labels: labels.into(),
        entries,
        hash: 0,
    }
}

const PYTHON_SCRIPT: &str = r#"
import logging, sys
import logging_loki

class Strict(logging_loki.LokiHandler):
    # A push that is not answered 204 fails the script (the handler would only print it).
    def handleError(self, record):
        raise

base = sys.argv[1]
v1 = Strict(url=base + "/loki/api/v1/push", tags={"app": "pyshop"}, version="1")
log = logging.getLogger("checkout")
log.setLevel(logging.DEBUG)
log.addHandler(v1)
log.info("order placed", extra={"tags": {"request": "r1"}})
log.warning("stock low")
log.error("payment failed", extra={"tags": {"request": "r2"}})
log.removeHandler(v1)

# The legacy emitter: /api/prom/push, a label string and RFC 3339 timestamps.
v0 = Strict(url=base + "/api/prom/push", tags={"app": "legacy"}, version="0")
old = logging.getLogger("old")
old.setLevel(logging.DEBUG)
old.addHandler(v0)
old.debug("from the old api")
"#;

#[test]
fn python_logging_loki_pushes_are_stored_as_streams() {
    let probe = Command::new("python3")
        .args(["-c", "import logging_loki"])
        .output();
    let missing = match &probe {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(String::from_utf8_lossy(&out.stderr).into_owned()),
        Err(e) => Some(format!("python3: {e}")),
    };
    if let Some(why) = missing {
        panic!(
            "python-logging-loki is not importable in the python3 on PATH ({why}): .ci/test.sh \
             installs it in $CARGO_TARGET_DIR/venv (python3 -m pip install python-logging-loki) \
             and puts that first on PATH: activate it"
        );
    }
    let (dir, server) = start("");
    let script = dir.path().join("push.py");
    std::fs::write(&script, PYTHON_SCRIPT).expect("write the script");
    let before = now_ns();
    let out = Command::new("python3")
        .arg(&script)
        .arg(format!("http://{}", server.http))
        .output()
        .expect("python3 runs");
    let after = now_ns();
    assert!(
        out.status.success(),
        "python-logging-loki's pushes failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = sql(&server, &[], ROWS);
    assert_eq!(rows.len(), 4, "{rows:#?}");
    let row = |line: &str| {
        let r = rows.iter().find(|r| r["body"] == line);
        r.unwrap_or_else(|| panic!("no record {line:?} in {rows:#?}"))
    };
    for (line, level, number, request) in [
        ("order placed", "info", 9, json!("r1")),
        ("stock low", "warning", 13, Value::Null),
        ("payment failed", "error", 17, json!("r2")),
    ] {
        let r = row(line);
        assert_eq!(r["app"], "pyshop", "{r}");
        assert_eq!(r["logger"], "checkout", "{r}");
        assert_eq!(r["request"], request, "{r}");
        // No service_name label: Loki's discovery takes `app`, and adds the label.
        assert_eq!(r["service_name"], "pyshop", "{r}");
        assert_eq!(r["sn"], "pyshop", "{r}");
        assert_eq!(r["severity"], level, "{r}");
        assert_eq!(r["severity_text"], level, "{r}");
        assert_eq!(r["severity_number"], number, "{r}");
        assert_eq!(r["scope_name"], "loki.push", "{r}");
        assert_eq!(r["scope_version"], "", "{r}");
        let t = r["t"].as_i64().expect("time");
        // python-logging-loki stamps at send time, in float nanoseconds (~250 ns apart).
        assert!(t >= before - 1_000 && t <= after + 1_000, "{t}");
        let observed = r["observed"].as_i64().expect("observed time");
        assert!(observed >= before && observed <= after, "{observed}");
    }
    let old = row("from the old api");
    assert_eq!(
        (&old["app"], &old["service_name"], &old["logger"]),
        (&json!("legacy"), &json!("legacy"), &json!("old"))
    );
    assert_eq!(
        (&old["severity_text"], &old["severity_number"]),
        (&json!("debug"), &json!(5))
    );
    // RFC 3339 with microseconds: the record's creation time.
    let t = old["t"].as_i64().expect("time");
    assert!(t >= before - 1_000 && t <= after && t % 1_000 == 0, "{t}");
    // Each request counted under its route.
    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    for want in [
        "strata_http_requests_total{endpoint=\"/loki/api/v1/push\",code=\"204\"} 3\n",
        "strata_http_requests_total{endpoint=\"/api/prom/push\",code=\"204\"} 1\n",
    ] {
        assert!(metrics.contains(want), "{want} in\n{metrics}");
    }
}

#[test]
fn protobuf_snappy_and_gzipped_json_pushes_are_stored() {
    let (_dir, server) = start("");
    let t0 = now_ns();
    let req = PushRequest {
        streams: vec![
            stream(
                r#"{job="api", service_name="checkout", level="info"}"#,
                vec![
                    entry(t0, "first line", &[]),
                    entry(
                        t0 + 1,
                        "second line",
                        &[("trace_id", "0af7651916cd43dd"), ("level", "error")],
                    ),
                ],
            ),
            stream(
                r#"{ app = "web" , env = 'prod \'eu\'' }"#,
                vec![entry(t0 + 2, "a \"quoted\" line\n", &[])],
            ),
        ],
        format: String::new(),
    };
    push_ok(&server, "/loki/api/v1/push", &PROTOBUF, &snappy(&req));
    // The legacy path, no Content-Type (Loki's default is protobuf).
    let legacy = PushRequest {
        streams: vec![stream(
            r#"{component="queue"}"#,
            vec![entry(t0 + 3, "legacy path", &[])],
        )],
        format: String::new(),
    };
    push_ok(&server, "/api/prom/push", &[], &snappy(&legacy));
    let body = json!({"streams": [{
        "stream": {"app": "gz", "level": "warn"},
        "values": [[(t0 + 4).to_string(), "gzipped", {"trace_id": "4bf92f35"}]]
    }]});
    let headers = [JSON[0], ("Content-Encoding", "gzip")];
    push_ok(
        &server,
        "/loki/api/v1/push",
        &headers,
        &gzip(body.to_string().as_bytes()),
    );

    let rows = sql(&server, &[], ROWS);
    let got: Vec<_> = rows
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("-").to_owned();
            let t = r["t"].as_i64().expect("time") - t0;
            (
                t,
                s("body"),
                s("service_name"),
                s("severity_text"),
                r["severity_number"].clone(),
                s("trace_id"),
                s("sn"),
            )
        })
        .collect();
    let n = |v: i32| json!(v);
    assert_eq!(
        got,
        vec![
            (
                0,
                "first line".into(),
                "checkout".into(),
                "info".into(),
                n(9),
                "-".into(),
                "checkout".into()
            ),
            (
                1,
                "second line".into(),
                "checkout".into(),
                "error".into(),
                n(17),
                "0af7651916cd43dd".into(),
                "checkout".into()
            ),
            (
                2,
                "a \"quoted\" line\n".into(),
                "web".into(),
                "".into(),
                n(0),
                "-".into(),
                "web".into()
            ),
            (
                3,
                "legacy path".into(),
                "queue".into(),
                "".into(),
                n(0),
                "-".into(),
                "queue".into()
            ),
            (
                4,
                "gzipped".into(),
                "gz".into(),
                "warn".into(),
                n(13),
                "4bf92f35".into(),
                "gz".into()
            ),
        ]
    );
    logs_by_trace_id(&server, t0);
    // Every stream label, as sent, and nothing else.
    let labels = sql(
        &server,
        &[],
        "SELECT body, resource_attributes AS r, resource_attribute_types AS ty FROM logs \
         WHERE body IN ('first line', 'a \"quoted\" line\n') ORDER BY body",
    );
    assert_eq!(
        labels[0]["r"],
        json!({"app": "web", "env": "prod 'eu'", "service_name": "web"})
    );
    assert_eq!(
        labels[1]["r"],
        json!({"job": "api", "level": "info", "service_name": "checkout"})
    );
    assert_eq!(labels[0]["ty"], json!({}), "strings only");

    // More entries than one request may hold (4.5 MB of tiny ones): refused before any is
    // decoded, nothing stored.
    let values = vec![r#"["1",""]"#; 500_001].join(",");
    let many = format!(r#"{{"streams":[{{"stream":{{"a":"b"}},"values":[{values}]}}]}}"#);
    let r = post(&server, "/loki/api/v1/push", &JSON, many.as_bytes());
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(
        r.text(),
        "request holds 500001 entries, over the limit of 500000 per request: send smaller \
         batches\n"
    );
    assert_eq!(count(&server, &[]), 5);
}

#[test]
fn bad_pushes_are_refused_and_store_nothing() {
    let (_dir, server) = start("[server]\nmax_body_bytes = 1048576\n");
    let t0 = now_ns();
    let good = |line: &str| {
        json!({"streams": [{"stream": {"app": "ok"}, "values": [[t0.to_string(), line]]}]})
            .to_string()
    };
    push_ok(&server, "/loki/api/v1/push", &JSON, good("kept").as_bytes());
    assert_eq!(count(&server, &[]), 1);

    let mut bomb_header = Vec::new();
    prost::encoding::encode_varint(1 << 30, &mut bomb_header); // "1 GiB follows"
    bomb_header.extend_from_slice(&[0; 64]);
    let bad_labels = snappy(&PushRequest {
        streams: vec![stream("{foo=}", vec![entry(t0, "lost", &[])])],
        format: String::new(),
    });
    let oversize = good(&"x".repeat(1_100_000));
    let gzip_bomb = gzip(good(&"x".repeat(4 << 20)).as_bytes());
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: Vec<(&str, Headers, Vec<u8>, u16, &str)> = vec![
        (
            "malformed JSON",
            &JSON,
            b"{\"streams\":[{".to_vec(),
            400,
            "invalid Loki push JSON: EOF while parsing",
        ),
        (
            "a number for a timestamp",
            &JSON,
            br#"{"streams":[{"stream":{"a":"b"},"values":[[1,"x"]]}]}"#.to_vec(),
            400,
            "invalid type: integer `1`, expected a string",
        ),
        (
            "a bad label string",
            &PROTOBUF,
            bad_labels,
            400,
            "rejected 1: invalid_labels 1 in 1 stream (first: error parsing labels '{foo=}' with error: 1:6: parse error: unexpected '}', expected a quoted label value)",
        ),
        (
            "a snappy header claiming 1 GiB",
            &PROTOBUF,
            bomb_header,
            413,
            "snappy header declares 1073741824 decompressed bytes, over the limit of 1048576 bytes",
        ),
        (
            "not snappy",
            &PROTOBUF,
            vec![0xff; 10],
            400,
            "body is not snappy block-format data (Loki's protobuf push is snappy block-compressed",
        ),
        (
            "an oversize body",
            &JSON,
            oversize.into_bytes(),
            413,
            "over the limit of 1048576 bytes",
        ),
        (
            "a gzip bomb",
            &[JSON[0], ("Content-Encoding", "gzip")],
            gzip_bomb,
            413,
            "over the limit of 1048576 bytes",
        ),
        (
            "empty streams",
            &JSON,
            br#"{"streams":[]}"#.to_vec(),
            422,
            "error at least one valid stream is required for ingestion",
        ),
        (
            "a stream without labels",
            &JSON,
            br#"{"streams":[{"stream":{},"values":[["1","x"]]}]}"#.to_vec(),
            400,
            "missing_labels 1 in 1 stream (first: error at least one label pair is required per stream)",
        ),
        (
            "another content type",
            &[("Content-Type", "text/plain")],
            b"hello".to_vec(),
            415,
            "got \"text/plain\"",
        ),
    ];
    for (what, headers, body, status, message) in cases {
        let r = post(&server, "/loki/api/v1/push", headers, &body);
        assert_eq!(r.status, status, "{what}: {}", r.text());
        assert!(r.text().contains(message), "{what}: {}", r.text());
        assert_eq!(count(&server, &[]), 1, "{what}: nothing stored");
    }
    assert!(
        server.peak_rss() < 512 << 20,
        "peak RSS {}",
        server.peak_rss()
    );

    partly_valid_pushes_store_the_valid_entries(&server, t0);
    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    for want in [
        "strata_rejected_samples_total{tenant=\"default\",signal=\"logs\",reason=\"invalid_labels\"} 1\n",
        "strata_rejected_samples_total{tenant=\"default\",signal=\"logs\",reason=\"duplicate_label_names\"} 2\n",
        "strata_rejected_samples_total{tenant=\"default\",signal=\"logs\",reason=\"missing_labels\"} 1\n",
        "strata_rejected_samples_total{tenant=\"default\",signal=\"logs\",reason=\"out_of_retention\"} 1\n",
    ] {
        assert!(metrics.contains(want), "{want} in\n{metrics}");
    }
}

/// A bad stream next to a good one, entries past the retention next to good ones: the good
/// ones are stored, the answer says so.
fn partly_valid_pushes_store_the_valid_entries(server: &Server, t0: i64) {
    let mixed = PushRequest {
        streams: vec![
            stream(
                r#"{app="ok", app="twice"}"#,
                vec![entry(t0, "lost", &[]), entry(t0, "lost", &[])],
            ),
            stream(r#"{app="ok"}"#, vec![entry(t0 + 1, "stored", &[])]),
        ],
        format: String::new(),
    };
    let r = post(server, "/loki/api/v1/push", &PROTOBUF, &snappy(&mixed));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.text(),
        "stored 1 of 3 entries; rejected 2: duplicate_label_names 2 in 1 stream (first: stream \
         '{app=\"ok\", app=\"twice\"}' has duplicate label name: 'app') (the valid entries are \
         stored: do not resend the request)\n"
    );
    assert_eq!(count(server, &[]), 2);
    // Entries older than the logs retention are rejected by the engine, the others stored.
    let old = json!({"streams": [{"stream": {"app": "ok"}, "values": [
        ["1000000000", "from 1970"], [(t0 + 2).to_string(), "today"]]}]});
    let r = post(
        server,
        "/loki/api/v1/push",
        &JSON,
        old.to_string().as_bytes(),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text()
            .starts_with("stored 1 of 2 entries; rejected 1: out_of_retention 1 (first: "),
        "{}",
        r.text()
    );
    assert_eq!(count(server, &[]), 3);
}

#[test]
fn x_scope_orgid_routes_to_that_tenants_logs() {
    let (_dir, server) = start("");
    let body = |line: &str| {
        json!({"streams": [{"stream": {"app": "t"}, "values": [[now_ns().to_string(), line]]}]})
            .to_string()
    };
    let team = [JSON[0], ("X-Scope-OrgID", "team-a")];
    push_ok(
        &server,
        "/loki/api/v1/push",
        &team,
        body("for team-a").as_bytes(),
    );
    push_ok(
        &server,
        "/loki/api/v1/push",
        &JSON,
        body("for default").as_bytes(),
    );
    let lines = |headers: &[(&str, &str)]| {
        let rows = sql(&server, headers, "SELECT body FROM logs");
        rows.iter().map(|r| r["body"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        lines(&[("X-Scope-OrgID", "team-a")]),
        vec![json!("for team-a")]
    );
    assert_eq!(lines(&[]), vec![json!("for default")]);
    assert_eq!(lines(&[("X-Scope-OrgID", "team-b")]), Vec::<Value>::new());
    let bad = [JSON[0], ("X-Scope-OrgID", "no/slashes")];
    let r = post(&server, "/loki/api/v1/push", &bad, body("x").as_bytes());
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn acknowledged_pushes_survive_sigkill() {
    let (dir, server) = start("");
    let t0 = now_ns();
    let mut want = Vec::new();
    for i in 0..20i64 {
        let line = format!("line {i}");
        if i % 2 == 0 {
            let req = PushRequest {
                streams: vec![stream(r#"{app="crash"}"#, vec![entry(t0 + i, &line, &[])])],
                format: String::new(),
            };
            push_ok(&server, "/loki/api/v1/push", &PROTOBUF, &snappy(&req));
        } else {
            let body = json!({"streams": [{"stream": {"app": "crash"}, "values": [[(t0 + i).to_string(), line]]}]});
            push_ok(
                &server,
                "/loki/api/v1/push",
                &JSON,
                body.to_string().as_bytes(),
            );
        }
        want.push((i, json!(format!("line {i}"))));
    }
    server.kill();
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let rows = sql(
        &server,
        &[],
        "SELECT CAST(time AS BIGINT) AS t, body, service_name FROM logs ORDER BY t",
    );
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r["t"].as_i64().expect("time") - t0, r["body"].clone()))
        .collect();
    assert_eq!(got, want);
    assert!(rows.iter().all(|r| r["service_name"] == "crash"));
}

/// The logs search by trace id (what trace-to-logs asks) finds the Loki-pushed line whose
/// structured metadata holds the 64-bit trace id `0af7651916cd43dd`.
fn logs_by_trace_id(server: &Server, t0: i64) {
    let path = format!(
        "/api/v1/logs?trace_id=00000000000000000af7651916cd43dd&start={}&end={}",
        t0 / 1_000_000_000 - 60,
        t0 / 1_000_000_000 + 60
    );
    let r = server.get(&path, &[]).expect("logs search");
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).expect("json");
    let bodies: Vec<&str> = v["data"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|row| row["body"].as_str())
        .collect();
    assert_eq!(bodies, ["second line"]);
}
