//! The search and TraceQL metrics checks of `tempo_api.rs`: Grafana's datasource's
//! search request (`createSearchRequest`) and Traces Drilldown's metrics queries
//! (`generateMetricsQuery`) through `createMetricsQuery`.

use serde_json::{Value as Json, json};
use strata_tests::server::Server;

use super::{ACCEPT_JSON, get_json, go_query, hex, trace_ids};

/// The search of Grafana's datasource: `createSearchRequest`, JSON.
fn search(server: &Server, pairs: &[(&str, &str)]) -> Json {
    let path = format!("/api/search?{}", go_query(pairs));
    let (status, body) = get_json(server, &path, &[ACCEPT_JSON]);
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// TraceQL and legacy searches.
pub fn check_search(server: &Server, t0_ns: u64) {
    let (s, e) = (t0_ns / 1_000_000_000 - 60, t0_ns / 1_000_000_000 + 60);
    let (s, e) = (s.to_string(), e.to_string());
    let w = |q: &'static str, limit: &'static str, spss: &'static str| {
        vec![("q", q), ("limit", limit), ("spss", spss)]
    };
    let with_window = |mut v: Vec<(&'static str, &'static str)>| -> Json {
        let (s, e) = (s.clone(), e.clone());
        let mut pairs: Vec<(&str, &str)> = std::mem::take(&mut v);
        pairs.push(("start", &s));
        pairs.push(("end", &e));
        search(server, &pairs)
    };

    // The failed request: one trace, its one matching span, Tempo's fields.
    let body = with_window(w(
        "{resource.service.name=\"shop\" && status=error}",
        "20",
        "3",
    ));
    let traces = body["traces"].as_array().expect("traces");
    assert_eq!(traces.len(), 1, "{body}");
    let t = &traces[0];
    assert_eq!(t["traceID"], hex(0xbb, 16));
    assert_eq!(t["rootServiceName"], "shop");
    assert_eq!(t["rootTraceName"], "GET /cart");
    assert_eq!(t["startTimeUnixNano"], (t0_ns + 10_000_000_000).to_string());
    assert_eq!(t["durationMs"], 5);
    assert_eq!(
        t["spanSet"], t["spanSets"][0],
        "spanSet repeats the first spanset"
    );
    let set = &t["spanSets"][0];
    assert_eq!(set["matched"], 1);
    let span = &set["spans"][0];
    assert_eq!(span["spanID"], hex(3, 8));
    assert_eq!(span["name"], "GET /cart");
    assert_eq!(
        span["startTimeUnixNano"],
        (t0_ns + 10_000_000_000).to_string()
    );
    assert_eq!(span["durationNanos"], "5000000");
    let attrs = span["attributes"].as_array().expect("attributes");
    assert!(
        attrs.contains(&json!({"key": "status", "value": {"stringValue": "error"}})),
        "{attrs:?}"
    );
    assert!(
        attrs.contains(&json!({"key": "service.name", "value": {"stringValue": "shop"}})),
        "{attrs:?}"
    );

    // Everything; a limit; spans per spanset.
    assert_eq!(
        trace_ids(&with_window(w("{}", "20", "3"))),
        vec![hex(0xaa, 16), hex(0xbb, 16)]
    );
    assert_eq!(trace_ids(&with_window(w("{}", "1", "3"))).len(), 1);
    let body = with_window(w("{resource.service.name=\"shop\"}", "20", "1"));
    let aa = body["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .find(|t| t["traceID"] == hex(0xaa, 16))
        .unwrap_or_else(|| panic!("{body}"))
        .clone();
    assert_eq!(aa["spanSets"][0]["matched"], 2);
    assert_eq!(aa["spanSets"][0]["spans"].as_array().map(Vec::len), Some(1));
    // A well-known column and a span kind; a structural query.
    let body = with_window(w("{span.http.route=\"/cart\" && kind=client}", "20", "3"));
    assert_eq!(trace_ids(&body), vec![hex(0xaa, 16)]);
    assert_eq!(
        body["traces"][0]["spanSets"][0]["spans"][0]["spanID"],
        hex(4, 8)
    );
    let body = with_window(w(
        "{resource.service.name=\"shop\"} >> {resource.service.name=\"db\"}",
        "20",
        "3",
    ));
    assert_eq!(trace_ids(&body), vec![hex(0xaa, 16)]);
    // An attribute of the instrumentation scope (db's spans are of team-db's scope).
    let body = with_window(w("{instrumentation.team=\"team-db\"}", "20", "3"));
    assert_eq!(trace_ids(&body), vec![hex(0xaa, 16)]);
    assert_eq!(
        body["traces"][0]["spanSets"][0]["spans"][0]["spanID"],
        hex(4, 8)
    );
    let body = with_window(w(
        "{instrumentation.shard=1 && instrumentation.team!=\"team-db\" && status=error}",
        "20",
        "3",
    ));
    assert_eq!(trace_ids(&body), vec![hex(0xbb, 16)]);
    let body = with_window(w("{instrumentation.team=nil}", "20", "3"));
    assert_eq!(body["traces"], json!([]));
    // Outside the window: nothing.
    let body = search(server, &[("q", "{}"), ("start", "1000"), ("end", "2000")]);
    assert_eq!(body["traces"], json!([]));

    // Legacy tag search, as Grafana's older search sent it (tags, minDuration, limit,
    // start, end; encodeURIComponent).
    let path = format!(
        "/api/search?tags=%20service.name%3D%22shop%22&minDuration=40ms&limit=20&start={s}&end={e}"
    );
    let (status, body) = get_json(server, &path, &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(trace_ids(&body), vec![hex(0xaa, 16)]);
}

/// Series of a `QueryRangeResponse`, asserted 200.
fn query_range(server: &Server, q: &str, s: &str, e: &str, step: &str) -> Vec<Json> {
    let path = format!(
        "/api/metrics/query_range?{}",
        go_query(&[("q", q), ("start", s), ("end", e), ("step", step)])
    );
    let (status, body) = get_json(server, &path, &[ACCEPT_JSON]);
    assert_eq!(status, 200, "{q}: {body}");
    body["series"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .clone()
}

/// The labels of a series as (key, string value).
fn labels(series: &Json) -> Vec<(String, Json)> {
    series["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|l| {
            (
                l["key"].as_str().expect("key").to_owned(),
                l["value"].clone(),
            )
        })
        .collect()
}

/// TraceQL metrics, with the queries Traces Drilldown builds (`generateMetricsQuery`,
/// primary signal "Server spans", no filters) and the step its query runner sets.
pub fn check_metrics(server: &Server, t0_ns: u64) {
    let (s, e) = (t0_ns / 1_000_000_000 - 60, t0_ns / 1_000_000_000 + 60);
    let (s, e) = (s.to_string(), e.to_string());

    let series = query_range(
        server,
        "{kind=server && true && resource.service.name != nil} | rate() by(resource.service.name)",
        &s,
        &e,
        "30s",
    );
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(
        labels(&series[0]),
        vec![(
            "resource.service.name".to_owned(),
            json!({"stringValue": "shop"})
        )]
    );
    assert_eq!(series[0]["promLabels"], "{resource.service.name=\"shop\"}");
    let samples = series[0]["samples"].as_array().expect("samples");
    let mut spans = 0.0;
    for sample in samples {
        let ms: i64 = sample["timestampMs"]
            .as_str()
            .expect("timestampMs is a string")
            .parse()
            .expect("ms");
        assert_eq!(ms % 30_000, 0, "on the step grid: {sample}");
        spans += sample["value"].as_f64().unwrap_or(0.0) * 30.0;
    }
    assert!((spans - 2.0).abs() < 1e-9, "two server spans: {samples:?}");

    let series = query_range(
        server,
        "{kind=server && true && status=error} | rate() ",
        &s,
        &e,
        "30s",
    );
    assert_eq!(series.len(), 1, "{series:?}");
    let errors: f64 = series[0]["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|x| x["value"].as_f64().unwrap_or(0.0) * 30.0)
        .sum();
    assert!((errors - 1.0).abs() < 1e-9, "{series:?}");

    let series = query_range(
        server,
        "{kind=server && true} | quantile_over_time(duration, 0.9) ",
        &s,
        &e,
        "30s",
    );
    assert!(!series.is_empty());
    for x in &series {
        assert!(labels(x).iter().any(|(k, _)| k == "p"), "{x}");
        // Steps with spans hold a duration in seconds, from Tempo's power-of-two buckets
        // around the two spans' 5 and 50 ms (at most 2^26 ns); empty steps are 0.
        let values: Vec<f64> = x["samples"]
            .as_array()
            .expect("samples")
            .iter()
            .map(|v| v["value"].as_f64().expect("value"))
            .filter(|v| *v != 0.0)
            .collect();
        assert!(!values.is_empty(), "{x}");
        for v in values {
            assert!((0.004..=0.068).contains(&v), "seconds: {v}");
        }
    }

    // Instant: one value per series over the whole range.
    let path = format!(
        "/api/metrics/query?{}",
        go_query(&[
            (
                "q",
                "{true && true} | count_over_time() by(resource.service.name)"
            ),
            ("start", &s),
            ("end", &e),
        ])
    );
    let (status, body) = get_json(server, &path, &[ACCEPT_JSON]);
    assert_eq!(status, 200, "{body}");
    let mut got: Vec<(String, f64)> = body["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|x| {
            assert!(x.get("promLabels").is_none(), "{x}");
            let l = labels(x);
            (
                l[0].1["stringValue"].as_str().expect("service").to_owned(),
                x["value"].as_f64().expect("value"),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, vec![("db".to_owned(), 1.0), ("shop".to_owned(), 3.0)]);

    check_compare_and_math(server, &s, &e);
}

/// Traces Drilldown's `compare()` and arithmetic between metrics queries, over `[s, e]`.
fn check_compare_and_math(server: &Server, s: &str, e: &str) {
    // Traces Drilldown's comparison: the shop's failing spans against its others, per
    // attribute value; the totals of the two groups add up to the shop's 3 spans.
    let series = query_range(
        server,
        r#"{resource.service.name="shop"} | compare({status=error}, 10)"#,
        s,
        e,
        "30s",
    );
    let total = |group: &str| -> f64 {
        series
            .iter()
            .filter(|x| {
                let l = labels(x);
                l.len() == 2
                    && l[0] == ("__meta_type".to_owned(), json!({"stringValue": group}))
                    && l[1].0 == "name"
            })
            .flat_map(|x| x["samples"].as_array().cloned().unwrap_or_default())
            .map(|v| v["value"].as_f64().unwrap_or(0.0))
            .sum()
    };
    assert!(total("selection_total") >= 1.0, "{series:?}");
    assert_eq!(
        total("selection_total") + total("baseline_total"),
        3.0,
        "{series:?}"
    );
    let selected_error = series.iter().any(|x| {
        labels(x)
            == vec![
                (
                    "__meta_type".to_owned(),
                    json!({"stringValue": "selection"}),
                ),
                ("status".to_owned(), json!({"stringValue": "error"})),
            ]
    });
    assert!(selected_error, "{series:?}");

    // Arithmetic between metrics queries: the failing share of server spans per step.
    let series = query_range(
        server,
        "({kind=server && status=error} | count_over_time()) / ({kind=server} | count_over_time())",
        s,
        e,
        "30s",
    );
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(
        labels(&series[0]),
        vec![(
            "__name__".to_owned(),
            json!({"stringValue": "(count_over_time / count_over_time)"})
        )]
    );
    let shares: Vec<f64> = series[0]["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|v| v["value"].as_f64().unwrap_or(0.0))
        .collect();
    assert!(shares.iter().all(|v| (0.0..=1.0).contains(v)), "{shares:?}");
    assert!(shares.iter().any(|v| *v > 0.0), "{shares:?}");
}
