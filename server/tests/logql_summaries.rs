//! Metric queries answered from the logs files' summaries (`docs/logql.md`, "How queries
//! run") give exactly what reading the records gives: each query is asked as Grafana
//! asks it (whole-second step and range), and again with `|= ""`, which matches every
//! line but makes Strata read the records. Checked with the records in memory, and after
//! a restart flushed them to Parquet (summary files beside them). The answers' `stats`
//! show which path ran: `decompressedLines` counts the records read.

mod logql_common;

use logql_common::{NS, enc, start};
use serde_json::Value;

/// The queries, each with `{SEL}` where the selector goes and `{F}` where `|= ""` goes.
const QUERIES: [&str; 9] = [
    r#"sum by (level, detected_level) (count_over_time({SEL} {F} | drop __error__ [1m]))"#,
    r#"sum by (detected_level) (rate({SEL} {F} [30s]))"#,
    r#"sum by (service_name) (bytes_over_time({SEL} {F} [20s]))"#,
    r#"sum by (env, app) (bytes_rate({SEL} {F} [1m]))"#,
    r#"sum(count_over_time({SEL} {F} [10s]))"#,
    r#"sum by (severity_text) (count_over_time({SEL} {F} [1m]))"#,
    r#"sum by (level) (rate({SEL} {F} [1m]))"#,
    r#"sum by (k8s_namespace_name) (count_over_time({SEL} {F} [1m] offset 10s))"#,
    // Structured metadata from the records' attributes: where a stream has them, the
    // summaries cannot tell their values, so both read the records.
    r#"sum by (pod, http_route) (count_over_time({SEL} {F} [1m]))"#,
];

const SELECTORS: [&str; 3] = [
    r#"{service_name=~".+"}"#,
    r#"{app="web"}"#,
    r#"{service_name=~"api|checkout", service_name!="checkout"}"#,
];

/// The matrix of a range query (sorted, as text) and the records it read.
fn range(c: &logql_common::Corpus, q: &str, step_s: i64) -> (Vec<String>, u64, u64) {
    let path = format!(
        "/loki/api/v1/query_range?query={}&start={}&end={}&step={}ms",
        enc(q),
        c.t0 - 60 * NS,
        c.t0 + 120 * NS,
        step_s * 1000
    );
    let (status, body) = c.get(&path, &[]);
    assert_eq!(status, 200, "{q}: {body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["data"]["resultType"], "matrix", "{v}");
    let mut series: Vec<String> = v["data"]["result"]
        .as_array()
        .expect("result")
        .iter()
        .map(|s| format!("{} {}", s["metric"], s["values"]))
        .collect();
    series.sort();
    let stats = &v["data"]["stats"];
    let read = stats["querier"]["store"]["chunk"]["decompressedLines"]
        .as_u64()
        .expect("decompressedLines");
    let processed = stats["summary"]["totalLinesProcessed"]
        .as_u64()
        .expect("totalLinesProcessed");
    (series, read, processed)
}

fn check(c: &logql_common::Corpus) {
    for sel in SELECTORS {
        for (i, q) in QUERIES.iter().enumerate() {
            let fast = q.replace("{SEL}", sel).replace("{F}", "");
            let rows = q.replace("{SEL}", sel).replace("{F}", r#"|= """#);
            for step in [5, 10, 60] {
                let (a, read_a, processed_a) = range(c, &fast, step);
                let (b, read_b, processed_b) = range(c, &rows, step);
                assert_eq!(a, b, "{fast} at step {step}s");
                assert_eq!(processed_a, processed_b, "{fast}");
                // `{app="web"}` has neither attribute: the summaries tell it is absent.
                if i < 8 || sel == SELECTORS[1] {
                    assert_eq!(read_a, 0, "{fast}: answered from summaries");
                } else {
                    assert_eq!(read_a, processed_a, "{fast}: read the records");
                }
                assert_eq!(read_b, processed_b, "{rows}: read the records");
            }
            if sel == SELECTORS[0] && i == 0 {
                let (a, _, processed) = range(c, &fast, 10);
                assert!(!a.is_empty() && processed == 13, "{a:?} {processed}");
            }
        }
    }
    // Windows that are not whole seconds (a step of 1.5 s) read the records.
    let path = format!(
        "/loki/api/v1/query_range?query={}&start={}&end={}&step=1500ms",
        enc(r#"sum(count_over_time({app="web"}[3s]))"#),
        c.t0,
        c.t0 + 60 * NS
    );
    let (status, body) = c.get(&path, &[]);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    let stats = &v["data"]["stats"];
    assert_eq!(
        stats["querier"]["store"]["chunk"]["decompressedLines"],
        stats["summary"]["totalLinesProcessed"]
    );
}

/// Log queries with substring line filters: in files they go through the summaries'
/// line filters (`query/src/sql/line_filter.rs`), in memory they read every line.
fn line_searches(c: &logql_common::Corpus) -> Vec<Vec<(String, Vec<String>)>> {
    [
        r#"{service_name=~".+"} |= "pay""#,
        r#"{service_name=~".+"} |= "order" or "login""#,
        r#"{service_name=~".+"} |= "status=" |= "GET""#,
        r#"{service_name=~".+"} |= "status=" != "GET""#,
        r#"{app="web"} |= "no such text""#,
        r#"{service_name=~".+"} |~ "pay(ment)? ""#,
    ]
    .iter()
    .map(|q| logql_common::streams(&c.logs(q, "")))
    .collect()
}

#[test]
fn summaries_answer_as_the_records_do_in_memory_and_in_files() {
    let c = start("");
    check(&c);
    let in_memory = line_searches(&c);
    assert_eq!(in_memory[0].len(), 2, "{:?}", in_memory[0]);
    assert_eq!(in_memory[1].len(), 2, "{:?}", in_memory[1]);
    assert!(in_memory[4].is_empty());
    let c = c.restart();
    check(&c);
    assert_eq!(line_searches(&c), in_memory);
}

/// `series`, `index/stats` and `index/volume` from whole seconds (summaries) and from two
/// nanoseconds earlier (the records; no entry lies in those nanoseconds).
fn check_index(c: &logql_common::Corpus) {
    let answer = |path: &str| -> Value {
        let (status, body) = c.get(path, &[]);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).expect("json")
    };
    let sel = enc(r#"{service_name=~".+"}"#);
    for (from, to) in [(-60, 120), (10, 40), (0, 1), (5, 35)] {
        let (a, b) = (c.t0 + from * NS, c.t0 + to * NS);
        let pairs = [(a, b), (a - 2, b)];
        let mut seen: Vec<(Value, Value, Value)> = Vec::new();
        for (start, end) in pairs {
            let range = format!("start={start}&end={end}");
            let series = answer(&format!("/loki/api/v1/series?{range}&match[]={sel}"));
            let stats = answer(&format!("/loki/api/v1/index/stats?{range}&query={sel}"));
            let volume = answer(&format!(
                "/loki/api/v1/index/volume?{range}&limit=100&query={sel}"
            ));
            let mut vol: Vec<String> = volume["data"]["result"]
                .as_array()
                .expect("result")
                .iter()
                .map(|r| format!("{} {}", r["metric"], r["value"][1]))
                .collect();
            vol.sort();
            let mut ser: Vec<String> = series["data"]
                .as_array()
                .expect("series")
                .iter()
                .map(Value::to_string)
                .collect();
            ser.sort();
            seen.push((Value::from(ser), stats, Value::from(vol)));
        }
        assert_eq!(seen[0], seen[1], "[{from}s, {to}s)");
        assert!(seen[0].1["entries"].as_u64().is_some(), "{}", seen[0].1);
    }
}

#[test]
fn index_endpoints_from_summaries_answer_as_the_records_do() {
    let c = start("");
    check_index(&c);
    let c = c.restart();
    check_index(&c);
}
