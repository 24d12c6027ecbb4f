//! Jaeger trace search on the real binary runs hour partition by hour partition, newest first,
//! and stops once it has `limit` traces. Its answers must equal the single SQL query that
//! defines the ranking (the newest matching span of each trace, ties by trace id), sent to
//! `POST /api/v1/sql` over the same data: traces whose matching spans lie in several hours,
//! ties at an hour boundary, spans of one trace both in files and in memory, and searches
//! whose `limit` is met in the newest hour, after several hours, or never. Searches without
//! tags go through the engine's own scan, with tags through SQL: both are compared. The
//! traces a search returns hold the spans SQL counts for them.

mod common;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::Value as Json;
use strata_tests::server::Server;

const PROTOBUF: (&str, &str) = ("Content-Type", "application/x-protobuf");
const HOUR_NS: u64 = 3_600_000_000_000;
const MS: u64 = 1_000_000;

fn kv(key: &str, v: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// Trace `t`'s id: distinct leading bytes, so ties sort by more than the last byte.
fn trace_id(t: u16) -> Vec<u8> {
    let mut id = vec![0x11; 16];
    id[0] = (t % 7) as u8;
    id[1..3].copy_from_slice(&t.to_be_bytes());
    id
}

/// One span of the test data: (trace, span number, service, name, start ns, duration ms, route).
type Row = (u16, u8, &'static str, &'static str, u64, u64, &'static str);

fn request(rows: &[Row]) -> Vec<u8> {
    let resource_spans = rows
        .iter()
        .map(|&(t, s, service, name, start, dur_ms, route)| {
            let mut span_id = vec![s; 8];
            span_id[..2].copy_from_slice(&t.to_be_bytes());
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", service)],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: trace_id(t),
                        span_id,
                        name: name.into(),
                        kind: 2,
                        start_time_unix_nano: start,
                        end_time_unix_nano: start + dur_ms * MS,
                        attributes: vec![kv("http.route", route)],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }.encode_to_vec()
}

/// The spans: two batches (the first flushed to files by a restart, the second kept in
/// memory) over five closed hours starting at `h0` (ns).
fn data(h0: u64) -> (Vec<Row>, Vec<Row>) {
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let routes = ["/cart", "/pay"];
    for t in 0..60u16 {
        let hour = u64::from(t % 5);
        let start = h0 + hour * HOUR_NS + u64::from(t) * 37 * 1_000_000_000 + u64::from(t);
        let dur = 5 + u64::from(t * 7 % 90);
        let route = routes[usize::from(t % 2)];
        let batch = if t % 2 == 0 { &mut first } else { &mut second };
        batch.push((t, 1, "shop", "GET /cart", start, dur, route));
        batch.push((t, 2, "db", "SELECT", start + MS, 1, route));
        if t % 3 == 0 && hour < 4 {
            // A later matching span an hour on, in the other batch: the trace matches in
            // two hours, one in files and one in memory.
            let later = if t % 2 == 0 { &mut second } else { &mut first };
            later.push((t, 3, "shop", "GET /cart", start + HOUR_NS, dur + 40, route));
        }
    }
    // Ties at the boundary between hours 2 and 3: two traces at its first nanosecond, two at
    // the last nanosecond before it; one more with its newest span exactly there too.
    let b = h0 + 3 * HOUR_NS;
    for (t, start) in [(900, b), (901, b), (902, b - 1), (903, b - 1)] {
        first.push((t, 1, "shop", "GET /cart", start, 120, "/pay"));
    }
    second.push((
        904,
        1,
        "shop",
        "GET /cart",
        b - 5 * HOUR_NS / 10,
        120,
        "/pay",
    ));
    second.push((904, 2, "shop", "GET /cart", b, 120, "/pay"));
    // One trace with the newest matching spans of all, many of them (more than the scan's
    // first ranking round reads), in files.
    for s in 0..150u8 {
        let start = h0 + 5 * HOUR_NS - 1_000 * MS + u64::from(s / 2) * MS;
        first.push((950, s, "shop", "GET /cart", start, 70, "/cart"));
    }
    (first, second)
}

fn post(server: &Server, rows: &[Row]) {
    let r = server
        .post("/v1/traces", &[PROTOBUF], &request(rows))
        .expect("spans");
    assert_eq!(r.status, 200, "{}", r.text());
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A search's parameters.
struct Q {
    operation: Option<&'static str>,
    min_duration_ms: Option<u64>,
    max_duration_ms: Option<u64>,
    route: Option<&'static str>,
    start_ns: u64,
    end_ns: u64,
    limit: usize,
}

/// The traces of the Jaeger search, in the order given: (id in hex, number of spans).
fn jaeger_traces(server: &Server, q: &Q) -> Vec<(String, usize)> {
    let mut path = format!(
        "/jaeger/api/traces?service=shop&start={}&end={}&limit={}",
        q.start_ns / 1_000,
        q.end_ns / 1_000,
        q.limit
    );
    if let Some(op) = q.operation {
        path += &format!("&operation={}", op.replace(' ', "%20"));
    }
    if let Some(d) = q.min_duration_ms {
        path += &format!("&minDuration={d}ms");
    }
    if let Some(d) = q.max_duration_ms {
        path += &format!("&maxDuration={d}ms");
    }
    if let Some(r) = q.route {
        path += &format!(
            "&tags=%7B%22http.route%22%3A%22{}%22%7D",
            r.replace('/', "%2F")
        );
    }
    let r = server.get(&path, &[]).expect("search");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    let body: Json = serde_json::from_slice(&r.body).expect("JSON");
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|t| {
            (
                format!("{:0>32}", t["traceID"].as_str().expect("traceID")),
                t["spans"].as_array().expect("spans").len(),
            )
        })
        .collect()
}

/// The trace ids (hex) of the Jaeger search, in the order given.
fn jaeger(server: &Server, q: &Q) -> Vec<String> {
    jaeger_traces(server, q).into_iter().map(|t| t.0).collect()
}

/// Runs `query` through `POST /api/v1/sql`.
fn sql_rows(server: &Server, query: &str) -> Vec<Json> {
    let r = server
        .post("/api/v1/sql", &[], query.as_bytes())
        .expect("sql");
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    let rows: Json = serde_json::from_slice(&r.body).expect("JSON");
    rows.as_array().expect("rows").clone()
}

/// The spans SQL counts for each trace a search returns (its spans within an hour of the
/// search's range, as the search reads them) equal the spans the search returns.
fn span_counts_match(server: &Server, q: &Q) {
    let got = jaeger_traces(server, q);
    if got.is_empty() {
        return;
    }
    let us = |ns: u64| ns / 1_000 * 1_000;
    let ids: Vec<String> = got.iter().map(|t| format!("X'{}'", t.0)).collect();
    let query = format!(
        "SELECT trace_id, count(*) AS n FROM spans WHERE trace_id IN ({}) \
         AND start_time >= to_timestamp_nanos({}) AND start_time <= to_timestamp_nanos({}) \
         GROUP BY trace_id",
        ids.join(", "),
        us(q.start_ns) - HOUR_NS,
        us(q.end_ns) + HOUR_NS
    );
    let want: std::collections::HashMap<String, u64> = sql_rows(server, &query)
        .iter()
        .map(|r| {
            (
                r["trace_id"].as_str().expect("hex").to_lowercase(),
                r["n"].as_u64().expect("count"),
            )
        })
        .collect();
    for (id, n) in &got {
        assert_eq!(
            want.get(id).copied(),
            Some(*n as u64),
            "spans of trace {id}"
        );
    }
}

/// The same search as one SQL query over the whole window.
fn sql(server: &Server, q: &Q) -> Vec<String> {
    // Jaeger's `start` and `end` are in µs.
    let us = |ns: u64| ns / 1_000 * 1_000;
    let mut cond = vec![
        "service_name = 'shop'".to_owned(),
        format!("start_time >= to_timestamp_nanos({})", us(q.start_ns)),
        format!("start_time <= to_timestamp_nanos({})", us(q.end_ns)),
    ];
    if let Some(op) = q.operation {
        cond.push(format!("name = {}", quote(op)));
    }
    if let Some(d) = q.min_duration_ms {
        cond.push(format!("duration_ns >= {}", d * MS));
    }
    if let Some(d) = q.max_duration_ms {
        cond.push(format!("duration_ns <= {}", d * MS));
    }
    if let Some(r) = q.route {
        let r = quote(r);
        // Every span here sends `http.route` as a string: it is in the column.
        cond.push(format!("http_route = {r}"));
    }
    let query = format!(
        "SELECT trace_id, max(start_time) AS last FROM spans WHERE {} \
         GROUP BY trace_id ORDER BY last DESC, trace_id LIMIT {}",
        cond.join(" AND "),
        q.limit
    );
    sql_rows(server, &query)
        .iter()
        .map(|row| {
            row["trace_id"]
                .as_str()
                .expect("trace_id as hex")
                .to_lowercase()
        })
        .collect()
}

/// Every search gives the single query's answer; returns how many compared non-empty.
fn compare(server: &Server, h0: u64) -> usize {
    let all = (h0, h0 + 5 * HOUR_NS - 1);
    let mut searches = Vec::new();
    for limit in [1, 3, 12, 13, 20, 1_000] {
        // Met in the newest hour (16 traces there), after several hours, or never.
        searches.push(Q {
            operation: None,
            min_duration_ms: None,
            max_duration_ms: None,
            route: None,
            start_ns: all.0,
            end_ns: all.1,
            limit,
        });
        searches.push(Q {
            operation: Some("GET /cart"),
            min_duration_ms: Some(60),
            max_duration_ms: None,
            route: None,
            start_ns: all.0,
            end_ns: all.1,
            limit,
        });
        // Tags, and windows that cut hours and end at a boundary with ties (as `end` in µs
        // allows: the last µs of an hour, the first of the next).
        searches.push(Q {
            operation: Some("GET /cart"),
            min_duration_ms: None,
            max_duration_ms: None,
            route: Some("/pay"),
            start_ns: h0 + HOUR_NS + HOUR_NS / 2,
            end_ns: h0 + 3 * HOUR_NS,
            limit,
        });
        // Both duration bounds, inclusive (durations are whole ms).
        searches.push(Q {
            operation: Some("GET /cart"),
            min_duration_ms: Some(47),
            max_duration_ms: Some(70),
            route: None,
            start_ns: all.0,
            end_ns: all.1,
            limit,
        });
        searches.push(Q {
            operation: None,
            min_duration_ms: None,
            max_duration_ms: None,
            route: None,
            start_ns: h0 + HOUR_NS / 3,
            end_ns: h0 + 3 * HOUR_NS - 1_000,
            limit,
        });
    }
    let mut non_empty = 0;
    for q in &searches {
        let want = sql(server, q);
        let got = jaeger(server, q);
        assert_eq!(
            got, want,
            "limit {} op {:?} min {:?} route {:?} [{}, {}]",
            q.limit, q.operation, q.min_duration_ms, q.route, q.start_ns, q.end_ns
        );
        assert!(want.len() <= q.limit);
        if q.limit == 1_000 {
            span_counts_match(server, q);
        }
        non_empty += usize::from(!want.is_empty());
    }
    non_empty
}

#[test]
fn search_by_hour_newest_first_equals_the_single_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now_ns = u64::try_from(common::now_ms()).expect("now") * MS;
    let h0 = now_ns / HOUR_NS * HOUR_NS - 5 * HOUR_NS;
    let (first, second) = data(h0);

    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    post(&server, &first);
    assert!(server.terminate().success());

    // The first batch is in files now; the second stays in memory.
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    post(&server, &second);
    assert_eq!(compare(&server, h0), 30);

    // The whole-window answer: every trace that has a shop span, newest first.
    let q = Q {
        operation: None,
        min_duration_ms: None,
        max_duration_ms: None,
        route: None,
        start_ns: h0,
        end_ns: h0 + 5 * HOUR_NS - 1,
        limit: 1_000,
    };
    assert_eq!(jaeger(&server, &q).len(), 66);
    assert!(server.terminate().success());

    // Everything in files.
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    assert_eq!(compare(&server, h0), 30);
    assert!(server.terminate().success());
}
