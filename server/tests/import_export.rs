//! VictoriaMetrics's import and export APIs on a real `strata serve`: JSON lines (plain and
//! gzip) and the text format with timestamps go in, a broken line is named and counted while
//! the others are stored, and `/api/v1/export` gives back every sample exactly, as lines
//! that import again into another tenant to the same export.

mod common;

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::Value;
use strata_tests::server::Server;

type Exported = BTreeMap<String, Vec<(i64, String)>>;

/// The lines of an export, merged per series: labels (JSON) -> (timestamp, value) sorted.
fn parse_export(body: &[u8]) -> Exported {
    let mut out: Exported = BTreeMap::new();
    for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line).expect("a JSON line");
        let key = v["metric"].to_string();
        let e = out.entry(key).or_default();
        let values = v["values"].as_array().expect("values");
        let ts = v["timestamps"].as_array().expect("timestamps");
        assert_eq!(values.len(), ts.len());
        for (val, t) in values.iter().zip(ts) {
            e.push((t.as_i64().expect("ms"), val.to_string()));
        }
        e.sort();
    }
    out
}

fn export(server: &Server, tenant: &str, selector: &str) -> Exported {
    let path = format!(
        "/api/v1/export?match[]={}",
        selector
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect::<String>()
    );
    let resp = server
        .get(&path, &[("X-Scope-OrgID", tenant)])
        .expect("export");
    assert_eq!(resp.status, 200, "{}", resp.text());
    parse_export(&resp.body)
}

#[test]
fn import_and_export_round_trip() {
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let t0 = common::now_ms() - 600_000;
    let a = ("X-Scope-OrgID", "a");

    // JSON lines, one broken: the others are stored, the broken one named.
    let json = format!(
        "{{\"metric\":{{\"__name__\":\"imp_requests_total\",\"job\":\"api\"}},\"values\":[1,2,3.5],\"timestamps\":[{},{},{}]}}\n\
         {{\"metric\":{{\"__name__\":\"imp_requests_total\"}},\"values\":[1],\"timestamps\":[]}}\n\
         {{\"metric\":{{\"__name__\":\"imp_temp\",\"host\":\"h\\\"1\"}},\"values\":[\"NaN\",-0.5],\"timestamps\":[{},{}]}}\n",
        t0,
        t0 + 15_000,
        t0 + 30_000,
        t0,
        t0 + 15_000
    );
    let resp = server
        .post("/api/v1/import", &[a], json.as_bytes())
        .expect("import");
    assert_eq!(resp.status, 400, "{}", resp.text());
    let text = resp.text();
    assert!(
        text.contains("stored 5 samples") && text.contains("line 2: 1 values for 0 timestamps"),
        "{text}"
    );

    // Gzipped, no error: 204. The text format, with and without timestamps.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let more = format!(
        "{{\"metric\":{{\"__name__\":\"imp_requests_total\",\"job\":\"api\"}},\"values\":[4],\"timestamps\":[{}]}}",
        t0 + 45_000
    );
    gz.write_all(more.as_bytes()).expect("gzip");
    let resp = server
        .post(
            "/api/v1/import",
            &[a, ("Content-Encoding", "gzip")],
            &gz.finish().expect("gzip"),
        )
        .expect("import");
    assert_eq!(resp.status, 204, "{}", resp.text());
    let prom = format!(
        "# TYPE imp_queue gauge\nimp_queue{{q=\"a\"}} 7 {}\nimp_queue{{q=\"b\"}} 9 {}\nbroken{{ 1\n",
        t0,
        t0 + 15_000
    );
    let resp = server
        .post("/api/v1/import/prometheus", &[a], prom.as_bytes())
        .expect("import");
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(
        resp.text().contains("stored 2 samples") && resp.text().contains("line 4"),
        "{}",
        resp.text()
    );

    // Everything back, exactly.
    let got = export(&server, "a", "{__name__=~\"imp_.*\"}");
    let want: Exported = [
        (
            r#"{"__name__":"imp_queue","q":"a"}"#,
            vec![(t0, "7".to_owned())],
        ),
        (
            r#"{"__name__":"imp_queue","q":"b"}"#,
            vec![(t0 + 15_000, "9".to_owned())],
        ),
        (
            r#"{"__name__":"imp_requests_total","job":"api"}"#,
            vec![
                (t0, "1".into()),
                (t0 + 15_000, "2".into()),
                (t0 + 30_000, "3.5".into()),
                (t0 + 45_000, "4".into()),
            ],
        ),
        (
            r#"{"__name__":"imp_temp","host":"h\"1"}"#,
            vec![(t0, "\"NaN\"".into()), (t0 + 15_000, "-0.5".into())],
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(got, want);

    // The export imports into another tenant to the same export.
    let path = "/api/v1/export?match[]=%7B__name__%3D~%22imp_.%2A%22%7D";
    let body = server.get(path, &[a]).expect("export").body;
    let resp = server
        .post("/api/v1/import", &[("X-Scope-OrgID", "b")], &body)
        .expect("import");
    assert_eq!(resp.status, 204, "{}", resp.text());
    assert_eq!(export(&server, "b", "{__name__=~\"imp_.*\"}"), want);
    assert!(export(&server, "b", "{__name__=\"nothing\"}").is_empty());

    // A selector is required; a bad one is a 400.
    let resp = server.get("/api/v1/export", &[a]).expect("export");
    assert_eq!(resp.status, 400, "{}", resp.text());
    let resp = server
        .get("/api/v1/export?match[]=%7B", &[a])
        .expect("export");
    assert_eq!(resp.status, 400, "{}", resp.text());

    // The broken lines are counted.
    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("strata_rejected_samples_total")
                && l.contains("malformed_line")
                && l.contains("tenant=\"a\"")
        })
        .unwrap_or_else(|| panic!("no malformed_line count in /metrics"));
    assert!(line.ends_with(" 2"), "{line}");
}

#[test]
fn an_import_over_the_ingest_rate_stops_with_429_and_can_be_sent_again() {
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(
        common::bin(),
        dir.path(),
        "[limits]\ningest_rate = 10\ningest_burst = 60\n",
    );
    server.wait_ready(common::READY);
    let t0 = common::now_ms() - 60_000;
    let body = |from: i64| {
        let values: Vec<String> = (0..50).map(|i| i.to_string()).collect();
        let ts: Vec<String> = (0..50)
            .map(|i| (t0 + (from + i) * 100).to_string())
            .collect();
        format!(
            "{{\"metric\":{{\"__name__\":\"limited\"}},\"values\":[{}],\"timestamps\":[{}]}}\n",
            values.join(","),
            ts.join(",")
        )
    };
    let resp = server
        .post("/api/v1/import", &[], body(0).as_bytes())
        .expect("import");
    assert_eq!(resp.status, 204, "{}", resp.text());
    // The bucket is nearly empty: the next 50 are refused, the import stops with a 429.
    let resp = server
        .post("/api/v1/import", &[], body(50).as_bytes())
        .expect("import");
    assert_eq!(resp.status, 429, "{}", resp.text());
    assert!(resp.header("retry-after").is_some());
    assert!(
        resp.text().contains("over the tenant's ingest rate"),
        "{}",
        resp.text()
    );
    // Sent again once the bucket refilled: stored.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        std::thread::sleep(std::time::Duration::from_secs(2));
        let resp = server
            .post("/api/v1/import", &[], body(50).as_bytes())
            .expect("import");
        if resp.status == 204 {
            break;
        }
        assert_eq!(resp.status, 429, "{}", resp.text());
        assert!(std::time::Instant::now() < deadline, "never stored");
    }
    let got = export(&server, "default", "{__name__=\"limited\"}");
    assert_eq!(got.values().next().map(Vec::len), Some(100));
}

#[test]
fn backfill_places_history_behind_a_live_series() {
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let now = common::now_ms();
    let line = |ts: &[i64]| {
        let values: Vec<String> = (1..=ts.len()).map(|i| i.to_string()).collect();
        let ts: Vec<String> = ts.iter().map(i64::to_string).collect();
        format!(
            "{{\"metric\":{{\"__name__\":\"live_gauge\"}},\"values\":[{}],\"timestamps\":[{}]}}\n",
            values.join(","),
            ts.join(",")
        )
    };
    // The series is live: its newest sample is now.
    let resp = server
        .post("/api/v1/import", &[], line(&[now]).as_bytes())
        .expect("import");
    assert_eq!(resp.status, 204, "{}", resp.text());
    // Its history, a day and two days back: past the out-of-order window, refused...
    let history = [now - 2 * 86_400_000, now - 86_400_000];
    let resp = server
        .post("/api/v1/import", &[], line(&history).as_bytes())
        .expect("import");
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(
        resp.text().contains("out-of-order window"),
        "{}",
        resp.text()
    );
    assert_eq!(
        export(&server, "default", "{__name__=\"live_gauge\"}")
            .values()
            .next()
            .map(Vec::len),
        Some(1)
    );
    // ...and placed with backfill=true; a bad value for it is a 400 that stores nothing.
    let resp = server
        .post(
            "/api/v1/import?backfill=maybe",
            &[],
            line(&history).as_bytes(),
        )
        .expect("import");
    assert_eq!(resp.status, 400, "{}", resp.text());
    let resp = server
        .post(
            "/api/v1/import?backfill=true",
            &[],
            line(&history).as_bytes(),
        )
        .expect("import");
    assert_eq!(resp.status, 204, "{}", resp.text());
    let got = export(&server, "default", "{__name__=\"live_gauge\"}");
    let ts: Vec<i64> = got
        .values()
        .next()
        .expect("the series")
        .iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(ts, [history[0], history[1], now]);
}
