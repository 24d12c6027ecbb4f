//! Grafana Tempo's HTTP API on the real binary, over spans sent as OTLP/HTTP protobuf, asked
//! exactly as Grafana's Tempo datasource asks (grafana/grafana-tempo-datasource,
//! `pkg/tempo/trace.go` `createRequest`, `search.go` `createSearchRequest`,
//! `traceql_query.go` `createMetricsQuery`, `tempo.go` `handleTags`/`handleTagValues` with
//! `src/language_provider.ts`): Go's `url.Values.Encode()` query strings (keys sorted,
//! `QueryEscape`d), `Accept: application/protobuf` for traces and `application/json` for
//! search and metrics. Expected answers follow Tempo's API docs
//! (`docs/sources/tempo/api_docs/_index.md`) and `pkg/tempopb` as gogo `jsonpb` writes it.
//! Every answer is checked with the data in memory and again after a restart flushed it to
//! Parquet. Tenancy and auth: `tempo_auth.rs`.

mod common;
mod tempo_common;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;
use serde_json::{Value as Json, json};
use strata_tests::server::Server;
use tempo_common::search::{check_metrics, check_search};
use tempo_common::{
    ACCEPT_JSON, ACCEPT_PROTOBUF, CONFIG, TraceByIdResponse, b64, flatten, get_json, go_query, hex,
    kv, send,
};

/// Trace by id, v1 and v2, protobuf and JSON.
fn check_traces(server: &Server, t0_ns: u64) {
    let (s, e) = (t0_ns / 1_000_000_000 - 60, t0_ns / 1_000_000_000 + 60);
    let (s, e) = (s.to_string(), e.to_string());

    // Grafana: v2 first, protobuf, with the time range and span_pruning=true.
    let q = go_query(&[("start", &s), ("end", &e), ("span_pruning", "true")]);
    let r = server
        .get(
            &format!("/api/v2/traces/{}?{q}", hex(0xaa, 16)),
            &[ACCEPT_PROTOBUF],
        )
        .expect("GET");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/protobuf"));
    let v2 = TraceByIdResponse::decode(r.body.as_slice()).expect("TraceByIDResponse");
    assert_eq!(v2.status, 0, "COMPLETE");
    let resource_spans = v2.trace.expect("trace").resource_spans;
    // Each ScopeSpans with its scope as sent: name, version, attributes.
    for rs in &resource_spans {
        let scope = rs.scope_spans[0].scope.as_ref().expect("scope");
        let service = &flatten(std::slice::from_ref(rs))[0].0;
        assert_eq!(
            (scope.name.as_str(), scope.version.as_str()),
            ("tempo-test", "1")
        );
        assert_eq!(
            scope.attributes,
            vec![
                kv("team", Value::StringValue(format!("team-{service}"))),
                kv("shard", Value::IntValue(1)),
            ]
        );
    }
    let spans = flatten(&resource_spans);
    assert_eq!(spans.len(), 3);
    let (service, root) = &spans[0];
    assert_eq!(service, "shop");
    assert_eq!(root.trace_id, vec![0xaa; 16]);
    assert_eq!(root.span_id, vec![1; 8]);
    assert!(root.parent_span_id.is_empty());
    assert_eq!(root.name, "GET /cart");
    assert_eq!(root.kind, 2);
    assert_eq!(root.start_time_unix_nano, t0_ns);
    assert_eq!(root.end_time_unix_nano, t0_ns + 50_000_000);
    assert!(root.attributes.contains(&kv("retries", Value::IntValue(1))));
    assert!(
        root.attributes
            .contains(&kv("http.route", Value::StringValue("/cart".into())))
    );
    let (db_service, db) = spans.iter().find(|(_, s)| s.name == "SELECT").expect("db");
    assert_eq!(db_service, "db");
    assert_eq!(db.parent_span_id, vec![1; 8]);
    assert_eq!(db.kind, 3);

    // v1, as older Grafana asks (and as Grafana falls back to on a 404): a Trace.
    let q = go_query(&[("start", &s), ("end", &e)]);
    let r = server
        .get(
            &format!("/api/traces/{}?{q}", hex(0xaa, 16)),
            &[ACCEPT_PROTOBUF],
        )
        .expect("GET");
    assert_eq!(r.status, 200, "{}", r.text());
    let v1 = TracesData::decode(r.body.as_slice()).expect("Trace");
    assert_eq!(flatten(&v1.resource_spans).len(), 3);

    // JSON: v1 is {"batches":[...]}, v2 {"trace":{"resourceSpans":[...]}}; ids base64,
    // enums by name, 64-bit integers as strings.
    let (status, body) = get_json(server, &format!("/api/traces/{}", hex(0xbb, 16)), &[]);
    assert_eq!(status, 200, "{body}");
    let span = &body["batches"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(
        body["batches"][0]["scopeSpans"][0]["scope"],
        json!({"name": "tempo-test", "version": "1", "attributes": [
            {"key": "team", "value": {"stringValue": "team-shop"}},
            {"key": "shard", "value": {"intValue": "1"}}
        ]})
    );
    assert_eq!(
        body["batches"][0]["resource"]["attributes"][0],
        json!({"key": "service.name", "value": {"stringValue": "shop"}})
    );
    assert_eq!(span["traceId"], b64(&[0xbb; 16]));
    assert_eq!(span["spanId"], b64(&[3; 8]));
    assert_eq!(span["kind"], "SPAN_KIND_SERVER");
    assert_eq!(
        span["startTimeUnixNano"],
        (t0_ns + 10_000_000_000).to_string()
    );
    assert_eq!(
        span["status"],
        json!({"message": "boom", "code": "STATUS_CODE_ERROR"})
    );
    assert!(
        span["attributes"]
            .as_array()
            .expect("attributes")
            .contains(&json!({"key": "retries", "value": {"intValue": "3"}})),
        "{span}"
    );
    assert!(
        span.get("parentSpanId").is_none(),
        "a root has no parent: {span}"
    );
    let (status, body) = get_json(
        server,
        &format!("/api/v2/traces/{}", hex(0xbb, 16)),
        &[ACCEPT_JSON],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"],
        b64(&[3; 8])
    );
    assert!(
        body.get("status").is_none(),
        "COMPLETE is jsonpb's zero value"
    );

    // Short ids are left-padded; absent traces are 404 (v2 and v1); bad ids 400.
    let r = server
        .get(&format!("/api/v2/traces/{}", "cc"), &[ACCEPT_PROTOBUF])
        .expect("GET");
    assert_eq!(r.status, 404, "{}", r.text());
    let r = server
        .get(&format!("/api/traces/{}", hex(0xcc, 16)), &[])
        .expect("GET");
    assert_eq!(r.status, 404);
    let far = go_query(&[("start", "1000"), ("end", "2000")]);
    let r = server
        .get(&format!("/api/v2/traces/{}?{far}", hex(0xaa, 16)), &[])
        .expect("GET");
    assert_eq!(r.status, 404, "outside the range: {}", r.text());
    for bad in ["not-hex", &"a".repeat(33)] {
        let r = server
            .get(&format!("/api/v2/traces/{bad}"), &[])
            .expect("GET");
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.text().contains("invalid trace id"), "{}", r.text());
    }
}

fn tag_values(server: &Server, path: &str) -> Json {
    let (status, body) = get_json(server, path, &[]);
    assert_eq!(status, 200, "{path}: {body}");
    body["tagValues"].clone()
}

/// Tag names and values, v1 and v2.
fn check_tags(server: &Server, t0_ns: u64) {
    let (s, e) = (t0_ns / 1_000_000_000 - 60, t0_ns / 1_000_000_000 + 60);
    let (s, e) = (s.to_string(), e.to_string());
    check_tag_names(server, &s, &e);
    check_tag_values(server, &s, &e);
}

/// The tag names, as Grafana's Tempo plugin asks for them.
fn check_tag_names(server: &Server, s: &str, e: &str) {
    // language_provider.ts fetchTags: `tags` resource with limit (and start/end when the
    // tag time range is not the default); the plugin proxies to /api/v2/search/tags.
    for q in [
        go_query(&[("limit", "5000")]),
        go_query(&[("limit", "5000"), ("start", s), ("end", e)]),
    ] {
        let (status, body) = get_json(server, &format!("/api/v2/search/tags?{q}"), &[]);
        assert_eq!(status, 200, "{body}");
        let scope = |name: &str| -> Vec<String> {
            body["scopes"]
                .as_array()
                .expect("scopes")
                .iter()
                .find(|s| s["name"] == name)
                .unwrap_or_else(|| panic!("no scope {name}: {body}"))["tags"]
                .as_array()
                .expect("tags")
                .iter()
                .map(|t| t.as_str().expect("tag").to_owned())
                .collect()
        };
        assert_eq!(scope("resource"), vec!["host.name", "service.name"]);
        assert_eq!(scope("instrumentation"), vec!["shard", "team"]);
        assert_eq!(
            scope("span"),
            vec!["http.response.status_code", "http.route", "retries"]
        );
        let intrinsic = scope("intrinsic");
        for i in [
            "duration",
            "kind",
            "name",
            "rootName",
            "rootServiceName",
            "status",
        ] {
            assert!(intrinsic.contains(&i.to_owned()), "{i}: {intrinsic:?}");
        }
    }
    let (_, body) = get_json(server, "/api/v2/search/tags?scope=span", &[]);
    assert_eq!(body["scopes"].as_array().map(Vec::len), Some(1), "{body}");
    // Event and link attributes (Drilldown asks each scope on its own).
    let q = |scope: &str| go_query(&[("scope", scope), ("start", s), ("end", e)]);
    for (scope, names) in [
        ("event", json!(["cache.key"])),
        ("link", json!(["link.kind"])),
        ("instrumentation", json!(["shard", "team"])),
    ] {
        let (status, body) = get_json(server, &format!("/api/v2/search/tags?{}", q(scope)), &[]);
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["scopes"],
            json!([{"name": scope, "tags": names}]),
            "{scope}"
        );
    }
    let (_, body) = get_json(server, &format!("/api/search/tags?{}", q("event")), &[]);
    assert_eq!(body["tagNames"], json!(["cache.key"]));
    let (_, body) = get_json(
        server,
        &format!("/api/search/tags?{}", q("instrumentation")),
        &[],
    );
    assert_eq!(body["tagNames"], json!(["shard", "team"]));
    let (_, body) = get_json(server, "/api/search/tags", &[]);
    assert_eq!(
        body["tagNames"],
        json!([
            "host.name",
            "http.response.status_code",
            "http.route",
            "retries",
            "service.name"
        ])
    );
}

/// The values of a tag, as Grafana's Tempo plugin asks for them, narrowed by `q`.
fn check_tag_values(server: &Server, s: &str, e: &str) {
    // handleTagValues: the `tag-values` resource proxies to /api/v2/search/tag/<tag>/values
    // with the resource call's own query (limit, tag, and q from the current filters).
    let values_q = |q: &str| {
        let query = go_query(&[
            ("limit", "5000"),
            ("tag", "resource.service.name"),
            ("q", q),
        ]);
        tag_values(
            server,
            &format!("/api/v2/search/tag/resource.service.name/values?{query}"),
        )
    };
    let both = json!([{"type": "string", "value": "db"}, {"type": "string", "value": "shop"}]);
    assert_eq!(values_q("{}"), both);
    // `q` narrows to the spans that meet it: only shop's failed span has a 500 ...
    assert_eq!(
        values_q("{span.http.response.status_code=500}"),
        json!([{"type": "string", "value": "shop"}])
    );
    assert_eq!(
        values_q("{kind=client || name=\"nothing\"}"),
        json!([{"type": "string", "value": "db"}])
    );
    // ... and an incomplete one (typed so far in the editor) narrows nothing, as in Tempo.
    assert_eq!(values_q("{span.http.route = }"), both);
    // Names too: no span of service "nobody", no span attribute names.
    for (service, names) in [
        (
            "db",
            json!(["http.response.status_code", "http.route", "retries"]),
        ),
        ("nobody", json!([])),
    ] {
        let filter = format!("{{resource.service.name=\"{service}\"}}");
        let q = go_query(&[("q", &filter), ("scope", "span")]);
        let (_, body) = get_json(server, &format!("/api/v2/search/tags?{q}"), &[]);
        assert_eq!(body["scopes"][0]["tags"], names, "{body}");
    }
    assert_eq!(
        tag_values(server, "/api/v2/search/tag/span.retries/values"),
        json!([
            {"type": "int", "value": "1"},
            {"type": "int", "value": "2"},
            {"type": "int", "value": "3"},
            {"type": "int", "value": "4"}
        ])
    );
    assert_eq!(
        tag_values(
            server,
            "/api/v2/search/tag/.http.response.status_code/values"
        ),
        json!([{"type": "int", "value": "200"}, {"type": "int", "value": "500"}])
    );
    assert_eq!(
        tag_values(server, "/api/v2/search/tag/status/values"),
        json!([
            {"type": "keyword", "value": "ok"},
            {"type": "keyword", "value": "error"},
            {"type": "keyword", "value": "unset"}
        ])
    );
    assert_eq!(
        tag_values(server, "/api/v2/search/tag/name/values"),
        json!([
            {"type": "string", "value": "GET /cart"},
            {"type": "string", "value": "SELECT"},
            {"type": "string", "value": "render"}
        ])
    );
    assert_eq!(
        tag_values(server, "/api/v2/search/tag/instrumentation.team/values"),
        json!([
            {"type": "string", "value": "team-db"},
            {"type": "string", "value": "team-shop"}
        ])
    );
    let q = go_query(&[("q", "{ kind = client }")]);
    assert_eq!(
        tag_values(
            server,
            &format!("/api/v2/search/tag/instrumentation.team/values?{q}")
        ),
        json!([{"type": "string", "value": "team-db"}])
    );
    for (tag, kind, want) in [
        ("event.cache.key", "string", "cart:1"),
        ("link.link.kind", "string", "retry"),
        ("event:name", "string", "cache miss"),
        ("instrumentation.shard", "int", "1"),
    ] {
        assert_eq!(
            tag_values(
                server,
                &format!("/api/v2/search/tag/{tag}/values?start={s}&end={e}")
            ),
            json!([{"type": kind, "value": want}]),
            "{tag}"
        );
    }
    assert_eq!(
        tag_values(server, "/api/v2/search/tag/rootServiceName/values"),
        json!([{"type": "string", "value": "shop"}])
    );
    assert_eq!(
        tag_values(server, "/api/search/tag/service.name/values"),
        json!(["db", "shop"])
    );
    assert_eq!(
        tag_values(
            server,
            &format!("/api/search/tag/http.route/values?start={s}&end={e}")
        ),
        json!(["/cart"])
    );
    // Nothing in a window without spans.
    assert_eq!(
        tag_values(
            server,
            "/api/search/tag/http.route/values?start=1000&end=2000"
        ),
        json!([])
    );

    // Bad parameters.
    for path in [
        "/api/v2/search/tags?scope=bogus",
        "/api/v2/search/tags?start=soon&end=2",
        "/api/v2/search/tags?start=200&end=100",
        "/api/v2/search/tag/bogus/values",
        "/api/search/tags?limit=0",
    ] {
        let r = server.get(path, &[]).expect("GET");
        assert_eq!(r.status, 400, "{path}: {}", r.text());
    }
}

/// Bad input: 400s with a message, counted by route and code.
fn check_errors(server: &Server) {
    let long = format!("{{ .a = \"{}\" }}", "x".repeat(300));
    let search_bad: Vec<(String, &str)> = vec![
        (go_query(&[("q", "{ .a = }")]), "line 1, col 8"),
        (go_query(&[("q", &long)]), "max_traceql_length"),
        (go_query(&[("q", "{}"), ("tags", "a=b")]), "tags and q"),
        (go_query(&[("q", "{}"), ("limit", "-1")]), "limit"),
        (go_query(&[("q", "{}"), ("spss", "x")]), "spss"),
        (go_query(&[("q", "{} | rate()")]), "metrics"),
        (go_query(&[("tags", "a=\"open")]), "quote"),
        (
            go_query(&[("q", "{}"), ("start", "200"), ("end", "100")]),
            "start",
        ),
        // Eight days: over `[tempo] max_search_duration` (a week, Tempo's default).
        (
            go_query(&[("q", "{}"), ("start", "1000"), ("end", "692200")]),
            "exceeds 7days",
        ),
        (
            go_query(&[("q", "{}"), ("start", "1000"), ("end", "605801")]),
            "exceeds 7days",
        ),
    ];
    for (q, why) in &search_bad {
        let r = server.get(&format!("/api/search?{q}"), &[]).expect("GET");
        assert_eq!(r.status, 400, "{q}: {}", r.text());
        assert!(r.text().contains(why), "{q}: {} lacks {why}", r.text());
    }
    // Six days is within it, and so is exactly seven (Grafana's "Last 7 days").
    for end in ["519400", "605800"] {
        let q = go_query(&[("q", "{}"), ("start", "1000"), ("end", end)]);
        let r = server.get(&format!("/api/search?{q}"), &[]).expect("GET");
        assert_eq!(r.status, 200, "{q}: {}", r.text());
    }
    for q in [
        go_query(&[("q", "{}")]),
        go_query(&[("q", "{} | rate()"), ("step", "0")]),
        go_query(&[("q", "{} | rate() by(")]),
        go_query(&[("q", &format!("{long} | rate()"))]),
        String::new(),
    ] {
        let r = server
            .get(&format!("/api/metrics/query_range?{q}"), &[])
            .expect("GET");
        assert_eq!(r.status, 400, "{q}: {}", r.text());
    }
    // Each refusal is counted.
    let metrics = server.get("/metrics", &[]).expect("GET").text();
    let line = format!(
        "strata_http_requests_total{{endpoint=\"/api/search\",code=\"400\"}} {}\n",
        search_bad.len()
    );
    assert!(metrics.contains(&line), "{line} in {metrics}");
}

/// Echo and build info (the datasource's health check).
fn check_health(server: &Server) {
    let r = server.get("/api/echo", &[]).expect("GET");
    assert_eq!((r.status, r.text()), (200, "echo".to_owned()));
    let (status, body) = get_json(server, "/api/status/buildinfo", &[]);
    assert_eq!(status, 200);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    for k in ["revision", "branch", "buildUser", "buildDate", "goVersion"] {
        assert!(body[k].is_string(), "{k}: {body}");
    }
}

fn check(server: &Server, t0: u64) {
    check_health(server);
    check_traces(server, t0);
    check_tags(server, t0);
    check_search(server, t0);
    check_metrics(server, t0);
    check_errors(server);
}

#[test]
fn tempo_api_from_memory_and_from_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), CONFIG);
    server.wait_ready(common::READY);
    let t0 = u64::try_from(common::now_ms()).expect("now") * 1_000_000 - 120_000_000_000;
    send(&server, &[], t0);
    check(&server, t0);
    assert!(server.terminate().success());

    // After a restart: the shutdown flushed everything to Parquet.
    let server = Server::start(common::bin(), dir.path(), CONFIG);
    server.wait_ready(common::READY);
    check(&server, t0);
    assert!(server.terminate().success());
}
